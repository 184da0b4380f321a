"""Original Diffusion Policy denoiser weights -> dp_core denoiser state dicts (renames, FiLM split).

U-Net (diffusion_policy/model/diffusion/conditional_unet1d.py): per block ``blocks.{0,1}.block``
(Conv1d, GroupNorm) -> ``conv_in``/``conv_out``, ``residual_conv`` -> ``residual``,
``{down,up}_modules.i.2.conv`` -> ``resample``, ``diffusion_step_encoder.{1,3}`` -> ``step_mlp.{0,2}``,
``final_conv`` -> ``final``; every block's FiLM ``cond_encoder.1`` Linear over
[step feature, global cond] is split by columns into the stacked ``film_step`` (+ bias) and
``film_obs`` (blocks in down, mid, up order).

Transformer (transformer_for_diffusion.py, TransformerForDiffusion with time and obs as
condition): the same PyTorch modules under the same names, except the condition encoder
``encoder`` -> ``cond_encoder``; ``time_emb`` has no parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


class UnsupportedOriginalCheckpoint(ValueError):
    """The checkpoint uses an original class or option that dp_core cannot reproduce exactly."""


def map_unet_weights(original: Mapping[str, Tensor], n_levels: int, step_dim: int) -> dict[str, Tensor]:
    """Original ConditionalUnet1D state dict (no ``model.`` prefix) -> dp_core ConditionalUnet1D's."""
    out: dict[str, Tensor] = {}
    used: set[str] = set()

    def take(src: str) -> Tensor:
        if src not in original:
            raise UnsupportedOriginalCheckpoint(f"original U-Net weights lack '{src}'")
        used.add(src)
        return original[src]

    def block(dst: str, src: str, has_residual: bool) -> tuple[Tensor, Tensor]:
        for ours, theirs in (("conv_in", "blocks.0.block"), ("conv_out", "blocks.1.block")):
            for index in ("0", "1"):  # Conv1d, GroupNorm
                for param in ("weight", "bias"):
                    out[f"{dst}.{ours}.{index}.{param}"] = take(f"{src}.{theirs}.{index}.{param}")
        if has_residual:
            for param in ("weight", "bias"):
                out[f"{dst}.residual.{param}"] = take(f"{src}.residual_conv.{param}")
        return take(f"{src}.cond_encoder.1.weight"), take(f"{src}.cond_encoder.1.bias")

    for ours, theirs in (("0", "1"), ("2", "3")):
        for param in ("weight", "bias"):
            out[f"step_mlp.{ours}.{param}"] = take(f"diffusion_step_encoder.{theirs}.{param}")
    films: list[tuple[Tensor, Tensor]] = []
    levels = [(f"down.{i}", f"down_modules.{i}", i < n_levels - 1) for i in range(n_levels)]
    levels += [(f"up.{i}", f"up_modules.{i}", True) for i in range(n_levels - 1)]
    for dst, src, resample in levels[:n_levels]:
        films += _level(block, dst, src, original)
        if resample:
            for param in ("weight", "bias"):
                out[f"{dst}.resample.{param}"] = take(f"{src}.2.conv.{param}")
    for i in range(2):
        films.append(
            block(f"mid.block{i + 1}", f"mid_modules.{i}", f"mid_modules.{i}.residual_conv.weight" in original)
        )
    for dst, src, _ in levels[n_levels:]:
        films += _level(block, dst, src, original)
        for param in ("weight", "bias"):
            out[f"{dst}.resample.{param}"] = take(f"{src}.2.conv.{param}")
    for ours, theirs in (
        ("final.0.0", "final_conv.0.block.0"),
        ("final.0.1", "final_conv.0.block.1"),
        ("final.1", "final_conv.1"),
    ):
        for param in ("weight", "bias"):
            out[f"{ours}.{param}"] = take(f"{theirs}.{param}")
    weight = torch.cat([w for w, _ in films], dim=0)
    out["film_step.weight"] = weight[:, :step_dim].contiguous()
    out["film_obs.weight"] = weight[:, step_dim:].contiguous()
    out["film_step.bias"] = torch.cat([b for _, b in films], dim=0)
    left = sorted(k for k in original if k not in used and not k.endswith("_dummy_variable"))
    if left:
        raise UnsupportedOriginalCheckpoint(f"original U-Net weights not mapped (unsupported modules?): {left[:8]}")
    return out


def _level(block: Any, dst: str, src: str, original: Mapping[str, Tensor]) -> list[tuple[Tensor, Tensor]]:
    return [block(f"{dst}.block{j + 1}", f"{src}.{j}", f"{src}.{j}.residual_conv.weight" in original) for j in range(2)]


def map_transformer_weights(original: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Original TransformerForDiffusion state dict (no ``model.`` prefix) -> dp_core TransformerDenoiser's."""
    out = {}
    for key, value in original.items():
        if key.endswith("_dummy_variable"):
            continue
        out["cond_encoder." + key[len("encoder.") :] if key.startswith("encoder.") else key] = value
    return out
