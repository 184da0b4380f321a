"""One `main()` for every node of every package: init, spin, clean stop, clear config errors.

Why one place: each node must handle SIGINT/SIGTERM, an external shutdown, a shutdown that lands
while the executor builds its wait set (rclpy raises RCLError then), and a configuration
ValueError (logged as what is wrong, exit code 2) the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

N = TypeVar("N", bound=Node)  # the hooks get the node class make_node returns


def run_node(
    make_node: Callable[[], N],
    name: str,
    args: list[str] | None = None,
    threads: int = 1,
    on_exit: Callable[[N], None] | None = None,
    own_sigint: bool = False,
    release: Callable[[N], None] | None = None,
    exit_code: Callable[[N], int | None] | None = None,
) -> None:
    """Create the node, spin it until shutdown, then release it (``on_exit``, then ``release``).

    ``on_exit`` runs only while the context is up (it may publish); ``own_sigint``: SIGINT raises
    KeyboardInterrupt instead of shutting the context down, so ``on_exit`` can still publish (the
    executor's stop on Ctrl-C / ``ros2 launch`` shutdown). ``release`` always runs (work that needs
    no middleware: closing a bag). ``exit_code``: a one-shot node; spinning stops as soon as it
    returns a code, and the process exits with it.
    """
    run_nodes(
        lambda: [make_node()],
        name,
        args,
        threads=threads,
        on_exit=on_exit,
        own_sigint=own_sigint,
        release=release,
        exit_code=None if exit_code is None else lambda nodes: exit_code(nodes[0]),
    )


def run_nodes(
    make_nodes: Callable[[], list[N]],
    name: str,
    args: list[str] | None = None,
    threads: int = 1,
    on_start: Callable[[list[N]], object] | None = None,
    on_exit: Callable[[N], None] | None = None,
    own_sigint: bool = False,
    release: Callable[[N], None] | None = None,
    exit_code: Callable[[list[N]], int | None] | None = None,
) -> None:
    """:func:`run_node` for several nodes in one executor (a composed graph); ``on_start`` runs
    once they are all added (e.g. lifecycle autostart); the hooks run for each node."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO if own_sigint else SignalHandlerOptions.ALL)
    nodes: list[N] = []
    code: int | None = None
    executor = SingleThreadedExecutor() if threads <= 1 else MultiThreadedExecutor(num_threads=threads)
    try:
        nodes = make_nodes()
        for node in nodes:
            executor.add_node(node)
        if on_start is not None:
            on_start(nodes)
        if exit_code is None:
            executor.spin()
        else:
            while rclpy.ok() and code is None:
                executor.spin_once(timeout_sec=0.1)
                code = exit_code(nodes)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        if rclpy.ok():  # not a shutdown racing the wait set: a real error
            raise
    except ValueError as exc:  # configuration error: say what is wrong and exit non-zero
        rclpy.logging.get_logger(name).fatal(f"invalid configuration: {exc}")
        raise SystemExit(2) from None
    finally:
        executor.shutdown(timeout_sec=5.0)
        for node in nodes:
            if on_exit is not None and rclpy.ok():  # a shut-down context can no longer publish
                on_exit(node)
            if release is not None:
                release(node)
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        raise SystemExit(code)
