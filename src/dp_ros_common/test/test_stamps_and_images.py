"""dp_ros_common.stamps / images: real builtin_interfaces and sensor_msgs messages."""

import numpy as np
import pytest
from builtin_interfaces.msg import Duration, Time
from hypothesis import given
from hypothesis import strategies as st

from dp_core.time_units import NS_PER_S
from dp_ros_common.images import rgb_from_image_msg, rgb_to_image_msg
from dp_ros_common.stamps import duration_from_s, duration_to_s, ns_to_time, time_to_ns


@given(st.integers(min_value=0, max_value=(2**31 - 1) * NS_PER_S))
def test_time_message_round_trip(t_ns: int) -> None:
    msg = ns_to_time(t_ns)
    assert isinstance(msg, Time) and 0 <= msg.nanosec < NS_PER_S
    assert time_to_ns(msg) == t_ns


def test_duration_messages() -> None:
    d = duration_from_s(1.25)
    assert isinstance(d, Duration) and (d.sec, d.nanosec) == (1, 250_000_000)
    assert duration_to_s(d) == 1.25
    with pytest.raises(ValueError):
        duration_from_s(-0.5)
    with pytest.raises(ValueError):
        ns_to_time(-1)


def test_rgb8_image_round_trip_and_refusals() -> None:
    img = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    msg = rgb_to_image_msg(img, 1_500_000_001, "cam")
    assert (msg.encoding, msg.step, msg.header.frame_id, time_to_ns(msg.header.stamp)) == (
        "rgb8",
        15,
        "cam",
        1_500_000_001,
    )
    np.testing.assert_array_equal(rgb_from_image_msg(msg), img)
    with pytest.raises(ValueError, match="uint8 RGB"):
        rgb_to_image_msg(img.astype(np.float32), 0)
    msg.encoding = "bgr8"
    with pytest.raises(ValueError, match="rgb8"):
        rgb_from_image_msg(msg)


def test_image_round_trip_and_padding():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    np.testing.assert_array_equal(rgb_from_image_msg(rgb_to_image_msg(img, 5)), img)
    msg = rgb_to_image_msg(img, 5)
    msg.step, msg.data = 12, bytes(np.pad(img.reshape(2, 9), ((0, 0), (0, 3))).tobytes())  # padded rows
    np.testing.assert_array_equal(rgb_from_image_msg(msg), img)
