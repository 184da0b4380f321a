"""WindowGate: the policy node's decisions on a window (stale, wrong rate or shape, replanning)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.policy.window_gate import GateConfig, WindowGate
from dp_core.policy.window_input import CheckedWindow, checked_window
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.timing.observation_window import ObservationWindowData

MS = 1_000_000
SPEC = PolicySpec(
    obs=(ObsKeySpec("cam", "rgb", (3, 4, 6)), ObsKeySpec("state", "low_dim", (2,))), action_dim=2, n_obs_steps=2
)


def window(newest_ns: int = 1_000 * MS, dt_ns: int = 100 * MS, n: int = 2, state_dim: int = 2) -> ObservationWindowData:
    return ObservationWindowData(
        stamps_ns=newest_ns - np.arange(n - 1, -1, -1) * dt_ns,
        low_dim={"state": np.zeros((n, state_dim), np.float32)},
        images={"cam": np.zeros((n, 4, 6, 3), np.uint8)},
    )


def test_a_good_window_is_checked_once():
    gate = WindowGate(SPEC, GateConfig(max_window_age_s=0.5))
    checked = gate.check(window(), now_ns=1_100 * MS)
    assert isinstance(checked, CheckedWindow) and checked.stamp_ns == 1_000 * MS
    assert checked_window(SPEC, checked) is checked  # predict takes it without checking again
    assert checked.arrays["cam"].shape == (2, 4, 6, 3)


@pytest.mark.parametrize(
    ("bad", "now_ms", "message"),
    [
        (window(), 1_600, "stale: newest frame is 0.600 s old > max_window_age_s 0.5"),
        (window(), 900, r"future: newest frame is stamped 0.100 s ahead of now > max_window_future_s 0.05"),
        (window(dt_ns=50 * MS), 1_000, r"\[50.0\] ms apart, the policy's dt_s is 0.1 s: the observation node builds"),
        (window(n=3), 1_000, "window has 3 frames, the policy's n_obs_steps is 2"),
        (window(state_dim=3), 1_000, r"low-dim 'state': expected shape \(2, 2\)"),
    ],
)
def test_bad_windows_are_refused_with_the_reason(bad, now_ms, message):
    with pytest.raises(ValueError, match=message):
        WindowGate(SPEC, GateConfig(max_window_age_s=0.5)).check(bad, now_ns=now_ms * MS)


def test_bad_gate_settings_are_refused():
    with pytest.raises(ValueError, match="max_window_age_s"):
        GateConfig(max_window_age_s=0.0)
    with pytest.raises(ValueError, match="min_replan_period_s"):
        GateConfig(min_replan_period_s=-1.0)
    with pytest.raises(ValueError, match="max_window_future_s"):
        GateConfig(max_window_future_s=float("nan"))


def test_a_window_within_the_future_tolerance_passes_and_a_repeat_is_never_admitted():
    gate = WindowGate(SPEC, GateConfig(max_window_future_s=0.05))
    assert gate.check(window(), now_ns=960 * MS).stamp_ns == 1_000 * MS  # 40 ms ahead: clock jitter
    assert gate.admit(1_000 * MS)
    assert not gate.admit(1_000 * MS) and not gate.admit(990 * MS)  # the same window again, an older one
    assert gate.admit(1_001 * MS) and gate.skipped == 2


@settings(max_examples=50, deadline=None)
@given(
    gaps_ms=st.lists(st.integers(1, 300), min_size=1, max_size=40),
    period_ms=st.integers(0, 800),
    start_every=st.integers(1, 3),
)
def test_inference_starts_are_at_least_one_period_apart(gaps_ms, period_ms, start_every):
    """Windows arrive in stamp order; inference starts on some admitted ones (a busy worker takes the newest):
    starts are never closer than the period, and the first window after a start's period is admitted."""
    gate = WindowGate(SPEC, GateConfig(min_replan_period_s=period_ms / 1000))
    stamps = np.cumsum(gaps_ms) * MS
    starts: list[int] = []
    for k, stamp in enumerate(stamps):
        due = gate.admit(int(stamp))
        assert due == (not starts or stamp - starts[-1] >= period_ms * MS)
        if due and k % start_every == 0:
            gate.started(int(stamp))
            starts.append(int(stamp))
    assert all(b - a >= period_ms * MS for a, b in itertools.pairwise(starts))
    gate.reset()
    assert gate.admit(0) and gate.skipped == 0


events = st.lists(
    st.tuples(
        st.integers(0, 200),  # ms the clock advances before this window arrives
        st.sampled_from(["fresh", "repeat", "older", "future"]),
        st.integers(0, 300),  # ms: age of a fresh window, how far ahead a future one is stamped
        st.integers(0, 30),  # which earlier stamp a repeat or older window reuses
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(events=events, period_ms=st.sampled_from([0, 50, 300]), future_ms=st.sampled_from([0, 50]))
def test_no_future_repeated_or_reordered_window_is_admitted(events, period_ms, future_ms):
    """Windows arrive fresh, again, out of order or stamped ahead of now (``check`` then ``admit``, as the
    node does): an admitted window is never stamped more than max_window_future_s ahead of now, every
    admitted stamp is after all earlier admitted ones, and starts are at least one period apart."""
    gate = WindowGate(
        SPEC,
        GateConfig(max_window_age_s=0.5, min_replan_period_s=period_ms / 1000, max_window_future_s=future_ms / 1000),
    )
    now = 10_000 * MS
    seen: list[int] = []
    admitted: list[int] = []
    for advance_ms, kind, offset_ms, pick in events:
        now += advance_ms * MS
        if kind == "fresh" or not seen:
            stamp = now - offset_ms * MS
        elif kind == "future":
            stamp = now + offset_ms * MS
        else:
            earlier = seen[-1 - pick % len(seen)]
            stamp = earlier if kind == "repeat" else earlier - (1 + offset_ms) * MS
        seen.append(stamp)
        try:
            gate.check(window(newest_ns=stamp), now_ns=now)
        except ValueError as exc:
            assert stamp - now > future_ms * MS or now - stamp > 500 * MS, exc
            continue
        assert stamp - now <= future_ms * MS and now - stamp <= 500 * MS
        if gate.admit(stamp):
            assert all(stamp > a for a in admitted), "a repeated or older window was admitted"
            assert not admitted or stamp - admitted[-1] >= period_ms * MS
            gate.started(stamp)
            admitted.append(stamp)
        else:
            assert any(stamp <= a for a in admitted) or stamp - admitted[-1] < period_ms * MS
