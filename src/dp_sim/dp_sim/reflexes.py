"""libfranka-like reflexes: the FR3 stops when a command at its 1 kHz interface breaks its limits.

Why: the real arm is stricter than a simulator that smooths or clips what it is given. libfranka
checks every 1 ms command and aborts the motion with an error (franka::Errors, published by
franka_ros2 in franka_msgs/msg/Errors.msg; the names below are those fields) instead of
executing it; the robot then refuses motion until an error recovery. This module judges a
command stream the same way, without ROS, so the twin can stop and report exactly when the
robot would.

Two interfaces, as franka_ros2 drives them (config/robots/fr3_ros2_controllers.yaml):

- position (``forward_position_controller``, and the Cartesian controller, which writes joint
  positions): libfranka differentiates the commanded positions ``q_c`` at 1 kHz; velocity,
  acceleration and jerk must stay within the limits (``joint_motion_generator_*``). A stream
  slower than 1 kHz is held between messages, so each new message is a step: a discontinuity.
- effort (``fr3_arm_controller``, a JointTrajectoryController with PD gains on the effort
  interface): the arm follows the controller's desired state, so the desired positions and
  velocities must stay inside the joint limits (``joint_position_limits_violation``,
  ``joint_velocity_violation``). Torque steps (e.g. at the velocity steps of a linearly
  interpolated trajectory) are not judged: franka_hardware passes efforts through
  ``franka::limitRate(kMaxTorqueRate, ...)`` (``franka_hardware/src/robot.cpp``,
  ``writeOnceEfforts``), which smooths them instead of letting the robot reflex.

Limits (defaults, :data:`FR3_LIMITS`): positions and velocities from franka_description
``robots/fr3/joint_limits.yaml``; accelerations and jerks from libfranka
``include/franka/rate_limiting.h`` (kMaxJointAcceleration, kMaxJointJerk), which are
the values of Franka's published FR3 "Robot and interface specifications".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dp_core.time_units import NS_PER_S
from dp_sim import fr3

INTERFACE_PERIOD_S = 1e-3  # libfranka kDeltaT: the FCI runs at 1 kHz

DDQ_MAX = (15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0)  # rad/s^2, libfranka kMaxJointAcceleration
DDDQ_MAX = (7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0)  # rad/s^3, kMaxJointJerk

# franka_msgs/msg/Errors.msg field names
POSITION_LIMITS = "joint_motion_generator_position_limits_violation"
VELOCITY_LIMITS = "joint_motion_generator_velocity_limits_violation"
ACCELERATION = "joint_motion_generator_velocity_discontinuity"  # libfranka: acceleration limit violated
JERK = "joint_motion_generator_acceleration_discontinuity"  # libfranka: jerk limit violated
JOINT_POSITION_LIMITS = "joint_position_limits_violation"
JOINT_VELOCITY = "joint_velocity_violation"


def _seven(name: str, values: tuple[float, ...]) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.shape != (7,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} needs 7 finite values, got {values}")
    return a


@dataclass(frozen=True)
class ReflexLimits:
    """Per-joint limits the commands are judged against (SI units, FR3 joint order)."""

    q_min: tuple[float, ...] = tuple(fr3.Q_MIN)
    q_max: tuple[float, ...] = tuple(fr3.Q_MAX)
    dq_max: tuple[float, ...] = tuple(fr3.DQ_MAX)
    ddq_max: tuple[float, ...] = DDQ_MAX
    dddq_max: tuple[float, ...] = DDDQ_MAX

    def __post_init__(self) -> None:
        for name in ("dq_max", "ddq_max", "dddq_max"):
            if not np.all(_seven(name, getattr(self, name)) > 0):
                raise ValueError(f"{name} must be > 0 for every joint, got {getattr(self, name)}")
        if not np.all(_seven("q_min", self.q_min) < _seven("q_max", self.q_max)):
            raise ValueError(f"q_min {self.q_min} must be below q_max {self.q_max}")


FR3_LIMITS = ReflexLimits()


@dataclass(frozen=True)
class Reflex:
    """One triggered reflex: which check (Errors.msg field), joint (0-based), value and limit."""

    error: str
    joint: int
    value: float
    limit: float
    t_ns: int
    interface: str

    def describe(self) -> str:
        return (
            f"reflex {self.error} on fr3_joint{self.joint + 1} at t={self.t_ns / NS_PER_S:.3f} s "
            f"({self.interface} interface): |{self.value:.4g}| > {self.limit:.4g}; motion aborted, "
            "commands are refused until error recovery"
        )


def _first_violation(values: np.ndarray, lo: np.ndarray | None, hi: np.ndarray) -> tuple[int, float, float] | None:
    """(joint, value, limit) of the first joint outside [lo, hi] (|value| <= hi when lo is None)."""
    if lo is None:
        bad = np.flatnonzero(~(np.abs(values) <= hi))
        return None if bad.size == 0 else (int(bad[0]), float(values[bad[0]]), float(hi[bad[0]]))
    bad = np.flatnonzero(~((values >= lo) & (values <= hi)))
    if bad.size == 0:
        return None
    i = int(bad[0])
    return i, float(values[i]), float(lo[i] if values[i] < lo[i] else hi[i])


@dataclass
class ReflexMonitor:
    """Judges one command per interface cycle (``period_s``); latches the first reflex.

    Call :meth:`reset` with the arm's state whenever a motion starts from rest or from a state
    the monitor did not see (episode reset, error recovery). While :attr:`reflex` is set every
    check returns it again: the motion stays aborted until :meth:`recover`.
    """

    limits: ReflexLimits = field(default_factory=ReflexLimits)
    period_s: float = INTERFACE_PERIOD_S
    reflex: Reflex | None = None
    count: int = 0  # reflexes triggered so far (never reset)

    def __post_init__(self) -> None:
        if not self.period_s > 0:
            raise ValueError(f"period_s must be > 0, got {self.period_s}")
        L = self.limits
        self._q_lo, self._q_hi = np.asarray(L.q_min), np.asarray(L.q_max)
        self._dq, self._ddq, self._dddq = np.asarray(L.dq_max), np.asarray(L.ddq_max), np.asarray(L.dddq_max)
        self.reset(np.clip(np.zeros(7), self._q_lo, self._q_hi))

    def reset(self, q: np.ndarray, dq: np.ndarray | None = None) -> None:
        """Start judging from state (q, dq) with zero acceleration (dq = 0 when omitted)."""
        self._q = np.asarray(q, dtype=float).copy()
        self._v = np.zeros(7) if dq is None else np.asarray(dq, dtype=float).copy()
        self._a = np.zeros(7)

    def recover(self, q: np.ndarray) -> None:
        """Error recovery: clear the latched reflex; judge from rest at q."""
        self.reflex = None
        self.reset(q)

    def _trip(self, error: str, found: tuple[int, float, float], t_ns: int, interface: str) -> Reflex:
        self.reflex = Reflex(error, found[0], found[1], found[2], int(t_ns), interface)
        self.count += 1
        return self.reflex

    def check_position(self, t_ns: int, q_c: np.ndarray) -> Reflex | None:
        """Position interface: the commanded positions of this cycle (differentiated like libfranka)."""
        if self.reflex is not None:
            return self.reflex
        q_c = np.asarray(q_c, dtype=float)
        T = self.period_s
        v = (q_c - self._q) / T
        a = (v - self._v) / T
        j = (a - self._a) / T
        self._q, self._v, self._a = q_c.copy(), v, a
        for error, values, lo, hi in (
            (POSITION_LIMITS, q_c, self._q_lo, self._q_hi),
            (VELOCITY_LIMITS, v, None, self._dq),
            (ACCELERATION, a, None, self._ddq),
            (JERK, j, None, self._dddq),
        ):
            found = _first_violation(values, lo, hi)
            if found is not None:
                return self._trip(error, found, t_ns, "position")
        return None

    def check_effort(self, t_ns: int, q_d: np.ndarray, dq_d: np.ndarray) -> Reflex | None:
        """Effort interface: the trajectory controller's desired state of this cycle."""
        if self.reflex is not None:
            return self.reflex
        q_d, dq_d = np.asarray(q_d, dtype=float), np.asarray(dq_d, dtype=float)
        self._a = (dq_d - self._v) / self.period_s
        self._q, self._v = q_d.copy(), dq_d.copy()
        for error, values, lo, hi in (
            (JOINT_POSITION_LIMITS, q_d, self._q_lo, self._q_hi),
            (JOINT_VELOCITY, dq_d, None, self._dq),
        ):
            found = _first_violation(values, lo, hi)
            if found is not None:
                return self._trip(error, found, t_ns, "effort")
        return None
