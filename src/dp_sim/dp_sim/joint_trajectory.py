"""Joint trajectories with the semantics of ros2_control's JointTrajectoryController.

A trajectory is a list of points (time from start, positions, optional velocities) anchored at a
start time. When it is accepted, the controller's current command becomes the first knot at
``max(now, start)`` (with the current commanded velocity when the points carry velocities, so
the reference stays smooth); points already in the past are dropped; the arm holds until the start time.
Segments are linear when the points carry no velocities and cubic Hermite when they all do,
as in the JTC. After the last point the arm holds the last position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicHermiteSpline

from dp_core.time_units import NS_PER_S
from dp_sim import fr3


class TrajectoryRejected(ValueError):
    """A trajectory that must not be executed; the message says why and what to do."""


@dataclass(frozen=True)
class TrajectoryPoints:
    """Validated points in FR3 joint order: times_s (N,), positions (N, 7), velocities (N, 7) or None."""

    times_s: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray | None = None
    check_limits: bool = True  # False: accept like the JTC does (no limits); the FR3's reflexes judge

    def __post_init__(self) -> None:
        t, q = np.asarray(self.times_s, float), np.asarray(self.positions, float)
        if t.ndim != 1 or len(t) == 0:
            raise TrajectoryRejected("trajectory has no points")
        if q.shape != (len(t), 7):
            raise TrajectoryRejected(f"each point needs 7 positions, got array of shape {q.shape}")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(q))):
            raise TrajectoryRejected("trajectory contains NaN or infinite values")
        if np.any(t < 0) or np.any(np.diff(t) <= 0):
            raise TrajectoryRejected(f"time_from_start must be >= 0 and strictly increasing, got {t.tolist()}")
        bad = [i for i in range(len(t)) if not fr3.within_limits(q[i])] if self.check_limits else []
        if bad:
            raise TrajectoryRejected(f"point(s) {bad} are outside the FR3 joint position limits")
        if self.velocities is not None:
            v = np.asarray(self.velocities, float)
            if v.shape != q.shape or not np.all(np.isfinite(v)):
                raise TrajectoryRejected(f"velocities must be finite with shape {q.shape}, got {v.shape}")
            if self.check_limits and np.any(np.abs(v) > fr3.DQ_MAX):
                raise TrajectoryRejected("point velocities exceed the FR3 joint velocity limits")


class ActiveTrajectory:
    """A trajectory accepted at ``now_ns`` from commanded position ``q_now``: sample q, dq at any time."""

    def __init__(
        self, points: TrajectoryPoints, start_ns: int, now_ns: int, q_now: np.ndarray, v_now: np.ndarray | None = None
    ) -> None:
        t0_ns = max(int(start_ns), int(now_ns))
        abs_t = start_ns + np.round(np.asarray(points.times_s) * NS_PER_S).astype(np.int64)
        keep = abs_t > t0_ns
        if not np.any(keep):
            raise TrajectoryRejected(
                "every point of the trajectory is in the past; stamp it with the current (sim) time or 0 for 'now'"
            )
        self.t0_ns = t0_ns
        times = np.concatenate([[0.0], (abs_t[keep] - t0_ns) / NS_PER_S])
        q = np.vstack([np.asarray(q_now, float)[None], np.asarray(points.positions, float)[keep]])
        if points.velocities is not None:
            v0 = np.zeros((1, 7)) if v_now is None or start_ns > now_ns else np.asarray(v_now, float)[None]
            v = np.vstack([v0, np.asarray(points.velocities, float)[keep]])
            self._spline: CubicHermiteSpline | None = CubicHermiteSpline(times, q, v, axis=0)
        else:
            self._spline = None
        self._times, self._q = times, q
        self.end_ns = t0_ns + int(round(times[-1] * NS_PER_S))

    def sample(self, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Desired (positions, velocities) at time t_ns; holds before the start and after the end."""
        t = (int(t_ns) - self.t0_ns) / NS_PER_S
        if t <= 0:
            return self._q[0].copy(), np.zeros(7)
        if t >= self._times[-1]:
            return self._q[-1].copy(), np.zeros(7)
        if self._spline is not None:
            return self._spline(t), self._spline(t, 1)
        i = int(np.searchsorted(self._times, t, side="right") - 1)
        dt = self._times[i + 1] - self._times[i]
        vel = (self._q[i + 1] - self._q[i]) / dt
        return self._q[i] + vel * (t - self._times[i]), vel

    def done(self, t_ns: int) -> bool:
        return int(t_ns) >= self.end_ns
