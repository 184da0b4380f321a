"""DDPM/DDIM schedules: agreement with diffusers, and with the published formulas without it."""

import math

import pytest
import torch

from dp_core.diffusion.schedules import DDIMScheduler, DDPMScheduler, NoiseScheduleConfig, leading_timesteps

torch.set_num_threads(1)
SHAPE = (3, 16, 2)


def toy_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Deterministic stand-in for a denoiser; outputs exceed [-1, 1] so clipping matters."""
    return 1.3 * torch.tanh(0.7 * x + 0.01 * t.to(x.dtype).view(-1, 1, 1)) + 0.1 * torch.sin(3 * x)


def run_ours(scheduler, n_steps: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(SHAPE, generator=g)
    scheduler.set_timesteps(n_steps)
    trajectory = [x]
    for i, t in enumerate(scheduler.timesteps):
        x = scheduler.step(toy_model(x, t.expand(SHAPE[0])), i, x, generator=g)
        trajectory.append(x)
    return trajectory


def run_diffusers(scheduler, n_steps: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(SHAPE, generator=g)
    scheduler.set_timesteps(n_steps)
    trajectory = [x]
    for t in scheduler.timesteps:
        x = scheduler.step(toy_model(x, t.expand(SHAPE[0])), t, x, generator=g).prev_sample
        trajectory.append(x)
    return trajectory


def diffusers_pair(kind: str, cfg: NoiseScheduleConfig):
    diffusers = pytest.importorskip("diffusers")
    common = dict(
        num_train_timesteps=cfg.num_train_timesteps,
        beta_schedule=cfg.beta_schedule,
        beta_start=cfg.beta_start,
        beta_end=cfg.beta_end,
        prediction_type=cfg.prediction_type,
        clip_sample=cfg.clip_sample,
        clip_sample_range=cfg.clip_sample_range,
    )
    if kind == "ddpm":
        return DDPMScheduler(cfg), diffusers.DDPMScheduler(variance_type="fixed_small", **common)
    return DDIMScheduler(cfg), diffusers.DDIMScheduler(set_alpha_to_one=True, steps_offset=0, **common)


def assert_trajectories_close(ours: list[torch.Tensor], ref: list[torch.Tensor]) -> None:
    assert len(ours) == len(ref)
    for step, (a, b) in enumerate(zip(ours, ref)):
        scale = max(1.0, b.abs().max().item())  # unclipped epsilon chains pass through large values
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6 * scale, msg=f"step {step}")


@pytest.mark.parametrize("beta_schedule", ["squaredcos_cap_v2", "linear"])
@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
@pytest.mark.parametrize("clip_sample", [True, False])
@pytest.mark.parametrize(("kind", "n_steps"), [("ddpm", 100), ("ddpm", 10), ("ddim", 16), ("ddim", 100)])
def test_trajectory_matches_diffusers(kind, n_steps, clip_sample, prediction_type, beta_schedule):
    cfg = NoiseScheduleConfig(beta_schedule=beta_schedule, prediction_type=prediction_type, clip_sample=clip_sample)
    ours, ref = diffusers_pair(kind, cfg)
    ref_traj = run_diffusers(ref, n_steps, seed=3)
    ours_traj = run_ours(ours, n_steps, seed=3)
    assert torch.equal(ours.timesteps, ref.timesteps)
    assert_trajectories_close(ours_traj, ref_traj)
    assert not torch.equal(ref_traj[0], ref_traj[-1])


@pytest.mark.parametrize("beta_schedule", ["squaredcos_cap_v2", "linear", "scaled_linear"])
def test_betas_and_add_noise_match_diffusers(beta_schedule):
    ours, ref = diffusers_pair("ddpm", NoiseScheduleConfig(beta_schedule=beta_schedule))
    assert torch.equal(ours.betas, ref.betas)
    assert torch.equal(ours.alphas_cumprod, ref.alphas_cumprod)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(8, 16, 2, generator=g)
    noise = torch.randn(8, 16, 2, generator=g)
    t = ours.sample_timesteps(8, generator=g)
    torch.testing.assert_close(ours.add_noise(x0, noise, t), ref.add_noise(x0, noise, t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("n_steps", [1, 7, 16, 100])
def test_ddim_leading_timesteps_match_diffusers(n_steps):
    ours, ref = diffusers_pair("ddim", NoiseScheduleConfig())
    ref.set_timesteps(n_steps)
    ours.set_timesteps(n_steps)
    assert torch.equal(ours.timesteps, ref.timesteps)
    assert ours.timesteps_host == tuple(ref.timesteps.tolist())


# ---- published formulas (no diffusers needed) ----


def test_squaredcos_alphas_cumprod_follow_nichol_dhariwal():
    sched = DDPMScheduler(NoiseScheduleConfig(num_train_timesteps=100))

    def f(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    for t in (0, 10, 50, 98):  # alphas_cumprod[t] = f((t + 1) / T) / f(0) while betas are uncapped
        assert sched.alphas_cumprod[t].item() == pytest.approx(f((t + 1) / 100) / f(0), rel=1e-5)
    assert sched.betas[-1].item() == pytest.approx(0.999)  # the cap
    assert torch.all(sched.alphas_cumprod[1:] < sched.alphas_cumprod[:-1])


def test_linear_betas_are_linear():
    sched = DDPMScheduler(NoiseScheduleConfig(beta_schedule="linear", beta_start=1e-4, beta_end=0.02))
    assert sched.betas[0].item() == pytest.approx(1e-4)
    assert sched.betas[-1].item() == pytest.approx(0.02)
    assert sched.betas[50].item() == pytest.approx(1e-4 + 50 / 99 * (0.02 - 1e-4), rel=1e-5)


def test_ddim_single_step_is_the_published_update():
    cfg = NoiseScheduleConfig(clip_sample=False)
    sched = DDIMScheduler(cfg)
    sched.set_timesteps(10, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x_t = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    eps = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    ab = sched.alphas_cumprod.double()
    t, t_prev = 30, 20
    assert sched.timesteps_host[6] == t
    x0 = (x_t - (1 - ab[t]).sqrt() * eps) / ab[t].sqrt()  # Song et al. eq. 12, sigma = 0
    expected = ab[t_prev].sqrt() * x0 + (1 - ab[t_prev]).sqrt() * eps
    torch.testing.assert_close(sched.step(eps, 6, x_t), expected, rtol=1e-6, atol=1e-6)  # float32 tables


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
@pytest.mark.parametrize("n_steps", [5, 16, 100])
def test_ddim_with_exact_model_recovers_x0(prediction_type, n_steps):
    sched = DDIMScheduler(NoiseScheduleConfig(prediction_type=prediction_type))
    sched.set_timesteps(n_steps, dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    x_star = torch.rand(SHAPE, generator=g, dtype=torch.float64) * 1.8 - 0.9
    eps = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    x = sched.add_noise(x_star, eps, sched.timesteps_host[0])
    for i in range(n_steps):  # a deterministic chain stays on the line through x_star and eps
        x = sched.step(eps if prediction_type == "epsilon" else x_star, i, x)
    torch.testing.assert_close(x, x_star, rtol=1e-5, atol=1e-5)


def test_ddpm_last_step_returns_predicted_x0_and_first_steps_add_noise():
    sched = DDPMScheduler(NoiseScheduleConfig(prediction_type="sample", clip_sample=False))
    sched.set_timesteps(100)
    x0 = torch.full(SHAPE, 0.25)
    x_t = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(sched.step(x0, 99, x_t), x0, atol=1e-6)  # t = 0: no noise, posterior mean = x0
    a = sched.step(x0, 0, x_t, generator=torch.Generator().manual_seed(5))
    b = sched.step(x0, 0, x_t, generator=torch.Generator().manual_seed(6))
    assert not torch.allclose(a, b)


def test_clip_bounds_predicted_x0():
    sched = DDIMScheduler(NoiseScheduleConfig(prediction_type="sample", clip_sample=True, clip_sample_range=0.5))
    sched.set_timesteps(1)  # single step to t_prev = -1 (alpha 1): the output is the clipped x0
    out = sched.step(torch.full(SHAPE, 3.0), 0, torch.zeros(SHAPE))
    assert torch.allclose(out, torch.full(SHAPE, 0.5))


def test_training_half():
    sched = DDPMScheduler(NoiseScheduleConfig(prediction_type="epsilon"))
    g = torch.Generator().manual_seed(0)
    t = sched.sample_timesteps(4096, generator=g)
    assert t.dtype == torch.int64 and t.min() >= 0 and t.max() == 99
    assert torch.equal(t[:10], sched.sample_timesteps(4096, generator=torch.Generator().manual_seed(0))[:10])
    x0, noise = torch.ones(2, 3), torch.zeros(2, 3)
    assert sched.training_target(x0, noise) is noise
    assert DDPMScheduler(NoiseScheduleConfig(prediction_type="sample")).training_target(x0, noise) is x0
    noisy = sched.add_noise(x0, noise, torch.tensor([0, 99]))
    ab = sched.alphas_cumprod
    torch.testing.assert_close(noisy[:, 0], ab[[0, 99]].sqrt())
    with pytest.raises(ValueError, match="same shape"):
        sched.add_noise(x0, torch.zeros(2, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="timesteps must have shape"):
        sched.add_noise(x0, noise, torch.tensor([0, 1, 2]))


def test_dtype_and_device_follow_set_timesteps():
    sched = DDIMScheduler()
    sched.set_timesteps(4, device="cpu", dtype=torch.float64)
    x = torch.zeros(SHAPE, dtype=torch.float64)
    assert sched.step(x, 0, x).dtype == torch.float64
    assert sched.add_noise(x, x, 3).dtype == torch.float64
    assert sched.timesteps.dtype == torch.int64


def test_invalid_settings_are_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="beta_schedule"):
        NoiseScheduleConfig(beta_schedule="cosine")
    with pytest.raises(ValueError, match="prediction_type"):
        NoiseScheduleConfig(prediction_type="v_prediction")
    with pytest.raises(ValueError, match="num_train_timesteps"):
        NoiseScheduleConfig(num_train_timesteps=0)
    with pytest.raises(ValueError, match="beta_start"):
        NoiseScheduleConfig(beta_start=0.1, beta_end=0.01)
    with pytest.raises(ValueError, match="num_inference_steps"):
        DDIMScheduler().set_timesteps(101)
    with pytest.raises(ValueError, match="num_inference_steps"):
        leading_timesteps(100, 0)
    with pytest.raises(RuntimeError, match="set_timesteps"):
        DDPMScheduler().step(torch.zeros(SHAPE), 0, torch.zeros(SHAPE))
    with pytest.raises(ValueError, match="unknown"):
        NoiseScheduleConfig.from_dict({"num_train_timesteps": 100, "typo": 1})
    cfg = NoiseScheduleConfig(prediction_type="sample", clip_sample=False)
    assert NoiseScheduleConfig.from_dict(cfg.to_dict()) == cfg
