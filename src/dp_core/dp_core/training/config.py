"""Training configuration: dataclasses loaded from YAML with flat ``key=value`` overrides.

A run config has three sections: ``train`` (:class:`TrainConfig`), ``data``
(:class:`~dp_core.data.dataset.DataConfig`) and ``policy``
(:class:`~dp_core.policy.diffusion_model.DiffusionModelConfig`, including the ``PolicySpec``).

Why not Hydra/OmegaConf: configs here are plain dataclasses validated in ``__post_init__``; a
small typed converter gives errors that name the bad key and list the valid ones, with no
``_target_`` strings and no evaluation of config text.

Relative paths (``data.path``, ``train.output_dir``): written in the YAML file they are resolved
against the directory of that YAML file (so a config works from any working directory); given
as command-line overrides they are resolved against the current working directory.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from dp_core.data.dataset import DataConfig
from dp_core.policy.diffusion_model import DiffusionModelConfig

T = TypeVar("T")


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Convert a YAML value to the annotated type ``tp`` (dataclasses, tuples, paths, numbers)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            if _is_optional(tp):
                return None
            raise ValueError(f"config key '{where}' must not be null")
        errors = []
        for arg in args:
            try:
                return _convert(arg, value, where)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise ValueError(f"config key '{where}': {value!r} matches none of {tp} ({'; '.join(errors)})")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ValueError(f"config key '{where}' must be one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if hasattr(tp, "parse") and not isinstance(value, Mapping):
            return tp.parse(value)  # e.g. ObsSource: a bare zarr key
        return from_dict(tp, value, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key '{where}' must be a list, got {value!r}")
        items_tp = typing.get_args(tp)
        if origin is tuple and items_tp and items_tp[-1] is not Ellipsis:
            if len(items_tp) != len(value):
                raise ValueError(f"config key '{where}' needs {len(items_tp)} items, got {list(value)}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(items_tp, value)))
        item = items_tp[0] if items_tp else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ValueError(f"config key '{where}' must be a mapping, got {value!r}")
        kv_tp = typing.get_args(tp)
        vt = kv_tp[1] if len(kv_tp) == 2 else Any
        return {k: _convert(vt, v, f"{where}.{k}") for k, v in value.items()}
    if tp is Path:
        if not isinstance(value, (str, Path)):
            raise ValueError(f"config key '{where}' must be a path string, got {value!r}")
        return Path(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"config key '{where}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ValueError(f"config key '{where}' must be an integer, got {value!r}")
        return int(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"config key '{where}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"config key '{where}' must be a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping; unknown keys raise naming the key and the valid ones."""
    label = where or cls.__name__
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"config section '{label}' must be a mapping, got {data!r}")
    valid = _field_names(cls)
    unknown = [k for k in data if k not in valid]
    if unknown:
        dotted = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ValueError(f"unknown config key '{dotted}'; valid keys in '{label}': {valid}")
    from_data = getattr(cls, "from_dict", None)
    if callable(from_data):
        return from_data(data)
    hints = typing.get_type_hints(cls)
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """Plain YAML-safe structure of a (nested) dataclass config; inverse of :func:`from_dict`."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return to_dict(obj.to_dict())
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def parse_override(text: str) -> tuple[list[str], Any]:
    """``'train.batch_size=64'`` → (['train', 'batch_size'], 64); the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r} must look like section.key=value (e.g. train.batch_size=64)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ValueError(f"override {text!r}: value is not valid YAML ({exc})") from exc
    return key.strip().split("."), value


