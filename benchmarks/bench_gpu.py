"""GPU chunk latency and training speed in one short run; one JSON object on the last line.

On a CUDA machine (aimed at under 5 minutes): for the Push-T low-dim U-Net and a two-camera
96x96 image policy (the presets of ``bench_inference.py``, random weights), DDIM-16 and DDPM-100
chunk latency at batch 1 (min, median, p99 in ms, each call = numpy window in → numpy chunk out)
for:
- ``baseline``: an original-like loop of the same architecture: fp32, eager, ``torch.no_grad``,
  observation features fed to the U-Net at every step, numpy → tensor → device each call;
- ``fp32_eager`` / ``bf16_eager``: our chunk program (``dp_core.policy.chunk_program``) run eagerly;
- ``fp32_graph`` / ``bf16_graph``: the same program captured as one CUDA graph;
- ``fp32_compile``: torch.compile (mode "default") of the program, DDIM-16 only, measured last
  and skipped once less than a minute of ``--budget-s`` is left (compiling takes minutes).
bf16 is the precision ``Policy`` accepts only when its chunk is within 1e-2 of fp32 for the same
noise; ``bf16_rel_diff`` reports that difference and ``bf16_accepted`` the decision (a rejected
bf16 is still timed). Training: samples/s at batch 256 with bf16 autocast (AMP), fused AdamW and
EMA, for both presets. Also the GPU name and torch/CUDA versions.

Without CUDA it prints one JSON line saying so and exits 0. ``--smoke`` runs tiny models on the
CPU through the same code (eager forms only) so that the script itself is tested without a GPU;
its figures mean nothing.

Usage: python benchmarks/bench_gpu.py [--budget-s 240] [--runs 50] [--presets ...] [--smoke]
(``benchmarks/bench_gpu.sh`` runs it with the workspace environment.)
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: the sibling benchmark
from bench_inference import baseline_chunk, build_model, preset_config, random_window, synthetic_batch, window_tensors

from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.accelerated import AcceleratedPolicy
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.policy.inference import PRECISION_TOLERANCE, Policy
from dp_core.training.ema import EMAModel
from dp_core.training.trainer import make_optimizer

PRESETS = ("pusht_lowdim", "pusht_image2cam")


def smoke_config(name: str) -> DiffusionModelConfig:
    """The preset with a tiny U-Net and encoder (the --smoke run)."""
    config = preset_config(name)
    return DiffusionModelConfig(
        spec=config.spec,
        unet=UNetConfig(down_dims=(16, 32), diffusion_step_embed_dim=16, n_groups=4),
        encoder=EncoderConfig(crop_shape=(84, 84), num_keypoints=4, feature_dim_per_camera=8),
    )


def latency(fn: Callable[[], object], runs: int, sync: Callable[[], None], warmup: int = 3) -> dict[str, float]:
    """min, median, p99 wall ms of ``fn`` over ``runs`` calls (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append(1e3 * (time.perf_counter() - start))
    return {
        "min": round(min(times), 3),
        "median": round(float(np.median(times)), 3),
        "p99": round(float(np.percentile(times, 99)), 3),
    }


def normalized_difference(model: DiffusionModel, actions: np.ndarray, reference: np.ndarray) -> float:
    norm = model.normalizer
    a, ref = (norm.normalize("action", torch.from_numpy(x)) for x in (actions, reference))
    return float((a - ref).abs().max() / ref.abs().max().clamp(min=1e-6))


def chunk_forms(
    model: DiffusionModel, steps: int | None, device: torch.device, window: dict, runs: int
) -> dict[str, object]:
    """Latency of the baseline and of each precision × form, for one preset and step count."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    baseline = copy.deepcopy(model).to(device).eval()
    baseline.set_num_inference_steps(steps)
    out: dict[str, object] = {
        "baseline": latency(
            lambda: baseline_chunk(baseline, window_tensors(window, device), steps, 0)[0].cpu().numpy(), runs, sync
        )
    }
    baseline = None  # free it before the candidates are built
    reference: np.ndarray | None = None
    forms = ("eager", "graph") if device.type == "cuda" else ("eager",)
    for precision in ("fp32", "bf16"):
        copied = copy.deepcopy(model)
        copied.set_num_inference_steps(steps)
        policy = Policy(copied, device=device, precision=precision)
        if precision == "bf16":
            accepted = policy.precision == "bf16"
            out["bf16_accepted"] = accepted
            if not accepted:  # timed anyway: the figure says what bf16 would give
                policy = Policy(copied, device=device, precision="fp32")
                from dp_core.policy.fast_inference import convert_denoiser

                policy.model.denoiser = convert_denoiser(
                    policy.model.denoiser, "bf16", copied.config.noise.num_train_timesteps
                )
                policy.precision = "bf16"
        for form in forms:
            fast = AcceleratedPolicy(policy, form=form, timing_runs=2, compile_modes=("default",))
            start = time.perf_counter()
            fast.prepare()
            key = f"{precision}_{form}"
            if fast.form.split(":")[0] != form:
                out[key] = {"error": str(fast.form_check)[:300]}
                fast.release()
                continue
            out[key] = latency(lambda fast=fast: fast.predict(window, seed=0), runs, sync)
            out[key]["prepare_s"] = round(time.perf_counter() - start, 2)  # type: ignore[index]
            out[key]["rel_diff_vs_eager"] = fast.form_check.get(fast.form, {}).get("rel_diff", 0.0)  # type: ignore[index]
            actions = fast.predict(window, seed=0).actions
            if reference is None:
                reference = actions
            elif form == "eager" and precision == "bf16":
                out["bf16_rel_diff"] = round(normalized_difference(model, actions, reference), 5)
            fast.release()
        del policy, copied
    rank(out)
    return out


def rank(out: dict[str, object]) -> None:
    """Name the fastest of our paths (by min) and its speed-up over the baseline."""
    timed = {k: v["min"] for k, v in out.items() if isinstance(v, dict) and "min" in v and k != "baseline"}
    best = min(timed, key=timed.__getitem__)
    out["best"] = best
    out["speedup_vs_baseline"] = round(out["baseline"]["min"] / timed[best], 2)  # type: ignore[index]


def compiled(model: DiffusionModel, device: torch.device, window: dict, runs: int) -> dict[str, object]:
    """DDIM-16 fp32 latency of the torch.compile form (mode "default"); run last, it is the slow one."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    copied = copy.deepcopy(model)
    copied.set_num_inference_steps(16)
    fast = AcceleratedPolicy(
        Policy(copied, device=device, precision="fp32"), form="compile", timing_runs=2, compile_modes=("default",)
    )
    start = time.perf_counter()
    fast.prepare()
    if fast.form != "compile:default":
        return {"error": str(fast.form_check)[:300]}
    stats: dict[str, object] = latency(lambda: fast.predict(window, seed=0), runs, sync)  # type: ignore[assignment]
    stats["prepare_s"] = round(time.perf_counter() - start, 2)
    stats["rel_diff_vs_eager"] = fast.form_check["compile:default"]["rel_diff"]
    fast.release()
    return stats


def train_speed(config: DiffusionModelConfig, batch_size: int, device: torch.device, steps: int) -> float:
    """Samples/s of a training step (bf16 autocast on CUDA, fused AdamW, EMA), after 2 warm-up steps."""
    model = build_model(config).to(device).train()
    optimizer = make_optimizer(model, lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6)
    ema = EMAModel(model)
    batch = synthetic_batch(config.spec, batch_size, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = model.compute_loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.step(model)

    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return round(batch_size * steps / (time.perf_counter() - start), 1)


def environment(device: torch.device) -> dict[str, object]:
    info: dict[str, object] = {"torch": torch.__version__, "cuda_version": torch.version.cuda}
    if device.type == "cuda":
        info |= {"gpu": torch.cuda.get_device_name(device), "cudnn": torch.backends.cudnn.version()}
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=240.0, help="no torch.compile with < 60 s of this left")
    parser.add_argument("--runs", type=int, default=50, help="timed chunks per DDIM-16 path (DDPM-100: a fifth)")
    parser.add_argument("--smoke", action="store_true", help="tiny models on the CPU: tests the script, no figures")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--json", action="store_true", help="(the JSON line is always printed last)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    started = time.perf_counter()
    if not args.smoke and not torch.cuda.is_available():
        print(
            json.dumps(
                {
                    "bench": "gpu",
                    "cuda": False,
                    "reason": "no CUDA device available; nothing measured",
                    **environment(torch.device("cpu")),
                }
            )
        )
        return 0
    device = torch.device("cpu" if args.smoke else "cuda")
    runs = 2 if args.smoke else args.runs
    result: dict[str, object] = {
        "bench": "gpu",
        "cuda": device.type == "cuda",
        "smoke": args.smoke,
        **environment(device),
    }
    for name in args.presets:
        config = smoke_config(name) if args.smoke else preset_config(name)
        model = build_model(config).eval()
        window = random_window(config.spec)
        entry: dict[str, object] = {"params": sum(p.numel() for p in model.parameters())}
        for label, steps in (("ddim16", 16), ("ddpm100", None)):
            entry[label] = chunk_forms(model, steps, device, window, runs if steps else max(3, runs // 5))
            print(name, label, json.dumps(entry[label]), flush=True)
        batch = 8 if args.smoke else 256
        entry[f"train_b{batch}_amp_samples_per_s"] = train_speed(config, batch, device, 2 if args.smoke else 10)
        result[name] = entry
        if device.type == "cuda":
            torch.cuda.empty_cache()
    for name in args.presets:  # torch.compile last, while the budget lasts (minutes per policy)
        left_s = args.budget_s - (time.perf_counter() - started)
        ddim = result[name]["ddim16"]  # type: ignore[index]
        if args.smoke or left_s < 60:
            ddim["fp32_compile"] = {
                "skipped": "smoke run" if args.smoke else f"time budget spent ({left_s:.0f} s left)"
            }
            continue
        config = preset_config(name)
        ddim["fp32_compile"] = compiled(build_model(config).eval(), device, random_window(config.spec), runs)
        rank(ddim)
        print(name, "ddim16 fp32_compile", json.dumps(ddim["fp32_compile"]), flush=True)
    result["bf16_tolerance"] = PRECISION_TOLERANCE
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
