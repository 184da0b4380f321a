"""The libfranka-like reflexes: pure monitor, and the sim aborting motion per command mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_sim import fr3, reflexes
from dp_sim.env import PushTSim, PushTSimConfig, ReflexActive
from dp_sim.joint_trajectory import TrajectoryPoints
from dp_sim.reflexes import ReflexLimits, ReflexMonitor

T = reflexes.INTERFACE_PERIOD_S
Q0 = np.array(fr3.FRANKA_READY_Q)


def test_limits_are_franka_published_values():
    lim = reflexes.FR3_LIMITS
    assert lim.dq_max == (2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26)  # franka_description joint_limits.yaml
    assert lim.ddq_max == (15.0, 7.5, 10.0, 12.5, 15.0, 20.0, 20.0)  # libfranka kMaxJointAcceleration
    assert lim.dddq_max == (7500.0, 3750.0, 5000.0, 6250.0, 7500.0, 10000.0, 10000.0)  # kMaxJointJerk
    with pytest.raises(ValueError, match="dq_max"):
        ReflexLimits(dq_max=(1.0,) * 6)
    with pytest.raises(ValueError, match="q_min"):
        ReflexLimits(q_min=tuple(fr3.Q_MAX), q_max=tuple(fr3.Q_MIN))


def smooth_profile(q0: np.ndarray, amplitude: np.ndarray, duration_s: float) -> np.ndarray:
    """Minimum-jerk move sampled at 1 kHz (zero velocity and acceleration at both ends)."""
    s = np.linspace(0.0, 1.0, int(round(duration_s / T)) + 1)[:, None]
    return q0 + amplitude * (10 * s**3 - 15 * s**4 + 6 * s**5)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.3, 0.3), min_size=7, max_size=7), st.floats(2.0, 4.0))
def test_smooth_1khz_stream_never_trips(amplitude, duration_s):
    # peak velocity 1.875 A/T, acceleration 5.77 A/T^2, jerk 60 A/T^3: inside every FR3 limit here
    monitor = ReflexMonitor()
    monitor.reset(Q0)
    for k, q in enumerate(smooth_profile(Q0, np.array(amplitude), duration_s)):
        assert monitor.check_position(k * 1_000_000, q) is None
    assert monitor.count == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 6), st.floats(1e-4, 0.05), st.integers(2, 10))
def test_a_stream_held_between_slow_messages_trips(joint, step_rad, period_ms):
    """A stream slower than 1 kHz is held: each new message is a step (issue: 250 Hz into 1 kHz)."""
    monitor = ReflexMonitor()
    monitor.reset(Q0)
    q = Q0.copy()
    tripped = None
    for k in range(200):
        if k % period_ms == 0:
            q = q.copy()
            q[joint] += step_rad * (1 if Q0[joint] < 0 else -1)
        tripped = monitor.check_position(k * 1_000_000, q)
        if tripped:
            break
    assert tripped is not None and tripped.joint == joint
    assert tripped.error in (reflexes.ACCELERATION, reflexes.JERK, reflexes.VELOCITY_LIMITS)
    # latched: everything after is the same reflex until recovery
    assert monitor.check_position(10**9, Q0) is tripped
    monitor.recover(q)
    assert monitor.reflex is None and monitor.check_position(10**9, q) is None and monitor.count == 1


def test_each_position_check_fires_on_its_own():
    cases = {
        reflexes.VELOCITY_LIMITS: lambda k: Q0 + np.eye(7)[0] * 3.0 * T * k,  # 3 rad/s, reached at once
        reflexes.POSITION_LIMITS: lambda k: np.where(np.arange(7) == 0, fr3.Q_MAX[0] + 0.01, Q0),
    }
    for error, path in cases.items():
        monitor = ReflexMonitor()
        monitor.reset(path(0))
        found = next(r for k in range(1, 50) if (r := monitor.check_position(k, path(k))))
        assert found.error == error and found.joint == 0, found
    # acceleration 20 rad/s^2 from rest on joint 2 (limit 7.5), ramped so the jerk stays legal
    monitor = ReflexMonitor()
    monitor.reset(Q0)
    q, v, a = Q0.copy(), np.zeros(7), np.zeros(7)
    for k in range(1, 400):
        a[1] = min(a[1] + 3000.0 * T, 20.0)
        v = v + a * T
        q = q + v * T
        found = monitor.check_position(k, q)
        if found:
            break
    assert found.error == reflexes.ACCELERATION and found.joint == 1
    assert "fr3_joint2" in found.describe() and "error recovery" in found.describe()


def test_effort_interface_judges_desired_state():
    monitor = ReflexMonitor()
    monitor.reset(Q0)
    assert monitor.check_effort(1, Q0, np.full(7, 1.0)) is None
    found = monitor.check_effort(2, Q0, np.array([0, 0, 0, 0, 0, 4.5, 0.0]))
    assert found.error == reflexes.JOINT_VELOCITY and found.joint == 5 and found.limit == 4.18
    monitor.recover(Q0)
    assert monitor.check_effort(3, Q0, np.full(7, np.nan)).error == reflexes.JOINT_VELOCITY  # NaN is a violation


@pytest.fixture(scope="module")
def twin():
    sim = PushTSim(PushTSimConfig(strict_interface=True))
    yield sim
    sim.close()


def _settle(sim: PushTSim, steps: int = 200) -> None:
    sim.step(steps)
    assert sim.reflex is None, sim.reflex


def test_twin_trajectory_too_fast_fires_then_recovers(twin):
    twin.reset(1)
    q_far = twin.ready_q + np.array([0.6, 0, 0, 0, 0, 0, 0])
    twin.set_joint_trajectory(TrajectoryPoints(np.array([0.1]), q_far[None]), 0)  # 6 rad/s on joint 1
    twin.step(100)
    assert twin.reflex is not None and twin.reflex.error == reflexes.JOINT_VELOCITY and twin.reflex.joint == 0
    held = twin.commanded_positions()
    with pytest.raises(ReflexActive, match="recover"):
        twin.set_joint_trajectory(TrajectoryPoints(np.array([2.0]), twin.ready_q[None]), 0)
    with pytest.raises(ReflexActive):
        twin.set_joint_targets(twin.ready_q)
    twin.step(50)
    np.testing.assert_array_equal(twin.commanded_positions(), held)  # stopped, not moving on
    assert twin.recover() and twin.reflex is None
    # the same move, slow enough, is executed
    twin.set_joint_trajectory(TrajectoryPoints(np.array([2.0]), (twin.ready_q + [0.1, 0, 0, 0, 0, 0, 0])[None]), 0)
    _settle(twin, 1200)
    assert twin.reflex_count == 1


def test_twin_position_stream_step_fires(twin):
    twin.reset(2)
    twin.set_joint_targets(twin.ready_q + np.array([0, 0, 0, 0, 0, 0, 0.01]))  # a 10 mrad step, held
    twin.step(2)
    assert twin.reflex is not None and twin.reflex.interface == "position"
    assert twin.reflex.error in (reflexes.VELOCITY_LIMITS, reflexes.ACCELERATION)


def test_twin_position_stream_at_interface_rate_passes(twin):
    twin.reset(3)
    path = smooth_profile(twin.ready_q, np.array([0.05, -0.05, 0.05, 0.05, 0.1, 0.05, 0.1]), 1.0)
    for q in path[1:]:
        twin.set_joint_targets(q)  # one command per physics step = per interface cycle
        twin.step(1)
        assert twin.reflex is None, twin.reflex


def test_twin_cartesian_jump_fires_small_steps_pass(twin):
    twin.reset(4)
    _settle(twin, 50)
    tip = twin.ee_position()
    for k in range(1, 40):  # 2 mm per 20 ms = 0.1 m/s, like teleop
        twin.set_pusher_target(tip[:2] + [0.002 * k, 0.0])
        _settle(twin, int(0.02 / twin.dt_s))
    twin.set_pusher_target(tip[:2] + [0.15, 0.1])  # 18 cm at once
    twin.step(int(0.2 / twin.dt_s))
    assert twin.reflex is not None and twin.reflex.interface == "position", twin.reflex


def test_forgiving_sim_filters_position_goals_but_judges_trajectories():
    sim = PushTSim(PushTSimConfig())
    try:
        sim.set_joint_targets(sim.ready_q + 0.05)
        sim.step(300)
        assert sim.reflex is None  # its own filter smooths the step
        sim.set_joint_trajectory(
            TrajectoryPoints(np.array([0.05]), (sim.commanded_positions() + [0.5, 0, 0, 0, 0, 0, 0])[None]), 0
        )
        sim.step(50)
        assert sim.reflex is not None and sim.reflex.error == reflexes.JOINT_VELOCITY
        sim.reset(0)  # a new episode recovers
        assert sim.reflex is None and sim.reflex_count == 1
    finally:
        sim.close()
