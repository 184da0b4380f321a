"""Inference and training speed of the diffusion policy, against an original-like baseline in one run.

Baseline ("original-like"): the same architecture run as the original ``predict_action`` does: a
plain fp32 eager loop under ``torch.no_grad`` that feeds the observation features to the U-Net at
every denoising step (its FiLM observation projection recomputed per step), no reduced precision,
no ``inference_mode``. Training baseline: fp32 loss + backward + AdamW (reference for-loop
implementation, the CPU default) + the original's per-parameter EMA loop.

Ours: ``Policy.predict`` (inference_mode, condition cache, preallocated inputs, and the precision
``precision="auto"`` picks: int8 weight-only, else native bf16, the first within 1e-2 of fp32;
never by timing; see ``dp_core/policy/inference.py``); training with the trainer's fused AdamW and fused EMA.
Baseline and ours are timed alternately (same load), and ratios use the minimum times.

Accuracy: ``max_rel_diff_vs_fp32`` = max |a - a_fp32| / max |a_fp32| over the chunk in normalized
action units, same noise. The bench model has random weights (a pessimistic case for reduced
precision: the untrained chain amplifies early differences); ``--fit-steps N`` first fits it for N
small-batch AdamW steps on a synthetic task to give "trained-ish" weights (minutes on a small CPU),
``--checkpoint`` measures a real checkpoint. ``int8_*`` keys always report the int8 form, even when
the accuracy check rejects it.

Usage: python benchmarks/bench_inference.py --preset pusht_lowdim|pusht_image2cam [--json] [--device auto]
The last line printed is one JSON object. Timings on a shared machine are noisy; compare ratios.
``train_b256_samples_per_s`` is measured at ``train_batch``: 256 on CUDA; on CPU 64 (pusht_lowdim)
or 16 (image preset) by default so that the run finishes in minutes; pass --train-batch 256.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import logging
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from dp_core.diffusion.sampling import sample_actions
from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.policy.fast_inference import convert_denoiser
from dp_core.policy.inference import Policy
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.training.checkpoint import load_config_dict, load_policy_weights, resolve_checkpoint_dir
from dp_core.training.config import from_dict
from dp_core.training.ema import EMAModel
from dp_core.training.trainer import make_optimizer


def preset_config(name: str) -> DiffusionModelConfig:
    """The paper's Push-T low-dim U-Net, or a two-camera 96x96 image policy."""
    if name == "pusht_lowdim":
        spec = PolicySpec(
            obs=(ObsKeySpec("keypoint", "low_dim", (18,)), ObsKeySpec("agent_pos", "low_dim", (2,))),
            action_dim=2,
            n_obs_steps=2,
            horizon=16,
            n_action_steps=8,
        )
        return DiffusionModelConfig(
            spec=spec, unet=UNetConfig(down_dims=(256, 512, 1024), diffusion_step_embed_dim=256)
        )
    if name == "pusht_image2cam":
        spec = PolicySpec(
            obs=(
                ObsKeySpec("cam_a", "rgb", (3, 96, 96)),
                ObsKeySpec("cam_b", "rgb", (3, 96, 96)),
                ObsKeySpec("agent_pos", "low_dim", (2,)),
            ),
            action_dim=2,
            n_obs_steps=2,
            horizon=16,
            n_action_steps=8,
        )
        return DiffusionModelConfig(
            spec=spec,
            unet=UNetConfig(down_dims=(256, 512, 1024), diffusion_step_embed_dim=128),
            encoder=EncoderConfig(crop_shape=(84, 84)),
        )
    raise ValueError(f"unknown preset {name!r}; use pusht_lowdim or pusht_image2cam")


def build_model(config: DiffusionModelConfig) -> DiffusionModel:
    torch.manual_seed(0)
    model = DiffusionModel(config)
    rng = np.random.default_rng(0)
    data = {k.name: rng.uniform(0, 512, size=(1000, k.shape[0])).astype(np.float32) for k in config.spec.low_dim_keys}
    data["action"] = rng.uniform(0, 512, size=(1000, config.spec.action_dim)).astype(np.float32)
    kinds = {key: "low_dim" for key in data} | {k.name: "rgb" for k in config.spec.rgb_keys}
    model.normalizer.fit(data, kinds)
    return model


def random_window(spec: PolicySpec) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    return {
        "low_dim": {
            k.name: rng.uniform(0, 512, size=(spec.n_obs_steps, k.shape[0])).astype(np.float32)
            for k in spec.low_dim_keys
        },
        "images": {
            k.name: rng.integers(0, 256, size=(spec.n_obs_steps, k.shape[1], k.shape[2], 3), dtype=np.uint8)
            for k in spec.rgb_keys
        },
    }


def window_tensors(window: dict[str, dict[str, np.ndarray]], device: torch.device) -> dict[str, torch.Tensor]:
    obs = {k: torch.from_numpy(v)[None].to(device) for k, v in window["low_dim"].items()}
    for k, v in window["images"].items():
        obs[k] = torch.from_numpy(v).permute(0, 3, 1, 2)[None].float().div(255).to(device)
    return obs


