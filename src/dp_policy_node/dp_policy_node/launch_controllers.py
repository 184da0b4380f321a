"""The ``controller:=`` choices of the launch files, and the combinations they refuse on the FR3.

Pure Python (no ``launch`` import): the launch graph (``launch_graph``) reads the table for the
executor's output mode, remapping and spawners; the launch files call the checks before anything
starts, because a wrong combination trips libfranka's reflexes or controls a frame the URDF lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSITION_INTERFACE_RATE_HZ = 1000.0  # the FR3's joint position interface (libfranka, 1 kHz)
FR3_CONTROLLERS = "config/robots/fr3_ros2_controllers.yaml"  # ros2_control controllers for franka_bringup
# The Franka Hand's TCP frame: franka_description end_effectors/common/franka_hand.xacro names it
# ${arm_id}_hand_tcp (0.1034 m along the flange, the hand turned -45 deg: robots/fr3/fr3.urdf.xacro);
# robots/common/franka_robot.xacro adds it only with hand:=true (franka_bringup: load_gripper).
HAND_TCP_LINK = "fr3_hand_tcp"


@dataclass(frozen=True)
class Controller:
    """One ``controller:=`` choice: the ros2_control controller and how the executor feeds it.

    ``executor_topic`` is the executor's default topic for ``output_mode`` (dp_sim listens there);
    on the robot (and in Gazebo) it is remapped to ``robot_topic``, the controller's input.
    """

    key: str
    ros2_control_name: str
    output_mode: str
    executor_topic: str
    robot_topic: str
    message_type: str
    description: str


CONTROLLERS: dict[str, Controller] = {
    c.key: c
    for c in (
        Controller(
            "joint_trajectory",
            "fr3_arm_controller",
            "trajectory",
            "/joint_trajectory_controller/joint_trajectory",
            "/fr3_arm_controller/joint_trajectory",
            "trajectory_msgs/msg/JointTrajectory",
            "joint_trajectory_controller/JointTrajectoryController (effort + PD gains, as franka's MoveIt "
            "config); the executor sends the retimed rest of each chunk",
        ),
        Controller(
            "joint_position",
            "forward_position_controller",
            "position",
            "/forward_position_controller/commands",
            "/forward_position_controller/commands",
            "std_msgs/msg/Float64MultiArray",
            "position_controllers/JointGroupPositionController; the executor streams positions at control_rate_hz",
        ),
        Controller(
            "cartesian",
            "cartesian_motion_controller",
            "pose",
            "/cartesian_target",
            "/cartesian_motion_controller/target_frame",
            "geometry_msgs/msg/PoseStamped",
            "cartesian_motion_controller/CartesianMotionController (FZI cartesian_controllers); "
            "needs actions x y z qx qy qz qw",
        ),
    )
}


def check_streaming_rate(controller: str, use_fake_hardware: bool, profile: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse streaming joint positions to the real FR3 unless they are generated at its 1 kHz.

    The FR3's position interface runs at 1 kHz without a rate limiter by default; positions
    streamed at 250 Hz step every 4 ms and trip libfranka's discontinuity reflexes. Trajectory
    mode (fr3_arm_controller interpolates at 1 kHz) is the FR3 default.
    """
    if CONTROLLERS[controller].output_mode != "position" or use_fake_hardware:
        return
    rate = float(profile.get("/chunk_executor_node", {}).get("control_rate_hz", 0.0))
    if rate < POSITION_INTERFACE_RATE_HZ:
        raise ValueError(
            f"controller:={controller} streams positions into the FR3's {POSITION_INTERFACE_RATE_HZ:.0f} Hz "
            f"interface, but chunk_executor_node.control_rate_hz is {rate:g}: each step would trip libfranka's "
            f"discontinuity reflex. Use controller:=joint_trajectory (the FR3 default) or set control_rate_hz "
            f">= {POSITION_INTERFACE_RATE_HZ:.0f} in the profile (use_fake_hardware:=true skips this check)."
        )


def check_cartesian_end_effector(controller: str, load_gripper: bool, controllers_yaml: str | Path) -> None:
    """Refuse a Cartesian controller whose end effector is the Hand's TCP when the URDF has no Hand.

    franka's ``current_pose`` is O_T_EE, the end effector set in Desk (with the Hand: its TCP), so
    the Cartesian controller must control :data:`HAND_TCP_LINK`; that link exists only with
    load_gripper:=true. An arm without the Hand needs a controllers file with ``fr3_link8`` (and
    Desk's end effector set to none).
    """
    if CONTROLLERS[controller].output_mode != "pose" or load_gripper:
        return
    import yaml

    with open(controllers_yaml, encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    name = CONTROLLERS[controller].ros2_control_name
    params = (document.get("/**", document).get(name) or {}).get("ros__parameters") or {}
    link = str(params.get("end_effector_link", ""))
    if link.endswith("_hand_tcp"):
        raise ValueError(
            f"{name}.end_effector_link is {link} (the Franka Hand's TCP, as O_T_EE of current_pose with the Hand), "
            "but load_gripper:=false builds the URDF without the Hand. Pass load_gripper:=true, or, for an arm "
            "without the Hand, a controllers_yaml:= whose end_effector_link is fr3_link8."
        )
