"""WindowTrigger: when the observation node publishes a window (complete, waiting, de-duplicated)."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.timing.alignment import AlignmentConfig
from dp_core.timing.window_trigger import TriggerConfig, WindowTrigger

MS = 1_000_000
S = 1_000_000_000
FRAME = np.zeros((2, 2, 3), np.uint8)
STATE = np.zeros(3, np.float32)


def make_trigger(
    kinds: dict[str, str], n_obs_steps: int = 2, max_age_s: float = 0.25, max_rate_hz: float = 1000.0
) -> WindowTrigger:
    config = TriggerConfig(AlignmentConfig(n_obs_steps, 0.1, max_age_s), max_rate_hz, dict.fromkeys(kinds, 512))
    return WindowTrigger(config, kinds)  # type: ignore[arg-type]


def value(kind: str) -> np.ndarray:
    return FRAME if kind == "rgb" else STATE


def arrivals(periods_ns: dict[str, int], offsets_ns: dict[str, int], latency_ns: dict[str, int], until_ns: int):
    """(arrival_ns, stream, stamp_ns) in arrival order: each stream at its period, delivered after its latency."""
    events = []
    for name, period in periods_ns.items():
        for stamp in range(offsets_ns[name] + period, until_ns, period):
            heapq.heappush(events, (stamp + latency_ns[name], name, stamp))
    while events:
        yield heapq.heappop(events)


def test_a_window_goes_out_when_every_stream_has_moved_on():
    trigger = make_trigger({"cam": "rgb", "joints": "low_dim"})
    assert trigger.add("cam", S + 40 * MS, FRAME, S + 41 * MS) is None  # no joint sample yet
    for t in range(0, 200 * MS + 1, 10 * MS):  # joints at 100 Hz; the camera has not moved on
        assert trigger.add("joints", S + t, STATE, S + t) is None
    assert trigger.add("cam", S + 150 * MS, FRAME, S + 201 * MS) is not None  # complete: cam is the last needed
    assert trigger.add("joints", S + 210 * MS, STATE, S + 211 * MS) is None  # the camera has not moved on


def test_a_lagging_fast_stream_is_waited_for_one_period():
    """Camera at 30 Hz stamped after the newest joint sample: wait for the joint sample that covers it."""
    trigger = make_trigger({"cam": "rgb", "joints": "low_dim"})
    for t in range(0, 300 * MS + 1, 10 * MS):
        trigger.add("joints", S + t, STATE, S + t)
    for t in (100, 133, 166, 200, 233, 266):
        trigger.add("cam", S + t * MS, FRAME, S + 300 * MS)
    # joints period 10 ms < camera period: a camera frame at 305 ms must wait for the joint sample at 310 ms
    trigger.add("joints", S + 300 * MS, STATE, S + 300 * MS)
    assert trigger.add("cam", S + 305 * MS, FRAME, S + 306 * MS) is None
    window = trigger.add("joints", S + 310 * MS, STATE, S + 311 * MS)
    assert window is not None and window.sample_stamps_ns["cam"][-1] == S + 305 * MS


@pytest.mark.parametrize(
    ("front_ms", "wrist_ms", "wrist_chosen_ms"),
    [((0, 192, 381), (0, 191, 381), 381)],
    ids=["stamped alike"],
)
def test_cameras_at_one_rate_with_jittery_periods_do_not_wait(front_ms, wrist_ms, wrist_chosen_ms):
    """Two cameras at one rate: the one sorted first must not wait a whole frame for its next one because
    its last interval happened to be shorter (189 vs 190 ms); the next joint sample completes the window."""
    trigger = make_trigger({"front": "rgb", "wrist": "rgb", "joints": "low_dim"})
    events = [(t * MS, "joints", t * MS) for t in range(0, 385, 5)]  # (arrival, stream, stamp)
    events += [
        (round(t * MS) + MS, name, round(t * MS)) for name, ts in (("front", front_ms), ("wrist", wrist_ms)) for t in ts
    ]
    for now, name, stamp in sorted(events):
        trigger.add(name, S + stamp, value("low_dim" if name == "joints" else "rgb"), S + now)
    window = trigger.add("joints", S + 385 * MS, STATE, S + 385 * MS)
    assert window is not None and window.stamps_ns[-1] == S + 381 * MS
    assert window.sample_stamps_ns["wrist"][-1] == S + round(wrist_chosen_ms * MS)


def test_the_rate_limit_holds_windows_back_and_poll_releases_them():
    trigger = make_trigger({"joints": "low_dim"}, n_obs_steps=1, max_rate_hz=10.0)
    assert trigger.add("joints", S, STATE, S) is not None
    assert trigger.add("joints", S + 20 * MS, STATE, S + 20 * MS) is None  # within 100 ms of the last window
    result, held = trigger.poll(S + 120 * MS)
    assert result.ok and held is not None and held.stamps_ns[-1] == S + 20 * MS
    assert trigger.poll(S + 130 * MS)[1] is None  # the same window is never published twice


def test_after_a_camera_gap_no_window_uses_an_old_frame():
    """The camera stalls 400 ms, then a frame arrives before the joint sample that covers it: the window at
    the newest joint sample would use the frame from before the gap (0.4 s old > max_age_s): refused."""
    trigger = make_trigger({"cam": "rgb", "joints": "low_dim"}, max_age_s=0.25)
    for t in range(0, 300 * MS + 1, 10 * MS):
        trigger.add("joints", S + t, STATE, S + t)
        if t % (30 * MS) == 0:
            trigger.add("cam", S + t, FRAME, S + t)
    for t in range(310 * MS, 700 * MS, 10 * MS):  # no camera frames from 300 ms to 700 ms
        assert trigger.add("joints", S + t, STATE, S + t) is None
    assert trigger.add("cam", S + 705 * MS, FRAME, S + 706 * MS) is None  # joints newest at 690 ms: cam 300 ms
    result, window = trigger.poll(S + 707 * MS)
    assert window is None and not result.ok and "cam" in result.stale and "used sample" in result.message
    window = trigger.add("joints", S + 710 * MS, STATE, S + 711 * MS)
    assert window is not None and window.sample_stamps_ns["cam"][-1] == S + 705 * MS


def test_poll_respects_the_rate_limit():
    trigger = make_trigger({"joints": "low_dim"}, n_obs_steps=1, max_rate_hz=10.0)
    assert trigger.add("joints", S, STATE, S) is not None
    assert trigger.add("joints", S + 20 * MS, STATE, S + 20 * MS) is None
    assert trigger.poll(S + 50 * MS)[1] is None  # 50 ms after the last window < 100 ms
    assert trigger.poll(S + 100 * MS)[1] is not None


def test_poll_says_why_there_is_no_window():
    trigger = make_trigger({"cam": "rgb", "joints": "low_dim"})
    result, window = trigger.poll(S)
    assert window is None and result.missing == ["cam", "joints"] and "no sample" in result.message
    trigger.add("cam", S, FRAME, S)
    trigger.add("joints", S, STATE, S)
    result, window = trigger.poll(2 * S)
    assert window is None and set(result.stale) == {"cam", "joints"}
    assert trigger.ages_s(2 * S) == {"cam": 1.0, "joints": 1.0}


def test_bad_samples_and_configurations_are_refused():
    trigger = make_trigger({"cam": "rgb"})
    with pytest.raises(ValueError, match="stamp messages with the sensor time"):
        trigger.add("cam", 0, FRAME, S)
    with pytest.raises(ValueError, match="unknown stream 'nope'"):
        trigger.add("nope", S, FRAME, S)
    with pytest.raises(ValueError, match="max_window_rate_hz"):
        TriggerConfig(AlignmentConfig(2, 0.1, 0.2), 0.0, {"cam": 8})
    with pytest.raises(ValueError, match="capacities must be ints >= 2"):
        TriggerConfig(AlignmentConfig(2, 0.1, 0.2), 10.0, {"cam": 1})
    with pytest.raises(ValueError, match="differ"):
        WindowTrigger(TriggerConfig(AlignmentConfig(2, 0.1, 0.2), 10.0, {"cam": 8}), {"joints": "low_dim"})


stream_timing = st.tuples(st.integers(20, 60), st.integers(0, 40), st.integers(0, 30))  # period, offset, latency ms
#: per stream up to two gaps (start ms, length ms) without samples: a camera stall or dropped frames
stream_gaps = st.lists(st.tuples(st.integers(200, 2400), st.integers(30, 700)), max_size=2)
stream_settings = st.fixed_dictionaries(
    {
        "cam": st.tuples(stream_timing, stream_gaps),
        "wrist": st.tuples(stream_timing, stream_gaps),
        "joints": st.tuples(st.tuples(st.integers(2, 20), st.integers(0, 10), st.integers(0, 30)), stream_gaps),
    }
)


def dropped(stamp_ns: int, gaps_ms: list[tuple[int, int]]) -> bool:
    return any(start * MS <= stamp_ns < (start + length) * MS for start, length in gaps_ms)


@settings(max_examples=60, deadline=None)
@given(streams=stream_settings, max_rate_hz=st.sampled_from([15.0, 30.0, 1000.0]), poll_ms=st.integers(20, 100))
def test_never_a_stale_or_repeated_frame(streams, max_rate_hz, poll_ms):
    """Whatever the rates, phases, delivery latencies and gaps (dropped frames): each window (from ``add``
    or ``poll``) is newer than the last in every stream, every stream's newest used sample is at most
    max_age_s old when it goes out, all windows respect the rate limit, and windows keep coming."""
    kinds = {"cam": "rgb", "wrist": "rgb", "joints": "low_dim"}
    trigger = make_trigger(kinds, n_obs_steps=2, max_age_s=0.25, max_rate_hz=max_rate_hz)
    periods = {k: v[0][0] * MS for k, v in streams.items()}
    gaps = {k: v[1] for k, v in streams.items()}
    until = 3 * S
    emitted = []  # (now, window)
    next_poll = poll_ms * MS
    for now, name, stamp in arrivals(
        periods, {k: v[0][1] * MS for k, v in streams.items()}, {k: v[0][2] * MS for k, v in streams.items()}, until
    ):
        while next_poll <= now:
            _, held = trigger.poll(next_poll)
            if held is not None:
                emitted.append((next_poll, held))
            next_poll += poll_ms * MS
        if dropped(stamp, gaps[name]):
            continue
        window = trigger.add(name, stamp, value(kinds[name]), now)
        if window is not None:
            emitted.append((now, window))
    previous = None
    last_emit = None
    for now, window in emitted:
        assert now - int(window.stamps_ns[-1]) <= 250 * MS, "a stale window went out"
        for key in kinds:
            age = now - int(window.sample_stamps_ns[key][-1])
            assert age <= 250 * MS, f"{key}: the newest frame used is {age / MS} ms old"
        assert np.all(np.diff(window.stamps_ns) == 100 * MS)
        if previous is not None:
            assert window.stamps_ns[-1] > previous.stamps_ns[-1]
            for key in kinds:
                assert window.sample_stamps_ns[key][-1] > previous.sample_stamps_ns[key][-1], f"{key} repeated"
        if last_emit is not None:
            assert now - last_emit >= round(S / max_rate_hz), "the rate limit was broken"
        last_emit = now
        previous = window
    slowest = max(periods.values())
    # after 0.1 s of history, about one window per slowest period (bounded by the rate limit and the poll),
    # less the gaps and the history (0.1 s) plus freshness (0.25 s) each gap costs to refill
    lost = sum(length * MS + 350 * MS for g in gaps.values() for _, length in g)
    expected = (until - 400 * MS - lost) / max(slowest, S / max_rate_hz, 1) / 3
    assert len(emitted) >= expected, (len(emitted), expected)