def baseline_chunk(model: DiffusionModel, obs: dict[str, torch.Tensor], steps: int | None, seed: int) -> torch.Tensor:
    """Original-like predict_action: fp32, no_grad, obs features fed to the U-Net at every step."""
    with torch.no_grad():
        features = model.encode_observations(obs)
        generator = torch.Generator(features.device).manual_seed(seed)
        actions = sample_actions(
            lambda x, t: model.denoiser(x, t, features),
            model.inference_scheduler,
            (1, model.spec.horizon, model.spec.action_dim),
            num_inference_steps=steps or model.config.noise.num_train_timesteps,
            generator=generator,
            device=features.device,
            dtype=torch.float32,
        )
        return model.normalizer.unnormalize("action", actions)


def timed(
    fns: dict[str, Callable[[], object]], repeats: int, sync: Callable[[], None], warmup: bool = True
) -> dict[str, dict[str, float]]:
    """Median and min wall time in ms of each fn over ``repeats`` rounds, run alternately."""
    if warmup:
        for fn in fns.values():
            fn()
        sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(1e3 * (time.perf_counter() - start))
    return {name: {"median": round(statistics.median(t), 2), "min": round(min(t), 2)} for name, t in times.items()}


def synthetic_batch(spec: PolicySpec, batch_size: int, device: torch.device) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    obs = {k.name: torch.rand((batch_size, spec.n_obs_steps, *k.shape), generator=gen).to(device) for k in spec.obs}
    for k in spec.low_dim_keys:
        obs[k.name] = obs[k.name] * 512
    action = (torch.rand((batch_size, spec.horizon, spec.action_dim), generator=gen) * 512).to(device)
    return {"obs": obs, "action": action}


@torch.no_grad()
def original_ema_step(ema_model: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """The original EMAModel.step: a Python loop over modules and parameters, two kernels each."""
    for module, ema_module in zip(model.modules(), ema_model.modules()):
        for param, ema_param in zip(module.parameters(recurse=False), ema_module.parameters(recurse=False)):
            if isinstance(module, _BatchNorm) or not param.requires_grad:
                ema_param.copy_(param.to(dtype=ema_param.dtype).data)
            else:
                ema_param.mul_(decay)
                ema_param.add_(param.data.to(dtype=ema_param.dtype), alpha=1 - decay)


def train_step_fns(
    config: DiffusionModelConfig, batch_size: int, device: torch.device
) -> dict[str, Callable[[], None]]:
    """One training step each: baseline (reference AdamW + original EMA loop) and ours (trainer's)."""
    fns = {}
    for name in ("baseline", "ours"):
        model = build_model(config).to(device).train()
        batch = synthetic_batch(config.spec, batch_size, device)
        if name == "baseline":
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6)
            ema_model = copy.deepcopy(model).eval().requires_grad_(False)
            ema_update: Callable[[], None] = functools.partial(original_ema_step, ema_model, model, 0.999)
        else:
            optimizer = make_optimizer(model, lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6)
            ema = EMAModel(model)
            ema_update = functools.partial(ema.step, model)

        def step(model=model, batch=batch, optimizer=optimizer, ema_update=ema_update) -> None:
            loss = model.compute_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema_update()

        fns[name] = step
    return fns


def fit_trained_ish(model: DiffusionModel, steps: int, batch_size: int = 16) -> float:
    """A few AdamW steps on a synthetic smooth task (actions linear in the state): 'trained-ish' weights."""
    spec = model.spec
    gen = torch.Generator().manual_seed(1)
    state_dim = sum(k.shape[0] for k in spec.low_dim_keys)
    gain = torch.randn(state_dim, spec.action_dim, generator=gen) * 0.1
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        batch = synthetic_batch(spec, batch_size, torch.device("cpu"))
        batch["obs"] = {k: v[torch.randperm(batch_size, generator=gen)] for k, v in batch["obs"].items()}
        state = torch.cat([batch["obs"][k.name][:, -1] for k in spec.low_dim_keys], dim=1)
        target = (256 + (state - 256) @ gain).clamp(0, 512)
        batch["action"] = target[:, None, :].expand(-1, spec.horizon, -1).contiguous()
        loss = model.compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    return float(loss.detach())


