"""expert_node: the scripted Push-T expert closed-loop through ROS (what demos are recorded from).

Observes /ee_pose (pusher) and /task_status (block pose, coverage, episode), publishes
/cartesian_target (pusher x, y) at ``decision_rate_hz`` on the node clock (run with
use_sim_time:=true next to sim_node). A new episode (new seed or episode time going back) resets
the expert; it stops commanding at success or after ``timeout_s`` of episode time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node

from dp_msgs.msg import TaskStatus
from dp_ros_common.node_main import run_node
from dp_ros_common.params import Param, declare_all
from dp_sim.env import PushTSimConfig
from dp_sim.expert import ExpertConfig, ScriptedExpert
from dp_sim.scene import SceneConfig

PARAMS = (
    Param("decision_rate_hz", 10.0, "target publishing rate on the node clock, Hz"),
    Param("timeout_s", 30.0, "episode time after which the expert gives up, s"),
    Param("exit_on_done", False, "exit after one episode (code 0 on success, 3 on failure)"),
    Param("base_frame", "fr3_link0", "frame of the published /cartesian_target"),
)
FAILURE_EXIT_CODE = 3


class ExpertNode(Node):
    """Adapter: ROS observations → ScriptedExpert.act → /cartesian_target."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("expert_node", **kwargs)
        self.params = declare_all(self, PARAMS)
        if not self.params["decision_rate_hz"] > 0 or not self.params["timeout_s"] > 0:
            raise ValueError(f"decision_rate_hz and timeout_s must be > 0, got {self.params}")
        scene = SceneConfig()
        sim_defaults = PushTSimConfig()
        self._workspace = (np.array(sim_defaults.workspace_min), np.array(sim_defaults.workspace_max))
        config = ExpertConfig(decision_dt_s=1.0 / self.params["decision_rate_hz"])
        self.expert = ScriptedExpert(np.array(scene.target_pose), scene.tshape, config)
        self._pose: PoseStamped | None = None
        self._status: TaskStatus | None = None
        self._episode: tuple[int, float] | None = None  # (seed, last episode time)
        self.active = False
        self.finished = False
        self.outcome: bool | None = None
        self._pub = self.create_publisher(PoseStamped, "/cartesian_target", 10)
        self.create_subscription(PoseStamped, "/ee_pose", self._on_pose, 10)
        self.create_subscription(TaskStatus, "/task_status", self._on_status, 10)
        self.create_timer(1.0 / self.params["decision_rate_hz"], self._on_timer)

    def _on_pose(self, msg: PoseStamped) -> None:
        self._pose = msg

    def _on_status(self, msg: TaskStatus) -> None:
        new = self._episode is None or msg.seed != self._episode[0] or msg.episode_time_s < self._episode[1] - 1e-6
        self._episode = (int(msg.seed), float(msg.episode_time_s))
        self._status = msg
        if new and not self.finished:
            self.expert.reset(int(msg.seed))
            self.active = True
            side = "left" if self.expert.side > 0 else "right"
            self.get_logger().info(f"episode seed {msg.seed}: going around the block on the {side}")

    def _on_timer(self) -> None:
        if not self.active or self._pose is None or self._status is None:
            return
        status = self._status
        if status.success or status.episode_time_s > self.params["timeout_s"]:
            self._finish(bool(status.success), status)
            return
        p = self._pose.pose.position
        target = self.expert.act(np.array([p.x, p.y]), np.asarray(status.block_pose, dtype=float))
        target = np.clip(target, self._workspace[0], self._workspace[1])  # the sim rejects targets outside
        msg = PoseStamped()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.params["base_frame"]
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = float(target[0]), float(target[1]), p.z
        msg.pose.orientation = self._pose.pose.orientation
        self._pub.publish(msg)

    def _finish(self, success: bool, status: TaskStatus) -> None:
        self.active = False
        self.outcome = success
        word = "success" if success else "timeout"
        self.get_logger().info(
            f"episode seed {status.seed}: {word} after {status.episode_time_s:.1f} s, coverage {status.coverage:.3f}"
        )
        if self.params["exit_on_done"]:
            self.finished = True


def _exit_code(node: ExpertNode) -> int | None:
    """With exit_on_done: 0 after a success, 3 after a timeout; None while the episode runs."""
    if not node.finished:
        return None
    return 0 if node.outcome else FAILURE_EXIT_CODE


def main(args: list[str] | None = None) -> None:
    run_node(ExpertNode, "expert_node", args, exit_code=_exit_code)


if __name__ == "__main__":
    main()
