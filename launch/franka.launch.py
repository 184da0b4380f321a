"""Policy rollout on a Franka FR3 with RealSense cameras.

    ros2 launch dp_policy_node franka.launch.py robot_ip:=172.16.0.2 controller:=joint_trajectory
    ros2 launch dp_policy_node franka.launch.py robot_ip:=172.16.0.2 shadow:=true rviz:=true

Starts franka_bringup (ros2_control, joint states, our controllers file), the chosen controller,
one realsense2_camera node per ``camera:`` block of the robot profile, observation → policy
(lifecycle) → chunk executor, and with ``rviz:=true`` plan_preview_node, the ghost arm and RViz.
With ``shadow:=true`` the executor computes everything but publishes on dp/shadow/* (no
controller hears it) and reports per chunk on dp/shadow/report. Every node of ours reads its
block of the robot profile. When the profile's executor sets ``gripper_topic``, also
gripper_bridge_node; with ``ready_pose:=true`` ready_pose_node (MoveIt).

Refused before anything starts (dp_policy_node.launch_controllers and launch_graph):
``controller:=joint_position`` on the real arm below 1 kHz, ``controller:=cartesian`` or a
gripper_topic without ``load_gripper:=true``, gripper actions without a gripper_topic or the
reverse, camera blocks of the wrong model.
"""

import tempfile

from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription, LogInfo, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import Command, EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from dp_policy_node import launch_actions as actions
from dp_policy_node import launch_controllers as controllers
from dp_policy_node import launch_graph as graph
from dp_policy_node import launch_profiles as profiles
from dp_ros_common.launch_substitutions import AliasFreeParamsFile
from launch import LaunchDescription


def _is(argument, value):
    """The launch argument equals ``value`` (launch's EqualsSubstitution; LaunchConfigurationEquals is deprecated)."""
    return IfCondition(EqualsSubstitution(LaunchConfiguration(argument), value))


def _profile_nodes(context):
    """The checks, then what depends on the profile's contents: cameras, gripper bridge, ready pose."""
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENT_NAMES}
    profile, controllers_yaml, controller = arg["robot_profile"], arg["controllers_yaml"], arg["controller"]
    if controller not in controllers.CONTROLLERS:
        raise ValueError(f"controller:={controller} is not one of {sorted(controllers.CONTROLLERS)}")
    fake, load_gripper = actions.truthy(arg["use_fake_hardware"]), actions.truthy(arg["load_gripper"])
    blocks = profiles.load_profile(profile)
    controllers.check_streaming_rate(controller, fake, blocks)
    controllers.check_cartesian_end_effector(controller, load_gripper, controllers_yaml)
    processes = graph.gripper_bridge_processes(profile, blocks, load_gripper=load_gripper)
    cameras = graph.camera_processes(profile, blocks)  # checks every camera block
    if actions.truthy(arg["cameras"]):
        processes += cameras
    if actions.truthy(arg["ready_pose"]):
        moveit_dir = tempfile.mkdtemp(prefix="dp_ros2_moveit_")
        moveit_file = actions.write_moveit_params(
            arg["robot_ip"], arg["arm_id"], fake, load_gripper, blocks, moveit_dir
        )
        processes.append(graph.ready_pose_process(profile, controller, moveit_params_file=str(moveit_file)))
        processes += graph.controller_spawners(controller, ready_pose=True)[1:]  # fr3_arm_controller, inactive
    notes = [LogInfo(msg=actions.FAKE_HARDWARE_NOTE)] if fake else []
    return notes + [actions.launch_node(p) for p in processes]


def _policy_node(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name in ("robot_profile", "checkpoint", "autostart")}
    return actions.policy_node_actions(arg["robot_profile"], False, arg["checkpoint"], actions.truthy(arg["autostart"]))


ARGUMENTS = [
    DeclareLaunchArgument("robot_ip", default_value="172.16.0.2", description="Robot (Franka control unit) address."),
    DeclareLaunchArgument("arm_id", default_value="fr3", description="Arm type given to franka_bringup (robot_type)."),
    DeclareLaunchArgument(
        "use_fake_hardware",
        default_value="false",
        description="true: ros2_control mock hardware (no real arm; franka then starts no "
        "franka_robot_state_broadcaster: no current_pose).",
    ),
    DeclareLaunchArgument(
        "load_gripper",
        default_value="false",
        description="true: the Franka Hand (franka_gripper; fr3_hand_tcp in the URDF). Needed by "
        "controller:=cartesian and by a profile whose executor sets gripper_topic.",
    ),
    DeclareLaunchArgument(
        "controller",
        default_value="joint_trajectory",
        description="joint_trajectory (fr3_arm_controller), joint_position (forward_position_controller; on the "
        "real arm only with chunk_executor_node.control_rate_hz >= 1000) or cartesian (cartesian_motion_controller).",
    ),
    DeclareLaunchArgument(
        "robot_profile",
        default_value=PathJoinSubstitution([FindPackageShare("dp_policy_node"), "config/robots/fr3_realsense.yaml"]),
        description="Robot profile: a ROS parameter file with one block per node.",
    ),
    DeclareLaunchArgument(
        "controllers_yaml",
        default_value=PathJoinSubstitution(
            [FindPackageShare("dp_policy_node"), "config/robots/fr3_ros2_controllers.yaml"]
        ),
        description="ros2_control controllers file given to franka_bringup.",
    ),
    DeclareLaunchArgument("joint_state_rate", default_value="100", description="/joint_states rate of franka, Hz."),
    DeclareLaunchArgument("cameras", default_value="true", description="true: one realsense2_camera per block."),
    DeclareLaunchArgument(
        "checkpoint", default_value="", description="Policy checkpoint; empty = the profile's checkpoint_path."
    ),
    DeclareLaunchArgument(
        "autostart",
        default_value="false",
        description="true: configure and activate the policy at launch; false: leave it to an operator.",
    ),
    DeclareLaunchArgument(
        "ready_pose", default_value="false", description="true: ready_pose_node (MoveIt, ~/move_to_ready)."
    ),
    DeclareLaunchArgument(
        "shadow",
        default_value="false",
        description="true: the executor publishes on dp/shadow/* instead of the controller; report on "
        "dp/shadow/report (the arm stays where the controller or a teleoperator holds it).",
    ),
    DeclareLaunchArgument(
        "rviz", default_value="false", description="true: plan_preview_node, the ghost arm and RViz (dp_preview.rviz)."
    ),
]
ARGUMENT_NAMES = [a.name for a in ARGUMENTS]


