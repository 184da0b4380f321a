"""observation_node: camera + robot-state streams → time-aligned dp_msgs/ObservationWindow.

Adapter only: messages are converted on arrival (``dp_core.sensors.images`` decodes and resizes
frames, ``conversions`` reads joint states and poses) and handed to
``dp_core.timing.window_trigger.WindowTrigger``, which decides when a window goes out (every
stream newer than in the last window, a lagging faster stream waited for, at most
``max_window_rate_hz``); a timer at ``rate_hz`` publishes the status and any held-back window.
The window's shape is the policy's: from ``checkpoint_path``'s spec (see ``observation_config``).
"""

from __future__ import annotations

from typing import Any

from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState

from dp_core.sensors.images import ImageTransform, message_to_frame
from dp_core.spec import load_spec
from dp_core.timing.observation_window import ObservationWindowData
from dp_core.timing.window_trigger import WindowTrigger
from dp_msgs.msg import ObservationStatus
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
from dp_policy_node.conversions import joint_positions_from_msg, pose_from_msg, time_to_ns, window_to_msg
from dp_policy_node.observation_config import CameraStream, ObservationNodeConfig
from dp_policy_node.streams import declare_streams
from dp_ros_common.node_main import LATENCY_EXECUTOR, run_node
from dp_ros_common.params import Param, declare_all

PARAMS = [
    Param("checkpoint_path", "", "checkpoint whose spec gives n_obs_steps, dt_s and camera sizes (checked vs streams)"),
    Param("rate_hz", 10.0, "status rate and staleness check in Hz (default 10)"),
    Param("max_window_rate_hz", 30.0, "windows go out when every stream has a newer sample, at most this often (Hz)"),
    Param("n_obs_steps", 0, "frames per window; 0: the checkpoint's (set: must equal it)"),
    Param("dt_s", 0.0, "seconds between window frames; 0: the checkpoint's (set: must equal it)"),
    Param("max_age_s", 0.25, "a stream whose newest sample is older than this (s) invalidates the window"),
    Param("image_buffer_capacity", 48, "frames kept per camera; must cover (n_obs_steps - 1) * dt_s + max_age_s"),
    Param("state_buffer_capacity", 1024, "samples kept per robot-state stream (1024 = 2 s at 500 Hz)"),
    Param("image_crop", "center", "center (crop to aspect, then resize) or none (resize only)"),
]


class ObservationNode(Node):
    """Buffers every stream by header stamp and publishes aligned windows at ``rate_hz``."""

    def __init__(self, node_name: str = "observation_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        v = declare_all(self, PARAMS)
        spec = load_spec(v["checkpoint_path"]) if v["checkpoint_path"] else None
        self.config = ObservationNodeConfig.build(v, declare_streams(self), spec)
        streams = self.config.streams
        self.trigger = WindowTrigger(self.config.trigger, {o.name: o.kind for o in streams.obs_specs})
        self.windows_published = self.windows_invalid = self.messages_rejected = 0
        self._last_message = ""
        for cam in streams.cameras:
            self._subscribe_camera(cam)
        # robot state comes at up to 1 kHz: a deeper queue than sensor_data's 5 rides out executor hiccups
        state_qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.create_subscription(JointState, streams.joint_topic, self._on_joint_state, state_qos)
        if streams.pose_topic:
            self.create_subscription(PoseStamped, streams.pose_topic, self._on_pose, state_qos)
        self.window_pub = self.create_publisher(ObservationWindowMsg, "dp/observation_window", 5)
        self.status_pub = self.create_publisher(ObservationStatus, "dp/observation_status", 5)
        self.timer = self.create_timer(1.0 / self.config.rate_hz, self._on_timer)

    def _subscribe_camera(self, cam: CameraStream) -> None:
        transform = ImageTransform(out_h=cam.height, out_w=cam.width, crop=self.config.image_crop)

        def on_image(msg: Image | CompressedImage) -> None:  # the bag converter's path (message_to_frame)
            self._store(cam.name, msg.header.stamp, lambda: message_to_frame(msg, transform))

        msg_type = Image if cam.transport == "raw" else CompressedImage
        self.create_subscription(msg_type, cam.topic, on_image, qos_profile_sensor_data)

    def _on_joint_state(self, msg: JointState) -> None:
        names = self.config.streams.joint_names
        self._store(self.config.streams.joint_key, msg.header.stamp, lambda: joint_positions_from_msg(msg, names))

    def _on_pose(self, msg: PoseStamped) -> None:
        self._store(self.config.streams.pose_key, msg.header.stamp, lambda: pose_from_msg(msg))

    def _store(self, stream: str, stamp: Any, convert: Any) -> None:
        """Convert one message and hand it to the trigger; a bad message is counted and logged (throttled)."""
        now_ns = self.get_clock().now().nanoseconds
        try:
            window = self.trigger.add(stream, time_to_ns(stamp), convert(), now_ns)
        except ValueError as exc:
            self.messages_rejected += 1
            self.get_logger().warning(
                f"rejected a '{stream}' message ({self.messages_rejected} so far): {exc}", throttle_duration_sec=2.0
            )
            return
        if window is not None:
            self._publish(window)

    def _publish(self, window: ObservationWindowData) -> None:
        self.window_pub.publish(window_to_msg(window.stamps_ns, window.low_dim, window.images))
        self.windows_published += 1

    def _on_timer(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        result, held = self.trigger.poll(now_ns)
        if held is not None:
            self._publish(held)  # a window held back by max_window_rate_hz
        if not result.ok:
            self.windows_invalid += 1
            if result.message != self._last_message:
                self.get_logger().warning(f"no observation: {result.message}", throttle_duration_sec=2.0)
        self._last_message = result.message
        self.status_pub.publish(self._status(now_ns, result.ok, result.message))

    def _status(self, now_ns: int, valid: bool, message: str) -> ObservationStatus:
        msg = ObservationStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.window_valid = valid
        msg.message = "" if valid else message
        max_age_s = self.config.trigger.alignment.max_age_s
        for name, age_s in self.trigger.ages_s(now_ns).items():
            msg.stream_names.append(name)
            msg.stream_ages_s.append(age_s)
            msg.stream_stale.append(age_s > max_age_s)
        msg.windows_published, msg.windows_invalid = self.windows_published, self.windows_invalid
        msg.messages_rejected = self.messages_rejected
        return msg


def main(args: list[str] | None = None) -> None:
    run_node(ObservationNode, "observation_node", args, executor=LATENCY_EXECUTOR)


if __name__ == "__main__":
    main()
