"""ConditionalUnet1D: reference parameter counts, shapes, condition cache, bf16, validation."""

import pytest
import torch

from dp_core.models.step_embedding import SinusoidalStepEmbedding
from dp_core.models.unet1d import ConditionalUnet1D, UNetConfig

torch.set_num_threads(1)
SMALL = UNetConfig(down_dims=(32, 64, 128), kernel_size=5, n_groups=8, diffusion_step_embed_dim=32)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("step_embed", "expected"), [(256, 65_783_298), (128, 63_554_434)])
def test_parameter_count_matches_reference_at_pusht_lowdim(step_embed: int, expected: int) -> None:
    # Push-T low-dim: action 2-d, obs 20-d x 2 frames (global cond 40), horizon 16.
    model = ConditionalUnet1D(2, 20, 2, 16, UNetConfig(diffusion_step_embed_dim=step_embed))
    assert n_params(model) == expected


def make_inputs(batch: int = 3, horizon: int = 16, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, horizon, 2, generator=gen),
        torch.tensor([0, 17, 99])[:batch],
        torch.randn(batch, 2, 20, generator=gen),
    )


def test_forward_shape_and_conditioning_matters() -> None:
    torch.manual_seed(0)
    model = ConditionalUnet1D(2, 20, 2, 16, SMALL)
    sample, steps, obs = make_inputs()
    out = model(sample, steps, obs)
    assert out.shape == (3, 16, 2)
    assert torch.isfinite(out).all()
    assert not torch.allclose(model(sample, steps, obs + 1.0), out)
    assert not torch.allclose(model(sample, steps + 5, obs), out)


def test_cond_cache_gives_identical_results_and_broadcasts() -> None:
    torch.manual_seed(0)
    model = ConditionalUnet1D(2, 20, 2, 16, SMALL).eval()
    sample, steps, obs = make_inputs()
    cache = model.encode_condition(obs)
    assert torch.equal(model(sample, steps, cond_cache=cache), model(sample, steps, obs))
    one = model.encode_condition(obs[:1])
    expanded = model(sample, steps, obs[:1].expand(3, -1, -1))
    assert torch.allclose(model(sample, steps, cond_cache=one), expanded, atol=1e-5)


def test_scalar_and_vector_timestep_agree() -> None:
    torch.manual_seed(0)
    model = ConditionalUnet1D(2, 20, 2, 16, SMALL)
    sample, _, obs = make_inputs()
    expected = model(sample, torch.full((3,), 7), obs)
    assert torch.allclose(model(sample, 7, obs), expected)
    assert torch.allclose(model(sample, torch.tensor(7.0), obs), expected)


def test_bias_only_film_variant() -> None:
    torch.manual_seed(0)
    config = UNetConfig(down_dims=(16, 32), n_groups=4, diffusion_step_embed_dim=16, cond_predict_scale=False)
    model = ConditionalUnet1D(3, 5, 1, 8, config)
    assert model(torch.randn(2, 8, 3), torch.tensor([1, 2]), torch.randn(2, 1, 5)).shape == (2, 8, 3)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    model = ConditionalUnet1D(2, 20, 2, 16, SMALL)
    sample, steps, obs = make_inputs()
    obs.requires_grad_(True)
    model(sample, steps, obs).square().mean().backward()
    # The reference never uses the first level's skip output, so every parameter still gets gradient.
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert obs.grad is not None and obs.grad.abs().sum() > 0


def test_bfloat16_forward_is_close_to_float32() -> None:
    torch.manual_seed(0)
    model = ConditionalUnet1D(2, 20, 2, 16, SMALL).eval()
    sample, steps, obs = make_inputs()
    with torch.inference_mode():
        expected = model(sample, steps, obs)
        model.to(torch.bfloat16)
        assert model.step_embedding.freqs.dtype == torch.float32
        out = model(sample.bfloat16(), steps, obs.bfloat16())
        assert torch.equal(model(sample, steps, obs), out)  # float32 inputs are cast to the weights' dtype
    assert out.dtype == torch.bfloat16
    rel = (out.float() - expected).norm() / expected.norm()
    assert rel < 2e-2


def test_step_embedding_matches_reference_formula() -> None:
    emb = SinusoidalStepEmbedding(8)
    t = torch.tensor([0.0, 3.0])
    freqs = torch.exp(torch.arange(4) * -(torch.log(torch.tensor(10000.0)) / 3))
    expected = torch.cat(((t[:, None] * freqs).sin(), (t[:, None] * freqs).cos()), dim=-1)
    assert torch.allclose(emb(t, torch.float32), expected, atol=1e-6)


