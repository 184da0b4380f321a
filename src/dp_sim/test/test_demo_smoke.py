"""End-to-end smoke run of ``python -m dp_sim.demo``: real sim, recorder, dp-convert, dp-train and
policy nodes over DDS, sized for CI (2 episodes, a few dozen training steps, 1 evaluation).

It checks that every step produced its artefact and that the JSON line is complete, not that
the tiny policy succeeds; and that evaluating the checkpoint again gives the identical rollout.
"""

import json
import subprocess
import sys

import pytest

from dp_core.training.checkpoint import resolve_checkpoint_dir


@pytest.mark.slow
@pytest.mark.ros
def test_demo_pipeline_end_to_end(tmp_path):
    out = tmp_path / "demo"
    args = [sys.executable, "-m", "dp_sim.demo", "--episodes", "2", "--eval-episodes", "1", "--timeout", "12",
            "--output-dir", str(out), "--train", "train.max_steps=30", "--train", "train.batch_size=32",
            "--train", "train.val_every=0", "--train", "train.warmup_steps=5", "--train", "data.val_ratio=0.0"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"expert_success", "policy_success", "episodes", "animation", "plot", "seconds"}
    assert 0.0 < summary["expert_success"] <= 1.0
    assert 0.0 <= summary["policy_success"] <= 1.0
    assert summary["episodes"]["recorded"] == 2 and summary["episodes"]["evaluated"] == 1
    assert summary["seconds"] > 0
    assert summary["reflexes"] == {"recording": 0, "evaluation": 0}  # no command tripped the FR3's limits
    for key in ("animation", "plot"):
        path = out / summary[key].rsplit("/", 1)[-1]
        assert path.is_file() and path.stat().st_size > 1000, path
    bags = sorted((out / "bags").glob("episode_*"))
    assert len(bags) == summary["episodes"]["kept"] >= 1
    assert all(list(b.glob("*.mcap")) for b in bags)
    assert (out / "dataset.zarr" / "meta" / "episode_ends").exists()
    step_dir = resolve_checkpoint_dir(out / "train")
    assert any(step_dir.iterdir())

    # evaluation again from the checkpoint (make demo CHECKPOINT=...): lockstep makes it the same rollout
    again = tmp_path / "again"
    proc = subprocess.run([sys.executable, "-m", "dp_sim.demo", "--checkpoint", str(out / "train"),
                           "--eval-episodes", "1", "--timeout", "12", "--output-dir", str(again)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = (json.loads((d / "evaluation.json").read_text()) for d in (out, again))
    assert first == second and len(first) == 1, (first, second)  # same seed, success, coverage, sim time
