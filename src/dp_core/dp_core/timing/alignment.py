"""Observation windows: for each target time, the latest sample of each stream not after it.

The rule is the original real-robot code's: the newest *complete* time t is the oldest of the
streams' newest stamps (every stream has data up to t); targets are t, t - dt, ..., oldest first;
each stream contributes its latest sample not after each target. The live path
(``build_window`` over ``StreamBuffer``s, driven by ``window_trigger.WindowTrigger``) and the
offline converter (``make_ticks`` + ``resample_stream``) both reduce to
``indices_not_after`` (defined here), so a dataset built from a bag picks the same frames that the
observation node would have picked live.

Times are integer nanoseconds; ``dt_s`` is turned into whole nanoseconds once (``dt_to_ns``)
so that ticks and window targets are exactly additive (tick[i] - k * dt_ns == tick[i - k]).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dp_core.time_units import NS_PER_S
from dp_core.timing.observation_window import ObservationWindowData

if TYPE_CHECKING:  # stream_buffer imports the rule from here
    from dp_core.timing.stream_buffer import StreamBuffer

logger = logging.getLogger(__name__)

StreamKind = Literal["rgb", "low_dim"]


def dt_to_ns(dt_s: float) -> int:
    """A period in seconds as whole nanoseconds (> 0)."""
    dt_ns = round(float(dt_s) * NS_PER_S)
    if not dt_ns > 0:
        raise ValueError(f"period must be > 0 s (at least 1 ns), got {dt_s}")
    return dt_ns


@dataclass(frozen=True)
class AlignmentConfig:
    """How observation windows are built.

    Attributes:
        n_obs_steps: frames per window (T).
        dt_s: seconds between the window's target times (the policy's dt_s).
        max_age_s: a stream whose newest sample is older than this (relative to "now") makes the
            window invalid.
    """

    n_obs_steps: int
    dt_s: float
    max_age_s: float

    def __post_init__(self) -> None:
        if not isinstance(self.n_obs_steps, int) or self.n_obs_steps < 1:
            raise ValueError(f"n_obs_steps must be an int >= 1, got {self.n_obs_steps!r}")
        if not (np.isfinite(self.dt_s) and self.dt_s > 0):
            raise ValueError(f"dt_s must be a finite number > 0, got {self.dt_s}")
        if not (np.isfinite(self.max_age_s) and self.max_age_s > 0):
            raise ValueError(f"max_age_s must be a finite number > 0, got {self.max_age_s}")

    @property
    def dt_ns(self) -> int:
        return dt_to_ns(self.dt_s)

    @property
    def max_age_ns(self) -> int:
        return round(self.max_age_s * NS_PER_S)


@dataclass(frozen=True)
class WindowResult:
    """Outcome of one window build; ``window`` is None when invalid and ``message`` says why."""

    window: ObservationWindowData | None
    stale: dict[str, float] = field(default_factory=dict)  # stream -> age of newest sample, s
    missing: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.window is not None


def indices_not_after(stamps_ns: np.ndarray | Sequence[int], targets_ns: np.ndarray | Sequence[int]) -> np.ndarray:
    """The alignment rule: index of the latest stamp not after each target, -1 where none.

    Args:
        stamps_ns: sorted (non-decreasing) int64 stamps, shape (N,). With equal stamps the last
            one wins, which matches "a duplicate replaces" in ``StreamBuffer``.
        targets_ns: target times, any order, shape (M,).

    Returns:
        int64 indices into ``stamps_ns``, shape (M,), -1 where every stamp is after the target.
    """
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    targets = np.asarray(targets_ns, dtype=np.int64)
    if stamps.ndim != 1 or targets.ndim != 1:
        raise ValueError(f"stamps and targets must be 1-D, got shapes {stamps.shape} and {targets.shape}")
    return np.searchsorted(stamps, targets, side="right").astype(np.int64) - 1


def target_times(newest_ns: int, n_obs_steps: int, dt_ns: int) -> np.ndarray:
    """Targets t - (T-1)·dt, ..., t - dt, t as int64, oldest first."""
    return int(newest_ns) - np.arange(n_obs_steps - 1, -1, -1, dtype=np.int64) * int(dt_ns)


def make_ticks(start_ns: int, end_ns: int, dt_s: float) -> np.ndarray:
    """Fixed-rate timeline start, start + dt, ... <= end (int64 ns); empty if end < start."""
    dt_ns = dt_to_ns(dt_s)
    if end_ns < start_ns:
        return np.zeros(0, dtype=np.int64)
    count = (int(end_ns) - int(start_ns)) // dt_ns + 1
    return int(start_ns) + np.arange(count, dtype=np.int64) * dt_ns


def resample_indices(stamps_ns: np.ndarray | Sequence[int], ticks_ns: np.ndarray | Sequence[int]) -> np.ndarray:
    """Index (into the given, possibly unsorted, stamps) of the latest sample not after each tick.

    Unsorted stamps (messages recorded in arrival order) are sorted stably first, so with equal
    stamps the later-recorded sample wins, as in ``StreamBuffer``. -1 where no sample exists.
    """
    stamps = np.asarray(stamps_ns, dtype=np.int64)
    if stamps.ndim != 1:
        raise ValueError(f"stamps_ns must be 1-D, got shape {stamps.shape}")
    order = np.argsort(stamps, kind="stable")
    idx = indices_not_after(stamps[order], ticks_ns)
    return np.where(idx >= 0, order[np.maximum(idx, 0)], -1).astype(np.int64)


def resample_stream(
    stamps_ns: np.ndarray | Sequence[int],
    values: Sequence[Any] | np.ndarray | None,
    ticks_ns: np.ndarray | Sequence[int],
) -> np.ndarray:
    """Offline alignment for the converter: ``resample_indices`` after checking ``values`` matches.

    Returns int64 indices into ``stamps_ns``/``values``, shape (len(ticks),), -1 where a tick
    precedes every sample (the caller drops those ticks or the episode start).
    """
    if values is not None and len(values) != len(stamps_ns):
        raise ValueError(f"stream has {len(stamps_ns)} stamps but {len(values)} values; they must pair up")
    return resample_indices(stamps_ns, ticks_ns)


def _invalid(stale: dict[str, float], missing: list[str], max_age_s: float, extra: str = "") -> WindowResult:
    parts = [f"{name} (newest sample {age:.3f} s old > max_age_s {max_age_s:g})" for name, age in stale.items()]
    text = []
    if parts:
        text.append("stale streams: " + ", ".join(parts))
    if missing:
        text.append("missing streams: " + ", ".join(missing) + (f" ({extra})" if extra else ""))
    elif extra:
        text.append(extra)
    return WindowResult(window=None, stale=stale, missing=missing, message="; ".join(text))


def build_window(
    streams: Mapping[str, StreamBuffer[Any]],
    kinds: Mapping[str, StreamKind],
    now_ns: int,
    config: AlignmentConfig,
) -> WindowResult:
    """Build the window at the newest complete time; never raises on bad or missing data.

    Args:
        streams: name -> buffer of samples (arrays, converted when they arrived).
        kinds: name -> "rgb" ((H, W, 3) uint8 values) or "low_dim" ((D,) values).
        now_ns: current time on the stamps' clock; staleness is measured against it.
        config: window length, spacing and staleness threshold.
    """
    newest = {name: buf.newest_stamp_ns for name, buf in streams.items()}
    missing = [name for name, stamp in newest.items() if stamp is None]
    stale = {
        name: (now_ns - stamp) / NS_PER_S
        for name, stamp in newest.items()
        if stamp is not None and now_ns - stamp > config.max_age_ns
    }
    if missing or stale:
        return _invalid(stale, missing, config.max_age_s, "no sample received" if missing else "")
    newest_complete = min(*(s for s in newest.values() if s is not None), int(now_ns))
    targets = target_times(newest_complete, config.n_obs_steps, config.dt_ns)
    low_dim: dict[str, np.ndarray] = {}
    images: dict[str, np.ndarray] = {}
    chosen: dict[str, np.ndarray] = {}
    for name, buf in streams.items():
        samples = buf.samples_not_after(targets)
        if any(s is None for s in samples):
            return _invalid({}, [name], config.max_age_s, f"no sample at or before the oldest target {targets[0]} ns")
        try:
            stacked = np.stack([np.asarray(s[1]) for s in samples])  # type: ignore[index]
        except Exception as exc:  # a bad sample must not crash the node; report it instead
            return _invalid({}, [], config.max_age_s, f"stream {name}: cannot use sample: {exc}")
        chosen[name] = np.asarray([s[0] for s in samples], dtype=np.int64)  # type: ignore[index]
        kind = kinds.get(name)
        if kind == "rgb":
            if stacked.ndim != 4 or stacked.shape[3] != 3 or stacked.dtype != np.uint8:
                return _invalid(
                    {},
                    [],
                    config.max_age_s,
                    f"stream {name}: frames must be (H, W, 3) uint8, got {stacked.shape[1:]} {stacked.dtype}",
                )
            images[name] = stacked
        elif kind == "low_dim":
            low_dim[name] = stacked.reshape(stacked.shape[0], -1).astype(np.float32)
        else:
            return _invalid({}, [], config.max_age_s, f"stream {name}: kind must be 'rgb' or 'low_dim', got {kind!r}")
    window = ObservationWindowData(stamps_ns=targets, low_dim=low_dim, images=images, sample_stamps_ns=chosen)
    return WindowResult(window=window, message="ok")
