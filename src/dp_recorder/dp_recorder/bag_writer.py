"""One rosbag2 (MCAP) per episode, written so that a killed process leaves a readable prefix.

rosbags' MCAP writer buffers messages in a 1 MiB chunk and writes the summary only at close.
``flush()`` closes the pending chunk and fsyncs, so everything written before the last flush
survives ``kill -9``; ``dp_recorder.recovery`` turns such a file into a finalized bag.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from dp_recorder.message_types import message_definition, normalize_type_name

LOG = logging.getLogger(__name__)


class BagWriter:
    """Thread-safe episode bag: topics are added lazily, bytes are written as received."""

    def __init__(self, path: Path, typestore: Typestore) -> None:
        self.path = Path(path)
        self._typestore = typestore
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, Connection] = {}
        self._types: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._dirty = False

    @property
    def mcap_path(self) -> Path:
        return self.path / f"{self.path.name}.mcap"

    @property
    def topic_types(self) -> dict[str, str]:
        return dict(self._types)

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Create the bag connection of a topic (no-op if it exists with the same type)."""
        msgtype = normalize_type_name(msgtype)
        with self._lock:
            if topic in self._connections:
                if self._types[topic] != msgtype:
                    raise ValueError(f"topic {topic} already recorded as {self._types[topic]}, not {msgtype}")
                return
            msgdef, rihs01 = message_definition(self._typestore, msgtype)
            self._connections[topic] = self._writer.add_connection(topic, msgtype, msgdef=msgdef, rihs01=rihs01)
            self._types[topic] = msgtype
            self.counts[topic] = 0

    def write(self, topic: str, t_ns: int, raw: bytes) -> None:
        """Write the CDR bytes of one message received at ``t_ns`` (add_topic first)."""
        with self._lock:
            conn = self._connections.get(topic)
            if conn is None:
                raise KeyError(f"topic {topic} has no connection in {self.path}; call add_topic first")
            self._writer.write(conn, int(t_ns), raw)
            self.counts[topic] += 1
            self._dirty = True

    def flush(self) -> None:
        """Close the pending MCAP chunk and fsync so the data survives a crash."""
        with self._lock:
            storage: Any = self._writer.storage  # rosbags' MCAP StorageWriter
            if storage is None or not self._dirty:
                return
            # rosbags has no public flush; close_chunk/bio are its MCAP writer's own members.
            if storage.chunk.bio.tell():
                storage.close_chunk()
            storage.bio.flush()
            os.fsync(storage.bio.fileno())
            self._dirty = False

    def close(self) -> None:
        """Finalize the bag (summary, footer, metadata.yaml)."""
        with self._lock:
            if self._writer.storage is not None:
                self._writer.close()
