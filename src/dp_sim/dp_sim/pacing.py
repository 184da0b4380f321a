"""Pacing of simulated time against the wall clock, and per-stream publish schedules."""

from __future__ import annotations

from dp_core.time_units import NS_PER_S


class Pacer:
    """Keeps sim time at ``real_time_factor`` x wall time (0 = as fast as possible).

    If the sim falls behind by more than ``max_lag_s`` of wall time (a slow machine, a debugger
    pause) the reference is re-anchored instead of racing to catch up.
    """

    def __init__(self, real_time_factor: float, max_lag_s: float = 0.25) -> None:
        if real_time_factor < 0:
            raise ValueError(f"real_time_factor must be >= 0 (0 = as fast as possible), got {real_time_factor}")
        self.real_time_factor = float(real_time_factor)
        self.max_lag_s = float(max_lag_s)
        self._anchor: tuple[int, float] | None = None
        self.re_anchors = 0

    def wait_s(self, sim_ns: int, wall_s: float) -> float:
        """Wall seconds to wait until sim time ``sim_ns`` is due (0 when already late)."""
        if self.real_time_factor == 0:
            return 0.0
        if self._anchor is None:
            self._anchor = (sim_ns, wall_s)
            return 0.0
        due = self._anchor[1] + (sim_ns - self._anchor[0]) / NS_PER_S / self.real_time_factor
        if wall_s - due > self.max_lag_s:
            self._anchor = (sim_ns, wall_s)
            self.re_anchors += 1
            return 0.0
        return max(0.0, due - wall_s)


class Schedule:
    """Fires at a fixed period of sim time; a disabled schedule (rate 0) never fires."""

    def __init__(self, rate_hz: float) -> None:
        if rate_hz < 0:
            raise ValueError(f"rate must be >= 0 Hz (0 = off), got {rate_hz}")
        self.period_ns = int(round(NS_PER_S / rate_hz)) if rate_hz > 0 else 0
        self._next_ns: int | None = None

    def due(self, t_ns: int) -> bool:
        """True (and advance) when t_ns reached the next publish time."""
        if self.period_ns == 0:
            return False
        if self._next_ns is None or t_ns - self._next_ns >= self.period_ns:
            self._next_ns = t_ns + self.period_ns  # first call, or resync after a gap
            return True
        if t_ns >= self._next_ns:
            self._next_ns += self.period_ns
            return True
        return False
