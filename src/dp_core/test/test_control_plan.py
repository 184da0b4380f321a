"""ChunkPlan: latency skip, jump-free takeover, ensembling, rejection, limits; Watchdog."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.limits import JointLimits, check_trajectory
from dp_core.control.plan import Accepted, ChunkPlan, ExecutorConfig, Rejected, smoothstep
from dp_core.control.watchdog import Watchdog, WatchdogConfig

MS = 1_000_000
S = 1_000_000_000
NAMES = ("j1", "j2")
RATE = 250.0
LIMITS = JointLimits(NAMES, [-3.0, -3.0], [3.0, 3.0], [2.0, 2.0], [40.0, 40.0])


def chunk(actions, start_ns, stamp_ns=None, dt_s=0.1, names=NAMES, seq=0) -> ActionChunkData:
    actions = np.asarray(actions, dtype=np.float32)
    return ActionChunkData(stamp_ns=start_ns if stamp_ns is None else stamp_ns, start_ns=start_ns, dt_s=dt_s,
                           action_names=names, actions=actions, execute_steps=len(actions), sequence=seq)


def config(**kw) -> ExecutorConfig:
    base = dict(action_names=NAMES, control_rate_hz=RATE, blend_s=0.1, joint_limits=LIMITS)
    base.update(kw)
    return ExecutorConfig(**base)


def ramp(n=16, slope=0.05, offset=0.0):
    k = np.arange(n, dtype=np.float32)[:, None]
    return np.concatenate([offset + slope * k, offset - slope * k], axis=1)


def test_late_chunk_starts_at_the_action_for_now():
    plan = ChunkPlan(config(joint_limits=None))
    now = 10 * S
    actions = ramp()
    result = plan.add_chunk(chunk(actions, start_ns=now - 150 * MS), now)
    assert isinstance(result, Accepted) and result.skipped_actions == 2
    np.testing.assert_allclose(plan.command_at(now), (actions[1] + actions[2]) / 2, atol=1e-6)
    np.testing.assert_allclose(plan.command_at(now + 50 * MS), actions[2], atol=1e-6)
    assert plan.remaining_s(now + 50 * MS) == pytest.approx(1.5 - 0.2)


def test_consecutive_chunks_join_without_a_large_step():
    plan = ChunkPlan(config())
    period_ns = int(S / RATE)
    now = 5 * S
    plan.add_chunk(chunk(ramp(), now), now)
    commands = []
    for k in range(400):
        t = now + k * period_ns
        if k % 50 == 25:  # every 0.2 s a new chunk that disagrees with the old one by 0.3 rad
            new = ramp(offset=0.3 * (-1) ** k + 0.05 * (k / 25))
            assert plan.add_chunk(chunk(new, t - 80 * MS, seq=k), t)
        commands.append(plan.command_at(t))
    commands = np.stack(commands)
    steps = np.abs(np.diff(commands, axis=0))
    assert steps.max() <= 2.0 / RATE + 1e-9
    assert check_trajectory(plan.limits, commands, 1 / RATE, start=commands[0]) == []


def test_blend_is_continuous_even_without_limits():
    plan = ChunkPlan(config(joint_limits=None, blend_s=0.2))
    now = S
    plan.add_chunk(chunk(np.zeros((16, 2)), now), now)
    before = plan.command_at(now + 4 * MS)
    plan.add_chunk(chunk(np.ones((16, 2)), now + 4 * MS), now + 4 * MS)
    after = plan.command_at(now + 8 * MS)
    assert np.abs(after - before).max() < 2e-3  # smoothstep starts flat (a jump would be 1.0)
    halfway = plan.command_at(now + 104 * MS)
    np.testing.assert_allclose(halfway, 0.5, atol=1e-6)
    np.testing.assert_allclose(plan.command_at(now + 300 * MS), 1.0)
    assert smoothstep(0.5) == 0.5 and smoothstep(-1) == 0 and smoothstep(2) == 1


def test_temporal_ensembling_averages_overlapping_chunks():
    plan = ChunkPlan(config(joint_limits=None, ensemble=True, ensemble_decay=0.0, blend_s=0.0))
    now = S
    plan.add_chunk(chunk(np.zeros((16, 2)), now), now)
    plan.add_chunk(chunk(np.ones((16, 2)), now), now)
    np.testing.assert_allclose(plan.command_at(now + 20 * MS), 0.5)
    decayed = ChunkPlan(config(joint_limits=None, ensemble=True, ensemble_decay=1.0, blend_s=0.0))
    decayed.add_chunk(chunk(np.zeros((16, 2)), now), now)
    decayed.add_chunk(chunk(np.ones((16, 2)), now), now)
    np.testing.assert_allclose(decayed.command_at(now), np.exp(-1) / (1 + np.exp(-1)))  # older weighs more


def test_rejections_name_the_problem():
    plan = ChunkPlan(config(max_past_s=0.5, max_future_s=0.2))
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
    assert plan.command_at(now) is None and plan.exhausted(now)
    bad_measured = plan.add_chunk(chunk(ramp(), now), now, measured=np.array([np.nan, 0]))
    assert not bad_measured and "measured" in bad_measured.reason
    reordered = plan.add_chunk(chunk(ramp()[:, ::-1], now, names=("j2", "j1")), now)
    assert reordered and plan.command_at(now) is not None


def test_reject_mode_refuses_limit_violations_clip_mode_reports_them():
    now = S
    too_fast = ramp(slope=0.5)  # 5 rad/s > 2 rad/s
    reject = ChunkPlan(config(limit_mode="reject"))
    result = reject.add_chunk(chunk(too_fast, now), now)
    assert not result and "velocity" in result.reason and result.violations
    far = ChunkPlan(config(limit_mode="reject", max_step_from_measured=0.1))
    result = far.add_chunk(chunk(ramp(offset=1.0), now), now, measured=np.zeros(2))
    assert not result and "step from measured" in result.reason
    clip = ChunkPlan(config())
    result = clip.add_chunk(chunk(too_fast, now), now, measured=np.zeros(2))
    assert result and result.violations
    cmds = np.stack([clip.command_at(now + k * 4 * MS) for k in range(200)])
    assert check_trajectory(clip.limits, cmds, 1 / RATE, start=np.zeros(2), start_velocity=np.zeros(2)) == []


def test_trajectory_output_is_the_limited_remainder():
    plan = ChunkPlan(config())
    now = S
    assert plan.trajectory(now, 0.1)[0].size == 0
    plan.add_chunk(chunk(ramp(slope=0.01), now - 100 * MS), now, measured=ramp(slope=0.01)[1])
    plan.command_at(now)
    times, values = plan.trajectory(now, 0.1)
    assert times[0] == 0.0 and times[-1] == pytest.approx(1.4) and values.shape == (len(times), 2)
    np.testing.assert_allclose(values[-1], ramp(slope=0.01)[-1], atol=1e-6)
    assert not plan.exhausted(now + int(1.4 * S)) and plan.exhausted(now + int(1.5 * S))
    plan.clear()
    assert plan.command_at(now + S // 2) is None and plan.last_command is not None


def test_config_validation():
    with pytest.raises(ValueError, match="control_rate_hz"):
        config(control_rate_hz=0)
    with pytest.raises(ValueError, match="limit_mode"):
        config(limit_mode="warn")
    with pytest.raises(ValueError, match="interpolation"):
        config(interpolation="spline")
    with pytest.raises(ValueError, match="joint limits missing"):
        config(action_names=("j1", "j3"))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    chunks=st.lists(
        st.tuples(
            st.integers(1, 20),  # horizon
            st.sampled_from([0.05, 0.1, 0.1, 0.1, 1e-3, 0.5, 100.0]),  # dt_s
            st.sampled_from([0.05, 0.1, 0.5, 10.0, 1e6, 3e38]),  # value scale
            st.one_of(st.integers(-S // 2, S // 5), st.integers(-3 * S, 3 * S)),  # start offset from now
            st.integers(0, 60),  # control ticks until the next chunk
        ),
        min_size=1,
        max_size=5,
    ),
    mode=st.sampled_from(["clip", "reject"]),
    method=st.sampled_from(["linear", "cubic"]),
    ensemble=st.booleans(),
)
def test_fuzzed_chunks_never_crash_and_never_exceed_limits(seed, chunks, mode, method, ensemble):
    rng = np.random.default_rng(seed)
    plan = ChunkPlan(config(limit_mode=mode, interpolation=method, ensemble=ensemble, max_step_from_measured=0.5))
    now = 1000 * S
    measured = rng.uniform(-1, 1, size=2)
    commands = []
    for horizon, dt_s, scale, offset, ticks in chunks:
        actions = np.clip(rng.normal(size=(horizon, 2)) * scale, -3e38, 3e38)
        result = plan.add_chunk(chunk(actions, now + offset, stamp_ns=now + offset // 2, dt_s=dt_s), now, measured)
        assert isinstance(result, (Accepted, Rejected))
        for _ in range(ticks):
            cmd = plan.command_at(now)
            if cmd is not None:
                commands.append(cmd)
            now += 4 * MS
        plan.remaining_s(now)
        plan.trajectory(now, 0.05)
    if commands:
        cmds = np.stack(commands)
        assert np.all(np.isfinite(cmds))
        assert np.all(np.abs(cmds) <= 3.0 + 1e-9)
        # holds reset velocity to zero, so only check the step bound across the whole run
        assert np.abs(np.diff(cmds, axis=0)).max(initial=0) <= 2.0 / RATE + 1e-9


def test_watchdog_reasons():
    dog = Watchdog(WatchdogConfig(state_timeout_s=0.1))
    now = 10 * S
    assert dog.check(now, policy_active=False, plan_exhausted=False, last_state_ns=now).reason == "policy inactive"
    assert dog.changed
    held = dog.check(now, policy_active=True, plan_exhausted=False, last_state_ns=now - 200 * MS)
    assert held.hold and "stale" in held.reason
    assert dog.check(now, policy_active=True, plan_exhausted=False, last_state_ns=None).reason == "no robot state received"
    assert dog.check(now, policy_active=True, plan_exhausted=True, last_state_ns=now).reason.startswith("plan exhausted")
    ok = dog.check(now, policy_active=True, plan_exhausted=False, last_state_ns=now - 50 * MS)
    assert ok.ok and dog.changed
    dog.check(now, policy_active=True, plan_exhausted=False, last_state_ns=now)
    assert not dog.changed
    open_loop = Watchdog(WatchdogConfig(require_state=False))
    assert open_loop.check(now, policy_active=True, plan_exhausted=False, last_state_ns=None).ok
    with pytest.raises(ValueError, match="state_timeout_s"):
        WatchdogConfig(state_timeout_s=0)


def test_measured_state_outside_position_limits_is_rejected_and_nothing_moves():
    # Regression: a measured state beyond the limits used to make the first command jump to the
    # limit and the next one ignore the velocity limit.
    names = ("j1", "j2", "j3")
    cfg = ExecutorConfig(action_names=names, control_rate_hz=100,
                         joint_limits=JointLimits(names, [-3] * 3, [3] * 3, [2] * 3, [50] * 3))
    plan = ChunkPlan(cfg)
    chunk = ActionChunkData(stamp_ns=10**9, start_ns=10**9, dt_s=0.1, action_names=names,
                            actions=np.full((8, 3), -1.4, np.float32), execute_steps=4)
    result = plan.add_chunk(chunk, 10**9, measured=np.array([20.0, 0.0, 0.0]))
    assert isinstance(result, Rejected) and "outside the joint position limits (j1=20)" in result.reason
    assert plan.command_at(10**9 + 10**7) is None
    accepted = plan.add_chunk(chunk, 10**9, measured=np.array([-1.4, -1.4, -1.4]))
    assert not isinstance(accepted, Rejected)


def test_clear_forgetting_the_command_restarts_from_the_measured_state():
    names = ("j1", "j2", "j3")
    cfg = ExecutorConfig(action_names=names, control_rate_hz=100,
                         joint_limits=JointLimits(names, [-3] * 3, [3] * 3, [2] * 3, [50] * 3))
    plan = ChunkPlan(cfg)
    first = ActionChunkData(stamp_ns=10**9, start_ns=10**9, dt_s=0.1, action_names=names,
                            actions=np.full((8, 3), 1.0, np.float32), execute_steps=4)
    assert not isinstance(plan.add_chunk(first, 10**9, measured=np.full(3, 1.0)), Rejected)
    np.testing.assert_allclose(plan.command_at(10**9), 1.0)
    plan.clear(forget_command=True)
    assert plan.last_command is None
    # The robot was moved to -1 while the policy was off; the next plan starts there, not at +1.
    second = ActionChunkData(stamp_ns=2 * 10**9, start_ns=2 * 10**9, dt_s=0.1, action_names=names,
                             actions=np.full((8, 3), -1.0, np.float32), execute_steps=4)
    assert not isinstance(plan.add_chunk(second, 2 * 10**9, measured=np.full(3, -1.0)), Rejected)
    np.testing.assert_allclose(plan.command_at(2 * 10**9), -1.0)
