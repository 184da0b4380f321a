"""The chunk executor's motion core: chunks, robot state and policy state in; limited commands out.

One object owns the plan (``ChunkSchedule``: targets from chunks), the limiter (``MotionLimiter``:
every output within the limits of the previous one), the watchdog (may it move?) and the mode:

- ``idle``: nothing commanded (start, or after a stop caused by the policy going inactive: the
  robot may be moved by others, and the next plan starts from the measured state);
- ``executing``: following the plan;
- ``stopping``: decelerating to rest at the acceleration limits (a fault: policy inactive or
  silent, state stale / invalid / outside limits) or settling onto the plan's last target (plan
  exhausted);
- ``holding``: at rest, the last command held.

Output modes: ``position`` and ``pose`` stream one command per ``tick``; ``trajectory`` sends a
whole trajectory (points with velocities, ending at rest) when a chunk is accepted, and a stop
trajectory that replaces it on a fault: a JointTrajectoryController keeps executing the last one
it accepted, so silence is never a stop. The node is an adapter: ROS in, one call, ROS out.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.chunk_schedule import Accepted, ChunkSchedule, Rejected
from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
from dp_core.control.motion_limiter import MotionLimiter
from dp_core.control.trajectory import Trajectory
from dp_core.control.watchdog import Watchdog, WatchdogConfig
from dp_core.time_units import NS_PER_S

OutputMode = Literal["position", "trajectory", "pose"]
SETTLED = 1e-6  # rad, rad/s: a trajectory ends when this close to rest on its target
MAX_STOP_S = 30.0  # bound on a generated stop/settle (it ends at rest far sooner within sane limits)


@dataclass(frozen=True)
class ChunkExecutorConfig:
    """``plan`` holds the limits and the control rate; ``trajectory_period_s`` spaces trajectory points."""

    plan: ChunkScheduleConfig
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    output_mode: OutputMode = "position"
    trajectory_period_s: float = 0.02

    def __post_init__(self) -> None:
        if self.output_mode not in ("position", "trajectory", "pose"):
            raise ValueError(f"output_mode must be position, trajectory or pose, got {self.output_mode!r}")
        if not (np.isfinite(self.trajectory_period_s) and self.trajectory_period_s > 0):
            raise ValueError(f"trajectory_period_s must be a finite number > 0, got {self.trajectory_period_s}")
        lay, plan = self.plan.layout, self.plan
        if self.output_mode == "pose":
            if plan.cartesian_limits is None:
                raise ValueError("output_mode 'pose' needs cartesian_limits (box, speeds, accelerations)")
            if lay.joints:
                raise ValueError(
                    f"output_mode 'pose' takes Cartesian actions only, got joints {lay.names_of(lay.joints)}"
                )
        else:
            if not lay.joints:
                raise ValueError(f"output_mode '{self.output_mode}' needs joint action names, got {list(lay.names)}")
            lim = plan.joint_limits
            if lim is None or not np.all(np.isfinite(lim.acceleration_max)):
                raise ValueError(
                    f"output_mode '{self.output_mode}' needs joint_limits with finite velocity_max "
                    "and acceleration_max for every joint"
                )


@dataclass(frozen=True)
class Output:
    """One tick's result. ``command``: the command now (D,) in action order (None while idle);
    ``publish``: stream it (position/pose modes); ``trajectory``: send it (trajectory mode)."""

    mode: str
    reason: str
    command: np.ndarray | None = None
    publish: bool = False
    trajectory: Trajectory | None = None


def _settled(limiter: MotionLimiter, out: np.ndarray, target: np.ndarray | None) -> bool:
    """At rest on the target: a trajectory may end here (its last point's velocity set to 0 changes
    the acceleration by at most SETTLED / period, far below any limit)."""
    if target is None:
        return limiter.at_rest
    return bool(np.all(np.abs(limiter.velocity) <= SETTLED) and np.all(np.abs(out - limiter.clamp(target)) <= SETTLED))


class ChunkExecutor:
    """See the module doc. ``add_chunk`` and ``set_*`` may run on other threads than ``tick``."""

    def __init__(self, config: ChunkExecutorConfig) -> None:
        self.config = config
        self.layout = config.plan.layout
        self.plan = ChunkSchedule(config.plan)
        self.watchdog = Watchdog(config.watchdog)
        self.period_s = config.plan.period_s
        trajectory = config.output_mode == "trajectory"
        self.limiter = MotionLimiter(
            config.plan.limit_set, config.trajectory_period_s if trajectory else self.period_s, trapezoid=trajectory
        )
        self.mode, self.reason = "idle", "no plan yet"
        self.counts = dict(accepted=0, rejected=0, clipped=0)
        self.active_sequence = 0
        self._lock = threading.Lock()
        self._last_tick_ns: int | None = None
        self._sent: Trajectory | None = None  # trajectory mode: what the controller executes
        self._resend = False  # trajectory mode: a chunk was accepted, send the new plan
        self._last_sequence: dict[str, int] = {}
        self._settle: np.ndarray | None = None  # stopping onto this target (plan exhausted)

    # ---- inputs --------------------------------------------------------------------------------
    def set_joint_state(self, names: Sequence[str], positions: Sequence[float], stamp_ns: int, receipt_ns: int) -> None:
        """A JointState: the configured joints in action order (grippers optional). One without any
        configured joint is not about this arm and is ignored."""
        index = {n: i for i, n in enumerate(names)}
        wanted = [self.layout.names[i] for i in self.layout.joints]
        if not any(n in index for n in wanted):
            return
        problem = ""
        if len(positions) != len(names):
            problem = f"JointState has {len(names)} names but {len(positions)} positions"
        elif missing := [n for n in wanted if n not in index]:
            problem = f"JointState lacks joints {missing}"
        values = np.full(self.layout.dim, np.nan)
        if not problem:
            for i, name in enumerate(self.layout.names):
                if name in index:
                    values[i] = float(positions[index[name]])
            if not np.all(np.isfinite(values[list(self.layout.joints)])):
                problem = f"JointState has non-finite positions: {values[list(self.layout.joints)].tolist()}"
        self._set_state(None if problem else values, stamp_ns, receipt_ns, problem)

    def set_pose(self, xyz: Sequence[float], quat_xyzw: Sequence[float], stamp_ns: int, receipt_ns: int) -> None:
        """A measured end-effector pose (PoseStamped, e.g. franka's current_pose = O_T_EE)."""
        xyz_a, q = np.asarray(xyz, dtype=np.float64), np.asarray(quat_xyzw, dtype=np.float64)
        problem = ""
        if not (np.all(np.isfinite(xyz_a)) and np.all(np.isfinite(q)) and abs(np.linalg.norm(q) - 1.0) < 1e-3):
            problem = f"measured pose invalid: position {xyz_a.tolist()}, orientation {q.tolist()}"
        values = np.full(self.layout.dim, np.nan)
        values[list(self.layout.position)] = xyz_a[list(self.layout.position_axes)]
        if self.layout.quaternion:
            values[list(self.layout.quaternion)] = q
        self._set_state(None if problem else values, stamp_ns, receipt_ns, problem)

    def _set_state(self, values: np.ndarray | None, stamp_ns: int, receipt_ns: int, problem: str) -> None:
        outside = ""
        if values is not None:
            try:
                self.plan.check_measured(values, fill=np.zeros(self.layout.dim))
            except ValueError as exc:
                outside = str(exc)
        with self._lock:
            self.watchdog.set_state(values, stamp_ns, receipt_ns, problem, outside)

    def set_policy_state(self, lifecycle_state: str, receipt_ns: int) -> None:
        """A PolicyStatus; an activation restarts the chunk ordering."""
        with self._lock:
            if self.watchdog.set_policy_state(lifecycle_state, receipt_ns):
                self._last_sequence.clear()

    def add_chunk(self, chunk: ActionChunkData, now_ns: int) -> Accepted | Rejected:
        """Validate and schedule a chunk (the validation runs outside the lock ``tick`` takes)."""
        with self._lock:
            reason = self.watchdog.check(now_ns)
            last = self._last_sequence.get(chunk.policy_id)
            measured = None if self.watchdog.measured is None else self.watchdog.measured.copy()
            current = self._current(now_ns)
        if reason:
            return self.reject(f"holding: {reason}")
        if last is not None and chunk.sequence <= last:
            return self.reject(
                f"chunk {chunk.sequence} of '{chunk.policy_id}' is not newer than chunk {last} (reordered or repeated)"
            )
        result = self.plan.add_chunk(chunk, now_ns, measured, current)
        if isinstance(result, Rejected):
            return self.reject(result.reason)
        with self._lock:
            self._last_sequence[chunk.policy_id] = chunk.sequence
            self.active_sequence = chunk.sequence
            self.counts["accepted"] += 1
            self.counts["clipped"] += int(bool(result.violations))
            self._resend = True
            self._settle = None
        return result

    def reject(self, reason: str) -> Rejected:
        """Count a refused chunk (also one the node could not even parse)."""
        with self._lock:
            self.counts["rejected"] += 1
        return Rejected(reason)

    # ---- output --------------------------------------------------------------------------------
    def tick(self, now_ns: int) -> Output:
        """The output for ``now_ns`` (call at the control rate; late or bunched calls are fine)."""
        with self._lock:
            dt = self.period_s if self._last_tick_ns is None else max(0, now_ns - self._last_tick_ns) / NS_PER_S
            self._last_tick_ns = now_ns
            reason = self.watchdog.check(now_ns)
            if self.config.output_mode == "trajectory":
                return self._tick_trajectory(now_ns, reason)
            return self._tick_stream(now_ns, dt, reason)

    def _current(self, now_ns: int) -> np.ndarray | None:
        if self.mode == "idle":
            return None
        if self._sent is not None:
            return self._sent.state_at(now_ns)[0]
        return None if self.limiter.position is None else self.limiter.position.copy()

    def _start_from_measured(self, now_ns: int) -> bool:
        """Idle → executing: the limiter starts at rest at the measured state (grippers from the plan)."""
        target = self.plan.target_at(now_ns)
        if target is None or self.watchdog.measured is None:
            return False
        start = self.watchdog.measured.copy()
        start[np.isnan(start)] = target[np.isnan(start)]
        self.limiter.reset(start)
        return True

    def _fault(self, reason: str) -> None:
        """Drop the plan and stop (already stopping or holding for another reason: keep going)."""
        self.plan.clear()
        self._settle, self._resend = None, False
        if self.mode == "executing" or (self.mode == "stopping" and self._settle_reason()):
            self.mode = "stopping"
        self.reason = reason

    def _settle_reason(self) -> bool:
        return self.reason.startswith("plan exhausted")

    def _finish_stop(self) -> None:
        if not self.watchdog.policy_active(self._last_tick_ns or 0):
            self.mode = "idle"  # forget: the next plan starts from the measured state
            self.limiter.reset(None)
            self._sent = None
        else:
            self.mode = "holding"

    def _tick_stream(self, now_ns: int, dt: float, reason: str) -> Output:
        if self.mode == "idle":
            if reason or not self._start_from_measured(now_ns):
                self.reason = reason or "no plan"
                return Output("idle", self.reason)
            self.mode = "executing"
        if reason:
            self._fault(reason)
            if self.mode == "holding" and not self.watchdog.policy_active(now_ns):
                self._finish_stop()
        else:
            target = self.plan.target_at(now_ns)
            if target is not None:
                self.mode, self.reason, self._settle = "executing", "", None
            elif self.mode == "executing" or self._settle is not None:
                final = self.plan.final_target()
                if final is not None:
                    self._settle = final
                self.mode, self.reason = "stopping", "plan exhausted (no new chunk)"
        if self.mode == "executing":
            command = self.limiter.step(self.plan.target_at(now_ns), dt)  # type: ignore[arg-type]
        elif self.mode == "stopping":
            if self._settle is not None:
                command = self.limiter.step(self._settle, dt)
                done = self.limiter.at_rest and np.allclose(command, self.limiter.clamp(self._settle), atol=1e-9)
            else:
                command = self.limiter.brake(dt)
                done = self.limiter.at_rest
            if done:
                self._settle = None
                self._finish_stop()
        elif self.mode == "holding":
            command = self.limiter.position.copy()  # type: ignore[union-attr]
        else:  # a hold ended by the policy going inactive: nothing more to command
            return Output("idle", self.reason)
        return Output(self.mode, self.reason, command, publish=True)  # idle here: the stop's resting command

    def _tick_trajectory(self, now_ns: int, reason: str) -> Output:
        if self.mode == "idle":
            if reason or not self._resend or not self._start_from_measured(now_ns):
                self.reason = reason or "no plan"
                self._resend = False
                return Output("idle", self.reason)
            p0 = self.limiter.position.copy()  # type: ignore[union-attr]
            self._sent = Trajectory(
                now_ns, np.zeros(0), np.zeros((0, len(p0))), np.zeros((0, len(p0))), p0, np.zeros_like(p0)
            )
            self.mode = "executing"
        assert self._sent is not None
        trajectory = None
        if reason:
            if self.mode == "executing":
                trajectory = self._send(now_ns, targets=False)
                self.mode = "stopping"
            self._fault(reason)
            if self.mode == "holding" and not self.watchdog.policy_active(now_ns):
                self._finish_stop()
        elif self._resend:
            self._resend = False
            trajectory = self._send(now_ns, targets=True)
            self.mode, self.reason = "executing", ""
        if self.mode in ("executing", "stopping") and now_ns >= self._sent.end_ns:
            if self.mode == "executing":
                self.reason = "plan exhausted (no new chunk)"
            self._finish_stop()
        command = self._sent.state_at(now_ns)[0] if self._sent is not None else None
        return Output(self.mode, self.reason, command, trajectory=trajectory)

    def _send(self, now_ns: int, targets: bool) -> Trajectory:
        """Replace the controller's trajectory from its state now (along the plan, or a stop)."""
        p0, v0 = self._sent.state_at(now_ns)  # type: ignore[union-attr]
        limiter = self.limiter.copy()
        limiter.reset(p0, v0)
        points = self._simulate(now_ns, limiter, self.config.trajectory_period_s, targets)
        self._sent = Trajectory(now_ns, *points, p0, v0)
        return self._sent

    def _simulate(
        self, now_ns: int, limiter: MotionLimiter, period: float, targets: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Commands every ``period`` from ``limiter``'s state: along the plan, then settling on its
        last target, or (without ``targets``) braking; until at rest (bounded by MAX_STOP_S)."""
        step_ns = round(period * NS_PER_S)
        final = self.plan.final_target() if targets else None
        motion_end_ns = (self.plan.motion_end_ns() or now_ns) if targets else now_ns
        times, pos, vel = [], [], []
        for k in range(1, int((MAX_STOP_S + max(0, motion_end_ns - now_ns) / NS_PER_S) / period) + 2):
            t_ns = now_ns + k * step_ns
            target = self.plan.target_at(t_ns) if targets else None
            target = final if target is None else target
            out = limiter.step(target, period) if target is not None else limiter.brake(period)
            times.append(k * period)
            pos.append(out)
            vel.append(limiter.velocity.copy())
            if t_ns >= motion_end_ns and _settled(limiter, out, target):
                break
        vel[-1] = np.zeros_like(vel[-1])
        return np.asarray(times), np.stack(pos), np.stack(vel)

    def stop_sequence(self, now_ns: int) -> Trajectory | None:
        """Shutdown: the stop from the current command (None while idle). Trajectory mode sends it
        (it replaces the controller's trajectory); streaming modes publish its points at their times."""
        with self._lock:
            if self.mode == "idle" or (self.limiter.position is None and self._sent is None):
                return None
            self.plan.clear()
            self.mode, self.reason = "stopping", "shutdown"
            if self._sent is not None:
                return self._send(now_ns, targets=False)
            p0, v0 = self.limiter.position.copy(), self.limiter.velocity.copy()  # type: ignore[union-attr]
            points = self._simulate(now_ns, self.limiter.copy(), self.period_s, targets=False)
            return Trajectory(now_ns, *points, p0, v0)

    def remaining_s(self, now_ns: int) -> float:
        return self.plan.remaining_s(now_ns)
