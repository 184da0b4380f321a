"""Training speed at batch 256, paper low-dim Push-T config: our trainer vs an original-like loop, one run.

Original-like loop (the original TrainDiffusionUnetLowdimWorkspace's step): its data path (a
Dataset that reads one window per index from the in-memory replay buffer, concatenates keypoints
and agent position into one 20-d ``obs`` like PushTLowdimDataset._sample_to_data, default
collate), fp32 loss + backward, AdamW with the per-parameter for-loop (foreach=False), the
diffusers-style LambdaLR step, and the original EMAModel's per-parameter Python loop. Same U-Net
architecture, sizes and weights as ours, run with torch's own Conv1d, ConvTranspose1d, GroupNorm
and Mish modules.

Ours: ``Trainer.train_step`` over ``Trainer``'s own DataLoader (config/train/pusht_lowdim.yaml:
fp32; fused AdamW, fused foreach EMA, no grad-scaling pass without clipping; wide CPU
convolutions (>= 512 input channels: kernel 5, 1x1, stride 2, transposed) as matmuls,
``models/unet1d.py``; GroupNorm's channels-last kernel on short sequences and a vectorized Mish
autograd at >= 256 channels, ``models/cpu_training_ops.py``); and the same with bf16 autocast
(``train.amp=bf16``, not the paper recipe: reported separately). Both use num_workers 0 (on 2 cores a loader process
competes with the compute). Paths are timed alternately, step by step (same load); ratios use
the median step time. Data: ../shared/data/pusht if present, else a synthetic store of the same
layout.

Usage: python benchmarks/bench_training.py [--json] [--steps 3] [--batch 256] [--down-dims 256,512,1024]
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader, Dataset

from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.data.sampler import SequenceSampler
from dp_core.training.config import load_config
from dp_core.training.optimizer import lr_lambda
from dp_core.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
PUSHT = REPO.parent / "shared" / "data" / "pusht" / "pusht_cchi_v7_replay.zarr"


class OriginalLikeDataset(Dataset):
    """One window per index, obs = [keypoint flattened, state[:, :2]] (20-d), as PushTLowdimDataset."""

    def __init__(self, arrays: dict[str, np.ndarray], episode_ends: np.ndarray, horizon: int) -> None:
        self.arrays = arrays
        self.sampler = SequenceSampler(episode_ends, horizon, pad_before=1, pad_after=7)

    def __len__(self) -> int:
        return len(self.sampler)

    def __getitem__(self, idx: int) -> dict[str, torch.Tensor]:
        sample = self.sampler.sample_sequence(self.arrays, idx, ("keypoint", "state", "action"))
        keypoint = sample["keypoint"]
        obs = np.concatenate([keypoint.reshape(keypoint.shape[0], -1), sample["state"][:, :2]], axis=-1)
        return {"obs": torch.from_numpy(obs.astype(np.float32)), "action": torch.from_numpy(sample["action"])}


@torch.no_grad()
def original_ema_step(ema_model: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """The original EMAModel.step: a Python loop over modules and parameters."""
    for module, ema_module in zip(model.modules(), ema_model.modules(), strict=True):
        pairs = zip(module.parameters(recurse=False), ema_module.parameters(recurse=False), strict=True)
        for param, ema_param in pairs:
            if isinstance(module, _BatchNorm) or not param.requires_grad:
                ema_param.copy_(param.to(dtype=ema_param.dtype).data)
            else:
                ema_param.mul_(decay)
                ema_param.add_(param.data.to(dtype=ema_param.dtype), alpha=1 - decay)


def synthetic_store(path: Path, n_episodes: int = 40, length: int = 120) -> Path:
    """A Push-T-shaped store (keypoint (N, 9, 2), state (N, 5), action (N, 2)) of random walks."""
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer.create(path)
    for _ in range(n_episodes):
        walk = np.cumsum(rng.normal(size=(length, 2)), axis=0).astype(np.float32) + 256
        buffer.add_episode(
            {
                "keypoint": np.repeat(walk[:, None], 9, axis=1) + rng.normal(size=(length, 9, 2)).astype(np.float32),
                "state": np.concatenate([walk, walk, walk[:, :1]], axis=1),
                "action": walk + 1,
            }
        )
    buffer.close()
    return path


def forever(make_loader: Callable[[], DataLoader]) -> Iterator[dict]:
    while True:
        yield from make_loader()


def ours_step(trainer: Trainer) -> Callable[[], None]:
    batches = forever(lambda: trainer._loader(trainer.train_set, shuffle=True, epoch=0))
    return lambda: trainer.train_step(next(batches))


def baseline_step(trainer: Trainer, data_path: str, batch: int) -> Callable[[], None]:
    """The original-like loop on a copy of ``trainer``'s (freshly initialised) model."""
    model = copy.deepcopy(trainer.model).train()
    # the original runs torch's own Conv1d, ConvTranspose1d, GroupNorm and Mish everywhere
    for module in model.modules():
        for torch_class in (torch.nn.Conv1d, torch.nn.ConvTranspose1d, torch.nn.GroupNorm, torch.nn.Mish):
            if isinstance(module, torch_class):
                module.__class__ = torch_class
    with ReplayBuffer.open(data_path, "r") as buffer:
        arrays = {k: np.asarray(buffer[k][:]) for k in ("keypoint", "state", "action")}
        ends = np.array(buffer.episode_ends)
    dataset = OriginalLikeDataset(arrays, ends, model.spec.horizon)
    batches = forever(lambda: DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=0))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=1e-4, betas=(0.95, 0.999), eps=1e-8, weight_decay=1e-6, foreach=False
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(500, 10**6, "cosine"))
    ema_model = copy.deepcopy(model).eval().requires_grad_(False)

    def step() -> None:
        data = next(batches)
        # The original LinearNormalizer on the 20-d obs is the same affine map as ours per key.
        keypoint, agent_pos = data["obs"][..., :18], data["obs"][..., 18:]
        loss = model.compute_loss({"obs": {"keypoint": keypoint, "agent_pos": agent_pos}, "action": data["action"]})
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        schedule.step()
        original_ema_step(ema_model, model, 0.999)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="(the JSON line is always printed last)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per path (after 1 warm-up each)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--down-dims", default="256,512,1024", help="U-Net widths (paper: 256,512,1024)")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16-autocast variant of ours")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_path = str(PUSHT) if PUSHT.exists() else str(synthetic_store(Path(tmp) / "synthetic.zarr"))
        overrides = [
            f"data.path={data_path}",
            f"train.batch_size={args.batch}",
            "train.device=cpu",
            f"train.output_dir={tmp}/out",
            f"policy.unet.down_dims=[{args.down_dims}]",
        ]
        config_path = REPO / "config" / "train" / "pusht_lowdim.yaml"
        torch.manual_seed(0)
        trainer = Trainer(load_config(config_path, overrides))
        fns = {"original_like": baseline_step(trainer, data_path, args.batch), "ours": ours_step(trainer)}
        if not args.no_bf16:
            torch.manual_seed(0)
            fns["ours_bf16"] = ours_step(Trainer(load_config(config_path, [*overrides, "train.amp=bf16"])))
        times: dict[str, list[float]] = {name: [] for name in fns}
        for round_index in range(args.steps + 1):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn()
                if round_index:  # round 0 warms up
                    times[name].append(time.perf_counter() - start)
        params = sum(p.numel() for p in trainer.model.parameters())
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "data": "pusht" if data_path == str(PUSHT) else "synthetic",
        "batch": args.batch,
        "params": params,
        "steps_timed": args.steps,
        "threads": torch.get_num_threads(),
        **{f"{name}_samples_per_s": round(args.batch / s, 1) for name, s in median.items()},
        **{f"{name}_step_s_median": round(s, 3) for name, s in median.items()},
        "ratio_ours_vs_original_like": round(median["original_like"] / median["ours"], 3),
    }
    if "ours_bf16" in median:
        result["ratio_ours_bf16_vs_original_like"] = round(median["original_like"] / median["ours_bf16"], 3)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
