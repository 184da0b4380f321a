"""plan_preview_node: each chunk's intended motion for RViz (an adapter around dp_core ``plan_preview``).

Inputs: dp/action_chunk (what the policy intends), dp/executor_status (which chunk the executor
follows, whether it moves). Outputs:

- ``dp/preview/path`` (nav_msgs/Path): the end-effector poses of a chunk with Cartesian actions;
- ``dp/preview/joint_states`` (sensor_msgs/JointState): joint actions, the chunk's last action;
  a second robot_state_publisher (``frame_prefix: preview/``, its ``joint_states`` remapped here)
  turns it into a ghost arm; republished at ``rate_hz`` so the ghost's transforms stay fresh;
- ``dp/preview/joint_trajectory`` (trajectory_msgs/JointTrajectory): joint actions, the whole chunk;
- ``dp/preview/markers`` (visualization_msgs/MarkerArray): executed / pending / discarded actions
  of the latest chunk and the one before (see ``preview_msgs``), at ``rate_hz``.

It never commands anything; without it the graph runs the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from nav_msgs.msg import Path
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from dp_core.control.action_chunk import ChunkValidationError
from dp_core.control.layout import ActionLayout
from dp_core.control.plan_preview import PlanPreview, executor_follows_plan
from dp_msgs.msg import ActionChunk, ExecutorStatus
from dp_policy_node.conversions import chunk_from_msg, joint_state_to_msg, joint_trajectory_to_msg
from dp_policy_node.preview_msgs import chunk_poses, markers_msg, path_msg
from dp_ros_common.node_main import run_node
from dp_ros_common.params import Param, declare_all

PARAMS = [
    Param("frame_id", "fr3_link0", "frame of the path and markers when a chunk names none (its frame_id)"),
    Param(
        "pose_defaults",
        [],
        "[x, y, z] m + [qx, qy, qz, qw] for pose components not in the actions (as the executor's); empty: none",
        Parameter.Type.DOUBLE_ARRAY,
    ),
    Param("rate_hz", 10.0, "markers and ghost joint state republished at this rate, Hz"),
    Param("keep", 2, "chunks kept (the latest and the ones before it, whose discarded tails are shown)"),
]


class PlanPreviewNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "plan_preview_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        v = declare_all(self, PARAMS)
        self.frame_id = str(v["frame_id"])
        self.pose_defaults = tuple(float(x) for x in v["pose_defaults"])
        if self.pose_defaults and len(self.pose_defaults) != 7:
            raise ValueError(f"pose_defaults must be 7 values [x, y, z, qx, qy, qz, qw], got {self.pose_defaults}")
        if not v["rate_hz"] > 0:
            raise ValueError(f"rate_hz must be > 0, got {v['rate_hz']}")
        self.preview = PlanPreview(keep=int(v["keep"]))
        self.ghost: JointState | None = None
        self.frame = self.frame_id  # the latest chunk's frame, or frame_id
        self.path_pub = self.create_publisher(Path, "dp/preview/path", 10)
        self.joint_pub = self.create_publisher(JointState, "dp/preview/joint_states", 10)
        self.trajectory_pub = self.create_publisher(JointTrajectory, "dp/preview/joint_trajectory", 10)
        self.markers_pub = self.create_publisher(MarkerArray, "dp/preview/markers", 10)
        self.create_subscription(ActionChunk, "dp/action_chunk", self._on_chunk, 10)
        self.create_subscription(ExecutorStatus, "dp/executor_status", self._on_status, 10)
        self.create_timer(1.0 / v["rate_hz"], self._on_timer)

    def _now(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_chunk(self, msg: ActionChunk) -> None:
        try:
            chunk = chunk_from_msg(msg)
        except ChunkValidationError as exc:  # the executor refuses it too; nothing to show
            self.get_logger().warning(f"not previewed: {exc}", throttle_duration_sec=2.0)
            return
        now = self._now()
        self.preview.add_chunk(chunk, now)
        latest = self.preview.latest(now)
        assert latest is not None
        poses = chunk_poses(latest, self.pose_defaults)
        self.frame = chunk.frame_id or self.frame_id
        if poses is not None:
            self.path_pub.publish(path_msg(latest, poses, self.frame, now))
        layout = ActionLayout.from_names(chunk.action_names)
        if layout.joints:
            names, end = latest.joint_end_state(layout)
            self.ghost = joint_state_to_msg(names, end.tolist(), now)
            self.joint_pub.publish(self.ghost)
            index = [chunk.action_names.index(n) for n in names]
            times = (latest.times_ns - latest.times_ns[0]) / 1e9
            positions = np.asarray(chunk.actions[:, index], dtype=np.float64)
            self.trajectory_pub.publish(joint_trajectory_to_msg(names, times, positions, int(latest.times_ns[0])))
        self._on_timer()

    def _on_status(self, msg: ExecutorStatus) -> None:
        self.preview.set_progress(msg.active_sequence, executor_follows_plan(msg.mode, msg.hold_reason), self._now())

    def _on_timer(self) -> None:
        now = self._now()
        previews = self.preview.previews(now)
        if not previews:
            return
        self.markers_pub.publish(markers_msg(previews, self.pose_defaults, self.frame, now))
        if self.ghost is not None:
            self.ghost.header.stamp = self.get_clock().now().to_msg()
            self.joint_pub.publish(self.ghost)


def main(args: list[str] | None = None) -> None:
    run_node(PlanPreviewNode, "plan_preview_node", args)


if __name__ == "__main__":
    main()
