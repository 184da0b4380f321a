"""Lockstep: a whole node graph composed in one process, advanced one sim tick at a time.

Why: a rollout through ROS on the wall clock depends on how fast the machine is (when a chunk
arrives in sim time, which sample a window holds), so two runs with the same seed differ, and a
loaded machine changes the result. Composed in one process, a message is in the subscriber's
queue when ``publish()`` returns (the DDS layer delivers within a participant synchronously;
``test_sim_lockstep`` checks it), so "every callback has run" is observable: after each physics
tick the executor runs ready callbacks until none is left, and only then does the sim step again.
A rollout then depends only on its seeds, and runs as fast as the graph computes.

The nodes are the real ones, unchanged, talking over real topics and services; only who advances
time differs (``sim_node`` with ``lockstep:=true``; the policy node with ``inference_thread:=false``
so the chunk is out before the next tick).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor, TimeoutException
from rclpy.node import Node
from rclpy.parameter import Parameter

from dp_core.time_units import NS_PER_S
from dp_sim.sim_node import SimNode

N = TypeVar("N", bound=Node)


class GraphDoesNotSettle(RuntimeError):
    """Callbacks kept coming after a tick (a node that republishes what it receives, in a loop)."""


class Lockstep:
    """One rclpy context, one single-threaded executor, and the sim ticked by hand.

    Args:
        ros_args: context arguments, e.g. ``["--ros-args", "--params-file", path]``; every node is
            put on sim time (``use_sim_time:=true``).
        max_callbacks_per_tick: guard against a graph that never becomes idle.
    """

    def __init__(self, ros_args: Sequence[str] = (), max_callbacks_per_tick: int = 10_000) -> None:
        args = list(ros_args)
        if "--ros-args" not in args:
            args.append("--ros-args")
        self.context = Context()
        rclpy.init(args=[*args, "-p", "use_sim_time:=true"], context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list[Node] = []
        self.sim: SimNode | None = None
        self.max_callbacks_per_tick = int(max_callbacks_per_tick)
        self.callbacks = 0  # run so far (what the graph costs per tick, for the curious)

    # ---- composition -----------------------------------------------------------------------
    def add(self, factory: Callable[..., N], *args: Any, **parameters: Any) -> N:
        """Create a node in this context (``parameters`` override the params file) and spin it here."""
        overrides = [Parameter(name, value=value) for name, value in parameters.items()]
        node = factory(*args, context=self.context, parameter_overrides=overrides)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def add_sim(self, **parameters: Any) -> SimNode:
        """The sim node, without its physics thread: :meth:`tick` advances it."""
        self.sim = self.add(SimNode, **{**parameters, "lockstep": True})
        return self.sim

    # ---- time ------------------------------------------------------------------------------
    def settle(self) -> int:
        """Run ready callbacks until none is left; returns how many ran.

        Idle means two empty zero-timeout waits in a row: after each callback the executor wakes
        its own wait set (a guard condition), and that wake-up alone can end a wait before a
        message published inside the callback is looked at. A coroutine that is still awaiting
        (rclpy yields it again on every wait) counts as an empty wait when it made no progress.
        """
        n = empty = 0
        waiting: set[int] = set()  # coroutines (e.g. action goals) awaiting a future a tick completes
        while True:
            try:
                handler, _, _ = self.executor.wait_for_ready_callbacks(timeout_sec=0.0)
            except TimeoutException:
                empty += 1
                if empty >= 2:
                    self.callbacks += n
                    return n
                continue
            handler()
            if handler.exception() is not None:
                raise handler.exception()
            if not handler.done():  # rclpy hands a pending coroutine back on every wait
                if id(handler) in waiting:  # ... and it made no progress: that is idle, not work
                    empty += 1
                    if empty >= 2:
                        self.callbacks += n
                        return n
                    continue
                waiting.add(id(handler))
            empty = 0
            n += 1
            if n > self.max_callbacks_per_tick:
                raise GraphDoesNotSettle(f"more than {self.max_callbacks_per_tick} callbacks after one tick")

    def tick(self) -> int:
        """One control period of physics, then every callback it causes; returns sim time (ns)."""
        if self.sim is None:
            raise RuntimeError("no sim node: call add_sim() first")
        t_ns = self.sim.tick()
        self.settle()
        return t_ns

    @property
    def time_s(self) -> float:
        return 0.0 if self.sim is None else self.sim.sim.time_ns / NS_PER_S

    def run_until(self, predicate: Callable[[], bool], max_sim_s: float, what: str) -> float:
        """Tick until ``predicate()``; TimeoutError after ``max_sim_s`` of sim time. Returns sim s taken."""
        self.settle()
        start = self.time_s
        while not predicate():
            if self.time_s - start > max_sim_s:
                raise TimeoutError(f"no {what} within {max_sim_s:g} s of sim time")
            self.tick()
        return self.time_s - start

    def call(self, client: Any, request: Any, what: str = "") -> Any:
        """Call a service of a node composed here and return its response (no sim time passes)."""
        name = what or client.srv_name
        if not client.service_is_ready():
            raise RuntimeError(f"service {name} is not offered in this process")
        future = client.call_async(request)
        for _ in range(100):  # request, then response: each one settle
            self.settle()
            if future.done():
                return future.result()
        raise TimeoutError(f"no reply from {name}")

    # ---- teardown --------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the sim (GL contexts), destroy every node, shut the context down."""
        if self.sim is not None:
            self.sim.stop()
        for node in reversed(self.nodes):
            worker = getattr(node, "worker", None)
            if worker is not None:
                worker.stop(timeout_s=5.0)
            finalize = getattr(node, "finalize", None)
            if callable(finalize):
                finalize()
            self.executor.remove_node(node)
            node.destroy_node()
        self.nodes.clear()
        self.executor.shutdown(timeout_sec=1.0)
        if self.context.ok():
            rclpy.shutdown(context=self.context)

    def __enter__(self) -> Lockstep:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
