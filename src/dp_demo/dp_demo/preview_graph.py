"""The pose-mode plan-preview graph on dp_sim's FR3 twin, in lockstep: one definition for its test and the README picture.

Why one place: ``tools/render_preview_images.py`` draws docs/images/plan_preview.png from the very
graph ``test_node_plan_preview_shadow.py`` checks (the twin with the franka interface,
chunk_executor_node streaming Cartesian poses inside a box at bounded speed, plan_preview_node).
"""

from __future__ import annotations

from dp_policy_node.chunk_executor_node import ChunkExecutorNode
from dp_policy_node.plan_preview_node import PlanPreviewNode
from dp_sim.interfaces import FRANKA
from dp_sim.lockstep import Lockstep

POSE_NAMES = ("x", "y", "z", "qx", "qy", "qz", "qw")


def add_pose_preview(ls: Lockstep) -> ChunkExecutorNode:
    """The twin (1 kHz), a pose-mode executor (100 Hz, box and speed limits) and the preview node; the executor."""
    ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
    executor = ls.add(
        ChunkExecutorNode,
        action_names=list(POSE_NAMES),
        output_mode="pose",
        command_topic=FRANKA.cartesian,
        control_rate_hz=100.0,
        frame_id="fr3_link0",
        measured_pose_topic=FRANKA.ee_pose,
        **{
            "cartesian_limits.box_min": [0.2, -0.5, 0.05],
            "cartesian_limits.box_max": [0.8, 0.5, 0.8],
            "cartesian_limits.max_linear_speed": 0.1,
            "cartesian_limits.max_linear_acceleration": 0.5,
        },
    )
    ls.add(PlanPreviewNode, frame_id="fr3_link0")
    return executor
