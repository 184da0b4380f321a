"""AdamW parameter groups and the lr schedule, against the original's rules and diffusers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dp_core.models import TransformerConfig
from dp_core.models.obs_encoder import EncoderConfig
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.training.optimizer import lr_lambda, make_optimizer


def _policy(denoiser: str, image: bool) -> DiffusionModel:
    obs = [ObsKeySpec("pos", "low_dim", (2,))]
    if image:
        obs.insert(0, ObsKeySpec("cam", "rgb", (3, 40, 40)))
    spec = PolicySpec(obs=tuple(obs), action_dim=2, horizon=8, n_action_steps=4)
    return DiffusionModel(
        DiffusionModelConfig(
            spec=spec,
            denoiser=denoiser,
            transformer=TransformerConfig(n_layer=1, n_head=2, n_emb=16),
            encoder=EncoderConfig(crop_shape=(36, 36), num_keypoints=4, feature_dim_per_camera=6),
        )
    )


def test_transformer_groups_as_the_original() -> None:
    model = _policy("transformer", image=True)
    optimizer = make_optimizer(model, lr=1e-4, weight_decay=1e-3, decay_groups=True, obs_encoder_weight_decay=1e-6)
    decay, no_decay, encoder = optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    not_decayed = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 1e-3 and no_decay["weight_decay"] == 0.0 and encoder["weight_decay"] == 1e-6
    assert {"denoiser.pos_emb", "denoiser.cond_pos_emb", "denoiser.ln_f.weight"} <= not_decayed
    assert "denoiser.decoder.layers.0.self_attn.in_proj_weight" in decayed
    assert "denoiser.decoder.layers.0.self_attn.out_proj.weight" in decayed
    assert all(n.endswith("bias") or "norm" in n or "ln_f" in n or "pos_emb" in n for n in not_decayed)
    modules = dict(model.named_modules())
    for name in decayed:
        assert isinstance(modules[name.rsplit(".", 1)[0]], (nn.Linear, nn.MultiheadAttention))
    everything = [p for g in optimizer.param_groups for p in g["params"]]
    assert len(everything) == len({id(p) for p in everything}) == len(list(model.parameters()))
    assert {names[id(p)] for p in encoder["params"]} == {n for n in names.values() if n.startswith("encoder.")}


def test_unet_keeps_one_group_like_the_original_workspaces() -> None:
    model = _policy("unet", image=False)
    optimizer = make_optimizer(model, lr=1e-4, weight_decay=1e-6, decay_groups=True)
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["weight_decay"] == 1e-6
    single = make_optimizer(_policy("transformer", image=False), lr=1e-4, weight_decay=1e-3, decay_groups=False)
    assert len(single.param_groups) == 1


@pytest.mark.parametrize("warmup,total", [(500, 3000), (10, 10), (0, 50)])
def test_schedule_equals_diffusers_cosine_with_warmup(warmup: int, total: int) -> None:
    diffusers_optimization = pytest.importorskip("diffusers.optimization", reason="diffusers is a test dependency")
    reference_opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = diffusers_optimization.get_scheduler(
        "cosine", reference_opt, num_warmup_steps=warmup, num_training_steps=total
    )
    ours = lr_lambda(warmup, total, "cosine")
    for step in range(total + 1):  # (past total diffusers rises again; training stops there)
        assert ours(step) == pytest.approx(reference.get_last_lr()[0], abs=1e-12), step
        reference_opt.step()
        reference.step()
    assert ours(0) == (0.0 if warmup else 1.0)
    assert lr_lambda(warmup or 1, total, "cosine", warmup_from_zero=False)(0) == 1 / (warmup or 1)
