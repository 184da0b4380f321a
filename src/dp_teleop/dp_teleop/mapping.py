"""Teleoperation as pure functions: device input → twist, twist → Cartesian target, buttons → events.

Conventions: twists are (vx, vy, vz, wx, wy, wz) in m/s and rad/s in the robot base frame;
poses are position (3,) in m and a scipy Rotation. Nothing here knows about ROS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy.spatial.transform import Rotation

ZERO_TWIST = np.zeros(6)


class EpisodeEvent(Enum):
    """Recorder commands bound to buttons/keys."""

    START = "start"
    KEEP_SUCCESS = "keep_success"
    KEEP_FAILURE = "keep_failure"
    DISCARD = "discard"


@dataclass(frozen=True)
class TeleopLimits:
    """Speed limits and the workspace box the Cartesian target stays in."""

    max_linear_mps: float = 0.2
    max_angular_rps: float = 0.8
    workspace_min: tuple[float, float, float] = (0.25, -0.45, 0.02)
    workspace_max: tuple[float, float, float] = (0.75, 0.45, 0.65)

    def __post_init__(self) -> None:
        if not self.max_linear_mps > 0 or not self.max_angular_rps > 0:
            raise ValueError(f"speed limits must be > 0, got {self.max_linear_mps} m/s, {self.max_angular_rps} rad/s")
        lo, hi = np.asarray(self.workspace_min, float), np.asarray(self.workspace_max, float)
        if lo.shape != (3,) or hi.shape != (3,) or not np.all(lo < hi):
            raise ValueError(
                f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max} (3 values each)"
            )


@dataclass(frozen=True)
class JoyMapping:
    """Which sensor_msgs/Joy axes/buttons do what (defaults: Xbox layout of the `joy` node).

    ``axes[i]`` is the Joy axis driving twist component i (vx, vy, vz, wx, wy, wz), -1 for none;
    ``scales[i]`` (sign and gain, |scale| <= 1) multiplies it before the speed limit.
    Buttons are Joy button indices, -1 for none; a deadman of -1 means always enabled.
    """

    axes: tuple[int, ...] = (1, 0, 4, -1, -1, 3)
    scales: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    deadzone: float = 0.1
    deadman_button: int = 4
    start_button: int = 0
    keep_success_button: int = 1
    keep_failure_button: int = 3
    discard_button: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", tuple(int(a) for a in self.axes))
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if len(self.axes) != 6 or len(self.scales) != 6:
            raise ValueError(
                f"axes and scales need 6 entries (vx vy vz wx wy wz), got {len(self.axes)} and {len(self.scales)}"
            )
        if any(abs(s) > 1 for s in self.scales):
            raise ValueError(f"|scales| must be <= 1 (speed limits set the maximum), got {self.scales}")
        if not 0 <= self.deadzone < 1:
            raise ValueError(f"deadzone must be in [0, 1), got {self.deadzone}")

    @property
    def event_buttons(self) -> dict[EpisodeEvent, int]:
        return {
            EpisodeEvent.START: self.start_button,
            EpisodeEvent.KEEP_SUCCESS: self.keep_success_button,
            EpisodeEvent.KEEP_FAILURE: self.keep_failure_button,
            EpisodeEvent.DISCARD: self.discard_button,
        }


def apply_deadzone(value: float, deadzone: float) -> float:
    """0 inside the deadzone, rescaled linearly to reach ±1 at full deflection outside it."""
    if abs(value) <= deadzone:
        return 0.0
    return float(np.sign(value) * (min(abs(value), 1.0) - deadzone) / (1.0 - deadzone))


def limit_twist(twist: np.ndarray, limits: TeleopLimits) -> np.ndarray:
    """Scale linear and angular parts down to the speed limits (direction kept); NaN → zero."""
    twist = np.asarray(twist, dtype=float).copy()
    if twist.shape != (6,) or not np.all(np.isfinite(twist)):
        return ZERO_TWIST.copy()
    for part, vmax in ((slice(0, 3), limits.max_linear_mps), (slice(3, 6), limits.max_angular_rps)):
        norm = np.linalg.norm(twist[part])
        if norm > vmax:
            twist[part] *= vmax / norm
    return twist


def normalized_to_twist(normalized: Sequence[float] | np.ndarray, limits: TeleopLimits) -> np.ndarray:
    """Device deflections in [-1, 1] (vx..wz) → limited twist in m/s, rad/s."""
    n = np.clip(np.asarray(normalized, dtype=float), -1.0, 1.0)
    scale = np.array([limits.max_linear_mps] * 3 + [limits.max_angular_rps] * 3)
    return limit_twist(n * scale, limits)


@dataclass
class JoyState:
    """Input of one Joy message, decoded."""

    twist: np.ndarray
    deadman: bool
    events: list[EpisodeEvent] = field(default_factory=list)


class JoyMapper:
    """Joy messages → twist (deadman-gated) and episode events on button presses (rising edges)."""

    def __init__(self, mapping: JoyMapping, limits: TeleopLimits) -> None:
        self.mapping, self.limits = mapping, limits
        self._previous_buttons: tuple[int, ...] = ()

    def update(self, axes: Sequence[float], buttons: Sequence[int]) -> JoyState:
        m = self.mapping
        deadman = m.deadman_button < 0 or _pressed(buttons, m.deadman_button)
        normalized = [
            apply_deadzone(axes[a], m.deadzone) * s if 0 <= a < len(axes) else 0.0 for a, s in zip(m.axes, m.scales)
        ]
        twist = normalized_to_twist(normalized, self.limits) if deadman else ZERO_TWIST.copy()
        events = [
            event
            for event, b in m.event_buttons.items()
            if b >= 0 and _pressed(buttons, b) and not _pressed(self._previous_buttons, b)
        ]
        self._previous_buttons = tuple(int(b) for b in buttons)
        return JoyState(twist=twist, deadman=deadman, events=events)


def _pressed(buttons: Sequence[int], index: int) -> bool:
    return 0 <= index < len(buttons) and bool(buttons[index])


class PoseIntegrator:
    """Integrates twists into a Cartesian target that stays in the workspace box."""

    def __init__(self, limits: TeleopLimits) -> None:
        self.limits = limits
        self.position: np.ndarray | None = None
        self.rotation = Rotation.identity()

    @property
    def ready(self) -> bool:
        return self.position is not None

    def reset(self, position: Sequence[float] | np.ndarray, quaternion_xyzw: Sequence[float] | np.ndarray) -> None:
        """Start from a measured pose (clamped into the workspace)."""
        pos = np.asarray(position, dtype=float)
        quat = np.asarray(quaternion_xyzw, dtype=float)
        if pos.shape != (3,) or quat.shape != (4,) or not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat))):
            raise ValueError(f"pose must be finite position (3,) and quaternion (4,), got {pos} {quat}")
        if np.linalg.norm(quat) < 1e-6:
            raise ValueError(f"quaternion {quat} has zero norm")
        self.position = np.clip(pos, self.limits.workspace_min, self.limits.workspace_max)
        self.rotation = Rotation.from_quat(quat)

    def step(self, twist: np.ndarray, dt_s: float) -> np.ndarray:
        """Advance by ``twist`` (limited again) for ``dt_s``; returns the twist actually applied."""
        if self.position is None:
            raise RuntimeError("PoseIntegrator.reset() must be called with the current pose first")
        if not 0 < dt_s < 1.0:
            return ZERO_TWIST.copy()  # a stalled loop must not turn into a jump
        twist = self.clip_to_workspace(limit_twist(twist, self.limits))
        self.position = np.clip(self.position + twist[:3] * dt_s, self.limits.workspace_min, self.limits.workspace_max)
        self.rotation = Rotation.from_rotvec(twist[3:] * dt_s) * self.rotation
        return twist

    def clip_to_workspace(self, twist: np.ndarray) -> np.ndarray:
        """Zero linear components that push the target further out of the box."""
        twist = np.asarray(twist, dtype=float).copy()
        if self.position is None:
            return twist
        lo, hi = np.asarray(self.limits.workspace_min), np.asarray(self.limits.workspace_max)
        out = ((self.position <= lo) & (twist[:3] < 0)) | ((self.position >= hi) & (twist[:3] > 0))
        twist[:3][out] = 0.0
        return twist

    @property
    def quaternion_xyzw(self) -> np.ndarray:
        return self.rotation.as_quat()


@dataclass(frozen=True)
class TargetGuard:
    """How far the Cartesian target may be from the measured pose before teleop refuses to send it.

    Why: the controller pulls the arm to the target at once, so a target far from where the arm is
    (a measured pose outside the workspace box and clamped into it, an end-effector frame that is
    not the one ``current_pose`` reports, an arm held by a reflex while the operator keeps pushing)
    is a jump. Checked when the deadman engages and every tick while engaged.
    """

    max_distance_m: float = 0.02
    max_angle_rad: float = 0.2

    def __post_init__(self) -> None:
        if not self.max_distance_m > 0 or not self.max_angle_rad > 0:
            raise ValueError(
                f"max_distance_m and max_angle_rad must be > 0, got {self.max_distance_m}, {self.max_angle_rad}"
            )

    def refusal(
        self,
        target_position: np.ndarray,
        target_rotation: Rotation,
        measured_position: np.ndarray,
        measured_quaternion_xyzw: np.ndarray,
    ) -> str | None:
        """None when the target may be sent, else why not."""
        distance = float(np.linalg.norm(np.asarray(target_position, float) - np.asarray(measured_position, float)))
        angle = float((target_rotation * Rotation.from_quat(measured_quaternion_xyzw).inv()).magnitude())
        if not distance <= self.max_distance_m:
            return f"target is {distance:.3f} m from the measured pose (limit {self.max_distance_m} m)"
        if not angle <= self.max_angle_rad:
            return f"target is {angle:.3f} rad from the measured orientation (limit {self.max_angle_rad} rad)"
        return None
