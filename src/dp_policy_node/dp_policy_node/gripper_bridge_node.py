"""gripper_bridge_node: the executor's gripper width (Float64MultiArray) → franka_gripper goals.

franka_gripper offers only actions (franka_ros2 ``franka_gripper/src/gripper_action_server.cpp``:
``~/move`` franka_msgs/action/Move, ``~/grasp`` franka_msgs/action/Grasp, node ``/franka_gripper``),
so a width stream cannot drive the Hand directly. The decision (when to grasp, when to open)
is :class:`dp_core.control.gripper.GripperHysteresis`; this node only sends its goals, cancels
the one still running first, and logs the results. It also republishes the measured width
(franka_gripper's finger joint states: each finger is width / 2) on ``~/width`` for status
displays; the recorder and the observation node read the finger joints from the joint states.
"""

from __future__ import annotations

import math
from typing import Any

from franka_msgs.action import Grasp, Move
from franka_msgs.msg import GraspEpsilon
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, Float64MultiArray

from dp_core.control.gripper import GripperConfig, GripperGoal, GripperHysteresis, GripperState
from dp_ros_common.node_main import run_node
from dp_ros_common.params import Param, declare_all

PARAMS = (
    Param("command_topic", "/dp/gripper_command", "the executor's gripper_topic (std_msgs/Float64MultiArray)"),
    Param("command_index", 0, "which value of the command is the gripper"),
    Param("command_scale", 1.0, "width (m) = scale * value (2.0 when the action is a finger joint: width / 2)"),
    Param("gripper_namespace", "/franka_gripper", "franka_gripper's node (its actions and joint_states)"),
    Param(
        "finger_joints", ["fr3_finger_joint1", "fr3_finger_joint2"], "finger joints whose positions sum to the width"
    ),
    *(
        Param(f, getattr(GripperConfig(), f), "dp_core.control.gripper.GripperConfig field (m, m/s, N)")
        for f in GripperConfig.__dataclass_fields__
    ),
)


class GripperBridgeNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("gripper_bridge_node", **kwargs)
        p = declare_all(self, PARAMS)
        self.params = p
        self.hysteresis = GripperHysteresis(
            GripperConfig(**{f: float(p[f]) for f in GripperConfig.__dataclass_fields__})
        )
        ns = str(p["gripper_namespace"]).rstrip("/")
        self.gripper_clients = {
            "move": ActionClient(self, Move, f"{ns}/move"),
            "grasp": ActionClient(self, Grasp, f"{ns}/grasp"),
        }
        self.goals_sent = 0
        self.rejected = 0
        self._running = None  # goal handle of the goal in flight
        self.measured_width_m = math.nan
        self._width_pub = self.create_publisher(Float64, "~/width", 10)
        self.create_subscription(Float64MultiArray, p["command_topic"], self._on_command, 10)
        self.create_subscription(JointState, f"{ns}/joint_states", self._on_fingers, qos_profile_sensor_data)

    def _on_command(self, msg: Float64MultiArray) -> None:
        i = int(self.params["command_index"])
        try:
            if not 0 <= i < len(msg.data):
                raise ValueError(f"gripper command has {len(msg.data)} values, command_index is {i}")
            goal = self.hysteresis.update(float(self.params["command_scale"]) * float(msg.data[i]))
        except ValueError as err:  # bad data: the Hand keeps doing what it does
            self.rejected += 1
            self.get_logger().warning(
                f"rejected gripper command ({self.rejected} so far): {err}", throttle_duration_sec=1.0
            )
            return
        if goal is not None:
            self.send(goal)

    def send(self, goal: GripperGoal) -> None:
        client = self.gripper_clients[goal.action]
        if not client.server_is_ready():
            self.get_logger().error(
                f"franka_gripper's {goal.action} action is not available: not sent", throttle_duration_sec=1.0
            )
            self.hysteresis.state = GripperState.UNKNOWN  # send it again with the next command
            return
        if self._running is not None:
            self._running.cancel_goal_async()
        if goal.action == "move":
            request = Move.Goal(width=goal.width_m, speed=goal.speed_mps)
        else:
            request = Grasp.Goal(
                width=goal.width_m,
                speed=goal.speed_mps,
                force=goal.force_n,
                epsilon=GraspEpsilon(inner=goal.epsilon_inner_m, outer=goal.epsilon_outer_m),
            )
        self.goals_sent += 1
        self.get_logger().info(f"{goal.action} to {goal.width_m:.3f} m")
        client.send_goal_async(request).add_done_callback(lambda f, a=goal.action: self._accepted(a, f))

    def _accepted(self, action: str, future) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self.get_logger().error(f"{action} goal was not accepted")
            return
        self._running = handle
        handle.get_result_async().add_done_callback(lambda f, a=action: self._done(a, f))

    def _done(self, action: str, future) -> None:
        result = future.result().result
        if result.success:
            self.get_logger().info(f"{action} succeeded")
        else:
            self.get_logger().warning(f"{action} did not succeed: {result.error}")

    def _on_fingers(self, msg: JointState) -> None:
        names = list(msg.name)
        try:
            self.measured_width_m = sum(msg.position[names.index(j)] for j in self.params["finger_joints"])
        except (ValueError, IndexError):
            return
        self._width_pub.publish(Float64(data=float(self.measured_width_m)))


def main(args: list[str] | None = None) -> None:
    run_node(GripperBridgeNode, "gripper_bridge_node", args)


if __name__ == "__main__":
    main()
