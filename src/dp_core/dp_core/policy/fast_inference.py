"""Fast inference forms of a trained denoiser: int8 weight-only quantization and a step-FiLM table.

Why: at batch 1 a denoising step of the Push-T U-Net reads all of its weights (263 MB in float32)
to do very little arithmetic (horizon 16, 8, 4 columns per level), so on a CPU it is bound by
memory bandwidth, not by FLOPs. Halving or quartering the bytes per weight is the lever.

``int8``: every large Conv1d/Linear keeps its weight as int8 with one float32 scale per output
channel (symmetric, max-abs), and runs as ``aten._weight_int8pack_mm`` over bfloat16 activations
(Conv1d as im2col: unfold the short sequence into (B·L_out, C_in·k) rows). Bias, the per-channel
scale, GroupNorm, Mish and FiLM stay float32. On an AVX2 CPU the kernel is fast only for bfloat16
activations (its float32 path is a slow reference loop), so activations are rounded to bf16 inside
the matmul; the output is bf16-rounded too (≈0.2 % per element), then rescaled in float32.

``bf16``: the whole denoiser cast to bfloat16 (only worth it with native AVX512-BF16/AMX).

For the U-Net both forms also replace the per-step ``step_mlp → film_step`` chain by a float32
table over all training timesteps (computed exactly, before quantization): it depends on the
integer timestep only, so each denoising step reads one row instead of ~4.7 M weights.

Conversion checks every quantized layer against its float32 original on random input and keeps
the float32 layer where the kernel misbehaves (it requires K % 32 == 0; other shapes return wrong
numbers or crash in this torch); ``Policy`` then checks the whole chunk (see ``inference.py``).
"""

from __future__ import annotations

import copy
import logging
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dp_core.models.denoiser_inputs import condition
from dp_core.models.unet1d import ConditionalUnet1D

log = logging.getLogger(__name__)

#: Layers smaller than this stay float32 (their bytes do not matter; the first/last convs).
MIN_QUANTIZED_WEIGHTS = 16384
#: The int8 kernel's reduction length must be a multiple of this (shorter ones are not converted).
_K_MULTIPLE = 32
#: U-Net levels whose sequence length is at least this stay float32 (see ``FastUnet1D._short_levels``).
INT8_MAX_LENGTH = 16
#: A converted layer is kept only if its output is this close (relative ∞-norm) to float32's.
_LAYER_TOLERANCE = 3e-2


def native_bf16_supported() -> bool:
    """True when this CPU has bfloat16 arithmetic in hardware (AVX512-BF16 or AMX), so bf16 pays."""
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    cpuinfo = Path("/proc/cpuinfo")
    if sys.platform.startswith("linux") and cpuinfo.exists():
        flags = cpuinfo.read_text(errors="ignore")
        return "avx512_bf16" in flags or "amx_bf16" in flags
    return True


def int8_kernel_available() -> bool:
    return hasattr(torch.ops.aten, "_weight_int8pack_mm")


def _quantize_rows(weight: Tensor) -> tuple[Tensor, Tensor]:
    """(N, K) float -> int8 (N, K) and float32 scales (N,) with weight ≈ int8 * scale (symmetric)."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
    quantized = torch.round(weight / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return quantized.contiguous(), scale


class Int8Matmul(nn.Module):
    """y = x @ (w_int8 · scale)^T + bias with x (M, K) float32 -> (M, N) float32."""

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        quantized, scale = _quantize_rows(weight)
        self.register_buffer("weight_int8", quantized)
        self.register_buffer("scale", scale)
        # The kernel multiplies by bf16 scales; ones are exact, the float32 scale is applied after.
        self.register_buffer("_ones", torch.ones(quantized.shape[0], dtype=torch.bfloat16), persistent=False)
        zero = torch.zeros(quantized.shape[0])
        self.register_buffer("bias", zero if bias is None else bias.detach().float().clone())

    def forward(self, x: Tensor) -> Tensor:
        """x: (M, K) -> (M, N) float32."""
        y = torch.ops.aten._weight_int8pack_mm(x.to(torch.bfloat16).contiguous(), self.weight_int8, self._ones)
        return torch.addcmul(self.bias, y.float(), self.scale)

    bias: Tensor  # registered buffers, typed for readers
    scale: Tensor
    weight_int8: Tensor
    _ones: Tensor


class Int8Linear(nn.Module):
    """Drop-in for ``nn.Linear`` with int8 weights: (..., K) -> (..., N)."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.matmul = Int8Matmul(linear.weight, linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.matmul(x.reshape(-1, self.in_features)).view(*x.shape[:-1], self.out_features)


