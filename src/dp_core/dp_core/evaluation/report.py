"""dp-eval's plot (per-seed max reward and reward curves) and animation (GIF of a few episodes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def write_plot(records: list[dict[str, Any]], summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (bars, curves) = plt.subplots(1, 2, figsize=(11, 3.6))
    seeds = [r["seed"] for r in records]
    bars.bar(
        range(len(seeds)),
        [r["max_reward"] for r in records],
        color=["tab:green" if r["success"] else "tab:orange" for r in records],
    )
    bars.set_xlabel(f"seed - {seeds[0]}")
    bars.set_ylabel("episode max reward")
    bars.set_ylim(0, 1.05)
    bars.set_title(f"score {summary['score']:.3f} over {len(records)} seeds (success {summary['success_rate']:.0%})")
    for record in records:
        curves.plot(record["rewards"], alpha=0.5, linewidth=1)
    curves.set_xlabel("step (10 Hz)")
    curves.set_ylabel("reward = clip(coverage / 0.95)")
    curves.set_ylim(0, 1.05)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_animation(videos: list[list[np.ndarray]], path: Path, fps: int = 10, stride: int = 2) -> None:
    """The episodes one after another (every ``stride``-th frame, so the GIF stays small)."""
    import imageio.v2 as imageio

    frames = [frame for video in videos for frame in video[::stride]]
    imageio.mimsave(path, frames, duration=stride / fps, loop=0)  # type: ignore[arg-type]  # (H, W, 3) uint8 arrays
