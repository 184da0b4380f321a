"""Causal transformer denoiser (Chi et al. 2023, "transformer-based", time-series diffusion transformer).

Shape letters: B batch, L horizon (action tokens), A action_dim, T n_obs_steps, F obs feature dim,
E n_emb, S = 1 + T condition tokens.

The noisy actions are embedded as L tokens with learned positions. The condition sequence is
[diffusion-step token, one token per observation frame] with its own learned positions, passed
through a condition encoder (an MLP per token, or ``n_cond_layers`` transformer encoder layers),
and attended by pre-LN decoder layers. With ``causal_attn`` the action tokens attend causally to
each other, and action token t may attend condition tokens 0..t+1 (the step token and observation
frames 0..t): an action never sees a later observation (the reference code's memory mask).
With ``n_cond_layers > 0`` and ``causal_attn`` the condition encoder is causal too by default (a
deliberate deviation: the reference's bidirectional encoder would leak later frames into earlier
tokens); ``causal_cond_encoder=False`` is the reference's bidirectional encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dp_core.models.denoiser_inputs import check_obs_features, check_sizes, condition
from dp_core.models.step_embedding import SinusoidalStepEmbedding, broadcast_timestep


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of the transformer denoiser (defaults: the paper's Push-T transformer)."""

    n_layer: int = 8
    n_head: int = 4
    n_emb: int = 256
    p_drop_emb: float = 0.0
    p_drop_attn: float = 0.3
    causal_attn: bool = True
    n_cond_layers: int = 0
    causal_cond_encoder: bool = True

    def __post_init__(self) -> None:
        if self.n_layer < 1:
            raise ValueError(f"n_layer must be >= 1, got {self.n_layer}")
        if self.n_head < 1 or self.n_emb < 1 or self.n_emb % self.n_head:
            raise ValueError(f"n_emb ({self.n_emb}) must be a positive multiple of n_head ({self.n_head})")
        if self.n_emb < 4 or self.n_emb % 2:
            raise ValueError(f"n_emb must be even and >= 4 (sinusoidal step embedding), got {self.n_emb}")
        for name in ("p_drop_emb", "p_drop_attn"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.n_cond_layers < 0:
            raise ValueError(f"n_cond_layers must be >= 0, got {self.n_cond_layers}")


def causal_masks(horizon: int, n_cond_tokens: int) -> tuple[Tensor, Tensor]:
    """Boolean masks, True = may NOT attend (torch convention).

    Returns:
        self-attention mask (L, L): token t sees tokens 0..t;
        memory mask (L, S): token t sees condition tokens 0..t+1 (step token + obs frames 0..t).
    """
    t = torch.arange(horizon)[:, None]
    tgt_mask = torch.arange(horizon)[None, :] > t
    memory_mask = torch.arange(n_cond_tokens)[None, :] > t + 1
    return tgt_mask, memory_mask


class TransformerDenoiser(nn.Module):
    """Predicts noise (or the clean sample) for a noisy action sequence, conditioned on obs features."""

    tgt_mask: Tensor | None
    memory_mask: Tensor | None
    cond_mask: Tensor | None

    def __init__(
        self,
        action_dim: int,
        obs_feature_dim: int,
        n_obs_steps: int,
        horizon: int,
        config: TransformerConfig | None = None,
    ) -> None:
        super().__init__()
        config = config or TransformerConfig()
        check_sizes(action_dim=action_dim, obs_feature_dim=obs_feature_dim, n_obs_steps=n_obs_steps, horizon=horizon)
        self.config = config
        self.action_dim, self.obs_feature_dim, self.n_obs_steps, self.horizon = (
            action_dim,
            obs_feature_dim,
            n_obs_steps,
            horizon,
        )
        emb = config.n_emb
        self.input_emb = nn.Linear(action_dim, emb)
        self.pos_emb = nn.Parameter(torch.zeros(1, horizon, emb))
        self.drop = nn.Dropout(config.p_drop_emb)
        self.step_embedding = SinusoidalStepEmbedding(emb)
        self.cond_obs_emb = nn.Linear(obs_feature_dim, emb)
        self.cond_pos_emb = nn.Parameter(torch.zeros(1, 1 + n_obs_steps, emb))
        layer_args: dict[str, Any] = dict(
            d_model=emb,
            nhead=config.n_head,
            dim_feedforward=4 * emb,
            dropout=config.p_drop_attn,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        if config.n_cond_layers > 0:
            self.cond_encoder: nn.Module = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(**layer_args), num_layers=config.n_cond_layers, enable_nested_tensor=False
            )
        else:
            self.cond_encoder = nn.Sequential(nn.Linear(emb, 4 * emb), nn.Mish(), nn.Linear(4 * emb, emb))
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer_args), num_layers=config.n_layer)
        self.ln_f = nn.LayerNorm(emb)
        self.head = nn.Linear(emb, action_dim)
        if config.causal_attn:
            tgt_mask, memory_mask = causal_masks(horizon, 1 + n_obs_steps)
            self.register_buffer("tgt_mask", tgt_mask, persistent=False)
            self.register_buffer("memory_mask", memory_mask, persistent=False)
            cond_mask = causal_masks(1 + n_obs_steps, 0)[0] if config.causal_cond_encoder else None
            self.register_buffer("cond_mask", cond_mask, persistent=False)
        else:
            self.tgt_mask = self.memory_mask = self.cond_mask = None
        self.apply(_init_weights)
        nn.init.normal_(self.pos_emb, std=0.02)
        nn.init.normal_(self.cond_pos_emb, std=0.02)

    def encode_condition(self, obs_features: Tensor) -> Tensor:
        """obs_features: (B, T, F) -> cond_cache (B, T, E): the step-independent observation tokens.

        With the per-token MLP condition encoder the cache holds the encoded observation tokens;
        with transformer encoder layers (which mix the step token in) it holds them before encoding.
        """
        check_obs_features(obs_features, self.n_obs_steps, self.obs_feature_dim)
        tokens = self.drop(self.cond_obs_emb(obs_features.to(self.pos_emb.dtype)) + self.cond_pos_emb[:, 1:])
        return tokens if self.config.n_cond_layers > 0 else self.cond_encoder(tokens)

    def _memory(self, steps: Tensor, cond_cache: Tensor) -> Tensor:
        """steps: (B,), cond_cache: (B or 1, T, E) -> memory (B, S, E)."""
        step_token = self.step_embedding(steps, self.pos_emb.dtype)[:, None, :]  # (B, 1, E)
        step_token = self.drop(step_token + self.cond_pos_emb[:, :1])
        if cond_cache.shape[0] != step_token.shape[0]:
            cond_cache = cond_cache.expand(step_token.shape[0], -1, -1)
        if self.config.n_cond_layers > 0:
            return self.cond_encoder(
                torch.cat((step_token, cond_cache), dim=1), mask=self.cond_mask, is_causal=self.cond_mask is not None
            )
        return torch.cat((self.cond_encoder(step_token), cond_cache), dim=1)

    def forward(
        self,
        sample: Tensor,
        timestep: Tensor | int | float,
        obs_features: Tensor | None = None,
        cond_cache: Tensor | None = None,
    ) -> Tensor:
        """sample: (B, L, A), timestep: (B,) or scalar, obs_features: (B, T, F) -> (B, L, A).

        The call convention of :mod:`dp_core.models.denoiser`; inputs and output in the weights' dtype.
        """
        if sample.ndim != 3 or sample.shape[1:] != (self.horizon, self.action_dim):
            raise ValueError(
                f"sample must have shape (B, {self.horizon}, {self.action_dim}), got {tuple(sample.shape)}"
            )
        cond_cache = condition(self.encode_condition, obs_features, cond_cache)
        steps = broadcast_timestep(timestep, sample.shape[0], sample.device)
        memory = self._memory(steps, cond_cache)
        x = self.drop(self.input_emb(sample.to(self.pos_emb.dtype)) + self.pos_emb)  # (B, L, E)
        x = self.decoder(
            x,
            memory,
            tgt_mask=self.tgt_mask,
            memory_mask=self.memory_mask,
            tgt_is_causal=self.config.causal_attn,
        )
        return self.head(self.ln_f(x))


def _init_weights(module: nn.Module) -> None:
    """GPT-style init as in the reference: N(0, 0.02) weights, zero biases, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.MultiheadAttention):
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            weight = getattr(module, name)
            if weight is not None:
                nn.init.normal_(weight, mean=0.0, std=0.02)
        for name in ("in_proj_bias", "bias_k", "bias_v"):
            bias = getattr(module, name)
            if bias is not None:
                nn.init.zeros_(bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
