"""The paper's core claim: diffusion keeps both modes of bimodal demonstrations, regression averages.

Task: a point starts at (0, -1) below an obstacle at the origin and reaches (0, 1) along the unit
circle, going around the right (x > 0) or the left (x < 0) with equal probability. The action is
the next position. From the start window both modes are equally likely; the average path goes
straight through the obstacle (x ≈ 0). The diffusion policy is trained through the real pipeline
(zarr store → SequenceDataset → Trainer → checkpoint → Policy.from_checkpoint); the regression
baseline is the same U-Net (same size) fed a zero sample at step 0 and trained with MSE.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dp_core.data.dataset import DataConfig, SequenceDataset
from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_model import DiffusionModelConfig
from dp_core.policy.inference import Policy
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.training.config import Config, TrainConfig
from dp_core.training.trainer import Trainer, fit_normalizer

EPISODE_STEPS = 24
N_SAMPLES = 200
SPEC = PolicySpec(
    obs=(ObsKeySpec("pos", "low_dim", (2,)),), action_dim=2, n_obs_steps=2, horizon=16, n_action_steps=8, dt_s=0.1
)
UNET = UNetConfig(down_dims=(32, 64), kernel_size=5, n_groups=8, diffusion_step_embed_dim=16)


def write_demos(path: Path, n_episodes: int = 60) -> None:
    """Half the episodes go around the right, half around the left (alternating)."""
    buffer = ReplayBuffer.create(path)
    for episode in range(n_episodes):
        side = 1.0 if episode % 2 == 0 else -1.0
        # angle from -pi/2 (start, below) to +pi/2 (goal, above); x = side * |cos|.
        theta = np.linspace(-np.pi / 2, np.pi / 2, EPISODE_STEPS + 1)
        pos = np.stack([side * np.cos(theta), np.sin(theta)], axis=1).astype(np.float32)
        buffer.add_episode({"pos": pos[:-1], "action": pos[1:]})
    buffer.close()


def classify(actions: np.ndarray) -> np.ndarray:
    """Per chunk: +1 right, -1 left, 0 between (mean x of the last 12 actions)."""
    mean_x = actions[:, 4:, 0].mean(axis=1)
    return np.where(mean_x > 0.3, 1, np.where(mean_x < -0.3, -1, 0))


def train_regression(dataset: SequenceDataset, config: DiffusionModelConfig, steps: int) -> np.ndarray:
    """Same U-Net, zero input at step 0, MSE on normalized actions; returns its start-window chunk."""
    from dp_core.policy.diffusion_model import DiffusionModel

    torch.manual_seed(1)
    model = DiffusionModel(config)
    fit_normalizer(model, dataset)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True, drop_last=True)
    step = 0
    while step < steps:
        for batch in loader:
            features = model.encode_observations(batch["obs"])
            target = model.normalizer.normalize("action", batch["action"])
            zero = torch.zeros_like(target)
            loss = F.mse_loss(model.denoiser(zero, torch.zeros(len(target), dtype=torch.long), features), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step >= steps:
                break
    with torch.no_grad():
        start = {"pos": torch.tensor([[[0.0, -1.0], [0.0, -1.0]]])}
        features = model.encode_observations(start)
        out = model.denoiser(torch.zeros(1, SPEC.horizon, 2), torch.zeros(1, dtype=torch.long), features)
        return model.normalizer.unnormalize("action", out).numpy()


@pytest.mark.slow
def test_diffusion_keeps_both_modes_and_regression_averages(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    write_demos(tmp_path / "demos.zarr")
    data = DataConfig(path=str(tmp_path / "demos.zarr"), obs_sources={"pos": "pos"}, val_ratio=0.0)
    policy_config = DiffusionModelConfig(spec=SPEC, unet=UNET, num_inference_steps=16)
    train = TrainConfig(
        seed=0,
        batch_size=32,
        max_steps=2500,
        lr=1e-3,
        warmup_steps=50,
        val_every=0,
        checkpoint_every=0,
        log_every=100,
        output_dir=tmp_path / "run",
    )
    trainer = Trainer(Config(policy=policy_config, data=data, train=train))
    trainer.fit()
    trainer.close()

    policy = Policy.from_checkpoint(tmp_path / "run", device="cpu", precision="fp32")
    window = {"pos": np.array([[0.0, -1.0], [0.0, -1.0]], dtype=np.float32)}
    chunks = np.stack([policy.predict(window, seed=i).actions for i in range(N_SAMPLES)])
    labels = classify(chunks)
    right, left, between = (labels == 1).mean(), (labels == -1).mean(), (labels == 0).mean()
    assert right >= 0.25 and left >= 0.25, f"modes right {right:.2f} left {left:.2f} (each must be >= 0.25)"
    assert between <= 0.05, f"{between:.2%} of samples fall between the modes (must be <= 5%)"

    # 1000 steps: from the original's FiLM init the regression needs more than 500 to settle on the mean
    # (measured: mean x -0.61 after 500, -0.07 after 1000; with the earlier split init 0.05 / 0.10).
    regression = train_regression(SequenceDataset(data, SPEC, "train"), policy_config, steps=1000)
    assert classify(regression)[0] == 0, f"regression mean x {regression[0, 4:, 0].mean():.2f} should be ~0"
