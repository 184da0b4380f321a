"""End-to-end smoke run of ``python -m dp_demo``: real sim, recorder, dp-convert, dp-train and
policy nodes over DDS, sized for CI (2 episodes, a few dozen training steps, 1 evaluation).

It checks that every step produced its artefact and that the JSON line agrees with them (rates
equal the counts and per-seed records behind them), not that the tiny policy succeeds; and that
evaluating the checkpoint again gives the identical rollout.
"""

import json
import subprocess
import sys

import pytest
import zarr

from dp_core.training.checkpoint import resolve_checkpoint_dir

TIMEOUT_S = 12.0


@pytest.mark.slow
@pytest.mark.ros
def test_demo_pipeline_end_to_end(tmp_path):
    out = tmp_path / "demo"
    args = [
        sys.executable,
        "-m",
        "dp_demo",
        "--episodes",
        "2",
        "--eval-episodes",
        "1",
        "--timeout",
        str(TIMEOUT_S),
        "--output-dir",
        str(out),
        "--train",
        "train.max_steps=30",
        "--train",
        "train.batch_size=32",
        "--train",
        "train.val_every=0",
        "--train",
        "train.warmup_steps=5",
        "--train",
        "data.val_ratio=0.0",
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"expert_success", "policy_success", "episodes", "animation", "plot", "seconds"}
    episodes = summary["episodes"]
    assert episodes["recorded"] == 2 and episodes["evaluated"] == 1 and episodes["kept"] >= 1
    # the rates are the counts behind them: kept bags are the expert's successes, and the policy's
    # rate is the share of successes among the per-seed records written next to it
    assert summary["expert_success"] == pytest.approx(episodes["kept"] / episodes["recorded"])
    details = json.loads((out / "evaluation.json").read_text())
    assert [d["seed"] for d in details] == [900_000]  # the first held-out seed (seed 0)
    assert summary["policy_success"] == pytest.approx(sum(d["success"] for d in details) / len(details))
    for d in details:  # a success ends the episode early; a timeout runs to the limit below the threshold
        assert 0.0 <= d["coverage"] <= 1.0 and 0.0 < d["sim_s"] <= TIMEOUT_S + 0.5, d
        assert d["sim_s"] < TIMEOUT_S if d["success"] else (d["coverage"] < 0.90 and d["sim_s"] >= TIMEOUT_S - 0.5), d
    assert summary["seconds"] > 0
    assert summary["reflexes"] == {"recording": 0, "evaluation": 0}  # no command tripped the FR3's limits
    for key in ("animation", "plot"):
        path = out / summary[key].rsplit("/", 1)[-1]
        assert path.is_file() and path.stat().st_size > 1000, path
    bags = sorted((out / "bags").glob("episode_*"))
    assert len(bags) == summary["episodes"]["kept"] >= 1
    assert all(list(b.glob("*.mcap")) for b in bags)
    ends = zarr.open_group(str(out / "dataset.zarr"), mode="r")["meta/episode_ends"][:]
    assert len(ends) == episodes["kept"] and (ends[1:] > ends[:-1]).all() and ends[0] > 0
    step_dir = resolve_checkpoint_dir(out / "train")
    assert step_dir.name == "step_30", step_dir  # train.max_steps=30 ran to the end

    # evaluation again from the checkpoint (make demo CHECKPOINT=...): lockstep makes it the same rollout
    again = tmp_path / "again"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dp_demo",
            "--checkpoint",
            str(out / "train"),
            "--eval-episodes",
            "1",
            "--timeout",
            str(TIMEOUT_S),
            "--output-dir",
            str(again),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = (json.loads((d / "evaluation.json").read_text()) for d in (out, again))
    assert first == second and len(first) == 1, (first, second)  # same seed, success, coverage, sim time
