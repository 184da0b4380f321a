"""Free disk space checks: a recording that runs out of disk corrupts the episode."""

from __future__ import annotations

import shutil
from pathlib import Path


class LowDiskError(RuntimeError):
    """Free space on the output disk is below the configured minimum."""


def free_disk_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (its nearest existing parent)."""
    path = Path(path).absolute()
    while not path.exists():
        path = path.parent
    return int(shutil.disk_usage(path).free)


def check_free_disk(path: Path, min_free_bytes: int) -> int:
    """Return free bytes, or raise LowDiskError when below ``min_free_bytes``."""
    free = free_disk_bytes(path)
    if free < min_free_bytes:
        raise LowDiskError(
            f"only {free / 1e9:.2f} GB free on the disk of {path}, need {min_free_bytes / 1e9:.2f} GB: "
            "free some space or lower min_free_disk_gb"
        )
    return free
