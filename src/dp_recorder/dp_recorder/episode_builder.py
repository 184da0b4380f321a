"""One bag → one dataset episode on a fixed-rate timeline (pure numpy; no ROS).

Timeline: from the first time every stream has a sample to the newest time every stream has
reached (the observation node's "newest complete time"), every ``dt_s``; each stream
contributes its latest sample not after each tick (``dp_core.timing.alignment``), images are
decoded and resized by ``dp_core.sensors.images``, exactly as the observation node does live.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader

from dp_core.sensors.images import ImageTransform, message_to_frame
from dp_core.timing.alignment import make_ticks, resample_stream
from dp_recorder.bag_reader import BagError, read_chosen, read_topics
from dp_recorder.convert_config import ConvertConfig, StreamSpec

LOG = logging.getLogger(__name__)


def extract_low_dim(msg: Any, spec: StreamSpec) -> np.ndarray:
    """The (D,) float32 value of ``spec`` in a deserialized message."""
    value = msg
    for part in spec.field.split("."):
        if not hasattr(value, part):
            raise BagError(f"{spec.topic}: message {type(value).__name__} has no field '{part}' (key '{spec.key}')")
        value = getattr(value, part)
    if spec.components:
        value = [getattr(value, c) for c in spec.components]
    elif spec.names:
        names = list(msg.name)
        missing = [n for n in spec.names if n not in names]
        if missing:
            raise BagError(f"{spec.topic}: names {missing} not in the message (has {names})")
        value = np.asarray(value)[[names.index(n) for n in spec.names]]
    elif spec.indices:
        value = np.asarray(value)[list(spec.indices)]
    out = np.atleast_1d(np.asarray(value, dtype=np.float32))
    if out.ndim != 1:
        raise BagError(f"{spec.topic}: field '{spec.field}' is not a vector (shape {out.shape})")
    return out


def _extract_all(msg: Any, specs: tuple[StreamSpec, ...]) -> list[np.ndarray]:
    """The low-dim values of every key that reads this message's topic."""
    return [extract_low_dim(msg, s) for s in specs]


def image_converter(spec: StreamSpec) -> Any:
    """Function: Image/CompressedImage message → (H, W, 3) uint8, the observation node's pixels."""
    transform = ImageTransform(out_h=spec.image[0], out_w=spec.image[1], crop=spec.crop)  # type: ignore[index]

    def convert(msg: Any) -> np.ndarray:
        return message_to_frame(msg, transform)

    return convert


@dataclass
class Episode:
    """Aligned arrays of one episode (keys: obs keys, 'action', 'timestamp')."""

    source: str
    data: dict[str, np.ndarray]
    note: str = ""
    task: str = ""  # from the bag's episode metadata (LeRobot export)
    ticks_ns: np.ndarray | None = None  # (N,) int64 timeline (``timestamp`` in exact ns; dp-replay-eval)
    topic_rates_hz: dict[str, float] = field(default_factory=dict)  # mean message rate of each read topic
    sample_age_ns: dict[str, np.ndarray] = field(default_factory=dict)  # topic -> (N,) tick - chosen sample's stamp

    @property
    def length(self) -> int:
        return len(self.data["action"])


def build_episode(bag: Path, config: ConvertConfig, source: str = "") -> Episode:
    """Read ``bag`` (a path AnyReader accepts) and build the aligned episode."""
    streams = {s.key: s for s in config.streams}
    by_topic: dict[str, list[StreamSpec]] = {}
    for spec in streams.values():
        by_topic.setdefault(spec.topic, []).append(spec)
    for topic, specs in by_topic.items():
        if len({(s.stamp, s.is_image) for s in specs}) > 1:
            raise ValueError(f"keys {[s.key for s in specs]} read {topic} with different stamp/image settings")
    lazy = {t for t, specs in by_topic.items() if specs[0].is_image}
    extract: dict[str, Callable[[Any], Any]] = {
        t: functools.partial(_extract_all, specs=tuple(specs)) for t, specs in by_topic.items()
    }
    with AnyReader([bag]) as reader:
        topics = read_topics(reader, extract, lazy, {t: specs[0].stamp == "header" for t, specs in by_topic.items()})
        first = max(min(d.stamps_ns) for d in topics.values())
        last = min(max(d.stamps_ns) for d in topics.values())
        ticks = make_ticks(first, last, config.dt_s)
        if config.action.mode == "next_state":
            ticks_obs = ticks[:-1]
        else:
            ticks_obs = ticks
        if len(ticks_obs) == 0:
            raise BagError("streams never overlap in time (no tick where every topic has a sample)")
        chosen = {t: resample_stream(d.stamps_ns, d.values, ticks) for t, d in topics.items()}
        data: dict[str, np.ndarray] = {}
        for key, spec in streams.items():
            idx = chosen[spec.topic]
            if spec.is_image:
                frames = read_chosen(reader, spec.topic, np.unique(idx), image_converter(spec))
                data[key] = np.stack([frames[int(i)] for i in idx])
            else:
                pos = [s.key for s in by_topic[spec.topic]].index(key)
                values = [topics[spec.topic].values[int(i)][pos] for i in idx]
                if len({v.shape for v in values}) != 1:
                    raise BagError(f"{spec.topic}: '{key}' changes size during the episode")
                data[key] = np.stack(values).astype(np.float32)
    assert (chosen[next(iter(chosen))] >= 0).all(), "ticks start where every stream has a sample"
    n = len(ticks_obs)
    if config.action.mode == "next_state":
        data["action"] = data[config.action.key][1:].copy()
    data = {k: v[:n] for k, v in data.items()}
    data["timestamp"] = ticks_obs.astype(np.float64) / 1e9
    rates = {t: _mean_rate_hz(d.stamps_ns) for t, d in topics.items()}
    ages = {t: ticks_obs - np.asarray(d.stamps_ns, dtype=np.int64)[chosen[t][:n]] for t, d in topics.items()}
    return Episode(
        source=source or str(bag),
        data=data,
        ticks_ns=ticks_obs.copy(),
        topic_rates_hz=rates,
        sample_age_ns=ages,
    )


def _mean_rate_hz(stamps_ns: list[int]) -> float:
    """Messages per second over the topic's span (inf for a single message)."""
    span = max(stamps_ns) - min(stamps_ns)
    return (len(stamps_ns) - 1) * 1e9 / span if span > 0 else float("inf")
