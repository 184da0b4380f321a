"""Demonstration recording: the robot (or dp_sim) + cameras + teleop (or the scripted expert) + recorder.

    ros2 launch dp_policy_node record.launch.py mode:=robot robot_ip:=172.16.0.2
    ros2 launch dp_policy_node record.launch.py mode:=sim expert:=true

Episodes are started/stopped from the gamepad (teleop buttons) or with the recorder's services
(/recorder/start_episode, /recorder/stop_episode, /recorder/discard_episode). On the robot the
operator drives the Cartesian controller (cartesian_motion_controller) through teleop's target.
``teleop_device:=`` starts the input driver teleop reads: joy's ``joy_node`` (gamepad, /joy) or
spacenav's ``spacenav_node`` (SpaceMouse, /spacenav/twist; needs the spacenavd daemon).
The node graph comes from robot_graph.py (next to this file).
"""

from pathlib import Path
import dataclasses
import importlib.util
import sys

# The node graph and the shared launch helpers: robot_graph.py, installed next to this file, loaded by
# path (registered in sys.modules first: its dataclasses look their module up there).
_SPEC = importlib.util.spec_from_file_location(
    "dp_launch_robot_graph", Path(__file__).resolve().with_name("robot_graph.py"))
g = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(g)


ARGUMENTS = [
    ("mode", "sim", "robot (franka_bringup + RealSense cameras) or sim (dp_sim's MuJoCo sim_node)."),
    ("expert", "false", "sim only: true = dp_sim's scripted expert drives the sim instead of teleop."),
    ("robot_profile", "", "Robot profile; empty = config/robots/fr3_realsense.yaml (robot) or sim.yaml (sim)."),
    ("robot_ip", "172.16.0.2", "robot only: hostname or IP address of the robot."),
    ("arm_id", "fr3", "robot only: arm type given to franka_bringup."),
    ("use_fake_hardware", "false", "robot only: true = ros2_control mock hardware; franka then starts no "
     "franka_robot_state_broadcaster, so there is no current_pose and teleop sends no targets."),
    ("load_gripper", "false", "robot only: true = also start the Franka Hand."),
    ("controllers_yaml", "", "robot only: ros2_control controllers file; empty = fr3_ros2_controllers.yaml."),
    ("joint_state_rate", "100", "robot only: /joint_states rate of franka_bringup's joint_state_publisher, Hz."),
    ("cameras", "true", "robot only: true = one realsense2_camera node per camera block of the profile."),
    ("output_dir", "", "Episode directory (recorder output_dir); empty = the profile's value."),
    ("teleop_device", "gamepad", "Input driver started for teleop: gamepad (joy joy_node, /joy), "
     "spacemouse (spacenav spacenav_node, /spacenav/twist) or none (keyboard, or a driver started elsewhere)."),
]


def _graph_actions(context, arg):
    mode = arg["mode"]
    if mode not in ("robot", "sim"):
        raise ValueError(f"mode:={mode} is not robot or sim")
    sim = mode == "sim"
    profile = arg["robot_profile"] or g.share_file(context, g.SIM_PROFILE if sim else g.ROBOT_PROFILE)
    entities = []
    processes = []
    if sim:
        processes += g.simulator_processes(profile, "mujoco")
    else:
        controllers_yaml = arg["controllers_yaml"] or g.share_file(context, g.FR3_CONTROLLERS)
        entities += g.franka_bringup_entities(arg["robot_ip"], arg["arm_id"], g.truthy(arg["use_fake_hardware"]),
                                              g.truthy(arg["load_gripper"]), arg["joint_state_rate"], controllers_yaml)
        processes += g.controller_spawners("cartesian", ready_pose=False)
        if g.truthy(arg["cameras"]):
            processes += g.camera_processes(profile, g.load_profile(profile))
    expert = g.truthy(arg["expert"])
    devices = g.teleop_device_processes(arg["teleop_device"])  # validates the argument in every mode
    if not expert:
        processes += devices
    recording = g.record_processes(profile, "mujoco" if sim else "", expert, use_sim_time=sim)
    if arg["output_dir"]:
        recording = [
            dataclasses.replace(p, overrides={**p.overrides, "output_dir": arg["output_dir"]})
            if p.name == g.RECORDER_NODE.name else p
            for p in recording
        ]
    processes += recording
    return entities + g.launch_entities(processes, autostart=False)


def generate_launch_description():
    return g.launch_description(ARGUMENTS, _graph_actions)