def test_horizon_must_be_divisible_by_downsampling() -> None:
    with pytest.raises(ValueError, match=r"horizon \(10\) must be divisible by .* = 4"):
        ConditionalUnet1D(2, 20, 2, 10, SMALL)
    model = ConditionalUnet1D(2, 20, 2, 16, SMALL)
    with pytest.raises(ValueError, match="sample must have shape"):
        model(torch.randn(1, 10, 2), torch.tensor([1]), torch.randn(1, 2, 20))
    with pytest.raises(ValueError, match="obs_features must have shape"):
        model(torch.randn(1, 16, 2), torch.tensor([1]), torch.randn(1, 3, 20))
    with pytest.raises(ValueError, match="exactly one"):
        model(torch.randn(1, 16, 2), torch.tensor([1]))
    with pytest.raises(ValueError, match="timestep must be"):
        model(torch.randn(2, 16, 2), torch.tensor([1, 2, 3]), torch.randn(2, 2, 20))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"down_dims": ()}, "down_dims"),
        ({"down_dims": (30, 64)}, "divisible by n_groups"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"n_groups": 0}, "n_groups"),
        ({"diffusion_step_embed_dim": 7}, "diffusion_step_embed_dim"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UNetConfig(**kwargs)


def test_config_accepts_list_down_dims() -> None:
    assert UNetConfig(down_dims=[64, 128]).down_dims == (64, 128)
    assert UNetConfig(down_dims=[64, 128]).downsample_factor == 2


def test_film_init_follows_the_originals_single_linear_bound() -> None:
    """Original: one Linear(step_dim + T*F, .) per block, so every FiLM weight ~ U(+-1/sqrt(step_dim + T*F))."""
    torch.manual_seed(0)
    config = UNetConfig(down_dims=(32, 64), diffusion_step_embed_dim=128)
    model = ConditionalUnet1D(2, 20, 2, 16, config)
    bound = 1 / (128 + 40) ** 0.5
    for parameter in (model.film_step.weight, model.film_step.bias, model.film_obs.weight):
        assert bound * 0.99 < parameter.abs().max() <= bound
        assert abs(float(parameter.detach().var()) - bound**2 / 3) < 0.1 * bound**2 / 3  # uniform variance
    split = ConditionalUnet1D(
        2, 20, 2, 16, UNetConfig(down_dims=(32, 64), diffusion_step_embed_dim=128, film_init="split")
    )
    assert split.film_obs.weight.abs().max() > 1.9 * bound  # PyTorch default: 1/sqrt(40)


def test_wide_cpu_convolutions_equal_torch_conv1d_forward_and_backward() -> None:
    """The im2col path of wide layers (models/unet1d.py Conv1d) computes torch's Conv1d, gradients too."""
    from dp_core.models.unet1d import GEMM_MIN_IN_CHANNELS, Conv1d

    torch.manual_seed(0)
    ours = Conv1d(GEMM_MIN_IN_CHANNELS, 24, 5, padding=2)
    reference = torch.nn.Conv1d(GEMM_MIN_IN_CHANNELS, 24, 5, padding=2)
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(3, GEMM_MIN_IN_CHANNELS, 8, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, out_ref = ours(x), reference(x_ref)
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-5)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours.bias.grad, reference.bias.grad, rtol=1e-4, atol=1e-4)


def _same_function(ours: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor) -> None:
    """ours(x) == reference(x) within fp32 rounding, gradients (input and parameters) too."""
    reference.load_state_dict(ours.state_dict())
    x_ref = x.detach().clone().requires_grad_(True)
    x = x.detach().clone().requires_grad_(True)
    out, out_ref = ours(x), reference(x_ref)
    torch.testing.assert_close(out, out_ref, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out)
    out.backward(grad)
    out_ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    for (name, p), p_ref in zip(ours.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, p_ref.grad, rtol=1e-4, atol=1e-4, msg=name)


@pytest.mark.parametrize(("stride", "kernel"), [(2, 3), (1, 1)])
def test_strided_and_pointwise_wide_convolutions_equal_torch(stride: int, kernel: int) -> None:
    """The U-Net's stride-2 downsampling and 1x1 residual projections take the im2col path too."""
    from dp_core.models.unet1d import GEMM_MIN_IN_CHANNELS, Conv1d

    torch.manual_seed(1)
    args = (GEMM_MIN_IN_CHANNELS, 16, kernel, stride, kernel // 2)
    x = torch.randn(3, 8, GEMM_MIN_IN_CHANNELS).transpose(1, 2)  # (B, L, C) in memory, as in the U-Net
    _same_function(Conv1d(*args), torch.nn.Conv1d(*args), x)


def test_wide_transposed_convolution_equals_torch() -> None:
    from dp_core.models.unet1d import GEMM_MIN_IN_CHANNELS, ConvTranspose1d

    torch.manual_seed(2)
    for length in (4, 5):
        args = (GEMM_MIN_IN_CHANNELS, 16, 4, 2, 1)
        _same_function(ConvTranspose1d(*args), torch.nn.ConvTranspose1d(*args), torch.randn(2, args[0], length))


def test_cpu_training_group_norm_and_mish_equal_torch_and_inference_is_torchs() -> None:
    """models/cpu_training_ops.py: same function and gradients in training; torch's own kernels without grad."""
    from dp_core.models.cpu_training_ops import FAST_MIN_CHANNELS, GroupNorm, Mish

    torch.manual_seed(3)
    x = torch.randn(4, 4, FAST_MIN_CHANNELS * 2).transpose(1, 2)  # (B, C, L=4) with (B, L, C) memory
    norm = GroupNorm(8, x.shape[1])
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    _same_function(norm, torch.nn.GroupNorm(8, x.shape[1]), x)
    _same_function(Mish(), torch.nn.Mish(), x * 30)  # large |x| too: exp overflows to inf there
    assert norm(x.detach().requires_grad_()).stride()[1] == 1  # the channels-last kernel ran
    with torch.inference_mode():
        assert torch.equal(norm(x), torch.nn.functional.group_norm(x, 8, norm.weight, norm.bias))
        assert torch.equal(Mish()(x), torch.nn.functional.mish(x))
    narrow = torch.randn(2, FAST_MIN_CHANNELS // 2, 4, requires_grad=True)  # the demo's widths: torch's kernels
    assert torch.equal(Mish()(narrow), torch.nn.functional.mish(narrow))
