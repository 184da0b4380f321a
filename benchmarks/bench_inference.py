"""Inference and training speed of the diffusion policy, against an original-like baseline in one run.

Baseline ("original-like"): the same architecture run as the original ``predict_action`` does: a
plain fp32 eager loop under ``torch.no_grad`` that feeds the observation features to the U-Net at
every denoising step (its FiLM observation projection recomputed per step), no bf16, no
``inference_mode``. Training baseline: fp32 loss + backward + AdamW at batch 256.

Ours: ``Policy.predict`` (inference_mode, condition cache, preallocated inputs, bf16 denoiser weights
when the load-time self-check finds them faster and within 1e-2 of fp32) and training with bf16
autocast when it is faster than fp32 on this machine.

Usage: python benchmarks/bench_inference.py --preset pusht_lowdim|pusht_image2cam [--json] [--device auto]
The last line printed is one JSON object. Timings on a shared machine are noisy; compare ratios.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from dp_core.diffusion.sampling import sample_actions
from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_policy import DiffusionPolicy, PolicyConfig
from dp_core.policy.inference import Policy
from dp_core.spec import ObsKeySpec, PolicySpec


def preset_config(name: str) -> PolicyConfig:
    """The paper's Push-T low-dim U-Net, or a two-camera 96x96 image policy."""
    if name == "pusht_lowdim":
        spec = PolicySpec(obs=(ObsKeySpec("keypoint", "low_dim", (18,)), ObsKeySpec("agent_pos", "low_dim", (2,))),
                          action_dim=2, n_obs_steps=2, horizon=16, n_action_steps=8)
        return PolicyConfig(spec=spec, unet=UNetConfig(down_dims=(256, 512, 1024), diffusion_step_embed_dim=256))
    if name == "pusht_image2cam":
        spec = PolicySpec(obs=(ObsKeySpec("cam_a", "rgb", (3, 96, 96)), ObsKeySpec("cam_b", "rgb", (3, 96, 96)),
                               ObsKeySpec("agent_pos", "low_dim", (2,))),
                          action_dim=2, n_obs_steps=2, horizon=16, n_action_steps=8)
        return PolicyConfig(spec=spec, unet=UNetConfig(down_dims=(256, 512, 1024), diffusion_step_embed_dim=128),
                            encoder=EncoderConfig(crop_shape=(84, 84)))
    raise ValueError(f"unknown preset {name!r}; use pusht_lowdim or pusht_image2cam")


def build_model(config: PolicyConfig) -> DiffusionPolicy:
    torch.manual_seed(0)
    model = DiffusionPolicy(config)
    rng = np.random.default_rng(0)
    data = {k.name: rng.uniform(0, 512, size=(1000, k.shape[0])).astype(np.float32) for k in config.spec.low_dim_keys}
    data["action"] = rng.uniform(0, 512, size=(1000, config.spec.action_dim)).astype(np.float32)
    kinds = {key: "low_dim" for key in data} | {k.name: "rgb" for k in config.spec.rgb_keys}
    model.normalizer.fit(data, kinds)
    return model


def random_window(spec: PolicySpec) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(1)
    return {
        "low_dim": {k.name: rng.uniform(0, 512, size=(spec.n_obs_steps, k.shape[0])).astype(np.float32)
                    for k in spec.low_dim_keys},
        "images": {k.name: rng.integers(0, 256, size=(spec.n_obs_steps, k.shape[1], k.shape[2], 3), dtype=np.uint8)
                   for k in spec.rgb_keys},
    }


def window_tensors(window: dict[str, dict[str, np.ndarray]], device: torch.device) -> dict[str, torch.Tensor]:
    obs = {k: torch.from_numpy(v)[None].to(device) for k, v in window["low_dim"].items()}
    for k, v in window["images"].items():
        obs[k] = torch.from_numpy(v).permute(0, 3, 1, 2)[None].float().div(255).to(device)
    return obs


def baseline_chunk(model: DiffusionPolicy, obs: dict[str, torch.Tensor], steps: int | None, seed: int) -> torch.Tensor:
    """Original-like predict_action: fp32, no_grad, obs features fed to the U-Net at every step."""
    with torch.no_grad():
        features = model.encode_observations(obs)
        generator = torch.Generator(features.device).manual_seed(seed)
        actions = sample_actions(
            lambda x, t: model.denoiser(x, t, features), model.inference_scheduler,
            (1, model.spec.horizon, model.spec.action_dim),
            num_inference_steps=steps or model.config.noise.num_train_timesteps,
            generator=generator, device=features.device, dtype=torch.float32)
        return model.normalizer.unnormalize("action", actions)


