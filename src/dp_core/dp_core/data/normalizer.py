"""Per-key normalization to [-1, 1], kept inside the policy so checkpoints carry their statistics.

low_dim and action keys: min-max per feature dimension (last axis) to [-1, 1]; a dimension whose
range is below ``RANGE_EPS`` (e.g. a gripper that never moved) gets scale 1 and an offset that
maps its value to 0, as the original implementation's ``range_eps``, instead of blowing up noise.
rgb keys: the fixed map [0, 1] → [-1, 1] on (..., 3, H, W) tensors.

Every statistic is a registered buffer (``stats.<key>.scale`` ...), so the normalizer moves with
``.to(device)``, is saved by ``state_dict()`` and restores its keys even into a fresh, empty
``Normalizer`` (what loading a checkpoint into a newly built policy does).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

Kind = Literal["low_dim", "rgb", "action"]
KINDS: tuple[Kind, ...] = ("low_dim", "rgb", "action")
RANGE_EPS = 1e-4
_STATS = "stats"
_BUFFERS = ("scale", "offset", "input_min", "input_max", "kind_code")


def _module_name(key: str) -> str:
    """Keys may contain '.', which module names may not: escape reversibly."""
    return key.replace("%", "%25").replace(".", "%2E")


def _key_from_module_name(name: str) -> str:
    return name.replace("%2E", ".").replace("%25", "%")


class _KeyStats(nn.Module):
    """The affine map y = x * scale + offset of one key, and the data range it was fitted on."""

    def __init__(self, kind: Kind, scale: Tensor, offset: Tensor, input_min: Tensor, input_max: Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale.to(torch.float32))
        self.register_buffer("offset", offset.to(torch.float32))
        self.register_buffer("input_min", input_min.to(torch.float32))
        self.register_buffer("input_max", input_max.to(torch.float32))
        # Saved for loading into an empty Normalizer; reads use the Python copy (no GPU sync).
        self.register_buffer("kind_code", torch.tensor(KINDS.index(kind), dtype=torch.int64))
        self.kind: Kind = kind

    # registered buffers, typed for readers (nn.Module.__getattr__ would say Tensor | Module)
    scale: Tensor
    offset: Tensor
    input_min: Tensor
    input_max: Tensor

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        super()._load_from_state_dict(state_dict, prefix, *args)
        code = state_dict.get(f"{prefix}kind_code")
        if code is not None and 0 <= int(code) < len(KINDS):
            self.kind = KINDS[int(code)]


class Normalizer(nn.Module):
    """Maps raw observations/actions to the [-1, 1] range the networks are trained on, and back."""

    def __init__(self) -> None:
        super().__init__()
        self.stats = nn.ModuleDict()
        # Non-persistent anchor: tells a still-empty normalizer which device it was moved to.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)

    def _device(self) -> torch.device:
        """The module's device (an empty buffer follows .to())."""
        return torch.as_tensor(self._anchor).device

    # ---- fitting ----

    def fit(self, data: Mapping[str, np.ndarray | Tensor], kinds: Mapping[str, Kind]) -> None:
        """Fit (or refit) every key in ``kinds``; rgb keys need no data (their map is fixed).

        data: {key: (..., D) array} for low_dim/action keys, any leading shape (N, D), (E, T, D)...
        """
        fitted: dict[str, _KeyStats] = {}  # all keys validated before any is replaced
        for key, kind in kinds.items():
            if not key:
                raise ValueError("normalizer keys must not be empty")
            if kind not in KINDS:
                raise ValueError(f"normalizer key '{key}': kind must be one of {KINDS}, got {kind!r}")
            if kind == "rgb":
                fitted[key] = _rgb_stats()
            elif key not in data:
                raise KeyError(f"normalizer key '{key}' ({kind}) has no data to fit; got data for {sorted(data)}")
            else:
                fitted[key] = _min_max_stats(key, kind, data[key])
        for key, stats in fitted.items():
            self.stats[_module_name(key)] = stats.to(self._device())

    # ---- lookups ----

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(_key_from_module_name(name) for name in self.stats)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and _module_name(key) in self.stats

    def kind(self, key: str) -> Kind:
        return self._stats(key).kind

    def input_range(self, key: str) -> tuple[Tensor, Tensor]:
        """(min, max) of the fitted data per dimension (rgb: 0 and 1)."""
        stats = self._stats(key)
        return stats.input_min, stats.input_max

    def _stats(self, key: str) -> _KeyStats:
        name = _module_name(key)
        if name not in self.stats:
            raise KeyError(
                f"normalizer has no key '{key}' (known keys: {list(self.keys)}); "
                "fit it on the dataset or load a checkpoint that has it"
            )
        return self.stats[name]  # type: ignore[return-value]

    # ---- the maps ----

    def normalize(self, key: str, x: Tensor) -> Tensor:
        """Raw → [-1, 1]; result has x's dtype and device. low_dim: (..., D); rgb: (..., 3, H, W) in [0, 1]."""
        scale, offset = self._affine(key, x)
        return x * scale + offset

    def unnormalize(self, key: str, x: Tensor) -> Tensor:
        """[-1, 1] → raw units; the exact inverse of ``normalize``."""
        scale, offset = self._affine(key, x)
        return (x - offset) / scale

    def normalize_dict(self, data: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {key: self.normalize(key, value) for key, value in data.items()}

    def unnormalize_dict(self, data: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {key: self.unnormalize(key, value) for key, value in data.items()}

    def _affine(self, key: str, x: Tensor) -> tuple[Tensor, Tensor]:
        stats = self._stats(key)
        if not isinstance(x, Tensor) or not x.is_floating_point():
            kind = type(x).__name__ if not isinstance(x, Tensor) else x.dtype
            raise TypeError(
                f"normalizer key '{key}' needs a floating-point torch tensor, got {kind} "
                "(convert images to float in [0, 1] first)"
            )
        feature_shape = tuple(stats.scale.shape)
        if x.dim() < len(feature_shape) or _shape_mismatch(stats.kind, feature_shape, tuple(x.shape)):
            expected = "(..., 3, H, W)" if stats.kind == "rgb" else f"(..., {feature_shape[0]})"
            raise ValueError(f"normalizer key '{key}' ({stats.kind}) expects shape {expected}, got {tuple(x.shape)}")
        return stats.scale.to(x.device, x.dtype), stats.offset.to(x.device, x.dtype)

    # ---- state dict ----

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Create the per-key modules found in ``state_dict`` so a fresh Normalizer can load them."""
        stats_prefix = f"{prefix}{_STATS}."
        found: dict[str, dict[str, Tensor]] = {}
        for name, value in state_dict.items():
            if name.startswith(stats_prefix):
                module_name, _, buffer = name[len(stats_prefix) :].rpartition(".")
                found.setdefault(module_name, {})[buffer] = value
        for module_name, buffers in found.items():
            if module_name in self.stats or set(buffers) != set(_BUFFERS):
                continue  # existing keys load (and size-check) normally; partial entries are reported
            code = int(buffers["kind_code"])
            if not 0 <= code < len(KINDS):
                error_msgs.append(f"normalizer entry '{module_name}' has an unknown kind code {code}")
                continue
            kind = KINDS[code]
            placeholder = _KeyStats(kind, *(torch.empty_like(buffers[b], dtype=torch.float32) for b in _BUFFERS[:4]))
            self.stats[module_name] = placeholder.to(self._device())
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _shape_mismatch(kind: str, feature_shape: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    if kind == "rgb":
        return len(shape) < 3 or shape[-3] != 3
    return shape[-1] != feature_shape[0]


def _rgb_stats() -> _KeyStats:
    one = torch.ones(3, 1, 1)
    return _KeyStats("rgb", scale=2 * one, offset=-one, input_min=0 * one, input_max=one)


def _min_max_stats(key: str, kind: Kind, values: np.ndarray | Tensor) -> _KeyStats:
    """Per-dimension min-max to [-1, 1]; constant dimensions are centred with scale 1."""
    array = values.detach().cpu().numpy() if isinstance(values, Tensor) else np.asarray(values)
    if array.ndim < 1 or array.size == 0:
        raise ValueError(f"normalizer key '{key}': need a non-empty (..., D) array, got shape {array.shape}")
    array = array.reshape(-1, array.shape[-1]).astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        rows, dims = np.nonzero(bad)
        raise ValueError(
            f"normalizer key '{key}': {int(bad.sum())} non-finite values (first at row {rows[0]}, "
            f"dim {dims[0]}); clean the dataset before fitting"
        )
    low, high = array.min(axis=0), array.max(axis=0)
    span = high - low
    constant = span < RANGE_EPS
    if constant.any():
        log.info("normalizer key '%s': dims %s are constant; mapped to 0 with scale 1", key, np.nonzero(constant)[0])
    span = np.where(constant, 2.0, span)
    scale = 2.0 / span
    offset = np.where(constant, -low, -1.0 - scale * low)
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return _KeyStats(kind, as_tensor(scale), as_tensor(offset), as_tensor(low), as_tensor(high))
