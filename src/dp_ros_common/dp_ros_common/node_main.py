"""One `main()` for every node of every package: init, spin, clean stop, clear config errors.

Why one place: each node must handle SIGINT/SIGTERM, an external shutdown, a shutdown that lands
while the executor builds its wait set (rclpy raises RCLError then), and a configuration
ValueError (logged as what is wrong, exit code 2) the same way.

Executors: ``single`` (rclpy's SingleThreadedExecutor), ``multi`` (``threads`` > 1) or ``events``
(``rclpy.experimental.EventsExecutor``, in Jazzy's rclpy since 7.1.4: its wait and dispatch run in
C++ without the GIL, so the Python wait-set rebuild of the other executors, about 0.2 ms a
callback and a GIL holder that delays a woken worker thread, is gone; ``benchmarks/bench_nodes.py``
measures it). The observation and the policy node ask for ``events``; an rclpy without it falls
back to ``single`` with a log line. ``DP_EXECUTOR=single`` in the environment puts every node on
``single`` (the way back should the experimental executor misbehave); it never moves a node onto
``events``. What ``events`` lacks, and why the other nodes keep ``single``: guard conditions (it
raises), async service callbacks before rclpy 7.1.11, and in newer rclpy it installs its own
SIGINT/SIGTERM handling (upstream ``events_executor.cpp``: an asio signal_set that shuts the
context down), so never with ``own_sigint`` (the chunk executor's stop ramp on Ctrl-C). Its
``spin()`` ran no callback and ignored shutdown with rclpy 7.1.5 (a core at 100 %), so it is only
ever driven by ``spin_once`` here (``run_nodes``). On a signal, ``on_exit`` is skipped under
``events`` (the context is already down); ``release`` always runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import rclpy
from rclpy._rclpy_pybind11 import RCLError
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

N = TypeVar("N", bound=Node)  # the hooks get the node class make_node returns

EXECUTOR_ENV = "DP_EXECUTOR"
LATENCY_EXECUTOR = "events"  # what the observation and the policy node ask for


def executor_kind(requested: str = "single", threads: int = 1, own_sigint: bool = False) -> str:
    """The executor a node gets: "multi" when ``threads`` > 1; "single" with ``own_sigint`` or
    ``DP_EXECUTOR=single``; else ``requested`` ("events" falls back to "single" without it)."""
    if threads > 1:
        return "multi"
    override = os.environ.get(EXECUTOR_ENV, "").strip()
    if override not in ("", "single", "events"):
        raise ValueError(f"{EXECUTOR_ENV} must be 'single' or 'events', got '{override}'")
    if requested not in ("single", "events"):
        raise ValueError(f"executor must be 'single' or 'events', got '{requested}'")
    if own_sigint or override == "single" or requested == "single":
        return "single"
    return "events" if _events_executor() is not None else "single"


def make_executor(kind: str, threads: int = 1, context: Context | None = None) -> Executor:
    """An executor of ``kind`` (see ``executor_kind``) on ``context`` (default: the global one).

    Never call ``spin()`` on an "events" one: with rclpy 7.1.5 it ran no callback and could not be
    stopped (see the module docstring); drive it with ``spin_once`` (``run_nodes`` does).
    """
    if kind == "events":
        events = _events_executor()
        if events is not None:
            return events(context=context)
        kind = "single"
    if kind == "multi":
        return MultiThreadedExecutor(num_threads=max(threads, 2), context=context)
    return SingleThreadedExecutor(context=context)


def _events_executor() -> Any:
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:  # rclpy < 7.1.4
        return None
    return EventsExecutor


def run_node(
    make_node: Callable[[], N],
    name: str,
    args: list[str] | None = None,
    threads: int = 1,
    on_exit: Callable[[N], None] | None = None,
    own_sigint: bool = False,
    release: Callable[[N], None] | None = None,
    exit_code: Callable[[N], int | None] | None = None,
    executor: str = "single",
) -> None:
    """Create the node, spin it until shutdown, then release it (``on_exit``, then ``release``).

    ``on_exit`` runs only while the context is up (it may publish); ``own_sigint``: SIGINT raises
    KeyboardInterrupt instead of shutting the context down, so ``on_exit`` can still publish (the
    executor's stop on Ctrl-C / ``ros2 launch`` shutdown). ``release`` always runs (work that needs
    no middleware: closing a bag). ``exit_code``: a one-shot node; spinning stops as soon as it
    returns a code, and the process exits with it. ``executor``: see the module docstring.
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
        executor=executor,
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
    executor: str = "single",
) -> None:
    """:func:`run_node` for several nodes in one executor (a composed graph); ``on_start`` runs
    once they are all added (e.g. lifecycle autostart); the hooks run for each node."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO if own_sigint else SignalHandlerOptions.ALL)
    nodes: list[N] = []
    code: int | None = None
    try:
        kind = executor_kind(executor, threads, own_sigint)
    except ValueError as exc:
        rclpy.logging.get_logger(name).fatal(f"invalid configuration: {exc}")
        rclpy.try_shutdown()
        raise SystemExit(2) from None
    if kind != executor and not (kind == "multi" and threads > 1):
        rclpy.logging.get_logger(name).info(f"executor: {kind} (asked for {executor})")
    spinner = make_executor(kind, threads)
    try:
        nodes = make_nodes()
        for node in nodes:
            spinner.add_node(node)
        if on_start is not None:
            on_start(nodes)
        if exit_code is None and kind != "events":
            spinner.spin()
        elif exit_code is None:  # rclpy 7.1.5's EventsExecutor.spin() ran no callback here; spin_once does
            while rclpy.ok():
                spinner.spin_once(timeout_sec=0.1)
        else:
            while rclpy.ok() and code is None:
                spinner.spin_once(timeout_sec=0.1)
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
        spinner.shutdown(timeout_sec=5.0)
        for node in nodes:
            if on_exit is not None and rclpy.ok():  # a shut-down context can no longer publish
                on_exit(node)
            if release is not None:
                release(node)
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        raise SystemExit(code)
