"""Shadow mode's report: what the executor would have commanded for each chunk against what the arm did.

In shadow mode the executor runs unchanged (plan, limits, watchdog, stops) but its commands go to
``dp/shadow/*``, not to a controller; the arm is driven by someone else (a person teleoperating)
or stands still. Per chunk (the executor's active sequence) this compares, tick by tick, the
command it would have sent with the measured state it saw at that tick: Euclidean distance over
the joints (rad) or the end-effector position (m). A chunk's report is complete when another
chunk takes over or the executor stops following plans (holding, idle). Pure, no ROS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dp_core.control.action_chunk import NS_PER_S
from dp_core.control.layout import ActionLayout

MOVING_MODES = ("executing", "stopping")  # the executor would be commanding motion


@dataclass(frozen=True)
class ShadowChunkReport:
    """One chunk: ``samples`` ticks compared over ``duration_s``; distances in ``unit``."""

    sequence: int
    samples: int
    duration_s: float
    mean_distance: float
    max_distance: float
    final_distance: float
    unit: str


def compared_indices(layout: ActionLayout, output_mode: str) -> tuple[list[int], str]:
    """Which action dimensions the distance covers, and its unit: joints (rad) in joint modes, the
    end-effector position (m) in pose mode. Grippers are left out (their own controller)."""
    if output_mode == "pose":
        return list(layout.position), "m"
    return list(layout.joints), "rad"


class ShadowTracker:
    """Feed every control tick (``add``); returns a chunk's report when that chunk is done."""

    def __init__(self, indices: Sequence[int], unit: str) -> None:
        if not indices:
            raise ValueError("shadow report: no action dimensions to compare")
        self.indices = list(indices)
        self.unit = unit
        self._sequence: int | None = None
        self._times: list[int] = []
        self._distances: list[float] = []

    def add(
        self, sequence: int, mode: str, t_ns: int, command: np.ndarray | None, measured: np.ndarray | None
    ) -> ShadowChunkReport | None:
        """One tick: the active sequence, the executor's mode, the command it would send (action
        order; None while idle) and the measured state it holds (None: none yet). Ticks without a
        command or a measured state, or while not moving, are not compared."""
        report = None
        moving = mode in MOVING_MODES and command is not None
        if self._sequence is not None and (sequence != self._sequence or not moving):
            report = self.close()
        if not moving or measured is None:
            return report
        m = np.asarray(measured, dtype=np.float64)[self.indices]
        if not np.all(np.isfinite(m)):
            return report
        self._sequence = int(sequence)
        self._times.append(int(t_ns))
        c = np.asarray(command, dtype=np.float64)[self.indices]
        self._distances.append(float(np.linalg.norm(c - m)))
        return report

    def close(self) -> ShadowChunkReport | None:
        """The report of the chunk being compared (None when nothing was compared); starts afresh."""
        if self._sequence is None or not self._distances:
            self._sequence = None
            return None
        d = np.asarray(self._distances)
        report = ShadowChunkReport(
            sequence=self._sequence,
            samples=len(d),
            duration_s=(self._times[-1] - self._times[0]) / NS_PER_S,
            mean_distance=float(d.mean()),
            max_distance=float(d.max()),
            final_distance=float(d[-1]),
            unit=self.unit,
        )
        self._sequence, self._times, self._distances = None, [], []
        return report
