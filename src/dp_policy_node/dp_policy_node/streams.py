"""Declaring the observation node's stream parameters (the config itself is ``observation_config``, ROS-free).

Parameters per camera live under ``cameras.<name>.*`` (dotted ROS parameters, nested maps in
YAML), so the list of cameras is data, not code.
"""

from __future__ import annotations

from rclpy.node import Node
from rclpy.parameter import Parameter

from dp_policy_node.observation_config import CameraStream, ObservationStreams
from dp_ros_common.params import Param, declare, declare_all


def declare_streams(node: Node) -> ObservationStreams:
    """Declare the stream parameters on ``node`` and build the config (ValueError if invalid)."""
    camera_names = declare(
        node, Param("camera_names", [], "observation keys of the cameras, in order", Parameter.Type.STRING_ARRAY)
    )
    cameras = []
    for name in camera_names:
        v = declare_all(
            node,
            [
                Param(f"cameras.{name}.topic", "", "image topic (sensor_msgs/Image, or CompressedImage)"),
                Param(f"cameras.{name}.transport", "raw", "raw (Image: rgb8/bgr8/mono8/16UC1) or compressed"),
                Param(
                    f"cameras.{name}.height", 0, "policy input height in px (resize/crop target); 0: the checkpoint's"
                ),
                Param(f"cameras.{name}.width", 0, "policy input width in px; 0: the checkpoint's"),
            ],
        )
        p = f"cameras.{name}."
        cameras.append(CameraStream(name, v[p + "topic"], v[p + "transport"], v[p + "height"], v[p + "width"]))
    v = declare_all(
        node,
        [
            Param("joint_state.key", "joint_pos", "observation key of the selected joint positions"),
            Param("joint_state.topic", "/joint_states", "sensor_msgs/JointState topic"),
            Param("joint_state.joint_names", [], "joints to select, in order (rad)", Parameter.Type.STRING_ARRAY),
            Param("ee_pose.key", "", "observation key of the end-effector pose (empty: none)"),
            Param("ee_pose.topic", "", "geometry_msgs/PoseStamped topic (empty: none); 7-D [xyz m, quat xyzw]"),
        ],
    )
    return ObservationStreams(
        cameras=tuple(cameras),
        joint_key=v["joint_state.key"],
        joint_topic=v["joint_state.topic"],
        joint_names=tuple(v["joint_state.joint_names"]),
        pose_key=v["ee_pose.key"],
        pose_topic=v["ee_pose.topic"],
    )
