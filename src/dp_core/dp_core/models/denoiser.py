"""Builds either denoiser behind one call convention used by the policy.

Both denoisers take ``(sample (B, horizon, action_dim), timestep (B,), obs_features
(B, n_obs_steps, feature_dim)) -> (B, horizon, action_dim)`` and offer
``encode_condition(obs_features) -> cond_cache`` plus ``forward(..., cond_cache=...)`` so the
sampling loop encodes the observations once per chunk. Pass either ``obs_features`` or
``cond_cache``, not both (the results are identical); a cond_cache of batch 1 is broadcast over
the sample batch.
"""

from __future__ import annotations

from typing import Literal

from dp_core.models.transformer import TransformerConfig, TransformerDenoiser
from dp_core.models.unet1d import ConditionalUnet1D, UNetConfig

DenoiserKind = Literal["unet", "transformer"]
Denoiser = ConditionalUnet1D | TransformerDenoiser


def build_denoiser(
    kind: DenoiserKind,
    config: UNetConfig | TransformerConfig | None,
    action_dim: int,
    obs_feature_dim: int,
    n_obs_steps: int,
    horizon: int,
) -> Denoiser:
    """Creates the denoiser of ``kind`` (config None = that kind's defaults)."""
    if kind == "unet":
        if not isinstance(config, (UNetConfig, type(None))):
            raise ValueError(f"denoiser 'unet' needs a UNetConfig, got {type(config).__name__}")
        return ConditionalUnet1D(action_dim, obs_feature_dim, n_obs_steps, horizon, config)
    if kind == "transformer":
        if not isinstance(config, (TransformerConfig, type(None))):
            raise ValueError(f"denoiser 'transformer' needs a TransformerConfig, got {type(config).__name__}")
        return TransformerDenoiser(action_dim, obs_feature_dim, n_obs_steps, horizon, config)
    raise ValueError(f"denoiser kind must be 'unet' or 'transformer', got {kind!r}")
