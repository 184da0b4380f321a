"""A joint trajectory the executor sent, as the controller executes it.

A JointTrajectoryController keeps executing the last trajectory it accepted; the executor has to
know where that leaves the arm at any time (to join the next trajectory to it, or to stop from
it). Between points with positions and velocities the controller interpolates with cubic
Hermite splines (ros2_controllers jazzy, joint_trajectory_controller/src/trajectory.cpp,
``interpolate_between_points``: cubic when positions and velocities are given); after the last
point it holds that point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dp_core.time_units import NS_PER_S


@dataclass(frozen=True)
class Trajectory:
    """Points at ``start_ns + times_s[i]`` (times_s > 0, increasing) reached from (p0, v0) at start_ns.

    positions/velocities: (N, D) in action order; p0/v0: (D,) the commanded state at ``start_ns``.
    """

    start_ns: int
    times_s: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray
    p0: np.ndarray
    v0: np.ndarray

    @property
    def end_ns(self) -> int:
        return self.start_ns + (round(float(self.times_s[-1]) * NS_PER_S) if len(self.times_s) else 0)

    def state_at(self, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """(position, velocity) commanded at ``t_ns``: cubic Hermite between points, held after the end."""
        t = (t_ns - self.start_ns) / NS_PER_S
        if len(self.times_s) == 0 or t >= float(self.times_s[-1]):
            last = self.positions[-1] if len(self.times_s) else self.p0
            return last.copy(), np.zeros_like(last)
        if t <= 0:
            return self.p0.copy(), self.v0.copy()
        k = int(np.searchsorted(self.times_s, t, side="right"))
        t0 = 0.0 if k == 0 else float(self.times_s[k - 1])
        pa, va = (self.p0, self.v0) if k == 0 else (self.positions[k - 1], self.velocities[k - 1])
        pb, vb = self.positions[k], self.velocities[k]
        h = float(self.times_s[k]) - t0
        s = (t - t0) / h
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        p = h00 * pa + h10 * h * va + h01 * pb + h11 * h * vb
        d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
        v = (d00 * pa + d01 * pb) / h + d10 * va + d11 * vb
        return p, v
