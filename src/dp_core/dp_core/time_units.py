"""Time units, once: integer nanoseconds ⇄ float seconds ⇄ ``sec``/``nanosec`` stamp fields.

Every time inside dp_core is integer nanoseconds on one clock; durations in seconds are floats
named ``*_s``. Every conversion in the workspace goes through these functions, so the rounding
(to the nearest ns) and the stamp rules (``nanosec`` in [0, 1e9), no negative ROS time) are one
definition. Stamps are read duck-typed (any object with ``sec`` and ``nanosec``: rclpy messages,
rosbags messages), so this module needs no ROS; ``dp_ros_common.stamps`` builds the messages.
"""

from __future__ import annotations

from typing import Protocol

NS_PER_S = 1_000_000_000


class Stamp(Protocol):
    """builtin_interfaces/Time or /Duration, from rclpy or from rosbags."""

    sec: int
    nanosec: int


def s_to_ns(seconds: float) -> int:
    """Seconds → integer nanoseconds (rounded to the nearest ns)."""
    return round(float(seconds) * NS_PER_S)


def ns_to_s(ns: int) -> float:
    """Integer nanoseconds → seconds."""
    return int(ns) / NS_PER_S


def stamp_to_ns(stamp: Stamp) -> int:
    """``sec``/``nanosec`` fields (a Time or Duration message) → integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp_fields(t_ns: int) -> tuple[int, int]:
    """Integer nanoseconds (>= 0) → ``(sec, nanosec)`` of a ROS Time or Duration.

    Raises:
        ValueError: negative (ROS time and our durations cannot be negative).
    """
    if t_ns < 0:
        raise ValueError(f"ROS time cannot be negative, got {t_ns} ns")
    sec, nanosec = divmod(int(t_ns), NS_PER_S)
    return sec, nanosec
