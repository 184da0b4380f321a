"""StreamBuffer: sorted ring buffer of stamped samples, and the latest-not-after rule."""

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.timing.alignment import indices_not_after
from dp_core.timing.stream_buffer import StreamBuffer


def test_latest_not_after_picks_newest_at_or_before():
    buf = StreamBuffer(10)
    for stamp in (100, 200, 300):
        buf.add(stamp, f"v{stamp}")
    assert buf.latest_not_after(99) is None
    assert buf.latest_not_after(100) == (100, "v100")
    assert buf.latest_not_after(299) == (200, "v200")
    assert buf.latest_not_after(10**12) == (300, "v300")
    assert buf.newest_stamp_ns == 300 and buf.snapshot()[0][0] == 100 and len(buf) == 3


def test_out_of_order_is_inserted_sorted_and_duplicate_replaces():
    buf = StreamBuffer(10)
    for stamp in (300, 100, 200):
        buf.add(stamp, stamp)
    buf.add(200, "new")
    stamps, values = buf.snapshot()
    assert stamps.tolist() == [100, 200, 300]
    assert values == [100, "new", 300]


def test_capacity_drops_oldest_and_too_old_arrivals():
    buf = StreamBuffer(3)
    for stamp in (10, 20, 30, 40):
        buf.add(stamp, stamp)
    assert buf.snapshot()[0].tolist() == [20, 30, 40]
    buf.add(5, 5)  # older than everything in a full buffer
    assert buf.snapshot()[0].tolist() == [20, 30, 40]
    assert buf.dropped == 1
    buf.add(25, 25)  # inserted, then the oldest goes
    assert buf.snapshot()[0].tolist() == [25, 30, 40]


def test_empty_buffer_and_bad_capacity():
    buf = StreamBuffer(4)
    assert buf.latest_not_after(0) is None and buf.newest_stamp_ns is None and len(buf) == 0
    assert indices_not_after(buf.snapshot()[0], [1, 2]).tolist() == [-1, -1]
    with pytest.raises(ValueError, match="capacity"):
        StreamBuffer(0)


@settings(max_examples=60, deadline=None)
@given(
    stamps=st.lists(st.integers(0, 1000), min_size=0, max_size=40),
    targets=st.lists(st.integers(-10, 1010), min_size=1, max_size=20),
)
def test_rule_matches_brute_force(stamps, targets):
    buf = StreamBuffer(100)
    for k, s in enumerate(stamps):
        buf.add(s, k)
    got = buf.samples_not_after(targets)
    for t, sample in zip(targets, got, strict=True):
        before = [s for s in stamps if s <= t]
        if not before:
            assert sample is None
        else:
            best = max(before)
            last_arrival = max(k for k, s in enumerate(stamps) if s == best)
            assert sample == (best, last_arrival)
    stamps_sorted = np.array(sorted(set(stamps)), dtype=np.int64)
    idx = indices_not_after(stamps_sorted, targets)
    assert np.array_equal(idx, indices_not_after(buf.snapshot()[0], targets))


def test_concurrent_writers_and_reader_keep_order():
    buf = StreamBuffer(5000)
    rng = np.random.default_rng(0)
    chunks = np.array_split(rng.permutation(4000), 4)
    errors: list[Exception] = []

    def writer(part: np.ndarray) -> None:
        for s in part:
            buf.add(int(s), int(s))

    def reader() -> None:
        try:
            for t in range(0, 4000, 7):
                sample = buf.latest_not_after(t)
                assert sample is None or (sample[0] <= t and sample[0] == sample[1])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(p,)) for p in chunks] + [threading.Thread(target=reader)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not errors
    stamps, values = buf.snapshot()
    assert stamps.tolist() == list(range(4000)) and values == list(range(4000))
