"""A tiny but real checkpoint for tests and benchmarks: a generated zarr, a few dp_core training steps.

The checkpoint goes through the same code as a real one (ReplayBuffer → SequenceDataset →
Trainer → save_checkpoint → Policy.from_checkpoint); only the sizes are small so that it trains
in seconds on a CPU. torch and the training code are imported only when this is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dp_core.spec import ObsKeySpec, PolicySpec


def tiny_spec(
    cameras: dict[str, tuple[int, int]] | None = None,
    joint_names: tuple[str, ...] = ("j1", "j2", "j3"),
    joint_key: str = "joint_pos",
    horizon: int = 8,
    n_obs_steps: int = 2,
    n_action_steps: int = 4,
    dt_s: float = 0.1,
) -> PolicySpec:
    """Cameras (name → (H, W)) + one joint-position key → joint actions named like the joints."""
    obs = [ObsKeySpec(name, "rgb", (3, h, w)) for name, (h, w) in (cameras or {}).items()]
    obs.append(ObsKeySpec(joint_key, "low_dim", (len(joint_names),)))
    return PolicySpec(
        obs=tuple(obs),
        action_dim=len(joint_names),
        action_names=joint_names,
        n_obs_steps=n_obs_steps,
        horizon=horizon,
        n_action_steps=n_action_steps,
        dt_s=dt_s,
    )


def write_demo_zarr(
    path: Path, spec: PolicySpec, episodes: int = 3, length: int = 24, seed: int = 0, center: Sequence[float] = ()
) -> Path:
    """Smooth random joint trajectories (from ``center``, default 0); action = next joint position;
    images shade with the first joint."""
    from dp_core.data.replay_buffer import ReplayBuffer

    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer.create(path)
    joint_key = spec.low_dim_keys[0]
    dim = joint_key.shape[0]
    for _ in range(episodes):
        q = np.cumsum(rng.normal(0, 0.05, (length + 1, dim)), axis=0)
        q = (q + (np.asarray(center, float) if len(center) else 0.0)).astype(np.float32)
        episode: dict[str, np.ndarray] = {joint_key.name: q[:-1], "action": q[1:]}
        for cam in spec.rgb_keys:
            shade = np.clip(128 + 100 * q[:-1, 0], 0, 255).astype(np.uint8)
            episode[cam.name] = np.broadcast_to(
                shade[:, None, None, None], (length, cam.shape[1], cam.shape[2], 3)
            ).copy()
        buffer.add_episode(episode)
    return path


def train_tiny(spec: PolicySpec, data: Any, run_dir: Path, steps: int = 2, seed: int = 0) -> Path:
    """Train ``steps`` CPU steps of a small U-Net policy for ``spec`` on ``data`` (a DataConfig) with the
    real training code; returns ``run_dir`` (``latest`` inside)."""
    from dp_core.models.obs_encoder import EncoderConfig
    from dp_core.models.unet1d import UNetConfig
    from dp_core.policy.diffusion_model import DiffusionModelConfig
    from dp_core.training.config import Config, TrainConfig
    from dp_core.training.trainer import Trainer

    policy = DiffusionModelConfig(
        spec=spec,
        unet=UNetConfig(down_dims=(32, 64), n_groups=8, diffusion_step_embed_dim=32),
        encoder=EncoderConfig(crop_shape=None, num_keypoints=8, feature_dim_per_camera=16),
        num_inference_steps=4,
    )
    train = TrainConfig(
        seed=seed,
        batch_size=4,
        max_steps=steps,
        num_epochs=None,
        warmup_steps=0,
        device="cpu",
        val_every=0,
        checkpoint_every=0,
        log_every=1,
        output_dir=run_dir,
    )
    trainer = Trainer(Config(policy=policy, data=data, train=train))
    try:
        trainer.fit()
    finally:
        trainer.close()
    return Path(run_dir)


def make_tiny_checkpoint(
    out_dir: Path, spec: PolicySpec, steps: int = 2, seed: int = 0, center: Sequence[float] = ()
) -> Path:
    """Train ``steps`` CPU steps of a small U-Net policy on data around ``center`` (joint positions, default 0);
    returns the run directory (``latest`` inside)."""
    from dp_core.data.dataset import DataConfig, ObsSource

    out_dir = Path(out_dir)
    data = write_demo_zarr(out_dir / "demo.zarr", spec, seed=seed, center=center)
    sources = {k.name: ObsSource.parse(k.name) for k in spec.obs}
    return train_tiny(
        spec, DataConfig(path=str(data), obs_sources=sources, val_ratio=0.0, seed=seed), out_dir / "run", steps, seed
    )
