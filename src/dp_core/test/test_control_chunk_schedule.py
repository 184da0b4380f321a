"""ChunkSchedule (targets, before the limiter): latency skip, jump-free takeover, ensembling, rejection, set points."""

import numpy as np
import pytest

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.chunk_schedule import Accepted, ChunkSchedule, Rejected, smoothstep
from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
from dp_core.control.limits import JointLimits

MS = 1_000_000
S = 1_000_000_000
NAMES = ("j1", "j2")
RATE = 250.0
LIMITS = JointLimits(NAMES, [-3.0, -3.0], [3.0, 3.0], [2.0, 2.0], [40.0, 40.0])


def chunk(actions, start_ns, stamp_ns=None, dt_s=0.1, names=NAMES, seq=0) -> ActionChunkData:
    actions = np.asarray(actions, dtype=np.float32)
    return ActionChunkData(
        stamp_ns=start_ns if stamp_ns is None else stamp_ns,
        start_ns=start_ns,
        dt_s=dt_s,
        action_names=names,
        actions=actions,
        execute_steps=len(actions),
        sequence=seq,
    )


def config(**kw) -> ChunkScheduleConfig:
    base = dict(action_names=NAMES, control_rate_hz=RATE, blend_s=0.1, joint_limits=LIMITS)
    base.update(kw)
    return ChunkScheduleConfig(**base)


def ramp(n=16, slope=0.05, offset=0.0):
    k = np.arange(n, dtype=np.float32)[:, None]
    return np.concatenate([offset + slope * k, offset - slope * k], axis=1)


def test_late_chunk_starts_at_the_action_for_now():
    plan = ChunkSchedule(config(joint_limits=None))
    now = 10 * S
    actions = ramp()
    result = plan.add_chunk(chunk(actions, start_ns=now - 150 * MS), now)
    assert isinstance(result, Accepted) and result.skipped_actions == 2
    np.testing.assert_allclose(plan.target_at(now), (actions[1] + actions[2]) / 2, atol=1e-6)
    np.testing.assert_allclose(plan.target_at(now + 50 * MS), actions[2], atol=1e-6)
    assert plan.remaining_s(now + 50 * MS) == pytest.approx(1.5 - 0.2)


def test_blend_is_continuous_even_without_limits():
    plan = ChunkSchedule(config(joint_limits=None, blend_s=0.2))
    now = S
    plan.add_chunk(chunk(np.zeros((16, 2)), now), now)
    before = plan.target_at(now + 4 * MS)
    plan.add_chunk(chunk(np.ones((16, 2)), now + 4 * MS), now + 4 * MS)
    after = plan.target_at(now + 8 * MS)
    assert np.abs(after - before).max() < 2e-3  # smoothstep starts flat (a jump would be 1.0)
    halfway = plan.target_at(now + 104 * MS)
    np.testing.assert_allclose(halfway, 0.5, atol=1e-6)
    np.testing.assert_allclose(plan.target_at(now + 300 * MS), 1.0)
    assert smoothstep(0.5) == 0.5 and smoothstep(-1) == 0 and smoothstep(2) == 1


def test_temporal_ensembling_averages_overlapping_chunks():
    plan = ChunkSchedule(config(joint_limits=None, ensemble=True, ensemble_decay=0.0, blend_s=0.0))
    now = S
    plan.add_chunk(chunk(np.zeros((16, 2)), now), now)
    plan.add_chunk(chunk(np.ones((16, 2)), now), now)
    np.testing.assert_allclose(plan.target_at(now + 20 * MS), 0.5)
    decayed = ChunkSchedule(config(joint_limits=None, ensemble=True, ensemble_decay=1.0, blend_s=0.0))
    decayed.add_chunk(chunk(np.zeros((16, 2)), now), now)
    decayed.add_chunk(chunk(np.ones((16, 2)), now), now)
    np.testing.assert_allclose(decayed.target_at(now), np.exp(-1) / (1 + np.exp(-1)))  # older weighs more


def test_rejections_name_the_problem():
    plan = ChunkSchedule(config(max_past_s=0.5, max_future_s=0.2))
    now = 100 * S
    cases = {
        "stale": chunk(ramp(), now - 2 * S),
        "in the future": chunk(ramp(), now + S),
        "unknown ['j9']": chunk(ramp(), now, names=("j1", "j9")),
        "ended": chunk(ramp(n=2), now - 300 * MS, stamp_ns=now - 100 * MS),
    }
    for expected, bad in cases.items():
        result = plan.add_chunk(bad, now)
        assert isinstance(result, Rejected) and expected in result.reason, (expected, result)
    assert plan.target_at(now) is None and plan.exhausted(now)
    bad_measured = plan.add_chunk(chunk(ramp(), now), now, measured=np.array([np.nan, 0]))
    assert not bad_measured and "measured" in bad_measured.reason
    reordered = plan.add_chunk(chunk(ramp()[:, ::-1], now, names=("j2", "j1")), now)
    assert reordered and plan.target_at(now) is not None


