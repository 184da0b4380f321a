"""dp_msgs/ActionChunk ⇄ ActionChunkData conversions: round trip and rejection of bad messages."""

import numpy as np
import pytest
from dp_msgs.msg import ActionChunk

from dp_core.control.action_chunk import ChunkValidationError, chunk_from_flat
from dp_policy_node.conversions import chunk_from_msg, chunk_to_msg, ns_to_time, time_to_ns


def sample_chunk():
    return chunk_from_flat(
        stamp_ns=12 * 10**9 + 345, start_ns=12 * 10**9 + 50_000_345, dt_s=0.1,
        action_names=["fr3_joint1", "fr3_joint2"], horizon=3, action_dim=2,
        data=np.linspace(-1, 1, 6), execute_steps=2, sequence=41, policy_id="ckpt@abc", frame_id="",
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
