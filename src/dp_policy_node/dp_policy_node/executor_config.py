"""Configuration of the chunk executor node (ROS-free).

``ExecutorNodeConfig`` wraps dp_core's ``ChunkExecutorConfig`` (plan, limits, watchdog, output
mode) and adds what only the node needs: topics, the gripper topic, the frame and the pose
components that are not actions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
from dp_core.control.executor import ChunkExecutorConfig
from dp_core.control.layout import POSITION_NAMES, QUATERNION_NAMES
from dp_core.control.limits import CartesianLimits, JointLimits
from dp_core.control.plan_preview import pose_vectors
from dp_core.control.watchdog import WatchdogConfig

OUTPUT_MODES = ("trajectory", "position", "pose")
POSE_NAMES = POSITION_NAMES + QUATERNION_NAMES  # PoseStamped components, in pose_defaults order
DEFAULT_TOPICS = {
    "trajectory": "/joint_trajectory_controller/joint_trajectory",
    "position": "/forward_position_controller/commands",
    "pose": "/cartesian_target",
}
# Shadow mode: the same messages, relative topics (a namespace moves them), never a controller's input.
SHADOW_TOPICS = {
    "trajectory": "dp/shadow/joint_trajectory",
    "position": "dp/shadow/commands",
    "pose": "dp/shadow/target_pose",
}
SHADOW_GRIPPER_TOPIC = "dp/shadow/gripper"
SHADOW_REPORT_TOPIC = "dp/shadow/report"


@dataclass(frozen=True)
class ExecutorNodeConfig:
    """The executor node: the dp_core executor settings + outputs (times in s)."""

    core: ChunkExecutorConfig
    command_topic: str = ""
    gripper_topic: str = ""
    frame_id: str = ""
    pose_defaults: tuple[float, ...] = ()  # [x, y, z, qx, qy, qz, qw]: pose components not in the actions
    joint_states_topic: str = "/joint_states"
    measured_pose_topic: str = "franka_robot_state_broadcaster/current_pose"
    shadow: bool = False  # publish on SHADOW_TOPICS instead of the controller's topics

    def __post_init__(self) -> None:
        layout = self.plan.layout
        object.__setattr__(self, "pose_defaults", tuple(float(x) for x in self.pose_defaults))
        if self.pose_defaults:
            d = np.asarray(self.pose_defaults)
            if d.shape != (7,) or not np.all(np.isfinite(d)):
                raise ValueError(f"pose_defaults must be 7 finite values [x, y, z, qx, qy, qz, qw], got {list(d)}")
            if layout.quaternion == () and not abs(float(np.linalg.norm(d[3:])) - 1.0) < 1e-3:
                raise ValueError(f"pose_defaults orientation must be a unit quaternion, got {d[3:].tolist()}")
        if self.output_mode == "pose":
            if not layout.position:
                raise ValueError("output_mode 'pose' needs action names x, y (z) [qx, qy, qz, qw]")
            missing = [n for n in POSE_NAMES if n not in layout.names]
            if missing and not self.pose_defaults:
                raise ValueError(
                    f"output_mode 'pose': the actions lack {missing}; set pose_defaults "
                    "[x, y, z, qx, qy, qz, qw] for them"
                )
        if self.output_mode != "pose" and not layout.joints:
            raise ValueError(f"output_mode '{self.output_mode}' needs joint action names, got {list(layout.names)}")
        if layout.grippers and not self.gripper_topic and self.output_mode == "pose":
            raise ValueError("the actions have a gripper dimension: set gripper_topic")

    @property
    def plan(self) -> ChunkScheduleConfig:
        return self.core.plan

    @property
    def output_mode(self) -> str:
        return self.core.output_mode

    @property
    def topic(self) -> str:
        if self.shadow:
            return SHADOW_TOPICS[self.output_mode]
        return self.command_topic or DEFAULT_TOPICS[self.output_mode]

    @property
    def gripper_output_topic(self) -> str:
        """Where gripper dimensions go ("" : part of the command)."""
        return SHADOW_GRIPPER_TOPIC if self.shadow and self.gripper_topic else self.gripper_topic

    @property
    def command_indices(self) -> list[int]:
        """Action indices sent on the command topic (joints, plus grippers without their own topic)."""
        lay = self.plan.layout
        if self.output_mode == "pose":
            return list(lay.position + lay.quaternion)  # x, y[, z][, qx, qy, qz, qw]
        return list(lay.joints) + ([] if self.gripper_topic else list(lay.grippers))

    def pose_vector(self, command: np.ndarray) -> np.ndarray:
        """Pose mode: the command (full action vector) → [x, y, z, qx, qy, qz, qw], the components
        that are not actions taken from ``pose_defaults``."""
        return pose_vectors(np.asarray(command)[None, :], self.plan.layout, self.pose_defaults)[0]

    @property
    def gripper_indices(self) -> list[int]:
        return list(self.plan.layout.grippers) if self.gripper_topic else []


def build_config(v: Mapping[str, Any]) -> ExecutorNodeConfig:
    """Parameter values (see executor_params.PARAMS) → config; ValueError names the bad value."""
    names = tuple(v["action_names"])
    if not names:
        raise ValueError("action_names must list the policy's action dimensions")
    if v["output_mode"] not in OUTPUT_MODES:
        raise ValueError(f"output_mode must be one of {OUTPUT_MODES}, got '{v['output_mode']}'")
    joint_limits = None
    if v["joint_limits.velocity_max"]:
        limit_names = tuple(v["joint_limits.names"]) or tuple(n for n in names if n not in POSE_NAMES)
        acc = v["joint_limits.acceleration_max"]
        joint_limits = JointLimits(
            limit_names,
            _floats(v["joint_limits.position_min"], -np.inf),
            _floats(v["joint_limits.position_max"], np.inf),
            np.asarray(v["joint_limits.velocity_max"], dtype=float),
            **({"acceleration_max": np.asarray(acc, dtype=float)} if acc else {}),
        )
    cartesian = None
    if v["cartesian_limits.box_min"]:
        cartesian = CartesianLimits(
            v["cartesian_limits.box_min"],
            v["cartesian_limits.box_max"],
            v["cartesian_limits.max_linear_speed"],
            v["cartesian_limits.max_angular_speed"],
            v["cartesian_limits.max_linear_acceleration"],
            v["cartesian_limits.max_angular_acceleration"],
        )
    plan = ChunkScheduleConfig(
        action_names=names,
        control_rate_hz=v["control_rate_hz"],
        interpolation=v["interpolation"],
        blend_s=v["blend_s"],
        ensemble=v["ensemble"],
        ensemble_decay=v["ensemble_decay"],
        max_future_s=v["max_future_s"],
        max_past_s=v["max_past_s"],
        limit_mode=v["limit_mode"],
        joint_limits=joint_limits,
        cartesian_limits=cartesian,
        max_step_from_measured=v["max_step_from_measured"] or None,
        gripper_names=tuple(v["gripper_names"]) or None,
        max_chunk_actions=int(v["max_chunk_actions"]),
    )
    watchdog = WatchdogConfig(
        v["max_state_age_s"], v["max_state_future_s"], v["policy_status_timeout_s"], v["require_policy_status"]
    )
    core = ChunkExecutorConfig(plan, watchdog, v["output_mode"], v["trajectory_period_s"])
    return ExecutorNodeConfig(
        core=core,
        command_topic=v["command_topic"],
        gripper_topic=v["gripper_topic"],
        frame_id=v["frame_id"],
        pose_defaults=tuple(v.get("pose_defaults", ())),
        joint_states_topic=v["joint_states_topic"],
        measured_pose_topic=v["measured_pose_topic"],
        shadow=bool(v.get("shadow", False)),
    )


def _floats(values: Sequence[float], default: float) -> np.ndarray:
    """The values, or ``default`` (a scalar JointLimits broadcasts) when none are set."""
    return np.asarray(list(values) if values else default, dtype=float)
