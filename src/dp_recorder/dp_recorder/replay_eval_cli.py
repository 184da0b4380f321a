"""``dp-replay-eval BAGS... --checkpoint CKPT --config CONVERT.yaml``: a policy on recorded episodes.

Each bag is read on the converter's timeline (the config the dataset was converted with); at every
``--stride`` rows the policy predicts ``--samples`` chunks from the window the observation node
would have built, and each chunk is compared with the recorded actions (per dimension over the
horizon, the executed part separately). Writes ``--out``/summary.{json,png} and per episode
episodes/<name>.{json,npz,png}. Exit status: 0 all bags evaluated, 1 some bag failed (named on
stderr and in summary.json), 2 the checkpoint and the config or arguments do not fit.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from dp_core.evaluation.replay_eval import (
    EpisodeEvaluation,
    ReplayConfig,
    episode_metrics,
    evaluate_episode,
    evaluated_rows,
    summary_metrics,
)
from dp_core.evaluation.replay_report import write_episode, write_summary
from dp_core.policy.inference import Policy
from dp_core.timing.observation_window import ObservationWindowData
from dp_core.training.checkpoint import load_config_dict, resolve_checkpoint_dir
from dp_recorder.bag_reader import resolve_bag_paths
from dp_recorder.convert_config import load_config
from dp_recorder.replay_episode import KeyMap, check_config, load_replay_episode

LOG = logging.getLogger(__name__)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dp-replay-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("bags", nargs="+", type=Path, help="bag directories, .mcap/.db3 files, or folders of bags")
    parser.add_argument("--checkpoint", required=True, type=Path, help="dp_core checkpoint (step or run directory)")
    parser.add_argument("--config", required=True, type=Path, help="the dp-convert YAML the dataset was made with")
    parser.add_argument("--out", type=Path, default=Path("outputs/replay_eval"), help="report directory")
    parser.add_argument("--samples", type=int, default=4, help="chunks per window, each with its own noise (K)")
    parser.add_argument("--stride", type=int, default=None, help="rows between windows (default: n_action_steps)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the sampling noise")
    parser.add_argument(
        "--max-age-s",
        type=float,
        default=0.25,
        help="skip rows where an observation stream's newest sample is older (the observation node's max_age_s)",
    )
    parser.add_argument("--num-inference-steps", default=None, help="DDIM steps or 'ddpm' (default: checkpoint's)")
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, auto)")
    parser.add_argument("--recover", action="store_true", help="salvage unfinished/truncated MCAP bags")
    parser.add_argument("--allow-slow-topics", action="store_true", help="evaluate bags with topics below the rate")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name}_{n}"
    taken.add(out)
    return out


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.monotonic()
    try:
        replay = ReplayConfig(samples=args.samples, stride=args.stride, seed=args.seed, max_age_s=args.max_age_s)
        steps = args.num_inference_steps
        policy = Policy.from_checkpoint(
            args.checkpoint,
            device=args.device,
            num_inference_steps=int(steps) if steps not in (None, "ddpm") else steps,
        )
        spec = policy.spec
        keys = KeyMap.from_run_config(load_config_dict(resolve_checkpoint_dir(args.checkpoint)), spec)
        config = check_config(load_config(args.config), spec, keys)
        bags = resolve_bag_paths(args.bags)
    except (ValueError, FileNotFoundError) as err:
        print(f"dp-replay-eval: {err}", file=sys.stderr)
        return 2

    def predict(window: ObservationWindowData, seed: int) -> np.ndarray:
        return policy.predict(window, seed=seed).actions

    bar = tqdm(total=0, unit="window", disable=args.quiet, desc="replay-eval")
    evaluations: list[EpisodeEvaluation] = []
    per_episode: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    taken: set[str] = set()
    stride = replay.stride or spec.n_action_steps
    for bag in bags:
        bar.set_postfix_str(bag.name)
        try:
            episode = load_replay_episode(bag, config, spec, keys, args.recover, args.allow_slow_topics)
            episode = replace(episode, name=_unique(episode.name, taken))
            count = len(evaluated_rows(episode, spec, replay)[0])
            if count == 0:
                raise ValueError(
                    f"{episode.length} rows: no window of {spec.n_obs_steps} frames with fresh streams "
                    f"(max_age_s {args.max_age_s:g})"
                )
            bar.total += count
            bar.refresh()
            evaluation = evaluate_episode(episode, spec, predict, replay, progress=bar.update)
        except Exception as err:  # a bad bag is reported by name; the others are still evaluated
            LOG.debug("bag %s failed", bag, exc_info=True)
            failed[str(bag)] = f"{type(err).__name__}: {err}"
            print(f"dp-replay-eval: FAILED {bag}: {failed[str(bag)]}", file=sys.stderr)
            continue
        metrics = episode_metrics(evaluation, spec)
        write_episode(evaluation, metrics, spec, args.out)
        # the summary needs only the chunks and the recorded actions: drop the frames (memory)
        evaluations.append(replace(evaluation, episode=replace(evaluation.episode, images={}, low_dim={})))
        per_episode.append(metrics)
    bar.close()
    extra = {
        "checkpoint": str(args.checkpoint),
        "policy_id": policy.policy_id,
        "config": str(args.config),
        "samples": args.samples,
        "stride": stride,
        "seed": args.seed,
        "max_age_s": args.max_age_s,
        "failed": failed,
        "seconds": round(time.monotonic() - started, 2),
    }
    if not evaluations:
        print("dp-replay-eval: no bag could be evaluated", file=sys.stderr)
        return 1
    summary = summary_metrics(evaluations, spec)
    path = write_summary(summary, per_episode, spec, args.out, extra)
    mae = ", ".join(f"{n} {v:.4g}" for n, v in zip(spec.action_names, summary["executed_mae"], strict=True))
    print(f"{len(evaluations)} episode(s), {summary['windows']} windows x {args.samples} samples; executed MAE {mae}")
    print(f"report: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
