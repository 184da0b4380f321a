"""Policy rollout in simulation: the graph of franka.launch.py with a simulator instead of the robot.

    ros2 launch dp_policy_node sim.launch.py checkpoint:=runs/pusht/step_1000 autostart:=true
    ros2 launch dp_policy_node sim.launch.py simulator:=gazebo controller:=joint_trajectory

simulator:=mujoco (default): dp_sim's sim_node (/clock, /joint_states, cameras, the controllers'
command topics, ~/reset and ~/move_to_ready). simulator:=gazebo: Gazebo (ros_gz_sim) with the FR3
from franka_description under gz_ros2_control and the controllers of fr3_ros2_controllers.yaml.
Every node runs on sim time. The node graph comes from robot_graph.py (next to this file).
"""

import importlib.util
import sys
from pathlib import Path

from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

# The node graph and the shared launch helpers: robot_graph.py, installed next to this file, loaded by
# path (registered in sys.modules first: its dataclasses look their module up there).
_SPEC = importlib.util.spec_from_file_location(
    "dp_launch_robot_graph", Path(__file__).resolve().with_name("robot_graph.py")
)
g = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(g)


ARGUMENTS = [
    (
        "simulator",
        "mujoco",
        "mujoco (dp_sim, tested in CI) or gazebo (ros_gz_sim + gz_ros2_control + franka_description).",
    ),
    (
        "controller",
        "joint_trajectory",
        "Controller the executor feeds: joint_trajectory, joint_position or cartesian (see franka.launch.py). "
        "With mujoco, sim_node accepts all three on the controllers' default topics.",
    ),
    (
        "robot_profile",
        "",
        "Robot profile (ROS parameter file, one block per node); empty = share/dp_policy_node/config/robots/sim.yaml.",
    ),
    ("controllers_yaml", "", "Gazebo only: ros2_control controllers file; empty = fr3_ros2_controllers.yaml."),
    (
        "checkpoint",
        "",
        "Policy checkpoint (dp-train run or step directory); empty = the profile's policy_node.checkpoint_path.",
    ),
    ("autostart", "false", "true: configure and activate the policy node at launch; false: leave it for an operator."),
    ("gz_world", "empty.sdf", "Gazebo only: world file given to gz_sim.launch.py (gz_args)."),
]


def _graph_actions(context, arg):
    simulator = arg["simulator"]
    if simulator not in g.SIMULATORS:
        raise ValueError(f"simulator:={simulator} is not one of {g.SIMULATORS}")
    profile = arg["robot_profile"] or g.share_file(context, g.SIM_PROFILE)
    processes = g.simulator_processes(profile, simulator)
    entities = []
    if simulator == "gazebo":
        controllers_yaml = arg["controllers_yaml"] or g.share_file(context, g.FR3_CONTROLLERS)
        g.check_cartesian_end_effector(arg["controller"], False, controllers_yaml)  # the Gazebo URDF has no Hand
        entities += _gazebo_entities(context, arg["gz_world"], controllers_yaml)
        processes += g.controller_spawners(arg["controller"], ready_pose=False, param_file=controllers_yaml)
    processes += g.rollout_processes(
        profile, arg["controller"], simulator=simulator, use_sim_time=True, checkpoint=arg["checkpoint"]
    )
    if simulator == "mujoco":  # dp_sim's FR3 twin serves franka_gripper's actions; Gazebo has no Hand
        processes += g.gripper_bridge_processes(profile, g.load_profile(profile), use_sim_time=True)
    return entities + g.launch_entities(processes, autostart=g.truthy(arg["autostart"]))


def _gazebo_entities(context, world, controllers_yaml):
    """Gazebo + the FR3 (franka_description xacro with gz_ros2_control) + the joint state broadcaster.

    With gazebo:=true franka_description's xacro points gz_ros2_control at
    franka_gazebo_bringup's controllers file; our controllers come from the spawners' --param-file.
    """
    import xacro  # apt: ros-jazzy-xacro
    from launch_ros.actions import Node

    urdf = PathJoinSubstitution([FindPackageShare("franka_description"), "robots", "fr3", "fr3.urdf.xacro"])
    description = xacro.process_file(
        urdf.perform(context),
        mappings={
            "ros2_control": "true",
            "gazebo": "true",
            "hand": "false",
            "robot_type": "fr3",
        },
    ).toprettyxml(indent="  ")
    gz = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("ros_gz_sim"), "launch", "gz_sim.launch.py"])
        ),
        launch_arguments={"gz_args": f"{world} -r", "on_exit_shutdown": "true"}.items(),
    )
    return [
        gz,
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            output="screen",
            parameters=[{"robot_description": description, "use_sim_time": True}],
        ),
        Node(
            package="ros_gz_sim",
            executable="create",
            output="screen",
            arguments=["-topic", "/robot_description", "-name", "fr3"],
        ),
        Node(
            package="ros_gz_bridge",
            executable="parameter_bridge",
            output="screen",
            arguments=["/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock"],
        ),
        Node(
            package="controller_manager",
            executable="spawner",
            output="screen",
            arguments=[
                "joint_state_broadcaster",
                "--controller-manager",
                "/controller_manager",
                "--param-file",
                controllers_yaml,
            ],
        ),
    ]


def generate_launch_description():
    return g.launch_description(ARGUMENTS, _graph_actions)
