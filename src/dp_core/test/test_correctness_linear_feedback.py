"""Linear feedback: demos a_t = -K s_t on s_{t+1} = s_t + dt a_t; the policy recovers -K s.

The paper's theory section shows that a diffusion policy trained on a linear feedback law recovers
it exactly (the demonstrations are unimodal). Stated tolerance: over held-out states from new
rollouts, the action aligned with the newest observation (index n_obs_steps - 1) has a mean
absolute error <= 5 % and a max error <= 15 % of the demonstrated action range.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from dp_core.data.dataset import DataConfig
from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_model import DiffusionModelConfig
from dp_core.policy.inference import Policy
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.training.config import Config, TrainConfig
from dp_core.training.trainer import Trainer

K = np.array([[1.0, 0.5], [-0.3, 1.2]])
DT = 0.2
STEPS = 16
SPEC = PolicySpec(
    obs=(ObsKeySpec("state", "low_dim", (2,)),), action_dim=2, n_obs_steps=2, horizon=8, n_action_steps=4, dt_s=DT
)


def rollout(s0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    states, actions = [s0], []
    for _ in range(STEPS):
        actions.append(-K @ states[-1])
        states.append(states[-1] + DT * actions[-1])
    return np.array(states[:-1], np.float32), np.array(actions, np.float32)


@pytest.mark.slow
def test_policy_recovers_the_linear_feedback_law(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer.create(tmp_path / "lin.zarr")
    all_actions = []
    for _ in range(80):
        states, actions = rollout(rng.uniform(-1, 1, size=2))
        buffer.add_episode({"state": states, "action": actions})
        all_actions.append(actions)
    buffer.close()
    action_range = np.ptp(np.concatenate(all_actions), axis=0)

    config = Config(
        policy=DiffusionModelConfig(
            spec=SPEC, unet=UNetConfig(down_dims=(32, 64), diffusion_step_embed_dim=16), num_inference_steps=16
        ),
        data=DataConfig(path=str(tmp_path / "lin.zarr"), obs_sources={"state": "state"}, val_ratio=0.0),
        train=TrainConfig(
            seed=0,
            batch_size=32,
            max_steps=1000,
            lr=1e-3,
            warmup_steps=50,
            val_every=0,
            checkpoint_every=0,
            output_dir=tmp_path / "run",
        ),
    )
    trainer = Trainer(config)
    trainer.fit()
    trainer.close()
    policy = Policy.from_checkpoint(tmp_path / "run", device="cpu", precision="fp32")

    errors = []
    test_rng = np.random.default_rng(123)
    for i in range(30):
        states, actions = rollout(test_rng.uniform(-0.9, 0.9, size=2))
        t = int(test_rng.integers(1, STEPS))
        plan = policy.predict({"state": states[t - 1 : t + 1]}, seed=i)
        errors.append(np.abs(plan.actions[plan.aligned_index] - actions[t]) / action_range)
    errors = np.array(errors)
    assert errors.mean() <= 0.05, f"mean error {errors.mean():.3f} of the action range (tolerance 0.05)"
    assert errors.max() <= 0.15, f"max error {errors.max():.3f} of the action range (tolerance 0.15)"
