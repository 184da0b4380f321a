"""Policy rollout on a Franka FR3 with RealSense cameras.

    ros2 launch dp_policy_node franka.launch.py robot_ip:=172.16.0.2 \
        controller:=joint_trajectory autostart:=false

Starts franka_bringup (ros2_control, joint states, our controllers file), the chosen controller,
one realsense2_camera node per ``camera:`` block of the robot profile, observation, policy
(lifecycle) and chunk executor, and optionally the MoveIt ready-pose service. The node graph
comes from ``robot_graph.py`` (next to this file), which reads ``dp_policy_node.graph`` like the
composed ``dp_bringup`` does.

When the profile's chunk executor sends gripper dimensions (``gripper_topic``), also
``gripper_bridge_node`` (listening on that topic, driving franka_gripper's actions).

Refused before anything starts: ``controller:=joint_position`` on the real arm unless the profile
generates commands at the FR3's 1 kHz (``robot_graph.check_streaming_rate``); ``controller:=cartesian``
(end effector fr3_hand_tcp) and a gripper_topic without ``load_gripper:=true``; gripper actions
without a gripper_topic, or the reverse (``dp_policy_node.gripper_wiring``). With
``ready_pose:=true`` the MoveIt parameters are built from franka's xacros and configs as
franka_fr3_moveit_config's moveit.launch.py builds them and written to the params file of
ready_pose_node's MoveItPy node (``robot_graph.write_moveit_params``).
"""

import importlib.util
import sys
import tempfile
from pathlib import Path

# The node graph and the shared launch helpers: robot_graph.py, installed next to this file, loaded by
# path (registered in sys.modules first: its dataclasses look their module up there).
_SPEC = importlib.util.spec_from_file_location(
    "dp_launch_robot_graph", Path(__file__).resolve().with_name("robot_graph.py")
)
g = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(g)


ARGUMENTS = [
    ("robot_ip", "172.16.0.2", "Hostname or IP address of the robot (Franka control unit)."),
    ("arm_id", "fr3", "Arm type given to franka_bringup (robot_type; arm_id for older franka_ros2)."),
    (
        "use_fake_hardware",
        "false",
        "true: ros2_control mock hardware instead of the robot (no motion of a real "
        "arm; franka starts no franka_robot_state_broadcaster then: no current_pose).",
    ),
    (
        "load_gripper",
        "false",
        "true: also start the Franka Hand (franka_gripper; the URDF gets fr3_hand_tcp). "
        "Needed by controller:=cartesian (end effector fr3_hand_tcp) and by a profile whose executor sets "
        "gripper_topic (gripper_bridge_node drives franka_gripper).",
    ),
    (
        "controller",
        "joint_trajectory",
        "Controller the executor feeds: joint_trajectory (fr3_arm_controller, JointTrajectory), "
        "joint_position (forward_position_controller, streaming Float64MultiArray; on the real arm only with "
        "chunk_executor_node.control_rate_hz >= 1000) or "
        "cartesian (cartesian_motion_controller, PoseStamped; needs x y z qx qy qz qw actions).",
    ),
    (
        "robot_profile",
        "",
        "Robot profile (ROS parameter file, one block per node); "
        "empty = share/dp_policy_node/config/robots/fr3_realsense.yaml.",
    ),
    (
        "controllers_yaml",
        "",
        "ros2_control controllers file; empty = share/dp_policy_node/config/robots/fr3_ros2_controllers.yaml.",
    ),
    ("joint_state_rate", "100", "Rate of /joint_states from franka_bringup's joint_state_publisher, Hz."),
    ("cameras", "true", "true: start one realsense2_camera node per camera block of the profile."),
    (
        "checkpoint",
        "",
        "Policy checkpoint (dp-train run or step directory); empty = the profile's policy_node.checkpoint_path.",
    ),
    (
        "autostart",
        "false",
        "true: configure and activate the policy node at launch; false: leave it "
        "unconfigured for an operator (ros2 lifecycle set /policy_node configure, then activate).",
    ),
    (
        "ready_pose",
        "false",
        "true: start ready_pose_node (MoveIt via moveit_py, ~/move_to_ready) with the "
        "MoveIt config franka_fr3_moveit_config's moveit.launch.py builds, and load fr3_arm_controller "
        "inactive when another controller is chosen.",
    ),
]


def _graph_actions(context, arg):
    profile = arg["robot_profile"] or g.share_file(context, g.ROBOT_PROFILE)
    controllers_yaml = arg["controllers_yaml"] or g.share_file(context, g.FR3_CONTROLLERS)
    controller = arg["controller"]
    if controller not in g.CONTROLLERS:
        raise ValueError(f"controller:={controller} is not one of {sorted(g.CONTROLLERS)}")
    ready_pose = g.truthy(arg["ready_pose"])
    fake = g.truthy(arg["use_fake_hardware"])
    load_gripper = g.truthy(arg["load_gripper"])
    blocks = g.load_profile(profile)
    g.check_streaming_rate(controller, fake, blocks)
    g.check_cartesian_end_effector(controller, load_gripper, controllers_yaml)
    bridge = g.gripper_bridge_processes(profile, blocks, load_gripper=load_gripper)

    franka = g.franka_bringup_entities(
        arg["robot_ip"], arg["arm_id"], fake, load_gripper, arg["joint_state_rate"], controllers_yaml
    )
    processes = list(g.controller_spawners(controller, ready_pose))
    if g.truthy(arg["cameras"]):
        processes += g.camera_processes(profile, blocks)
    processes += g.rollout_processes(profile, controller, checkpoint=arg["checkpoint"]) + bridge
    if ready_pose:
        moveit_file = g.write_moveit_params(
            arg["robot_ip"], arg["arm_id"], fake, load_gripper, blocks, tempfile.mkdtemp(prefix="dp_ros2_moveit_")
        )
        processes.append(g.ready_pose_process(profile, controller, moveit_params_file=str(moveit_file)))
    return [*franka, *g.launch_entities(processes, autostart=g.truthy(arg["autostart"]))]


def generate_launch_description():
    return g.launch_description(ARGUMENTS, _graph_actions)
