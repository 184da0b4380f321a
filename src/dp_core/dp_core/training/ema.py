"""Exponential moving average of the weights, with the decay warm-up of the paper's code.

decay(step) = 1 - (1 + step / inv_gamma) ** -power, clamped to [min_value, max_value], where
step counts optimizer steps after ``update_after_step`` (the original counts from the second
update, so the first two updates copy the weights). With power 0.75 the decay is ~0.99 after
~500 steps and reaches the 0.9999 cap after ~2e5 steps; early weights are forgotten quickly.

Parameters that are not trained (``requires_grad=False``), BatchNorm parameters and all buffers
(normalizer statistics, BatchNorm running stats) are copied, never averaged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel/DataParallel (``.module``) or torch.compile (``._orig_mod``)."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


class EMAModel:
    """Keeps ``averaged_model``, a deep copy of the model in eval mode, updated by ``step``."""

    def __init__(
        self,
        model: nn.Module,
        power: float = 0.75,
        max_value: float = 0.9999,
        min_value: float = 0.0,
        update_after_step: int = 0,
        inv_gamma: float = 1.0,
    ) -> None:
        if not power > 0:
            raise ValueError(f"EMA power must be > 0, got {power}")
        if not 0 <= min_value <= max_value <= 1:
            raise ValueError(f"EMA needs 0 <= min_value <= max_value <= 1, got {min_value}, {max_value}")
        if update_after_step < 0:
            raise ValueError(f"EMA update_after_step must be >= 0, got {update_after_step}")
        if not inv_gamma > 0:
            raise ValueError(f"EMA inv_gamma must be > 0, got {inv_gamma}")
        self.power = power
        self.max_value = max_value
        self.min_value = min_value
        self.update_after_step = update_after_step
        self.inv_gamma = inv_gamma
        self.averaged_model = copy.deepcopy(unwrap_model(model)).eval().requires_grad_(False)
        self.optimization_step = 0
        self.decay = 0.0
        self._cache_key: tuple | None = None
        self._cache: tuple[list[torch.Tensor], ...] = ([], [], [], [])

    def get_decay(self, optimization_step: int) -> float:
        """The decay used for the update made at ``optimization_step`` (0-based)."""
        step = max(0, optimization_step - self.update_after_step - 1)
        if step <= 0:
            return 0.0
        value = 1 - (1 + step / self.inv_gamma) ** -self.power
        return max(self.min_value, min(value, self.max_value))

    @torch.no_grad()
    def step(self, model: nn.Module) -> None:
        """Blend the current weights of ``model`` (DDP-wrapped or not) into the average."""
        self.decay = self.get_decay(self.optimization_step)
        blend_src, blend_dst, copy_src, copy_dst = self._pairs(unwrap_model(model))
        if blend_src:
            # ema += (1 - decay) * (p - ema) == decay * ema + (1 - decay) * p, one fused kernel per group.
            torch._foreach_lerp_(blend_dst, _cast_like(blend_src, blend_dst), 1.0 - self.decay)
        if copy_src:
            torch._foreach_copy_(copy_dst, _cast_like(copy_src, copy_dst))
        self.optimization_step += 1

    def _pairs(self, model: nn.Module) -> tuple[list[torch.Tensor], ...]:
        """(blend sources, blend targets, copy sources, copy targets), rebuilt only when the model changes.

        Walking a large model's modules costs more than a GPU update, so the matched lists are cached;
        the cache key is the identity of every parameter/buffer and its requires_grad flag.
        """
        params, buffers = list(model.parameters()), list(model.buffers())
        key = (id(model), tuple(map(id, params)), tuple(p.requires_grad for p in params), tuple(map(id, buffers)))
        if self._cache_key != key:
            self._cache = self._match(model)
            self._cache_key = key
        return self._cache

    def _match(self, model: nn.Module) -> tuple[list[torch.Tensor], ...]:
        src_modules = dict(model.named_modules())
        dst_modules = dict(self.averaged_model.named_modules())
        if src_modules.keys() != dst_modules.keys():
            differing = sorted(set(dst_modules) ^ set(src_modules))[:5]
            raise ValueError(
                f"model structure differs from the EMA copy (modules {differing}); "
                "pass the same model the EMA was built from"
            )
        blend_src: list[torch.Tensor] = []
        blend_dst: list[torch.Tensor] = []
        copy_src: list[torch.Tensor] = []
        copy_dst: list[torch.Tensor] = []
        for name, src in src_modules.items():
            dst = dst_modules[name]
            src_params = dict(src.named_parameters(recurse=False))
            for p_name, ema_param in dst.named_parameters(recurse=False):
                param = src_params.get(p_name)
                if param is None or param.shape != ema_param.shape:
                    raise ValueError(f"parameter '{name}.{p_name}' differs between the model and its EMA copy")
                trained = param.requires_grad and not isinstance(src, _BatchNorm)
                (blend_src if trained else copy_src).append(param)
                (blend_dst if trained else copy_dst).append(ema_param)
            src_buffers = dict(src.named_buffers(recurse=False))
            for b_name, ema_buffer in dst.named_buffers(recurse=False):
                buffer = src_buffers.get(b_name)
                if buffer is None or buffer.shape != ema_buffer.shape:
                    raise ValueError(f"buffer '{name}.{b_name}' differs between the model and its EMA copy")
                copy_src.append(buffer)
                copy_dst.append(ema_buffer)
        return blend_src, blend_dst, copy_src, copy_dst

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: the averaged weights and the step counter."""
        return {
            "averaged_model": self.averaged_model.state_dict(),
            "optimization_step": self.optimization_step,
            "decay": self.decay,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        missing = {"averaged_model", "optimization_step"} - set(state)
        if missing:
            raise KeyError(f"EMA state is missing {sorted(missing)}; was it saved by EMAModel.state_dict()?")
        self.averaged_model.load_state_dict(state["averaged_model"])
        self._cache_key = None
        self.optimization_step = int(state["optimization_step"])
        self.decay = float(state.get("decay", self.get_decay(max(0, self.optimization_step - 1))))


def _cast_like(sources: list[torch.Tensor], targets: list[torch.Tensor]) -> list[torch.Tensor]:
    """Sources in the targets' dtypes (a no-op list when they already match, the usual case)."""
    if all(s.dtype == t.dtype for s, t in zip(sources, targets)):
        return sources  # read only, under no_grad
    return [s.detach().to(t.dtype) for s, t in zip(sources, targets)]
