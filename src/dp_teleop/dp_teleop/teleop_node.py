"""ROS adapter of teleoperation: Joy / SpaceMouse / keyboard → TwistStamped + PoseStamped target.

Outputs at ``rate_hz``: ``~/twist`` (geometry_msgs/TwistStamped; also on ``servo_twist_topic``
when set, e.g. MoveIt Servo's ``/servo_node/delta_twist_cmds``: moveit_servo's
``cartesian_command_in_topic`` default ``~/delta_twist_cmds``) and ``cartesian_target``
(geometry_msgs/PoseStamped, integrated from the twist, for the Cartesian controller and the
simulator). The target starts at the measured pose (``current_pose``: on the FR3 franka's
``franka_robot_state_broadcaster/current_pose``, O_T_EE, published best effort with depth 1, so
it is subscribed best effort) each time the deadman is pressed, so the target is the end
effector ``current_pose`` reports; the Cartesian controller must control that same frame. A
target further than ``max_target_distance_m`` / ``max_target_angle_rad`` from the measured pose
(or no fresh measured pose) when the deadman engages is refused: nothing is sent until the deadman is released and
pressed again. Stale input (no message within ``input_timeout_s``) and a released deadman give
a zero twist.
"""

from __future__ import annotations

import threading
from typing import Any

from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Joy

from dp_core.time_units import ns_to_s
from dp_msgs.srv import StartEpisode, StopEpisode
from dp_ros_common.node_main import run_node
from dp_ros_common.params import declare_all
from dp_teleop.keyboard import KeyboardConfig, KeyboardMapper, RawTerminal
from dp_teleop.mapping import EpisodeEvent, JoyMapper, JoyMapping, TargetGuard, TeleopLimits, normalized_to_twist
from dp_teleop.messages import pose_from_msg, pose_stamped, twist_stamped
from dp_teleop.teleop_loop import TeleopLoop, TeleopLoopConfig
from dp_teleop.teleop_parameters import PARAMS