def timed(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> dict[str, float]:
    """Median and min wall time in ms over ``repeats`` runs after one warm-up run."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(1e3 * (time.perf_counter() - start))
    return {"median": round(statistics.median(times), 2), "min": round(min(times), 2)}


def train_throughput(model: DiffusionPolicy, batch_size: int, steps: int, amp: bool, device: torch.device) -> float:
    """Samples/s of loss + backward + AdamW on random batches (bf16 autocast when ``amp``)."""
    spec = model.spec
    gen = torch.Generator().manual_seed(0)
    obs = {k.name: torch.rand((batch_size, spec.n_obs_steps, *k.shape), generator=gen).to(device) for k in spec.obs}
    for k in spec.low_dim_keys:
        obs[k.name] = obs[k.name] * 512
    batch = {"obs": obs, "action": (torch.rand((batch_size, spec.horizon, spec.action_dim), generator=gen) * 512).to(device)}
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = model.compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    ms = timed(step, steps, _sync(device))
    model.eval()
    return round(1e3 * batch_size / ms["min"], 2)


def _sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pusht_lowdim", choices=["pusht_lowdim", "pusht_image2cam"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="(the JSON line is always printed last)")
    parser.add_argument("--repeats", type=int, default=10, help="timed DDIM-16 runs per path")
    parser.add_argument("--ddpm-repeats", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--train-batch", type=int, default=256)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    sync = _sync(device)
    config = preset_config(args.preset)
    window = random_window(config.spec)

    baseline = build_model(config).to(device).eval()
    obs = window_tensors(window, device)
    params = sum(p.numel() for p in baseline.parameters())
    print(f"preset {args.preset}: {params:,} parameters on {device}", flush=True)
    result: dict[str, object] = {"preset": args.preset, "params": params, "device": str(device),
                                 "torch": torch.__version__, "threads": torch.get_num_threads()}
    result["baseline_ddim16_b1_ms"] = timed(lambda: baseline_chunk(baseline, obs, 16, 0), args.repeats, sync)
    print("baseline ddim16", result["baseline_ddim16_b1_ms"], flush=True)
    fp32_chunk = baseline_chunk(baseline, obs, 16, 0)

    policy = Policy(build_model(config), device=device, precision="auto", policy_id=args.preset)
    result["precision"] = policy.precision
    ours = policy.predict(window, seed=0).actions
    norm = baseline.normalizer
    ours_n, ref_n = norm.normalize("action", torch.from_numpy(ours)), norm.normalize("action", fp32_chunk[0].cpu())
    result["max_rel_diff_vs_fp32"] = float((ours_n - ref_n).abs().max() / ref_n.abs().max())
    result["ddim16_b1_ms"] = timed(lambda: policy.predict(window, seed=0), args.repeats, sync)
    print("ours ddim16", result["ddim16_b1_ms"], policy.precision, flush=True)

    baseline.set_num_inference_steps(None)
    policy.model.set_num_inference_steps(None)
    result["baseline_ddpm100_b1_ms"] = timed(lambda: baseline_chunk(baseline, obs, None, 0), args.ddpm_repeats, sync)
    result["ddpm100_b1_ms"] = timed(lambda: policy.predict(window, seed=0), args.ddpm_repeats, sync)
    print("ddpm100 baseline", result["baseline_ddpm100_b1_ms"], "ours", result["ddpm100_b1_ms"], flush=True)

    del policy
    result["baseline_train_b256_samples_per_s"] = train_throughput(baseline, args.train_batch, args.train_steps, False, device)
    amp = train_throughput(baseline, args.train_batch, args.train_steps, True, device)
    result["train_amp_bf16"] = amp > result["baseline_train_b256_samples_per_s"]  # type: ignore[operator]
    result["train_b256_samples_per_s"] = max(amp, result["baseline_train_b256_samples_per_s"])  # type: ignore[type-var]
    result["ratio_ddim16_latency"] = round(result["ddim16_b1_ms"]["min"] / result["baseline_ddim16_b1_ms"]["min"], 3)  # type: ignore[index]
    result["ratio_ddpm100_latency"] = round(result["ddpm100_b1_ms"]["min"] / result["baseline_ddpm100_b1_ms"]["min"], 3)  # type: ignore[index]
    result["ratio_train_throughput"] = round(
        result["train_b256_samples_per_s"] / result["baseline_train_b256_samples_per_s"], 3)  # type: ignore[operator]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
