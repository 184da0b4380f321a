"""``python -m dp_demo [--episodes N] [--eval-episodes M] [--seed S] [--checkpoint PATH] [--images]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dp_demo.settings import DemoSettings


def parse_args(argv: list[str] | None) -> DemoSettings:
    d = DemoSettings()
    parser = argparse.ArgumentParser(
        prog="python -m dp_demo",
        description=(
            "Record expert demos in the MuJoCo sim over ROS 2, convert, train, deploy through the policy "
            "nodes, evaluate on held-out seeds. Ends with one JSON line."
        ),
    )
    parser.add_argument(
        "--episodes", type=int, default=d.episodes, help=f"expert episodes to record (default {d.episodes})"
    )
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=d.eval_episodes,
        help=f"policy episodes on held-out seeds (default {d.eval_episodes})",
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="seeds episodes, training and sampling (default 0)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=os.environ.get("CHECKPOINT") or None,
        help="skip recording and training; evaluate this dp-train run/step directory (default: $CHECKPOINT)",
    )
    parser.add_argument("--images", action="store_true", help="train on the top camera (recommended with a GPU)")
    parser.add_argument(
        "--timeout", type=float, default=d.episode_timeout_s, help="episode timeout, sim s (default 20)"
    )
    parser.add_argument("--output-dir", type=Path, default=d.output_dir, help="default outputs/demo")
    parser.add_argument(
        "--train",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="dp-train override, repeatable (e.g. --train train.max_steps=50)",
    )
    a = parser.parse_args(argv)
    return DemoSettings(
        episodes=a.episodes,
        eval_episodes=a.eval_episodes,
        seed=a.seed,
        episode_timeout_s=a.timeout,
        train_overrides=a.train,
        images=a.images,
        checkpoint=a.checkpoint,
        output_dir=a.output_dir,
    )


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_args(argv)
    except ValueError as err:
        print(f"dp_demo: {err}", file=sys.stderr)
        return 2
    from dp_demo.pipeline import run  # imports rclpy/matplotlib only when actually running

    try:
        summary = run(settings)
    except (RuntimeError, TimeoutError, FileNotFoundError) as err:
        print(f"dp_demo: failed: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
