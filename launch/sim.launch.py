"""Policy rollout in simulation: the graph of franka.launch.py with a simulator instead of the robot.

    ros2 launch dp_policy_node sim.launch.py checkpoint:=runs/pusht/step_1000 autostart:=true
    ros2 launch dp_policy_node sim.launch.py checkpoint:=... shadow:=true rviz:=true
    ros2 launch dp_policy_node sim.launch.py simulator:=gazebo controller:=joint_trajectory

simulator:=mujoco (default): dp_sim's sim_node (/clock, /joint_states, cameras, the controllers'
command topics on the executor's default topics, ~/reset and ~/move_to_ready). simulator:=gazebo:
Gazebo (ros_gz_sim) with the FR3 from franka_description under gz_ros2_control and the controllers
of fr3_ros2_controllers.yaml; the executor's topics are remapped to the controllers' inputs. Every
node runs on sim time. ``shadow:=true`` and ``rviz:=true`` as in franka.launch.py.
"""

from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import Command, EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, SetRemap
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
    """The checks, then what depends on the profile's contents (the gripper bridge, mujoco only)."""
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENT_NAMES}
    simulator, controller, profile = arg["simulator"], arg["controller"], arg["robot_profile"]
    if simulator not in graph.SIMULATORS:
        raise ValueError(f"simulator:={simulator} is not one of {graph.SIMULATORS}")
    if controller not in controllers.CONTROLLERS:
        raise ValueError(f"controller:={controller} is not one of {sorted(controllers.CONTROLLERS)}")
    if simulator == "gazebo":  # the Gazebo URDF has no Hand
        controllers.check_cartesian_end_effector(controller, False, arg["controllers_yaml"])
        return []
    # dp_sim's FR3 twin serves franka_gripper's actions
    return [
        actions.launch_node(p)
        for p in graph.gripper_bridge_processes(profile, profiles.load_profile(profile), use_sim_time=True)
    ]


def _policy_node(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name in ("robot_profile", "checkpoint", "autostart")}
    return actions.policy_node_actions(arg["robot_profile"], True, arg["checkpoint"], actions.truthy(arg["autostart"]))


ARGUMENTS = [
    DeclareLaunchArgument(
        "simulator", default_value="mujoco", description="mujoco (dp_sim, tested in CI) or gazebo (ros_gz_sim)."
    ),
    DeclareLaunchArgument(
        "controller",
        default_value="joint_trajectory",
        description="joint_trajectory, joint_position or cartesian (see franka.launch.py); "
        "mujoco's sim_node accepts all three.",
    ),
    DeclareLaunchArgument(
        "robot_profile",
        default_value=PathJoinSubstitution([FindPackageShare("dp_policy_node"), "config/robots/sim.yaml"]),
        description="Robot profile: a ROS parameter file with one block per node.",
    ),
    DeclareLaunchArgument(
        "controllers_yaml",
        default_value=PathJoinSubstitution(
            [FindPackageShare("dp_policy_node"), "config/robots/fr3_ros2_controllers.yaml"]
        ),
        description="Gazebo only: the ros2_control controllers file.",
    ),
    DeclareLaunchArgument(
        "checkpoint", default_value="", description="Policy checkpoint; empty = the profile's checkpoint_path."
    ),
    DeclareLaunchArgument(
        "autostart", default_value="false", description="true: configure and activate the policy at launch."
    ),
    DeclareLaunchArgument("gz_world", default_value="empty.sdf", description="Gazebo only: world file (gz_args)."),
    DeclareLaunchArgument(
        "shadow", default_value="false", description="true: the executor publishes on dp/shadow/* (see franka)."
    ),
    DeclareLaunchArgument(
        "rviz", default_value="false", description="true: plan_preview_node, the ghost arm and RViz (dp_preview.rviz)."
    ),
]
ARGUMENT_NAMES = [a.name for a in ARGUMENTS]


