"""sensor_msgs/Image ⇄ RGB arrays for the publishers of this workspace (the sim's cameras, synthetic sensors).

Receiving nodes decode every encoding through ``dp_core.sensors.images``; this is the rgb8 form
that our own publishers send, kept in one place so that the sim and the node tests agree.
"""

from __future__ import annotations

import array

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image

from dp_ros_common.stamps import ns_to_time


def rgb_to_image_msg(image: np.ndarray, stamp_ns: int, frame_id: str = "", stamp: Time | None = None) -> Image:
    """(H, W, 3) uint8 RGB → sensor_msgs/Image rgb8 (``stamp``: ``stamp_ns`` already as a message)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {image.dtype} {image.shape}")
    msg = Image()
    msg.header.stamp = ns_to_time(stamp_ns) if stamp is None else stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(image).data)  # one copy (bytes() then array.array would be two)
    msg.data = data
    return msg


def rgb_from_image_msg(msg: Image) -> np.ndarray:
    """sensor_msgs/Image rgb8 → (H, W, 3) uint8 (a copy); other encodings go through dp_core."""
    return rgb_view_of_image_msg(msg).copy()


def rgb_view_of_image_msg(msg: Image) -> np.ndarray:
    """sensor_msgs/Image rgb8 → (H, W, 3) uint8 view of the message's buffer (no copy; a strided view
    when rows are padded); valid while the message lives."""
    if msg.encoding != "rgb8":
        raise ValueError(f"expected encoding rgb8, got '{msg.encoding}'")
    row = msg.width * 3
    if msg.step < row or len(msg.data) != msg.step * msg.height:
        raise ValueError(
            f"image data has {len(msg.data)} bytes, expected step {msg.step} x height {msg.height} with step >= {row}"
        )
    flat = np.frombuffer(msg.data, dtype=np.uint8).reshape(msg.height, msg.step)
    return flat[:, :row].reshape(msg.height, msg.width, 3)
