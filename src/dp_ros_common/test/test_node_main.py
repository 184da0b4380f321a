"""dp_ros_common.node_main.run_node in real processes: config errors, one-shot exit codes, shutdown hooks."""

import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.ros

SCRIPT = """
import sys
from rclpy.node import Node
from dp_ros_common.node_main import run_node

mode = sys.argv[1]

class Probe(Node):
    def __init__(self):
        super().__init__("run_node_probe")
        if mode == "bad":
            raise ValueError("rate_hz must be > 0, got -1")
        self.ticks = 0
        self.create_timer(0.01, self._tick)
        print("ready", flush=True)

    def _tick(self):
        self.ticks += 1

run_node(
    Probe,
    "run_node_probe",
    exit_code=(lambda n: 3 if n.ticks >= 5 else None) if mode == "oneshot" else None,
    on_exit=lambda n: print("on_exit", flush=True),
    release=lambda n: print("release", flush=True),
)
"""


def _run(mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60, check=False)


def test_a_configuration_error_exits_2_with_the_reason() -> None:
    proc = _run("bad")
    assert proc.returncode == 2, proc.stderr
    assert "invalid configuration: rate_hz must be > 0" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_one_shot_node_exits_with_its_code_after_both_hooks() -> None:
    proc = _run("oneshot")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.split() == ["ready", "on_exit", "release"]


def test_sigint_shuts_down_and_release_still_runs() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "spin"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
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
