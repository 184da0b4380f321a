"""Another node's lifecycle and services, driven asynchronously (never blocking the caller's executor).

Why asynchronous: the evaluation node waits on the policy node and the recorder; a blocking call
inside a callback deadlocks a single-threaded executor, and one executor is what a composed graph
(dp_sim.lockstep, the tests) has. A service that is not offered answers at once with an error
instead of waiting forever. The services are rclpy's LifecycleNode ones (``<node>/change_state``,
``<node>/get_state``, lifecycle_msgs), as ``ros2 lifecycle set`` uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.client import Client
from rclpy.node import Node

Reply = Callable[[Any, str], None]  # (response, "") or (None, error)
Done = Callable[[bool, str], None]  # (ok, error)


def call(client: Client, request: Any, then: Reply) -> None:
    """``then(response, "")`` when it answers, ``then(None, why)`` when it cannot be called."""
    if not client.service_is_ready():
        return then(None, f"{client.srv_name} is not offered")

    def done(future: Any) -> None:
        error = future.exception()
        then(None, f"{client.srv_name}: {error}") if error is not None else then(future.result(), "")

    client.call_async(request).add_done_callback(done)
    return None


class LifecycleRemote:
    """configure / activate / deactivate a lifecycle node by name, through its services."""

    def __init__(self, node: Node, target: str) -> None:
        self.target = target
        self.change = node.create_client(ChangeState, f"{target}/change_state")
        self.get = node.create_client(GetState, f"{target}/get_state")

    def ready(self) -> bool:
        return self.change.service_is_ready() and self.get.service_is_ready()

    def transition(self, transition: int, then: Done) -> None:
        request = ChangeState.Request(transition=Transition(id=transition))
        call(self.change, request, lambda r, err: then(bool(r is not None and r.success), err or "transition refused"))

    def activate(self, then: Done) -> None:
        self.transition(Transition.TRANSITION_ACTIVATE, then)

    def deactivate(self, then: Done) -> None:
        self.transition(Transition.TRANSITION_DEACTIVATE, then)

    def make_inactive(self, then: Done) -> None:
        """Into ``inactive`` from wherever it is: configure when unconfigured, deactivate when active."""

        def state(r: Any, err: str) -> None:
            sid = r.current_state.id if r is not None else -1
            if sid == State.PRIMARY_STATE_UNCONFIGURED:
                return self.transition(Transition.TRANSITION_CONFIGURE, then)
            if sid == State.PRIMARY_STATE_ACTIVE:
                return self.deactivate(then)
            return then(sid == State.PRIMARY_STATE_INACTIVE, err or f"{self.target} is {r.current_state.label}")

        call(self.get, GetState.Request(), state)

    def ensure_inactive(self, then: Done) -> None:
        """Deactivate when active, then read the state back: ``then(True, "")`` only when it is inactive or
        unconfigured (rclpy/lifecycle/node.py: a refused or failed transition leaves the state as it was)."""
        off = (State.PRIMARY_STATE_INACTIVE, State.PRIMARY_STATE_UNCONFIGURED)

        def check(after: bool) -> Reply:
            def state(r: Any, err: str) -> None:
                if r is not None and r.current_state.id in off:
                    return then(True, "")
                if r is not None and r.current_state.id == State.PRIMARY_STATE_ACTIVE and not after:
                    return self.deactivate(lambda ok, e: call(self.get, GetState.Request(), check(True)))
                label = r.current_state.label if r is not None else "unknown"
                return then(False, err or f"{self.target} is {label}")

            return state

        call(self.get, GetState.Request(), check(False))
