"""SequenceSampler: the original padding rules, window counts, first-k keys, splits."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.data.sampler import SequenceSampler, downsample_mask, episode_split

# Three episodes of lengths 1, 2 and 5; each step's value is its global step index.
ENDS = np.array([1, 3, 8])
STEPS = {"x": np.arange(8), "pair": np.stack([np.arange(8), -np.arange(8)], axis=1)}


def windows(sampler: SequenceSampler, key: str = "x") -> list[list[int]]:
    return [sampler.sample_sequence(STEPS, i, [key])[key].tolist() for i in range(len(sampler))]


def test_padding_repeats_edge_frames_exactly():
    sampler = SequenceSampler(ENDS, sequence_length=4, pad_before=1, pad_after=2)
    assert windows(sampler) == [
        [0, 0, 0, 0],  # length 1: one window, all edge frames
        [1, 1, 2, 2],  # length 2: starts 1 before the episode ...
        [1, 2, 2, 2],  # ... and ends 2 after it
        [3, 3, 4, 5],
        [3, 4, 5, 6],
        [4, 5, 6, 7],
        [5, 6, 7, 7],
        [6, 7, 7, 7],
    ]
    # Rows [buffer_start, buffer_end, sample_start, sample_end] of the original implementation.
    np.testing.assert_array_equal(sampler.indices[:3], [[0, 1, 1, 2], [1, 3, 1, 3], [1, 3, 0, 2]])
    both = sampler.sample_sequence(STEPS, 1, ["pair"])["pair"]
    np.testing.assert_array_equal(both, [[1, -1], [1, -1], [2, -2], [2, -2]])


def test_no_padding_and_too_short_episodes():
    sampler = SequenceSampler(ENDS, sequence_length=2)
    assert windows(sampler) == [[1, 2], [3, 4], [4, 5], [5, 6], [6, 7]]
    assert len(SequenceSampler(ENDS, sequence_length=6)) == 0
    assert len(SequenceSampler(np.zeros(0, dtype=np.int64), sequence_length=2)) == 0  # empty buffer
    # Pads are clamped to sequence_length - 1, as in the original.
    # L + 1 + 1 - 2 + 1 windows per episode.
    assert len(SequenceSampler(ENDS, sequence_length=2, pad_before=9, pad_after=9)) == (1 + 1) + (2 + 1) + (5 + 1)


def test_key_first_k_reads_only_the_first_frames():
    sampler = SequenceSampler(ENDS, sequence_length=4, pad_before=1, pad_after=2, key_first_k={"x": 2})
    assert windows(sampler) == [[0, 0], [1, 1], [1, 2], [3, 3], [3, 4], [4, 5], [5, 6], [6, 7]]

    source = RecordingSource(STEPS)
    sampler.sample_sequence(source, 4, ["x"])
    assert source.reads == [("x", slice(3, 5))]  # 2 frames read (and decoded), not the 4-step window


class RecordingSource:
    """Array source that records which slices are read."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays, self.reads = arrays, []

    def __getitem__(self, key: str) -> "RecordingSource._View":
        return RecordingSource._View(self, key)

    class _View:
        def __init__(self, source: "RecordingSource", key: str) -> None:
            self.source, self.key = source, key

        def __getitem__(self, item: slice) -> np.ndarray:
            self.source.reads.append((self.key, item))
            return self.source.arrays[self.key][item]


def test_episode_mask_selects_episodes():
    sampler = SequenceSampler(ENDS, 4, 1, 2, episode_mask=np.array([True, False, True]))
    assert windows(sampler)[0] == [0, 0, 0, 0] and len(sampler) == 1 + 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(episode_ends=[3, 3]), "strictly increasing"),
        (dict(sequence_length=0), "sequence_length"),
        (dict(pad_before=-1), "pad_before"),
        (dict(episode_mask=[True]), "episode_mask"),
        (dict(key_first_k={"x": 5}), "key_first_k"),
    ],
)
def test_invalid_arguments(kwargs, message):
    args = dict(episode_ends=ENDS, sequence_length=4, pad_before=1, pad_after=2) | kwargs
    with pytest.raises(ValueError, match=message):
        SequenceSampler(**args)


def reference_windows(lengths, sequence_length, pad_before, pad_after):
    """The rule written out step by step: window start s in [-pad_before, L - T + pad_after]."""
    out, start = [], 0
    for length in lengths:
        for s in range(-pad_before, length - sequence_length + pad_after + 1):
            out.append([start + min(max(s + p, 0), length - 1) for p in range(sequence_length)])
        start += length
    return out


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=6),
    sequence_length=st.integers(1, 8),
    pad_before=st.integers(0, 7),
    pad_after=st.integers(0, 7),
)
def test_windows_match_the_rule_and_count_formula(lengths, sequence_length, pad_before, pad_after):
    pad_before, pad_after = min(pad_before, sequence_length - 1), min(pad_after, sequence_length - 1)
    ends = np.cumsum(lengths)
    sampler = SequenceSampler(ends, sequence_length, pad_before, pad_after)
    source = {"x": np.arange(ends[-1])}
    got = [sampler.sample_sequence(source, i, ["x"])["x"].tolist() for i in range(len(sampler))]
    assert got == reference_windows(lengths, sequence_length, pad_before, pad_after)
    expected = sum(max(0, n + pad_before + pad_after - sequence_length + 1) for n in lengths)
    assert len(sampler) == expected


def test_index_is_fast_for_pusht_sized_buffers():
    rng = np.random.default_rng(0)
    ends = np.cumsum(rng.integers(49, 247, size=206))
    start = time.perf_counter()
    sampler = SequenceSampler(ends, sequence_length=16, pad_before=1, pad_after=7)
    assert time.perf_counter() - start < 0.05
    assert len(sampler) == ends[-1] - 7 * 206


def test_episode_split_is_seeded_disjoint_and_nonempty():
    train, val = episode_split(206, 0.02, seed=42)
    assert val.sum() == 4 and not np.any(train & val) and np.all(train | val)
    _again_train, again_val = episode_split(206, 0.02, seed=42)
    np.testing.assert_array_equal(val, again_val)
    assert not np.array_equal(val, episode_split(206, 0.02, seed=1)[1])
    assert episode_split(10, 0.001, 0)[1].sum() == 1  # at least one val episode
    assert episode_split(2, 0.9, 0)[1].sum() == 1  # at least one train episode
    assert episode_split(1, 0.5, 0)[1].sum() == 0
    assert episode_split(5, 0.0, 0)[0].all()
    with pytest.raises(ValueError, match="val_ratio"):
        episode_split(5, 1.0, 0)


def test_downsample_mask():
    mask = np.array([True, False, True, True, False, True])
    small = downsample_mask(mask, 2, seed=0)
    assert small.sum() == 2 and not np.any(small & ~mask)
    np.testing.assert_array_equal(small, downsample_mask(mask, 2, seed=0))
    np.testing.assert_array_equal(downsample_mask(mask, None, 0), mask)
    np.testing.assert_array_equal(downsample_mask(mask, 10, 0), mask)
    with pytest.raises(ValueError, match="max_n"):
        downsample_mask(mask, -1, 0)