def test_reject_mode_refuses_limit_violations_clip_mode_reports_them():
    now = S
    too_fast = ramp(slope=0.5)  # 5 rad/s > 2 rad/s
    reject = ChunkSchedule(config(limit_mode="reject"))
    result = reject.add_chunk(chunk(too_fast, now), now)
    assert not result and "velocity" in result.reason and result.violations
    far = ChunkSchedule(config(limit_mode="reject", max_step_from_measured=0.1))
    result = far.add_chunk(chunk(ramp(offset=1.0), now), now, measured=np.zeros(2))
    assert not result and "step from measured" in result.reason
    clip = ChunkSchedule(config())
    result = clip.add_chunk(chunk(too_fast, now), now, measured=np.zeros(2))
    assert result and result.violations  # accepted; the executor's limiter bends it (test_control_executor)


def test_config_validation():
    with pytest.raises(ValueError, match="control_rate_hz"):
        config(control_rate_hz=0)
    with pytest.raises(ValueError, match="limit_mode"):
        config(limit_mode="warn")
    with pytest.raises(ValueError, match="interpolation"):
        config(interpolation="spline")
    with pytest.raises(ValueError, match="joint limits missing"):
        config(action_names=("j1", "j3"))


def test_measured_state_outside_position_limits_is_rejected_and_nothing_moves():
    # Regression: a measured state beyond the limits used to make the first command jump to the
    # limit and the next one ignore the velocity limit.
    names = ("j1", "j2", "j3")
    cfg = ChunkScheduleConfig(
        action_names=names, control_rate_hz=100, joint_limits=JointLimits(names, [-3] * 3, [3] * 3, [2] * 3, [50] * 3)
    )
    plan = ChunkSchedule(cfg)
    chunk = ActionChunkData(
        stamp_ns=10**9,
        start_ns=10**9,
        dt_s=0.1,
        action_names=names,
        actions=np.full((8, 3), -1.4, np.float32),
        execute_steps=4,
    )
    result = plan.add_chunk(chunk, 10**9, measured=np.array([20.0, 0.0, 0.0]))
    assert isinstance(result, Rejected) and "outside the joint position limits (j1=20)" in result.reason
    assert plan.target_at(10**9 + 10**7) is None
    accepted = plan.add_chunk(chunk, 10**9, measured=np.array([-1.4, -1.4, -1.4]))
    assert not isinstance(accepted, Rejected)


def test_after_clear_the_next_plan_starts_from_the_measured_state():
    names = ("j1", "j2", "j3")
    cfg = ChunkScheduleConfig(
        action_names=names, control_rate_hz=100, joint_limits=JointLimits(names, [-3] * 3, [3] * 3, [2] * 3, [50] * 3)
    )
    plan = ChunkSchedule(cfg)
    first = ActionChunkData(
        stamp_ns=10**9,
        start_ns=10**9,
        dt_s=0.1,
        action_names=names,
        actions=np.full((8, 3), 1.0, np.float32),
        execute_steps=4,
    )
    assert not isinstance(plan.add_chunk(first, 10**9, measured=np.full(3, 1.0)), Rejected)
    np.testing.assert_allclose(plan.target_at(10**9), 1.0)
    plan.clear()
    assert plan.target_at(10**9) is None
    # The robot was moved to -1 while the policy was off; the next plan starts there, not at +1.
    second = ActionChunkData(
        stamp_ns=2 * 10**9,
        start_ns=2 * 10**9,
        dt_s=0.1,
        action_names=names,
        actions=np.full((8, 3), -1.0, np.float32),
        execute_steps=4,
    )
    assert not isinstance(plan.add_chunk(second, 2 * 10**9, measured=np.full(3, -1.0)), Rejected)
    np.testing.assert_allclose(plan.target_at(2 * 10**9), -1.0)


def test_horizon_one_chunk_is_a_set_point_held_until_replaced():
    plan = ChunkSchedule(config())
    now = 5 * S
    one = chunk(np.array([[0.2, -0.2]]), now - 100 * MS)  # its only action is already in the past
    assert plan.add_chunk(one, now)
    for later in (now, now + 10 * S):
        np.testing.assert_allclose(plan.target_at(later), [0.2, -0.2], atol=1e-6)
        assert not plan.exhausted(later)
    assert plan.motion_end_ns() <= now + 100 * MS  # nothing moves after the blend
    assert plan.add_chunk(chunk(ramp(), now + 20 * MS, seq=1), now + 20 * MS)
    assert not np.allclose(plan.target_at(now + S), [0.2, -0.2])


def test_oversized_chunks_are_refused_before_any_work():
    plan = ChunkSchedule(config(max_chunk_actions=64))
    result = plan.add_chunk(chunk(np.zeros((65, 2)), S), S)
    assert not result and "65 actions > max_chunk_actions 64" in result.reason
    with pytest.raises(ValueError, match="max_chunk_actions"):
        config(max_chunk_actions=0)


def test_plan_end_and_final_target():
    plan = ChunkSchedule(config())
    now = S
    assert plan.final_target() is None and plan.exhausted(now)
    plan.add_chunk(chunk(ramp(slope=0.01), now), now)
    np.testing.assert_allclose(plan.final_target(), ramp(slope=0.01)[-1], atol=1e-6)
    assert not plan.exhausted(now + int(1.5 * S)) and plan.exhausted(now + int(1.5 * S) + 1)
