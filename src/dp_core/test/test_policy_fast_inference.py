"""Fast inference forms: int8 layers and the step-FiLM table match float32; the accuracy check guards them.

Precision is fp32 unless asked for; "auto" decides from capabilities and accuracy, never timing.
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.transformer import TransformerConfig
from dp_core.models.unet1d import ConditionalUnet1D, UNetConfig
from dp_core.policy import inference
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.policy.fast_inference import (
    FastUnet1D,
    Int8Conv1d,
    Int8Linear,
    convert_denoiser,
    int8_kernel_available,
    quantize_int8_,
    weight_bytes,
)
from dp_core.policy.inference import PRECISION_TOLERANCE, Policy, precision_candidates
from dp_core.spec import ObsKeySpec, PolicySpec

pytestmark = pytest.mark.skipif(not int8_kernel_available(), reason="torch lacks aten._weight_int8pack_mm")

SPEC = PolicySpec(obs=(ObsKeySpec("pos", "low_dim", (4,)),), action_dim=2, n_obs_steps=2, horizon=16, n_action_steps=8)
# Levels at lengths 16, 8, 4: the two short ones are quantized (64·5 and 128·5 are multiples of 32).
UNET = UNetConfig(down_dims=(32, 64, 128), diffusion_step_embed_dim=32, n_groups=8)


def relative(a: torch.Tensor, reference: torch.Tensor) -> float:
    return float((a - reference).abs().max() / reference.abs().max())


@pytest.fixture(scope="module")
def trained() -> DiffusionModel:
    """A small U-Net policy fitted for a few dozen steps to a smooth task (actions linear in pos)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = DiffusionModel(DiffusionModelConfig(spec=SPEC, unet=UNET, num_inference_steps=16))
    rng = np.random.default_rng(0)
    pos = rng.uniform(-1, 1, size=(512, 4)).astype(np.float32)
    gain = rng.normal(size=(4, 2)).astype(np.float32)
    model.normalizer.fit({"pos": pos, "action": pos @ gain}, {"pos": "low_dim", "action": "low_dim"})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(60):
        index = torch.randint(0, len(pos), (32,), generator=generator)
        state = torch.from_numpy(pos)[index]
        action = (state @ torch.from_numpy(gain))[:, None, :].expand(-1, SPEC.horizon, -1)
        loss = model.compute_loss({"obs": {"pos": state[:, None].expand(-1, 2, -1)}, "action": action})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_int8_layers_match_float32() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 64, 8)
    for conv in (nn.Conv1d(64, 96, 5, padding=2), nn.Conv1d(64, 64, 3, 2, 1), nn.Conv1d(64, 320, 1)):
        int8 = Int8Conv1d(conv)
        assert relative(int8(x), conv(x).detach()) < 2e-2
    linear = nn.Linear(256, 300)
    y = torch.randn(3, 5, 256)
    assert relative(Int8Linear(linear)(y), linear(y).detach()) < 2e-2


def test_quantize_skips_unsupported_shapes() -> None:
    # K = 20·5 = 100 is not a multiple of 32 (the kernel returns wrong numbers); 8·32 is too small.
    model = nn.Sequential(nn.Conv1d(20, 256, 5, padding=2), nn.Conv1d(256, 256, 5, padding=2), nn.Linear(32, 8))
    converted, kept = quantize_int8_(model)
    assert (converted, kept) == (1, 0)
    assert isinstance(model[0], nn.Conv1d) and isinstance(model[1], Int8Conv1d) and isinstance(model[2], nn.Linear)


def test_step_film_table_is_exact_in_float32(trained: DiffusionModel) -> None:
    unet = trained.denoiser
    fast = convert_denoiser(unet, "fp32", trained.config.noise.num_train_timesteps)
    sample, features = torch.randn(3, 16, 2), torch.randn(3, 2, unet.obs_feature_dim)
    with torch.no_grad():
        for step in (torch.tensor([0, 50, 99]), torch.tensor([12.5, 3.0, 7.25]), 42):
            reference = unet(sample, step, features)
            assert relative(fast(sample, step, features), reference) < 1e-5
            cache = fast.encode_condition(features)
            assert relative(fast(sample, step, cond_cache=cache), reference) < 1e-5


def test_int8_form_keeps_full_resolution_level_float32(trained: DiffusionModel) -> None:
    fast = convert_denoiser(trained.denoiser, "int8", 100)
    assert isinstance(fast, FastUnet1D) and fast.converted_layers > 0 and fast.float_layers == 0
    assert all(not isinstance(m, Int8Conv1d) for m in (*fast.unet.down[0].modules(), *fast.unet.final.modules()))
    assert isinstance(fast.unet.mid.block1.conv_in[0], Int8Conv1d)
    assert weight_bytes(fast) < 0.5 * weight_bytes(trained.denoiser)


