"""Which observation windows the policy takes: the policy node's decisions, without ROS.

One place for what used to be spread over the node, the runner and the inference worker:
- a window whose newest frame is older than ``max_window_age_s`` on arrival is refused (stale), and
  one stamped more than ``max_window_future_s`` ahead of now too (clocks out of sync: its negative
  age would pass the staleness check and push the replanning clock ahead, like the executor
  watchdog's ``max_state_future_s``);
- a window must have the spec's ``n_obs_steps`` frames ``dt_s`` apart (an observation node built
  for another rate or length is refused with a message that says so), and its keys, shapes and
  values must fit the spec; this is the only check of a window's arrays (``CheckedWindow``);
- replanning: a window is due when its stamp is at least ``min_replan_period_s`` after the stamp
  of the last window inference started on. Stamps, not the wall clock, so the threaded node and
  the inline (lockstep simulation) node replan on the same windows. A window is only ever admitted
  when its stamp is after the last admitted one (a repeated or reordered window is never acted on).
"""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass

from dp_core.policy.window_input import CheckedWindow, checked_window
from dp_core.spec import PolicySpec
from dp_core.time_units import NS_PER_S
from dp_core.timing.observation_window import ObservationWindowData

#: Allowed deviation of a window's frame spacing from ``spec.dt_s`` (producers round to whole ns).
SPACING_TOLERANCE_NS = 1_000


@dataclass(frozen=True)
class GateConfig:
    """Attributes: max_window_age_s (s, > 0); min_replan_period_s (s, >= 0; 0 = every window);
    max_window_future_s (s, >= 0; how far ahead of now a window's stamp may be, clock jitter)."""

    max_window_age_s: float = 0.5
    min_replan_period_s: float = 0.0
    max_window_future_s: float = 0.05

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_window_age_s) and self.max_window_age_s > 0):
            raise ValueError(f"max_window_age_s must be a finite number > 0, got {self.max_window_age_s}")
        if not (math.isfinite(self.min_replan_period_s) and self.min_replan_period_s >= 0):
            raise ValueError(f"min_replan_period_s must be a finite number >= 0, got {self.min_replan_period_s}")
        if not (math.isfinite(self.max_window_future_s) and self.max_window_future_s >= 0):
            raise ValueError(f"max_window_future_s must be a finite number >= 0, got {self.max_window_future_s}")


class WindowGate:
    """``check`` (refuse with a reason), then ``admit`` (due for a replan?), then ``started`` (inference began)."""

    def __init__(self, spec: PolicySpec, config: GateConfig) -> None:
        self.spec = spec
        self.config = config
        self._dt_ns = round(spec.dt_s * NS_PER_S)
        self._period_ns = round(config.min_replan_period_s * NS_PER_S)
        self._lock = threading.Lock()  # admit runs on the executor, started on the inference thread
        self._last_started_ns = -(2**62)
        self._last_admitted_ns = -(2**62)
        self.skipped = 0  # windows inside the replanning period, repeated or out of order

    def check(self, window: ObservationWindowData, now_ns: int) -> CheckedWindow:
        """The window checked once against the spec and the clock; ValueError says what is wrong."""
        stamps = window.stamps_ns.tolist()  # a few ints: plain Python beats numpy calls on the latency path
        age_s = (now_ns - stamps[-1]) / NS_PER_S
        if age_s > self.config.max_window_age_s:
            raise ValueError(
                f"stale: newest frame is {age_s:.3f} s old > max_window_age_s {self.config.max_window_age_s}"
            )
        if -age_s > self.config.max_window_future_s:
            raise ValueError(
                f"future: newest frame is stamped {-age_s:.3f} s ahead of now > max_window_future_s "
                f"{self.config.max_window_future_s:g} (clocks out of sync?)"
            )
        if len(stamps) != self.spec.n_obs_steps:
            raise ValueError(f"window has {len(stamps)} frames, the policy's n_obs_steps is {self.spec.n_obs_steps}")
        spacing = [b - a for a, b in itertools.pairwise(stamps)]
        if any(abs(d - self._dt_ns) > SPACING_TOLERANCE_NS for d in spacing):
            raise ValueError(
                f"window frames are {[round(d / 1e6, 3) for d in spacing]} ms apart, the policy's dt_s is "
                f"{self.spec.dt_s:g} s: the observation node builds windows at another rate"
            )
        return checked_window(self.spec, window)

    def admit(self, stamp_ns: int) -> bool:
        """True when a window stamped ``stamp_ns`` is due for inference (else counted in ``skipped``).

        Due: stamped after the last admitted window (never the same or an older one again, whatever the
        period) and at least ``min_replan_period_s`` after the last inference start.
        """
        with self._lock:
            due = stamp_ns > self._last_admitted_ns and stamp_ns - self._last_started_ns >= self._period_ns
            if due:
                self._last_admitted_ns = int(stamp_ns)
            self.skipped += int(not due)
            return due

    def started(self, stamp_ns: int) -> None:
        """Inference started on the window stamped ``stamp_ns``: the replanning period counts from it."""
        with self._lock:
            self._last_started_ns = max(self._last_started_ns, int(stamp_ns))

    def reset(self) -> None:
        """A new activation: the next window is due (a new episode's clock may start over)."""
        with self._lock:
            self._last_started_ns = -(2**62)
            self._last_admitted_ns = -(2**62)
            self.skipped = 0
