"""Demonstration recording: the robot (or dp_sim) + cameras + teleop (or the scripted expert) + recorder.

    ros2 launch dp_policy_node record.launch.py mode:=robot robot_ip:=172.16.0.2
    ros2 launch dp_policy_node record.launch.py mode:=sim expert:=true

Episodes are started/stopped from the gamepad (teleop buttons) or with the recorder's services
(/recorder/start_episode, /recorder/stop_episode, /recorder/discard_episode). On the robot the
operator drives the Cartesian controller (cartesian_motion_controller) through teleop's target.
``teleop_device:=`` starts the input driver teleop reads: joy's ``joy_node`` (gamepad, /joy) or
spacenav's ``spacenav_node`` (SpaceMouse, /spacenav/twist; needs the spacenavd daemon).
Teleop starts from franka's ``/franka_robot_state_broadcaster/current_pose`` (best effort; O_T_EE of
the Hand's TCP, the Cartesian controller's ``fr3_hand_tcp``). ``servo_twist_topic:=`` sends its twist
to MoveIt Servo instead of the Cartesian controller.
"""

import dataclasses

from launch.actions import (
    DeclareLaunchArgument,
    GroupAction,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    SetLaunchConfiguration,
)
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from dp_policy_node import launch_actions as actions
from dp_policy_node import launch_controllers as controllers
from dp_policy_node import launch_graph as graph
from dp_policy_node import launch_profiles as profiles
from dp_policy_node import launch_record as record
from dp_ros_common.params_file import resolve as resolve_params_file
from launch import LaunchDescription


def _is(argument, value):
    """The launch argument equals ``value`` (launch's EqualsSubstitution; LaunchConfigurationEquals is deprecated)."""
    return IfCondition(EqualsSubstitution(LaunchConfiguration(argument), value))


def _profile_nodes(context):
    """The checks; the profile (the mode's default when robot_profile is empty); what depends on the
    profile or on optional values: cameras, the recorder (output_dir:= only when given)."""
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENT_NAMES}
    mode, profile = arg["mode"], arg["robot_profile"]
    if mode not in ("robot", "sim"):
        raise ValueError(f"mode:={mode} is not robot or sim")
    sim, expert = mode == "sim", actions.truthy(arg["expert"])
    share = FindPackageShare("dp_policy_node").perform(context)
    profile = profile or f"{share}/{profiles.SIM_PROFILE if sim else profiles.ROBOT_PROFILE}"
    record.teleop_device_processes(arg["teleop_device"])  # validates the argument in every mode
    # validates expert/servo combinations; the recorder, with output_dir:= when given
    *_, recorder = record.record_processes(profile, "mujoco" if sim else "", expert, sim, arg["servo_twist_topic"])
    if arg["output_dir"]:
        recorder = dataclasses.replace(recorder, overrides={**recorder.overrides, "output_dir": arg["output_dir"]})
    processes = [recorder]
    # the nodes below read LaunchConfiguration("profile"): the alias-free copy (rcl refuses YAML aliases)
    notes = [SetLaunchConfiguration("profile", resolve_params_file(profile))]
    if not sim:
        if not arg["servo_twist_topic"]:  # MoveIt Servo drives its own controller
            controllers.check_cartesian_end_effector(
                "cartesian", actions.truthy(arg["load_gripper"]), arg["controllers_yaml"]
            )
        if actions.truthy(arg["cameras"]):
            processes += graph.camera_processes(profile, profiles.load_profile(profile))
        if actions.truthy(arg["use_fake_hardware"]):
            notes.append(LogInfo(msg=actions.FAKE_HARDWARE_NOTE))
    return notes + [actions.launch_node(p) for p in processes]


