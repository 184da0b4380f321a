"""Joint and Cartesian limits: configs, checking a trajectory, and a limiter that enforces them.

The limiter is a forward pass over commands at the control period: each step starts from the
previous command and velocity, (1) scales the arm's joint step uniformly so no joint exceeds
its velocity limit (keeps the direction), (2) keeps the velocity within what the acceleration
limit allows from the previous velocity and what still lets the joint brake before its position
limits (v²/2a + v·dt <= distance), and (3) clamps positions. A trajectory that already respects
the limits passes unchanged (a feed-forward term makes tracking exact); anything else is bent
until it does. Cartesian commands get a workspace box and linear/angular speed limits
(no Cartesian acceleration limit). Units: rad, rad/s, rad/s² for joints; m, m/s, rad/s for poses.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dp_core.control.interpolation import quaternion_angle, slerp_pair
from dp_core.control.layout import ActionLayout

_TOL = 1e-9  # absolute slack for float rounding in checks
_REL_TOL = 1e-6


def _vec(values: Sequence[float] | np.ndarray, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 1 and n > 1:
        arr = np.full(n, arr[0])
    if arr.shape != (n,) or np.any(np.isnan(arr)):
        raise ValueError(f"{what} must be {n} numbers (or one for all), got {values!r}")
    return arr


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits; position bounds may be ±inf, velocity must be finite, acceleration may be inf."""

    names: tuple[str, ...]
    position_min: np.ndarray
    position_max: np.ndarray
    velocity_max: np.ndarray
    acceleration_max: np.ndarray | None = None

    def __post_init__(self) -> None:
        names = tuple(self.names)
        n = len(names)
        if n == 0 or len(set(names)) != n:
            raise ValueError(f"joint limit names must be non-empty and unique, got {list(names)}")
        object.__setattr__(self, "names", names)
        for attr in ("position_min", "position_max", "velocity_max"):
            object.__setattr__(self, attr, _vec(getattr(self, attr), n, attr))
        acc = np.full(n, np.inf) if self.acceleration_max is None else _vec(self.acceleration_max, n, "acceleration_max")
        object.__setattr__(self, "acceleration_max", acc)
        if np.any(self.position_min >= self.position_max):
            raise ValueError(f"position_min must be < position_max for every joint, got {self.position_min} / {self.position_max}")
        if not (np.all(np.isfinite(self.velocity_max)) and np.all(self.velocity_max > 0)):
            raise ValueError(f"velocity_max must be finite and > 0, got {self.velocity_max}")
        if np.any(acc <= 0):
            raise ValueError(f"acceleration_max must be > 0, got {acc}")

    def subset(self, names: Sequence[str]) -> JointLimits:
        """Limits for ``names`` in that order; a name without limits is a ValueError."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise ValueError(f"no joint limits configured for {missing} (limits cover {list(self.names)})")
        idx = [self.names.index(n) for n in names]
        return JointLimits(tuple(names), self.position_min[idx], self.position_max[idx], self.velocity_max[idx],
                           self.acceleration_max[idx])  # type: ignore[index]


@dataclass(frozen=True)
class CartesianLimits:
    """Workspace box (m, in the command frame) and speed limits (m/s, rad/s)."""

    box_min: np.ndarray
    box_max: np.ndarray
    max_linear_speed: float
    max_angular_speed: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "box_min", _vec(self.box_min, 3, "box_min"))
        object.__setattr__(self, "box_max", _vec(self.box_max, 3, "box_max"))
        if np.any(self.box_min >= self.box_max):
            raise ValueError(f"box_min must be < box_max on every axis, got {self.box_min} / {self.box_max}")
        for attr in ("max_linear_speed", "max_angular_speed"):
            value = getattr(self, attr)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{attr} must be a finite number > 0, got {value}")


@dataclass(frozen=True)
class Violation:
    """The worst breach of one limit on one dimension (value vs limit at sample ``step``)."""

    kind: str
    name: str
    step: int
    value: float
    limit: float

    def __str__(self) -> str:
        return f"{self.kind} of '{self.name}' at sample {self.step}: {self.value:.6g} exceeds {self.limit:.6g}"


@dataclass(frozen=True)
class LimitSet:
    """All limits of one action layout. ``max_step_from_measured`` is rad (joints, max over joints)
    or m (Cartesian position distance) between a chunk's first command and the measured state."""

    layout: ActionLayout
    joint: JointLimits | None = None
    cartesian: CartesianLimits | None = None
    max_step_from_measured: float | None = None
    _limited: tuple[int, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        lay = self.layout
        limited = lay.joints + lay.grippers
        if self.joint is not None:
            present = tuple(i for i in limited if lay.names[i] in self.joint.names)
            arm_missing = [lay.names[i] for i in lay.joints if lay.names[i] not in self.joint.names]
            if arm_missing:
                raise ValueError(f"joint limits missing for joints {arm_missing}; add them to the limits configuration")
            object.__setattr__(self, "joint", self.joint.subset(lay.names_of(present)))
            object.__setattr__(self, "_limited", present)
        if self.cartesian is not None and not lay.position:
            raise ValueError("Cartesian limits given but the actions have no x, y (z)")
        if self.max_step_from_measured is not None and not self.max_step_from_measured > 0:
            raise ValueError(f"max_step_from_measured must be > 0, got {self.max_step_from_measured}")

    @property
    def limited_joints(self) -> tuple[int, ...]:
        """Indices (into the action) of the dimensions covered by ``joint``, in its order."""
        return self._limited


def _brake_speed(distance: np.ndarray, acc: np.ndarray, dt: float) -> np.ndarray:
    """Largest speed from which a joint can still stop within ``distance`` (v²/2a + v·dt <= d)."""
    d = np.maximum(distance, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = -acc * dt + np.sqrt((acc * dt) ** 2 + 2.0 * acc * d)
    return np.where(np.isfinite(acc), finite, d / dt)


class Limiter:
    """Stateful forward pass: ``step(target)`` returns the next command that respects the limits."""

    def __init__(self, limits: LimitSet, period_s: float) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s}")
        self.limits = limits
        self.period_s = float(period_s)
        self.position: np.ndarray | None = None
        self.velocity = np.zeros(limits.layout.dim)
        self._prev_target: np.ndarray | None = None
        grippers = set(limits.layout.grippers)
        self._arm = np.array([i not in grippers for i in limits.limited_joints], dtype=bool)

    def reset(self, position: np.ndarray | None, velocity: np.ndarray | None = None) -> None:
        """Start from ``position`` (None: the next target is taken as is) at rest unless ``velocity``."""
        self.position = None if position is None else np.asarray(position, dtype=np.float64).copy()
        self.velocity = np.zeros(self.limits.layout.dim) if velocity is None else np.asarray(velocity, float).copy()
        self._prev_target = None if position is None else self.position.copy()

    def hold(self) -> None:
        """The caller holds the last command: velocity is zero from here on."""
        self.velocity[:] = 0.0
        self._prev_target = None if self.position is None else self.position.copy()

    def copy(self) -> Limiter:
        return copy.deepcopy(self)

    def step(self, target: np.ndarray) -> np.ndarray:
        target = np.asarray(target, dtype=np.float64)
        if self.position is None:
            self.reset(self._clamp_positions(target))
            return self.position.copy()  # type: ignore[union-attr]
        prev = self.position
        out = target.copy()
        dt = self.period_s
        if self.limits.joint is not None:
            idx = list(self.limits.limited_joints)
            out[idx] = self._joint_step(prev[idx], self.velocity[idx], target[idx], self._target_velocity(idx, target))
        if self.limits.cartesian is not None:
            self._cartesian_step(prev, out)
        self._prev_target = target.copy()
        self.velocity = (out - prev) / dt
        self.position = out
        return out.copy()

    def _target_velocity(self, idx: list[int], target: np.ndarray) -> np.ndarray:
        if self._prev_target is None:
            return np.zeros(len(idx))
        return (target[idx] - self._prev_target[idx]) / self.period_s

    def _joint_step(self, p: np.ndarray, v: np.ndarray, target: np.ndarray, v_target: np.ndarray) -> np.ndarray:
        lim, dt = self.limits.joint, self.period_s
        assert lim is not None
        v_des = (target - p) / dt
        arm = self._arm
        ratio = np.abs(v_des) / lim.velocity_max
        if np.any(arm) and ratio[arm].max() > 1.0:
            v_des[arm] /= ratio[arm].max()  # same direction, slower
        v_des[~arm] = np.clip(v_des[~arm], -lim.velocity_max[~arm], lim.velocity_max[~arm])
        acc = lim.acceleration_max
        # approach a target no faster (relative to its own motion) than allows stopping on it,
        # so a lagging command catches up without overshooting; exact tracking is unaffected
        err = target - p
        upper = np.where(err > 0, v_target + _brake_speed(err, acc, dt), np.inf)
        lower = np.where(err < 0, v_target - _brake_speed(-err, acc, dt), -np.inf)
        v_des = np.minimum(np.maximum(v_des, lower), upper)
        lo = np.maximum(-lim.velocity_max, v - acc * dt)
        hi = np.minimum(lim.velocity_max, v + acc * dt)
        hi = np.minimum(hi, _brake_speed(lim.position_max - p, acc, dt))
        lo = np.maximum(lo, -_brake_speed(p - lim.position_min, acc, dt))
        new_v = np.minimum(np.maximum(v_des, lo), hi)  # where lo > hi, braking (hi/lo order) wins
        return np.clip(p + new_v * dt, lim.position_min, lim.position_max)

    def _cartesian_step(self, prev: np.ndarray, out: np.ndarray) -> None:
        cart, lay, dt = self.limits.cartesian, self.limits.layout, self.period_s
        assert cart is not None
        pi = list(lay.position)
        step = out[pi] - prev[pi]
        dist = float(np.linalg.norm(step))
        max_dist = cart.max_linear_speed * dt
        if dist > max_dist:
            step *= max_dist / dist
        ax = list(lay.position_axes)
        out[pi] = np.clip(prev[pi] + step, cart.box_min[ax], cart.box_max[ax])
        if lay.quaternion:
            qi = list(lay.quaternion)
            angle = quaternion_angle(prev[qi], out[qi])
            max_angle = cart.max_angular_speed * dt
            frac = 1.0 if angle <= max_angle else max_angle / angle
            out[qi] = slerp_pair(prev[qi], out[qi], frac)

    def _clamp_positions(self, target: np.ndarray) -> np.ndarray:
        out = target.copy()
        if self.limits.joint is not None:
            idx = list(self.limits.limited_joints)
            out[idx] = np.clip(out[idx], self.limits.joint.position_min, self.limits.joint.position_max)
        if self.limits.cartesian is not None:
            pi, ax = list(self.limits.layout.position), list(self.limits.layout.position_axes)
            out[pi] = np.clip(out[pi], self.limits.cartesian.box_min[ax], self.limits.cartesian.box_max[ax])
        return out


def clip_trajectory(
    limits: LimitSet,
    positions: np.ndarray,
    period_s: float,
    start: np.ndarray | None = None,
    start_velocity: np.ndarray | None = None,
) -> np.ndarray:
    """Positions (N, D) sampled every ``period_s`` bent to respect the limits (see module doc)."""
    limiter = Limiter(limits, period_s)
    limiter.reset(start, start_velocity)
    return np.stack([limiter.step(p) for p in np.asarray(positions, dtype=np.float64)]) if len(positions) else \
        np.zeros((0, limits.layout.dim))


def check_trajectory(
    limits: LimitSet,
    positions: np.ndarray,
    period_s: float,
    *,
    start: np.ndarray | None = None,
    start_velocity: np.ndarray | None = None,
    measured: np.ndarray | None = None,
    check_acceleration: bool = True,
) -> list[Violation]:
    """Violations of ``positions`` (N, D) sampled every ``period_s``: the worst one per limit and name.

    ``start`` (and ``start_velocity``) is the command before the first sample, so the first step
    is checked too; ``measured`` is compared with the first sample (``max_step_from_measured``).
    """
    pos = np.asarray(positions, dtype=np.float64)
    lay = limits.layout
    if pos.ndim != 2 or pos.shape[1] != lay.dim:
        raise ValueError(f"positions must be (N, {lay.dim}), got {pos.shape}")
    if start is not None:
        pos = np.concatenate([np.asarray(start, dtype=np.float64)[None], pos])
    offset = 0 if start is None else 1
    found: list[Violation] = []
    if limits.joint is not None:
        found += _joint_violations(limits, pos, period_s, offset, start_velocity, check_acceleration)
    if limits.cartesian is not None:
        found += _cartesian_violations(limits, pos, period_s, offset)
    if measured is not None and limits.max_step_from_measured is not None and len(pos) > offset:
        found += _measured_violations(limits, pos[offset], np.asarray(measured, dtype=np.float64))
    return found


def _worst(kind: str, names: Sequence[str], values: np.ndarray, limit: np.ndarray, offset: int) -> list[Violation]:
    """values (N, K) against limit (K,) -> one Violation per column that exceeds it."""
    out = []
    if values.size == 0:
        return out
    excess = values - (limit * (1 + _REL_TOL) + _TOL)
    for k in np.flatnonzero(np.any(excess > 0, axis=0)):
        step = int(np.argmax(excess[:, k]))
        out.append(Violation(kind, names[k], max(step - offset, 0), float(values[step, k]), float(limit[k])))
    return out


def _joint_violations(limits: LimitSet, pos: np.ndarray, period_s: float, offset: int,
                      start_velocity: np.ndarray | None, check_acceleration: bool) -> list[Violation]:
    lim = limits.joint
    assert lim is not None
    idx = list(limits.limited_joints)
    names = lim.names
    q = pos[:, idx]
    found = _worst("position above maximum", names, q, lim.position_max, offset)
    found += _worst("position below minimum", names, -q, -lim.position_min, offset)
    vel = np.diff(q, axis=0) / period_s
    found += _worst("velocity", names, np.abs(vel), lim.velocity_max, offset - 1)
    if check_acceleration:
        if start_velocity is not None and offset:
            vel = np.concatenate([np.asarray(start_velocity, dtype=np.float64)[idx][None], vel])
        acc = np.diff(vel, axis=0) / period_s
        found += _worst("acceleration", names, np.abs(acc), lim.acceleration_max, offset - 1)  # type: ignore[arg-type]
    return found


def _cartesian_violations(limits: LimitSet, pos: np.ndarray, period_s: float, offset: int) -> list[Violation]:
    cart, lay = limits.cartesian, limits.layout
    assert cart is not None
    names = lay.names_of(lay.position)
    xyz = pos[:, list(lay.position)]
    ax = list(lay.position_axes)  # a planar (x, y) layout uses the box's x and y only
    found = _worst("workspace above box_max", names, xyz, cart.box_max[ax], offset)
    found += _worst("workspace below box_min", names, -xyz, -cart.box_min[ax], offset)
    speed = np.linalg.norm(np.diff(xyz, axis=0), axis=1, keepdims=True) / period_s
    found += _worst("linear speed", ["xyz"], speed, np.array([cart.max_linear_speed]), offset - 1)
    if lay.quaternion:
        qi = list(lay.quaternion)
        ang = np.array([[quaternion_angle(a[qi], b[qi]) / period_s] for a, b in zip(pos[:-1], pos[1:], strict=True)])
        found += _worst("angular speed", ["orientation"], ang.reshape(-1, 1), np.array([cart.max_angular_speed]), offset - 1)
    return found


def _measured_violations(limits: LimitSet, first: np.ndarray, measured: np.ndarray) -> list[Violation]:
    lay, max_step = limits.layout, limits.max_step_from_measured
    assert max_step is not None
    if measured.shape != first.shape:
        raise ValueError(f"measured state must have {first.size} values (one per action name), got {measured.shape}")
    found = []
    joints = list(limits.limited_joints) if limits.joint is not None else list(lay.joints)
    if joints:
        diff = np.abs(first[joints] - measured[joints])
        k = int(np.argmax(diff))
        if diff[k] > max_step + _TOL:
            found.append(Violation("step from measured state", lay.names[joints[k]], 0, float(diff[k]), max_step))
    if lay.position:
        dist = float(np.linalg.norm(first[list(lay.position)] - measured[list(lay.position)]))
        if dist > max_step + _TOL:
            found.append(Violation("step from measured state", "xyz", 0, dist, max_step))
    return found
