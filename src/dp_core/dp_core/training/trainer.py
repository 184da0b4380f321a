"""The training loop: AdamW + warmup/cosine, EMA, clipping, validation, checkpoints, TensorBoard.

Defaults follow the original workspaces: no gradient clipping, every epoch's last partial batch
kept, the normalizer fitted on the whole replay buffer, validation on every non-training episode
(see docs/architecture.md "Training fidelity" for the options that restore earlier behaviour).

Reads top to bottom (``fit``): schedule → evaluate/checkpoint → ``train_step`` → clip → log.
Under ``torchrun`` (``WORLD_SIZE`` > 1), or when a process group is already initialized, the
model is wrapped in DistributedDataParallel and each rank reads its shard of every epoch
(``DistributedSampler``); only rank 0 logs, shows progress and writes checkpoints.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from dp_core.data.dataset import SequenceDataset
from dp_core.data.normalizer import Kind
from dp_core.policy.diffusion_model import ACTION_KEY, DiffusionModel
from dp_core.training.checkpoint import (
    load_train_state,
    resolve_checkpoint_dir,
    rng_state,
    save_checkpoint_dir,
    set_rng_state,
)
from dp_core.training.config import Config, to_dict
from dp_core.training.ema import EMAModel
from dp_core.training.optimizer import lr_lambda, make_optimizer

__all__ = ["Trainer", "fit_normalizer", "lr_lambda", "make_optimizer", "seed_everything"]

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _SkipSampler(Sampler[int]):
    """The wrapped sampler's indices minus the first ``skip`` (resuming mid-epoch)."""

    def __init__(self, base: DistributedSampler, skip: int) -> None:
        self.base, self.skip = base, skip

    def __iter__(self) -> Iterator[int]:
        for i, index in enumerate(self.base):
            if i >= self.skip:
                yield index

    def __len__(self) -> int:
        return max(0, len(self.base) - self.skip)


def fit_normalizer(model: DiffusionModel, dataset: SequenceDataset) -> None:
    """Fit the policy's normalizer (low-dim keys, actions, image keys) on ``data.normalizer_fit``'s steps.

    "all" (default) is every step of the replay buffer, as the original datasets' get_normalizer;
    "train" only the training episodes' steps.
    """
    data = dataset.get_normalizer_data()
    kinds: dict[str, Kind] = {key: "low_dim" for key in data}
    kinds[ACTION_KEY] = "low_dim"
    for key in model.spec.rgb_keys:
        kinds[key.name] = "rgb"
    model.normalizer.fit(data, kinds)


