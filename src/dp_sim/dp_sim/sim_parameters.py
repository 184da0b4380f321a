"""sim_node's parameters: ``Param`` rows (name, default, description with units), declared in one place.

Defaults mirror ``config/sim.yaml``; every profile's ``sim_node`` block lists them all.
"""

from __future__ import annotations

from dp_ros_common.params import Param

PARAMS = (
    Param(
        "interface",
        "dp_sim",
        "dp_sim (own names, forgiving goal filter) | franka (the FR3 twin: franka_ros2's names, strict)",
    ),
    Param("physics_timestep_s", 0.002, "physics step = one command-interface cycle, s (the FR3's is 0.001)"),
    Param("ee_offset_m", 0.1034, "franka: flange -> end effector along z (Desk setting; Hand TCP 0.1034), m"),
    Param("ee_yaw_rad", -0.785398, "franka: end effector rotation about the flange z axis (Hand: -pi/4), rad"),
    Param(
        "gripper_state_rate_hz",
        50.0,
        "franka: /franka_gripper/joint_states rate (franka_gripper state_publish_rate), Hz",
    ),
    Param("real_time_factor", 1.0, "sim seconds per wall second; 0 = as fast as possible"),
    Param("lockstep", False, "no physics thread: the composing process calls tick() (dp_sim.lockstep)"),
    Param("control_period_s", 0.01, "sim time advanced per loop iteration and /clock period, s"),
    Param("seed", 0, "seed of the first episode"),
    Param("base_frame", "fr3_link0", "frame of /ee_pose and of accepted /cartesian_target"),
    Param("joint_state_rate_hz", 100.0, "/joint_states rate in sim time, Hz (0 = off); stamps fall on control ticks"),
    Param("ee_pose_rate_hz", 100.0, "/ee_pose rate in sim time, Hz (0 = off)"),
    Param("task_status_rate_hz", 30.0, "/task_status rate in sim time, Hz (0 = off)"),
    Param("image_rate_hz", 10.0, "camera image rate in sim time, Hz"),
    Param("publish_images", False, "render and publish cameras (needs headless GL)"),
    Param("cameras", ["top", "wrist"], "scene cameras to publish (top, wrist)"),
    Param("camera_names", [""], "published name per camera ([''] = the scene names): /camera/<name>/..."),
    Param(
        "camera_topics",
        [""],
        "image topic per camera ([''] = from the name: /camera/<name>/image_raw, franka: .../color/image_raw)",
    ),
    Param("image_width", 96, "image width, px"),
    Param("image_height", 96, "image height, px"),
    Param("tip_height_m", 0.015, "pusher tip height above the table, m"),
    Param("success_coverage", 0.90, "coverage of the target that counts as success, 0..1"),
    Param("max_future_start_s", 5.0, "reject trajectories starting later than this after now, s"),
)
