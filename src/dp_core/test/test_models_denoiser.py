"""build_denoiser: both kinds behind one call, with the per-chunk condition cache."""

import pytest
import torch

from dp_core.models import ConditionalUnet1D, TransformerConfig, TransformerDenoiser, UNetConfig, build_denoiser

torch.set_num_threads(1)
CONFIGS = {
    "unet": UNetConfig(down_dims=(16, 32), n_groups=4, diffusion_step_embed_dim=16),
    "transformer": TransformerConfig(n_layer=1, n_head=2, n_emb=16),
}


@pytest.mark.parametrize("kind", ["unet", "transformer"])
def test_uniform_call_and_cache(kind: str) -> None:
    torch.manual_seed(0)
    model = build_denoiser(kind, CONFIGS[kind], action_dim=3, obs_feature_dim=7, n_obs_steps=2, horizon=8).eval()
    assert isinstance(model, ConditionalUnet1D if kind == "unet" else TransformerDenoiser)
    sample, steps, obs = torch.randn(4, 8, 3), torch.randint(0, 100, (4,)), torch.randn(4, 2, 7)
    with torch.inference_mode():
        out = model(sample, steps, obs)
        cache = model.encode_condition(obs)
        # a sampling loop: one cache, many steps
        for step in (99, 50, 0):
            timestep = torch.full((4,), step)
            assert torch.equal(model(sample, timestep, cond_cache=cache), model(sample, timestep, obs))
    assert out.shape == (4, 8, 3)


def test_defaults_when_config_is_none() -> None:
    unet = build_denoiser("unet", None, 2, 20, 2, 16)
    transformer = build_denoiser("transformer", None, 2, 20, 2, 16)
    assert unet.config == UNetConfig() and transformer.config == TransformerConfig()


def test_wrong_kind_or_config_type() -> None:
    with pytest.raises(ValueError, match="'unet' or 'transformer', got 'mlp'"):
        build_denoiser("mlp", None, 2, 20, 2, 16)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a UNetConfig, got TransformerConfig"):
        build_denoiser("unet", CONFIGS["transformer"], 2, 20, 2, 16)
    with pytest.raises(ValueError, match="needs a TransformerConfig"):
        build_denoiser("transformer", CONFIGS["unet"], 2, 20, 2, 16)
    with pytest.raises(ValueError, match="obs_feature_dim must be >= 1"):
        build_denoiser("unet", CONFIGS["unet"], 2, 0, 2, 16)
