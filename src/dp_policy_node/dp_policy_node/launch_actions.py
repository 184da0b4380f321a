"""What the launch files build at launch time: launch arguments read, launch_ros entities made.

The launch files list most nodes literally; what depends on the profile's contents (cameras, the
gripper bridge, the ready pose) or needs lifecycle events (policy_node) is built here from the
``launch_graph`` descriptions, so a launch file stays flat and the tests compare one table. Only
this module imports ``launch`` / ``launch_ros`` / ``ament_index_python``, and only inside the
functions: the rest of the launch modules stay importable (and testable) without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dp_policy_node.launch_graph import MOVEIT_NODE_NAME, READY_POSE_NODE, Process, policy_nodes

FAKE_HARDWARE_NOTE = (
    "[dp_ros2] use_fake_hardware:=true: franka_bringup skips franka_robot_state_broadcaster, so "
    "/franka_robot_state_broadcaster/current_pose is never published: teleop (which starts from the "
    "measured pose) sends no targets and profiles observing ee_pose go stale; joint states, "
    "controllers and the policy graph work. See docs/robot_bringup.md."
)


def truthy(text: str) -> bool:
    """A launch argument as a boolean ("true"/"false", "1"/"0"); anything else is a ValueError."""
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got '{text}'")


def launch_node(process: Process) -> Any:
    """A launch_ros ``Node`` for one of the profile-dependent processes (cameras, gripper bridge,
    ready pose) that a launch file cannot list literally."""
    from launch_ros.actions import Node

    from dp_ros_common.params_file import resolve

    parameters: list[Any] = [resolve(process.params_file)] if process.params_file else []  # rcl: no aliases
    if process.overrides:
        parameters.append(dict(process.overrides))
    return Node(
        package=process.package,
        executable=process.executable,
        name=process.name,
        namespace=process.namespace,
        parameters=parameters,
        remappings=list(process.remappings),
        arguments=list(process.arguments),
        output="screen",
    )


def policy_node_actions(profile_path: str, use_sim_time: bool, checkpoint: str, autostart: bool) -> list[Any]:
    """policy_node (a launch_ros ``LifecycleNode``; ``checkpoint`` non-empty overrides the profile's
    ``checkpoint_path``) and, with ``autostart``, its configure at launch and activate once inactive
    (launch_ros lifecycle events). Without autostart it stays unconfigured for an operator."""
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.actions import LifecycleNode
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    from dp_ros_common.params_file import resolve

    spec = next(e for e in policy_nodes() if e.lifecycle)
    overrides = {"use_sim_time": use_sim_time, **({"checkpoint_path": checkpoint} if checkpoint else {})}
    node = LifecycleNode(
        package=spec.package,
        executable=spec.executable,
        name=spec.name,
        namespace="",
        parameters=[resolve(profile_path), overrides],  # rcl refuses the profile's aliases
        output="screen",
    )
    if not autostart:
        return [node]

    def change(transition: int) -> Any:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))

    activate = OnStateTransition(
        target_lifecycle_node=node, goal_state="inactive", entities=[change(Transition.TRANSITION_ACTIVATE)]
    )
    return [node, RegisterEventHandler(activate), change(Transition.TRANSITION_CONFIGURE)]


def write_moveit_params(
    robot_ip: str,
    arm_id: str,
    fake: bool,
    load_gripper: bool,
    profile: Mapping[str, Mapping[str, Any]],
    directory: str | Path,
) -> Path:
    """The MoveIt params file of ready_pose_node's MoveItPy (keyed by :data:`MOVEIT_NODE_NAME`),
    built from franka's files as franka_fr3_moveit_config's moveit.launch.py builds them."""
    from ament_index_python.packages import get_package_share_directory

    from dp_policy_node.moveit_params import write_params_file

    ready = profile.get(f"/{READY_POSE_NODE.name}", {})
    return write_params_file(
        get_package_share_directory,
        MOVEIT_NODE_NAME,
        Path(directory) / f"{MOVEIT_NODE_NAME}_params.yaml",
        robot_type=arm_id,
        robot_ip=robot_ip,
        use_fake_hardware=fake,
        load_gripper=load_gripper,
        velocity_scaling=float(ready.get("velocity_scaling", 0.2)),
        acceleration_scaling=float(ready.get("acceleration_scaling", 0.2)),
    )
