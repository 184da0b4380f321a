"""The executor's chunk schedule: chunks in, one target per control tick out (time-indexed).

- Latency compensation: the plan is evaluated at "now"; actions whose time has passed are simply
  never commanded (a chunk arriving 150 ms late starts 150 ms into itself).
- Takeover without a jump: a new chunk starts from what was being commanded (the previous chunk
  evaluated at the same time, or the held command) and moves to its own values with a
  smoothstep weight over ``blend_s``.
- Temporal ensembling (optional, ACT): overlapping chunks are averaged with weights
  exp(-ensemble_decay * rank), rank 0 = oldest chunk still covering the time; each chunk's weight
  ramps in and out over ``blend_s`` so membership changes do not jump.
- Horizon 1: a one-action chunk is a set point, held from ``start`` until a chunk replaces it.
- The plan gives unlimited targets; ``executor.ChunkExecutor`` passes every one through its
  ``MotionLimiter``. ``limit_mode="reject"`` additionally refuses chunks that violate a limit
  before they are executed.

Thread safety: add_chunk (subscription thread) and target_at (timer thread) take one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
from dp_core.control.interpolation import ChunkInterpolator, InterpolationConfig, blend_values, continuous_quaternions
from dp_core.control.limits import MeasuredStateCheck, Violation, check_trajectory
from dp_core.time_units import NS_PER_S

HELD_END_NS = 2**62  # end of a horizon-1 chunk: held until replaced


@dataclass(frozen=True)
class Accepted:
    """The chunk is in the plan; ``violations`` were found and will be clipped (clip mode)."""

    skipped_actions: int
    violations: list[Violation] = field(default_factory=list)

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Rejected:
    """The chunk was refused; ``reason`` says why (for the throttled log and the status)."""

    reason: str
    violations: list[Violation] = field(default_factory=list)

    def __bool__(self) -> bool:
        return False


def smoothstep(x: float) -> float:
    """3x² - 2x³ on [0, 1]: zero slope at both ends, so blends start and end without a kink."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass
class _Segment:
    interp: ChunkInterpolator
    end_ns: int
    takeover_ns: int
    rank: int
    source: _Segment | np.ndarray | None = None  # what the blend starts from

    @property
    def start_ns(self) -> int:
        return self.interp.start_ns


