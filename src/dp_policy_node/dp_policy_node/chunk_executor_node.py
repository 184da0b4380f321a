"""chunk_executor_node: an adapter around dp_core's ``ChunkExecutor`` (ROS in, one call, ROS out).

Inputs: dp/action_chunk, the robot state (/joint_states; in pose mode a PoseStamped such as
franka's ``franka_robot_state_broadcaster/current_pose``, best-effort), dp/policy_status.
Outputs (``output_mode``): JointTrajectory with velocities (trajectory), Float64MultiArray
(position) or PoseStamped (pose) commands, an optional gripper topic, dp/executor_status. With
``shadow:=true`` the commands go to dp/shadow/* instead (the controllers never hear them) and each
chunk's plan-vs-measured distance to dp/shadow/report (dp_core ``shadow_report``). Every
input has its own callback group and the control tick its own (for a multi-threaded composition);
its own process spins one thread (see ``main``). On shutdown (SIGINT too) the arm is brought to
rest first.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, Header
from trajectory_msgs.msg import JointTrajectory

from dp_core.control.action_chunk import ChunkValidationError
from dp_core.control.chunk_schedule import Rejected
from dp_core.control.executor import ChunkExecutor, Output
from dp_core.control.shadow_report import ShadowChunkReport, ShadowTracker, compared_indices
from dp_core.control.trajectory import Trajectory
from dp_msgs.msg import ActionChunk, ExecutorStatus, PolicyStatus, ShadowReport
from dp_policy_node.conversions import (
    chunk_from_msg,
    float64_array_to_msg,
    joint_trajectory_to_msg,
    ns_to_time,
    pose_to_msg,
    time_to_ns,
)
from dp_policy_node.executor_config import SHADOW_REPORT_TOPIC, build_config
from dp_policy_node.executor_params import PARAMS
from dp_ros_common.node_main import run_node
from dp_ros_common.params import declare_all

_BEST_EFFORT_1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)  # as franka publishes current_pose


class ChunkExecutorNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "chunk_executor_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        v = declare_all(self, PARAMS)
        self.config = build_config(v)
        self.core = ChunkExecutor(self.config.core)
        self.names = self.config.plan.action_names
        self.published = 0
        self._last_report = ("idle", "")
        msg_type = {"trajectory": JointTrajectory, "position": Float64MultiArray, "pose": PoseStamped}
        self.command_pub = self.create_publisher(msg_type[self.config.output_mode], self.config.topic, 10)
        gripper_topic = self.config.gripper_output_topic
        self.gripper_pub = self.create_publisher(Float64MultiArray, gripper_topic, 10) if gripper_topic else None
        self.shadow: ShadowTracker | None = None
        if self.config.shadow:
            self.shadow = ShadowTracker(*compared_indices(self.config.plan.layout, self.config.output_mode))
            self.report_pub = self.create_publisher(ShadowReport, SHADOW_REPORT_TOPIC, 10)
            self.get_logger().warning(f"shadow mode: commands on {self.config.topic}, not to a controller")
        self.status_pub = self.create_publisher(ExecutorStatus, "dp/executor_status", 10)
        group = MutuallyExclusiveCallbackGroup
        self.create_subscription(ActionChunk, "dp/action_chunk", self._on_chunk, 10, callback_group=group())
        if self.config.output_mode == "pose":
            self.create_subscription(
                PoseStamped, self.config.measured_pose_topic, self._on_pose, _BEST_EFFORT_1, callback_group=group()
            )
        else:
            self.create_subscription(
                JointState,
                self.config.joint_states_topic,
                self._on_joint_state,
                qos_profile_sensor_data,
                callback_group=group(),
            )
        self.create_subscription(PolicyStatus, "dp/policy_status", self._on_policy_status, 10, callback_group=group())
        self.control_timer = self.create_timer(self.config.plan.period_s, self._on_tick, callback_group=group())
        self.create_timer(1.0 / v["status_rate_hz"], self._publish_status, callback_group=group())

    def _now(self) -> int:
        return self.get_clock().now().nanoseconds

    def _on_chunk(self, msg: ActionChunk) -> None:
        try:
            result = self.core.add_chunk(chunk_from_msg(msg), self._now())
            reason = result.reason if isinstance(result, Rejected) else ""
        except ChunkValidationError as exc:
            reason = self.core.reject(str(exc)).reason
        if reason:
            self.get_logger().warning(
                f"rejected chunk ({self.core.counts['rejected']} so far): {reason}", throttle_duration_sec=2.0
            )

    def _on_joint_state(self, msg: JointState) -> None:
        self.core.set_joint_state(list(msg.name), list(msg.position), time_to_ns(msg.header.stamp), self._now())

    def _on_pose(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        stamp, now = time_to_ns(msg.header.stamp), self._now()
        if self.config.frame_id and msg.header.frame_id != self.config.frame_id:  # a pose we cannot use
            self.core.set_pose([np.nan] * 3, [0.0, 0.0, 0.0, 1.0], stamp, now)
            return self.get_logger().error(
                f"measured pose is in frame '{msg.header.frame_id}', expected '{self.config.frame_id}'",
                throttle_duration_sec=2.0,
            )
        self.core.set_pose([p.x, p.y, p.z], [q.x, q.y, q.z, q.w], stamp, now)

    def _on_policy_status(self, msg: PolicyStatus) -> None:
        self.core.set_policy_state(msg.lifecycle_state, self._now())

    def _on_tick(self) -> None:
        now_ns = self._now()
        out = self.core.tick(now_ns)
        self._publish(out, now_ns)
        if self.shadow is not None:
            measured = self.core.watchdog.measured
            self._report(self.shadow.add(self.core.active_sequence, out.mode, now_ns, out.command, measured), now_ns)
        report = (out.mode, out.reason)
        if report != self._last_report and out.mode in ("stopping", "holding"):
            self.get_logger().warning(f"{out.mode}: {out.reason}", throttle_duration_sec=1.0)
        self._last_report = report

    def _report(self, report: ShadowChunkReport | None, now_ns: int) -> None:
        if report is not None:  # the message's fields are the report's
            self.report_pub.publish(ShadowReport(header=Header(stamp=ns_to_time(now_ns)), **asdict(report)))

    def _publish(self, out: Output, now_ns: int) -> None:
        if out.trajectory is not None:
            self._publish_trajectory(out.trajectory)
        elif out.publish and out.command is not None:
            idx = self.config.command_indices
            if self.config.output_mode == "position":
                self.command_pub.publish(float64_array_to_msg(out.command[idx], label="position"))
            else:
                self.command_pub.publish(
                    pose_to_msg(self.config.pose_vector(out.command), now_ns, self.config.frame_id)
                )
            self.published += 1
        if self.gripper_pub is not None and out.command is not None and out.mode != "idle":
            self.gripper_pub.publish(float64_array_to_msg(out.command[self.config.gripper_indices], label="gripper"))

    def _publish_trajectory(self, traj: Trajectory) -> None:
        """Stamp 0: a JointTrajectoryController starts it on receipt and replaces what it executes."""
        idx = self.config.command_indices
        self.command_pub.publish(
            joint_trajectory_to_msg(
                [self.names[i] for i in idx], traj.times_s, traj.positions[:, idx], 0, traj.velocities[:, idx]
            )
        )
        self.published += 1

    def _publish_status(self) -> None:
        now_ns, core = self._now(), self.core
        msg = ExecutorStatus(mode=core.mode, hold_reason=core.reason if core.mode != "executing" else "")
        msg.header.stamp = ns_to_time(now_ns)
        msg.active_sequence = core.active_sequence
        msg.plan_remaining_s = min(core.remaining_s(now_ns), 1e9)
        msg.chunks_accepted, msg.chunks_rejected = core.counts["accepted"], core.counts["rejected"]
        msg.chunks_clipped, msg.commands_published = core.counts["clipped"], self.published
        self.status_pub.publish(msg)

    def stop(self) -> None:
        """Bring the arm to rest before the node goes (trajectory: one stop trajectory; streams: the
        stop's commands at their times, a fraction of a second within sane limits)."""
        traj = self.core.stop_sequence(self._now())
        if traj is None:
            return
        if self.config.output_mode == "trajectory":
            self._publish_trajectory(traj)
            return time.sleep(0.1)  # let DDS deliver it before the publisher goes
        start = time.monotonic()
        for t_s, command in zip(traj.times_s, traj.positions, strict=True):
            time.sleep(max(0.0, start + float(t_s) - time.monotonic()))
            self._publish(Output("stopping", "shutdown", command, publish=True), self._now())


def main(args: list[str] | None = None) -> None:
    # One thread: rclpy's MultiThreadedExecutor starves under a 1 kHz /joint_states stream (measured
    # by bench_executor.py: ~4 commands/s instead of 250); single-threaded, every input callback is
    # bounded (max_chunk_actions, vectorized checks) and the tick keeps its period (p99 error ~1 ms).
    run_node(
        ChunkExecutorNode, "chunk_executor_node", args, threads=1, on_exit=lambda node: node.stop(), own_sigint=True
    )


if __name__ == "__main__":
    main()
