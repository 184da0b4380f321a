"""Training samples from a ReplayBuffer shaped by a PolicySpec.

``SequenceDataset[i]`` is ``{"obs": {key: (n_obs_steps, ...)}, "action": (horizon, action_dim)}``
(float32 tensors; rgb obs (T, 3, H, W) in [0, 1]). Before tensor conversion a sample is the
numpy observation-window layout of the live path (images (T, H, W, 3) uint8 RGB, low-dim
(T, D) float32; see spec.py), so training and inference see identical preprocessing.

Which zarr key feeds which observation key is configured per key (``ObsSource``), so the
original datasets load unchanged, e.g. Push-T low-dim: ``keypoint`` <- zarr ``keypoint`` (9, 2)
flattened to 18, ``agent_pos`` <- zarr ``state`` columns [0, 2).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.data.sampler import SequenceSampler, downsample_mask, episode_split
from dp_core.sensors.images import prepare_image
from dp_core.spec import PolicySpec

logger = logging.getLogger(__name__)

Split = Literal["train", "val"]


@dataclass(frozen=True)
class ObsSource:
    """A zarr key feeding one policy key; low-dim frames are flattened, then ``columns`` sliced."""

    key: str
    columns: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("ObsSource.key (the zarr data key) must not be empty")
        if self.columns is not None:
            cols = tuple(int(c) for c in self.columns)
            if len(cols) != 2 or not 0 <= cols[0] < cols[1]:
                raise ValueError(
                    f"ObsSource '{self.key}': columns must be (start, stop) with 0 <= start < stop, got {self.columns}"
                )
            object.__setattr__(self, "columns", cols)

    @classmethod
    def parse(cls, value: ObsSource | str | Mapping[str, Any]) -> ObsSource:
        """Accept an ObsSource, a bare zarr key, or a YAML mapping {key, columns}."""
        if isinstance(value, ObsSource):
            return value
        if isinstance(value, str):
            return cls(key=value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"key", "columns"}
            if unknown:
                raise ValueError(f"unknown ObsSource fields {sorted(unknown)} (allowed: key, columns)")
            columns = value.get("columns")
            return cls(key=str(value["key"]), columns=tuple(columns) if columns is not None else None)
        raise ValueError(f"an observation source must be a zarr key or {{key, columns}}, got {value!r}")


@dataclass
class DataConfig:
    """Where the demonstrations are and how their keys map onto the policy's keys.

    Attributes:
        path: ReplayBuffer store (*.zarr directory or .zip).
        obs_sources: policy observation key -> ObsSource (or zarr key, or {key, columns}).
        action_source: zarr key (and columns) of the action.
        val_ratio: fraction of episodes held out for validation.
        max_train_episodes: keep at most this many (random) training episodes.
        seed: seed of the split and the downsampling.
        cache_low_dim: load low-dim arrays into RAM (random access to small zarr chunks is slow).
        cache_images: load images into RAM as uint8 (fast; costs H*W*3 bytes per step).
        normalizer_fit: steps the normalizer is fitted on: "all" of the replay buffer (the
            original datasets' get_normalizer) or only the "train" episodes.
        val_episodes: validation windows from every "non_train" episode (the original's
            validation set: held out and not kept by max_train_episodes) or only the "held_out".
    """

    path: str
    obs_sources: dict[str, ObsSource]
    action_source: ObsSource = field(default_factory=lambda: ObsSource("action"))
    val_ratio: float = 0.02
    max_train_episodes: int | None = None
    seed: int = 42
    cache_low_dim: bool = True
    cache_images: bool = False
    normalizer_fit: Literal["all", "train"] = "all"
    val_episodes: Literal["non_train", "held_out"] = "non_train"

    def __post_init__(self) -> None:
        if self.normalizer_fit not in ("all", "train"):
            raise ValueError(f"DataConfig.normalizer_fit must be 'all' or 'train', got {self.normalizer_fit!r}")
        if self.val_episodes not in ("non_train", "held_out"):
            raise ValueError(f"DataConfig.val_episodes must be 'non_train' or 'held_out', got {self.val_episodes!r}")
        self.path = str(self.path)
        if not self.obs_sources:
            raise ValueError("DataConfig.obs_sources must map at least one observation key to a zarr key")
        self.obs_sources = {str(k): ObsSource.parse(v) for k, v in self.obs_sources.items()}
        self.action_source = ObsSource.parse(self.action_source)
        if not 0.0 <= self.val_ratio < 1.0:
            raise ValueError(f"DataConfig.val_ratio must be in [0, 1), got {self.val_ratio}")
        if self.max_train_episodes is not None and self.max_train_episodes < 1:
            raise ValueError(f"DataConfig.max_train_episodes must be >= 1 or None, got {self.max_train_episodes}")


@dataclass(frozen=True)
class WindowSample:
    """One sample in the live numpy layout: images (T, H, W, 3) uint8, low-dim (T, D) float32."""

    images: dict[str, np.ndarray]
    low_dim: dict[str, np.ndarray]
    action: np.ndarray


class _Arrays:
    """Key -> array: RAM caches first, else the zarr store, opened lazily once per process.

    A store handle is never shared across DataLoader worker processes (a zip file offset is
    per process), so it is dropped on pickling and reopened on first use after a fork.
    """

    def __init__(self, path: str, cached: dict[str, np.ndarray]) -> None:
        self.path = path
        self.cached = cached
        self._opened: dict[str, Any] = {}
        self._buffer: ReplayBuffer | None = None
        self._pid = -1

    def __getitem__(self, key: str) -> Any:
        if key in self.cached:
            return self.cached[key]
        if self._buffer is None or self._pid != os.getpid():
            self._buffer = ReplayBuffer.open(self.path, "r")
            self._opened, self._pid = {}, os.getpid()
        if key not in self._opened:  # keep zarr arrays: their metadata is read once
            self._opened[key] = self._buffer[key]
        return self._opened[key]

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "cached": self.cached, "_opened": {}, "_buffer": None, "_pid": -1}


class SequenceDataset(Dataset):
    """Windows of a ReplayBuffer as torch samples for one split ("train" or "val")."""

    def __init__(self, config: DataConfig, spec: PolicySpec, split: Split = "train") -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.config = config
        self.spec = spec
        self.split: Split = split
        with ReplayBuffer.open(config.path, "r") as buffer:
            if buffer.n_episodes == 0:
                raise ValueError(f"'{config.path}' holds no episodes; record or convert demonstrations first")
            self._stored_shapes = {key: tuple(buffer[key].shape) for key in buffer.keys()}
            self._validate_sources()
            self.episode_ends = np.array(buffer.episode_ends)
            self.train_mask, self.val_mask = self._split_masks(buffer.n_episodes)
            cached = self._load_caches(buffer)
        self._arrays = _Arrays(config.path, cached)
        self._zarr_keys = sorted({s.key for s in config.obs_sources.values()} | {config.action_source.key})
        self.sampler = self._make_sampler(self.train_mask if split == "train" else self.val_mask)
        logger.info(
            "%s split of %s: %d episodes, %d windows",
            split,
            config.path,
            int((self.train_mask if split == "train" else self.val_mask).sum()),
            len(self.sampler),
        )

    # ----------------------------------------------------------------- construction
    def _validate_sources(self) -> None:
        spec_keys, cfg_keys = {o.name for o in self.spec.obs}, set(self.config.obs_sources)
        if spec_keys != cfg_keys:
            raise ValueError(
                f"obs_sources must name exactly the spec's observation keys {sorted(spec_keys)}: "
                f"missing {sorted(spec_keys - cfg_keys)}, unexpected {sorted(cfg_keys - spec_keys)}"
            )
        if "action" in spec_keys:
            raise ValueError("an observation key must not be named 'action' (it is the action's key)")
        for obs in self.spec.obs:
            source = self.config.obs_sources[obs.name]
            stored = self._stored_shape(obs.name, source)
            if obs.kind == "rgb":
                if len(stored) != 4 or stored[-1] != 3 or source.columns is not None:
                    raise ValueError(
                        f"rgb key '{obs.name}' <- zarr '{source.key}': stored shape {stored} must be (N, H, W, 3) "
                        f"RGB without columns (spec shape {obs.shape})"
                    )
            else:
                self._check_low_dim(obs.name, source, stored, obs.shape[0])
        self._check_low_dim(
            "action",
            self.config.action_source,
            self._stored_shape("action", self.config.action_source),
            self.spec.action_dim,
        )

    def _stored_shape(self, name: str, source: ObsSource) -> tuple[int, ...]:
        if source.key not in self._stored_shapes:
            raise ValueError(
                f"'{name}' <- zarr key '{source.key}' is not in {self.config.path} (have {sorted(self._stored_shapes)})"
            )
        return self._stored_shapes[source.key]

    @staticmethod
    def _check_low_dim(name: str, source: ObsSource, stored: tuple[int, ...], expected: int) -> None:
        width = int(np.prod(stored[1:], dtype=np.int64))
        start, stop = source.columns or (0, width)
        if stop > width:
            raise ValueError(
                f"'{name}' <- zarr '{source.key}': columns {source.columns} exceed its {width} values per step "
                f"(stored shape {stored})"
            )
        if stop - start != expected:
            raise ValueError(
                f"'{name}' <- zarr '{source.key}': stored shape {stored} with columns {source.columns} gives "
                f"{stop - start} values per step, expected ({expected},) from the policy spec"
            )

    def _split_masks(self, n_episodes: int) -> tuple[np.ndarray, np.ndarray]:
        train, val = episode_split(n_episodes, self.config.val_ratio, self.config.seed)
        train = downsample_mask(train, self.config.max_train_episodes, self.config.seed)
        return train, (~train if self.config.val_episodes == "non_train" else val)

    def _load_caches(self, buffer: ReplayBuffer) -> dict[str, np.ndarray]:
        cached: dict[str, np.ndarray] = {}
        n_steps = buffer.n_steps
        if self.config.cache_low_dim:
            keys = [self.config.obs_sources[o.name].key for o in self.spec.low_dim_keys]
            for key in {*keys, self.config.action_source.key}:
                cached[key] = buffer[key][:n_steps]
        if self.config.cache_images:
            for obs in self.spec.rgb_keys:
                key = self.config.obs_sources[obs.name].key
                cached[key] = _image_array_as_uint8(buffer[key], n_steps)
        return cached

    def _make_sampler(self, episode_mask: np.ndarray) -> SequenceSampler:
        action_key = self.config.action_source.key
        obs_keys = {self.config.obs_sources[o.name].key for o in self.spec.obs}
        return SequenceSampler(
            self.episode_ends,
            sequence_length=self.spec.horizon,
            pad_before=self.spec.n_obs_steps - 1,
            pad_after=self.spec.n_action_steps - 1,
            episode_mask=episode_mask,
            # Only n_obs_steps frames of observations are read (saves image decoding), unless
            # the same zarr key also feeds the action, which needs the whole horizon.
            key_first_k={k: self.spec.n_obs_steps for k in obs_keys if k != action_key},
        )

    # ----------------------------------------------------------------- samples
    def __len__(self) -> int:
        return len(self.sampler)

    def window(self, idx: int) -> WindowSample:
        """Sample ``idx`` in the numpy layout of the live observation window."""
        if not -len(self) <= idx < len(self):
            raise IndexError(f"sample {idx} out of range for {len(self)} windows")
        idx %= len(self)
        raw = self.sampler.sample_sequence(self._arrays, idx, self._zarr_keys)
        n_obs = self.spec.n_obs_steps
        images, low_dim = {}, {}
        for obs in self.spec.obs:
            source = self.config.obs_sources[obs.name]
            frames = raw[source.key][:n_obs]
            if obs.kind == "rgb":
                images[obs.name] = frames_to_uint8_rgb(frames, (obs.shape[1], obs.shape[2]))
            else:
                low_dim[obs.name] = _columns(frames, source.columns)
        action = _columns(raw[self.config.action_source.key], self.config.action_source.columns)
        return WindowSample(images=images, low_dim=low_dim, action=action)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        sample = self.window(idx)
        obs = {name: torch.from_numpy(values) for name, values in sample.low_dim.items()}
        for name, frames in sample.images.items():
            obs[name] = torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))).float().div_(255.0)
        return {"obs": {o.name: obs[o.name] for o in self.spec.obs}, "action": torch.from_numpy(sample.action)}

    # ----------------------------------------------------------------- helpers for training
    def get_normalizer_data(self) -> dict[str, np.ndarray]:
        """Low-dim obs keys and "action", (N, D) float32, of the steps ``normalizer_fit`` names."""
        episodes = self.train_mask if self.config.normalizer_fit == "train" else np.ones_like(self.train_mask)
        step_mask = np.repeat(episodes, np.diff(self.episode_ends, prepend=0))
        sources = {o.name: self.config.obs_sources[o.name] for o in self.spec.low_dim_keys}
        sources["action"] = self.config.action_source
        n_steps = len(step_mask)
        return {name: _columns(self._arrays[s.key][:n_steps][step_mask], s.columns) for name, s in sources.items()}

    def get_validation_dataset(self) -> SequenceDataset:
        """The validation episodes (``val_episodes``), sharing this dataset's caches."""
        val = copy.copy(self)
        val.split = "val"
        val.sampler = self._make_sampler(self.val_mask)
        return val


def _columns(values: np.ndarray, columns: tuple[int, int] | None) -> np.ndarray:
    """(T, ...) -> (T, D) float32, flattened per step, then the configured column slice."""
    flat = np.asarray(values).reshape(len(values), -1)
    if columns is not None:
        flat = flat[:, columns[0] : columns[1]]
    return np.ascontiguousarray(flat, dtype=np.float32)


def frames_to_uint8_rgb(frames: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """(T, h, w, 3) uint8, or float in 0..255 (original Push-T ``img``) -> (T, H, W, 3) uint8."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = np.clip(np.rint(frames), 0, 255).astype(np.uint8)
    if frames.shape[1:3] == tuple(size_hw):
        return frames
    # The live observation node resizes with the same function: training and deployment agree.
    return np.stack([prepare_image(f, size_hw) for f in frames])


def _image_array_as_uint8(array: Any, n_steps: int) -> np.ndarray:
    """Whole image array in RAM as uint8, converted block by block to bound peak memory."""
    out = np.empty((n_steps, *array.shape[1:]), dtype=np.uint8)
    chunk = int(getattr(array, "chunks", (256,))[0])
    block = chunk * max(1, 256 // chunk)  # whole chunks: each is decoded once
    for begin in range(0, n_steps, block):
        stop = min(begin + block, n_steps)
        values = array[begin:stop]
        out[begin:stop] = values if values.dtype == np.uint8 else np.clip(np.rint(values), 0, 255)
    return out
