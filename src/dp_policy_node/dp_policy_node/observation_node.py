"""observation_node: camera + robot-state streams → time-aligned dp_msgs/ObservationWindow.

A window goes out as soon as every stream contributes a sample newer than the one it
contributed to the last window (no timer phase delay), at most ``max_window_rate_hz``; a timer
at ``rate_hz`` publishes the status and notices stale streams. Comparing samples, not window
stamps, matters: when a fast stream (joint states) briefly lags a camera, the window is stamped
at the lagging sample and still holds the previous frame; the next joint sample would then make
a second window from the same frames, which only queues behind the first inference. So while the
stream that limits the window time is the faster one and its next sample is due before the
next-oldest stream's newest sample, the window waits for that sample (at most one of its periods).

Adapter only: frames are decoded/resized by ``dp_core.sensors.images`` and windows are built by
``dp_core.timing.alignment.WindowBuilder`` (latest sample not after each target, staleness).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState

from dp_core.sensors.images import ImageTransform, message_to_frame
from dp_core.time_units import NS_PER_S
from dp_core.timing.alignment import AlignmentConfig, WindowResult, build_window
from dp_core.timing.stream_buffer import StreamBuffer
from dp_msgs.msg import ObservationStatus
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
from dp_policy_node.conversions import joint_positions_from_msg, pose_from_msg, time_to_ns, window_to_msg
from dp_policy_node.streams import CameraStream, ObservationStreams, declare_streams
from dp_ros_common.node_main import run_node
from dp_ros_common.params import Param, declare_all

PARAMS = [
    Param("rate_hz", 10.0, "status rate and staleness check in Hz (default 10)"),
    Param("max_window_rate_hz", 30.0, "windows go out when every stream has a newer sample, at most this often (Hz)"),
    Param("n_obs_steps", 2, "frames per window, the policy's n_obs_steps (default 2)"),
    Param("dt_s", 0.1, "seconds between window frames, the policy's dt_s (default 0.1)"),
    Param("max_age_s", 0.25, "a stream whose newest sample is older than this (s) invalidates the window"),
    Param("image_buffer_capacity", 48, "frames kept per camera; must cover (n_obs_steps - 1) * dt_s + max_age_s"),
    Param("state_buffer_capacity", 1024, "samples kept per robot-state stream (1024 = 2 s at 500 Hz)"),
    Param("image_crop", "center", "center (crop to aspect, then resize) or none (resize only)"),
]


@dataclass(frozen=True)
class ObservationNodeConfig:
    """Window timing (dp_core AlignmentConfig) + streams + publish rate."""

    alignment: AlignmentConfig
    streams: ObservationStreams
    rate_hz: float
    max_window_rate_hz: float
    image_buffer_capacity: int
    state_buffer_capacity: int
    image_crop: str

    def __post_init__(self) -> None:
        if not (self.rate_hz > 0 and self.max_window_rate_hz > 0):
            raise ValueError(
                f"rate_hz and max_window_rate_hz must be > 0, got {self.rate_hz}, {self.max_window_rate_hz}"
            )
        if min(self.image_buffer_capacity, self.state_buffer_capacity) < 2:
            raise ValueError("image_buffer_capacity and state_buffer_capacity must be >= 2")


class ObservationNode(Node):
    """Buffers every stream by header stamp and publishes aligned windows at ``rate_hz``."""

    def __init__(self, node_name: str = "observation_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        v = declare_all(self, PARAMS)
        self.config = ObservationNodeConfig(
            alignment=AlignmentConfig(n_obs_steps=v["n_obs_steps"], dt_s=v["dt_s"], max_age_s=v["max_age_s"]),
            streams=declare_streams(self),
            rate_hz=v["rate_hz"],
            max_window_rate_hz=v["max_window_rate_hz"],
            image_buffer_capacity=v["image_buffer_capacity"],
            state_buffer_capacity=v["state_buffer_capacity"],
            image_crop=v["image_crop"],
        )
        streams = self.config.streams
        self.kinds = {o.name: o.kind for o in streams.obs_specs}
        self.buffers = {
            name: StreamBuffer(
                self.config.image_buffer_capacity if kind == "rgb" else self.config.state_buffer_capacity, name
            )
            for name, kind in self.kinds.items()
        }
        self.windows_published = self.windows_invalid = self.messages_rejected = 0
        self._last_window_stamp = -1
        self._last_samples = dict.fromkeys(self.kinds, -1)  # stream -> stamp of its sample in the last window
        self._periods_ns = dict.fromkeys(self.kinds, 0)  # stream -> its last sample interval (0: unknown)
        self._last_publish_ns = -(2**62)
        self._min_window_period_ns = round(1e9 / self.config.max_window_rate_hz)
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
        """Convert one message and buffer it; a bad message is counted and logged (throttled)."""
        try:
            stamp_ns = time_to_ns(stamp)
            if stamp_ns <= 0:
                raise ValueError("header.stamp is zero; stamp messages with the sensor time")
            buffer = self.buffers[stream]
            previous_ns = buffer.newest_stamp_ns
            buffer.add(stamp_ns, convert())
            if previous_ns is not None and stamp_ns > previous_ns:
                self._periods_ns[stream] = stamp_ns - previous_ns
        except ValueError as exc:
            self.messages_rejected += 1
            self.get_logger().warning(
                f"rejected a '{stream}' message ({self.messages_rejected} so far): {exc}", throttle_duration_sec=2.0
            )
            return
        if self._window_due():
            now_ns = self.get_clock().now().nanoseconds
            if now_ns - self._last_publish_ns >= self._min_window_period_ns:
                self._publish_window(build_window(self.buffers, self.kinds, now_ns, self.config.alignment), now_ns)

    def _window_due(self) -> bool:
        """Every stream has moved on since the last window, and no faster stream is about to catch up."""
        newest = {name: b.newest_stamp_ns for name, b in self.buffers.items()}
        if any(t is None or t <= self._last_samples[name] for name, t in newest.items()):
            return False
        if len(newest) < 2:
            return True
        (limit, t_limit), (held, t_held) = sorted(newest.items(), key=lambda item: item[1])[:2]
        period = self._periods_ns[limit]
        return not (0 < period < self._periods_ns[held] and t_limit + period >= t_held)

    def _publish_window(self, result: WindowResult, now_ns: int) -> None:
        """Publish a valid window when every stream brings a newer sample than in the last window."""
        w = result.window
        if w is None or int(w.stamps_ns[-1]) <= self._last_window_stamp:
            return
        newest = {name: int(chosen[-1]) for name, chosen in w.sample_stamps_ns.items()}
        if any(newest.get(name, -1) <= last for name, last in self._last_samples.items()):
            return  # the same frame again in some stream (it lags the window stamp): wait for a new one
        self._last_samples = newest
        self._last_window_stamp, self._last_publish_ns = int(w.stamps_ns[-1]), now_ns
        self.window_pub.publish(window_to_msg(w.stamps_ns, w.low_dim, w.images))
        self.windows_published += 1

    def _on_timer(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        result = build_window(self.buffers, self.kinds, now_ns, self.config.alignment)
        if result.window is not None:
            self._publish_window(result, now_ns)  # catches windows held back by max_window_rate_hz
        else:
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
        max_age_ns = self.config.alignment.max_age_ns
        for name, buf in self.buffers.items():
            newest = buf.newest_stamp_ns
            msg.stream_names.append(name)
            msg.stream_ages_s.append(np.inf if newest is None else (now_ns - newest) / NS_PER_S)
            msg.stream_stale.append(newest is None or now_ns - newest > max_age_ns)
        msg.windows_published, msg.windows_invalid = self.windows_published, self.windows_invalid
        msg.messages_rejected = self.messages_rejected
        return msg


def main(args: list[str] | None = None) -> None:
    run_node(ObservationNode, "observation_node", args)


if __name__ == "__main__":
    main()
