"""A recorded bag as a ``ReplayEpisode`` for dp-replay-eval: the converter's rows, the policy's keys.

The bag is read by ``episode_builder.build_episode`` (the converter's fixed-rate timeline and
"latest sample not after each tick" rule from ``dp_core.timing.alignment``), and the dataset
keys are mapped onto the policy's keys exactly as training did (the checkpoint's
``data.obs_sources`` / ``action_source``, with ``dp_core.data.dataset``'s column slicing and
image resizing). Everything that would make the comparison meaningless is an error naming what
differs: another rate than the policy's dt_s, keys the converter config does not produce,
other dimensions, topics missing from the bag or recorded slower than the policy's rate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dp_core.data.dataset import ObsSource, _columns, frames_to_uint8_rgb
from dp_core.evaluation.replay_eval import ReplayEpisode
from dp_core.spec import PolicySpec
from dp_core.timing.alignment import dt_to_ns
from dp_recorder.bag_reader import BagError, readable_bag
from dp_recorder.convert_config import ConvertConfig
from dp_recorder.episode_builder import build_episode
from dp_recorder.episode_metadata import read_metadata

#: A topic recorded at less than this fraction of the policy's rate is an error (its samples repeat).
MIN_RATE_RATIO = 0.9


@dataclass(frozen=True)
class KeyMap:
    """Which dataset key (the converter config's) feeds each policy key, from the checkpoint."""

    obs: dict[str, ObsSource]
    action: ObsSource

    @classmethod
    def from_run_config(cls, tree: Mapping[str, Any], spec: PolicySpec) -> KeyMap:
        """The checkpoint's ``data`` section; keys map to themselves when it has none."""
        data = tree.get("data") or {}
        sources = data.get("obs_sources") or {o.name: o.name for o in spec.obs}
        obs = {str(k): ObsSource.parse(v) for k, v in sources.items()}
        missing = sorted({o.name for o in spec.obs} - set(obs))
        if missing:
            raise ValueError(f"the checkpoint's data.obs_sources has no source for policy keys {missing}")
        return cls(
            obs={o.name: obs[o.name] for o in spec.obs}, action=ObsSource.parse(data.get("action_source", "action"))
        )


def check_config(config: ConvertConfig, spec: PolicySpec, keys: KeyMap) -> ConvertConfig:
    """The converter config cut down to the streams the policy needs; raises on a mismatch."""
    if dt_to_ns(config.dt_s) != dt_to_ns(spec.dt_s):
        raise ValueError(
            f"the converter config's rate_hz {config.rate_hz:g} (dt {config.dt_s:g} s) differs from the "
            f"checkpoint's dt_s {spec.dt_s:g} s ({1 / spec.dt_s:g} Hz): use the config the dataset was converted with"
        )
    streams = {s.key: s for s in config.obs}
    for obs in spec.obs:
        source = keys.obs[obs.name]
        stream = streams.get(source.key)
        if stream is None:
            raise ValueError(
                f"policy key '{obs.name}' reads dataset key '{source.key}', which the converter config does not "
                f"produce (it has {sorted(streams)})"
            )
        if (obs.kind == "rgb") != stream.is_image:
            raise ValueError(
                f"policy key '{obs.name}' is {obs.kind} but dataset key '{source.key}' ({stream.topic}) is "
                f"{'an image' if stream.is_image else 'low-dim'} stream"
            )
    needed = {keys.obs[o.name].key for o in spec.obs}
    if keys.action.key != "action":
        if keys.action.key not in streams or streams[keys.action.key].is_image:
            raise ValueError(f"action_source '{keys.action.key}' is not a low-dim key of the converter config")
        needed.add(keys.action.key)
    if config.action.mode == "next_state":
        needed.add(config.action.key)
    return replace(config, obs=tuple(s for s in config.obs if s.key in needed), min_length=1, success_only=False)


def _slow_topics(rates_hz: Mapping[str, float], spec: PolicySpec) -> dict[str, float]:
    return {topic: hz for topic, hz in rates_hz.items() if hz < MIN_RATE_RATIO / spec.dt_s}


def load_replay_episode(
    bag: Path,
    config: ConvertConfig,
    spec: PolicySpec,
    keys: KeyMap,
    recover: bool = False,
    allow_slow_topics: bool = False,
) -> ReplayEpisode:
    """Read ``bag`` with the (checked) converter config; raises ``BagError``/``ValueError`` naming the problem."""
    bag = Path(bag)
    meta = read_metadata(bag) if bag.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="dp_replay_") as scratch:
        path, note = readable_bag(bag, recover, Path(scratch))
        episode = build_episode(path, config, source=str(bag))
    slow = _slow_topics(episode.topic_rates_hz, spec)
    if slow and not allow_slow_topics:
        listed = ", ".join(f"{t} at {hz:.3g} Hz" for t, hz in slow.items())
        raise BagError(
            f"topics recorded slower than the policy's {1 / spec.dt_s:g} Hz (dt_s {spec.dt_s:g} s): {listed}; "
            "windows would repeat samples (pass --allow-slow-topics to evaluate anyway)"
        )
    data = episode.data
    low_dim: dict[str, np.ndarray] = {}
    images: dict[str, np.ndarray] = {}
    for obs in spec.obs:
        source = keys.obs[obs.name]
        if obs.kind == "rgb":
            images[obs.name] = frames_to_uint8_rgb(data[source.key], (obs.shape[1], obs.shape[2]))
        else:
            low_dim[obs.name] = _check_width(obs.name, source, data[source.key], obs.shape[0])
    actions = _check_width("action", keys.action, data[keys.action.key], spec.action_dim)
    info: dict[str, Any] = {"bag": str(bag), "note": note, "rates_hz": episode.topic_rates_hz}
    if meta is not None:
        info.update(success=meta.success, task=meta.task)
    assert episode.ticks_ns is not None  # build_episode always sets it
    obs_topics = {s.topic for s in config.obs if s.key in {keys.obs[o.name].key for o in spec.obs}}
    age_ns = np.max([episode.sample_age_ns[t] for t in sorted(obs_topics)], axis=0)
    return ReplayEpisode(
        name=bag.name.removesuffix(".mcap").removesuffix(".db3"),
        ticks_ns=episode.ticks_ns,
        low_dim=low_dim,
        images=images,
        actions=actions,
        info=info,
        obs_age_s=age_ns / 1e9,
    )


def _check_width(name: str, source: ObsSource, values: np.ndarray, expected: int) -> np.ndarray:
    """Flatten + column slice as the training dataset does, and check the width against the spec."""
    width = int(np.prod(values.shape[1:], dtype=np.int64))
    stop = source.columns[1] if source.columns else width
    if stop > width:
        raise ValueError(f"'{name}' <- '{source.key}': columns {source.columns} exceed its {width} values per step")
    out = _columns(values, source.columns)
    if out.shape[1] != expected:
        raise ValueError(
            f"'{name}' <- '{source.key}': the bag gives {out.shape[1]} values per step, the policy expects {expected}"
        )
    return out
