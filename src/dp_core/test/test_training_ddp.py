"""A real multi-process run: ``torchrun --nproc_per_node 2`` with gloo on CPU, a tiny model.

Ranks must hold identical weights (and EMA weights) after every step, read disjoint shards of
each epoch that together cover the training windows, and only rank 0 may write checkpoints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from dp_core.data.replay_buffer import ReplayBuffer

STEPS = 4


def _tiny_run(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer.create(tmp_path / "tiny.zarr")
    for length in (20, 17, 23, 19, 21):
        state = np.cumsum(rng.normal(size=(length, 4)), axis=0).astype(np.float32)
        buffer.add_episode({"state": state, "action": state[:, :2] + 0.1})
    buffer.close()
    config = {
        "policy": {
            "spec": {
                "obs": [{"name": "pos", "kind": "low_dim", "shape": [4]}],
                "action_dim": 2,
                "n_obs_steps": 2,
                "horizon": 8,
                "n_action_steps": 4,
            },
            "unet": {"down_dims": [8, 16], "diffusion_step_embed_dim": 8, "n_groups": 4},
            "num_inference_steps": 2,
        },
        "data": {"path": str(tmp_path / "tiny.zarr"), "obs_sources": {"pos": "state"}, "val_ratio": 0.2},
        "train": {
            "batch_size": 16,
            "max_steps": STEPS,
            "warmup_steps": 1,
            "val_every": 0,
            "checkpoint_every": 2,
            "log_every": 1,
            "device": "cpu",
            "output_dir": str(tmp_path / "out"),
        },
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_torchrun_two_gloo_ranks_stay_identical_and_only_rank0_writes(tmp_path: Path) -> None:
    config = _tiny_run(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_worker.py")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(worker),
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / "out" / f"rank_{r}.json").read_text()) for r in (0, 1)]
    for result in ranks:
        assert result["world_size"] == 2 and result["steps"] == STEPS
        assert result["mismatched_steps"] == [], (
            f"rank {result['rank']} differed after steps {result['mismatched_steps']}"
        )
    assert ranks[0]["saves"] == [2, 4] and ranks[1]["saves"] == []
    assert {p.name for p in (tmp_path / "out").glob("step_*")} == {"step_2", "step_4"}
    n_train = ranks[0]["n_train"]
    per_rank = -(-n_train // 2)
    # One epoch per rank: the first per_rank reads are one shard; the two shards cover every window.
    shards = [set(r["seen"][:per_rank]) for r in ranks]
    assert shards[0] | shards[1] == set(range(n_train))
    assert len(shards[0] & shards[1]) <= 2 * per_rank - n_train  # DistributedSampler pads by repeating
    assert all(np.isfinite(r["loss"]) for r in ranks)
