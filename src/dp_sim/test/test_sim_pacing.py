"""Pacer and Schedule: sim time against wall time, publish schedules in sim time."""

import pytest

from dp_sim.pacing import Pacer, Schedule

MS = 1_000_000


def test_pacer_real_time_and_faster():
    pacer = Pacer(1.0)
    assert pacer.wait_s(0, 100.0) == 0.0  # anchors
    assert pacer.wait_s(10 * MS, 100.0) == pytest.approx(0.010)
    assert pacer.wait_s(10 * MS, 100.004) == pytest.approx(0.006)
    fast = Pacer(2.0)
    fast.wait_s(0, 0.0)
    assert fast.wait_s(10 * MS, 0.0) == pytest.approx(0.005)
    assert Pacer(0.0).wait_s(10**12, 0.0) == 0.0


def test_pacer_re_anchors_when_far_behind():
    pacer = Pacer(1.0, max_lag_s=0.25)
    pacer.wait_s(0, 0.0)
    assert pacer.wait_s(10 * MS, 1.0) == 0.0  # 0.99 s late: re-anchor, no catch-up burst
    assert pacer.re_anchors == 1
    assert pacer.wait_s(20 * MS, 1.0) == pytest.approx(0.010)


def test_schedule_fires_at_period_and_resyncs():
    sched = Schedule(30.0)
    fired = [t for t in range(0, 1000 * MS, 10 * MS) if sched.due(t)]
    assert len(fired) == 30
    assert not Schedule(0.0).due(0)
    gap = Schedule(100.0)
    assert gap.due(0) and gap.due(10 * MS)
    assert gap.due(5000 * MS) and not gap.due(5005 * MS) and gap.due(5010 * MS)


def test_invalid_rates():
    with pytest.raises(ValueError, match="real_time_factor"):
        Pacer(-1.0)
    with pytest.raises(ValueError, match="rate"):
        Schedule(-5.0)
