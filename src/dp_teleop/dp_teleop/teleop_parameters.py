"""teleop_node's parameters: ``Param`` rows (name, default, description with units), in one place.

Every profile's ``teleop`` block lists them all (test_bringup_config_params checks).
"""

from __future__ import annotations

from dp_ros_common.params import Param

PARAMS = (
    Param("rate_hz", 50.0, "output rate of ~/twist and cartesian_target, Hz"),
    Param("frame_id", "fr3_link0", "frame of the outputs; current_pose must be in it"),
    Param("input_timeout_s", 0.5, "an input older than this counts as released, s"),
    Param("task", "", "task name sent with start_episode"),
    Param("max_linear_mps", 0.2, "linear speed limit, m/s"),
    Param("max_angular_rps", 0.8, "angular speed limit, rad/s"),
    Param("workspace_min", [0.25, -0.45, 0.02], "target box lower corner (x, y, z) in frame_id, m"),
    Param("workspace_max", [0.75, 0.45, 0.65], "target box upper corner (x, y, z) in frame_id, m"),
    Param("initial_position", [0.0], "start target (x, y, z), m; [0.0] = from current_pose"),
    Param("initial_orientation_xyzw", [0.0, 0.0, 0.0, 1.0], "start target orientation with initial_position"),
    Param("joy_axes", [1, 0, 4, -1, -1, 3], "Joy axis per twist component vx vy vz wx wy wz (-1 = none)"),
    Param("joy_scales", [1.0] * 6, "scale (and sign) per twist component"),
    Param("joy_deadzone", 0.1, "axis deadzone, 0..1"),
    Param("deadman_button", 4, "Joy button that must be held to move"),
    Param("start_button", 0, "Joy button: start an episode"),
    Param("keep_success_button", 1, "Joy button: stop and keep the episode as a success"),
    Param("keep_failure_button", 3, "Joy button: stop and keep the episode as a failure"),
    Param("discard_button", 2, "Joy button: discard the episode"),
    Param("use_keyboard", False, "read keys from the terminal"),
    Param("recorder", "/recorder", "recorder node whose episode services the buttons call"),
    Param("max_target_distance_m", 0.02, "refuse a target further than this from current_pose, m"),
    Param("max_target_angle_rad", 0.2, "refuse a target rotated further than this from current_pose, rad"),
    Param("max_pose_age_s", 0.5, "current_pose must be this fresh when the deadman engages, s"),
    Param("servo_twist_topic", "", "also publish the twist here (e.g. /servo_node/delta_twist_cmds); '' = off"),
)
