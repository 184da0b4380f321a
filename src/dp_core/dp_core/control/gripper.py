"""Gripper width commands → franka_gripper goals, with hysteresis so the Hand does not chatter.

Why: the policy's gripper dimension is a width (m) every control tick, but the Franka Hand is
driven by goals (franka_gripper's ``~/move`` and ``~/grasp`` actions): a move to a width stops
at an object with an error, so closing on an object must be a grasp (width, force, epsilon);
and a new goal every tick would restart the fingers each time. The decision here: close
(grasp) once the command falls below ``close_below_m``, open (move to ``open_width_m``) once it
rises above ``open_above_m`` (> close_below_m: the band between is the hysteresis), and send
nothing while the state does not change. Pure: the ROS node only turns goals into actions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class GripperState(Enum):
    UNKNOWN = "unknown"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class GripperGoal:
    """One franka_gripper goal: ``move`` (width, speed) or ``grasp`` (width, speed, force, epsilon)."""

    action: str  # "move" | "grasp"
    width_m: float
    speed_mps: float
    force_n: float = 0.0
    epsilon_inner_m: float = 0.0
    epsilon_outer_m: float = 0.0


@dataclass(frozen=True)
class GripperConfig:
    """Thresholds (m of commanded width) and the goals' parameters (franka_gripper units)."""

    close_below_m: float = 0.03
    open_above_m: float = 0.05
    open_width_m: float = 0.08  # Franka Hand stroke
    grasp_width_m: float = 0.0  # grasp target; epsilons make any stop width inside the band a success
    speed_mps: float = 0.1  # franka_gripper default_speed
    force_n: float = 20.0
    epsilon_inner_m: float = 0.08
    epsilon_outer_m: float = 0.08

    def __post_init__(self) -> None:
        values = (
            self.close_below_m,
            self.open_above_m,
            self.open_width_m,
            self.grasp_width_m,
            self.speed_mps,
            self.force_n,
            self.epsilon_inner_m,
            self.epsilon_outer_m,
        )
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"gripper config values must be finite, got {values}")
        if not 0.0 <= self.close_below_m < self.open_above_m <= self.open_width_m <= 0.08:
            raise ValueError(
                "need 0 <= close_below_m < open_above_m <= open_width_m <= 0.08 m (the band is the hysteresis), "
                f"got {self.close_below_m}, {self.open_above_m}, {self.open_width_m}"
            )
        if not 0.0 <= self.grasp_width_m <= 0.08 or not 0.0 < self.speed_mps <= 0.1 or not self.force_n > 0:
            raise ValueError(f"grasp_width_m in [0, 0.08], speed_mps in (0, 0.1], force_n > 0 required, got {self}")
        if self.epsilon_inner_m < 0 or self.epsilon_outer_m < 0:
            raise ValueError(f"grasp epsilons must be >= 0, got {self.epsilon_inner_m}, {self.epsilon_outer_m}")


class GripperHysteresis:
    """Feed commanded widths; returns a goal only when the open/closed decision changes."""

    def __init__(self, config: GripperConfig | None = None) -> None:
        self.config = config or GripperConfig()
        self.state = GripperState.UNKNOWN

    def update(self, width_m: float) -> GripperGoal | None:
        """A goal to send now, or None (keep what the Hand is doing). Raises ValueError on NaN."""
        if not math.isfinite(width_m):
            raise ValueError(f"gripper width command must be finite, got {width_m}")
        c = self.config
        if width_m < c.close_below_m and self.state is not GripperState.CLOSED:
            self.state = GripperState.CLOSED
            return GripperGoal("grasp", c.grasp_width_m, c.speed_mps, c.force_n, c.epsilon_inner_m, c.epsilon_outer_m)
        if width_m > c.open_above_m and self.state is not GripperState.OPEN:
            self.state = GripperState.OPEN
            return GripperGoal("move", c.open_width_m, c.speed_mps)
        return None
