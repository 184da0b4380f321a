"""The two ROS faces of sim_node: dp_sim's own topic names, and franka_ros2's (the FR3 twin).

The franka names are those a real FR3 bring-up offers (franka_ros2 jazzy): ``/joint_states``
(franka_bringup's joint_state_publisher, arm and finger joints), the robot state broadcaster's
``franka_robot_state_broadcaster/current_pose`` (O_T_EE: the end effector configured in Desk,
in ``fr3_link0``; best effort, depth 1 since franka_robot_state_broadcaster uses
``rclcpp::QoS(1).best_effort()`` for its convenience topics), the controllers' inputs from
``config/robots/fr3_ros2_controllers.yaml``, franka_gripper's ``/franka_gripper/joint_states``
(``fr3_finger_joint1/2``, each width / 2, SensorDataQoS) and realsense2_camera's
``/camera/<name>/color/image_raw``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation


@dataclass(frozen=True)
class InterfaceNames:
    joint_states: str
    ee_pose: str
    trajectory: str
    positions: str
    cartesian: str
    camera: str  # format with the camera name
    gripper_joint_states: str = ""  # "" = no Hand
    ee_pose_best_effort: bool = False
    camera_frame: str = "{}_camera"  # image frame_id, format with the camera name


DP_SIM = InterfaceNames(
    "/joint_states",
    "/ee_pose",
    "/joint_trajectory_controller/joint_trajectory",
    "/forward_position_controller/commands",
    "/cartesian_target",
    "/camera/{}/image_raw",
)
FRANKA = InterfaceNames(
    "/joint_states",
    "/franka_robot_state_broadcaster/current_pose",
    "/fr3_arm_controller/joint_trajectory",
    "/forward_position_controller/commands",
    "/cartesian_motion_controller/target_frame",
    "/camera/{}/color/image_raw",
    "/franka_gripper/joint_states",
    ee_pose_best_effort=True,
    camera_frame="{}_color_optical_frame",  # realsense2_camera's colour optical frame
)
INTERFACES = {"dp_sim": DP_SIM, "franka": FRANKA}
FINGER_JOINTS = ("fr3_finger_joint1", "fr3_finger_joint2")


@dataclass(frozen=True)
class EndEffector:
    """The flange → end-effector transform F_T_EE (Desk's end-effector setting) and the pusher.

    The Franka Hand's TCP is 0.1034 m along the flange z axis, turned -45 deg about it
    (franka_description ``end_effectors/franka_hand``: ``fr3_hand_tcp``). The pusher tip of the
    sim sits ``tip_length_m`` along the flange z axis, unrotated.
    """

    offset_m: float = 0.1034
    yaw_rad: float = -np.pi / 4
    tip_length_m: float = 0.30

    def __post_init__(self) -> None:
        if not (np.isfinite(self.offset_m) and np.isfinite(self.yaw_rad) and self.tip_length_m > 0):
            raise ValueError(f"end effector offset/yaw must be finite and tip_length_m > 0, got {self}")

    def _ee_in_tip(self) -> tuple[np.ndarray, Rotation]:
        return np.array([0.0, 0.0, self.offset_m - self.tip_length_m]), Rotation.from_euler("z", self.yaw_rad)

    def ee_from_tip(self, tip_pos: np.ndarray, tip_rot: Rotation) -> tuple[np.ndarray, Rotation]:
        """O_T_EE from the pusher tip's pose in the base frame."""
        t, r = self._ee_in_tip()
        return np.asarray(tip_pos, float) + tip_rot.apply(t), tip_rot * r

    def tip_from_ee(self, ee_pos: np.ndarray, ee_rot: Rotation) -> tuple[np.ndarray, Rotation]:
        """The pusher tip pose that puts the end effector at (ee_pos, ee_rot)."""
        t, r = self._ee_in_tip()
        tip_rot = ee_rot * r.inv()
        return np.asarray(ee_pos, float) - tip_rot.apply(t), tip_rot
