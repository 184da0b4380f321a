"""The teleop command loop: operator inputs + measured pose → applied twist and Cartesian target.

Why a pure object: every decision of teleop (which inputs are fresh and engaged, when the
target restarts at the measured pose, when a target far from the robot is refused until the
deadman is released and pressed again) is unit-testable here without ROS; ``teleop_node`` only
converts messages and publishes what :meth:`TeleopLoop.tick` returns. Times are seconds on the
node's clock (sim time under ``use_sim_time``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from dp_teleop.keyboard import KeyboardMapper
from dp_teleop.mapping import ZERO_TWIST, EpisodeEvent, PoseIntegrator, TargetGuard, TeleopLimits


@dataclass(frozen=True)
class TeleopLoopConfig:
    """``input_timeout_s``: an input older than this counts as released; ``max_pose_age_s``: the
    measured pose must be this fresh when the deadman engages, else the target is refused."""

    input_timeout_s: float = 0.5
    max_pose_age_s: float = 0.5

    def __post_init__(self) -> None:
        if not self.input_timeout_s > 0 or not self.max_pose_age_s > 0:
            raise ValueError(
                f"input_timeout_s and max_pose_age_s must be > 0, got {self.input_timeout_s}, {self.max_pose_age_s}"
            )


@dataclass(frozen=True)
class TeleopOutput:
    """One tick: ``twist`` applied to the target (zero when blocked), ``target`` (position,
    quaternion xyzw) to send or None (withheld), ``refusal`` decided on this tick (log it once)."""

    twist: np.ndarray
    target: tuple[np.ndarray, np.ndarray] | None
    refusal: str | None


class TeleopLoop:
    """Inputs arrive from callbacks (and the keyboard thread); ``tick`` runs at the node's rate."""

    def __init__(
        self,
        config: TeleopLoopConfig,
        limits: TeleopLimits,
        guard: TargetGuard,
        keyboard: KeyboardMapper | None = None,
    ) -> None:
        self.config = config
        self.guard = guard
        self.keyboard = keyboard
        self.integrator = PoseIntegrator(limits)
        self._lock = threading.Lock()
        self._inputs: dict[str, tuple[float, np.ndarray, bool]] = {}  # source -> (time, twist, deadman)
        self._measured: tuple[np.ndarray, np.ndarray] | None = None
        self._measured_at = -np.inf
        self._engaged = False
        self._check_pending = False
        self._last_tick: float | None = None
        self.refused: str | None = None  # why the target is withheld until the deadman is pressed again

    def set_input(self, source: str, now: float, twist: np.ndarray, deadman: bool) -> None:
        """The latest twist of one device (``joy``, ``spacenav``) and whether its deadman is held."""
        with self._lock:
            self._inputs[source] = (now, twist, deadman)

    def key_pressed(self, key: str, now: float) -> EpisodeEvent | None:
        """A keyboard key (ignored without a keyboard); returns the episode event it means, if any."""
        if self.keyboard is None:
            return None
        with self._lock:
            return self.keyboard.press(key, now)

    def set_measured(self, position: np.ndarray, quaternion_xyzw: np.ndarray, now: float) -> None:
        """The robot's measured end-effector pose (``current_pose``)."""
        self._measured = (position, quaternion_xyzw)
        self._measured_at = now

    def current_twist(self, now: float) -> tuple[np.ndarray, bool]:
        """Sum of fresh, enabled inputs (limited later by the integrator) and whether any is engaged."""
        twist, engaged = ZERO_TWIST.copy(), False
        with self._lock:
            for stamp, value, deadman in self._inputs.values():
                if deadman and now - stamp <= self.config.input_timeout_s:
                    twist, engaged = twist + value, True
            if self.keyboard is not None:
                key_twist = self.keyboard.twist(now)
                if key_twist.any():
                    twist, engaged = twist + key_twist, True
        return twist, engaged

    def _check_target(self, now: float) -> str | None:
        """Why the integrated target must not be sent now (None: it may)."""
        if self._measured is None or now - self._measured_at > self.config.max_pose_age_s:
            return f"no current_pose within {self.config.max_pose_age_s} s"
        position, rotation = self.integrator.position, self.integrator.rotation
        return self.guard.refusal(position, rotation, *self._measured)  # type: ignore[arg-type]

    def tick(self, now: float) -> TeleopOutput:
        """Advance the target by the engaged twist since the last tick."""
        dt = 0.0 if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        twist, engaged = self.current_twist(now)
        if engaged and not self._engaged:
            self.refused, self._check_pending = None, True
            if self._measured is not None:
                self.integrator.reset(*self._measured)  # start from where the robot is
        elif not self.integrator.ready and self._measured is not None:
            self.integrator.reset(*self._measured)
        self._engaged = engaged
        refusal = None
        if engaged and self._check_pending and self.integrator.ready:  # once per press of the deadman
            self._check_pending = False
            self.refused = refusal = self._check_target(now)
        blocked = self.refused is not None
        ready = self.integrator.ready and not blocked
        applied = self.integrator.step(twist, dt) if ready else ZERO_TWIST.copy()
        target = (self.integrator.position, self.integrator.quaternion_xyzw) if ready else None
        return TeleopOutput(twist=applied, target=target, refusal=refusal)  # type: ignore[arg-type]
