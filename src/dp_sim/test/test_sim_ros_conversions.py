"""Message conversions of dp_sim: round trips and rejection of malformed commands."""

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from dp_ros_common.stamps import ns_to_time, time_to_ns
from dp_sim import fr3
from dp_sim import ros_conversions as conv

pytestmark = pytest.mark.ros


def test_stamp_round_trip():
    for t in (0, 1, 1_500_000_000, 123_456_789_012):
        assert time_to_ns(ns_to_time(t)) == t


def test_state_messages():
    q = fr3.FRANKA_READY_Q
    js = conv.joint_state_msg(5, q, np.zeros(7), np.ones(7))
    assert list(js.name) == list(fr3.JOINT_NAMES) and np.allclose(js.position, q)
    pose = conv.pose_msg(7, "fr3_link0", np.array([0.1, 0.2, 0.3]), np.array([0.0, 1.0, 0.0, 0.0]))
    assert (pose.pose.position.y, pose.pose.orientation.x, pose.header.frame_id) == (0.2, 1.0, "fr3_link0")
    status = conv.task_status_msg(9, 2**32 + 3, 0.5, True, np.array([0.4, 0.0, 0.1]), 1.5)
    assert status.seed == 3 and status.success and np.allclose(status.block_pose, [0.4, 0.0, 0.1])
    rgb = np.random.default_rng(0).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    img = conv.image_msg(1, "top_camera", rgb)
    back = np.frombuffer(bytes(img.data), np.uint8).reshape(img.height, img.width, 3)
    np.testing.assert_array_equal(back, rgb)
    assert img.step == 18 and img.encoding == "rgb8"


def _trajectory(names, positions, velocities=None, times=(0.5,)):
    msg = JointTrajectory(joint_names=list(names))
    for i, t in enumerate(times):
        p = JointTrajectoryPoint(positions=list(positions[i]))
        if velocities is not None:
            p.velocities = list(velocities[i])
        p.time_from_start.sec, p.time_from_start.nanosec = int(t), int((t % 1) * 1e9)
        msg.points.append(p)
    return msg


def test_trajectory_reorders_joints_and_keeps_velocities():
    q = fr3.FRANKA_READY_Q
    msg = _trajectory(reversed(fr3.JOINT_NAMES), [q[::-1]], [np.arange(7)[::-1] * 0.1])
    msg.header.stamp.sec = 2
    points, start_ns = conv.trajectory_from_msg(msg)
    np.testing.assert_allclose(points.positions[0], q)
    np.testing.assert_allclose(points.velocities[0], np.arange(7) * 0.1)
    assert start_ns == 2_000_000_000 and points.times_s[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "names, positions, message",
    [
        (["j"] * 7, [fr3.FRANKA_READY_Q], "joint_names"),
        (fr3.JOINT_NAMES, [fr3.FRANKA_READY_Q[:6]], "6 positions"),
        (fr3.JOINT_NAMES, [np.full(7, np.nan)], "NaN"),
        (fr3.JOINT_NAMES, [fr3.Q_MAX + 0.1], "limits"),
    ],
)
def test_malformed_trajectories(names, positions, message):
    with pytest.raises(ValueError, match=message):
        conv.trajectory_from_msg(_trajectory(names, positions))


def test_position_and_cartesian_commands():
    q = fr3.FRANKA_READY_Q
    np.testing.assert_allclose(conv.joint_positions_from_command(Float64MultiArray(data=q.tolist())), q)
    for bad in ([0.0] * 8, [np.inf] * 7, (fr3.Q_MIN - 0.1).tolist()):
        with pytest.raises(ValueError):
            conv.joint_positions_from_command(Float64MultiArray(data=bad))
    msg = PoseStamped()
    msg.pose.position.x, msg.pose.position.y = 0.4, -0.1
    np.testing.assert_allclose(conv.pusher_target_from_msg(msg, "fr3_link0"), [0.4, -0.1])
    msg.header.frame_id = "world"
    with pytest.raises(ValueError, match="frame"):
        conv.pusher_target_from_msg(msg, "fr3_link0")
    msg.header.frame_id = ""
    msg.pose.position.x = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        conv.pusher_target_from_msg(msg, "fr3_link0")
