"""task_state_node: the low-dim Push-T state as one named vector, like an object tracker would publish.

Publishes ``/pusht/state`` (sensor_msgs/JointState used as a named vector; ``name`` =
:data:`dp_sim.rollout.OBS_NAMES`: pusher x, y (m), block x, y (m), sin/cos of the block yaw)
stamped with the sim time of the block pose it carries. The pusher position is the newest
``/ee_pose`` not after that stamp, so the vector never mixes in later data.

Why a JointState: the observation node and ``dp-convert`` both select named values from a
JointState topic in the same way, so one topic feeds the live windows and the training set
identically (the recorder records it like any other topic).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState

from dp_msgs.msg import TaskStatus
from dp_ros_common.node_main import run_node
from dp_ros_common.stamps import time_to_ns
from dp_sim.rollout import OBS_NAMES, low_dim_observation

STATE_TOPIC = "/pusht/state"


class TaskStateNode(Node):
    """/ee_pose + /task_status → /pusht/state."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("task_state_node", **kwargs)
        self._poses: deque[tuple[int, np.ndarray]] = deque(maxlen=64)  # (stamp ns, pusher xy)
        self._pub = self.create_publisher(JointState, STATE_TOPIC, 10)
        self.create_subscription(PoseStamped, "/ee_pose", self._on_pose, 50)
        self.create_subscription(TaskStatus, "/task_status", self._on_status, 10)

    def _on_pose(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self._poses.append((time_to_ns(msg.header.stamp), np.array([p.x, p.y])))

    def _on_status(self, msg: TaskStatus) -> None:
        t_ns = time_to_ns(msg.header.stamp)
        pusher = next((xy for s, xy in reversed(self._poses) if s <= t_ns), None)
        if pusher is None:
            return  # no pusher pose yet (or only newer ones): nothing consistent to publish
        out = JointState()
        out.header.stamp = msg.header.stamp
        out.header.frame_id = msg.header.frame_id
        out.name = list(OBS_NAMES)
        out.position = low_dim_observation(pusher, np.asarray(msg.block_pose, float)).astype(float).tolist()
        self._pub.publish(out)


def main(args: list[str] | None = None) -> None:
    run_node(TaskStateNode, "task_state_node", args)


if __name__ == "__main__":
    main()