ARGUMENTS = [
    DeclareLaunchArgument("mode", default_value="sim", description="robot (franka_bringup + cameras) or sim (dp_sim)."),
    DeclareLaunchArgument(
        "expert", default_value="false", description="sim only: true = dp_sim's scripted expert drives, not teleop."
    ),
    DeclareLaunchArgument(
        "robot_profile",
        default_value="",
        description="Robot profile; empty = config/robots/fr3_realsense.yaml (robot) or sim.yaml (sim).",
    ),
    DeclareLaunchArgument("robot_ip", default_value="172.16.0.2", description="robot only: the robot's address."),
    DeclareLaunchArgument("arm_id", default_value="fr3", description="robot only: arm type given to franka_bringup."),
    DeclareLaunchArgument(
        "use_fake_hardware",
        default_value="false",
        description="robot only: true = mock hardware; franka then publishes no current_pose, teleop sends nothing.",
    ),
    DeclareLaunchArgument(
        "load_gripper",
        default_value="true",
        description="robot only: true = the Franka Hand (fr3_hand_tcp, the Cartesian controller's end effector); "
        "false only with a controllers_yaml whose end_effector_link is fr3_link8.",
    ),
    DeclareLaunchArgument(
        "controllers_yaml",
        default_value=PathJoinSubstitution(
            [FindPackageShare("dp_policy_node"), "config/robots/fr3_ros2_controllers.yaml"]
        ),
        description="robot only: the ros2_control controllers file.",
    ),
    DeclareLaunchArgument(
        "joint_state_rate", default_value="100", description="robot only: /joint_states rate of franka, Hz."
    ),
    DeclareLaunchArgument(
        "cameras", default_value="true", description="robot only: true = one realsense2_camera per camera block."
    ),
    DeclareLaunchArgument(
        "output_dir", default_value="", description="Episode directory (recorder output_dir); empty = the profile's."
    ),
    DeclareLaunchArgument(
        "servo_twist_topic",
        default_value="",
        description="Also publish teleop's TwistStamped here for MoveIt Servo (e.g. /servo_node/delta_twist_cmds); "
        "mode:=robot then spawns no cartesian_motion_controller. Empty = off.",
    ),
    DeclareLaunchArgument(
        "teleop_device",
        default_value="gamepad",
        description="Input driver for teleop: gamepad (joy_node, /joy), spacemouse (spacenav_node) or none.",
    ),
]
ARGUMENT_NAMES = [a.name for a in ARGUMENTS]


def generate_launch_description():
    robot = _is("mode", "robot")
    sim = _is("mode", "sim")
    expert = LaunchConfiguration("expert")
    profile = LaunchConfiguration("profile")  # set by _profile_nodes
    servo = LaunchConfiguration("servo_twist_topic")
    teleop_params = [profile, {"servo_twist_topic": servo}]
    nodes = [
        OpaqueFunction(function=_profile_nodes),  # first: a refusal stops the launch before anything starts
        Node(
            package="dp_sim",
            executable="sim_node",
            name="sim_node",
            parameters=[profile, {"use_sim_time": True}],
            condition=sim,
            output="screen",
        ),
        GroupAction(
            condition=robot,
            actions=[
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
                    name="spawner_cartesian_motion_controller",
                    arguments=["cartesian_motion_controller", "--controller-manager", "/controller_manager"],
                    condition=_is("servo_twist_topic", ""),  # Servo drives its own
                ),
                Node(
                    package="dp_teleop",
                    executable="teleop_node",
                    name="teleop",
                    parameters=teleop_params,
                    remappings=[
                        ("current_pose", "/franka_robot_state_broadcaster/current_pose"),
                        ("cartesian_target", "/cartesian_motion_controller/target_frame"),
                    ],
                    output="screen",
                ),
            ],
        ),
        GroupAction(
            condition=sim,
            actions=[
                Node(
                    package="dp_teleop",
                    executable="teleop_node",
                    name="teleop",
                    parameters=[*teleop_params, {"use_sim_time": True}],
                    remappings=[("current_pose", "/ee_pose"), ("cartesian_target", "/cartesian_target")],
                    condition=UnlessCondition(expert),
                    output="screen",
                ),
                Node(
                    package="dp_sim",
                    executable="expert_node",
                    name="expert_node",
                    parameters=[profile, {"use_sim_time": True}],
                    condition=IfCondition(expert),
                    output="screen",
                ),
            ],
        ),
        # teleop's input driver (joystick_drivers): joy_node publishes /joy, spacenav_node /spacenav/twist
        GroupAction(
            condition=UnlessCondition(expert),
            actions=[
                Node(
                    package="joy",
                    executable="joy_node",
                    name="joy_node",
                    parameters=[{"device_id": 0, "autorepeat_rate": 20.0}],
                    condition=_is("teleop_device", "gamepad"),
                ),
                Node(
                    package="spacenav",
                    executable="spacenav_node",
                    name="spacenav",
                    parameters=[{"zero_when_static": True, "static_count_threshold": 30}],
                    condition=_is("teleop_device", "spacemouse"),
                ),
            ],
        ),
    ]
    return LaunchDescription(ARGUMENTS + nodes)
