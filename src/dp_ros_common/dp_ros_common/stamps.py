"""builtin_interfaces/Time and /Duration messages ⇄ integer nanoseconds / seconds.

The arithmetic is ``dp_core.time_units`` (the one definition); this module only builds the
messages, so that nodes, the sim and the bag tools stamp and read times identically.
"""

from __future__ import annotations

from builtin_interfaces.msg import Duration as RosDuration
from builtin_interfaces.msg import Time as RosTime

from dp_core.time_units import Stamp, ns_to_s, ns_to_stamp_fields, s_to_ns, stamp_to_ns


def time_to_ns(stamp: Stamp) -> int:
    """builtin_interfaces/Time (rclpy or rosbags) → integer nanoseconds."""
    return stamp_to_ns(stamp)


def ns_to_time(t_ns: int) -> RosTime:
    """Integer nanoseconds (>= 0) → builtin_interfaces/Time (ValueError when negative)."""
    sec, nanosec = ns_to_stamp_fields(t_ns)
    return RosTime(sec=sec, nanosec=nanosec)


def duration_from_s(seconds: float) -> RosDuration:
    """Seconds (>= 0) → builtin_interfaces/Duration (ValueError when negative)."""
    sec, nanosec = ns_to_stamp_fields(s_to_ns(seconds))
    return RosDuration(sec=sec, nanosec=nanosec)


def duration_to_s(duration: Stamp) -> float:
    """builtin_interfaces/Duration → seconds."""
    return ns_to_s(stamp_to_ns(duration))
