"""pytest plugin (entry point ``pytest11``): ROS test isolation and helpers for all packages.

Every pytest process gets its own ROS_DOMAIN_ID, claimed with an exclusive file lock so that
parallel test runs (two clones, xdist workers) never see each other's topics; discovery is
limited to localhost; rcl logs go to the workspace. rclpy is imported lazily so that pure
dp_core tests never load ROS.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

DOMAIN_RANGE = range(30, 100)  # leave 0-29 to the user's own robots
_domain_lock_file = None  # held open for the life of the process


def claim_ros_domain() -> int:
    """Claim a free ROS_DOMAIN_ID for this process (file lock) and return it."""
    global _domain_lock_file  # noqa: PLW0603 (one lock per process, held until exit)
    lock_dir = Path(tempfile.gettempdir()) / "dp_ros2_test_domains"
    lock_dir.mkdir(exist_ok=True)
    start = os.getpid() % len(DOMAIN_RANGE)
    for i in range(len(DOMAIN_RANGE)):
        domain = DOMAIN_RANGE[(start + i) % len(DOMAIN_RANGE)]
        handle = open(lock_dir / f"{domain}.lock", "w")  # noqa: SIM115 - held for the process life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _domain_lock_file = handle
        return domain
    raise RuntimeError(f"no free ROS domain in {DOMAIN_RANGE}: too many parallel test runs")


def pytest_configure(config: pytest.Config) -> None:
    # Each pytest process (xdist workers included) claims its own domain; node processes that
    # tests start inherit it through the environment.
    os.environ["ROS_DOMAIN_ID"] = str(claim_ros_domain())
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    if "ROS_LOG_DIR" not in os.environ:
        os.environ["ROS_LOG_DIR"] = str(Path(config.rootpath) / "log" / "ros")
    config.addinivalue_line("markers", "ros: test uses rclpy over real DDS")
    config.addinivalue_line("markers", "slow: end-to-end test that takes more than ~20 s")


@pytest.fixture
def ros_context() -> Iterator[object]:
    """A fresh rclpy Context on this process's test domain, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    try:
        yield ctx
    finally:
        if ctx.ok():
            rclpy.shutdown(context=ctx)


def spin_until(executor: object, predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.01) -> bool:
    """Spin ``executor`` until ``predicate()`` is true or ``timeout_s`` passes; return the predicate."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=step_s)  # type: ignore[attr-defined]
    return predicate()


class RosProcess:
    """A node started as a separate OS process (``python -m module --ros-args ...``)."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        full_env = dict(os.environ)
        full_env.update(env or {})
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self.args = list(args)
        self.proc = subprocess.Popen(
            self.args, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def stop(self, timeout_s: float = 10.0) -> str:
        """SIGINT, wait, kill if needed; return the combined output."""
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout_s)
        out = self.proc.stdout.read() if self.proc.stdout else ""
        return out


@pytest.fixture
def ros_process() -> Iterator[Callable[..., RosProcess]]:
    """Factory for node processes; all are stopped after the test (output shown on failure)."""
    started: list[RosProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> RosProcess:
        proc = RosProcess([sys.executable, *args], env=env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        output = proc.stop()
        if output.strip():
            sys.stdout.write(f"\n--- output of {' '.join(proc.args)} ---\n{output}\n")


def call_service(
    executor: object, client: object, request: object, timeout_s: float, resend_s: float | None = None
) -> object:
    """Call a ROS service asynchronously and spin ``executor`` until the reply (TimeoutError otherwise).

    ``resend_s`` (idempotent requests only): send the request again when no reply came within this
    time. Right after discovery a DDS service may see the request before its reply writer has
    matched the client, and that first reply is lost (seen on loaded machines).
    """
    deadline = time.monotonic() + timeout_s
    if not client.wait_for_service(timeout_sec=timeout_s):  # type: ignore[attr-defined]
        raise TimeoutError(f"service {client.srv_name} not available within {timeout_s} s")  # type: ignore[attr-defined]
    while True:
        left = deadline - time.monotonic()
        future = client.call_async(request)  # type: ignore[attr-defined]
        if spin_until(executor, future.done, min(left, resend_s) if resend_s else left):
            return future.result()
        client.remove_pending_request(future)  # type: ignore[attr-defined]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no reply from {client.srv_name} within {timeout_s} s")  # type: ignore[attr-defined]


class LifecycleClient:
    """Drives another node's lifecycle through its real ``change_state``/``get_state`` services."""

    def __init__(self, node: object, executor: object, target: str) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState
        from rcl_interfaces.srv import SetParameters

        self.executor = executor
        self.change = node.create_client(ChangeState, f"{target}/change_state")  # type: ignore[attr-defined]
        self.get = node.create_client(GetState, f"{target}/get_state")  # type: ignore[attr-defined]
        self.params = node.create_client(SetParameters, f"{target}/set_parameters")  # type: ignore[attr-defined]

    def transition(self, transition_id: int, timeout_s: float = 60.0) -> bool:
        """Request a transition (``lifecycle_msgs.msg.Transition.TRANSITION_*``); True on success."""
        from lifecycle_msgs.srv import ChangeState

        request = ChangeState.Request()
        request.transition.id = transition_id
        return bool(call_service(self.executor, self.change, request, timeout_s).success)  # type: ignore[attr-defined]

    def state(self, timeout_s: float = 10.0) -> str:
        """The current state label ("unconfigured", "inactive", "active", "finalized")."""
        from lifecycle_msgs.srv import GetState

        reply = call_service(self.executor, self.get, GetState.Request(), timeout_s, resend_s=5.0)
        return str(reply.current_state.label)  # type: ignore[attr-defined]

    def set_parameters(self, timeout_s: float = 10.0, **values: object) -> None:
        """Set parameters through ``set_parameters``; raises when one is refused."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request(
            parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        )
        result = call_service(self.executor, self.params, request, timeout_s)
        refused = [r.reason for r in result.results if not r.successful]  # type: ignore[attr-defined]
        if refused:
            raise ValueError(f"parameters refused: {refused}")