class Int8Conv1d(nn.Module):
    """Drop-in for ``nn.Conv1d`` (groups=1, dilation=1) as im2col + int8 matmul: (B, C_in, L) -> (B, C_out, L')."""

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        self.out_channels = conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size[0], conv.stride[0]
        self.padding = int(conv.padding[0])  # a tuple padding (checked by _convertible)
        # (C_out, C_in, k) flattened to (C_out, C_in·k) matches unfold's (C_in, k) column order.
        self.matmul = Int8Matmul(conv.weight.flatten(1), conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        batch = x.shape[0]
        if self.kernel_size == 1 and self.stride == 1:
            columns = x.transpose(1, 2).reshape(-1, x.shape[1])
            length = x.shape[2]
        else:
            if self.padding:
                x = F.pad(x, (self.padding, self.padding))
            windows = x.unfold(2, self.kernel_size, self.stride)  # (B, C_in, L', k)
            length = windows.shape[2]
            columns = windows.permute(0, 2, 1, 3).reshape(batch * length, -1)
        return self.matmul(columns).view(batch, length, self.out_channels).transpose(1, 2)


def _convertible(module: nn.Module) -> bool:
    if isinstance(module, nn.Conv1d):
        ok = (
            module.groups == 1
            and module.dilation[0] == 1
            and module.padding_mode == "zeros"
            and isinstance(module.padding, tuple)
        )
        k = module.weight[0].numel()
    elif isinstance(module, nn.Linear):
        ok, k = True, module.in_features
    else:
        return False
    return ok and k % _K_MULTIPLE == 0 and module.weight.numel() >= MIN_QUANTIZED_WEIGHTS


def _layer_error(original: nn.Module, converted: nn.Module) -> float:
    """Relative ∞-norm difference of the two layers on a random input (N(0,1), length 16)."""
    generator = torch.Generator().manual_seed(0)
    if isinstance(original, nn.Conv1d):
        x = torch.randn(1, original.in_channels, 16, generator=generator)
    else:
        assert isinstance(original, nn.Linear)
        x = torch.randn(4, original.in_features, generator=generator)
    x = x.to(original.weight.device)
    with torch.no_grad():
        reference, output = original(x), converted(x)
    if not torch.isfinite(output).all() or output.shape != reference.shape:
        return float("inf")
    return float((output - reference).abs().max() / reference.abs().max().clamp(min=1e-12))


def quantize_int8_(module: nn.Module) -> tuple[int, int]:
    """Replace eligible Conv1d/Linear layers of ``module`` in place; returns (converted, kept float32)."""
    converted = kept = 0
    for name, child in list(module.named_children()):
        if _convertible(child):
            replacement = Int8Conv1d(child) if isinstance(child, nn.Conv1d) else Int8Linear(child)  # type: ignore[arg-type]  # _convertible: Linear
            error = _layer_error(child, replacement)
            if error <= _LAYER_TOLERANCE:
                setattr(module, name, replacement)
                converted += 1
                continue
            log.warning("int8 %s %s differs from float32 by %.2e; kept float32", name, type(child).__name__, error)
            kept += 1
        else:
            sub_converted, sub_kept = quantize_int8_(child)
            converted, kept = converted + sub_converted, kept + sub_kept
    return converted, kept


class FastUnet1D(nn.Module):
    """A ``ConditionalUnet1D`` with a precomputed step-FiLM table and optionally int8/bf16 layers.

    Same call convention as the U-Net: ``(sample (B, L, A), timestep, obs_features | cond_cache)
    -> (B, L, A)`` float32, and ``encode_condition``.
    """

    def __init__(self, unet: ConditionalUnet1D, num_train_timesteps: int, precision: str) -> None:
        super().__init__()
        if precision not in ("fp32", "int8", "bf16"):
            raise ValueError(f"precision must be 'fp32', 'int8' or 'bf16', got {precision!r}")
        unet = copy.deepcopy(unet).float().eval().requires_grad_(False)
        device = next(unet.parameters()).device
        with torch.no_grad():
            steps = torch.arange(num_train_timesteps, device=device)
            step_feature = unet.step_mlp(unet.step_embedding(steps, torch.float32))
            self.register_buffer("step_film", unet.film_step(F.mish(step_feature)))  # (n_train, film channels)
        self.precision = precision
        self.input_dtype = torch.float32  # what callers pass; cast to compute_dtype inside
        self.compute_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        if precision == "int8":
            self.converted_layers = self.float_layers = 0
            for level in self._short_levels(unet):
                converted, kept = quantize_int8_(level)
                self.converted_layers, self.float_layers = self.converted_layers + converted, self.float_layers + kept
        elif precision == "bf16":
            unet.to(torch.bfloat16)
        self.unet = unet
        self.n_obs_steps, self.obs_feature_dim = unet.n_obs_steps, unet.obs_feature_dim

    @staticmethod
    def _short_levels(unet: ConditionalUnet1D) -> list[nn.Module]:
        """Levels whose sequence is shorter than ``INT8_MAX_LENGTH`` at batch 1.

        The int8 kernel handles one activation row at a time: for ≥ 16 rows (the full-resolution
        level) it is no faster than float32 GEMM, so those (small) layers stay float32, which also
        keeps the quantization error away from the output.
        """
        n_levels, horizon = len(unet.down), unet.horizon
        levels = [level for i, level in enumerate(unet.down) if horizon >> i < INT8_MAX_LENGTH]
        if horizon >> (n_levels - 1) < INT8_MAX_LENGTH:
            levels.append(unet.mid)
        levels += [level for j, level in enumerate(unet.up) if horizon >> (n_levels - 1 - j) < INT8_MAX_LENGTH]
        return levels

    def encode_condition(self, obs_features: Tensor) -> Tensor:
        """obs_features: (B, T, F) -> cond_cache (B, film channels) float32."""
        return self.unet.encode_condition(obs_features).float()

    def forward(
        self,
        sample: Tensor,
        timestep: Tensor | int | float,
        obs_features: Tensor | None = None,
        cond_cache: Tensor | None = None,
    ) -> Tensor:
        """sample: (B, L, A), timestep (B,) or scalar -> (B, L, A) float32."""
        cond_cache = condition(self.encode_condition, obs_features, cond_cache)
        film = self._step_film(timestep, sample.shape[0], sample.device) + cond_cache
        return self.unet.run_levels(sample.to(self.compute_dtype), film.to(self.compute_dtype).unsqueeze(-1)).float()

    step_film: Tensor  # registered buffer, typed for readers

    def _step_film(self, timestep: Tensor | int | float, batch: int, device: torch.device) -> Tensor:
        steps = torch.as_tensor(timestep, device=device).reshape(-1).expand(batch)
        if not steps.dtype.is_floating_point or bool((steps == steps.round()).all()):
            index = steps.long()
            if int(index.min()) >= 0 and int(index.max()) < self.step_film.shape[0]:
                return self.step_film[index]
        # Off-table (fractional or out-of-range) steps: compute as the U-Net does.
        unet = self.unet
        dtype = self.compute_dtype
        feature = unet.step_mlp(unet.step_embedding(steps, dtype))
        return unet.film_step(F.mish(feature)).float()


def weight_bytes(module: nn.Module) -> int:
    """Bytes of parameters and buffers (what one forward pass streams from memory, roughly)."""
    tensors = list(module.parameters()) + [b for name, b in module.named_buffers() if not name.endswith("step_film")]
    return sum(t.numel() * t.element_size() for t in tensors)


def convert_denoiser(denoiser: nn.Module, precision: str, num_train_timesteps: int) -> nn.Module:
    """The fast inference form of ``denoiser`` for ``precision`` (a new module; the input is untouched).

    U-Net: :class:`FastUnet1D`. Other denoisers (the transformer): a bf16 copy; int8 is U-Net only
    (torch's Transformer layers read ``linear.weight`` directly, so their Linear cannot be swapped).
    """
    if isinstance(denoiser, ConditionalUnet1D):
        if precision == "int8" and not int8_kernel_available():
            raise ValueError("precision 'int8' needs torch.ops.aten._weight_int8pack_mm (torch >= 2.3)")
        return FastUnet1D(denoiser, num_train_timesteps, precision)
    if precision == "int8":
        raise ValueError(f"precision 'int8' supports the U-Net denoiser only, not {type(denoiser).__name__}")
    fast = copy.deepcopy(denoiser).eval().requires_grad_(False)
    return fast.to(torch.bfloat16) if precision == "bf16" else fast.float()
