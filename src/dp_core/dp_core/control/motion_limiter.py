"""The executor's motion limiter: every command it returns is within the limits of the previous one.

State: the last command (position) and its velocity. Each ``step(target, dt_s)`` returns the next
command toward ``target`` after ``dt_s`` seconds; ``brake(dt_s)`` decelerates along the current
velocity. Both keep, relative to the previous command and over ``dt`` = the elapsed time capped at
``max_gap_periods`` control periods (a stalled control thread resumes as if only that much time had
passed, so a stall never becomes a jump):

- joints: |v| <= velocity_max, |Δv| <= acceleration_max · dt, positions within their limits and
  never faster than allows braking before them (v²/2a <= distance, an invariant each step keeps);
  the arm's joints are scaled together (the direction of motion is kept);
- Cartesian position (x, y[, z]): ‖v‖ <= max_linear_speed, ‖Δv‖ <= max_linear_acceleration · dt,
  inside the box (each axis gets 1/√n of the norm limits, so the norms hold);
- orientation (qx..qw): the same with the angular velocity vector (world frame) and
  max_angular_speed / max_angular_acceleration.

A target that already respects the limits is tracked exactly (feed-forward of its own velocity);
anything else is bent until it does, approaching a target no faster than allows stopping on it.
Dimensions without limits (grippers without joint limits) pass through unchanged.
Quaternion helpers are written here in numpy: scipy's Rotation costs ~20 µs per call, per tick.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from dp_core.control.limits import LimitSet

MAX_GAP_PERIODS = 2.0  # a tick later than this many periods counts as this many
REST_SPEED = 1e-9  # velocities below this are zero (rad/s, m/s)
OVERSHOOT_SLACK = (
    1e-12  # rad: a reversal may peak this far past a limit (else rounding-size speeds force hard reversals)
)


def brake_speed(distance: np.ndarray, acc: np.ndarray, dt: float, v_now: np.ndarray | None = None) -> np.ndarray:
    """Largest next speed v' from which one step of ``dt`` and then braking at ``acc`` stay within
    ``distance``: v'·dt + v'²/2a <= d (step model), or, given the current speed ``v_now`` (trapezoid
    model, the step moves (v + v')/2·dt), v'²/2a + (v + v')·dt/2 <= d. (Called several times per
    tick: plain ufuncs, no errstate, an infinite ``acc`` handled by a finite stand-in.)"""
    d = np.maximum(distance, 0.0)
    finite = np.isfinite(acc)
    a = np.where(finite, acc, 1.0)
    ad = a * dt
    if v_now is None:
        out = np.sqrt(np.maximum(ad * ad + 2.0 * a * d, 0.0)) - ad
        return out if finite.all() else np.where(finite, out, d / dt)
    out = (np.sqrt(np.maximum(ad * ad + 8.0 * a * d - 4.0 * ad * v_now, 0.0)) - ad) / 2.0
    return out if finite.all() else np.where(finite, out, np.maximum(2.0 * d / dt - v_now, 0.0))


def axis_velocity(
    p: np.ndarray,
    v: np.ndarray,
    target: np.ndarray,
    v_target: np.ndarray,
    vmax: np.ndarray,
    amax: np.ndarray,
    pmin: np.ndarray,
    pmax: np.ndarray,
    dt: float,
    together: np.ndarray,
    trapezoid: bool = False,
) -> np.ndarray:
    """Next velocity of independent axes toward ``target`` within the limits (see module doc).

    ``together`` marks axes whose desired velocity is scaled by one common factor (direction kept).
    """
    # step model: reach the target in one step. Trapezoid model (p' = p + (v + v')/2·dt): remove the
    # error left by moving on at the target's velocity; the target is then met in two steps, no ringing
    if trapezoid:
        v_des = v_target + (target - p - (v + v_target) * dt / 2.0) / dt
    else:
        v_des = (target - p) / dt
    if np.any(together):
        worst = float((np.abs(v_des[together]) / vmax[together]).max())
        if worst > 1.0:
            v_des[together] /= worst
    v_des = np.minimum(np.maximum(v_des, -vmax), vmax)
    err = target - p
    upper = np.where(err > 0, v_target + brake_speed(err, amax, dt, v - v_target if trapezoid else None), np.inf)
    lower = np.where(err < 0, v_target - brake_speed(-err, amax, dt, v_target - v if trapezoid else None), -np.inf)
    v_des = np.minimum(np.maximum(v_des, lower), upper)
    return _bounded(p, v, v_des, vmax, amax, pmin, pmax, dt, trapezoid)


def _bounded(
    p: np.ndarray,
    v: np.ndarray,
    v_des: np.ndarray,
    vmax: np.ndarray,
    amax: np.ndarray,
    pmin: np.ndarray,
    pmax: np.ndarray,
    dt: float,
    trapezoid: bool = False,
) -> np.ndarray:
    lo = np.maximum(-vmax, v - amax * dt)
    hi = np.minimum(vmax, v + amax * dt)
    # braking before the position limits always stays feasible: v²/2a <= d holds after every step
    hi = np.minimum(hi, brake_speed(pmax - p, amax, dt, v if trapezoid else None))
    lo = np.maximum(lo, -brake_speed(p - pmin, amax, dt, -v if trapezoid else None))
    new_v = np.minimum(np.maximum(v_des, lo), hi)
    return _no_overshoot(p, v, new_v, pmin, pmax, dt, hi, lo) if trapezoid else new_v


def _no_overshoot(
    p: np.ndarray,
    v: np.ndarray,
    new_v: np.ndarray,
    pmin: np.ndarray,
    pmax: np.ndarray,
    dt: float,
    hi: np.ndarray,
    lo: np.ndarray,
) -> np.ndarray:
    """Trapezoid model: a step that reverses the motion peaks inside the step, v²/(2a') beyond its
    start (a' = |v' - v|/dt); reverse hard enough that the peak stays within the limit."""
    toward_max = (v > 0) & (new_v <= 0)
    if toward_max.any():
        need = v - v * v * dt / (2.0 * (np.maximum(pmax - p, 0.0) + OVERSHOOT_SLACK))  # v' at most this
        new_v = np.where(toward_max & (new_v > need), np.maximum(need, lo), new_v)
    toward_min = (v < 0) & (new_v >= 0)
    if toward_min.any():
        need = v + v * v * dt / (2.0 * (np.maximum(p - pmin, 0.0) + OVERSHOOT_SLACK))
        new_v = np.where(toward_min & (new_v < need), np.minimum(need, hi), new_v)
    return new_v


def brake_velocity(
    p: np.ndarray,
    v: np.ndarray,
    vmax: np.ndarray,
    amax: np.ndarray,
    pmin: np.ndarray,
    pmax: np.ndarray,
    dt: float,
    together: np.ndarray,
    trapezoid: bool = False,
) -> np.ndarray:
    """Next velocity of a stop at the acceleration limit; ``together`` axes slow down by one factor."""
    speed = np.abs(v)
    room = np.where(speed > 0, amax * dt / np.maximum(speed, 1e-300), np.inf)
    v_des = np.where(room >= 1.0, 0.0, v * (1.0 - np.minimum(room, 1.0)))
    moving = together & (speed > 0)
    if np.any(moving):
        v_des[together] = v[together] * max(0.0, 1.0 - float(room[moving].min()))
    return _bounded(p, v, v_des, vmax, amax, pmin, pmax, dt, trapezoid)


# ---- quaternions (x, y, z, w), numpy ---------------------------------------------------------
def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    return np.array([-q[0], -q[1], -q[2], q[3]])


def quat_to_rotvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector (axis · angle, angle in [0, π]) of a unit quaternion."""
    q = q / np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    s = float(np.linalg.norm(q[:3]))
    if s < 1e-12:
        return 2.0 * q[:3]
    return q[:3] * (2.0 * np.arctan2(s, q[3]) / s)


def rotvec_to_quat(r: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        q = np.array([r[0] / 2, r[1] / 2, r[2] / 2, 1.0])
        return q / np.linalg.norm(q)
    return np.concatenate([np.sin(angle / 2) * r / angle, [np.cos(angle / 2)]])


def angular_velocity(q_from: np.ndarray, q_to: np.ndarray, dt: float) -> np.ndarray:
    """World-frame angular velocity (rad/s) that turns ``q_from`` into ``q_to`` in ``dt``."""
    return quat_to_rotvec(quat_multiply(q_to, quat_conjugate(q_from))) / dt


class MotionLimiter:
    """Stateful limiter (see module doc). ``position`` is None until ``reset`` or the first ``step``."""

    def __init__(
        self, limits: LimitSet, period_s: float, max_gap_periods: float = MAX_GAP_PERIODS, trapezoid: bool = False
    ) -> None:
        """``trapezoid``: joints move (v + v')/2·dt per step, so the path between commands is the
        quadratic a cubic Hermite spline through (position, velocity) points reproduces exactly:
        velocity and acceleration stay within the limits between trajectory points too."""
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.limits = limits
        self.period_s = float(period_s)
        self.max_dt_s = float(period_s) * max_gap_periods
        self.trapezoid = trapezoid
        lay = limits.layout
        self.position: np.ndarray | None = None
        self.velocity = np.zeros(lay.dim)  # per dimension; the quaternion's entries are unused
        self.angular_velocity = np.zeros(3)
        self._prev_target: np.ndarray | None = None
        self._joints = list(limits.limited_joints) if limits.joint is not None else []
        grippers = set(lay.grippers)
        self._joints_together = np.array([i not in grippers for i in self._joints], dtype=bool)
        self._xyz = list(lay.position) if limits.cartesian is not None else []
        self._quat = list(lay.quaternion) if limits.cartesian is not None else []
        cart = limits.cartesian
        if self._xyz:
            assert cart is not None
            n = len(self._xyz)
            self._xyz_vmax = np.full(n, cart.max_linear_speed / np.sqrt(n))
            self._xyz_amax = np.full(n, cart.max_linear_acceleration / np.sqrt(n))
            ax = list(lay.position_axes)
            self._xyz_min, self._xyz_max = cart.box_min[ax], cart.box_max[ax]
        if self._quat:
            assert cart is not None
            self._w_vmax = np.full(3, cart.max_angular_speed / np.sqrt(3))
            self._w_amax = np.full(3, cart.max_angular_acceleration / np.sqrt(3))

    def copy(self) -> MotionLimiter:
        return copy.deepcopy(self)

    def reset(
        self,
        position: np.ndarray | None,
        velocity: np.ndarray | None = None,
        angular_velocity: np.ndarray | None = None,
    ) -> None:
        """Start from ``position`` (None: forget) at rest unless velocities are given."""
        dim = self.limits.layout.dim
        self.position = None if position is None else np.asarray(position, dtype=np.float64).copy()
        self.velocity = np.zeros(dim) if velocity is None else np.asarray(velocity, dtype=np.float64).copy()
        self.angular_velocity = np.zeros(3) if angular_velocity is None else np.asarray(angular_velocity, float).copy()
        self._prev_target = None if self.position is None else self.position.copy()

    @property
    def at_rest(self) -> bool:
        speeds = np.abs(self.velocity[self._joints + self._xyz])
        return bool(np.all(speeds <= REST_SPEED) and np.all(np.abs(self.angular_velocity) <= REST_SPEED))

    def effective_dt(self, dt_s: float) -> float:
        return min(float(dt_s), self.max_dt_s)

    def step(self, target: np.ndarray, dt_s: float) -> np.ndarray:
        """The next command toward ``target`` (clamped into the limits) after ``dt_s`` s (the first
        call takes the target)."""
        target = self.clamp(np.asarray(target, dtype=np.float64))
        if self.position is None:
            self.reset(self.clamp(target))
            self._prev_target = target.copy()
            assert self.position is not None
            return self.position.copy()
        dt = self.effective_dt(dt_s)
        if dt <= 0:
            return self.position.copy()
        prev_target = self._prev_target if self._prev_target is not None else target
        self._prev_target = target.copy()
        return self._advance(dt, target, prev_target)

    def brake(self, dt_s: float) -> np.ndarray:
        """The next command of a stop at the acceleration limits (the position when at rest)."""
        if self.position is None:
            raise RuntimeError("brake() before any command")
        self._prev_target = None
        dt = self.effective_dt(dt_s)
        if dt <= 0:
            return self.position.copy()
        return self._advance(dt, None, None)

    def _advance(self, dt: float, target: np.ndarray | None, prev_target: np.ndarray | None) -> np.ndarray:
        assert self.position is not None
        p, v = self.position, self.velocity
        out = p.copy() if target is None else target.copy()
        new_v = np.zeros_like(v) if target is None else (target - p) / dt
        lim = self.limits.joint
        if self._joints:
            assert lim is not None
            j = self._joints
            args = (
                lim.velocity_max,
                lim.acceleration_max,
                lim.position_min,
                lim.position_max,
                dt,
                self._joints_together,
                self.trapezoid,
            )
            if target is None:
                new_v[j] = brake_velocity(p[j], v[j], *args)
            else:
                assert prev_target is not None
                new_v[j] = axis_velocity(p[j], v[j], target[j], (target[j] - prev_target[j]) / dt, *args)
            moved = (v[j] + new_v[j]) / 2.0 if self.trapezoid else new_v[j]
            out[j] = np.minimum(np.maximum(p[j] + moved * dt, lim.position_min), lim.position_max)
        if self._xyz:
            x = self._xyz
            xyz_args = (self._xyz_vmax, self._xyz_amax, self._xyz_min, self._xyz_max, dt, np.ones(len(x), dtype=bool))
            if target is None:
                new_v[x] = brake_velocity(p[x], v[x], *xyz_args)
            else:
                assert prev_target is not None
                new_v[x] = axis_velocity(p[x], v[x], target[x], (target[x] - prev_target[x]) / dt, *xyz_args)
            out[x] = np.minimum(np.maximum(p[x] + new_v[x] * dt, self._xyz_min), self._xyz_max)
        if self._quat:
            out[self._quat] = self._orientation(dt, target, prev_target)
        if target is None:  # unlimited dimensions hold during a stop
            free = [i for i in range(len(p)) if i not in set(self._joints + self._xyz + self._quat)]
            out[free] = p[free]
        self.velocity = (out - p) / dt
        if self.trapezoid and self._joints:
            self.velocity[self._joints] = new_v[self._joints]
        self.position = out
        return out.copy()

    def _orientation(self, dt: float, target: np.ndarray | None, prev_target: np.ndarray | None) -> np.ndarray:
        assert self.position is not None
        q = self.position[self._quat]
        w, zeros, inf = self.angular_velocity, np.zeros(3), np.full(3, np.inf)
        if target is None:
            new_w = brake_velocity(zeros, w, self._w_vmax, self._w_amax, -inf, inf, dt, np.ones(3, dtype=bool))
        else:
            qt, qt_prev = target[self._quat], prev_target[self._quat]  # type: ignore[index]
            err = quat_to_rotvec(quat_multiply(qt, quat_conjugate(q)))
            w_target = angular_velocity(qt_prev, qt, dt)
            new_w = axis_velocity(
                zeros, w, err, w_target, self._w_vmax, self._w_amax, -inf, inf, dt, np.ones(3, dtype=bool)
            )
        self.angular_velocity = new_w
        out = quat_multiply(rotvec_to_quat(new_w * dt), q)
        return out if float(np.dot(out, q)) >= 0 else -out

    def clamp(self, target: np.ndarray) -> np.ndarray:
        """``target`` with joint positions and the Cartesian position inside their limits."""
        out = target.copy()
        lim = self.limits.joint
        if self._joints and lim is not None:
            out[self._joints] = np.minimum(np.maximum(out[self._joints], lim.position_min), lim.position_max)
        if self._xyz:
            out[self._xyz] = np.minimum(np.maximum(out[self._xyz], self._xyz_min), self._xyz_max)
        return out


def limit_trajectory(
    limits: LimitSet,
    positions: np.ndarray | Sequence[np.ndarray],
    period_s: float,
    start: np.ndarray | None = None,
    start_velocity: np.ndarray | None = None,
) -> np.ndarray:
    """Positions (N, D) sampled every ``period_s`` bent to respect the limits, from ``start`` at rest
    (or ``start_velocity``)."""
    limiter = MotionLimiter(limits, period_s)
    limiter.reset(start, start_velocity)
    rows = [limiter.step(p, period_s) for p in np.asarray(positions, dtype=np.float64)]
    return np.stack(rows) if rows else np.zeros((0, limits.layout.dim))
