"""The demo policy's recipe in the pure sim (no ROS): expert dataset, closed-loop evaluation.

Two jobs, each ending with one JSON line (like the other benchmarks):

``--make-dataset OUT --episodes N``
    Runs the scripted expert on seeds ``--seed-base + i`` (default 100000 + i, the demo's
    recording seeds) in :class:`dp_sim.env.PushTSim` and writes the successful episodes to a
    zarr ReplayBuffer in the layout ``dp-convert`` writes with ``config/demo/convert_lowdim.yaml``:
    ``data/state (T, 6) float32``, ``data/action (T, 2) float32`` (the expert's pusher target),
    ``data/timestamp (T,) float64`` (sim seconds), ``meta/episode_ends``.

``--evaluate CHECKPOINT_DIR --episodes M``
    Loads the checkpoint with :class:`dp_core.policy.inference.Policy` and runs held-out seeds
    ``--seed-base + i`` (default 900000 + i). Chunks are executed like the ROS deployment does:
    the policy node stamps a chunk so that action ``n_obs_steps - 1`` is at the newest
    observation's time (``start = stamp - aligned_index * dt``) and the chunk executor evaluates
    the plan at "now", so the actions executed after an inference at time t are
    ``actions[aligned_index + k]`` at ``t + k * dt``. One inference every ``--replan-steps``
    steps (default the checkpoint's ``n_action_steps``; the deployment's ``min_replan_period_s``
    is ~n_action_steps x dt); the sim advances ``dt`` (0.1 s) per action.

Example::

    OMP_NUM_THREADS=2 python benchmarks/demo_policy_recipe.py --make-dataset /tmp/recipe/ds.zarr --episodes 100
    OMP_NUM_THREADS=2 python -m dp_core.training.cli config/train/sim_pusht_lowdim.yaml \\
        data.path=/tmp/recipe/ds.zarr train.output_dir=/tmp/recipe/run
    OMP_NUM_THREADS=2 python benchmarks/demo_policy_recipe.py --evaluate /tmp/recipe/run --episodes 30
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp_core.time_units import NS_PER_S
from dp_sim.env import PushTSim
from dp_sim.rollout import low_dim_observation, run_expert_episode

RECORD_SEED_BASE = 100000  # the demo's recording seeds
EVAL_SEED_BASE = 900000  # held-out seeds, never recorded
EPISODE_TIMEOUT_S = 20.0  # sim seconds per evaluation episode (the demo's episode_timeout_s)
EXPERT_TIMEOUT_S = 30.0  # sim seconds per expert episode (rollout.run_expert_episode default)


# ---------------------------------------------------------------------------------- dataset
def expert_episode_arrays(sim: PushTSim, seed: int) -> tuple[dict[str, np.ndarray] | None, dict[str, float]]:
    """One scripted-expert episode as ReplayBuffer arrays (None if it failed) plus its summary."""
    result = run_expert_episode(sim, seed, EXPERT_TIMEOUT_S)
    summary = {"seed": seed, "success": bool(result.success), "sim_time_s": result.sim_time_s, "side": result.side}
    if not result.success or len(result.observations) == 0:
        return None, summary
    steps = len(result.observations)
    start_s = sim.episode_start_ns / NS_PER_S
    data = {
        "state": result.observations.astype(np.float32),
        "action": result.actions.astype(np.float32),
        "timestamp": start_s + 0.1 * np.arange(steps, dtype=np.float64),  # expert decision_dt_s = 0.1 s
    }
    return data, summary


def make_dataset(out: Path, episodes: int, seed_base: int = RECORD_SEED_BASE) -> dict[str, object]:
    """Record ``episodes`` expert episodes in the pure sim into a new ReplayBuffer at ``out``.

    Failed episodes are skipped (the demo's converter keeps only successful ones), so the store
    may hold fewer than ``episodes`` episodes.
    """
    from dp_core.data.replay_buffer import ReplayBuffer

    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sim = PushTSim()
    buffer = ReplayBuffer.create(out)
    kept, sides = 0, []
    for i in range(episodes):
        data, summary = expert_episode_arrays(sim, seed_base + i)
        if data is not None:
            buffer.add_episode(data)
            kept += 1
            sides.append(summary["side"])
    steps = buffer.n_steps
    buffer.close()
    return {
        "mode": "make_dataset",
        "output": str(out),
        "episodes_run": episodes,
        "episodes_kept": kept,
        "steps": int(steps),
        "left_fraction": float(np.mean(np.array(sides) > 0)) if sides else 0.0,
        "seconds": round(time.perf_counter() - start, 2),
    }


# ------------------------------------------------------------------------------- evaluation
@dataclass
class RolloutOutcome:
    """One closed-loop policy episode."""

    seed: int
    success: bool
    sim_time_s: float
    coverage: float
    inference_ms: list[float]


def policy_episode(sim: PushTSim, policy: object, seed: int, replan_steps: int, sample_seed: int) -> RolloutOutcome:
    """Run the policy on one seed, executing chunks like the ROS chunk executor (module doc).

    The observation window holds the last ``n_obs_steps`` observations at 10 Hz (the first one
    repeated at the start, like a window over a resting scene). The executed action after an
    inference is ``actions[aligned_index + k]`` for k = 0 .. replan_steps - 1, each held 0.1 s.
    """
    spec = policy.spec  # type: ignore[attr-defined]
    dt_s = float(spec.dt_s)
    substeps = max(1, int(round(dt_s / sim.dt_s)))
    lo, hi = sim.config.workspace_min, sim.config.workspace_max
    sim.reset(seed)
    window: deque[np.ndarray] = deque(maxlen=spec.n_obs_steps)
    plan, k, chunk_index, times = None, 0, 0, []
    while sim.episode_time_s < EPISODE_TIMEOUT_S - 1e-9 and not sim.success:
        obs = low_dim_observation(sim.ee_position()[:2], sim.block_pose())
        window.append(obs)
        while len(window) < spec.n_obs_steps:
            window.appendleft(window[0])
        if plan is None or k >= replan_steps:
            plan = policy.predict({"state": np.stack(window)}, seed=sample_seed + chunk_index)  # type: ignore[attr-defined]
            times.append(float(plan.inference_ms))
            chunk_index += 1
            k = 0
        index = min(plan.aligned_index + k, plan.actions.shape[0] - 1)  # past the horizon: hold the last
        target = np.clip(plan.actions[index].astype(float), lo, hi)
        with contextlib.suppress(ValueError):  # unreachable: the sim holds the previous one (as the sim node does)
            sim.set_pusher_target(target)
        sim.step(substeps)
        k += 1
    return RolloutOutcome(seed, bool(sim.success), sim.episode_time_s, float(sim.coverage()), times)


def evaluate(
    checkpoint: Path,
    episodes: int,
    seed_base: int = EVAL_SEED_BASE,
    replan_steps: int | None = None,
    num_inference_steps: int | None = None,
    precision: str = "fp32",
    verbose: bool = True,
) -> dict[str, object]:
    """Closed-loop success of a checkpoint on ``episodes`` held-out seeds in the pure sim."""
    from dp_core.policy.inference import Policy

    policy = Policy.from_checkpoint(
        checkpoint, device="cpu", num_inference_steps=num_inference_steps, precision=precision
    )  # type: ignore[arg-type]
    policy.warmup()
    spec = policy.spec
    replan = int(replan_steps or spec.n_action_steps)
    sim = PushTSim()
    start = time.perf_counter()
    outcomes = []
    for i in range(episodes):
        seed = seed_base + i
        outcome = policy_episode(sim, policy, seed, replan, sample_seed=1000 * seed)
        outcomes.append(outcome)
        if verbose:
            print(
                f"seed {seed}: {'success' if outcome.success else 'timeout'} in {outcome.sim_time_s:.1f} s "
                f"(coverage {outcome.coverage:.2f}); {sum(o.success for o in outcomes)}/{len(outcomes)}",
                file=sys.stderr,
                flush=True,
            )
    successes = [o for o in outcomes if o.success]
    all_ms = [t for o in outcomes for t in o.inference_ms]
    return {
        "mode": "evaluate",
        "checkpoint": str(checkpoint),
        "policy_id": policy.policy_id,
        "precision": policy.precision,
        "episodes": episodes,
        "successes": len(successes),
        "success_rate": round(len(successes) / max(episodes, 1), 4),
        "mean_episode_s": round(float(np.mean([o.sim_time_s for o in outcomes])), 2),
        "mean_success_episode_s": round(float(np.mean([o.sim_time_s for o in successes])), 2) if successes else None,
        "mean_coverage": round(float(np.mean([o.coverage for o in outcomes])), 3),
        "failed_seeds": [o.seed for o in outcomes if not o.success],
        "inference_ms_median": round(float(np.median(all_ms)), 2) if all_ms else None,
        "inference_ms_p95": round(float(np.percentile(all_ms, 95)), 2) if all_ms else None,
        "n_obs_steps": spec.n_obs_steps,
        "horizon": spec.horizon,
        "replan_steps": replan,
        "seconds": round(time.perf_counter() - start, 2),
    }


# ------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """Command-line interface (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--make-dataset", type=Path, metavar="OUT", help="write an expert ReplayBuffer (zarr) here")
    mode.add_argument("--evaluate", type=Path, metavar="CHECKPOINT_DIR", help="run directory or step_N directory")
    parser.add_argument("--episodes", type=int, required=True, help="episodes to record / evaluate")
    parser.add_argument(
        "--seed-base",
        type=int,
        default=None,
        help=f"first seed (default {RECORD_SEED_BASE} to record, {EVAL_SEED_BASE} to evaluate)",
    )
    parser.add_argument(
        "--replan-steps",
        type=int,
        default=None,
        help="actions executed per chunk before the next inference (default n_action_steps)",
    )
    parser.add_argument("--num-inference-steps", type=int, default=None, help="DDIM steps (default: the checkpoint's)")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=("auto", "fp32", "bf16", "int8"),
        help="denoiser precision (default fp32, like the policy node)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-episode lines on stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the chosen job and print its JSON summary as the last line."""
    args = build_parser().parse_args(argv)
    if args.episodes < 1:
        raise SystemExit("--episodes must be >= 1")
    if args.make_dataset is not None:
        result = make_dataset(args.make_dataset, args.episodes, args.seed_base or RECORD_SEED_BASE)
    else:
        result = evaluate(
            args.evaluate,
            args.episodes,
            args.seed_base or EVAL_SEED_BASE,
            args.replan_steps,
            args.num_inference_steps,
            args.precision,
            verbose=not args.quiet,
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