def apply_override(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``tree[path[0]][path[1]]... = value``, creating missing sections."""
    node = tree
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"override key '{'.'.join(path)}': '{'.'.join(path[: i + 1])}' is not a section")
        node = child
    node[path[-1]] = value


def dump_yaml(data: Any, path: Path) -> None:
    """Write a config structure as YAML (key order preserved)."""
    path.write_text(yaml.safe_dump(to_dict(data), sort_keys=False))


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping of one training run (defaults: the paper's Push-T recipe).

    Attributes:
        seed: seeds python, numpy and torch (per rank: seed + rank for data order only).
        batch_size: samples per optimizer step per process.
        num_epochs: passes over the training split; with ``max_steps`` the first limit wins.
        max_steps: optimizer steps; at least one of ``num_epochs``/``max_steps`` must be set.
        lr, weight_decay, betas: AdamW.
        weight_decay_groups: transformer denoiser: the original's groups (no decay on biases,
            LayerNorms, position embeddings); the U-Net always has one group, as the original.
        obs_encoder_weight_decay: weight decay of the image encoder with weight_decay_groups
            (the original's obs_encoder_weight_decay); None: weight_decay.
        warmup_steps: linear warm-up before the cosine decay to zero.
        warmup_from_zero: the warm-up factor is step / warmup_steps (diffusers, the original);
            False: (step + 1) / warmup_steps (dp_core before).
        lr_schedule: "cosine" (paper) or "constant" (after warm-up).
        grad_clip_norm: max global gradient norm; None (the original) disables clipping.
        drop_last: drop each epoch's last partial batch (the original keeps it).
        ema: keep an EMA of the weights (saved as the inference weights).
        ema_power, ema_max_value: EMA decay 1 - (1 + step)^-power, capped at max_value.
        val_every: steps between validation-loss evaluations (0: only at the end).
        val_max_batches: cap on validation batches per evaluation (None: whole split, the original).
        checkpoint_every: steps between checkpoints (0: only at the end).
        keep_checkpoints: newest ``step_N`` directories kept (0: keep all).
        log_every: steps between TensorBoard scalar writes.
        num_workers: DataLoader worker processes.
        device: "auto" (cuda if available), "cpu", "cuda" or "cuda:N".
        amp: autocast dtype: "auto" (bf16 on CUDA, off on CPU), "bf16" or "none".
        output_dir: run directory (checkpoints under it, TensorBoard logs in ``tb/``).
    """

    seed: int = 42
    batch_size: int = 256
    num_epochs: int | None = 3000
    max_steps: int | None = None
    lr: float = 1.0e-4
    weight_decay: float = 1.0e-6
    betas: tuple[float, float] = (0.95, 0.999)
    weight_decay_groups: bool = True
    obs_encoder_weight_decay: float | None = None
    warmup_steps: int = 500
    warmup_from_zero: bool = True
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    grad_clip_norm: float | None = None
    drop_last: bool = False
    ema: bool = True
    ema_power: float = 0.75
    ema_max_value: float = 0.9999
    val_every: int = 1000
    val_max_batches: int | None = None
    checkpoint_every: int = 5000
    keep_checkpoints: int = 3
    log_every: int = 10
    num_workers: int = 0
    device: str = "auto"
    amp: Literal["auto", "bf16", "none"] = "auto"
    output_dir: Path = Path("outputs/run")

    def __post_init__(self) -> None:
        self.output_dir = Path(self.output_dir)
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        if self.num_epochs is None and self.max_steps is None:
            raise ValueError("set train.num_epochs or train.max_steps (both are null)")
        for name in ("num_epochs", "max_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"train.{name} must be >= 1 or null, got {value}")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.obs_encoder_weight_decay is not None and self.obs_encoder_weight_decay < 0:
            raise ValueError(
                f"train.obs_encoder_weight_decay must be >= 0 or null, got {self.obs_encoder_weight_decay}"
            )
        if self.weight_decay < 0:
            raise ValueError(f"train.weight_decay must be >= 0, got {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"train.betas must be two values in [0, 1), got {list(self.betas)}")
        if self.grad_clip_norm is not None and not self.grad_clip_norm > 0:
            raise ValueError(f"train.grad_clip_norm must be > 0 or null, got {self.grad_clip_norm}")
        if not 0 < self.ema_max_value < 1 or not self.ema_power > 0:
            raise ValueError(
                f"train.ema_power must be > 0 and ema_max_value in (0, 1), got {self.ema_power}, {self.ema_max_value}"
            )
        for name in ("warmup_steps", "val_every", "checkpoint_every", "keep_checkpoints", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        if self.log_every < 1:
            raise ValueError(f"train.log_every must be >= 1, got {self.log_every}")
        if self.val_max_batches is not None and self.val_max_batches < 1:
            raise ValueError(f"train.val_max_batches must be >= 1 or null, got {self.val_max_batches}")
        if self.device not in {"auto", "cpu"} and not self.device.startswith("cuda"):
            raise ValueError(f"train.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")


@dataclass
class Config:
    """A whole training run: ``train``, ``data`` and ``policy`` sections."""

    policy: DiffusionModelConfig
    data: DataConfig
    train: TrainConfig = field(default_factory=TrainConfig)


PATH_KEYS = (("data", "path"), ("train", "output_dir"))


def _resolve_paths(tree: dict[str, Any], base: Path) -> None:
    """Make relative path values of ``tree`` absolute against ``base`` (in place)."""
    for section, key in PATH_KEYS:
        node = tree.get(section)
        if isinstance(node, dict) and isinstance(node.get(key), str) and not Path(node[key]).expanduser().is_absolute():
            node[key] = str((base / Path(node[key]).expanduser()).resolve())


def config_from_tree(tree: Mapping[str, Any]) -> Config:
    """Build and validate a :class:`Config` from a plain mapping (e.g. a checkpoint's config.yaml)."""
    if not isinstance(tree, Mapping):
        raise ValueError(f"a run config must be a mapping with sections {_field_names(Config)}, got {tree!r}")
    missing = [k for k in ("policy", "data") if k not in tree]
    if missing:
        raise ValueError(f"config is missing section(s) {missing}; a run config has sections {_field_names(Config)}")
    return from_dict(Config, tree)


def load_config(yaml_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load a run config from YAML and apply ``section.key=value`` overrides (values parsed as YAML).

    Relative paths in the file resolve against the file's directory; relative paths given as
    overrides resolve against the current working directory.
    """
    yaml_path = Path(yaml_path)
    if not yaml_path.is_file():
        raise FileNotFoundError(f"config file {yaml_path} does not exist")
    tree = yaml.safe_load(yaml_path.read_text()) or {}
    if not isinstance(tree, dict):
        raise ValueError(f"{yaml_path}: top level must be a mapping with sections {_field_names(Config)}")
    _resolve_paths(tree, yaml_path.resolve().parent)
    override_tree: dict[str, Any] = {}
    for text in overrides:
        path, value = parse_override(text)
        apply_override(tree, path, value)
        apply_override(override_tree, path, value)
    _resolve_paths(override_tree, Path.cwd())
    for section, key in PATH_KEYS:
        if isinstance(override_tree.get(section), dict) and key in override_tree[section]:
            tree[section][key] = override_tree[section][key]
    return config_from_tree(tree)
