"""Fixed-length windows over the episodes of a replay buffer, with the original padding rules.

A window of ``sequence_length`` steps may start up to ``pad_before`` steps before its episode
and end up to ``pad_after`` steps after it; missing steps repeat the episode's edge frame. With
``pad_before = n_obs_steps - 1`` and ``pad_after = n_action_steps - 1`` every step of every
episode is seen as the newest observation and the last executed action (Chi et al. 2023).
An episode of length L gives ``max(0, L + pad_before + pad_after - sequence_length + 1)`` windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np


class ArraySource(Protocol):
    """Anything indexable by key that returns a sliceable array (ReplayBuffer, dict of arrays)."""

    def __getitem__(self, key: str) -> Any: ...


class SequenceSampler:
    """Index of windows; ``sample_sequence`` reads one window of the chosen keys.

    Args:
        episode_ends: cumulative episode ends (int, strictly increasing).
        sequence_length: steps per window (the horizon).
        pad_before: steps a window may start before its episode (clamped to sequence_length - 1).
        pad_after: steps a window may end after its episode (clamped to sequence_length - 1).
        episode_mask: bool per episode; windows only come from True episodes (default: all).
        key_first_k: for these keys only the first k steps of each window are read and returned,
            shape (k, ...) — observations need n_obs_steps frames, not the whole horizon.
    """

    def __init__(
        self,
        episode_ends: np.ndarray,
        sequence_length: int,
        pad_before: int = 0,
        pad_after: int = 0,
        episode_mask: np.ndarray | None = None,
        key_first_k: Mapping[str, int] | None = None,
    ) -> None:
        ends = np.asarray(episode_ends, dtype=np.int64)
        if ends.ndim != 1 or np.any(np.diff(ends, prepend=0) <= 0):
            raise ValueError(f"episode_ends must be 1-D, > 0 and strictly increasing, got {ends[:8]}...")
        if sequence_length < 1:
            raise ValueError(f"sequence_length must be >= 1, got {sequence_length}")
        if pad_before < 0 or pad_after < 0:
            raise ValueError(f"pad_before/pad_after must be >= 0, got {pad_before}/{pad_after}")
        mask = np.ones(len(ends), dtype=bool) if episode_mask is None else np.asarray(episode_mask, dtype=bool)
        if mask.shape != ends.shape:
            raise ValueError(f"episode_mask needs one entry per episode ({len(ends)}), got shape {mask.shape}")
        self.key_first_k = dict(key_first_k or {})
        for key, k in self.key_first_k.items():
            if not 1 <= k <= sequence_length:
                raise ValueError(f"key_first_k['{key}'] must be in [1, {sequence_length}], got {k}")
        self.sequence_length = int(sequence_length)
        self.pad_before = min(int(pad_before), self.sequence_length - 1)
        self.pad_after = min(int(pad_after), self.sequence_length - 1)
        self.episode_mask = mask
        self.indices = build_indices(ends, self.sequence_length, self.pad_before, self.pad_after, mask)

    def __len__(self) -> int:
        return len(self.indices)

    def sample_sequence(
        self, source: ArraySource, idx: int, keys: list[str] | tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Window ``idx`` of each key: (sequence_length, ...) or (k, ...) for key_first_k keys."""
        buffer_start, buffer_end, sample_start, _ = (int(v) for v in self.indices[idx])
        result = {}
        for key in keys:
            length = self.key_first_k.get(key, self.sequence_length)
            # Window position p reads buffer step buffer_start + p - sample_start, clamped to the
            # steps that exist: the clamp is exactly "repeat the edge frame".
            positions = np.arange(length) + (buffer_start - sample_start)
            steps = np.clip(positions, buffer_start, buffer_end - 1)
            first, last = int(steps[0]), int(steps[-1])
            block = np.asarray(source[key][first : last + 1])
            result[key] = block[steps - first]
        return result


def build_indices(
    episode_ends: np.ndarray, sequence_length: int, pad_before: int, pad_after: int, episode_mask: np.ndarray
) -> np.ndarray:
    """(n_windows, 4) int64 rows [buffer_start, buffer_end, sample_start, sample_end], vectorised.

    buffer_[start, end) are the real steps a window covers; sample_[start, end) is where they sit
    inside the window (steps before sample_start / from sample_end on are edge padding).
    """
    ends = np.asarray(episode_ends, dtype=np.int64)
    if len(ends) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    lengths = ends - starts
    counts = np.maximum(lengths + pad_before + pad_after - sequence_length + 1, 0) * episode_mask
    total = int(counts.sum())
    if total == 0:
        return np.zeros((0, 4), dtype=np.int64)
    episode = np.repeat(np.arange(len(ends)), counts)
    # Offset of each window inside its episode's run, then shifted to start at -pad_before.
    run_start = np.repeat(np.cumsum(counts) - counts, counts)
    rel = np.arange(total, dtype=np.int64) - run_start - pad_before
    ep_start, ep_len = starts[episode], lengths[episode]
    buffer_start = np.maximum(rel, 0) + ep_start
    buffer_end = np.minimum(rel + sequence_length, ep_len) + ep_start
    sample_start = buffer_start - (rel + ep_start)
    sample_end = sequence_length - ((rel + sequence_length + ep_start) - buffer_end)
    return np.stack([buffer_start, buffer_end, sample_start, sample_end], axis=1)


def episode_split(n_episodes: int, val_ratio: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random episode-level (train_mask, val_mask); >= 1 val episode when val_ratio > 0 and n > 1."""
    if n_episodes < 0:
        raise ValueError(f"n_episodes must be >= 0, got {n_episodes}")
    if not 0.0 <= val_ratio < 1.0:
        raise ValueError(f"val_ratio must be in [0, 1), got {val_ratio}")
    val_mask = np.zeros(n_episodes, dtype=bool)
    if val_ratio > 0 and n_episodes > 1:
        n_val = min(max(1, round(n_episodes * val_ratio)), n_episodes - 1)
        rng = np.random.default_rng(seed)
        val_mask[rng.choice(n_episodes, size=n_val, replace=False)] = True
    return ~val_mask, val_mask


def downsample_mask(mask: np.ndarray, max_n: int | None, seed: int) -> np.ndarray:
    """Keep at most ``max_n`` randomly chosen True entries of ``mask`` (None keeps all)."""
    mask = np.asarray(mask, dtype=bool)
    if max_n is not None and max_n < 0:
        raise ValueError(f"max_n must be >= 0 or None, got {max_n}")
    if max_n is None or mask.sum() <= max_n:
        return mask.copy()
    chosen = np.random.default_rng(seed).choice(np.flatnonzero(mask), size=max_n, replace=False)
    out = np.zeros_like(mask)
    out[chosen] = True
    return out
