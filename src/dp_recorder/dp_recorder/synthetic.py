"""Synthetic demonstration streams and bags for tests and benchmarks (no ROS needed).

Values are known functions of the header stamp, so a test can check which sample a dataset
step took: joint ``j`` of JointState reads ``stamp_s + j``, the command pose x/y read
``stamp_s`` / ``-stamp_s``, and pixel (0, 0) of each frame holds the frame index mod 256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.store import Typestore

from dp_core.time_units import ns_to_stamp_fields

JOINT_NAMES = tuple(f"fr3_joint{i}" for i in range(1, 8))


@dataclass(frozen=True)
class StreamRates:
    """Publication rates (Hz) and image size of the synthetic robot."""

    joint_hz: float = 100.0
    camera_hz: float = 30.0
    command_hz: float = 20.0
    width: int = 64
    height: int = 48
    cameras: tuple[str, ...] = ("/camera/top/image_raw",)
    jitter_s: float = 0.002

    def __post_init__(self) -> None:
        for name in ("joint_hz", "camera_hz", "command_hz"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")


def _stamp(ts: Typestore, t_ns: int) -> Any:
    return ts.types["std_msgs/msg/Header"](
        stamp=ts.types["builtin_interfaces/msg/Time"](*ns_to_stamp_fields(t_ns)),
        frame_id="base",
    )


def joint_state(ts: Typestore, t_ns: int) -> Any:
    pos = (t_ns / 1e9 + np.arange(len(JOINT_NAMES))).astype(np.float64)
    return ts.types["sensor_msgs/msg/JointState"](
        header=_stamp(ts, t_ns),
        name=list(JOINT_NAMES),
        position=pos,
        velocity=np.zeros(len(JOINT_NAMES)),
        effort=np.zeros(0),
    )


def image(ts: Typestore, t_ns: int, index: int, width: int, height: int) -> Any:
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = np.arange(width, dtype=np.uint8)[None, :, None] * 3  # horizontal gradient
    pixels[..., 1] = np.arange(height, dtype=np.uint8)[:, None] * 5
    pixels[0, 0] = index % 256
    return ts.types["sensor_msgs/msg/Image"](
        header=_stamp(ts, t_ns),
        height=height,
        width=width,
        encoding="rgb8",
        is_bigendian=0,
        step=width * 3,
        data=pixels.reshape(-1),
    )


def pose_target(ts: Typestore, t_ns: int) -> Any:
    g = ts.types
    s = t_ns / 1e9
    pose = g["geometry_msgs/msg/Pose"](
        position=g["geometry_msgs/msg/Point"](x=s, y=-s, z=0.1),
        orientation=g["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
    )
    return g["geometry_msgs/msg/PoseStamped"](header=_stamp(ts, t_ns), pose=pose)


def stream_schedule(start_ns: int, duration_s: float, rates: StreamRates, seed: int = 0) -> list[tuple[int, str, int]]:
    """(stamp_ns, topic, index) of every message, sorted by stamp; jittered, seeded."""
    rng = np.random.default_rng(seed)
    events: list[tuple[int, str, int]] = []
    topics = [("/joint_states", rates.joint_hz), ("/cartesian_target", rates.command_hz)]
    topics += [(cam, rates.camera_hz) for cam in rates.cameras]
    for topic, hz in topics:
        n = int(duration_s * hz)
        jitter = rng.uniform(0, rates.jitter_s * 1e9, n).astype(np.int64)
        for i in range(n):
            events.append((start_ns + round(i * 1e9 / hz) + int(jitter[i]), topic, i))
    return sorted(events)


def write_synthetic_bag(
    path: Path,
    start_ns: int,
    duration_s: float,
    rates: StreamRates = StreamRates(),
    seed: int = 0,
    storage: StoragePlugin = StoragePlugin.MCAP,
) -> int:
    """Write a rosbag2 with the synthetic streams (record time = stamp + 1 ms); returns messages."""
    ts = get_typestore(Stores.ROS2_JAZZY)
    types = {"/joint_states": "sensor_msgs/msg/JointState", "/cartesian_target": "geometry_msgs/msg/PoseStamped"}
    types.update({cam: "sensor_msgs/msg/Image" for cam in rates.cameras})
    events = stream_schedule(start_ns, duration_s, rates, seed)
    with Writer(path, version=9, storage_plugin=storage) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=ts) for topic, msgtype in types.items()}
        for t_ns, topic, index in events:
            writer.write(
                conns[topic],
                t_ns + 1_000_000,
                ts.serialize_cdr(make_message(ts, topic, t_ns, index, rates), types[topic]),
            )
    return len(events)


def make_message(ts: Typestore, topic: str, t_ns: int, index: int, rates: StreamRates) -> Any:
    """The synthetic message of ``topic`` at ``t_ns`` (rosbags object)."""
    if topic == "/joint_states":
        return joint_state(ts, t_ns)
    if topic == "/cartesian_target":
        return pose_target(ts, t_ns)
    return image(ts, t_ns, index, rates.width, rates.height)


# The dp-convert configuration that reads the streams write_synthetic_bag writes (one joint subset,
# the top camera at 24x32, the x, y of the Cartesian target), shared by the converter's tests.
CONVERT_CONFIG = {
    "rate_hz": 10.0,
    "obs": {
        "joint_pos": {"topic": "/joint_states", "field": "position", "names": ["fr3_joint1", "fr3_joint3"]},
        "top_image": {"topic": "/camera/top/image_raw", "image": [24, 32]},
    },
    "action": {"topic": "/cartesian_target", "field": "pose.position", "components": ["x", "y"]},
}
