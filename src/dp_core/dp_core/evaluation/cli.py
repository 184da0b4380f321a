"""``dp-eval pusht CHECKPOINT [--seeds 50] [--out DIR]``: the paper's Push-T test on gym-pusht 0.1.8.

Evaluates any dp_core checkpoint (ours, or one written by ``dp-import-original``) whose keys
Push-T can provide (see :mod:`dp_core.evaluation.pusht_env`), with the original runner's rules
(:mod:`dp_core.evaluation.rollout`): seeds 100000.., 300 steps at most, score = mean over seeds
of each episode's max reward. Writes ``DIR/results.json`` (summary + one record per seed),
``DIR/scores.png`` and ``DIR/episodes.gif`` (the first ``--vis-episodes`` episodes).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from dp_core.evaluation.pusht_env import TEST_START_SEED, PushTObserver, make_env
from dp_core.evaluation.report import write_animation, write_plot
from dp_core.evaluation.rollout import run_episode
from dp_core.policy.inference import Policy


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dp-eval", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="task", required=True)
    pusht = sub.add_parser("pusht", help="Push-T (gym-pusht 0.1.8), keypoint or image observations")
    pusht.add_argument("checkpoint", help="dp_core checkpoint (step dir or run dir)")
    pusht.add_argument("--seeds", type=int, default=50, help="test episodes (default 50, the paper's)")
    pusht.add_argument("--start-seed", type=int, default=TEST_START_SEED, help="first seed (default 100000)")
    pusht.add_argument("--max-steps", type=int, default=300, help="steps per episode at 10 Hz (default 300)")
    pusht.add_argument(
        "--num-inference-steps", default=None, help="DDIM steps, or 'ddpm' (default: the checkpoint's sampler)"
    )
    pusht.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "int8", "auto"])
    pusht.add_argument("--device", default="cpu")
    pusht.add_argument("--vis-episodes", type=int, default=2, help="episodes in the animation (0: none)")
    pusht.add_argument("--out", default=None, help="output directory (default: <checkpoint>/eval_pusht)")
    return parser


def _steps(value: str | None) -> int | Literal['ddpm'] | None:
    if value is None:
        return None
    if value == "ddpm":
        return "ddpm"
    return int(value)


def evaluate_pusht(args: argparse.Namespace) -> dict:
    policy = Policy.from_checkpoint(
        args.checkpoint,
        device=args.device,
        precision=args.precision,
        num_inference_steps=_steps(args.num_inference_steps),
    )
    observer = PushTObserver.for_spec(policy.spec)
    env = make_env(observer)
    out = Path(args.out) if args.out else Path(args.checkpoint) / "eval_pusht"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records, videos = [], []
    seeds = range(args.start_seed, args.start_seed + args.seeds)
    progress = tqdm(seeds, desc="pusht", unit="episode", dynamic_ncols=True)
    for index, seed in enumerate(progress):
        frames: list[np.ndarray] | None = [] if index < args.vis_episodes else None
        result = run_episode(policy, env, observer, seed, max_steps=args.max_steps, frames=frames)
        records.append(result.record())
        if frames is not None:
            videos.append(frames)
        progress.set_postfix(score=f"{np.mean([r['max_reward'] for r in records]):.3f}")
    env.close()
    summary = {
        "task": "pusht",
        "checkpoint": str(Path(args.checkpoint).resolve()),
        "policy_id": policy.policy_id,
        "score": round(float(np.mean([r["max_reward"] for r in records])), 4),
        "success_rate": round(float(np.mean([r["success"] for r in records])), 4),
        "n_seeds": len(records),
        "start_seed": args.start_seed,
        "max_steps": args.max_steps,
        "num_inference_steps": policy.model.num_inference_steps or "ddpm",
        "precision": policy.precision,
        "observation": "image" if observer.image_key else "keypoints",
        "wall_s": round(time.perf_counter() - started, 1),
    }
    (out / "results.json").write_text(json.dumps({"summary": summary, "episodes": records}, indent=1) + "\n")
    write_plot(records, summary, out / "scores.png")
    if videos:
        write_animation(videos, out / "episodes.gif")
    return {**summary, "output_dir": str(out)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.seeds < 1 or args.max_steps < 1:
        print("dp-eval: --seeds and --max-steps must be >= 1", file=sys.stderr)
        return 2
    try:
        summary = evaluate_pusht(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"dp-eval: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
