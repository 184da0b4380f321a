"""``dp-train CONFIG.yaml [key=value ...] [--resume [DIR]]``: train a diffusion policy.

Works unchanged under ``torchrun --nproc_per_node=N`` (DistributedDataParallel, rank 0 writes).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from dp_core.training.config import load_config
from dp_core.training.trainer import Trainer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dp-train",
        description="Train a diffusion policy from a YAML config. Relative paths in the YAML resolve "
        "against the YAML file's directory; relative paths in overrides against the CWD.",
    )
    parser.add_argument("config", help="run config YAML (e.g. config/train/pusht_lowdim.yaml)")
    parser.add_argument(
        "overrides", nargs="*", help="flat overrides, e.g. train.batch_size=64 policy.num_inference_steps=8"
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="continue from a checkpoint (step dir or run dir; default: train.output_dir)",
    )
    parser.add_argument("--log-level", default="INFO", help="python logging level (default INFO)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config, args.overrides)
    except (ValueError, FileNotFoundError) as exc:
        print(f"dp-train: bad config: {exc}", file=sys.stderr)
        return 2
    resume = None
    if args.resume is not None:
        resume = args.resume or config.train.output_dir
    trainer = Trainer(config, resume=resume)
    try:
        metrics = trainer.fit()
    finally:
        trainer.close()
    if trainer.is_main:
        print(json.dumps({"step": trainer.step, "output_dir": str(config.train.output_dir), **metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