class ChunkSchedule:
    """Chunks in (``add_chunk``), a command per tick out (``command_at``); see module doc."""

    def __init__(self, config: ChunkScheduleConfig) -> None:
        self.config = config
        self.layout = config.layout
        self.limits = config.limit_set
        self._interp_config = InterpolationConfig(config.interpolation, config.cubic_bc)
        self._segments: list[_Segment] = []
        self._rank = 0
        self._blend_ns = round(config.blend_s * NS_PER_S)
        self._lock = threading.Lock()
        self._measured_check = MeasuredStateCheck(config.layout, config.joint_limits, config.cartesian_limits)

    # ---- input -------------------------------------------------------------------------------
    def add_chunk(
        self, chunk: ActionChunkData, now_ns: int, measured: np.ndarray | None = None, current: np.ndarray | None = None
    ) -> Accepted | Rejected:
        """Validate ``chunk`` against the configuration and the clock, then schedule it.

        ``current`` is the command being sent now (None: none, the chunk blends in from ``measured``).
        """
        if chunk.horizon > self.config.max_chunk_actions:
            return Rejected(
                f"chunk {chunk.sequence} has {chunk.horizon} actions > max_chunk_actions "
                f"{self.config.max_chunk_actions}"
            )
        try:
            actions = self._reorder(chunk)
            if measured is not None:
                measured = self.check_measured(measured, fill=actions[0])
        except ValueError as exc:
            return Rejected(str(exc))
        last = chunk.horizon - 1 if self.config.execute_to == "horizon" else chunk.execute_steps - 1
        if last * chunk.dt_s > self.config.max_chunk_duration_s:
            return Rejected(
                f"chunk {chunk.sequence} lasts {last * chunk.dt_s:g} s > max_chunk_duration_s "
                f"{self.config.max_chunk_duration_s:g} (dt or horizon wrong?)"
            )
        end_ns = chunk.start_ns + round(last * chunk.dt_s * NS_PER_S) if chunk.horizon > 1 else HELD_END_NS
        timing = self._check_timing(chunk, end_ns, now_ns)
        if timing:
            return Rejected(timing)
        times = chunk.times_ns()
        try:
            if self.layout.quaternion:
                continuous_quaternions(actions[:, list(self.layout.quaternion)])
            interp = ChunkInterpolator(times, actions, self.layout, self._interp_config)
        except ValueError as exc:
            return Rejected(f"chunk {chunk.sequence}: {exc}")
        violations = self._violations(
            interp, max(now_ns, interp.start_ns), min(end_ns, max(now_ns, interp.end_ns)), chunk.dt_s, measured
        )
        if violations and self.config.limit_mode == "reject":
            return Rejected(
                f"chunk {chunk.sequence} violates limits: " + "; ".join(map(str, violations[:3])), violations
            )
        with self._lock:
            self._schedule(interp, end_ns, now_ns, current if current is not None else measured)
        skipped = int(np.searchsorted(times, now_ns, side="left"))
        return Accepted(skipped_actions=min(skipped, chunk.horizon), violations=violations)

    def _reorder(self, chunk: ActionChunkData) -> np.ndarray:
        names = self.config.action_names
        if chunk.action_names == names:
            return chunk.actions.astype(np.float64)
        unknown = [n for n in chunk.action_names if n not in names]
        missing = [n for n in names if n not in chunk.action_names]
        if unknown or missing:
            raise ValueError(
                f"chunk {chunk.sequence} action names do not match the configured {list(names)}: "
                f"unknown {unknown}, missing {missing}"
            )
        order = [chunk.action_names.index(n) for n in names]
        return chunk.actions[:, order].astype(np.float64)

    def check_measured(self, measured: np.ndarray, fill: np.ndarray | None = None) -> np.ndarray:
        """The measured state (action order) if usable, else ValueError saying why (``limits.MeasuredStateCheck``)."""
        return self._measured_check(measured, fill)

    def _check_timing(self, chunk: ActionChunkData, end_ns: int, now_ns: int) -> str:
        cfg = self.config
        if chunk.stamp_ns < now_ns - cfg.max_past_s * NS_PER_S:
            return f"chunk {chunk.sequence} is stale: stamp {(now_ns - chunk.stamp_ns) / NS_PER_S:.3f} s old > max_past_s {cfg.max_past_s:g}"
        for what, t in (("stamp", chunk.stamp_ns), ("start", chunk.start_ns)):
            if t > now_ns + cfg.max_future_s * NS_PER_S:
                return (
                    f"chunk {chunk.sequence} {what} is {(t - now_ns) / NS_PER_S:.3f} s in the future > max_future_s "
                    f"{cfg.max_future_s:g} (clocks out of sync?)"
                )
        if end_ns < now_ns:
            return f"chunk {chunk.sequence} ended {(now_ns - end_ns) / NS_PER_S:.3f} s ago; nothing left to execute"
        return ""

    def _violations(
        self, interp: ChunkInterpolator, t0: int, end_ns: int, dt_s: float, measured: np.ndarray | None
    ) -> list[Violation]:
        """Limits on the remainder: positions/speeds at the control rate, acceleration per action step
        (linear interpolation has corners whose control-rate acceleration the limiter smooths)."""
        period_ns = max(1, round(self.config.period_s * NS_PER_S))
        fine = interp(np.arange(t0, end_ns + 1, period_ns, dtype=np.int64))
        found = check_trajectory(self.limits, fine, self.config.period_s, measured=measured, check_acceleration=False)
        coarse_ns = max(1, round(dt_s * NS_PER_S))
        coarse = interp(np.arange(t0, end_ns + 1, coarse_ns, dtype=np.int64))
        return found + [v for v in check_trajectory(self.limits, coarse, dt_s) if v.kind == "acceleration"]

    def _schedule(self, interp: ChunkInterpolator, end_ns: int, now_ns: int, start: np.ndarray | None) -> None:
        running = [s for s in self._segments if s.end_ns >= now_ns]
        source: _Segment | np.ndarray | None
        if running:
            source = None if self.config.ensemble else self._segments[-1]
        else:
            source = None if start is None else np.asarray(start, dtype=np.float64).copy()
        takeover = max(now_ns, interp.start_ns)
        self._segments.append(_Segment(interp, end_ns, takeover, self._rank, source))
        self._rank += 1

    # ---- output ------------------------------------------------------------------------------
    def target_at(self, now_ns: int) -> np.ndarray | None:
        """The unlimited plan value for ``now_ns`` (D,) float64, or None when nothing covers it."""
        with self._lock:
            self._prune(now_ns)
            return self._target(now_ns)

    def motion_end_ns(self) -> int | None:
        """When the plan's values stop changing (a held horizon-1 chunk: its start; blends included)."""
        with self._lock:
            if not self._segments:
                return None
            return max(
                max(s.interp.end_ns if s.end_ns == HELD_END_NS else s.end_ns, s.takeover_ns + self._blend_ns)
                for s in self._segments
            )

    def final_target(self) -> np.ndarray | None:
        """The plan's value at its end (where an exhausted plan settles), None when empty."""
        with self._lock:
            end = self._end_ns()
            return None if end is None else self._target(end)

    def remaining_s(self, now_ns: int) -> float:
        with self._lock:
            end = self._end_ns()
        return 0.0 if end is None else max(0.0, (end - now_ns) / NS_PER_S)

    def exhausted(self, now_ns: int) -> bool:
        """True when no scheduled chunk covers ``now_ns`` or anything later."""
        with self._lock:
            end = self._end_ns()
        return end is None or now_ns > end

    def clear(self) -> None:
        """Drop every chunk (the executor decides what to command instead)."""
        with self._lock:
            self._segments.clear()

    def _end_ns(self) -> int | None:
        if not self._segments:
            return None
        return max(s.end_ns for s in self._segments) if self.config.ensemble else self._segments[-1].end_ns

    def _prune(self, now_ns: int) -> None:
        """Forget finished blends and chunks that can no longer contribute."""
        for seg in self._segments:
            if isinstance(seg.source, _Segment) and now_ns >= seg.takeover_ns + self._blend_ns:
                seg.source = None
        if self.config.ensemble:
            self._segments = [s for s in self._segments if s.end_ns >= now_ns or s is self._segments[-1]]
            return
        started = [i for i, s in enumerate(self._segments) if s.takeover_ns <= now_ns]
        if started and self._segments[started[-1]].source is None:
            self._segments = self._segments[started[-1] :]

    def _target(self, t_ns: int) -> np.ndarray | None:
        """The unlimited plan value at ``t_ns`` (None when nothing covers it)."""
        live = [s for s in self._segments if s.takeover_ns <= t_ns]
        if not self.config.ensemble:
            return self._segment_value(live[-1], t_ns) if live and t_ns <= live[-1].end_ns else None
        if not live or t_ns > max(s.end_ns for s in live):
            return None
        return self._ensemble(live, t_ns)

    def _segment_value(self, seg: _Segment, t_ns: int) -> np.ndarray:
        own = seg.interp(t_ns)
        if seg.source is None or self._blend_ns == 0 or t_ns >= seg.takeover_ns + self._blend_ns:
            return own
        src = self._segment_value(seg.source, t_ns) if isinstance(seg.source, _Segment) else seg.source
        w = smoothstep((t_ns - seg.takeover_ns) / self._blend_ns)
        return blend_values(src, own, w, self.layout)

    def _ensemble(self, live: Sequence[_Segment], t_ns: int) -> np.ndarray:
        members = [s for s in live if t_ns <= s.end_ns]
        values = np.stack([self._segment_value(s, t_ns) for s in members])
        base = min(s.rank for s in members)
        weights = np.array(
            [np.exp(-self.config.ensemble_decay * (s.rank - base)) * self._ramp(s, t_ns, members) for s in members]
        )
        if weights.sum() <= 0:
            weights = np.ones(len(members))
        weights /= weights.sum()
        out = weights @ values
        if self.layout.quaternion:
            qi = list(self.layout.quaternion)
            q = values[:, qi] * np.where(values[:, qi] @ values[0, qi] < 0, -1.0, 1.0)[:, None]
            mean = weights @ q
            out[qi] = mean / np.linalg.norm(mean)
        return out

    def _ramp(self, seg: _Segment, t_ns: int, members: Sequence[_Segment]) -> float:
        if self._blend_ns == 0 or len(members) == 1:
            return 1.0
        ramp_in = smoothstep((t_ns - seg.takeover_ns) / self._blend_ns)
        ramp_out = smoothstep((seg.end_ns - t_ns) / self._blend_ns)
        return ramp_in * ramp_out
