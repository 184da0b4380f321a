"""The graph of ``record.launch.py``: teleop (or dp_sim's scripted expert), its input driver, the recorder.

Pure Python (no ``launch`` import), described with ``launch_graph``'s :class:`Process` like the
rollout graph, so ``test_bringup_launch_static`` can compare record.launch.py's literal
``Node(...)`` calls with it: teleop's remappings on the robot and in dp_sim, the driver per
``teleop_device:=`` and the argument combinations refused before anything starts.
"""

from __future__ import annotations

from typing import Any

from dp_policy_node.launch_graph import EXPERT_NODE, RECORDER_NODE, TELEOP_NODE, Process, our_process

# MoveIt Servo's twist input: moveit_servo's servo_node (config: cartesian_command_in_topic ~/delta_twist_cmds)
SERVO_TWIST_TOPIC = "/servo_node/delta_twist_cmds"

# teleop's relative topics: the measured pose it starts from (on the FR3 franka_robot_state_broadcaster's
# current_pose, O_T_EE, best effort depth 1: teleop subscribes best effort), and where its target goes
TELEOP_REMAPS_SIM = (("current_pose", "/ee_pose"), ("cartesian_target", "/cartesian_target"))
TELEOP_REMAPS_ROBOT = (
    ("current_pose", "/franka_robot_state_broadcaster/current_pose"),
    ("cartesian_target", "/cartesian_motion_controller/target_frame"),
)


def record_processes(
    profile_path: str, simulator: str, expert: bool, use_sim_time: bool, servo_twist_topic: str = ""
) -> list[Process]:
    """Teleop (or dp_sim's scripted expert) and the episode recorder.

    ``servo_twist_topic`` (non-empty): teleop also publishes its TwistStamped there, for MoveIt Servo.
    """
    driver = EXPERT_NODE if expert else TELEOP_NODE
    if expert and simulator != "mujoco":
        raise ValueError("expert:=true needs simulator:=mujoco (the scripted expert drives dp_sim)")
    if expert and servo_twist_topic:
        raise ValueError("servo_twist_topic is a teleop output; expert:=true starts no teleop")
    remaps: tuple[tuple[str, str], ...] = ()
    overrides: dict[str, Any] = {}
    if not expert:
        remaps = TELEOP_REMAPS_SIM if simulator == "mujoco" else TELEOP_REMAPS_ROBOT
        if servo_twist_topic:
            overrides["servo_twist_topic"] = servo_twist_topic
    return [
        our_process(driver, profile_path, use_sim_time, remappings=remaps, overrides=overrides),
        our_process(RECORDER_NODE, profile_path, use_sim_time),
    ]


# Teleop input drivers (joystick_drivers, ros2 branch): joy's joy_node publishes sensor_msgs/Joy on
# /joy; spacenav's spacenav_node (node "spacenav", needs the spacenavd daemon) publishes
# /spacenav/twist, /spacenav/joy. dp_teleop subscribes to joy and spacenav/twist.
TELEOP_DEVICES: dict[str, Process | None] = {
    "gamepad": Process("joy", "joy_node", "joy_node", overrides={"device_id": 0, "autorepeat_rate": 20.0}),
    "spacemouse": Process(
        "spacenav", "spacenav_node", "spacenav", overrides={"zero_when_static": True, "static_count_threshold": 30}
    ),
    "none": None,  # keyboard (teleop use_keyboard: true) or a driver started elsewhere
}


def teleop_device_processes(device: str) -> list[Process]:
    """The input driver of ``teleop_device:=``; ``none`` starts nothing."""
    if device not in TELEOP_DEVICES:
        raise ValueError(f"teleop_device:={device} is not one of {sorted(TELEOP_DEVICES)}")
    process = TELEOP_DEVICES[device]
    return [process] if process else []
