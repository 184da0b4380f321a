"""The chunk executor node's parameters: name, default, description (declared by ``declare_all``).

A table apart from the node so the node stays an adapter; ``executor_config.build_config`` turns
the values into the dp_core configuration.
"""

from __future__ import annotations

from rclpy.parameter import Parameter

from dp_ros_common.params import Param

_F, _S = Parameter.Type.DOUBLE_ARRAY, Parameter.Type.STRING_ARRAY
PARAMS = [
    Param("action_names", [], "action dimensions in policy order (joint names rad, x y z m, qx..qw, gripper m)", _S),
    Param("control_rate_hz", 250.0, "command rate in Hz (default 250)"),
    Param(
        "output_mode", "position", "trajectory (JointTrajectory), position (Float64MultiArray) or pose (PoseStamped)"
    ),
    Param("command_topic", "", "command topic; empty = the controller's default for the mode"),
    Param("gripper_topic", "", "gripper dimensions as Float64MultiArray here (empty: part of the command)"),
    Param("gripper_names", [], "action names that are grippers (empty: names containing 'gripper'/'finger')", _S),
    Param("frame_id", "", "frame of Cartesian targets and of the measured pose (pose mode)"),
    Param(
        "pose_defaults",
        [],
        "pose mode: [x, y, z] m + [qx, qy, qz, qw] for pose components not in the actions "
        "(e.g. z and orientation of planar x, y actions); empty: the actions are the full pose",
        _F,
    ),
    Param("joint_states_topic", "/joint_states", "measured joint positions (joint modes)"),
    Param(
        "measured_pose_topic",
        "franka_robot_state_broadcaster/current_pose",
        "measured end-effector pose, PoseStamped, best-effort (pose mode)",
    ),
    Param("trajectory_period_s", 0.02, "spacing of JointTrajectory points, s"),
    Param("interpolation", "linear", "linear or cubic between action steps"),
    Param("blend_s", 0.1, "a new chunk takes over from the current command over this many seconds"),
    Param("ensemble", False, "temporal ensembling of overlapping chunks"),
    Param("ensemble_decay", 0.01, "ensembling weight exp(-decay * rank)"),
    Param("max_future_s", 0.5, "reject chunks stamped more than this in the future (s)"),
    Param("max_past_s", 1.0, "reject chunks whose observation is older than this (s)"),
    Param("max_chunk_actions", 2048, "reject chunks with a longer horizon (bounds validation work)"),
    Param("limit_mode", "clip", "clip (limit each command) or reject (refuse violating chunks)"),
    Param("joint_limits.names", [], "joints the limits below apply to (empty: all joint actions)", _S),
    Param("joint_limits.position_min", [], "rad per joint (empty: unbounded)", _F),
    Param("joint_limits.position_max", [], "rad per joint (empty: unbounded)", _F),
    Param("joint_limits.velocity_max", [], "rad/s per joint (required in joint modes)", _F),
    Param("joint_limits.acceleration_max", [], "rad/s^2 per joint (required in joint modes)", _F),
    Param("cartesian_limits.box_min", [], "workspace box min [x, y, z] m (required in pose mode)", _F),
    Param("cartesian_limits.box_max", [], "workspace box max [x, y, z] m", _F),
    Param("cartesian_limits.max_linear_speed", 0.25, "m/s"),
    Param("cartesian_limits.max_angular_speed", 1.0, "rad/s"),
    Param("cartesian_limits.max_linear_acceleration", 2.0, "m/s^2"),
    Param("cartesian_limits.max_angular_acceleration", 10.0, "rad/s^2"),
    Param("max_step_from_measured", 0.0, "max distance of a chunk's first command from the measured state (0: off)"),
    Param("max_state_age_s", 0.1, "stop when the newest robot state is older than this (stamp or receipt), s"),
    Param("max_state_future_s", 0.01, "a robot state stamped further ahead than this is invalid, s"),
    Param("policy_status_timeout_s", 1.5, "stop when dp/policy_status is silent this long, s"),
    Param(
        "require_policy_status", True, "never heard a policy status: not active (false: graphs without a policy node)"
    ),
    Param("status_rate_hz", 10.0, "ExecutorStatus rate in Hz"),
    Param(
        "shadow",
        False,
        "shadow mode: compute everything, publish the commands on dp/shadow/* instead of the controller, "
        "report plan vs measured per chunk on dp/shadow/report (read-only: never switched at run time)",
        read_only=True,
    ),
]
