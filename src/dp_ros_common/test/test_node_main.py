"""dp_ros_common.node_main.run_node in real processes: config errors, one-shot exit codes, shutdown hooks."""

import select
import signal
import subprocess
import sys
import time

import pytest

from dp_ros_common.node_main import EXECUTOR_ENV, executor_kind

pytestmark = pytest.mark.ros

SCRIPT = """
import sys
from rclpy.node import Node
from dp_ros_common.node_main import run_node

mode = sys.argv[1]
executor = sys.argv[2] if len(sys.argv) > 2 else "single"

class Probe(Node):
    def __init__(self):
        super().__init__("run_node_probe")
        if mode == "bad":
            raise ValueError("rate_hz must be > 0, got -1")
        self.ticks = 0
        self.create_timer(0.01, self._tick)

    def _tick(self):
        self.ticks += 1
        if self.ticks == 3:
            print("ready", flush=True)  # the executor runs the node's callbacks

run_node(
    Probe,
    "run_node_probe",
    exit_code=(lambda n: 3 if n.ticks >= 5 else None) if mode == "oneshot" else None,
    on_exit=lambda n: print("on_exit", flush=True),
    release=lambda n: print("release", flush=True),
    executor=executor,
)
"""


def _run(mode: str, executor: str = "single") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, executor], capture_output=True, text=True, timeout=60, check=False
    )


def _readline(proc: subprocess.Popen, timeout_s: float) -> str:
    """The child's next stdout line, or "" after ``timeout_s`` (a hung child fails the test, not CI)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    return proc.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]


def test_a_configuration_error_exits_2_with_the_reason() -> None:
    proc = _run("bad")
    assert proc.returncode == 2, proc.stderr
    assert "invalid configuration: rate_hz must be > 0" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("executor", ["single", "events"])
def test_a_one_shot_node_exits_with_its_code_after_both_hooks(executor: str) -> None:
    proc = _run("oneshot", executor)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.split() == ["ready", "on_exit", "release"]


@pytest.mark.parametrize("executor", ["single", "events"])
def test_sigint_shuts_down_and_release_still_runs(executor: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "spin", executor], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert _readline(proc, 30.0) == "ready", "no timer callback ran"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # on_exit runs only if the context is still up when the spin ends (that depends on where the
    # signal lands); release (closing files, a recorder's open bag) runs in every case, last
    assert out.split()[-1] == "release" and out.split() in (["release"], ["on_exit", "release"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_events_executor_spins_callbacks_and_stops_on_a_signal(signum: int) -> None:
    """The events executor's own spin() ran no callback with rclpy 7.1.5: ``ready`` needs three timer ticks."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "spin", "events"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert _readline(proc, 30.0) == "ready", "no timer callback ran"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.split()[-1] == "release"


def test_executor_kind_env_override_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert executor_kind("events") == "events"  # this rclpy has it (Jazzy >= 7.1.4)
    assert executor_kind("single") == "single"
    assert executor_kind("events", threads=2) == "multi"  # threads win: the events executor has one
    assert executor_kind("events", own_sigint=True) == "single"  # its own signal handling in newer rclpy
    monkeypatch.setenv(EXECUTOR_ENV, "single")  # the way back, for every node
    assert executor_kind("events") == "single"
    monkeypatch.setenv(EXECUTOR_ENV, "events")  # never moves a node onto the experimental executor
    assert executor_kind("single") == "single"
    assert executor_kind("events", own_sigint=True) == "single"  # the chunk executor stays single
    assert executor_kind("events") == "events"
    monkeypatch.setenv(EXECUTOR_ENV, "multi")
    with pytest.raises(ValueError, match="DP_EXECUTOR must be 'single' or 'events', got 'multi'"):
        executor_kind("single")


def test_a_bad_executor_setting_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, "fast")
    proc = _run("spin")
    assert proc.returncode == 2, proc.stderr
    assert "invalid configuration: DP_EXECUTOR must be 'single' or 'events', got 'fast'" in proc.stderr + proc.stdout
