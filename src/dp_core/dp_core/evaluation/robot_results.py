"""Results of a robot evaluation: counts per outcome, success rate with its 95 % interval, JSON and a plot.

The interval matters on a robot: 10 episodes at 7/10 is anything from 40 % to 89 % (Wilson score
interval, which stays inside [0, 1] and is sensible at 0/n and n/n, unlike the normal approximation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dp_core.evaluation.robot_session import JUDGED, EpisodeRecord, Outcome, SessionConfig

COLORS = {
    Outcome.SUCCESS: "tab:green",
    Outcome.FAILURE: "tab:red",
    Outcome.TIMEOUT: "tab:orange",
    Outcome.ABORTED: "tab:gray",
}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion; (0, 1) for n = 0."""
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(records: Sequence[EpisodeRecord], config: SessionConfig, label: str = "") -> dict[str, Any]:
    """Counts per outcome (aborted episodes listed, never counted), success rate over judged episodes."""
    counts = {o.value: sum(r.outcome is o for r in records) for o in Outcome}
    judged = [r for r in records if r.outcome in JUDGED]
    successes = counts[Outcome.SUCCESS.value]
    low, high = wilson_interval(successes, len(judged))
    return {
        "label": label,
        "episodes": len(judged),
        "episodes_planned": config.episodes,
        "time_limit_s": config.time_limit_s,
        "counts": counts,
        "success_rate": round(successes / len(judged), 4) if judged else None,
        "success_rate_95ci": [round(low, 4), round(high, 4)],
        "mean_duration_s": round(sum(r.duration_s for r in judged) / len(judged), 3) if judged else None,
        "records": [r.to_dict() for r in records],
    }


def write_results(
    records: Sequence[EpisodeRecord], config: SessionConfig, out_dir: Path, label: str = ""
) -> dict[str, Any]:
    """``out_dir/results.json`` and ``out_dir/results.png``; returns the summary (with both paths)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarize(records, config, label)
    summary["plot"] = str(out_dir / "results.png")
    write_plot(records, summary, out_dir / "results.png")
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def write_plot(records: Sequence[EpisodeRecord], summary: dict[str, Any], path: Path) -> None:
    """Left: each episode's running time coloured by outcome, the time limit dashed. Right: counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (episodes, counts) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [3, 1.2]})
    episodes.bar(
        [r.index for r in records],
        [r.duration_s for r in records],
        color=[COLORS[r.outcome] for r in records],
    )
    episodes.axhline(summary["time_limit_s"], color="black", linestyle="--", linewidth=1, label="time limit")
    episodes.legend(loc="best", fontsize=8)
    episodes.set_xlabel("episode")
    episodes.set_ylabel("policy running time (s)")
    episodes.set_xticks([r.index for r in records])
    rate, (low, high) = summary["success_rate"], summary["success_rate_95ci"]
    title = f"success {rate:.0%} (95% CI {low:.0%}-{high:.0%})" if rate is not None else "no judged episode"
    episodes.set_title(f"{summary['label']}: {title}" if summary["label"] else title, fontsize=10)
    names = [o for o in Outcome if summary["counts"][o.value] or o is not Outcome.ABORTED]
    counts.bar([o.value for o in names], [summary["counts"][o.value] for o in names], color=[COLORS[o] for o in names])
    counts.set_ylabel("episodes")
    counts.yaxis.get_major_locator().set_params(integer=True)
    counts.tick_params(axis="x", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