def test_int8_chunk_matches_fp32_within_tolerance(trained: DiffusionModel) -> None:
    reference = Policy(copy.deepcopy(trained), device="cpu", precision="fp32")
    int8 = Policy(copy.deepcopy(trained), device="cpu", precision="int8")
    assert int8.precision == "int8", int8.precision_check
    assert isinstance(int8.model.denoiser, FastUnet1D)
    assert int8.precision_check["int8"]["rel_diff"] <= PRECISION_TOLERANCE
    rng = np.random.default_rng(3)
    for seed in range(3):
        obs = {"pos": rng.uniform(-1, 1, size=(2, 4)).astype(np.float32)}
        a, b = reference.predict(obs, seed=seed).actions, int8.predict(obs, seed=seed).actions
        norm = reference.model.normalizer
        a_n, b_n = (norm.normalize("action", torch.from_numpy(v)) for v in (a, b))
        assert relative(b_n, a_n) <= PRECISION_TOLERANCE


def test_self_check_falls_back_to_fp32(trained: DiffusionModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "PRECISION_TOLERANCE", 0.0)
    policy = Policy(copy.deepcopy(trained), device="cpu", precision="auto")
    assert policy.precision == "fp32" and isinstance(policy.model.denoiser, ConditionalUnet1D)
    assert "int8" in policy.precision_check and policy.precision_check["int8"]["rel_diff"] > 0
    forced = Policy(copy.deepcopy(trained), device="cpu", precision="int8")
    assert forced.precision == "fp32"


def test_int8_is_unet_only() -> None:
    torch.manual_seed(0)
    model = DiffusionModel(
        DiffusionModelConfig(
            spec=SPEC,
            denoiser="transformer",
            num_inference_steps=2,
            transformer=TransformerConfig(n_layer=1, n_head=2, n_emb=32),
            encoder=EncoderConfig(),
        )
    )
    model.normalizer.fit(
        {"pos": np.zeros((4, 4), np.float32), "action": np.ones((4, 2), np.float32)},
        {"pos": "low_dim", "action": "low_dim"},
    )
    with pytest.raises(ValueError, match="U-Net denoiser only"):
        convert_denoiser(model.denoiser, "int8", 100)
    assert Policy(model, device="cpu", precision="int8").precision == "fp32"


def test_fp32_is_the_default_and_tries_nothing(trained: DiffusionModel) -> None:
    policy = Policy(copy.deepcopy(trained), device="cpu")
    assert policy.precision == "fp32" and policy.precision_check == {}
    assert isinstance(policy.model.denoiser, ConditionalUnet1D)


class _NoClock:
    """Stands in for the ``time`` module while a policy loads: any timing there is a defect."""

    @staticmethod
    def perf_counter() -> float:
        raise AssertionError("precision chosen by timing")


def test_auto_is_chosen_by_capability_and_accuracy_only(
    trained: DiffusionModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No clock at load; the first supported candidate within tolerance; the same on every load."""
    assert precision_candidates(torch.device("cpu"), trained.denoiser)[0] == "int8"
    with monkeypatch.context() as patch:
        patch.setattr(inference, "time", _NoClock)
        loads = [Policy(copy.deepcopy(trained), device="cpu", precision="auto") for _ in range(2)]
    assert [p.precision for p in loads] == ["int8", "int8"]  # within tolerance (see the test above)
    assert loads[0].precision_check == loads[1].precision_check
    assert set(loads[0].precision_check) == {"int8"}  # the first that passes ends the search
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:  # the check runs on one thread: another thread count gives the same figures
        assert (
            Policy(copy.deepcopy(trained), device="cpu", precision="auto").precision_check == loads[0].precision_check
        )
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_candidates_follow_capabilities() -> None:
    """CPU: int8 for a U-Net (with the kernel), then bf16 only where the CPU has it natively."""
    from dp_core.policy.fast_inference import native_bf16_supported

    unet = ConditionalUnet1D(SPEC.action_dim, 4, SPEC.n_obs_steps, SPEC.horizon, UNET)
    bf16 = ["bf16"] if native_bf16_supported() else []
    assert precision_candidates(torch.device("cpu"), unet) == ["int8", *bf16]
    assert precision_candidates(torch.device("cpu"), nn.Linear(2, 2)) == bf16
