"""Validation of the ROS-free action chunk (the payload of dp_msgs/ActionChunk)."""

import numpy as np
import pytest

from dp_core.control.action_chunk import ActionChunkData, ChunkValidationError, chunk_from_flat

NAMES = ("j1", "j2", "j3")


def make(**overrides):
    fields = dict(
        stamp_ns=1_000,
        start_ns=2_000,
        dt_s=0.1,
        action_names=NAMES,
        horizon=4,
        action_dim=3,
        data=np.arange(12, dtype=np.float32),
        execute_steps=2,
        sequence=7,
        policy_id="p",
    )
    fields.update(overrides)
    return chunk_from_flat(**fields)


def test_valid_chunk_reshapes_row_major_and_times():
    chunk = make()
    assert chunk.actions.shape == (4, 3)
    np.testing.assert_array_equal(chunk.actions[1], [3, 4, 5])
    np.testing.assert_array_equal(
        chunk.times_ns(), [2_000, 2_000 + 100_000_000, 2_000 + 200_000_000, 2_000 + 300_000_000]
    )
    assert chunk.end_ns == chunk.times_ns()[-1]
    with pytest.raises(ValueError):
        chunk.actions[0, 0] = 5.0  # read-only: a validated chunk cannot be corrupted later


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(data=np.arange(11, dtype=np.float32)), "data has 11 values"),
        (dict(dt_s=0.0), "dt must be"),
        (dict(dt_s=-0.1), "dt must be"),
        (dict(dt_s=float("nan")), "dt must be"),
        (dict(data=np.r_[np.arange(11), np.nan].astype(np.float32)), "non-finite"),
        (dict(data=np.r_[np.inf, np.arange(11)].astype(np.float32)), "non-finite"),
        (dict(action_names=("j1", "j2", "j1")), "duplicate action_names: ['j1']"),
        (dict(action_names=("j1", "j2")), "action_dim is 3 but 2 action_names"),
        (dict(horizon=3), "data has 12 values but horizon x action_dim = 3 x 3"),
        (dict(action_dim=4, action_names=("a", "b", "c", "d")), "horizon x action_dim = 4 x 4"),
        (dict(horizon=0, data=np.zeros(0)), "horizon must be >= 1"),
        (dict(execute_steps=0), "execute_steps must be in [1, horizon=4]"),
        (dict(execute_steps=5), "execute_steps must be in [1, horizon=4]"),
        (dict(action_names=("j1", "", "j3")), "empty names"),
    ],
)
def test_each_malformed_field_raises_a_clear_error(overrides, message):
    with pytest.raises(ChunkValidationError) as info:
        make(**overrides)
    assert message in str(info.value)


def test_nan_error_names_step_and_dimension():
    data = np.zeros(12, dtype=np.float32)
    data[2 * 3 + 1] = np.nan
    with pytest.raises(ChunkValidationError, match="step 2, dimension 'j2'"):
        make(data=data)


def test_direct_construction_validates_too():
    with pytest.raises(ChunkValidationError, match="2-D"):
        ActionChunkData(stamp_ns=0, start_ns=0, dt_s=0.1, action_names=NAMES, actions=np.zeros(3), execute_steps=1)


def test_chunk_from_flat_validates_each_field_once(monkeypatch):
    """The message path checks fields in the chunk's constructor only (not again in chunk_from_flat)."""
    import dp_core.control.action_chunk as module

    calls = []
    original = module.validate_chunk_fields
    monkeypatch.setattr(module, "validate_chunk_fields", lambda **kw: (calls.append(kw), original(**kw)))
    chunk_from_flat(
        stamp_ns=1, start_ns=0, dt_s=0.1, action_names=["a"], horizon=2, action_dim=1, data=[0.0, 1.0], execute_steps=1
    )
    assert len(calls) == 1


def test_aligned_index_and_warm_start_shift():
    chunk = ActionChunkData(
        stamp_ns=300, start_ns=100, dt_s=1e-7, action_names=("a",), actions=np.arange(4.0)[:, None], execute_steps=2
    )
    assert chunk.aligned_index == 2
    assert chunk.shifted(3)[:, 0].tolist() == [3.0, 3.0, 3.0, 3.0] and chunk.shifted(1)[:, 0].tolist() == [1, 2, 3, 3]
