"""chunk_executor_node: ActionChunks → limited commands at the control rate (dp_core ChunkPlan).

Outputs (``output_mode``): JointTrajectory (retimed remainder, on every accepted chunk),
Float64MultiArray position stream, or PoseStamped targets (full pose actions, or planar x, y with
z and orientation from ``pose_defaults``); an optional gripper topic. The
watchdog (policy inactive, stale robot state, exhausted plan) makes it hold the last command.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import rclpy
from dp_msgs.msg import ActionChunk, ExecutorStatus, PolicyStatus
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dp_core.control.action_chunk import ChunkValidationError
from dp_core.control.plan import ChunkPlan
from dp_core.control.watchdog import Watchdog
from dp_policy_node.conversions import (chunk_from_msg, float64_array_to_msg, joint_positions_from_msg,
                                        joint_trajectory_to_msg, ns_to_time, pose_to_msg, time_to_ns)
from dp_policy_node.executor_config import build_config
from dp_policy_node.params import Param, declare_all
from dp_policy_node.node_main import run_node

_F, _S = Parameter.Type.DOUBLE_ARRAY, Parameter.Type.STRING_ARRAY
PARAMS = [
    Param("action_names", [], "action dimensions in policy order (joint names rad, x y z m, qx..qw, gripper m)", _S),
    Param("control_rate_hz", 250.0, "command rate in Hz (default 250)"),
    Param("output_mode", "position", "trajectory (JointTrajectory), position (Float64MultiArray) or pose (PoseStamped)"),
    Param("command_topic", "", "command topic; empty = the controller's default for the mode"),
    Param("gripper_topic", "", "gripper dimensions as Float64MultiArray here (empty: part of the command)"),
    Param("gripper_names", [], "action names that are grippers (empty: names containing 'gripper'/'finger')", _S),
    Param("frame_id", "", "frame of Cartesian targets (pose mode)"),
    Param("pose_defaults", [], "pose mode: [x, y, z] m + [qx, qy, qz, qw] for pose components not in the actions "
          "(e.g. z and orientation of planar x, y actions); empty: the actions are the full pose", _F),
    Param("trajectory_period_s", 0.02, "sample period of published JointTrajectory points, s"),
    Param("interpolation", "linear", "linear or cubic between action steps"),
    Param("blend_s", 0.1, "a new chunk takes over from the current command over this many seconds"),
    Param("ensemble", False, "temporal ensembling of overlapping chunks"),
    Param("ensemble_decay", 0.01, "ensembling weight exp(-decay * rank)"),
    Param("max_future_s", 0.5, "reject chunks stamped more than this in the future (s)"),
    Param("max_past_s", 1.0, "reject chunks whose observation is older than this (s)"),
    Param("limit_mode", "clip", "clip (limit each command) or reject (refuse violating chunks)"),
    Param("joint_limits.names", [], "joints the limits below apply to (empty: all joint actions)", _S),
    Param("joint_limits.position_min", [], "rad per joint (empty: unbounded)", _F),
    Param("joint_limits.position_max", [], "rad per joint (empty: unbounded)", _F),
    Param("joint_limits.velocity_max", [], "rad/s per joint (empty: no joint limits)", _F),
    Param("joint_limits.acceleration_max", [], "rad/s^2 per joint (empty: unlimited)", _F),
    Param("cartesian_limits.box_min", [], "workspace box min [x, y, z] m (empty: no Cartesian limits)", _F),
    Param("cartesian_limits.box_max", [], "workspace box max [x, y, z] m", _F),
    Param("cartesian_limits.max_linear_speed", 0.25, "m/s"),
    Param("cartesian_limits.max_angular_speed", 1.0, "rad/s"),
    Param("max_step_from_measured", 0.0, "max distance of a chunk's first command from the measured state (0: off)"),
    Param("max_state_age_s", 0.1, "hold when the newest /joint_states is older than this (s)"),
    Param("require_robot_state", True, "hold while no fresh joint state arrives"),
    Param("status_rate_hz", 10.0, "ExecutorStatus rate in Hz"),
]


class ChunkExecutorNode(Node):
    """See the module docstring."""

    def __init__(self, node_name: str = "chunk_executor_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        v = declare_all(self, PARAMS)
        self.config = build_config(v)
        self.plan = ChunkPlan(self.config.plan)
        self.watchdog = Watchdog(self.config.watchdog)  # decides every control tick
        self.gate = Watchdog(self.config.watchdog)  # the same rule for incoming chunks
        self.policy_state = ""  # lifecycle label from PolicyStatus; "" = never heard (no policy status topic)
        self.state_stamp_ns: int | None = None
        self.names = self.config.plan.action_names
        self.measured: np.ndarray | None = None
        self.counts = dict(accepted=0, rejected=0, clipped=0, published=0)
        self.hold_reason, self.active_sequence, self.last_stamp_ns = "idle", 0, -1
        self.mode = "idle"
        msg_type = {"trajectory": JointTrajectory, "position": Float64MultiArray, "pose": PoseStamped}
        self.command_pub = self.create_publisher(msg_type[self.config.output_mode], self.config.topic, 10)
        self.gripper_pub = (self.create_publisher(Float64MultiArray, self.config.gripper_topic, 10)
                            if self.config.gripper_topic else None)
        self.status_pub = self.create_publisher(ExecutorStatus, "dp/executor_status", 10)
        inputs = MutuallyExclusiveCallbackGroup()  # chunk checks never delay the control tick
        self.create_subscription(ActionChunk, "dp/action_chunk", self._on_chunk, 10, callback_group=inputs)
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, qos_profile_sensor_data,
                                 callback_group=inputs)
        self.create_subscription(PolicyStatus, "dp/policy_status", self._on_policy_status, 10, callback_group=inputs)
        self.control_timer = self.create_timer(self.config.plan.period_s, self._on_tick,
                                               callback_group=MutuallyExclusiveCallbackGroup())
        self.create_timer(1.0 / v["status_rate_hz"], self._publish_status, callback_group=inputs)

    def _reject(self, reason: str) -> None:
        self.counts["rejected"] += 1
        self.get_logger().warning(f"rejected chunk ({self.counts['rejected']} so far): {reason}",
                                  throttle_duration_sec=2.0)

    def _on_chunk(self, msg: ActionChunk) -> None:
        now_ns = self.get_clock().now().nanoseconds
        try:
            chunk = chunk_from_msg(msg)
        except ChunkValidationError as exc:
            return self._reject(str(exc))
        if chunk.stamp_ns <= self.last_stamp_ns:
            return self._reject(f"chunk {chunk.sequence} is not newer than the chunk in execution (reordered)")
        gate = self.gate.check(now_ns, policy_active=self.policy_active, plan_exhausted=False,
                               last_state_ns=self.state_stamp_ns)
        if gate.hold:
            return self._reject(f"holding: {gate.reason}")
        result = self.plan.add_chunk(chunk, now_ns, self.measured)
        if not result:
            return self._reject(result.reason)
        self.counts["accepted"] += 1
        self.counts["clipped"] += int(bool(result.violations))
        self.active_sequence, self.last_stamp_ns = chunk.sequence, chunk.stamp_ns
        if self.config.output_mode == "trajectory":
            times, values = self.plan.trajectory(now_ns, self.config.trajectory_period_s)
            if len(times):
                self._publish_trajectory(times, values)

    def _on_joint_state(self, msg: JointState) -> None:
        self.state_stamp_ns = time_to_ns(msg.header.stamp)
        try:
            self.measured = joint_positions_from_msg(msg, self.names).astype(np.float64)
        except ValueError:  # Cartesian actions or a partial state: no per-dimension measurement
            self.measured = None

    def _on_policy_status(self, msg: PolicyStatus) -> None:
        self.policy_state = msg.lifecycle_state

    @property
    def policy_active(self) -> bool:
        return self.policy_state in ("", "active")

    def _on_tick(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        if not self.policy_active:
            # The policy is off: command nothing (controllers keep their last command), so that a
            # ready-pose move or a reset is not fought, and start the next plan from the measured state.
            if self.mode != "idle" or self.plan.last_command is not None:
                self.plan.clear(forget_command=True)
                self.mode, self.hold_reason = "idle", f"policy {self.policy_state}"
            return
        decision = self.watchdog.check(now_ns, policy_active=self.policy_active,
                                       plan_exhausted=self.plan.exhausted(now_ns), last_state_ns=self.state_stamp_ns)
        if decision.hold:  # forget the plan (the limiter comes to rest) and hold the last command
            self.plan.clear()
            command, reason = None, decision.reason
            if self.watchdog.changed and self.mode == "executing":
                self.get_logger().warning(f"holding: {reason}")
        else:
            command = self.plan.command_at(now_ns)
            reason = "" if command is not None else "no command for now (gap in the plan)"
        was_holding = self.mode == "holding"
        if command is None:
            command = self.plan.last_command
        self.hold_reason = reason
        self.mode = "idle" if command is None else ("holding" if reason else "executing")
        if command is None:
            return
        if self.config.output_mode == "trajectory":
            if reason and not was_holding:  # the controller keeps the last point: one hold point suffices
                self._publish(command, now_ns)
        else:
            self._publish(command, now_ns)

    def _publish(self, command: np.ndarray, now_ns: int) -> None:
        idx = self.config.command_indices
        if self.config.output_mode == "position":
            self.command_pub.publish(float64_array_to_msg(command[idx], label="position"))
        elif self.config.output_mode == "pose":
            self.command_pub.publish(pose_to_msg(self.config.pose_vector(command), now_ns, self.config.frame_id))
        else:
            self._publish_trajectory(np.zeros(1), command[None], count=False)
        if self.gripper_pub is not None:
            self.gripper_pub.publish(float64_array_to_msg(command[self.config.gripper_indices], label="gripper"))
        self.counts["published"] += 1

    def _publish_trajectory(self, times: np.ndarray, values: np.ndarray, count: bool = True) -> None:
        """Send the plan's samples from now as a trajectory that starts when the controller receives it.

        Stamp 0 means "start on receipt" to a JointTrajectoryController. A trajectory stamped with the
        send time would be refused as "ends in the past" whenever delivery takes longer than its
        remainder (a short remainder or a one-point hold on a loaded machine); on receipt it runs in
        full, shifted by the delivery latency (ms). The sample at time 0 is where the arm is commanded
        now, which the controller starts from anyway, so it is dropped; a lone sample is reached in
        one trajectory period.
        """
        idx = self.config.command_indices
        times, values = np.asarray(times, float), np.asarray(values)[:, idx]
        later = times > 0
        if np.any(later):
            times, values = times[later], values[later]
        else:
            times, values = np.array([self.config.trajectory_period_s]), values[-1:]
        self.command_pub.publish(joint_trajectory_to_msg([self.names[i] for i in idx], times, values, 0))
        if count:
            self.counts["published"] += 1

    def _publish_status(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        msg = ExecutorStatus(mode=self.mode, hold_reason=self.hold_reason if self.mode != "executing" else "")
        msg.header.stamp = ns_to_time(now_ns)
        msg.active_sequence = self.active_sequence
        msg.plan_remaining_s = self.plan.remaining_s(now_ns)
        msg.chunks_accepted, msg.chunks_rejected = self.counts["accepted"], self.counts["rejected"]
        msg.chunks_clipped, msg.commands_published = self.counts["clipped"], self.counts["published"]
        self.status_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    # Two threads: the control-rate timer and the inputs are in separate callback groups.
    run_node(ChunkExecutorNode, "chunk_executor_node", args, threads=2)


if __name__ == "__main__":
    main()
