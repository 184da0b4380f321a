"""dp-train end to end on a tiny generated zarr: checkpoint, TensorBoard events, --resume; DDP path."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import yaml

from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.training.checkpoint import load_train_state
from dp_core.training.config import load_config
from dp_core.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[3]
PUSHT = REPO.parent / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


def write_tiny_run(tmp_path: Path) -> Path:
    """A 6-episode random-walk store and a YAML config next to it (relative paths)."""
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer.create(tmp_path / "tiny.zarr")
    for _ in range(6):
        state = np.cumsum(rng.normal(size=(20, 4)), axis=0).astype(np.float32)
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
            "unet": {"down_dims": [16, 32], "diffusion_step_embed_dim": 16, "n_groups": 4},
            "num_inference_steps": 4,
        },
        "data": {"path": "tiny.zarr", "obs_sources": {"pos": "state"}, "val_ratio": 0.2},
        "train": {
            "batch_size": 8,
            "max_steps": 3,
            "warmup_steps": 1,
            "val_every": 2,
            "checkpoint_every": 2,
            "log_every": 1,
            "device": "cpu",
            "output_dir": "out",
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str) -> dict:
    exe = shutil.which("dp-train")
    command = [exe] if exe else [sys.executable, "-m", "dp_core.training.cli"]
    done = subprocess.run([*command, *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_dp_train_writes_checkpoints_and_resumes(tmp_path: Path) -> None:
    config_path = write_tiny_run(tmp_path)
    out = tmp_path / "out"
    result = run_cli(str(config_path), "train.seed=3")
    assert result["step"] == 3 and np.isfinite(result["loss"]) and "val_loss" in result
    assert {p.name for p in out.glob("step_*")} == {"step_2", "step_3"}
    assert (out / "latest").resolve().name == "step_3"
    for name in ("model.safetensors", "config.yaml", "train_state.pt"):
        assert (out / "step_3" / name).is_file()
    assert list((out / "tb").glob("events.out.tfevents.*"))
    saved = yaml.safe_load((out / "step_3" / "config.yaml").read_text())
    assert saved["data"]["path"] == str((tmp_path / "tiny.zarr").resolve())

    result = run_cli(str(config_path), "train.seed=3", "train.max_steps=5", "--resume")
    assert result["step"] == 5
    assert load_train_state(out)["step"] == 5 and load_train_state(out / "step_3")["step"] == 3


def test_bad_override_exits_with_a_message(tmp_path: Path) -> None:
    config_path = write_tiny_run(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "dp_core.training.cli", str(config_path), "train.nope=1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "unknown config key 'train.nope'" in done.stderr


def test_ddp_code_path_with_a_gloo_group_of_one(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = load_config(write_tiny_run(tmp_path), ["train.max_steps=2", "train.checkpoint_every=0"])
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        trainer = Trainer(config)
        assert trainer.ddp is not None and trainer.world_size == 1
        metrics = trainer.fit()
        trainer.close()
    finally:
        dist.destroy_process_group()
    assert trainer.step == 2 and np.isfinite(metrics["loss"])
    assert (tmp_path / "out" / "latest" / "model.safetensors").is_file()


@pytest.mark.skipif(not PUSHT.exists(), reason=f"original Push-T demos not found at {PUSHT}")
def test_original_pusht_demos_load_and_one_step_trains(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    config = load_config(
        REPO / "config" / "train" / "pusht_lowdim.yaml",
        [
            "train.max_steps=1",
            "train.batch_size=4",
            "train.device=cpu",
            f"train.output_dir={tmp_path}",
            "policy.unet.down_dims=[32, 64]",
            "train.val_every=0",
            "data.max_train_episodes=null",
        ],
    )
    trainer = Trainer(config)
    assert trainer.train_set.episode_ends[-1] == 25650 and len(trainer.train_set.episode_ends) == 206
    batch = next(iter(trainer._loader(trainer.train_set, shuffle=True, epoch=0)))
    assert batch["obs"]["keypoint"].shape == (4, 2, 18) and batch["obs"]["agent_pos"].shape == (4, 2, 2)
    assert batch["action"].shape == (4, 16, 2)
    metrics = trainer.train_step(batch)
    trainer.close()
    assert np.isfinite(metrics["loss"]) and trainer.step == 1
