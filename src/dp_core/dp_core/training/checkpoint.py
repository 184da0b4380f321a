"""Checkpoint directories: what inference loads and what ``--resume`` needs.

Layout of a run directory::

    <output_dir>/step_<N>/model.safetensors   policy weights (EMA weights when EMA is on) incl. normalizer
    <output_dir>/step_<N>/config.yaml         the full resolved run config (train, data, policy + spec)
    <output_dir>/step_<N>/train_state.pt      optimizer, lr schedule, EMA, online weights, step, RNG
    <output_dir>/latest -> step_<N>           relative symlink to the newest complete checkpoint

A step directory is written under a temporary name and renamed when complete, so ``latest``
never points at a half-written checkpoint. Inference needs only the first two files.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"
TRAIN_STATE_FILE = "train_state.pt"
LATEST_LINK = "latest"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def step_dirs(run_dir: Path) -> list[Path]:
    """Complete ``step_N`` directories of a run, oldest first."""
    found = [
        (int(m.group(1)), p) for p in Path(run_dir).glob("step_*") if (m := _STEP_DIR.match(p.name)) and p.is_dir()
    ]
    return [p for _, p in sorted(found)]


def resolve_checkpoint_dir(path: str | Path) -> Path:
    """A step directory, or a run directory (follows ``latest``, else the newest ``step_N``)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"checkpoint path {path} does not exist")
    if (path / WEIGHTS_FILE).is_file() or (path / CONFIG_FILE).is_file():
        return path
    if (path / LATEST_LINK).exists():
        return (path / LATEST_LINK).resolve()
    steps = step_dirs(path)
    if steps:
        return steps[-1]
    raise FileNotFoundError(
        f"{path} is neither a checkpoint directory (with {WEIGHTS_FILE} and {CONFIG_FILE}) nor a run "
        f"directory with '{LATEST_LINK}' or step_N checkpoints"
    )


def _require(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} is missing; is {path.parent} a complete checkpoint?")
    return path


def save_checkpoint_dir(
    run_dir: Path,
    step: int,
    weights: Mapping[str, Tensor],
    config: Mapping[str, Any],
    train_state: Mapping[str, Any] | None = None,
    keep: int = 0,
) -> Path:
    """Write ``run_dir/step_<step>`` atomically, point ``latest`` at it, prune old ones (keep > 0)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"step_{step}"
    tmp = run_dir / f".step_{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    # safetensors refuses shared/non-contiguous storage: give every tensor its own copy.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()}
    save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", "step": str(step)})
    (tmp / CONFIG_FILE).write_text(yaml.safe_dump(dict(config), sort_keys=False))
    if train_state is not None:
        torch.save(dict(train_state), tmp / TRAIN_STATE_FILE)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    link_tmp = run_dir / f".{LATEST_LINK}.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    link_tmp.symlink_to(final.name)
    os.replace(link_tmp, run_dir / LATEST_LINK)
    if keep > 0:
        for old in step_dirs(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    log.info("saved checkpoint %s", final)
    return final


def load_config_dict(checkpoint: str | Path) -> dict[str, Any]:
    """The run config (plain dict) stored with a checkpoint."""
    path = _require(resolve_checkpoint_dir(checkpoint) / CONFIG_FILE)
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "policy" not in data:
        raise ValueError(f"{path} has no 'policy' section; not a dp_core checkpoint config")
    return data


def _spec_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    return [
        f"{key}: checkpoint was trained with {saved.get(key)!r}, config says {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    ]


def load_policy_weights(model: nn.Module, checkpoint: str | Path, strict: bool = True) -> None:
    """Load ``model.safetensors`` into ``model``; mismatches raise a ValueError listing them."""
    ckpt_dir = resolve_checkpoint_dir(checkpoint)
    state = load_file(str(_require(ckpt_dir / WEIGHTS_FILE)), device="cpu")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    # A fresh Normalizer has no per-key buffers yet; it creates them while loading.
    unexpected = sorted(k for k in set(state) - set(expected) if not k.startswith("normalizer."))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if shapes or (strict and (missing or unexpected)):
        problems = []
        spec = getattr(model, "spec", None)
        if spec is not None and (ckpt_dir / CONFIG_FILE).is_file():
            saved_spec = load_config_dict(ckpt_dir)["policy"].get("spec", {})
            problems += _spec_differences(saved_spec, spec.to_dict())
        if shapes:
            problems.append(f"{len(shapes)} shape mismatches: " + "; ".join(shapes[:10]))
        if strict and missing:
            problems.append(f"{len(missing)} keys missing from the checkpoint: {missing[:10]}")
        if strict and unexpected:
            problems.append(f"{len(unexpected)} unexpected keys in the checkpoint: {unexpected[:10]}")
        raise ValueError(
            f"checkpoint {ckpt_dir} does not fit this policy config:\n  - "
            + "\n  - ".join(problems)
            + "\nUse the config stored with the checkpoint (Policy.from_checkpoint does) or retrain."
        )
    model.load_state_dict(state, strict=strict)
    normalizer, spec = getattr(model, "normalizer", None), getattr(model, "spec", None)
    if normalizer is not None and spec is not None:
        missing_stats = [k for k in (*(o.name for o in spec.obs), "action") if k not in normalizer]
        if missing_stats:
            raise ValueError(
                f"checkpoint {ckpt_dir} has no normalizer statistics for {missing_stats}; "
                "it was not saved by dp-train for this policy spec"
            )


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states in a form ``torch.load(weights_only=True)`` accepts."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # the tuple form
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (name, torch.from_numpy(np.asarray(keys).astype(np.int64)), int(pos), int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    random.setstate(_to_tuple(state["python"]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def load_train_state(checkpoint: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The training state saved for ``--resume``."""
    path = _require(resolve_checkpoint_dir(checkpoint) / TRAIN_STATE_FILE)
    return torch.load(path, map_location=map_location, weights_only=True)
