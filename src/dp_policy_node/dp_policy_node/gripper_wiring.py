"""Whether a rollout needs gripper_bridge_node, decided from the chunk executor's parameters.

Why: the executor sends the gripper action dimensions (``dp_core.control.layout``: names with
"gripper"/"finger", or ``gripper_names``) to ``gripper_topic`` as Float64MultiArray, and
franka_gripper takes only actions (franka_ros2 ``franka_gripper/src/gripper_action_server.cpp``):
on the FR3 gripper_bridge_node turns that stream into ``~/move``/``~/grasp`` goals. Two
configurations cannot work and are refused before anything starts: gripper dimensions without
``gripper_topic`` (the executor would put finger values into the arm controller's command, which
fr3_arm_controller's 7 joints refuse) and ``gripper_topic`` without a gripper dimension (the
executor would publish empty arrays that the bridge rejects every tick). Pure: no ROS import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dp_core.control.layout import ActionLayout


def gripper_action_names(executor: Mapping[str, Any]) -> list[str]:
    """The executor's action names that are gripper dimensions (``[]`` when none or not configured)."""
    names = [str(n) for n in executor.get("action_names") or []]
    if not names:
        return []
    gripper_names = [str(n) for n in executor.get("gripper_names") or []] or None
    layout = ActionLayout.from_names(names, gripper_names)
    return [names[i] for i in layout.grippers]


def bridge_command_topic(executor: Mapping[str, Any]) -> str:
    """The topic gripper_bridge_node listens on ("" = start no bridge), from the executor's flat
    parameter block (``gripper_topic``, ``action_names``, ``gripper_names``).

    ``action_names`` empty means "whatever the checkpoint sends": ``gripper_topic`` alone decides.
    """
    topic = str(executor.get("gripper_topic") or "")
    names = list(executor.get("action_names") or [])
    grippers = gripper_action_names(executor)
    if grippers and not topic:
        raise ValueError(
            f"chunk_executor_node.action_names has gripper dimensions {grippers} but gripper_topic is empty: "
            "they would go to the arm controller. Set gripper_topic (e.g. /dp/gripper_command); the launch "
            "then starts gripper_bridge_node, which drives franka_gripper."
        )
    if topic and names and not grippers:
        raise ValueError(
            f"chunk_executor_node.gripper_topic is '{topic}' but no action in {names} is a gripper "
            "(names with gripper/finger, or gripper_names): set gripper_topic to \"\" or add the gripper action."
        )
    return topic