def generate_launch_description():
    profile = AliasFreeParamsFile(LaunchConfiguration("robot_profile"))  # rcl refuses the YAML aliases
    shadow = LaunchConfiguration("shadow")
    rviz = IfCondition(LaunchConfiguration("rviz"))
    ghost_description = ParameterValue(
        Command(
            [
                "xacro ",
                PathJoinSubstitution([FindPackageShare("franka_description"), "robots/fr3/fr3.urdf.xacro"]),
                " hand:=",
                LaunchConfiguration("load_gripper"),
            ]
        ),
        value_type=str,
    )
    nodes = [
        OpaqueFunction(function=_profile_nodes),  # first: a refusal stops the launch before anything starts
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                PathJoinSubstitution([FindPackageShare("franka_bringup"), "launch/franka.launch.py"])
            ),
            launch_arguments={
                "robot_ip": LaunchConfiguration("robot_ip"),
                "robot_type": LaunchConfiguration("arm_id"),
                "arm_id": LaunchConfiguration("arm_id"),
                "use_fake_hardware": LaunchConfiguration("use_fake_hardware"),
                "fake_sensor_commands": LaunchConfiguration("use_fake_hardware"),
                "load_gripper": LaunchConfiguration("load_gripper"),
                "joint_state_rate": LaunchConfiguration("joint_state_rate"),
                "controllers_yaml": LaunchConfiguration("controllers_yaml"),
            }.items(),
        ),
        Node(
            package="controller_manager",
            executable="spawner",
            name="spawner_fr3_arm_controller",
            arguments=["fr3_arm_controller", "--controller-manager", "/controller_manager"],
            condition=_is("controller", "joint_trajectory"),
        ),
        Node(
            package="controller_manager",
            executable="spawner",
            name="spawner_forward_position_controller",
            arguments=["forward_position_controller", "--controller-manager", "/controller_manager"],
            condition=_is("controller", "joint_position"),
        ),
        Node(
            package="controller_manager",
            executable="spawner",
            name="spawner_cartesian_motion_controller",
            arguments=["cartesian_motion_controller", "--controller-manager", "/controller_manager"],
            condition=_is("controller", "cartesian"),
        ),
        Node(
            package="dp_policy_node",
            executable="observation_node",
            name="observation_node",
            parameters=[profile, {"use_sim_time": False}],
            output="screen",
        ),
        OpaqueFunction(function=_policy_node),  # lifecycle: autostart:=true configures and activates it
        # the executor, per controller: its output mode, and its default topic remapped to the controller's input
        Node(
            package="dp_policy_node",
            executable="chunk_executor_node",
            name="chunk_executor_node",
            parameters=[
                profile,
                {"use_sim_time": False, "output_mode": "trajectory", "command_topic": "", "shadow": shadow},
            ],
            remappings=[("/joint_trajectory_controller/joint_trajectory", "/fr3_arm_controller/joint_trajectory")],
            condition=_is("controller", "joint_trajectory"),
            output="screen",
        ),
        Node(
            package="dp_policy_node",
            executable="chunk_executor_node",
            name="chunk_executor_node",
            parameters=[
                profile,
                {"use_sim_time": False, "output_mode": "position", "command_topic": "", "shadow": shadow},
            ],
            condition=_is("controller", "joint_position"),
            output="screen",
        ),
        Node(
            package="dp_policy_node",
            executable="chunk_executor_node",
            name="chunk_executor_node",
            parameters=[profile, {"use_sim_time": False, "output_mode": "pose", "command_topic": "", "shadow": shadow}],
            remappings=[("/cartesian_target", "/cartesian_motion_controller/target_frame")],
            condition=_is("controller", "cartesian"),
            output="screen",
        ),
        # rviz:=true: the plan preview, the ghost arm at the end of the latest chunk, RViz
        Node(
            package="dp_policy_node",
            executable="plan_preview_node",
            name="plan_preview_node",
            parameters=[profile, {"use_sim_time": False}],
            condition=rviz,
            output="screen",
        ),
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            name="robot_state_publisher",
            namespace="preview",
            parameters=[{"robot_description": ghost_description, "frame_prefix": "preview/", "use_sim_time": False}],
            remappings=[("joint_states", "/dp/preview/joint_states")],
            condition=rviz,
        ),
        Node(
            package="tf2_ros",
            executable="static_transform_publisher",
            name="preview_root",
            parameters=[{"use_sim_time": False}],
            arguments=["--frame-id", "fr3_link0", "--child-frame-id", "preview/fr3_link0"],
            condition=rviz,
        ),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            parameters=[{"use_sim_time": False}],
            arguments=["-d", PathJoinSubstitution([FindPackageShare("dp_policy_node"), "config/rviz/dp_preview.rviz"])],
            condition=rviz,
        ),
    ]
    return LaunchDescription(ARGUMENTS + nodes)
