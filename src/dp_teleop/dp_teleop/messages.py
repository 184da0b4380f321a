"""Teleop's message conversions (ROS types ⇄ numpy), kept out of the node."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped, TwistStamped


def twist_stamped(stamp: object, frame_id: str, twist: np.ndarray) -> TwistStamped:
    """(vx, vy, vz, wx, wy, wz) → TwistStamped."""
    out = TwistStamped()
    out.header.stamp, out.header.frame_id = stamp, frame_id
    t = out.twist
    t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z = (float(v) for v in twist)
    return out


def pose_stamped(header: object, position: np.ndarray, quaternion_xyzw: np.ndarray) -> PoseStamped:
    pose = PoseStamped()
    pose.header = header
    p, o = pose.pose.position, pose.pose.orientation
    p.x, p.y, p.z = (float(v) for v in position)
    o.x, o.y, o.z, o.w = (float(v) for v in quaternion_xyzw)
    return pose


def pose_from_msg(msg: PoseStamped) -> tuple[np.ndarray, np.ndarray]:
    """PoseStamped → (position (3,), quaternion x y z w (4,))."""
    p, o = msg.pose.position, msg.pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([o.x, o.y, o.z, o.w])
