"""The reverse-diffusion loop: equivalence with the original loop, exactness, warm start, errors."""

import pytest
import torch

from dp_core.diffusion.sampling import sample_actions, warm_start_steps
from dp_core.diffusion.schedules import DDIMScheduler, DDPMScheduler, NoiseScheduleConfig

torch.set_num_threads(1)
SHAPE = (2, 16, 3)


def toy_denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return 1.2 * torch.tanh(0.8 * x - 0.02 * t.to(x.dtype).view(-1, 1, 1))


def exact_denoiser(target: torch.Tensor, scheduler, prediction_type: str):
    """The ideal denoiser for a data distribution concentrated at ``target``."""
    ab = scheduler.alphas_cumprod.to(target.dtype)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if prediction_type == "sample":
            return target.expand_as(x)
        a = ab[t].view(-1, 1, 1)
        return (x - a.sqrt() * target) / (1 - a).sqrt()

    return denoise


def run(scheduler, n, seed=0, **kwargs):
    g = torch.Generator().manual_seed(seed)
    return sample_actions(
        toy_denoiser,
        scheduler,
        SHAPE,
        num_inference_steps=n,
        generator=g,
        device="cpu",
        dtype=torch.float32,
        **kwargs,
    )


@pytest.mark.parametrize(("kind", "n"), [("ddpm", 100), ("ddim", 16)])
def test_matches_the_original_diffusers_loop(kind, n):
    """Same generator → same actions as the original implementation's conditional_sample loop."""
    diffusers = pytest.importorskip("diffusers")
    cfg = NoiseScheduleConfig()
    if kind == "ddpm":
        ours, ref = (
            DDPMScheduler(cfg),
            diffusers.DDPMScheduler(
                num_train_timesteps=100,
                beta_schedule="squaredcos_cap_v2",
                variance_type="fixed_small",
                clip_sample=True,
                prediction_type="epsilon",
            ),
        )
    else:
        ours, ref = (
            DDIMScheduler(cfg),
            diffusers.DDIMScheduler(
                num_train_timesteps=100,
                beta_schedule="squaredcos_cap_v2",
                clip_sample=True,
                set_alpha_to_one=True,
                steps_offset=0,
                prediction_type="epsilon",
            ),
        )
    g = torch.Generator().manual_seed(7)
    x = torch.randn(SHAPE, generator=g)
    ref.set_timesteps(n)
    for t in ref.timesteps:
        x = ref.step(toy_denoiser(x, t.expand(SHAPE[0])), t, x, generator=g).prev_sample
    torch.testing.assert_close(run(ours, n, seed=7), x, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_deterministic_for_a_generator(kind):
    sched = DDPMScheduler() if kind == "ddpm" else DDIMScheduler()
    n = 100 if kind == "ddpm" else 8
    a, b, c = run(sched, n, seed=1), run(sched, n, seed=1), run(sched, n, seed=2)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == SHAPE and a.dtype == torch.float32


@pytest.mark.parametrize("prediction_type", ["epsilon", "sample"])
@pytest.mark.parametrize(("kind", "n"), [("ddpm", 100), ("ddim", 16), ("ddim", 3)])
def test_exact_denoiser_reaches_its_target(kind, n, prediction_type):
    cfg = NoiseScheduleConfig(prediction_type=prediction_type)
    sched = DDPMScheduler(cfg) if kind == "ddpm" else DDIMScheduler(cfg)
    target = torch.linspace(-0.9, 0.9, SHAPE[1] * SHAPE[2], dtype=torch.float64).view(1, *SHAPE[1:])
    out = sample_actions(
        exact_denoiser(target, sched, prediction_type),
        sched,
        SHAPE,
        num_inference_steps=n,
        generator=torch.Generator().manual_seed(0),
        device="cpu",
        dtype=torch.float64,
    )
    torch.testing.assert_close(out, target.expand(SHAPE), rtol=1e-4, atol=1e-4)


def test_denoiser_sees_batch_timesteps_once_per_step():
    sched = DDIMScheduler()
    seen = []

    def denoise(x, t):
        seen.append(t.clone())
        return torch.zeros_like(x)

    sample_actions(denoise, sched, SHAPE, num_inference_steps=16, device="cpu", dtype=torch.float32)
    assert [int(t[0]) for t in seen] == list(range(90, -1, -6))
    assert all(t.shape == (SHAPE[0],) and t.dtype == torch.int64 and (t == t[0]).all() for t in seen)


def test_no_autograd_graph_even_with_a_trainable_denoiser():
    layer = torch.nn.Linear(3, 3)
    out = sample_actions(
        lambda x, t: layer(x), DDIMScheduler(), SHAPE, num_inference_steps=4, device="cpu", dtype=torch.float32
    )
    assert not out.requires_grad and out.grad_fn is None


def test_warm_start_runs_only_the_last_steps_from_the_renoised_plan():
    sched = DDIMScheduler(NoiseScheduleConfig(prediction_type="sample"))
    init = torch.full(SHAPE, 0.4)
    seen = []

    def keep_plan(x, t):  # predicts x0 = the previous plan: the chain must end exactly on it
        seen.append(int(t[0]))
        return init

    out = sample_actions(
        keep_plan,
        sched,
        SHAPE,
        num_inference_steps=16,
        device="cpu",
        dtype=torch.float32,
        generator=torch.Generator().manual_seed(0),
        init_actions=init,
        init_noise_level=0.25,
    )
    assert seen == [18, 12, 6, 0]
    torch.testing.assert_close(out, init)


def test_warm_start_keeps_more_of_the_plan_at_lower_noise_levels():
    sched = DDIMScheduler()
    init = torch.full(SHAPE, 0.5)
    cold = run(sched, 16, seed=3)

    def distance(level):
        return (run(sched, 16, seed=3, init_actions=init, init_noise_level=level) - init).abs().mean()

    assert distance(0.1) < distance(0.5) < (cold - init).abs().mean()
    assert torch.equal(run(sched, 16, seed=3, init_actions=init, init_noise_level=1.0), cold)


def test_warm_start_steps_rounding():
    assert warm_start_steps(16, 1.0) == 16
    assert warm_start_steps(16, 0.5) == 8
    assert warm_start_steps(16, 0.01) == 1
    assert warm_start_steps(100, 0.3) == 30


@pytest.mark.parametrize("level", [0.0, -0.1, 1.5, float("nan"), "0.5"])
def test_bad_noise_level_is_rejected(level):
    with pytest.raises(ValueError, match="init_noise_level"):
        run(DDIMScheduler(), 4, init_actions=torch.zeros(SHAPE), init_noise_level=level)


def test_bad_inputs_are_rejected():
    sched = DDIMScheduler()
    with pytest.raises(ValueError, match="init_actions must have shape"):
        run(sched, 4, init_actions=torch.zeros(1, 16, 3), init_noise_level=0.5)
    with pytest.raises(ValueError, match="without init_actions"):
        run(sched, 4, init_noise_level=0.5)
    with pytest.raises(ValueError, match="needs init_noise_level"):
        run(sched, 4, init_actions=torch.zeros(SHAPE))
    with pytest.raises(ValueError, match="denoise_fn returned shape"):
        sample_actions(lambda x, t: x[:, :1], sched, SHAPE, num_inference_steps=4, device="cpu", dtype=torch.float32)
    with pytest.raises(ValueError, match="num_inference_steps"):
        run(sched, 0)
    with pytest.raises(ValueError, match="shape must be"):
        sample_actions(toy_denoiser, sched, (2, 16), num_inference_steps=4, device="cpu", dtype=torch.float32)