class TeleopNode(Node):
    """Maps operator devices to Cartesian commands and recorder service calls (logic: TeleopLoop)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("teleop", **kwargs)
        self.params = p = declare_all(self, PARAMS)
        self.limits = limits = TeleopLimits(
            p["max_linear_mps"], p["max_angular_rps"], tuple(p["workspace_min"]), tuple(p["workspace_max"])
        )
        self.joy = JoyMapper(
            JoyMapping(
                axes=tuple(p["joy_axes"]),
                scales=tuple(p["joy_scales"]),
                deadzone=p["joy_deadzone"],
                deadman_button=p["deadman_button"],
                start_button=p["start_button"],
                keep_success_button=p["keep_success_button"],
                keep_failure_button=p["keep_failure_button"],
                discard_button=p["discard_button"],
            ),
            limits,
        )
        self.keyboard = KeyboardMapper(KeyboardConfig(), limits) if p["use_keyboard"] else None
        self.loop = TeleopLoop(
            TeleopLoopConfig(input_timeout_s=p["input_timeout_s"], max_pose_age_s=p["max_pose_age_s"]),
            limits,
            TargetGuard(p["max_target_distance_m"], p["max_target_angle_rad"]),
            self.keyboard,
        )
        self.twist_pub = self.create_publisher(TwistStamped, "~/twist", 10)
        self.servo_pub = (
            self.create_publisher(TwistStamped, p["servo_twist_topic"], 10) if p["servo_twist_topic"] else None
        )
        self.pose_pub = self.create_publisher(PoseStamped, "cartesian_target", 10)
        self.create_subscription(Joy, "joy", self._on_joy, 10)
        self.create_subscription(Twist, "spacenav/twist", self._on_spacenav, 10)
        # franka_robot_state_broadcaster publishes current_pose best effort, depth 1 (a best-effort
        # subscription also takes reliable publishers, e.g. dp_sim's /ee_pose)
        self.create_subscription(
            PoseStamped,
            "current_pose",
            self._on_pose,
            QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT),
        )
        rec = p["recorder"].rstrip("/")
        self.episode_clients = {
            EpisodeEvent.START: self.create_client(StartEpisode, f"{rec}/start_episode"),
            EpisodeEvent.KEEP_SUCCESS: self.create_client(StopEpisode, f"{rec}/stop_episode"),
            EpisodeEvent.KEEP_FAILURE: self.create_client(StopEpisode, f"{rec}/stop_episode"),
            EpisodeEvent.DISCARD: self.create_client(StopEpisode, f"{rec}/discard_episode"),
        }
        if len(p["initial_position"]) == 3:
            self.loop.integrator.reset(p["initial_position"], p["initial_orientation_xyzw"])
        self.create_timer(1.0 / p["rate_hz"], self._tick)

    def _now(self) -> float:
        """Seconds on the node's clock: sim time under use_sim_time (a sim ticked faster or slower
        than real time integrates the same target), else the system clock."""
        return ns_to_s(self.get_clock().now().nanoseconds)

    def _on_joy(self, msg: Joy) -> None:
        state = self.joy.update(list(msg.axes), list(msg.buttons))
        self.loop.set_input("joy", self._now(), state.twist, state.deadman)
        for event in state.events:
            self.send_event(event)

    def _on_spacenav(self, msg: Twist) -> None:
        # spacenav publishes deflections in about [-1, 1] per axis
        values = [msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y, msg.angular.z]
        self.loop.set_input("spacenav", self._now(), normalized_to_twist(values, self.limits), True)

    def _on_pose(self, msg: PoseStamped) -> None:
        if msg.header.frame_id not in ("", self.params["frame_id"]):
            self.get_logger().error(
                f"current_pose is in '{msg.header.frame_id}', not '{self.params['frame_id']}': ignored",
                throttle_duration_sec=5.0,
            )
            return
        self.loop.set_measured(*pose_from_msg(msg), self._now())

    def key_pressed(self, key: str) -> None:
        event = self.loop.key_pressed(key, self._now())
        if event is not None:
            self.send_event(event)

    def _tick(self) -> None:
        out = self.loop.tick(self._now())
        if out.refusal is not None:
            self.get_logger().error(f"teleop target refused: {out.refusal}; release and press the deadman again")
        msg = twist_stamped(self.get_clock().now().to_msg(), self.params["frame_id"], out.twist)
        self.twist_pub.publish(msg)
        if self.servo_pub is not None:
            self.servo_pub.publish(msg)
        if out.target is not None:
            self.pose_pub.publish(pose_stamped(msg.header, *out.target))

    def send_event(self, event: EpisodeEvent) -> None:
        """Call the recorder service bound to ``event`` (asynchronously; the result is logged)."""
        client = self.episode_clients[event]
        if not client.service_is_ready():
            self.get_logger().warning(f"{event.value}: recorder service {client.srv_name} is not available")
            return
        if event is EpisodeEvent.START:
            request = StartEpisode.Request(task=self.params["task"], note="teleop")
        else:
            request = StopEpisode.Request(task_success=event is EpisodeEvent.KEEP_SUCCESS, note="teleop")
        future = client.call_async(request)
        future.add_done_callback(
            lambda f, e=event: self.get_logger().info(
                f"{e.value}: {f.result().message if f.result() else f.exception()}"
            )
        )


def _keyboard_loop(node: TeleopNode, stop: threading.Event) -> None:
    with RawTerminal() as term:
        while not stop.is_set():
            for key in term.read_keys(0.05):
                node.key_pressed(key)


def main(args: list[str] | None = None) -> None:
    stop = threading.Event()

    def make_node() -> TeleopNode:
        node = TeleopNode()
        if node.keyboard is not None:
            threading.Thread(target=_keyboard_loop, args=(node, stop), daemon=True).start()
            node.get_logger().info(
                "keyboard: w/s a/d r/f move, q/e yaw, space stop, 1 start, 2 keep, 3 failed, 0 discard"
            )
        return node

    run_node(make_node, "teleop", args, release=lambda _node: stop.set())


if __name__ == "__main__":
    main()
