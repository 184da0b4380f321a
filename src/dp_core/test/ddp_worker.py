"""One rank of the torchrun DDP test (test_training_ddp.py): trains, and checks every step.

After every optimizer step the rank all-gathers its weights and EMA weights and requires them to
equal every other rank's; it records the dataset windows it read and whether it wrote checkpoints,
and leaves that in ``<out>/rank_<r>.json`` for the test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from dp_core.data.dataset import SequenceDataset
from dp_core.training import trainer as trainer_module
from dp_core.training.config import load_config


def main(config_path: str) -> None:
    torch.set_num_threads(1)
    config = load_config(config_path)
    seen: list[int] = []
    read = SequenceDataset.__getitem__
    SequenceDataset.__getitem__ = lambda self, idx: (
        seen.append(int(idx)) if self.split == "train" else None,
        read(self, idx),
    )[1]
    saves: list[int] = []
    save = trainer_module.save_checkpoint_dir
    trainer_module.save_checkpoint_dir = lambda *a, **k: (saves.append(a[1]), save(*a, **k))[1]
    trainer = trainer_module.Trainer(config)
    step = trainer.train_step
    mismatches: list[int] = []

    def checked_step(batch: dict) -> dict:
        metrics = step(batch)
        for model in (trainer.model, trainer.inference_model()):
            flat = torch.cat([p.detach().flatten() for p in model.parameters()])
            gathered = [torch.empty_like(flat) for _ in range(trainer.world_size)]
            dist.all_gather(gathered, flat)
            if not all(torch.equal(g, flat) for g in gathered):
                mismatches.append(trainer.step)
        return metrics

    trainer.train_step = checked_step  # type: ignore[method-assign]
    metrics = trainer.fit()
    result = {
        "rank": trainer.rank,
        "world_size": trainer.world_size,
        "steps": trainer.step,
        "seen": seen,
        "saves": saves,
        "mismatched_steps": mismatches,
        "loss": metrics["loss"],
        "n_train": len(trainer.train_set),
    }
    trainer.close()
    Path(config.train.output_dir, f"rank_{result['rank']}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
