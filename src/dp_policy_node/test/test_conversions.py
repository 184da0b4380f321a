"""dp_msgs/ActionChunk ⇄ ActionChunkData conversions: round trip and rejection of bad messages."""

import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message

from dp_core.control.action_chunk import ChunkValidationError, chunk_from_flat
from dp_msgs.msg import ActionChunk
from dp_policy_node.conversions import chunk_from_msg, chunk_to_msg, ns_to_time, time_to_ns


def sample_chunk():
    return chunk_from_flat(
        stamp_ns=12 * 10**9 + 345,
        start_ns=12 * 10**9 + 50_000_345,
        dt_s=0.1,
        action_names=["fr3_joint1", "fr3_joint2"],
        horizon=3,
        action_dim=2,
        data=np.linspace(-1, 1, 6),
        execute_steps=2,
        sequence=41,
        policy_id="ckpt@abc",
        frame_id="",
    )


def test_round_trip_is_exact():
    chunk = sample_chunk()
    back = chunk_from_msg(chunk_to_msg(chunk))
    assert back.stamp_ns == chunk.stamp_ns and back.start_ns == chunk.start_ns
    assert back.action_names == chunk.action_names
    np.testing.assert_array_equal(back.actions, chunk.actions)
    assert (back.execute_steps, back.sequence, back.policy_id, back.dt_s) == (2, 41, "ckpt@abc", 0.1)


def test_time_conversion_round_trip():
    for t in (0, 1, 999_999_999, 1_000_000_000, 1_700_000_000_123_456_789):
        assert time_to_ns(ns_to_time(t)) == t
    with pytest.raises(ValueError):
        ns_to_time(-1)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: setattr(m, "data", m.data[:-1]), "data has 5 values"),
        (lambda m: setattr(m, "dt", 0.0), "dt must be"),
        (lambda m: setattr(m, "action_names", ["a", "a"]), "duplicate"),
        (lambda m: setattr(m, "horizon", 2), "horizon x action_dim"),
        (lambda m: setattr(m, "action_dim", 3), "action_dim is 3"),
        (lambda m: m.data.__setitem__(0, float("nan")), "non-finite"),
    ],
)
def test_malformed_messages_are_rejected(mutate, message):
    msg: ActionChunk = chunk_to_msg(sample_chunk())
    mutate(msg)
    with pytest.raises(ChunkValidationError, match=message.replace("(", r"\(")):
        chunk_from_msg(msg)


# --- observation windows, robot state, commands (added with the nodes) ---------------------

from geometry_msgs.msg import PoseStamped  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402

from dp_policy_node.conversions import (  # noqa: E402
    float64_array_to_msg,
    joint_positions_from_msg,
    joint_state_to_msg,
    joint_trajectory_to_msg,
    pose_from_msg,
    pose_to_msg,
    window_arrays_from_msg,
    window_to_msg,
)


def test_window_round_trip_is_exact():
    rng = np.random.default_rng(0)
    stamps = [10**9, 10**9 + 100_000_000]
    low_dim = {
        "joint_pos": rng.normal(size=(2, 7)).astype(np.float32),
        "ee_pose": rng.normal(size=(2, 7)).astype(np.float32),
    }
    images = {
        "front": rng.integers(0, 255, (2, 6, 8, 3), dtype=np.uint8),
        "wrist": rng.integers(0, 255, (2, 4, 4, 3), dtype=np.uint8),
    }
    msg = window_to_msg(stamps, low_dim, images)
    assert time_to_ns(msg.header.stamp) == stamps[-1]
    msg = deserialize_message(serialize_message(msg), type(msg))  # through the wire format (CDR)
    back_stamps, back_low, back_img = window_arrays_from_msg(msg)
    assert back_stamps.tolist() == stamps and list(back_low) == list(low_dim) and list(back_img) == list(images)
    for k, v in low_dim.items():
        np.testing.assert_array_equal(back_low[k], v)
    for k, v in images.items():
        np.testing.assert_array_equal(back_img[k], v)


def test_bad_windows_are_rejected():
    msg = window_to_msg([1, 2], {"q": np.zeros((2, 3), np.float32)}, {})
    msg.low_dim_data = msg.low_dim_data[:-1]
    with pytest.raises(ValueError, match="low_dim_data has 5 values"):
        window_arrays_from_msg(msg)
    msg = window_to_msg([2, 1], {"q": np.zeros((2, 3), np.float32)}, {})
    with pytest.raises(ValueError, match="must increase"):
        window_arrays_from_msg(msg)
    msg = window_to_msg([1, 2], {}, {"cam": np.zeros((2, 4, 4, 3), np.uint8)})
    msg.image_data = msg.image_data[:-1]
    with pytest.raises(ValueError, match=r"image_data has 95 bytes, expected 96 \(2 frames of \['4x4'\] rgb8\)"):
        window_arrays_from_msg(msg)
    msg = window_to_msg([1, 2], {}, {"cam": np.zeros((2, 4, 4, 3), np.uint8)})
    msg.image_widths = []
    with pytest.raises(ValueError, match="1 image_keys but 1 image_heights and 0 image_widths"):
        window_arrays_from_msg(msg)
    with pytest.raises(ValueError, match=r"keys must be unique, \['cam'\] repeated"):
        window_to_msg([1, 2], {"cam": np.zeros((2, 3), np.float32)}, {"cam": np.zeros((2, 4, 4, 3), np.uint8)})
    msg = window_to_msg([1, 2], {"q": np.zeros((2, 3), np.float32)}, {})
    msg.low_dim_keys, msg.low_dim_sizes = ["q", "q"], [2, 1]
    with pytest.raises(ValueError, match=r"keys must be unique, \['q'\] repeated"):
        window_arrays_from_msg(msg)


def test_joint_state_and_pose_round_trips():
    msg = joint_state_to_msg(["b", "a", "c"], [2.0, 1.0, 3.0], 7)
    np.testing.assert_array_equal(joint_positions_from_msg(msg, ["a", "c"]), [1.0, 3.0])
    with pytest.raises(ValueError, match="lacks joints"):
        joint_positions_from_msg(msg, ["a", "z"])
    msg.position[0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        joint_positions_from_msg(msg, ["b"])
    with pytest.raises(ValueError, match="3 names but 2 positions"):
        joint_positions_from_msg(JointState(name=["a", "b", "c"], position=[1.0, 2.0]), ["a"])
    pose = [0.1, 0.2, 0.3, 0.0, 0.0, 0.7071068, 0.7071068]
    np.testing.assert_allclose(pose_from_msg(pose_to_msg(pose, 9, "base")), pose, rtol=1e-6)
    zero = PoseStamped()
    zero.pose.orientation.w = 0.0
    with pytest.raises(ValueError, match="zero quaternion"):
        pose_from_msg(zero)


def test_command_messages():
    traj = joint_trajectory_to_msg(["a", "b"], [0.0, 0.5], np.array([[1.0, 2.0], [3.0, 4.0]]), 10**9)
    assert traj.joint_names == ["a", "b"] and list(traj.points[1].positions) == [3.0, 4.0]
    assert (traj.points[1].time_from_start.sec, traj.points[1].time_from_start.nanosec) == (0, 500_000_000)
    arr = float64_array_to_msg([1.0, 2.0], label="position")
    assert list(arr.data) == [1.0, 2.0] and arr.layout.dim[0].size == 2
