"""Per-episode metadata stored next to the bag (``episode.yaml`` inside the bag directory).

Written atomically at episode start (status ``recording``) and again at stop, so that even a
killed episode says what it was; ``dp_recorder.recovery`` marks salvaged ones ``recovered``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dp_core.evaluation.robot_session import Outcome
from dp_core.time_units import ns_to_s

METADATA_FILE = "episode.yaml"
STATUSES = ("recording", "kept", "recovered")
OUTCOMES = tuple(o.value for o in Outcome)  # of an evaluation episode (dp-eval-robot)


@dataclass
class EpisodeMetadata:
    """What the converter and a human need to know about one demonstration."""

    episode_index: int
    task: str = ""
    note: str = ""
    status: str = "recording"
    success: bool | None = None
    start_time_ns: int = 0
    end_time_ns: int | None = None
    topics: dict[str, str] = field(default_factory=dict)
    message_counts: dict[str, int] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None  # evaluation episodes only: success | failure | timeout | aborted

    def __post_init__(self) -> None:
        if self.episode_index < 0:
            raise ValueError(f"episode_index must be >= 0, got {self.episode_index}")
        if self.status not in STATUSES:
            raise ValueError(f"episode status must be one of {STATUSES}, got {self.status!r}")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"episode outcome must be one of {OUTCOMES} or None, got {self.outcome!r}")

    @property
    def duration_s(self) -> float:
        if self.end_time_ns is None:
            return 0.0
        return ns_to_s(self.end_time_ns - self.start_time_ns)


def write_metadata(bag_dir: Path, meta: EpisodeMetadata) -> Path:
    """Write ``episode.yaml`` atomically (temp file, fsync, rename)."""
    path = Path(bag_dir) / METADATA_FILE
    tmp = path.with_suffix(".yaml.tmp")
    data = asdict(meta)
    data["duration_s"] = meta.duration_s
    with open(tmp, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_metadata(bag_dir: Path) -> EpisodeMetadata | None:
    """The episode metadata of a bag directory, or None for bags without one (third party)."""
    path = Path(bag_dir) / METADATA_FILE
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    data.pop("duration_s", None)
    known = set(EpisodeMetadata.__dataclass_fields__)
    return EpisodeMetadata(**{k: v for k, v in data.items() if k in known})
