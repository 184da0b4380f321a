"""ChunkExecutor: the safety properties, checked on every output over adversarial inputs and timing.

Properties (README "What the nodes guarantee"):
a. no motion without a valid, fresh measured state; every plan from idle starts at the measured state;
b. every command / trajectory point / join respects position, velocity and acceleration limits
   relative to the previous one over the elapsed time (capped at MAX_GAP_PERIODS periods);
c. every stop decelerates within the limits and ends at rest; trajectory mode replaces the
   controller's trajectory with a stop trajectory that ends at rest;
d. freshness: invalid states never refresh it, future stamps are invalid, age = older of stamp/receipt;
e. a measured state outside the limits stops the plan;
f. ordering per policy_id by sequence; a future-stamped chunk never blocks later ones;
g. bounded chunk size; h. horizon-1 chunks are accepted.
A hold/stop begins within max_state_age_s + one period of its cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
from dp_core.control.executor import ChunkExecutor, ChunkExecutorConfig, Output
from dp_core.control.limits import CartesianLimits, JointLimits
from dp_core.control.motion_limiter import MAX_GAP_PERIODS, quat_conjugate, quat_multiply, quat_to_rotvec
from dp_core.control.trajectory import Trajectory
from dp_core.control.watchdog import WatchdogConfig

MS = 1_000_000
S = 1_000_000_000
JOINTS = ("j1", "j2", "j3")
POSE = ("x", "y", "z", "qx", "qy", "qz", "qw")
VMAX = np.array([1.0, 2.0, 0.5])
AMAX = np.array([5.0, 10.0, 4.0])
PMIN, PMAX = np.array([-2.0, -1.0, -3.0]), np.array([2.0, 1.0, 3.0])
BOX_MIN, BOX_MAX = np.array([0.2, -0.4, 0.0]), np.array([0.8, 0.4, 0.6])
LIN_V, LIN_A, ANG_V, ANG_A = 0.5, 2.0, 1.0, 5.0
MAX_AGE_S, POLICY_TIMEOUT_S = 0.05, 0.3
TOL = 1e-6
EXAMPLES = int(os.environ.get("DP_EXECUTOR_EXAMPLES", "200"))  # per output mode; `pytest -m stress`: 20x


def make_config(mode: str, rate_hz: float = 250.0, **plan_kw) -> ChunkExecutorConfig:
    if mode == "pose":
        plan = ChunkScheduleConfig(
            POSE,
            control_rate_hz=rate_hz,
            cartesian_limits=CartesianLimits(BOX_MIN, BOX_MAX, LIN_V, ANG_V, LIN_A, ANG_A),
            max_chunk_actions=64,
            **plan_kw,
        )
    else:
        plan = ChunkScheduleConfig(
            JOINTS,
            control_rate_hz=rate_hz,
            joint_limits=JointLimits(JOINTS, PMIN, PMAX, VMAX, AMAX),
            max_chunk_actions=64,
            **plan_kw,
        )
    return ChunkExecutorConfig(plan, WatchdogConfig(MAX_AGE_S, 0.01, POLICY_TIMEOUT_S), mode, 0.02)


# ---- checks -----------------------------------------------------------------------------------
def unit(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q)


def motion(prev: np.ndarray, cur: np.ndarray, dt: float, mode: str) -> np.ndarray:
    """Velocity from prev to cur over dt: joints (3,), or pose [linear (3,), angular (3,)]."""
    if mode != "pose":
        return (cur - prev) / dt
    w = quat_to_rotvec(quat_multiply(unit(cur[3:]), quat_conjugate(unit(prev[3:])))) / dt
    return np.concatenate([(cur[:3] - prev[:3]) / dt, w])


def check_velocity(v: np.ndarray, mode: str, what: str) -> None:
    assert np.all(np.isfinite(v)), what
    if mode == "pose":
        assert np.linalg.norm(v[:3]) <= LIN_V * (1 + TOL) + 1e-9, (what, "linear speed", v)
        assert np.linalg.norm(v[3:]) <= ANG_V * (1 + TOL) + 1e-7, (what, "angular speed", v)
    else:
        assert np.all(np.abs(v) <= VMAX * (1 + TOL) + 1e-9), (what, "velocity", v)


def check_acceleration(dv: np.ndarray, dt: float, mode: str, what: str) -> None:
    a = dv / dt
    if mode == "pose":
        assert np.linalg.norm(a[:3]) <= LIN_A * (1 + TOL) + 1e-6, (what, "linear acceleration", a)
        assert np.linalg.norm(a[3:]) <= ANG_A * (1 + TOL) + 1e-4, (what, "angular acceleration", a)
    else:
        assert np.all(np.abs(a) <= AMAX * (1 + TOL) + 1e-4), (what, "acceleration", a)  # 1e-4: a settled end


def check_position(p: np.ndarray, mode: str, what: str) -> None:
    assert np.all(np.isfinite(p)), what
    if mode == "pose":
        assert np.all(p[:3] >= BOX_MIN - 1e-9) and np.all(p[:3] <= BOX_MAX + 1e-9), (what, "box", p)
        assert abs(np.linalg.norm(p[3:]) - 1.0) < 1e-6, (what, "unit quaternion", p)
    else:
        assert np.all(p >= PMIN - 1e-9) and np.all(p <= PMAX + 1e-9), (what, "position limits", p)


@dataclass
class StreamChecker:
    """Streaming modes: every published command against the previous one."""

    mode: str
    period_s: float
    prev: np.ndarray | None = None
    prev_v: np.ndarray | None = None

    def feed(self, out: Output, dt: float, measured: np.ndarray | None) -> None:
        if not out.publish or out.command is None:
            self.prev = self.prev_v = None  # idle: nothing commanded; the next plan starts afresh
            return
        cmd = out.command
        check_position(cmd, self.mode, "command")
        if self.prev is None:  # a plan from idle starts at rest at the measured state (a: never a jump)
            assert measured is not None, "a command without any measured state"
            self.prev, self.prev_v = measured, np.zeros(6 if self.mode == "pose" else 3)
        dt_eff = min(dt, MAX_GAP_PERIODS * self.period_s)
        if dt_eff <= 0:
            np.testing.assert_allclose(cmd, self.prev, atol=1e-12)  # no time, no motion
            return
        v = motion(self.prev, cmd, dt_eff, self.mode)
        check_velocity(v, self.mode, "command")
        check_acceleration(v - self.prev_v, dt_eff, self.mode, "command")  # type: ignore[operator]
        self.prev, self.prev_v = cmd, v


@dataclass
class TrajectoryChecker:
    """Trajectory mode: every point, the spline between points, and every join."""

    sent: Trajectory | None = None
    count: int = 0
    idle: bool = True

    def feed(self, out: Output, measured: np.ndarray | None) -> None:
        traj = out.trajectory
        if traj is None:
            self.idle = self.idle or out.mode == "idle"
            return
        self.count += 1
        if self.idle:  # from idle: at rest at the measured state
            assert measured is not None, "a trajectory without any measured state"
            np.testing.assert_allclose(traj.p0, measured, atol=1e-9)
            np.testing.assert_allclose(traj.v0, 0.0, atol=1e-12)
            self.idle = False
        elif self.sent is not None:  # the join: the new one starts from where the old one is now
            p_old, v_old = self.sent.state_at(traj.start_ns)
            np.testing.assert_allclose(traj.p0, p_old, atol=1e-9)
            np.testing.assert_allclose(traj.v0, v_old, atol=1e-9)
        assert len(traj.times_s) >= 1 and np.all(np.diff(traj.times_s) > 0) and traj.times_s[0] > 0
        np.testing.assert_allclose(traj.velocities[-1], 0.0, atol=0)  # every trajectory ends at rest
        # it settles: chunks here last <= 4 s, then at most a full-range move at the velocity limit
        assert traj.times_s[-1] < 4.0 + np.max((PMAX - PMIN) / VMAX) + np.max(VMAX / AMAX) + 1.0, "no settling"
        dts = np.diff(np.concatenate([[0.0], traj.times_s]))
        vel = np.concatenate([traj.v0[None], traj.velocities])
        # positions and velocities agree (trapezoid steps: exactly what a cubic spline through them executes)
        steps = np.diff(np.concatenate([traj.p0[None], traj.positions]), axis=0)
        np.testing.assert_allclose(steps, (vel[1:] + vel[:-1]) / 2 * dts[:, None], atol=1e-7)
        for k, p in enumerate(traj.positions):
            check_position(p, "joint", "trajectory point")
            check_velocity(traj.velocities[k], "joint", "trajectory point")
            check_acceleration(vel[k + 1] - vel[k], dts[k], "joint", "trajectory point / join")
        # what the controller executes between the points (cubic Hermite), sampled at 1 kHz
        t_ns = traj.start_ns + np.arange(0, traj.end_ns - traj.start_ns + 2 * MS, MS)
        states = [traj.state_at(int(t)) for t in t_ns]
        pos = np.stack([s[0] for s in states])
        v = np.stack([s[1] for s in states])
        assert np.all(pos >= PMIN - 1e-6) and np.all(pos <= PMAX + 1e-6)
        assert np.all(np.abs(v) <= VMAX * (1 + 1e-6) + 1e-6)
        assert np.all(np.abs(np.diff(v, axis=0)) / 1e-3 <= AMAX * (1 + 1e-3) + 1e-3)
        self.sent = traj


# ---- the scenario ------------------------------------------------------------------------------
@dataclass
class Robot:
    """Tracks the command (or, in trajectory mode, the sent trajectory) exactly; can be moved by hand."""

    mode: str
    q: np.ndarray = field(default_factory=lambda: np.zeros(3))
    pose: np.ndarray = field(default_factory=lambda: np.array([0.5, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0]))

    @property
    def state(self) -> np.ndarray:
        return self.pose.copy() if self.mode == "pose" else self.q.copy()

    def follow(self, out: Output, sent: Trajectory | None, now_ns: int) -> None:
        if self.mode == "trajectory":
            if sent is not None and out.mode != "idle":
                self.q = sent.state_at(now_ns)[0]
        elif out.command is not None:
            if self.mode == "pose":
                self.pose = out.command.copy()
            else:
                self.q = out.command.copy()


def chunk_actions(rng: np.random.Generator, mode: str, horizon: int, scale: float, base: np.ndarray) -> np.ndarray:
    if mode == "pose":
        xyz = base[:3] + rng.normal(size=(horizon, 3)) * scale * 0.2
        q = rng.normal(size=(horizon, 4)) * scale + base[3:]
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-6)
        return np.concatenate([xyz, q], axis=1)
    return base + np.cumsum(rng.normal(size=(horizon, 3)) * scale, axis=0)


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "chunk",
                "chunk",
                "chunk",
                "future_chunk",
                "old_sequence",
                "huge",
                "bad_names",
                "one_step",
                "nan_state",
                "partial_state",
                "future_state",
                "outside_state",
                "dropout",
                "deactivate",
                "activate",
                "silence",
                "move_robot",
                "nothing",
            ]
        ),
        st.integers(0, 10**6),  # seed for this event
        st.integers(1, 60),  # ticks until the next event
        st.sampled_from(["steady", "steady", "jitter", "late", "bunched"]),
    ),
    min_size=1,
    max_size=12,
)


def run_scenario(mode: str, events, rate_hz: float = 250.0, **plan_kw) -> dict[str, int]:
    config = make_config(mode, rate_hz, **plan_kw)
    ex = ChunkExecutor(config)
    period_ns = round(S / rate_hz)
    robot = Robot(mode)
    stream, traj_check = StreamChecker(mode, 1.0 / rate_hz), TrajectoryChecker()
    now = 1000 * S
    seq = {"a": 0, "b": 0}
    policy_on, silent, dropout_until = True, False, 0
    last_valid_state, state_bad_since = None, None
    accepted: dict[str, int] = {}  # the executor's ordering: restarts on every activation
    status = {"state": "", "at": -(10**18)}

    def set_status(state: str) -> None:
        if state == "active" and (status["state"] != "active" or now - status["at"] > POLICY_TIMEOUT_S * S):
            accepted.clear()
        ex.set_policy_state(state, now)
        status.update(state=state, at=now)
        nonlocal_last[0] = now

    nonlocal_last = [now]
    set_status("active")
    modes: dict[str, int] = {}
    last_tick = now
    for kind, seed, ticks, timing in events:
        rng = np.random.default_rng(seed)
        base = robot.state
        if kind in ("chunk", "future_chunk", "old_sequence", "huge", "bad_names", "one_step"):
            pid = "a" if rng.random() < 0.8 else "b"
            horizon = {"huge": 65, "one_step": 1}.get(kind, int(rng.integers(2, 20)))
            dt_s = float(rng.choice([0.05, 0.1, 0.1, 0.2]))
            start = now + int(rng.integers(-300, 200)) * MS
            stamp = now + (400 * MS if kind == "future_chunk" else -int(rng.integers(0, 100)) * MS)
            if kind != "old_sequence":
                seq[pid] += 1
            old = kind == "old_sequence" and pid in accepted
            names = config.plan.action_names
            if kind == "bad_names":
                names = ("x", "y", "zz", "qx", "qy", "qz", "qw") if mode == "pose" else ("j1", "j2", "j9")
            actions = chunk_actions(rng, mode, horizon, float(rng.choice([0.01, 0.1, 1.0, 100.0])), base)
            chunk = ActionChunkData(
                stamp,
                start,
                dt_s,
                names,
                actions.astype(np.float32),
                horizon,
                sequence=accepted.get(pid, 0) if kind == "old_sequence" else seq[pid],
                policy_id=pid,
            )
            result = ex.add_chunk(chunk, now)
            if kind in ("huge", "bad_names") or old:
                assert not result, (kind, result)
            if result:
                accepted[pid] = chunk.sequence
            if kind == "one_step" and result is not None and not result:
                assert "holding" in result.reason or "reordered" in result.reason or "stale" in result.reason, result
        elif kind == "deactivate":
            policy_on = False
            set_status("inactive")
        elif kind == "activate":
            policy_on, silent = True, False
            set_status("active")
        elif kind == "silence":
            silent = True  # the policy stops publishing its status
        elif kind == "move_robot" and ex.mode == "idle":
            if mode == "pose":
                robot.pose[:3] = rng.uniform(BOX_MIN + 0.05, BOX_MAX - 0.05)
            else:
                robot.q = rng.uniform(PMIN + 0.1, PMAX - 0.1)
        for k in range(ticks):
            step = {
                "steady": period_ns,
                "jitter": int(period_ns * rng.uniform(0.2, 1.8)),
                "late": period_ns * int(rng.choice([1, 1, 5, 20])),
                "bunched": int(rng.choice([0, period_ns // 10, period_ns * 2])),
            }[timing]
            now += step
            if policy_on and not silent and k % 10 == 0:
                set_status("active")
            if kind == "dropout" and k == 0:
                dropout_until = now + int(rng.integers(1, 4)) * MAX_AGE_S * S
            if now >= dropout_until:
                state = robot.state
                if k == 0 and kind in ("nan_state", "partial_state", "future_state", "outside_state"):
                    state_bad_since = now
                    if kind == "partial_state" and mode == "pose":  # a pose has no parts: a valid state
                        state_bad_since, last_valid_state = None, now
                    if kind == "nan_state":
                        state[0] = np.nan
                    if kind == "outside_state":
                        state[0] = (PMAX[0] + 0.5) if mode != "pose" else BOX_MAX[0] + 0.5
                    feed_state(
                        ex,
                        mode,
                        state,
                        now + (S if kind == "future_state" else -MS),
                        now,
                        partial=kind == "partial_state",
                    )
                else:
                    feed_state(ex, mode, state, now - MS, now)
                    last_valid_state, state_bad_since = now, None
            out = ex.tick(now)
            dt = (now - last_tick) / S
            last_tick = now
            modes[out.mode] = modes.get(out.mode, 0) + 1
            measured = ex.watchdog.measured
            if mode == "trajectory":
                traj_check.feed(out, measured)
            else:
                stream.feed(out, dt, measured)
            robot.follow(out, traj_check.sent, now)
            # a cause of a stop is never met with execution for longer than max_state_age + one period
            fault = (
                not policy_on
                or now - nonlocal_last[0] > POLICY_TIMEOUT_S * S
                or last_valid_state is None
                or now - last_valid_state > MAX_AGE_S * S + period_ns * MAX_GAP_PERIODS
                or state_bad_since is not None
            )
            if fault:
                assert out.mode != "executing", (kind, out.mode, out.reason)
    return modes


def feed_state(
    ex: ChunkExecutor, mode: str, state: np.ndarray, stamp: int, receipt: int, partial: bool = False
) -> None:
    if mode == "pose":
        ex.set_pose(state[:3], state[3:], stamp, receipt)
    else:
        names = list(JOINTS[:2]) if partial else list(JOINTS) + ["other_joint"]
        ex.set_joint_state(names, list(state[: len(names)]) + ([0.0] if not partial else []), stamp, receipt)


@pytest.mark.parametrize("mode", ["position", "trajectory", "pose"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=EVENTS, ensemble=st.booleans(), interpolation=st.sampled_from(["linear", "cubic"]))
def test_every_output_is_within_the_limits(mode, events, ensemble, interpolation):
    run_scenario(mode, events, ensemble=ensemble, interpolation=interpolation)


@pytest.mark.stress
@pytest.mark.parametrize("mode", ["position", "trajectory", "pose"])
@settings(max_examples=EXAMPLES * 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=EVENTS,
    ensemble=st.booleans(),
    interpolation=st.sampled_from(["linear", "cubic"]),
    rate_hz=st.sampled_from([50.0, 250.0, 1000.0]),
)
def test_every_output_is_within_the_limits_stress(mode, events, ensemble, interpolation, rate_hz):
    run_scenario(mode, events, rate_hz, ensemble=ensemble, interpolation=interpolation)
