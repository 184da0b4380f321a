"""Joint and Cartesian limits: their configs, and finding where a trajectory violates them.

``motion_limiter.MotionLimiter`` enforces these limits command by command; ``check_trajectory``
finds the worst violation per limit and dimension (chunk validation in ``limit_mode: reject``, and
the tests). Joints: position, velocity, acceleration; Cartesian: workspace box, linear/angular
speed and acceleration (norms). Units: rad, rad/s, rad/s² for joints; m, m/s, m/s², rad/s, rad/s²
for poses. Every check is vectorized over the samples (chunk validation cost stays bounded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

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
    acceleration_max: np.ndarray = None  # type: ignore[assignment]  # None: unlimited (inf), set in __post_init__

    def __post_init__(self) -> None:
        names = tuple(self.names)
        n = len(names)
        if n == 0 or len(set(names)) != n:
            raise ValueError(f"joint limit names must be non-empty and unique, got {list(names)}")
        object.__setattr__(self, "names", names)
        for attr in ("position_min", "position_max", "velocity_max"):
            object.__setattr__(self, attr, _vec(getattr(self, attr), n, attr))
        acc = (
            np.full(n, np.inf) if self.acceleration_max is None else _vec(self.acceleration_max, n, "acceleration_max")
        )
        object.__setattr__(self, "acceleration_max", acc)
        if np.any(self.position_min >= self.position_max):
            raise ValueError(
                f"position_min must be < position_max for every joint, got {self.position_min} / {self.position_max}"
            )
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
        return JointLimits(
            tuple(names),
            self.position_min[idx],
            self.position_max[idx],
            self.velocity_max[idx],
            self.acceleration_max[idx],
        )


@dataclass(frozen=True)
class CartesianLimits:
    """Workspace box (m, in the command frame), speed (m/s, rad/s) and acceleration (m/s², rad/s²) limits."""

    box_min: np.ndarray
    box_max: np.ndarray
    max_linear_speed: float
    max_angular_speed: float
    max_linear_acceleration: float = 2.0  # m/s²
    max_angular_acceleration: float = 10.0  # rad/s²

    def __post_init__(self) -> None:
        object.__setattr__(self, "box_min", _vec(self.box_min, 3, "box_min"))
        object.__setattr__(self, "box_max", _vec(self.box_max, 3, "box_max"))
        if np.any(self.box_min >= self.box_max):
            raise ValueError(f"box_min must be < box_max on every axis, got {self.box_min} / {self.box_max}")
        for attr in ("max_linear_speed", "max_angular_speed", "max_linear_acceleration", "max_angular_acceleration"):
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
    out: list[Violation] = []
    if values.size == 0:
        return out
    excess = values - (limit * (1 + _REL_TOL) + _TOL)
    for k in np.flatnonzero(np.any(excess > 0, axis=0)):
        step = int(np.argmax(excess[:, k]))
        out.append(Violation(kind, names[int(k)], max(step - offset, 0), float(values[step, k]), float(limit[k])))
    return out


def _joint_violations(
    limits: LimitSet,
    pos: np.ndarray,
    period_s: float,
    offset: int,
    start_velocity: np.ndarray | None,
    check_acceleration: bool,
) -> list[Violation]:
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
        found += _worst("acceleration", names, np.abs(acc), lim.acceleration_max, offset - 1)
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
        q = pos[:, qi] / np.linalg.norm(pos[:, qi], axis=1, keepdims=True)
        dots = np.clip(np.abs(np.sum(q[:-1] * q[1:], axis=1)), 0.0, 1.0)
        ang = (2.0 * np.arccos(dots) / period_s)[:, None]
        found += _worst("angular speed", ["orientation"], ang, np.array([cart.max_angular_speed]), offset - 1)
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


# rad: measured joint positions this far beyond a limit still count as within it (encoder noise).
POSITION_TOLERANCE = 1e-3
BOX_TOLERANCE = 0.005  # m: a measured pose this far outside the box still counts as inside (tracking error)


class MeasuredStateCheck:
    """Is a measured state usable to start or continue a plan from? (Called for every measured
    state, up to 1 kHz: the index arrays and tolerance-widened bounds are computed once here.)

    A robot outside its position limits (joints, workspace box) must be recovered by hand:
    starting a plan from there would jump to the limit or break the velocity limit on the way back.
    """

    def __init__(
        self, layout: ActionLayout, joint_limits: JointLimits | None, cartesian_limits: CartesianLimits | None
    ) -> None:
        self.layout = layout
        self._joint_names = joint_limits.names if joint_limits is not None else ()
        names = layout.names
        self._grippers = np.array(layout.grippers, dtype=int)
        lim = joint_limits
        self._q_lim = [i for i, n in enumerate(lim.names) if n in names] if lim is not None else []
        self._q_idx = np.array([names.index(lim.names[i]) for i in self._q_lim], dtype=int) if lim else np.zeros(0, int)
        self._q_min = self._q_max = np.zeros(0)
        if lim is not None:
            self._q_min = lim.position_min[self._q_lim] - POSITION_TOLERANCE
            self._q_max = lim.position_max[self._q_lim] + POSITION_TOLERANCE
        self._xyz_idx = np.array(layout.position if cartesian_limits is not None else (), dtype=int)
        self._box_min = self._box_max = np.zeros(0)
        if cartesian_limits is not None:
            ax = list(layout.position_axes)
            self._box_min = cartesian_limits.box_min[ax] - BOX_TOLERANCE
            self._box_max = cartesian_limits.box_max[ax] + BOX_TOLERANCE

    def __call__(self, measured: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
        """The measured state (action order) if usable, else ValueError saying why.

        Gripper dimensions may be NaN (not measured); they take ``fill`` (the chunk's first action).
        """
        dim = self.layout.dim
        m = np.array(measured, dtype=np.float64).reshape(-1)
        if m.size != dim:
            raise ValueError(f"measured state must have {dim} values in action-name order, got {m.size}")
        g = self._grippers
        if fill is not None and g.size:
            m[g] = np.where(np.isnan(m[g]), np.asarray(fill, dtype=np.float64)[g], m[g])
        finite = np.isfinite(m)
        finite[g] |= np.isnan(m[g])
        if not finite.all():
            raise ValueError(f"measured state must be {dim} finite values in action-name order, got {measured!r}")
        if self._q_idx.size:
            q = m[self._q_idx]
            outside = (q < self._q_min) | (q > self._q_max)
            if outside.any():
                bad = [f"{self._joint_names[self._q_lim[i]]}={q[i]:.4g}" for i in np.flatnonzero(outside)]
                raise ValueError(
                    f"measured state is outside the joint position limits ({', '.join(bad)}); "
                    "holding: move the robot back within its limits first"
                )
        if self._xyz_idx.size:
            xyz = m[self._xyz_idx]
            if (xyz < self._box_min).any() or (xyz > self._box_max).any():
                raise ValueError(
                    f"measured position {np.round(xyz, 4).tolist()} is outside the workspace box "
                    f"{(self._box_min + BOX_TOLERANCE).tolist()}..{(self._box_max - BOX_TOLERANCE).tolist()}; holding"
                )
        return m
