"""A kinematic Franka Hand: the finger width moves at the commanded speed; no ROS.

Semantics follow franka_gripper (franka_ros2 ``franka_gripper/src/gripper_action_server.cpp``
and libfranka's ``franka::Gripper``): ``move(width, speed)`` drives to a width and succeeds when
it gets there; ``grasp(width, speed, force, epsilon)`` closes until the fingers stop (at an
object, or fully closed) and succeeds when the stop width d satisfies
``width - epsilon.inner < d < width + epsilon.outer``; ``homing()`` opens fully and closes
again (ending open). Widths outside [0, max_width] are refused, as libfranka refuses them. The sim has no
graspable object, so ``object_width_m`` (None = nothing between the fingers) says where a grasp
stops. Finger joint states are width / 2 each (``fr3_finger_joint1/2``).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_WIDTH_M = 0.08  # Franka Hand stroke (libfranka GripperState::max_width after homing)
MAX_SPEED_MPS = 0.1  # franka_gripper default_speed / the Hand's top speed


@dataclass
class HandTask:
    """The action being executed: target width and how it ends."""

    kind: str  # "move" | "grasp" | "homing"
    target_m: float
    speed_mps: float
    inner_m: float = 0.0
    outer_m: float = 0.0
    phase: int = 0  # homing: 0 = closing, 1 = opening
    closing: bool = True  # grasp: the direction, fixed when the grasp starts
    done: bool = False
    success: bool = False
    error: str = ""


class SimulatedHand:
    """Finger width state plus at most one running task (a new one aborts the old one)."""

    def __init__(self, width_m: float = MAX_WIDTH_M, object_width_m: float | None = None) -> None:
        if not 0.0 <= width_m <= MAX_WIDTH_M:
            raise ValueError(f"width must be in [0, {MAX_WIDTH_M}] m, got {width_m}")
        self.width_m = float(width_m)
        self.object_width_m = object_width_m
        self.task: HandTask | None = None

    def _start(self, task: HandTask) -> HandTask:
        if self.task is not None and not self.task.done:
            self.task.done, self.task.success, self.task.error = True, False, "preempted by a new command"
        self.task = task
        return task

    @staticmethod
    def _check(width_m: float, speed_mps: float) -> None:
        if not (0.0 <= width_m <= MAX_WIDTH_M):
            raise ValueError(f"width {width_m} m is outside [0, {MAX_WIDTH_M}] m")
        if not (0.0 < speed_mps <= MAX_SPEED_MPS):
            raise ValueError(f"speed {speed_mps} m/s is outside (0, {MAX_SPEED_MPS}] m/s")

    def move(self, width_m: float, speed_mps: float) -> HandTask:
        self._check(width_m, speed_mps)
        return self._start(HandTask("move", float(width_m), float(speed_mps)))

    def grasp(self, width_m: float, speed_mps: float, force_n: float, inner_m: float, outer_m: float) -> HandTask:
        self._check(width_m, speed_mps)
        if not force_n > 0 or inner_m < 0 or outer_m < 0:
            raise ValueError(f"grasp needs force > 0 and epsilons >= 0, got {force_n}, {inner_m}, {outer_m}")
        closing = float(width_m) < self.width_m
        return self._start(
            HandTask("grasp", float(width_m), float(speed_mps), float(inner_m), float(outer_m), closing=closing)
        )

    def homing(self) -> HandTask:
        """Close fully, then open to the full stroke (how homing measures the fingers)."""
        return self._start(HandTask("homing", 0.0, MAX_SPEED_MPS))

    def stop(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.done, self.task.success, self.task.error = True, False, "stopped"

    def step(self, dt_s: float) -> None:
        """Advance the running task by dt_s."""
        task = self.task
        if task is None or task.done:
            return
        if task.kind == "grasp":
            # closing (or opening) until the fingers touch the object or reach the end
            goal = 0.0 if task.closing else MAX_WIDTH_M
            if (
                self.object_width_m is not None
                and (goal - self.object_width_m) * (self.width_m - self.object_width_m) <= 0
            ):
                goal = self.object_width_m
            stop_at = goal
        else:
            stop_at = task.target_m
        step = task.speed_mps * dt_s
        delta = stop_at - self.width_m
        self.width_m = stop_at if abs(delta) <= step else self.width_m + step * (1 if delta > 0 else -1)
        if self.width_m != stop_at:
            return
        if task.kind == "homing" and task.phase == 0:  # closed: open again to the full stroke
            task.phase, task.target_m = 1, MAX_WIDTH_M
            return
        task.done = True
        if task.kind == "grasp":
            task.success = task.target_m - task.inner_m < self.width_m < task.target_m + task.outer_m
            if not task.success:
                task.error = f"grasp stopped at {self.width_m:.4f} m, outside {task.target_m:.4f} m (-{task.inner_m}, +{task.outer_m})"
        else:
            task.success = True

    @property
    def finger_positions(self) -> tuple[float, float]:
        return self.width_m / 2, self.width_m / 2
