"""The demo's ROS environment: its own DDS domain (claimed by file lock), localhost discovery, logs.

The demo's nodes are composed in one process (``dp_sim.lockstep``), but they still talk over
DDS, so a demo and a test run (or two demos) must not share a domain.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

# Same IDs and lock files as the test plugin (dp_ros_common.testing), so a demo and a test run
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
    return dict(os.environ)
