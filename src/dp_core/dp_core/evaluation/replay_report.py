"""dp-replay-eval's report: per episode a JSON, the chunks as NPZ and a plot; a summary JSON and plot.

Layout of the output directory::

    summary.json, summary.png         all episodes together (and one line per episode)
    episodes/<name>.json              metrics, rows, stamps and seeds of every window
    episodes/<name>.npz               chunks (W, K, H, A), recorded (W, H, A), rows, seeds, ticks_ns
    episodes/<name>.png               actions over time with the K chunks; error over the horizon
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dp_core.evaluation.replay_eval import EpisodeEvaluation, jsonable
from dp_core.spec import PolicySpec

EPISODES_DIR = "episodes"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_json(data: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(jsonable(data), indent=1, allow_nan=False) + "\n")


def write_episode(evaluation: EpisodeEvaluation, metrics: dict[str, Any], spec: PolicySpec, out_dir: Path) -> Path:
    """Write ``episodes/<name>.{json,npz,png}``; returns the JSON path."""
    folder = Path(out_dir) / EPISODES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = evaluation.episode.name
    write_json({"spec": spec.to_dict(), **metrics}, folder / f"{name}.json")
    np.savez_compressed(
        folder / f"{name}.npz",
        chunks=evaluation.chunks,
        recorded=evaluation.recorded,
        rows=evaluation.rows,
        seeds=evaluation.seeds,
        ticks_ns=evaluation.episode.ticks_ns,
        actions=evaluation.episode.actions,
    )
    plot_episode(evaluation, metrics, spec, folder / f"{name}.png")
    return folder / f"{name}.json"


def _horizon_axis(spec: PolicySpec) -> np.ndarray:
    """Seconds of each chunk index after the newest observation (negative: the past frames)."""
    return (np.arange(spec.horizon) - (spec.n_obs_steps - 1)) * spec.dt_s


def _plot_horizon_error(axis: Any, horizon_mae: np.ndarray, spec: PolicySpec, dim: int | None = None) -> None:
    steps = _horizon_axis(spec)
    dims = range(horizon_mae.shape[1]) if dim is None else [dim]
    for a in dims:
        axis.plot(steps, horizon_mae[:, a], marker=".", label=spec.action_names[a])
    start = spec.n_obs_steps - 1
    axis.axvspan(steps[start] - 0.5 * spec.dt_s, steps[start + spec.n_action_steps - 1] + 0.5 * spec.dt_s, alpha=0.12)
    axis.set_xlabel("s after newest obs (shaded: executed)", fontsize=8)
    axis.set_ylabel("MAE" if dim is None else f"MAE {spec.action_names[dim]}", fontsize=8)


def plot_episode(evaluation: EpisodeEvaluation, metrics: dict[str, Any], spec: PolicySpec, path: Path) -> None:
    """Left: each action dimension over time, recorded (black) and the K chunks of every window
    (faint: whole horizon, solid: executed part, one colour per sample). Right: error per horizon step.
    """
    plt = _pyplot()
    episode = evaluation.episode
    dims = spec.action_dim
    figure, axes = plt.subplots(dims, 2, figsize=(10, 1.9 * dims + 0.6), squeeze=False, width_ratios=(2.4, 1))
    t0 = episode.ticks_ns[0]
    times = (episode.ticks_ns - t0) / 1e9
    colours = plt.get_cmap("tab10")
    exec_start, exec_stop = metrics["executed_steps"]
    for a in range(dims):
        axis = axes[a][0]
        axis.plot(times, episode.actions[:, a], color="black", linewidth=1.5, label="recorded")
        for w, row in enumerate(evaluation.rows):
            chunk_times = times[row] + _horizon_axis(spec)
            for k in range(evaluation.chunks.shape[1]):
                values = evaluation.chunks[w, k, :, a]
                axis.plot(chunk_times, values, color=colours(k % 10), alpha=0.2, linewidth=0.8)
                axis.plot(
                    chunk_times[exec_start:exec_stop],
                    values[exec_start:exec_stop],
                    color=colours(k % 10),
                    linewidth=1.0,
                    label=f"sample {k}" if w == 0 and a == 0 else None,
                )
        axis.set_ylabel(spec.action_names[a])
        _plot_horizon_error(axes[a][1], metrics["horizon_mae"], spec, dim=a)
        if a < dims - 1:
            axes[a][1].set_xlabel("")
    axes[-1][0].set_xlabel("episode time (s)")
    axes[0][0].legend(loc="best", fontsize=7, ncol=4)
    exec_mae = ", ".join(f"{n} {v:.3g}" for n, v in zip(spec.action_names, metrics["executed_mae"], strict=True))
    axes[0][0].set_title(f"{episode.name}: {len(evaluation.rows)} windows x {evaluation.chunks.shape[1]} samples")
    axes[0][1].set_title(f"executed MAE: {exec_mae}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def write_summary(
    summary: dict[str, Any], episodes: list[dict[str, Any]], spec: PolicySpec, out_dir: Path, extra: dict[str, Any]
) -> Path:
    """Write ``summary.json`` (all windows together, one line per episode) and ``summary.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        {
            "episode": m["episode"],
            "windows": m["windows"],
            "stale_windows": len(m["stale_rows"]),
            "executed_mae": m["executed_mae"],
            "best_executed_mae": float(np.mean(m["window_best_executed_mae"])) if m["windows"] else None,
            "spread": float(np.mean(m["window_spread"])) if m["windows"] else None,
            "info": m["info"],
        }
        for m in episodes
    ]
    public = {k: v for k, v in summary.items() if not k.startswith("window_")}
    write_json({**extra, "spec": spec.to_dict(), **public, "per_episode": lines}, out_dir / "summary.json")
    plot_summary(summary, lines, spec, out_dir / "summary.png")
    return out_dir / "summary.json"


def plot_summary(summary: dict[str, Any], lines: list[dict[str, Any]], spec: PolicySpec, path: Path) -> None:
    """Left: error per horizon step and dimension over all windows. Right: executed error per episode."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    _plot_horizon_error(left, summary["horizon_mae"], spec)
    left.legend(fontsize=7)
    left.set_title(f"{summary['windows']} windows x {summary['samples']} samples, {len(lines)} episodes", fontsize=9)
    x = np.arange(len(lines))
    right.bar(x, [float(np.nanmean(line["executed_mae"])) for line in lines], label="mean of the K samples")
    right.plot(x, [line["best_executed_mae"] for line in lines], "k_", markersize=12, label="best of K")
    right.set_xticks(x, [line["episode"] for line in lines], rotation=60, fontsize=7)
    right.set_ylabel("executed MAE (mean over dims)", fontsize=8)
    right.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