class Trainer:
    """One training run built from a :class:`Config` (optionally resuming a checkpoint)."""

    def __init__(self, config: Config, resume: str | Path | None = None) -> None:
        self.config = config
        cfg = config.train
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1 or (dist.is_available() and dist.is_initialized())
        self.device = self._setup_device(cfg.device)
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.rank = dist.get_rank() if self.distributed else 0
        self.world_size = dist.get_world_size() if self.distributed else 1
        self.is_main = self.rank == 0
        seed_everything(cfg.seed + self.rank)

        self.train_set = SequenceDataset(config.data, config.policy.spec, "train")
        if len(self.train_set) < (cfg.batch_size if cfg.drop_last else 1) * self.world_size:
            raise ValueError(
                f"the training split has {len(self.train_set)} windows, fewer than one batch of "
                f"{cfg.batch_size} x {self.world_size} ranks; lower train.batch_size"
            )
        self.val_set = self.train_set.get_validation_dataset()
        self.model = DiffusionModel(config.policy)
        fit_normalizer(self.model, self.train_set)
        self.model.to(self.device)
        self.ema = EMAModel(self.model, power=cfg.ema_power, max_value=cfg.ema_max_value) if cfg.ema else None
        self.ddp = DistributedDataParallel(self.model) if self.distributed else None
        self.optimizer = make_optimizer(
            self.model,
            lr=cfg.lr,
            betas=cfg.betas,
            weight_decay=cfg.weight_decay,
            decay_groups=cfg.weight_decay_groups,
            obs_encoder_weight_decay=cfg.obs_encoder_weight_decay,
        )
        per_rank = math.ceil(len(self.train_set) / self.world_size)  # DistributedSampler's shard size
        self.steps_per_epoch = (
            len(self.train_set) // (cfg.batch_size * self.world_size)
            if cfg.drop_last
            else math.ceil(per_rank / cfg.batch_size)
        )
        self.total_steps = min(cfg.max_steps or math.inf, (cfg.num_epochs or math.inf) * self.steps_per_epoch)
        self.total_steps = int(self.total_steps)
        self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(cfg.warmup_steps, self.total_steps, cfg.lr_schedule, cfg.warmup_from_zero)
        )
        self.amp_dtype = (
            torch.bfloat16 if (cfg.amp == "bf16" or (cfg.amp == "auto" and self.device.type == "cuda")) else None
        )
        self.step = 0
        self.epoch = 0
        if resume is not None:
            self._resume(resume)
        self.writer = SummaryWriter(str(cfg.output_dir / "tb")) if self.is_main else None

    def _setup_device(self, name: str) -> torch.device:
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(name)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError("train.device is 'cuda' but CUDA is not available; use train.device=cpu")
            if self.distributed:
                device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        return device

    def _resume(self, path: str | Path) -> None:
        ckpt_dir = resolve_checkpoint_dir(path)
        state = load_train_state(ckpt_dir, map_location=self.device)
        self.model.load_state_dict(state["model"])
        saved_groups = len(state["optimizer"]["param_groups"])
        if saved_groups != len(self.optimizer.param_groups):
            raise ValueError(
                f"{ckpt_dir} was trained with {saved_groups} optimizer parameter group(s), this config "
                f"builds {len(self.optimizer.param_groups)}; set train.weight_decay_groups="
                f"{str(saved_groups > 1).lower()} to resume it"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        set_rng_state(state["rng"])
        log.info("resumed from %s at step %d (epoch %d)", ckpt_dir, self.step, self.epoch)

    def _loader(self, dataset: SequenceDataset, shuffle: bool, epoch: int, skip_batches: int = 0) -> DataLoader:
        cfg = self.config.train
        drop_last = shuffle and cfg.drop_last
        sampler: DistributedSampler = DistributedSampler(
            dataset, num_replicas=self.world_size, rank=self.rank, shuffle=shuffle, seed=cfg.seed, drop_last=drop_last
        )
        sampler.set_epoch(epoch)
        return DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            sampler=_SkipSampler(sampler, skip_batches * cfg.batch_size),
            num_workers=cfg.num_workers,
            drop_last=drop_last,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {
            "obs": {k: v.to(self.device, non_blocking=True) for k, v in batch["obs"].items()},
            "action": batch["action"].to(self.device, non_blocking=True),
        }

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimizer step on ``batch``: loss → backward → clip → AdamW → lr schedule → EMA."""
        self.model.train()
        batch = self._to_device(batch)
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None
        ):
            loss = self.ddp(batch) if self.ddp is not None else self.model.compute_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.config.train.grad_clip_norm
        if clip is None:  # the norm only (for the log): clip_grad_norm_(inf) would also multiply every grad by 1.0
            grads = [p.grad for p in self.model.parameters() if p.grad is not None]
            grad_norm = nn.utils.get_total_norm(grads, foreach=True)
        else:
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), clip, foreach=True)
        self.optimizer.step()
        self.lr_scheduler.step()
        if self.ema is not None:
            self.ema.step(self.model)
        self.step += 1
        return {
            "loss": float(loss.detach()),
            "grad_norm": float(grad_norm),
            "lr": float(self.lr_scheduler.get_last_lr()[0]),
        }

    @torch.no_grad()
    def evaluate(self) -> float | None:
        """Mean denoising loss of the inference (EMA) weights on the validation split, fixed noise."""
        if len(self.val_set) == 0:
            return None
        model = self.inference_model()
        model.eval()
        losses: list[float] = []
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(self.config.train.seed)
            for i, batch in enumerate(self._loader(self.val_set, shuffle=False, epoch=0)):
                if self.config.train.val_max_batches is not None and i >= self.config.train.val_max_batches:
                    break
                losses.append(float(model.compute_loss(self._to_device(batch))))
        if self.distributed:
            total = torch.tensor([sum(losses), len(losses)], dtype=torch.float64, device=self.device)
            dist.all_reduce(total)
            return float(total[0] / max(1.0, float(total[1])))
        return float(np.mean(losses)) if losses else None

    def inference_model(self) -> DiffusionModel:
        """The weights inference uses: the EMA copy when EMA is on."""
        model = self.ema.averaged_model if self.ema is not None else self.model
        assert isinstance(model, DiffusionModel)
        return model

    def save_checkpoint(self) -> Path | None:
        """Write ``step_<N>`` (rank 0 only): inference weights, config, and the resume state."""
        if not self.is_main:
            return None
        train_state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "step": self.step,
            "epoch": self.epoch,
            "rng": rng_state(),
        }
        return save_checkpoint_dir(
            self.config.train.output_dir,
            self.step,
            self.inference_model().state_dict(),
            to_dict(self.config),
            train_state,
            keep=self.config.train.keep_checkpoints,
        )

    def _log(self, values: dict[str, float], prefix: str) -> None:
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"{prefix}/{name}", value, self.step)

    def fit(self) -> dict[str, float]:
        """Train until ``total_steps``; returns the last train loss and validation loss."""
        cfg = self.config.train
        progress = tqdm(
            total=self.total_steps, initial=self.step, disable=not self.is_main, desc="train", dynamic_ncols=True
        )
        metrics: dict[str, float] = {}
        last_saved = self.step
        while self.step < self.total_steps:
            skip = self.step - self.epoch * self.steps_per_epoch
            loader = self._loader(self.train_set, shuffle=True, epoch=self.epoch, skip_batches=max(0, skip))
            started = time.perf_counter()
            for batch in loader:
                metrics.update(self.train_step(batch))
                progress.update(1)
                progress.set_postfix(loss=f"{metrics['loss']:.4f}", epoch=self.epoch)
                if self.step % cfg.log_every == 0:
                    elapsed = time.perf_counter() - started
                    started = time.perf_counter()
                    self._log(
                        {**metrics, "samples_per_s": cfg.log_every * cfg.batch_size * self.world_size / elapsed},
                        "train",
                    )
                if cfg.val_every and self.step % cfg.val_every == 0:
                    metrics.update(self._validate())
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
                    last_saved = self.step
                if self.step >= self.total_steps:
                    break
            else:
                self.epoch += 1
        progress.close()
        if not cfg.val_every or self.step % cfg.val_every:
            metrics.update(self._validate())
        if last_saved != self.step or not (cfg.output_dir / "latest").exists():
            self.save_checkpoint()
        if self.writer is not None:
            self.writer.flush()
        return metrics

    def _validate(self) -> dict[str, float]:
        val_loss = self.evaluate()
        if val_loss is None:
            return {}
        self._log({"loss": val_loss}, "val")
        return {"val_loss": val_loss}

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.distributed and dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # every rank first: a rank that tears its gloo pairs down while another still finishes
            # (rank 0 writing the last checkpoint) makes that one abort (seen on a loaded 2-core CI)
            dist.barrier()
            dist.destroy_process_group()
