"""The diffusion policy: normalizer + observation encoder + denoiser + noise schedule.

Shape letters: B batch, T frames (n_obs_steps), H horizon, A action_dim, F feature dim.

Training (``compute_loss``) and sampling (``sample``) share the normalization and observation
encoding; the observations of a chunk are encoded once, and with the U-Net the observation part
of every FiLM layer is computed once too (``cond_cache``), not once per denoising step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dp_core.data.normalizer import Normalizer
from dp_core.diffusion.sampling import sample_actions
from dp_core.diffusion.schedules import DDIMScheduler, DDPMScheduler, NoiseScheduleConfig
from dp_core.models import build_denoiser
from dp_core.models.obs_encoder import EncoderConfig, ObservationEncoder
from dp_core.models.transformer import TransformerConfig
from dp_core.models.unet1d import UNetConfig
from dp_core.spec import PolicySpec

log = logging.getLogger(__name__)

ACTION_KEY = "action"


@dataclass
class DiffusionModelConfig:
    """Everything needed to rebuild a policy's modules (saved in every checkpoint).

    Attributes:
        spec: observation keys, action dim, horizon and timing.
        denoiser: "unet" (the paper's CNN variant) or "transformer".
        unet: U-Net architecture (used when denoiser == "unet").
        transformer: transformer architecture (used when denoiser == "transformer").
        encoder: observation encoder (cameras; low-dim keys are concatenated).
        noise: training noise schedule (DDPM steps, beta schedule, prediction type, clipping).
        num_inference_steps: DDIM steps at inference; None runs the full DDPM chain.
    """

    spec: PolicySpec
    denoiser: Literal["unet", "transformer"] = "unet"
    unet: UNetConfig = field(default_factory=UNetConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    noise: NoiseScheduleConfig = field(default_factory=NoiseScheduleConfig)
    num_inference_steps: int | None = 16

    def __post_init__(self) -> None:
        if isinstance(self.spec, Mapping):
            self.spec = PolicySpec.from_dict(self.spec)
        if self.denoiser not in ("unet", "transformer"):
            raise ValueError(f"policy.denoiser must be 'unet' or 'transformer', got {self.denoiser!r}")
        if self.denoiser == "unet" and self.spec.horizon % self.unet.downsample_factor:
            raise ValueError(
                f"spec.horizon ({self.spec.horizon}) must be divisible by {self.unet.downsample_factor} "
                f"for unet.down_dims {list(self.unet.down_dims)}; change the horizon or the number of levels"
            )
        n_train = self.noise.num_train_timesteps
        if self.num_inference_steps is not None and not 1 <= self.num_inference_steps <= n_train:
            raise ValueError(
                f"policy.num_inference_steps must be in [1, {n_train}] or null (full DDPM), "
                f"got {self.num_inference_steps}"
            )

    @property
    def denoiser_config(self) -> UNetConfig | TransformerConfig:
        return self.unet if self.denoiser == "unet" else self.transformer


def make_inference_scheduler(
    noise: NoiseScheduleConfig, num_inference_steps: int | None
) -> DDPMScheduler | DDIMScheduler:
    """DDIM with ``num_inference_steps`` steps, or the full DDPM chain when None."""
    if num_inference_steps is None:
        return DDPMScheduler(noise)
    return DDIMScheduler(noise)


class DiffusionModel(nn.Module):
    """Maps observation windows to action chunks by iterative denoising."""

    def __init__(self, config: DiffusionModelConfig) -> None:
        super().__init__()
        self.config = config
        self.spec = config.spec
        self.normalizer = Normalizer()
        self.encoder = ObservationEncoder(config.spec, config.encoder)
        self.denoiser = build_denoiser(
            config.denoiser,
            config.denoiser_config,
            action_dim=config.spec.action_dim,
            obs_feature_dim=self.encoder.feature_dim,
            n_obs_steps=config.spec.n_obs_steps,
            horizon=config.spec.horizon,
        )
        self.train_scheduler = DDPMScheduler(config.noise)
        self.num_inference_steps = config.num_inference_steps
        self.inference_scheduler = make_inference_scheduler(config.noise, config.num_inference_steps)

    def set_num_inference_steps(self, num_inference_steps: int | None) -> None:
        """Switch between DDIM with N steps and full DDPM (None) without touching weights."""
        DiffusionModelConfig(
            spec=self.spec,
            denoiser=self.config.denoiser,
            unet=self.config.unet,
            transformer=self.config.transformer,
            encoder=self.config.encoder,
            noise=self.config.noise,
            num_inference_steps=num_inference_steps,
        )  # validates
        self.num_inference_steps = num_inference_steps
        self.inference_scheduler = make_inference_scheduler(self.config.noise, num_inference_steps)

    def encode_observations(self, obs: Mapping[str, Tensor]) -> Tensor:
        """obs: {key: (B, T', ...)} unnormalized, T' >= n_obs_steps -> features (B, T, F).

        Only the first n_obs_steps frames are used (the dataset's window convention).
        """
        n_obs = self.spec.n_obs_steps
        normalized = {}
        for key_spec in self.spec.obs:
            if key_spec.name not in obs:
                raise KeyError(f"observation key '{key_spec.name}' missing (got {sorted(obs)})")
            normalized[key_spec.name] = self.normalizer.normalize(key_spec.name, obs[key_spec.name][:, :n_obs])
        return self.encoder(normalized)

    def compute_loss(self, batch: Mapping[str, Mapping[str, Tensor] | Tensor]) -> Tensor:
        """batch: {"obs": {key: (B, T', ...)}, "action": (B, H, A)} -> scalar MSE denoising loss."""
        features = self.encode_observations(batch["obs"])  # type: ignore[arg-type]
        action = self.normalizer.normalize(ACTION_KEY, batch["action"])  # type: ignore[arg-type]
        noise = torch.randn_like(action)
        steps = self.train_scheduler.sample_timesteps(action.shape[0], device=action.device)
        noisy = self.train_scheduler.add_noise(action, noise, steps)
        prediction = self.denoiser(noisy, steps, features)
        target = self.train_scheduler.training_target(action, noise)
        return F.mse_loss(prediction.float(), target.float())

    def forward(self, batch: Mapping[str, Mapping[str, Tensor] | Tensor]) -> Tensor:
        """The training loss (so DistributedDataParallel's forward hooks see it)."""
        return self.compute_loss(batch)

    def make_denoise_fn(self, features: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        """Closure ``(x_t, t) -> prediction`` with the observation conditioning encoded once.

        The chain itself runs in float32; when the denoiser holds bfloat16 weights only its input
        and output are cast, so the scheduler arithmetic keeps full precision. A fast inference form
        (``fast_inference.py``) declares ``input_dtype`` and casts internally.
        """
        dtype = getattr(self.denoiser, "input_dtype", None) or next(self.denoiser.parameters()).dtype
        features = features.to(dtype)
        if hasattr(self.denoiser, "encode_condition"):
            cache = self.denoiser.encode_condition(features)
            return lambda x_t, t: self.denoiser(x_t.to(dtype), t, cond_cache=cache).float()
        return lambda x_t, t: self.denoiser(x_t.to(dtype), t, features).float()

    def sample(
        self,
        obs: Mapping[str, Tensor],
        generator: torch.Generator | None = None,
        init_actions: Tensor | None = None,
        init_noise_level: float | None = None,
        noise: Tensor | None = None,
    ) -> Tensor:
        """obs: {key: (B, T', ...)} unnormalized -> actions (B, H, A), unnormalized, float32.

        ``init_actions`` (B, H, A, unnormalized) warm-starts the chain from a partially re-noised
        previous plan (``init_noise_level`` in (0, 1]: fraction of the schedule re-run).
        ``noise`` (B, H, A, normalized units) is the initial noise instead of a draw from ``generator``.
        """
        features = self.encode_observations(obs)
        batch = features.shape[0]
        init = None
        if init_actions is not None:
            init = self.normalizer.normalize(ACTION_KEY, init_actions.to(features.device, torch.float32))
        actions = sample_actions(
            self.make_denoise_fn(features),
            self.inference_scheduler,
            (batch, self.spec.horizon, self.spec.action_dim),
            num_inference_steps=self.num_inference_steps or self.config.noise.num_train_timesteps,
            generator=generator,
            device=features.device,
            dtype=torch.float32,
            init_actions=init,
            init_noise_level=init_noise_level,
            noise=noise,
        )
        return self.normalizer.unnormalize(ACTION_KEY, actions.float())
