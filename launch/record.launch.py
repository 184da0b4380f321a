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
The node graph comes from robot_graph.py (next to this file).
"""

import dataclasses
import importlib.util
import sys
from pathlib import Path

# The node graph and the shared launch helpers: robot_graph.py, installed next to this file, loaded by
# path (registered in sys.modules first: its dataclasses look their module up there).
_SPEC = importlib.util.spec_from_file_location(
    "dp_launch_robot_graph", Path(__file__).resolve().with_name("robot_graph.py")
)
g = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(g)


ARGUMENTS = [
    ("mode", "sim", "robot (franka_bringup + RealSense cameras) or sim (dp_sim's MuJoCo sim_node)."),
    ("expert", "false", "sim only: true = dp_sim's scripted expert drives the sim instead of teleop."),
    ("robot_profile", "", "Robot profile; empty = config/robots/fr3_realsense.yaml (robot) or sim.yaml (sim)."),
    ("robot_ip", "172.16.0.2", "robot only: hostname or IP address of the robot."),
    ("arm_id", "fr3", "robot only: arm type given to franka_bringup."),
    (
        "use_fake_hardware",
        "false",
        "robot only: true = ros2_control mock hardware; franka then starts no "
        "franka_robot_state_broadcaster, so there is no current_pose and teleop sends no targets.",
    ),
    (
        "load_gripper",
        "true",
        "robot only: true = the Franka Hand (franka_gripper; the URDF gets fr3_hand_tcp, the "
        "Cartesian controller's end effector, matching current_pose's O_T_EE). false only with a controllers_yaml "
        "whose end_effector_link is fr3_link8 (an arm without the Hand).",
    ),
    ("controllers_yaml", "", "robot only: ros2_control controllers file; empty = fr3_ros2_controllers.yaml."),
    ("joint_state_rate", "100", "robot only: /joint_states rate of franka_bringup's joint_state_publisher, Hz."),
    ("cameras", "true", "robot only: true = one realsense2_camera node per camera block of the profile."),
    ("output_dir", "", "Episode directory (recorder output_dir); empty = the profile's value."),
    (
        "servo_twist_topic",
        "",
        "Also publish teleop's TwistStamped here for MoveIt Servo, e.g. "
        "/servo_node/delta_twist_cmds (started separately, with its own controller); mode:=robot then spawns no "
        "cartesian_motion_controller (both would claim the arm's joints). Empty = off.",
    ),
    (
        "teleop_device",
        "gamepad",
        "Input driver started for teleop: gamepad (joy joy_node, /joy), "
        "spacemouse (spacenav spacenav_node, /spacenav/twist) or none (keyboard, or a driver started elsewhere).",
    ),
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
        load_gripper = g.truthy(arg["load_gripper"])
        entities += g.franka_bringup_entities(
            arg["robot_ip"],
            arg["arm_id"],
            g.truthy(arg["use_fake_hardware"]),
            load_gripper,
            arg["joint_state_rate"],
            controllers_yaml,
        )
        if not arg["servo_twist_topic"]:  # MoveIt Servo drives its own controller
            g.check_cartesian_end_effector("cartesian", load_gripper, controllers_yaml)
            processes += g.controller_spawners("cartesian", ready_pose=False)
        if g.truthy(arg["cameras"]):
            processes += g.camera_processes(profile, g.load_profile(profile))
    expert = g.truthy(arg["expert"])
    devices = g.teleop_device_processes(arg["teleop_device"])  # validates the argument in every mode
    if not expert:
        processes += devices
    recording = g.record_processes(
        profile, "mujoco" if sim else "", expert, use_sim_time=sim, servo_twist_topic=arg["servo_twist_topic"]
    )
    if arg["output_dir"]:
        recording = [
            dataclasses.replace(p, overrides={**p.overrides, "output_dir": arg["output_dir"]})
            if p.name == g.RECORDER_NODE.name
            else p
            for p in recording
        ]
    processes += recording
    return entities + g.launch_entities(processes, autostart=False)


def generate_launch_description():
    return g.launch_description(ARGUMENTS, _graph_actions)
