"""TransformerDenoiser: shapes, causal self-attention and memory mask, condition cache, bf16."""

import pytest
import torch

from dp_core.models.transformer import TransformerConfig, TransformerDenoiser, causal_masks

torch.set_num_threads(1)
SMALL = TransformerConfig(n_layer=2, n_head=2, n_emb=32, p_drop_emb=0.0, p_drop_attn=0.3)
N_OBS, HORIZON, ACTION, FEATURE = 3, 8, 2, 5


def make_model(config: TransformerConfig = SMALL) -> TransformerDenoiser:
    torch.manual_seed(0)
    return TransformerDenoiser(ACTION, FEATURE, N_OBS, HORIZON, config).eval()


def make_inputs(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return (
        torch.randn(batch, HORIZON, ACTION, generator=gen),
        torch.tensor([3, 60])[:batch],
        torch.randn(batch, N_OBS, FEATURE, generator=gen),
    )


def test_masks_follow_reference_rule() -> None:
    tgt, memory = causal_masks(4, 3)  # True = blocked
    assert torch.equal(tgt, torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1))
    # action t may attend condition tokens 0..t+1 (step token + obs frames 0..t)
    expected = torch.tensor([[0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0]], dtype=torch.bool)
    assert torch.equal(memory, expected)


@pytest.mark.parametrize("inference", [False, True])  # inference_mode may take torch's fast paths
@pytest.mark.parametrize("n_cond_layers", [0, 2])
def test_action_token_sees_no_later_observation(n_cond_layers: int, inference: bool) -> None:
    model = make_model(TransformerConfig(n_layer=2, n_head=2, n_emb=32, n_cond_layers=n_cond_layers))
    sample, steps, obs = make_inputs()
    with torch.inference_mode(inference):
        base = model(sample, steps, obs)
    for frame in range(N_OBS):
        changed = obs.clone()
        changed[:, frame] += 3.0
        with torch.inference_mode(inference):
            diff = (model(sample, steps, changed) - base).abs().amax(dim=(0, 2))  # per action token
        assert torch.all(diff[:frame] == 0), f"tokens before {frame} saw obs frame {frame}: {diff}"
        assert torch.all(diff[frame:] > 1e-6), f"tokens from {frame} ignore obs frame {frame}: {diff}"


def test_causal_self_attention_over_actions() -> None:
    model = make_model()
    sample, steps, obs = make_inputs()
    base = model(sample, steps, obs)
    changed = sample.clone()
    changed[:, 5] += 1.0
    diff = (model(changed, steps, obs) - base).abs().amax(dim=(0, 2))
    assert torch.all(diff[:5] == 0) and torch.all(diff[5:] > 1e-6)


def test_non_causal_sees_everything() -> None:
    model = make_model(TransformerConfig(n_layer=2, n_head=2, n_emb=32, causal_attn=False))
    sample, steps, obs = make_inputs()
    changed = obs.clone()
    changed[:, -1] += 3.0
    diff = (model(sample, steps, changed) - model(sample, steps, obs)).abs().amax(dim=(0, 2))
    assert torch.all(diff > 1e-6)


@pytest.mark.parametrize("n_cond_layers", [0, 1])
def test_cond_cache_gives_identical_results(n_cond_layers: int) -> None:
    model = make_model(TransformerConfig(n_layer=2, n_head=2, n_emb=32, n_cond_layers=n_cond_layers))
    sample, steps, obs = make_inputs()
    out = model(sample, steps, obs)
    assert out.shape == (2, HORIZON, ACTION)
    assert torch.equal(model(sample, steps, cond_cache=model.encode_condition(obs)), out)
    one = model.encode_condition(obs[:1])
    assert torch.allclose(
        model(sample, steps, cond_cache=one), model(sample, steps, obs[:1].expand(2, -1, -1)), atol=1e-6
    )


def test_dropout_only_in_training() -> None:
    model = make_model()
    sample, steps, obs = make_inputs()
    assert torch.equal(model(sample, steps, obs), model(sample, steps, obs))
    model.train()
    assert not torch.equal(model(sample, steps, obs), model(sample, steps, obs))


def test_gradients_reach_every_parameter() -> None:
    model = make_model().train()
    sample, steps, obs = make_inputs()
    model(sample, steps, obs).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_bfloat16_forward_is_close_to_float32() -> None:
    model = make_model()
    sample, steps, obs = make_inputs()
    with torch.inference_mode():
        expected = model(sample, steps, obs)
        model.to(torch.bfloat16)
        out = model(sample.bfloat16(), steps, obs.bfloat16())
        assert torch.equal(model(sample, steps, obs), out)  # float32 inputs are cast to the weights' dtype
    assert out.dtype == torch.bfloat16
    assert (out.float() - expected).norm() / expected.norm() < 3e-2


def test_input_validation() -> None:
    model = make_model()
    with pytest.raises(ValueError, match=r"sample must have shape \(B, 8, 2\)"):
        model(torch.randn(1, 9, 2), torch.tensor([1]), torch.randn(1, N_OBS, FEATURE))
    with pytest.raises(ValueError, match="obs_features must have shape"):
        model(torch.randn(1, 8, 2), torch.tensor([1]), torch.randn(1, N_OBS, FEATURE + 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_layer": 0}, "n_layer"),
        ({"n_emb": 30, "n_head": 4}, "multiple of n_head"),
        ({"p_drop_attn": 1.0}, "p_drop_attn"),
        ({"p_drop_emb": -0.1}, "p_drop_emb"),
        ({"n_cond_layers": -1}, "n_cond_layers"),
    ],
)
def test_config_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**kwargs)


def test_bidirectional_condition_encoder_option_is_the_references() -> None:
    """causal_cond_encoder=False: the reference's encoder lets a later frame change action token 0."""
    outputs = {}
    for causal in (True, False):
        torch.manual_seed(0)
        config = TransformerConfig(
            n_layer=1, n_head=2, n_emb=16, n_cond_layers=1, p_drop_attn=0.0, causal_cond_encoder=causal
        )
        model = TransformerDenoiser(2, 3, 2, 8, config).eval()
        sample, obs = torch.randn(1, 8, 2), torch.randn(1, 2, 3)
        later = obs.clone()
        later[:, 1] += 10.0
        with torch.no_grad():
            outputs[causal] = (model(sample, 5, obs)[0, 0] - model(sample, 5, later)[0, 0]).abs().max()
    assert outputs[True] == 0 and outputs[False] > 1e-6
