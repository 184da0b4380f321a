"""Episode bookkeeping of the recorder, independent of ROS (the node only wires callbacks).

Episodes are ``<output_dir>/episode_NNNN/`` rosbag2 directories (MCAP) with ``episode.yaml``.
Indices continue after the highest existing one, so a restarted recorder never overwrites.

Latched topics (transient-local publishers such as ``/tf_static``) publish once, usually before
the first episode starts: their messages are kept (the distinct ones, at most
:data:`MAX_LATCHED_PER_TOPIC` per topic) and written again at the start of every episode, so each
bag carries the static transforms it needs.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosbags.typesys.store import Typestore

from dp_recorder.bag_writer import BagWriter
from dp_recorder.disk import check_free_disk, free_disk_bytes
from dp_recorder.episode_metadata import EpisodeMetadata, write_metadata
from dp_recorder.message_types import make_typestore
from dp_recorder.recovery import recover_unfinished

LOG = logging.getLogger(__name__)
EPISODE_RE = re.compile(r"^episode_(\d+)(\.partial)?$")
MAX_LATCHED_PER_TOPIC = 32


class RecorderStateError(RuntimeError):
    """An episode command that does not fit the current state (start while recording, ...)."""


@dataclass
class RecorderConfig:
    """Where and how episodes are written."""

    output_dir: Path
    min_free_disk_bytes: int = 1_000_000_000
    flush_period_s: float = 1.0
    parameters: dict[str, Any] = field(default_factory=dict)  # snapshot stored per episode

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        if not str(self.output_dir):
            raise ValueError("output_dir must not be empty")
        if self.min_free_disk_bytes < 0:
            raise ValueError(f"min_free_disk_bytes must be >= 0, got {self.min_free_disk_bytes}")
        if not self.flush_period_s > 0:
            raise ValueError(f"flush_period_s must be > 0, got {self.flush_period_s}")


@dataclass(frozen=True)
class RecorderSnapshot:
    """Status for the status topic."""

    recording: bool
    episode_index: int
    duration_s: float
    message_counts: dict[str, int]
    bag_path: str
    free_disk_bytes: int


def next_episode_index(output_dir: Path) -> int:
    """One past the highest ``episode_NNNN`` under ``output_dir`` (0 when none)."""
    indices = [int(m.group(1)) for p in Path(output_dir).glob("episode_*") if (m := EPISODE_RE.match(p.name))]
    return max(indices, default=-1) + 1


class EpisodeRecorder:
    """Start/stop/discard episodes and route received messages into the open bag."""

    def __init__(self, config: RecorderConfig, typestore: Typestore | None = None) -> None:
        self.config = config
        self.typestore = typestore or make_typestore()
        config.output_dir.mkdir(parents=True, exist_ok=True)
        for report in recover_unfinished(config.output_dir):
            LOG.warning("recovered unfinished episode %s (%d messages)", report.destination, report.message_count)
        self.episode_index = next_episode_index(config.output_dir)
        self._bag: BagWriter | None = None
        self._meta: EpisodeMetadata | None = None
        self._started_monotonic = 0.0
        self._last_flush = 0.0
        self._latched: dict[str, list[bytes]] = {}

    @property
    def recording(self) -> bool:
        return self._bag is not None

    def start(self, task: str, note: str, topics: dict[str, str], now_ns: int) -> Path:
        """Open the next episode bag with connections for ``topics`` (name → type)."""
        if self._bag is not None:
            raise RecorderStateError(f"already recording episode {self.episode_index} ({self._bag.path})")
        check_free_disk(self.config.output_dir, self.config.min_free_disk_bytes)
        path = self.config.output_dir / f"episode_{self.episode_index:04d}"
        bag = BagWriter(path, self.typestore)
        for topic, msgtype in topics.items():
            bag.add_topic(topic, msgtype)
        self._meta = EpisodeMetadata(
            episode_index=self.episode_index,
            task=task,
            note=note,
            start_time_ns=int(now_ns),
            topics=bag.topic_types,
            parameters=dict(self.config.parameters),
        )
        write_metadata(path, self._meta)
        for topic, messages in self._latched.items():
            if topic in topics:
                for raw in messages:
                    bag.write(topic, int(now_ns), raw)
        self._bag = bag
        self._started_monotonic = self._last_flush = time.monotonic()
        LOG.info("episode %d started: %s", self.episode_index, path)
        return path

    def add_topic(self, topic: str, msgtype: str) -> None:
        """A topic discovered during an episode gets its connection now."""
        if self._bag is not None:
            self._bag.add_topic(topic, msgtype)

    def write(self, topic: str, t_ns: int, raw: bytes, latched: bool = False) -> bool:
        """Write one message if recording; returns whether it was written. A ``latched`` message is
        also kept for the start of every later episode."""
        if latched:
            kept = self._latched.setdefault(topic, [])
            if raw not in kept:
                kept.append(bytes(raw))
                del kept[:-MAX_LATCHED_PER_TOPIC]
        bag = self._bag
        if bag is None:
            return False
        bag.write(topic, t_ns, raw)
        return True

    def maybe_flush(self) -> None:
        """Flush the open bag when ``flush_period_s`` has passed (call from a timer)."""
        if self._bag is not None and time.monotonic() - self._last_flush >= self.config.flush_period_s:
            self._bag.flush()
            self._last_flush = time.monotonic()

    def stop(self, success: bool, note: str, now_ns: int) -> Path:
        """Finalize the open episode and keep it; returns its directory."""
        bag, meta = self._take_open()
        bag.close()
        meta.status, meta.success, meta.end_time_ns = "kept", bool(success), int(now_ns)
        meta.note = " ".join(s for s in (meta.note, note) if s)
        meta.topics, meta.message_counts = bag.topic_types, dict(bag.counts)
        write_metadata(bag.path, meta)
        self.episode_index += 1
        LOG.info("episode %d kept (success=%s): %s", meta.episode_index, success, bag.path)
        return bag.path

    def discard(self) -> Path:
        """Close and delete the open episode; its index is reused."""
        bag, meta = self._take_open()
        bag.close()
        shutil.rmtree(bag.path)
        LOG.info("episode %d discarded", meta.episode_index)
        return bag.path

    def _take_open(self) -> tuple[BagWriter, EpisodeMetadata]:
        if self._bag is None or self._meta is None:
            raise RecorderStateError("not recording: start an episode first")
        bag, meta = self._bag, self._meta
        self._bag, self._meta = None, None
        return bag, meta

    def snapshot(self) -> RecorderSnapshot:
        bag = self._bag
        return RecorderSnapshot(
            recording=bag is not None,
            episode_index=self.episode_index,
            duration_s=time.monotonic() - self._started_monotonic if bag else 0.0,
            message_counts=dict(bag.counts) if bag else {},
            bag_path=str(bag.path) if bag else "",
            free_disk_bytes=free_disk_bytes(self.config.output_dir),
        )
