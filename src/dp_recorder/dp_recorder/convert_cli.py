"""``dp-convert BAGS... --config CONF.yaml --out DATASET.zarr``: episode bags → training set.

``--format lerobot --out DIR`` writes the same episodes as a LeRobot v3.0 dataset instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dp_recorder.bag_reader import resolve_bag_paths
from dp_recorder.convert import BagOutcome, LeRobotOptions, convert_bags
from dp_recorder.convert_config import load_config


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dp-convert", description=__doc__)
    parser.add_argument("bags", nargs="+", type=Path, help="bag directories, .mcap/.db3 files, or folders of bags")
    parser.add_argument("--config", required=True, type=Path, help="converter YAML (topics -> keys, action, rate)")
    parser.add_argument(
        "--out", required=True, type=Path, help="output ReplayBuffer directory (*.zarr) or LeRobot dataset directory"
    )
    parser.add_argument(
        "--format", choices=("zarr", "lerobot"), default="zarr", help="zarr ReplayBuffer or LeRobot v3.0 dataset"
    )
    parser.add_argument("--task", default="", help="lerobot: task text for episodes whose metadata has none")
    parser.add_argument("--robot-type", default="", help="lerobot: info.json robot_type (e.g. fr3)")
    parser.add_argument(
        "--vcodec", default="libsvtav1", choices=("libsvtav1", "h264", "hevc"), help="lerobot: camera video codec"
    )
    parser.add_argument("--append", action="store_true", help="add episodes to an existing dataset")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="parallel bag conversions")
    parser.add_argument(
        "--recover", action="store_true", help="salvage unfinished/truncated MCAP bags instead of skipping"
    )
    parser.add_argument("--success-only", action="store_true", help="keep only episodes marked successful")
    parser.add_argument("--min-length", type=int, help="skip episodes shorter than this many steps")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        overrides: dict[str, Any] = {}
        if args.success_only:
            overrides["success_only"] = True
        if args.min_length is not None:
            overrides["min_length"] = args.min_length
        if overrides:
            config = replace(config, **overrides)
        bags = resolve_bag_paths(args.bags)
    except (ValueError, FileNotFoundError) as err:
        print(f"dp-convert: {err}", file=sys.stderr)
        return 2
    lerobot = (
        LeRobotOptions(task=args.task, robot_type=args.robot_type, vcodec=args.vcodec)
        if args.format == "lerobot"
        else None
    )
    bar = tqdm(total=len(bags), unit="bag", disable=args.quiet, desc="converting")

    def progress(outcome: BagOutcome) -> None:
        bar.update(1)
        bar.set_postfix_str(Path(outcome.bag).name)

    try:
        summary = convert_bags(
            bags,
            config,
            args.out,
            append=args.append,
            workers=args.workers,
            recover=args.recover,
            progress=progress,
            lerobot=lerobot,
        )
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        bar.close()
        print(f"dp-convert: {err}", file=sys.stderr)
        return 2
    bar.close()
    print("\n".join(summary.lines()))
    return 1 if not summary.converted else 0


if __name__ == "__main__":
    sys.exit(main())