def generate_launch_description():
    profile = AliasFreeParamsFile(LaunchConfiguration("robot_profile"))  # rcl refuses the YAML aliases
    shadow = LaunchConfiguration("shadow")
    controllers_yaml = LaunchConfiguration("controllers_yaml")
    rviz = IfCondition(LaunchConfiguration("rviz"))
    urdf = PathJoinSubstitution([FindPackageShare("franka_description"), "robots/fr3/fr3.urdf.xacro"])
    gazebo_description = ParameterValue(
        Command(["xacro ", urdf, " ros2_control:=true gazebo:=true hand:=false robot_type:=fr3"]), value_type=str
    )
    arm_description = ParameterValue(Command(["xacro ", urdf, " hand:=false robot_type:=fr3"]), value_type=str)
    nodes = [
        OpaqueFunction(function=_profile_nodes),  # first: a refusal stops the launch before anything starts
        Node(
            package="dp_sim",
            executable="sim_node",
            name="sim_node",
            parameters=[profile, {"use_sim_time": True}],
            condition=_is("simulator", "mujoco"),
            output="screen",
        ),
        # simulator:=gazebo: Gazebo, the FR3 (franka_description xacro with gz_ros2_control), /clock, the
        # joint state broadcaster and the chosen controller (ours from --param-file, not franka_gazebo's)
        GroupAction(
            condition=_is("simulator", "gazebo"),
            actions=[
                IncludeLaunchDescription(
                    PythonLaunchDescriptionSource(
                        PathJoinSubstitution([FindPackageShare("ros_gz_sim"), "launch/gz_sim.launch.py"])
                    ),
                    launch_arguments={
                        "gz_args": [LaunchConfiguration("gz_world"), " -r"],
                        "on_exit_shutdown": "true",
                    }.items(),
                ),
                Node(
                    package="robot_state_publisher",
                    executable="robot_state_publisher",
                    parameters=[{"robot_description": gazebo_description, "use_sim_time": True}],
                    output="screen",
                ),
                Node(
                    package="ros_gz_sim",
                    executable="create",
                    arguments=["-topic", "/robot_description", "-name", "fr3"],
                    output="screen",
                ),
                Node(
                    package="ros_gz_bridge",
                    executable="parameter_bridge",
                    arguments=["/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock"],
                    output="screen",
                ),
                Node(
                    package="controller_manager",
                    executable="spawner",
                    arguments=[
                        "joint_state_broadcaster",
                        "--controller-manager",
                        "/controller_manager",
                        "--param-file",
                        controllers_yaml,
                    ],
                ),
                Node(
                    package="controller_manager",
                    executable="spawner",
                    name="spawner_fr3_arm_controller",
                    arguments=[
                        "fr3_arm_controller",
                        "--controller-manager",
                        "/controller_manager",
                        "--param-file",
                        controllers_yaml,
                    ],
                    condition=_is("controller", "joint_trajectory"),
                ),
                Node(
                    package="controller_manager",
                    executable="spawner",
                    name="spawner_forward_position_controller",
                    arguments=[
                        "forward_position_controller",
                        "--controller-manager",
                        "/controller_manager",
                        "--param-file",
                        controllers_yaml,
                    ],
                    condition=_is("controller", "joint_position"),
                ),
                Node(
                    package="controller_manager",
                    executable="spawner",
                    name="spawner_cartesian_motion_controller",
                    arguments=[
                        "cartesian_motion_controller",
                        "--controller-manager",
                        "/controller_manager",
                        "--param-file",
                        controllers_yaml,
                    ],
                    condition=_is("controller", "cartesian"),
                ),
                # the executor's default topics → the controllers' inputs (for every node after this)
                SetRemap(
                    src="/joint_trajectory_controller/joint_trajectory", dst="/fr3_arm_controller/joint_trajectory"
                ),
                SetRemap(src="/cartesian_target", dst="/cartesian_motion_controller/target_frame"),
            ],
            scoped=False,
        ),
        Node(
            package="dp_policy_node",
            executable="observation_node",
            name="observation_node",
            parameters=[profile, {"use_sim_time": True}],
            output="screen",
        ),
        OpaqueFunction(function=_policy_node),  # lifecycle: autostart:=true configures and activates it
        Node(
            package="dp_policy_node",
            executable="chunk_executor_node",
            name="chunk_executor_node",
            parameters=[
                profile,
                {"use_sim_time": True, "output_mode": "trajectory", "command_topic": "", "shadow": shadow},
            ],
            condition=_is("controller", "joint_trajectory"),
            output="screen",
        ),
        Node(
            package="dp_policy_node",
            executable="chunk_executor_node",
            name="chunk_executor_node",
            parameters=[
                profile,
                {"use_sim_time": True, "output_mode": "position", "command_topic": "", "shadow": shadow},
            ],
            condition=_is("controller", "joint_position"),
            output="screen",
        ),
        Node(
            package="dp_policy_node",
            executable="chunk_executor_node",
            name="chunk_executor_node",
            parameters=[profile, {"use_sim_time": True, "output_mode": "pose", "command_topic": "", "shadow": shadow}],
            condition=_is("controller", "cartesian"),
            output="screen",
        ),
        # rviz:=true: the plan preview, the ghost arm at the end of the latest chunk, RViz; with mujoco also
        # the arm itself (Gazebo has its robot_state_publisher above)
        Node(
            package="dp_policy_node",
            executable="plan_preview_node",
            name="plan_preview_node",
            parameters=[profile, {"use_sim_time": True}],
            condition=rviz,
            output="screen",
        ),
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            name="robot_state_publisher",
            namespace="preview",
            parameters=[{"robot_description": arm_description, "frame_prefix": "preview/", "use_sim_time": True}],
            remappings=[("joint_states", "/dp/preview/joint_states")],
            condition=rviz,
        ),
        GroupAction(
            condition=_is("simulator", "mujoco"),
            actions=[
                Node(
                    package="robot_state_publisher",
                    executable="robot_state_publisher",
                    name="robot_state_publisher",
                    parameters=[{"robot_description": arm_description, "use_sim_time": True}],
                    condition=rviz,
                )
            ],
        ),
        Node(
            package="tf2_ros",
            executable="static_transform_publisher",
            name="preview_root",
            parameters=[{"use_sim_time": True}],
            arguments=["--frame-id", "fr3_link0", "--child-frame-id", "preview/fr3_link0"],
            condition=rviz,
        ),
        Node(
            package="rviz2",
            executable="rviz2",
            name="rviz2",
            parameters=[{"use_sim_time": True}],
            arguments=["-d", PathJoinSubstitution([FindPackageShare("dp_policy_node"), "config/rviz/dp_preview.rviz"])],
            condition=rviz,
        ),
    ]
    return LaunchDescription(ARGUMENTS + nodes)