def _sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def chunk_difference(policy: Policy, window: dict, reference: torch.Tensor) -> float:
    """max |a - a_ref| / max |a_ref| in normalized action units (same seed, same observation)."""
    norm = policy.model.normalizer
    ours = norm.normalize("action", torch.from_numpy(policy.predict(window, seed=0).actions))
    ref = norm.normalize("action", reference[0].cpu())
    return round(float((ours - ref).abs().max() / ref.abs().max()), 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pusht_lowdim", choices=["pusht_lowdim", "pusht_image2cam"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="(the JSON line is always printed last)")
    parser.add_argument("--repeats", type=int, default=4, help="timed DDIM-16 rounds per path")
    parser.add_argument("--ddpm-repeats", type=int, default=1, help="timed DDPM-100 rounds (no warm-up)")
    parser.add_argument("--train-steps", type=int, default=2, help="timed training steps per path (after 1 warm-up)")
    parser.add_argument(
        "--train-batch",
        type=int,
        default=None,
        help="default 256 (64 for pusht_lowdim, 16 for the image preset on CPU, where 256 "
        "takes tens of seconds per step)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--fit-steps", type=int, default=0, help="fit the bench model first (trained-ish weights)")
    parser.add_argument("--checkpoint", default=None, help="measure this checkpoint instead of the preset model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    sync = _sync(device)
    if args.checkpoint:
        config = from_dict(
            DiffusionModelConfig, load_config_dict(resolve_checkpoint_dir(args.checkpoint))["policy"], "policy"
        )
    else:
        config = preset_config(args.preset)
    window = random_window(config.spec)

    baseline = build_model(config)
    if args.checkpoint:
        load_policy_weights(baseline, resolve_checkpoint_dir(args.checkpoint))
    weights = "checkpoint" if args.checkpoint else "random_init"
    result: dict[str, object] = {
        "preset": args.preset,
        "params": sum(p.numel() for p in baseline.parameters()),
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if args.fit_steps:
        result["fit_loss"] = round(fit_trained_ish(baseline, args.fit_steps), 4)
        weights = f"fit_{args.fit_steps}_steps"
    result["weights"] = weights
    baseline = baseline.to(device).eval()
    obs = window_tensors(window, device)
    print(f"preset {args.preset}: {result['params']:,} parameters on {device}, weights {weights}", flush=True)
    fp32_chunk = baseline_chunk(baseline, obs, 16, 0)

    load_start = time.perf_counter()
    policy = Policy(copy.deepcopy(baseline), device=device, precision="auto", policy_id=args.preset)
    result["load_and_self_check_s"] = round(time.perf_counter() - load_start, 2)
    result["precision"] = policy.precision
    result["precision_check"] = policy.precision_check
    result["max_rel_diff_vs_fp32"] = chunk_difference(policy, window, fp32_chunk)
    paths = {"baseline": lambda: baseline_chunk(baseline, obs, 16, 0), "ours": lambda: policy.predict(window, seed=0)}
    int8 = None
    if policy.precision != "int8" and "int8" in policy.precision_check:
        # The int8 form the self-check rejected, timed anyway (no second self-check).
        int8 = Policy(copy.deepcopy(baseline), device=device, precision="fp32", policy_id=args.preset)
        int8.model.denoiser = convert_denoiser(int8.model.denoiser, "int8", config.noise.num_train_timesteps)
        result["int8_max_rel_diff_vs_fp32"] = chunk_difference(int8, window, fp32_chunk)
        paths["int8"] = lambda: int8.predict(window, seed=0)
    elif policy.precision == "int8":
        result["int8_max_rel_diff_vs_fp32"] = result["max_rel_diff_vs_fp32"]
    ddim = timed(paths, args.repeats, sync)
    result["baseline_ddim16_b1_ms"], result["ddim16_b1_ms"] = ddim["baseline"], ddim["ours"]
    if "int8" in ddim:
        result["int8_ddim16_b1_ms"] = ddim["int8"]
    print("ddim16", ddim, policy.precision, flush=True)

    baseline.set_num_inference_steps(None)
    policy.model.set_num_inference_steps(None)
    ddpm = timed(
        {"baseline": lambda: baseline_chunk(baseline, obs, None, 0), "ours": lambda: policy.predict(window, seed=0)},
        args.ddpm_repeats,
        sync,
        warmup=False,
    )
    result["baseline_ddpm100_b1_ms"], result["ddpm100_b1_ms"] = ddpm["baseline"], ddpm["ours"]
    print("ddpm100", ddpm, flush=True)
    policy = int8 = baseline = paths = None  # free them before the next preset

    train_batch = args.train_batch or (256 if device.type == "cuda" else 16 if config.spec.rgb_keys else 64)
    train = timed(train_step_fns(config, train_batch, device), args.train_steps, sync)
    print("train step", train, f"batch {train_batch}", flush=True)
    result["train_batch"] = train_batch
    result["baseline_train_b256_samples_per_s"] = round(1e3 * train_batch / train["baseline"]["min"], 2)
    result["train_b256_samples_per_s"] = round(1e3 * train_batch / train["ours"]["min"], 2)
    result["ratio_ddim16_latency"] = round(ddim["ours"]["min"] / ddim["baseline"]["min"], 3)
    if "int8" in ddim:
        result["ratio_int8_ddim16_latency"] = round(ddim["int8"]["min"] / ddim["baseline"]["min"], 3)
    result["ratio_ddpm100_latency"] = round(ddpm["ours"]["min"] / ddpm["baseline"]["min"], 3)
    result["ratio_train_throughput"] = round(train["baseline"]["min"] / train["ours"]["min"], 3)
    result["bench_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
