"""A per-stream ring buffer of (stamp_ns, value), kept sorted by header stamp.

Why sorted by stamp and not by arrival: sensors deliver out of order (several DDS readers,
network jitter) and the alignment rule ("latest sample not after a target time") is defined on
header stamps. The rule itself is ``alignment.indices_not_after``; the live buffer and the offline
converter (``alignment.resample_stream``) both call it, so they choose the same samples.

Thread safety: ROS subscription callbacks and the window timer may run on different threads of a
MultiThreadedExecutor; every public method takes the buffer's lock and returns copies.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

from dp_core.timing.alignment import indices_not_after

V = TypeVar("V")


class StreamBuffer(Generic[V]):
    """Ring buffer of the newest ``capacity`` samples of one stream, sorted by stamp.

    Duplicates (same stamp) replace the stored value; out-of-order arrivals are inserted in
    place; when full, the oldest sample is dropped (an arrival older than everything in a full
    buffer is dropped itself, since it would be evicted at once).
    """

    def __init__(self, capacity: int, name: str = "") -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"StreamBuffer capacity must be an int >= 1, got {capacity!r}")
        self.capacity = capacity
        self.name = name
        self._stamps: list[int] = []
        self._values: list[V] = []
        self._lock = threading.Lock()
        self.dropped = 0  # arrivals discarded because they were older than a full buffer

    def add(self, stamp_ns: int, value: V) -> None:
        """Insert one sample (stamp in integer ns on the shared clock)."""
        stamp = int(stamp_ns)
        with self._lock:
            i = bisect.bisect_left(self._stamps, stamp)
            if i < len(self._stamps) and self._stamps[i] == stamp:
                self._values[i] = value
                return
            if len(self._stamps) >= self.capacity and i == 0:
                self.dropped += 1
                return
            self._stamps.insert(i, stamp)
            self._values.insert(i, value)
            if len(self._stamps) > self.capacity:
                del self._stamps[0]
                del self._values[0]

    def latest_not_after(self, t_ns: int) -> tuple[int, V] | None:
        """The newest sample with stamp <= ``t_ns``, or None if there is none."""
        with self._lock:
            i = bisect.bisect_right(self._stamps, int(t_ns)) - 1
            if i < 0:
                return None
            return self._stamps[i], self._values[i]

    def samples_not_after(self, targets_ns: np.ndarray | Sequence[int]) -> list[tuple[int, V] | None]:
        """``latest_not_after`` for many targets under one lock (a consistent snapshot)."""
        with self._lock:
            idx = indices_not_after(self._stamps, targets_ns)
            return [None if i < 0 else (self._stamps[i], self._values[i]) for i in idx]

    def snapshot(self) -> tuple[np.ndarray, list[V]]:
        """Copies of the stamps (int64, sorted) and values, taken under one lock."""
        with self._lock:
            return np.asarray(self._stamps, dtype=np.int64), list(self._values)

    @property
    def newest_stamp_ns(self) -> int | None:
        with self._lock:
            return self._stamps[-1] if self._stamps else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._stamps)

    def __repr__(self) -> str:
        return f"StreamBuffer(name={self.name!r}, capacity={self.capacity}, len={len(self)})"
