"""When an observation window goes out: the observation node's trigger, without ROS.

A window goes out as soon as every stream contributes a sample newer than the one it contributed
to the last window (no timer phase delay), at most ``max_window_rate_hz``; a periodic ``poll``
(the node's timer) catches windows held back by that rate and reports why no window can be built.
Comparing samples, not window stamps, matters: when a fast stream (joint states) briefly lags a
camera, the window is stamped at the lagging sample and still holds the previous frame; the next
joint sample would then make a second window from the same frames, which only queues behind the
first inference. So while the stream that limits the window time is clearly the faster one (at
most half the other's period) and its next sample is due before the next-oldest stream's newest
sample, the trigger waits for that sample (at most one of its periods).

Values are stored converted (decoded, resized) on arrival: decoding at receipt keeps it off the
path from the last needed sample to the window, which is what the policy waits for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dp_core.time_units import NS_PER_S
from dp_core.timing.alignment import AlignmentConfig, StreamKind, WindowResult, build_window
from dp_core.timing.observation_window import ObservationWindowData
from dp_core.timing.stream_buffer import StreamBuffer


@dataclass(frozen=True)
class TriggerConfig:
    """Window timing plus the trigger's own limits.

    Attributes:
        alignment: window length, spacing and staleness (from the policy's spec).
        max_window_rate_hz: windows go out at most this often (Hz, on the samples' clock).
        capacities: samples kept per stream (must cover (n_obs_steps - 1) * dt_s + max_age_s).
    """

    alignment: AlignmentConfig
    max_window_rate_hz: float
    capacities: Mapping[str, int]

    def __post_init__(self) -> None:
        if not (np.isfinite(self.max_window_rate_hz) and self.max_window_rate_hz > 0):
            raise ValueError(f"max_window_rate_hz must be a finite number > 0, got {self.max_window_rate_hz}")
        if not self.capacities:
            raise ValueError("a window trigger needs at least one stream")
        small = {name: c for name, c in self.capacities.items() if not (isinstance(c, int) and c >= 2)}
        if small:
            raise ValueError(f"buffer capacities must be ints >= 2, got {small}")

    @property
    def min_window_period_ns(self) -> int:
        return round(NS_PER_S / self.max_window_rate_hz)


class WindowTrigger:
    """Buffers every stream by header stamp and decides when a new window is complete.

    ``add`` stores one sample and returns the window to publish now (or None); ``poll`` is the
    periodic check. A returned window never repeats a stream's sample from the previous one, the
    sample it uses at its newest step in every stream is at most ``max_age_s`` old, and windows
    (from ``add`` and ``poll`` alike) are at least ``1 / max_window_rate_hz`` apart.
    """

    def __init__(self, config: TriggerConfig, kinds: Mapping[str, StreamKind]) -> None:
        if set(kinds) != set(config.capacities):
            raise ValueError(f"streams {sorted(kinds)} and buffer capacities {sorted(config.capacities)} differ")
        bad = {k: v for k, v in kinds.items() if v not in ("rgb", "low_dim")}
        if bad:
            raise ValueError(f"stream kinds must be 'rgb' or 'low_dim', got {bad}")
        self.config = config
        self.kinds = dict(kinds)
        self.buffers: dict[str, StreamBuffer[np.ndarray]] = {
            name: StreamBuffer(config.capacities[name], name) for name in kinds
        }
        self._last_samples = dict.fromkeys(kinds, -1)  # stream -> stamp of its sample in the last window
        self._periods_ns = dict.fromkeys(kinds, 0)  # stream -> its last sample interval (0: unknown)
        self._last_window_stamp = -1
        self._last_emit_ns = -(2**62)

    def add(self, stream: str, stamp_ns: int, value: np.ndarray, now_ns: int) -> ObservationWindowData | None:
        """Store one sample; the window to publish now, if this sample completes one.

        Raises:
            ValueError: a zero or negative stamp (unstamped messages), or an unknown stream.
        """
        if stamp_ns <= 0:
            raise ValueError(f"header.stamp is {stamp_ns} ns; stamp messages with the sensor time")
        buffer = self.buffers.get(stream)
        if buffer is None:
            raise ValueError(f"unknown stream '{stream}' (have {list(self.buffers)})")
        previous_ns = buffer.newest_stamp_ns
        buffer.add(stamp_ns, value)
        if previous_ns is not None and stamp_ns > previous_ns:
            self._periods_ns[stream] = stamp_ns - previous_ns
        if not self._due() or now_ns - self._last_emit_ns < self.config.min_window_period_ns:
            return None
        result = build_window(self.buffers, self.kinds, now_ns, self.config.alignment)
        return self._accept(self._fresh(result, now_ns), now_ns)

    def poll(self, now_ns: int) -> tuple[WindowResult, ObservationWindowData | None]:
        """The periodic check: why no window can be built (result), and a held-back window to publish."""
        result = self._fresh(build_window(self.buffers, self.kinds, now_ns, self.config.alignment), now_ns)
        if now_ns - self._last_emit_ns < self.config.min_window_period_ns:
            return result, None  # held back by the rate limit; a later poll releases it
        return result, self._accept(result, now_ns)

    def ages_s(self, now_ns: int) -> dict[str, float]:
        """Age of each stream's newest sample in seconds (inf: nothing received yet)."""
        ages = {}
        for name, buffer in self.buffers.items():
            newest = buffer.newest_stamp_ns
            ages[name] = np.inf if newest is None else (now_ns - newest) / NS_PER_S
        return ages

    def _due(self) -> bool:
        """Every stream has moved on since the last window, and no faster stream is about to catch up."""
        newest: dict[str, int] = {}
        for name, buffer in self.buffers.items():
            stamp = buffer.newest_stamp_ns
            if stamp is None or stamp <= self._last_samples[name]:
                return False
            newest[name] = stamp
        if len(newest) < 2:
            return True
        (limit, t_limit), (held, t_held) = sorted(newest.items(), key=lambda item: item[1])[:2]
        period = self._periods_ns[limit]
        # Only a clearly faster stream (at most half the period) is waited for: two cameras at one rate
        # whose measured periods jitter by a millisecond must not wait a whole frame for each other.
        faster = 0 < 2 * period <= self._periods_ns[held]
        return not (faster and t_limit < t_held and t_limit + period >= t_held)

    def _fresh(self, result: WindowResult, now_ns: int) -> WindowResult:
        """The result, refused when a stream's sample used at the window's newest step is too old.

        ``build_window`` checks each buffer's newest sample; after a gap in one stream (a stalled camera
        whose first new frame is stamped after the other streams' newest samples) the sample the window
        actually uses can be the one from before the gap.
        """
        window = result.window
        if window is None:
            return result
        max_age_ns = self.config.alignment.max_age_ns
        stale = {
            name: (now_ns - int(chosen[-1])) / NS_PER_S
            for name, chosen in window.sample_stamps_ns.items()
            if now_ns - int(chosen[-1]) > max_age_ns
        }
        if not stale:
            return result
        max_age_s = self.config.alignment.max_age_s
        parts = [f"{name} (used sample {age:.3f} s old > max_age_s {max_age_s:g})" for name, age in stale.items()]
        return WindowResult(window=None, stale=stale, message="stale streams: " + ", ".join(parts))

    def _accept(self, result: WindowResult, now_ns: int) -> ObservationWindowData | None:
        """The window when it is new in every stream (the same frame again in some stream: wait)."""
        window = result.window
        if window is None or int(window.stamps_ns[-1]) <= self._last_window_stamp:
            return None
        newest = {name: int(chosen[-1]) for name, chosen in window.sample_stamps_ns.items()}
        if any(newest.get(name, -1) <= last for name, last in self._last_samples.items()):
            return None
        self._last_samples = newest
        self._last_window_stamp, self._last_emit_ns = int(window.stamps_ns[-1]), now_ns
        return window
