"""Inference API used by the nodes: load a checkpoint, turn an observation window into a chunk.

``Policy.predict`` takes the numpy observation window of ``dp_core.spec`` (low-dim (T, D)
float32, images (T, H, W, 3) uint8 RGB) and returns the chunk the executor consumes
(:class:`dp_core.control.action_chunk.ActionChunkData`, unnormalized units, on the window's clock). Fast path: ``torch.inference_mode``, observations encoded once per chunk (the denoiser's
condition cache), preallocated input tensors, and optionally a reduced-precision denoiser (int8
weight-only, or bfloat16; see ``fast_inference.py``).

Precision is never chosen by timing (a robot's behaviour must not depend on machine load):
``fp32`` is the default; ``int8``/``bf16`` are explicit choices; ``auto`` takes the first of
:func:`precision_candidates` (the machine's capabilities) whose chunk is within
``PRECISION_TOLERANCE`` of fp32 for fixed inputs and noise, so the same checkpoint on the same
machine and torch build gets the same precision on every load.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from dp_core.control.action_chunk import ActionChunkData
from dp_core.models.unet1d import ConditionalUnet1D
from dp_core.policy.device import resolve_device
from dp_core.policy.diffusion_model import ACTION_KEY, DiffusionModel, DiffusionModelConfig
from dp_core.policy.fast_inference import convert_denoiser, int8_kernel_available, native_bf16_supported
from dp_core.policy.window_input import CheckedWindow, checked_window
from dp_core.spec import PolicySpec
from dp_core.time_units import NS_PER_S
from dp_core.training.checkpoint import WEIGHTS_FILE, load_config_dict, load_policy_weights, resolve_checkpoint_dir
from dp_core.training.config import from_dict

log = logging.getLogger(__name__)

Precision = Literal["fp32", "bf16", "int8", "auto"]
#: Max relative difference of a reduced-precision chunk vs the fp32 chunk for the same noise:
#: max |a - a_fp32| / max |a_fp32| over the chunk, in normalized action units.
PRECISION_TOLERANCE = 1e-2


def make_chunk(
    spec: PolicySpec, actions: np.ndarray, stamp_ns: int, inference_ms: float, sequence: int = 0, policy_id: str = ""
) -> ActionChunkData:
    """The chunk for ``actions`` predicted from an observation whose newest frame is at ``stamp_ns``.

    Action ``n_obs_steps - 1`` is aligned with that frame (the original's convention), so action 0
    is due ``(n_obs_steps - 1) * dt_s`` earlier; ``n_action_steps`` are meant to run before replanning.
    """
    aligned = spec.n_obs_steps - 1
    return ActionChunkData(
        stamp_ns=int(stamp_ns),
        start_ns=int(stamp_ns) - round(aligned * spec.dt_s * NS_PER_S),
        dt_s=float(spec.dt_s),
        action_names=spec.action_names,
        actions=actions,
        execute_steps=spec.n_action_steps,
        sequence=sequence,
        policy_id=policy_id,
        inference_ms=inference_ms,
    )


def _relative_difference(a: Tensor, reference: Tensor) -> float:
    return float((a - reference).abs().max() / reference.abs().max().clamp(min=1e-6))


class Policy:
    """A loaded diffusion policy ready for ``predict``."""

    def __init__(
        self,
        model: DiffusionModel,
        device: str | torch.device = "auto",
        precision: Precision = "fp32",
        policy_id: str = "unnamed",
        warm_start_noise_level: float = 0.5,
    ) -> None:
        if precision not in ("fp32", "bf16", "int8", "auto"):
            raise ValueError(f"precision must be 'fp32', 'bf16', 'int8' or 'auto', got {precision!r}")
        if not 0 < warm_start_noise_level <= 1:
            raise ValueError(f"warm_start_noise_level must be in (0, 1], got {warm_start_noise_level}")
        self.device = _pick_device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.policy_id = policy_id
        self.warm_start_noise_level = warm_start_noise_level
        self._rng = np.random.default_rng()
        self._inputs = self._allocate_inputs()
        self._rgb_names = {k.name for k in self.spec.rgb_keys}
        #: Accuracy check per tried precision: {"int8"|"bf16": {"rel_diff": chunk vs fp32}}.
        self.precision_check: dict[str, dict[str, float]] = {}
        self.precision = self._choose_precision(precision)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "auto",
        num_inference_steps: int | Literal["ddpm"] | None = None,
        precision: Precision = "fp32",
    ) -> Policy:
        """Load a checkpoint (step directory, or run directory → its ``latest``).

        Args:
            num_inference_steps: DDIM steps; None keeps the checkpoint's setting, "ddpm" runs the
                full DDPM chain.
        """
        ckpt_dir = resolve_checkpoint_dir(path)
        tree = load_config_dict(ckpt_dir)
        config = from_dict(DiffusionModelConfig, tree["policy"], "policy")
        model = DiffusionModel(config)
        load_policy_weights(model, ckpt_dir)
        if num_inference_steps is not None:
            model.set_num_inference_steps(None if num_inference_steps == "ddpm" else int(num_inference_steps))
        digest = hashlib.sha256((ckpt_dir / WEIGHTS_FILE).read_bytes()).hexdigest()[:12]
        policy_id = f"{ckpt_dir.parent.name}/{ckpt_dir.name}@{digest}"
        log.info("loaded policy %s from %s", policy_id, ckpt_dir)
        return cls(model, device=device, precision=precision, policy_id=policy_id)

    @property
    def spec(self) -> PolicySpec:
        return self.model.spec

    def _allocate_inputs(self) -> dict[str, Tensor]:
        n_obs = self.spec.n_obs_steps
        return {
            k.name: torch.zeros((1, n_obs, *k.shape), dtype=torch.float32, device=self.device) for k in self.spec.obs
        }

    # ---- precision self-check ----

    def _choose_precision(self, precision: Precision) -> str:
        """fp32, or a reduced-precision denoiser whose chunk is accurate enough; never by timing.

        Candidates: the requested one, or for "auto" :func:`precision_candidates` in their fixed
        order. Each is kept only if its chunk for the reference inputs and seed-0 noise is within
        ``PRECISION_TOLERANCE`` of the fp32 chunk; "auto" takes the first that is. The check runs
        on one CPU thread so its figures do not depend on the thread count; the choice is logged.
        """
        if precision == "fp32":
            log.info("precision fp32 (requested)")
            return "fp32"
        candidates = [precision] if precision != "auto" else precision_candidates(self.device, self.model.denoiser)
        if not candidates:
            log.info("precision auto -> fp32: no reduced precision is supported for this denoiser on %s", self.device)
            return "fp32"
        original = self.model.denoiser
        num_train = self.model.config.noise.num_train_timesteps
        obs = self._reference_observation()
        with _one_cpu_thread(self.device):
            fp32_actions = self._reference_sample(obs)
            chosen = "fp32"
            for candidate in candidates:
                try:
                    self.model.denoiser = convert_denoiser(original, candidate, num_train)  # type: ignore[assignment]
                except ValueError as error:
                    log.warning("precision %s unavailable: %s", candidate, error)
                    continue
                difference = _relative_difference(
                    self._normalized(self._reference_sample(obs)), self._normalized(fp32_actions)
                )
                self.precision_check[candidate] = {"rel_diff": difference}
                log.info(
                    "precision %s: %s chunk differs from fp32 by %.2e relative (tolerance %.0e)",
                    precision,
                    candidate,
                    difference,
                    PRECISION_TOLERANCE,
                )
                if difference <= PRECISION_TOLERANCE:
                    chosen = candidate
                    break
        self.model.denoiser = original if chosen == "fp32" else self.model.denoiser
        if precision not in ("auto", chosen):
            log.warning(
                "%s requested but unavailable or its chunk differs from fp32 by more than %.0e; using fp32",
                precision,
                PRECISION_TOLERANCE,
            )
        log.info(
            "precision %s -> %s (candidates %s on %s, chosen by accuracy only)",
            precision,
            chosen,
            candidates,
            self.device,
        )
        return chosen

    def _normalized(self, actions: Tensor) -> Tensor:
        return self.model.normalizer.normalize(ACTION_KEY, actions)

    def _reference_observation(self) -> dict[str, Tensor]:
        """Mid-range inputs: normalized zero for every key (the middle of the training data)."""
        obs = {}
        for key in self.spec.obs:
            zero = torch.zeros((1, self.spec.n_obs_steps, *key.shape), device=self.device)
            obs[key.name] = self.model.normalizer.unnormalize(key.name, zero)
        return obs

    @torch.inference_mode()
    def _reference_sample(self, obs: dict[str, Tensor]) -> Tensor:
        return self.model.sample(obs, torch.Generator(self.device).manual_seed(0))

    # ---- prediction ----

    def _load_inputs(self, window: CheckedWindow) -> dict[str, Tensor]:
        """Copy the checked numpy window into the preallocated input tensors."""
        for key, value in window.arrays.items():
            tensor = torch.from_numpy(value)
            if key in self._rgb_names:
                tensor = tensor.permute(0, 3, 1, 2).float().div_(255.0)
            self._inputs[key][0].copy_(tensor)
        return self._inputs

    @torch.inference_mode()
    def predict(
        self,
        observation: Any,
        seed: int | None = None,
        warm_start: ActionChunkData | None = None,
        executed_steps: int = 0,
        noise: np.ndarray | Tensor | None = None,
        sequence: int = 0,
    ) -> ActionChunkData:
        """Observation window -> action chunk.

        Args:
            observation: a ``CheckedWindow`` (not checked again), an ``ObservationWindowData``-like
                object (``.low_dim``, ``.images``, optional ``.stamps_ns``), a mapping with
                "low_dim"/"images" dicts, or a flat mapping {key: array}. Without stamps the
                newest frame is time 0.
            seed: seeds the sampling noise (same seed, same observation -> same chunk).
            warm_start: the previous chunk; its actions shifted by ``executed_steps`` are re-noised
                partially and denoised instead of starting from pure noise.
            noise: initial noise (horizon, action_dim) in normalized action units instead of a
                seeded draw; with DDIM (eta 0) the chunk is then a deterministic function of it.
            sequence: the chunk's sequence number (the policy node counts per activation).
        """
        start = time.perf_counter()
        window = checked_window(self.spec, observation)
        obs = self._load_inputs(window)
        if seed is None:
            seed = int(self._rng.integers(0, 2**63 - 1))
        generator = torch.Generator(self.device).manual_seed(int(seed))
        init = None
        if warm_start is not None:
            shifted = warm_start.shifted(executed_steps)
            expected = (self.spec.horizon, self.spec.action_dim)
            if shifted.shape != expected:
                raise ValueError(f"warm_start actions must have shape {expected}, got {shifted.shape}")
            init = torch.from_numpy(np.ascontiguousarray(shifted, dtype=np.float32)).to(self.device)[None]
        actions = self.model.sample(
            obs,
            generator,
            init_actions=init,
            init_noise_level=self.warm_start_noise_level if init is not None else None,
            noise=self._initial_noise(noise),
        )
        return make_chunk(
            self.spec,
            actions[0].float().cpu().numpy(),
            window.stamp_ns,
            1e3 * (time.perf_counter() - start),
            sequence,
            self.policy_id,
        )

    def _initial_noise(self, noise: np.ndarray | Tensor | None) -> Tensor | None:
        """The given (horizon, action_dim) initial noise as a (1, H, A) float32 tensor, checked."""
        if noise is None:
            return None
        expected = (self.spec.horizon, self.spec.action_dim)
        tensor = torch.as_tensor(noise, dtype=torch.float32)
        if tuple(tensor.shape) != expected or not bool(torch.isfinite(tensor).all()):
            raise ValueError(
                f"noise must be finite with shape {expected} (horizon, action_dim), got shape {tuple(tensor.shape)}"
            )
        return tensor.to(self.device)[None]

    def warmup(self, runs: int = 2) -> None:
        """Run a few predictions on mid-range inputs so the first real one is not slow."""
        obs = self._reference_observation()
        with torch.inference_mode():
            for _ in range(runs):
                self.model.sample(obs, torch.Generator(self.device).manual_seed(0))


def _pick_device(device: str | torch.device) -> torch.device:
    return resolve_device(device)


def precision_candidates(device: torch.device, denoiser: nn.Module) -> list[str]:
    """Reduced precisions "auto" may use here, most preferred first: capabilities only, no timing.

    CUDA: bf16 when the GPU supports it. CPU: int8 (U-Net with torch's int8 kernel: it quarters
    the bytes a bandwidth-bound batch-1 step reads), then bf16 where the CPU has it natively.
    """
    if device.type == "cuda":
        with torch.cuda.device(device):
            return ["bf16"] if torch.cuda.is_bf16_supported() else []
    candidates = []
    if isinstance(denoiser, ConditionalUnet1D) and int8_kernel_available():
        candidates.append("int8")
    if native_bf16_supported():
        candidates.append("bf16")
    return candidates


@contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """One intra-op thread on a CPU (reductions in one order), restored afterwards."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
