"""The demo's steps, top to bottom: record → convert → train → evaluate → render → JSON line.

Each step is a real component: ROS nodes over DDS on sim time (composed in one lockstep process,
so a run depends only on its seed), ``dp-convert``, ``dp-train``, the policy nodes. Progress goes
to stderr; stdout ends with one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dp_demo.episodes import RecordingResult, record_expert
from dp_demo.evaluate import EvaluationResult, evaluate_policy
from dp_demo.isolation import claim_domain, ros_environment
from dp_demo.render import animate, plot_trajectories
from dp_demo.settings import DemoSettings

RECORDING_SUMMARY = "recording.json"
EVALUATION_DETAILS = "evaluation.json"  # per held-out seed: success, coverage, sim time (lockstep: reproducible)


class Progress:
    """Step headers and per-item lines on stderr, with elapsed wall time."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def step(self, text: str) -> None:
        print(f"\n[{self.elapsed():6.0f} s] == {text}", file=sys.stderr, flush=True)

    def item(self, i: int, n: int, text: str) -> None:
        print(f"[{self.elapsed():6.0f} s]   {i}/{n} {text}", file=sys.stderr, flush=True)


def run_tool(args: list[str], log_path: Path, what: str) -> str:
    """Run a CLI (its progress bar on our stderr, its stdout to the log); return stdout."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, *args], stdout=subprocess.PIPE, text=True, check=False)
    log_path.write_text(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); output in {log_path}:\n{proc.stdout[-2000:]}")
    return proc.stdout


def record(settings: DemoSettings, progress: Progress) -> RecordingResult:
    progress.step(f"1/5 recording {settings.episodes} expert episodes (sim in lockstep with the nodes)")
    for stale in (settings.bags_dir, settings.dataset, settings.train_dir):
        shutil.rmtree(stale, ignore_errors=True)
    result = record_expert(settings, progress.item)
    if not result.bags:
        raise RuntimeError("the expert succeeded in no episode; nothing to train on (see logs/record/)")
    summary = {"expert_success": result.success_rate, "recorded": len(result.outcomes), "kept": len(result.bags)}
    (settings.output_dir / RECORDING_SUMMARY).write_text(json.dumps(summary))
    return result


def convert(settings: DemoSettings, progress: Progress) -> None:
    progress.step(f"2/5 dp-convert {settings.bags_dir} -> {settings.dataset}")
    out = run_tool(
        [
            "-m",
            "dp_recorder.convert_cli",
            str(settings.bags_dir),
            "--config",
            str(settings.convert_config),
            "--out",
            str(settings.dataset),
        ],
        settings.log_dir / "convert.log",
        "dp-convert",
    )
    print(out.strip(), file=sys.stderr)


def train(settings: DemoSettings, progress: Progress) -> Path:
    progress.step(f"3/5 dp-train {settings.train_config.relative_to(settings.train_config.parents[2])}")
    args = [
        "-m",
        "dp_core.training.cli",
        str(settings.train_config),
        f"data.path={settings.dataset}",
        f"train.output_dir={settings.train_dir}",
        f"train.seed={settings.seed}",
        f"data.seed={settings.seed}",
        *settings.train_overrides,
        "--log-level",
        "WARNING",
    ]
    out = run_tool(args, settings.log_dir / "train.log", "dp-train")
    print(out.strip().splitlines()[-1] if out.strip() else "", file=sys.stderr)
    return settings.train_dir


def evaluate(settings: DemoSettings, checkpoint: Path, progress: Progress) -> EvaluationResult:
    progress.step(
        f"4/5 evaluating {checkpoint} on {settings.eval_episodes} held-out seeds through "
        "observation -> policy -> executor nodes (sim in lockstep with the nodes)"
    )
    return evaluate_policy(settings, checkpoint, progress.item)


def render(settings: DemoSettings, result: EvaluationResult, progress: Progress) -> tuple[Path, Path]:
    progress.step("5/5 writing the animation and the plot")
    successes = [o.success for o in result.outcomes]
    shown = successes.index(True) if any(successes) else 0
    gif = animate(result.trajectories[shown], successes[shown], settings.output_dir / "rollout.gif")
    title = f"policy on {len(successes)} held-out seeds: {sum(successes)} successes"
    png = plot_trajectories(result.trajectories, successes, settings.output_dir / "evaluation.png", title)
    return gif, png


def run(settings: DemoSettings) -> dict[str, object]:
    """All steps; returns the summary printed as the JSON line."""
    progress = Progress()
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    env = ros_environment(claim_domain(), settings.log_dir)  # sets os.environ for this process's DDS
    progress.step(
        f"dp_ros2 demo ({settings.mode}, seed {settings.seed}) -> {settings.output_dir}, "
        f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}"
    )
    recorded = kept = record_reflexes = None
    expert_success: float | None = None
    if settings.checkpoint is None:
        recording = record(settings, progress)
        record_reflexes = recording.reflexes
        expert_success, recorded, kept = recording.success_rate, len(recording.outcomes), len(recording.bags)
        convert(settings, progress)
        checkpoint = train(settings, progress)
    else:
        checkpoint = settings.checkpoint
        previous = settings.output_dir / RECORDING_SUMMARY
        saved = json.loads(previous.read_text()) if previous.is_file() else {}
        expert_success = saved.get("expert_success")
        recorded, kept = saved.get("recorded"), saved.get("kept")
        progress.step(
            f"using checkpoint {checkpoint}; expert success from {previous if saved else 'nowhere (not recorded)'}"
        )
    result = evaluate(settings, checkpoint, progress)
    details = [
        {"seed": o.seed, "success": o.success, "coverage": o.coverage, "sim_s": o.duration_s} for o in result.outcomes
    ]
    (settings.output_dir / EVALUATION_DETAILS).write_text(json.dumps(details, indent=1))
    gif, png = render(settings, result, progress)
    summary: dict[str, object] = {
        "expert_success": expert_success,
        "policy_success": result.success_rate,
        "episodes": {"recorded": recorded, "kept": kept, "evaluated": len(result.outcomes)},
        "reflexes": {"recording": record_reflexes, "evaluation": result.reflexes},
        "animation": str(gif),
        "plot": str(png),
        "seconds": round(progress.elapsed(), 1),
        "checkpoint": str(checkpoint),
        "seed": settings.seed,
    }
    expert = "n/a" if expert_success is None else f"{expert_success:.0%}"
    print(
        f"\nexpert success {expert} | policy success {result.success_rate:.0%} "
        f"({sum(o.success for o in result.outcomes)}/{len(result.outcomes)} held-out seeds) | "
        f"{progress.elapsed() / 60:.1f} min",
        file=sys.stderr,
        flush=True,
    )
    return summary
