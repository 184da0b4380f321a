"""Synthetic cameras and joint states for tests, benchmarks and bring-up checks without hardware.

Every sample encodes its own identity so a consumer can check which sample it got: camera frame
``k`` has red = k % 256, green = 255 - k % 256, blue = 7 (in whatever encoding the camera
publishes); joint ``j`` of a joint state stamped ``t`` has position
``JOINT_RAD_PER_S * (t - base_ns) / 1e9 + JOINT_OFFSET_RAD * j`` where ``base_ns`` is the clock
at construction: a slow, plausible motion whose value gives back the sample time (float32: to
about 10 µs over the first minutes). Publishing runs on its own thread on a wall-clock schedule with
optional jitter; streams can be paused and resumed (stale-camera tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState

from dp_core.time_units import ns_to_s, s_to_ns
from dp_policy_node.conversions import ns_to_time

JOINT_RAD_PER_S = 0.01
JOINT_OFFSET_RAD = 0.1


def joint_sample_ns(position_joint0: float, base_ns: int) -> int:
    """Inverse of the joint encoding: the stamp of the sample whose joint 0 reads ``position_joint0``."""
    return base_ns + s_to_ns(float(position_joint0) / JOINT_RAD_PER_S)


def frame_rgb(index: int, height: int, width: int) -> np.ndarray:
    """The RGB content of frame ``index``."""
    value = index % 256
    return np.broadcast_to(np.array([value, 255 - value, 7], np.uint8), (height, width, 3)).copy()


def frame_index_of(rgb: np.ndarray) -> int:
    """Inverse of ``frame_rgb`` (mod 256) from a decoded, possibly resized frame."""
    return int(round(float(np.median(rgb[..., 0]))))


def encode_frame(rgb: np.ndarray, encoding: str) -> tuple[str, bytes, int]:
    """RGB → (encoding or format, data, step) as a camera driver would publish it."""
    _height, width = rgb.shape[:2]
    if encoding == "rgb8":
        return "rgb8", rgb.tobytes(), width * 3
    if encoding == "bgr8":
        return "bgr8", rgb[..., ::-1].tobytes(), width * 3
    if encoding == "mono8":
        return "mono8", np.ascontiguousarray(rgb[..., 0]).tobytes(), width
    if encoding == "16UC1":  # red value as millimetres x 2000/255 → the decoder maps it back
        depth = np.rint(rgb[..., 0].astype(np.float32) * (2000.0 / 255.0)).astype("<u2")
        return "16UC1", depth.tobytes(), width * 2
    if encoding in ("jpeg", "png"):
        ok, buf = cv2.imencode("." + ("jpg" if encoding == "jpeg" else "png"), rgb[..., ::-1])
        if not ok:
            raise ValueError(f"cannot encode {encoding}")
        return encoding, buf.tobytes(), 0
    raise ValueError(f"unknown encoding {encoding}")


@dataclass
class SyntheticCamera:
    """A camera: topic, encoding (rgb8, bgr8, mono8, 16UC1, jpeg, png), size, rate and jitter."""

    topic: str
    encoding: str = "rgb8"
    height: int = 240
    width: int = 320
    rate_hz: float = 30.0
    jitter_s: float = 0.0
    paused: bool = False
    published: list[int] = field(default_factory=list)  # stamps (ns), index = frame number


class SyntheticSensors:
    """Publishes cameras and a JointState on a thread, stamped with ``node``'s clock."""

    def __init__(
        self,
        node: Node,
        cameras: Sequence[SyntheticCamera],
        joint_names: Sequence[str],
        joint_topic: str = "/joint_states",
        joint_rate_hz: float = 500.0,
        seed: int = 0,
    ) -> None:
        self.node, self.cameras, self.joint_names = node, list(cameras), list(joint_names)
        self.joint_rate_hz = joint_rate_hz
        self.joints_paused = False
        self.joint_published: list[int] = []  # stamps (ns)
        self.base_ns = node.get_clock().now().nanoseconds
        self._rng = np.random.default_rng(seed)
        self._pubs = [
            node.create_publisher(
                CompressedImage if c.encoding in ("jpeg", "png") else Image, c.topic, qos_profile_sensor_data
            )
            for c in self.cameras
        ]
        self._frames: list[dict[int, tuple[str, bytes, int]]] = [{} for _ in self.cameras]
        self._joint_pub = node.create_publisher(JointState, joint_topic, qos_profile_sensor_data)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synthetic_sensors", daemon=True)

    def start(self) -> SyntheticSensors:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout_s)

    def _encoded(self, cam_index: int, frame: int) -> tuple[str, bytes, int]:
        cache, cam = self._frames[cam_index], self.cameras[cam_index]
        key = frame % 256
        if key not in cache:  # 256 distinct frames per camera: encode once
            cache[key] = encode_frame(frame_rgb(key, cam.height, cam.width), cam.encoding)
        return cache[key]

    def _publish_camera(self, i: int, now_ns: int) -> None:
        cam = self.cameras[i]
        stamp_ns = now_ns - int(abs(self._rng.normal(0.0, cam.jitter_s)) * 1e9) if cam.jitter_s else now_ns
        frame = len(cam.published)
        encoding, data, step = self._encoded(i, frame)
        if encoding in ("jpeg", "png"):
            msg = CompressedImage(format=encoding, data=data)
        else:
            msg = Image(height=cam.height, width=cam.width, encoding=encoding, step=step, data=data)
        msg.header.stamp, msg.header.frame_id = ns_to_time(stamp_ns), cam.topic
        cam.published.append(stamp_ns)
        self._pubs[i].publish(msg)

    def _publish_joints(self, now_ns: int) -> None:
        q0 = JOINT_RAD_PER_S * ns_to_s(now_ns - self.base_ns)
        msg = JointState(
            name=self.joint_names, position=[q0 + JOINT_OFFSET_RAD * j for j in range(len(self.joint_names))]
        )
        msg.header.stamp = ns_to_time(now_ns)
        self.joint_published.append(now_ns)
        self._joint_pub.publish(msg)

    def _run(self) -> None:
        periods = [1.0 / c.rate_hz for c in self.cameras] + [1.0 / self.joint_rate_hz]
        start = time.monotonic()
        due = [start] * len(periods)
        while not self._stop.is_set():
            now = time.monotonic()
            for i, when in enumerate(due):
                if now < when:
                    continue
                due[i] = max(when + periods[i], now - periods[i])  # no catch-up bursts after a stall
                stamp_ns = self.node.get_clock().now().nanoseconds
                if i == len(self.cameras):
                    if not self.joints_paused:
                        self._publish_joints(stamp_ns)
                elif not self.cameras[i].paused:
                    self._publish_camera(i, stamp_ns)
            self._stop.wait(max(0.0, min(due) - time.monotonic()))
