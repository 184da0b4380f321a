"""Argument checks and the condition choice shared by every denoiser (one mistake, one message)."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor


def check_sizes(**sizes: int) -> None:
    """Raise ValueError naming the first size below 1 (action_dim=..., horizon=..., ...)."""
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def check_obs_features(obs_features: Tensor, n_obs_steps: int, obs_feature_dim: int) -> None:
    """obs_features must be (B, n_obs_steps, obs_feature_dim)."""
    if obs_features.ndim != 3 or obs_features.shape[1:] != (n_obs_steps, obs_feature_dim):
        raise ValueError(
            f"obs_features must have shape (B, {n_obs_steps}, {obs_feature_dim}), got {tuple(obs_features.shape)}"
        )


def condition(encode: Callable[[Tensor], Tensor], obs_features: Tensor | None, cond_cache: Tensor | None) -> Tensor:
    """The cond_cache to use: the given one, or ``encode(obs_features)``; exactly one must be given."""
    if (obs_features is None) == (cond_cache is None):
        raise ValueError("pass exactly one of obs_features or cond_cache")
    if cond_cache is not None:
        return cond_cache
    assert obs_features is not None  # checked above
    return encode(obs_features)
