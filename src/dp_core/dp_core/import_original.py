"""``dp-import-original CKPT OUT_DIR [--no-ema] [--num-inference-steps N]``.

Reads a checkpoint written by the original Diffusion Policy code and writes a dp_core checkpoint
(``OUT_DIR/step_<global_step>/{model.safetensors, config.yaml, imported_from.json}`` and
``OUT_DIR/latest``) that ``Policy.from_checkpoint``, ``policy_node`` and ``dp-eval`` load like any
other. What maps is listed in :mod:`dp_core.policy.original_checkpoint`.

The original writes ``torch.save(payload, pickle_module=dill)`` with an OmegaConf config inside,
so reading it unpickles, which can run arbitrary code from the file. This command is the only
place in the project that does that, after printing a warning; its output is safetensors + YAML.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dp_core.policy.original_checkpoint import UnsupportedOriginalCheckpoint, import_original
from dp_core.training.checkpoint import save_checkpoint_dir

WARNING = (
    "dp-import-original: WARNING: reading {path} unpickles it, which can run arbitrary code "
    "from the file. Only import checkpoints from a source you trust."
)


def load_original_payload(path: str | Path) -> dict[str, Any]:
    """Unpickle an original checkpoint; cfg -> plain containers, pickles -> their values."""
    try:
        import dill
        from omegaconf import DictConfig, OmegaConf
    except ImportError as error:
        raise RuntimeError(
            f"dp-import-original needs omegaconf and dill ({error}); pip install -r requirements/python.txt"
        ) from error
    with open(path, "rb") as handle:
        payload = torch.load(handle, map_location="cpu", weights_only=False, pickle_module=dill)
    if not isinstance(payload, Mapping) or "cfg" not in payload or "state_dicts" not in payload:
        raise UnsupportedOriginalCheckpoint(
            f"{path} is not an original Diffusion Policy checkpoint (expected a dict with 'cfg' and 'state_dicts')"
        )
    result = dict(payload)
    cfg = payload["cfg"]
    if isinstance(cfg, DictConfig):
        try:
            cfg = OmegaConf.to_container(cfg, resolve=True)
        except Exception:
            cfg = OmegaConf.to_container(cfg, resolve=False)
    result["cfg"] = cfg
    pickles = {}
    for key, value in dict(payload.get("pickles") or {}).items():
        pickles[key] = dill.loads(value) if isinstance(value, (bytes, bytearray)) else value
    result["pickles"] = pickles
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dp-import-original", description=__doc__.split("\n\n")[1])
    parser.add_argument("checkpoint", help="original checkpoint (.ckpt written by the original workspace)")
    parser.add_argument("out_dir", help="dp_core run directory to write (step_<N>/ and latest)")
    parser.add_argument("--no-ema", action="store_true", help="use the online weights instead of the EMA weights")
    parser.add_argument(
        "--num-inference-steps",
        type=int,
        default=None,
        help="store DDIM with N steps as the sampler (default: the original's sampler)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path = Path(args.checkpoint)
    if not path.is_file():
        print(f"dp-import-original: {path} does not exist", file=sys.stderr)
        return 2
    print(WARNING.format(path=path), file=sys.stderr)
    try:
        payload = load_original_payload(path)
        imported = import_original(payload, use_ema=not args.no_ema, num_inference_steps=args.num_inference_steps)
    except (UnsupportedOriginalCheckpoint, RuntimeError, ValueError) as error:
        print(f"dp-import-original: cannot import {path}: {error}", file=sys.stderr)
        return 2
    step_dir = save_checkpoint_dir(
        Path(args.out_dir), imported.global_step, imported.model.state_dict(), imported.config_tree
    )
    provenance = {
        "source": str(path.resolve()),
        "weights": imported.weights,
        "global_step": imported.global_step,
        "policy": payload["cfg"]["policy"]["_target_"],
    }
    (step_dir / "imported_from.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(json.dumps({"checkpoint": str(step_dir), **provenance}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
