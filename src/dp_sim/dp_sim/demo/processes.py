"""ROS node processes for the demo: one environment (domain, discovery, logs), clean shutdown.

There is no ``ros2 launch`` in the PyPI ROS wheels, so nodes are started with ``subprocess``
(``python -m <module> --ros-args ...``); each writes its output to its own log file, which the
pipeline names when something fails.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# Same IDs and lock files as the test plugin (dp_policy_node.testing), so a demo and a test run
# never share a domain; 0-29 stay free for the user's robots.
DOMAIN_RANGE = range(30, 100)
LOCK_DIR = Path(tempfile.gettempdir()) / "dp_ros2_test_domains"


def claim_domain() -> int:
    """A ROS_DOMAIN_ID for this run: the user's own, else a free one claimed with a file lock."""
    if os.environ.get("ROS_DOMAIN_ID", "").strip():
        return int(os.environ["ROS_DOMAIN_ID"])
    LOCK_DIR.mkdir(exist_ok=True)
    start = os.getpid() % len(DOMAIN_RANGE)
    for i in range(len(DOMAIN_RANGE)):
        domain = DOMAIN_RANGE[(start + i) % len(DOMAIN_RANGE)]
        handle = open(LOCK_DIR / f"{domain}.lock", "w")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        claim_domain.handle = handle  # type: ignore[attr-defined]  # keep the lock open
        return domain
    raise RuntimeError(f"no free ROS domain in {DOMAIN_RANGE.start}-{DOMAIN_RANGE.stop - 1}; set ROS_DOMAIN_ID")


def ros_environment(domain_id: int, log_dir: Path) -> dict[str, str]:
    """Environment of every node of the run (and of this process): own domain, localhost only."""
    os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    os.environ.setdefault("ROS_LOG_DIR", str(log_dir / "ros"))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # Nodes run on the CPU the demo budgets for; keep torch from oversubscribing the cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return dict(os.environ)


class NodeProcess:
    """One node process with its output in ``log_path``."""

    def __init__(self, name: str, args: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.args = [sys.executable, *args]
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.args, env=env or dict(os.environ), stdout=self._log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check(self) -> None:
        """Raise if the process died (its log names why)."""
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}; see {self.log_path}:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGINT (nodes shut down cleanly, the recorder finalizes its bag), then SIGKILL if needed."""
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout_s)
        self._log.close()
        return int(self.proc.returncode)


class ProcessGroup:
    """Nodes started together and stopped in reverse order (also on errors: use as a context manager)."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.procs: list[NodeProcess] = []

    def start(self, name: str, module: str, ros_args: Sequence[str] = ()) -> NodeProcess:
        args = ["-m", module, "--ros-args", "-p", "use_sim_time:=true", *ros_args]
        proc = NodeProcess(name, args, self.log_dir / f"{name}.log", self.env)
        self.procs.append(proc)
        return proc

    def check(self) -> None:
        for proc in self.procs:
            proc.check()

    def stop(self, proc: NodeProcess) -> None:
        proc.stop()
        self.procs.remove(proc)

    def stop_all(self) -> None:
        while self.procs:
            self.stop(self.procs[-1])

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def wait_for(predicate, timeout_s: float, what: str, poll=None, step_s: float = 0.02) -> None:  # noqa: ANN001
    """Call ``poll()`` (e.g. spin once) until ``predicate()``; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        if poll is not None:
            poll()
        else:
            time.sleep(step_s)
