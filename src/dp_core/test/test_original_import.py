"""dp-import-original on a checkpoint written by the original code, against the original's outputs.

The fixture (../shared/data/original_dp, see its README) holds the original checkpoint and what
the original classes computed on it: U-Net outputs at several timesteps, the normalizer's
parameters and a DDIM-16 chunk from a given initial noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dp_core.import_original import main as import_main
from dp_core.policy.inference import Policy
from dp_core.policy.original_checkpoint import UnsupportedOriginalCheckpoint, check_supported, import_original

ORIGINAL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "original_dp"
CKPT = ORIGINAL / "pusht_lowdim_unet_32_64_128.ckpt"
EXPECTED = ORIGINAL / "pusht_lowdim_unet_32_64_128.expected.npz"

torch.set_num_threads(1)


def _need_fixture() -> None:
    if not (CKPT.is_file() and EXPECTED.is_file()):
        pytest.skip(f"{ORIGINAL} is absent: the shared original-checkpoint fixture (../shared/data/original_dp)")
    pytest.importorskip("omegaconf", reason="omegaconf (requirements/python.txt) is needed to read original cfgs")
    pytest.importorskip("dill", reason="dill (requirements/python.txt) is needed to read original checkpoints")


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    _need_fixture()
    return dict(np.load(EXPECTED))


@pytest.fixture(scope="module")
def imported_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need_fixture()
    out = tmp_path_factory.mktemp("imported")
    assert import_main([str(CKPT), str(out), "--num-inference-steps", "16"]) == 0
    return out


@pytest.fixture(scope="module")
def policy(imported_dir: Path) -> Policy:
    return Policy.from_checkpoint(imported_dir, device="cpu", precision="fp32")


def _window(obs: np.ndarray) -> dict[str, np.ndarray]:
    """An original (T, 20) observation as dp_core keys: 9 keypoints (x, y), then the agent (x, y)."""
    return {"keypoint": obs[:, :18], "agent_pos": obs[:, 18:]}


def test_cli_writes_a_dp_core_checkpoint_with_provenance(imported_dir: Path, capsys: pytest.CaptureFixture) -> None:
    step = (imported_dir / "latest").resolve()
    assert step.name == "step_3000"
    assert {p.name for p in step.iterdir()} == {"model.safetensors", "config.yaml", "imported_from.json"}
    provenance = json.loads((step / "imported_from.json").read_text())
    assert provenance["weights"] == "ema_model" and provenance["global_step"] == 3000


def test_cli_warns_that_unpickling_runs_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _need_fixture()
    assert import_main([str(CKPT), str(tmp_path / "out")]) == 0
    assert "unpickles" in capsys.readouterr().err


def test_normalizer_parameters_equal_the_original(policy: Policy, expected: dict[str, np.ndarray]) -> None:
    normalizer = policy.model.normalizer
    obs_scale = torch.cat([normalizer.stats[k].scale for k in ("keypoint", "agent_pos")]).numpy()
    obs_offset = torch.cat([normalizer.stats[k].offset for k in ("keypoint", "agent_pos")]).numpy()
    np.testing.assert_array_equal(obs_scale, expected["normalizer_obs_scale"])
    np.testing.assert_array_equal(obs_offset, expected["normalizer_obs_offset"])
    np.testing.assert_array_equal(normalizer.stats["action"].scale.numpy(), expected["normalizer_action_scale"])
    np.testing.assert_array_equal(normalizer.stats["action"].offset.numpy(), expected["normalizer_action_offset"])


def test_condition_equals_the_originals_global_cond(policy: Policy, expected: dict[str, np.ndarray]) -> None:
    obs = torch.from_numpy(expected["obs"])
    features = policy.model.encode_observations({"keypoint": obs[..., :18], "agent_pos": obs[..., 18:]})
    np.testing.assert_allclose(features.flatten(1).numpy(), expected["nobs_global_cond"], rtol=1e-6, atol=1e-7)


def test_denoiser_outputs_match_the_original_within_1e5_relative(
    policy: Policy, expected: dict[str, np.ndarray]
) -> None:
    cond = torch.from_numpy(expected["nobs_global_cond"]).reshape(4, 2, 20)
    sample = torch.from_numpy(expected["eps_sample"])
    with torch.inference_mode():
        for t, reference in zip(expected["eps_t"], expected["eps_out"], strict=True):
            out = policy.model.denoiser(sample, torch.full((4,), int(t)), cond).numpy()
            relative = np.abs(out - reference).max() / np.abs(reference).max()
            assert relative <= 1e-5, f"t={t}: max relative difference {relative:.2e}"


def test_ddim16_chunk_from_the_given_noise_matches_the_original(
    policy: Policy, expected: dict[str, np.ndarray]
) -> None:
    assert policy.model.num_inference_steps == 16
    for b in range(expected["obs"].shape[0]):
        plan = policy.predict(_window(expected["obs"][b]), noise=expected["noise"][b])
        np.testing.assert_allclose(
            policy.model.normalizer.normalize("action", torch.from_numpy(plan.actions.copy())).numpy(),
            expected["ddim16_naction"][b],
            rtol=0,
            atol=1e-4,
        )
        scale = np.abs(expected["ddim16_action_pred"][b]).max()
        assert np.abs(plan.actions - expected["ddim16_action_pred"][b]).max() <= 1e-4 * scale
        start = plan.aligned_index
        executed = plan.actions[start : start + plan.execute_steps]
        assert np.abs(executed - expected["ddim16_action"][b]).max() <= 1e-4 * scale
        again = policy.predict(_window(expected["obs"][b]), noise=expected["noise"][b], seed=b + 99)
        np.testing.assert_array_equal(plan.actions, again.actions)  # DDIM eta 0: the noise decides


def test_default_sampler_is_the_originals_ddpm_chain(expected: dict[str, np.ndarray], tmp_path: Path) -> None:
    _need_fixture()
    from dp_core.import_original import load_original_payload

    imported = import_original(load_original_payload(CKPT))
    assert imported.model.num_inference_steps is None  # 100-step DDPM as the original's cfg
    assert imported.config_tree["train"]["grad_clip_norm"] is None
    online = import_original(load_original_payload(CKPT), use_ema=False).model.denoiser.state_dict()
    ema = imported.model.denoiser.state_dict()
    assert any(not torch.equal(online[k], ema[k]) for k in ema)


def test_unsupported_classes_are_refused_by_name() -> None:
    base = {
        "policy": {
            "_target_": "diffusion_policy.policy.diffusion_transformer_hybrid_image_policy."
            "DiffusionTransformerHybridImagePolicy"
        }
    }
    with pytest.raises(UnsupportedOriginalCheckpoint, match=r"DiffusionTransformerHybridImagePolicy.*not mapped"):
        check_supported(base)
    lowdim = {
        "policy": {
            "_target_": "diffusion_policy.policy.diffusion_unet_lowdim_policy.DiffusionUnetLowdimPolicy",
            "obs_as_global_cond": False,
        }
    }
    with pytest.raises(UnsupportedOriginalCheckpoint, match="obs_as_global_cond"):
        check_supported(lowdim)
    with pytest.raises(UnsupportedOriginalCheckpoint, match="'cfg'"):
        import_original({"state_dicts": {}})


def test_cli_refuses_a_non_original_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("omegaconf", reason="omegaconf (requirements/python.txt) is needed to read original cfgs")
    pytest.importorskip("dill", reason="dill (requirements/python.txt) is needed to read original checkpoints")
    bogus = tmp_path / "x.ckpt"
    torch.save({"weights": torch.zeros(2)}, bogus)
    assert import_main([str(bogus), str(tmp_path / "out")]) == 2
    assert "not an original Diffusion Policy checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_normalizer_fitted_by_dp_train_equals_the_originals(expected: dict[str, np.ndarray]) -> None:
    """dp-train's default fit (whole replay buffer) of the paper's low-dim recipe = the original's."""
    from dp_core.data.dataset import SequenceDataset
    from dp_core.data.normalizer import Normalizer
    from dp_core.training.config import load_config

    config = load_config(Path(__file__).resolve().parents[3] / "config" / "train" / "pusht_lowdim.yaml")
    if not Path(config.data.path).exists():
        pytest.skip(f"{config.data.path} is absent: the shared Push-T replay buffer (../shared/data/pusht)")
    data = SequenceDataset(config.data, config.policy.spec).get_normalizer_data()
    normalizer = Normalizer()
    normalizer.fit(data, {"keypoint": "low_dim", "agent_pos": "low_dim", "action": "low_dim"})
    scale = torch.cat([normalizer.stats[k].scale for k in ("keypoint", "agent_pos")]).numpy()
    offset = torch.cat([normalizer.stats[k].offset for k in ("keypoint", "agent_pos")]).numpy()
    np.testing.assert_allclose(scale, expected["normalizer_obs_scale"], rtol=1e-6)
    np.testing.assert_allclose(offset, expected["normalizer_obs_offset"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(normalizer.stats["action"].scale.numpy(), expected["normalizer_action_scale"], rtol=1e-6)
    np.testing.assert_allclose(
        normalizer.stats["action"].offset.numpy(), expected["normalizer_action_offset"], rtol=1e-6, atol=1e-6
    )


def test_pusht_lowdim_recipe_is_the_originals() -> None:
    """config/train/pusht_lowdim.yaml against the original run's cfg (the fixture's only overrides:
    down_dims [32, 64, 128] and diffusion_step_embed_dim 128; the paper's are [256, 512, 1024], 256)."""
    _need_fixture()
    from dp_core.import_original import load_original_payload
    from dp_core.training.config import load_config, to_dict

    original = import_original(load_original_payload(CKPT)).config_tree
    ours = to_dict(load_config(Path(__file__).resolve().parents[3] / "config" / "train" / "pusht_lowdim.yaml"))
    for key, value in original["train"].items():
        assert ours["train"][key] == value, key
    policy = {
        **original["policy"],
        "unet": {**original["policy"]["unet"], "down_dims": [256, 512, 1024], "diffusion_step_embed_dim": 256},
    }
    assert ours["policy"] == policy
    from dp_core.data.dataset import DataConfig
    from dp_core.training.config import from_dict

    original_data = from_dict(DataConfig, original["data"])
    ours_data = from_dict(DataConfig, ours["data"])
    for key in ("obs_sources", "action_source", "val_ratio", "max_train_episodes", "seed"):
        assert getattr(ours_data, key) == getattr(original_data, key), key
    assert ours["data"]["normalizer_fit"] == "all" and ours["data"]["val_episodes"] == "non_train"
    assert ours["train"]["amp"] == "none" and ours["train"]["drop_last"] is False


def _transformer_payload(n_cond_layers: int) -> tuple[dict, torch.nn.Module]:
    """An original-format DiffusionTransformerLowdimPolicy payload, built from dp_core modules.

    No original transformer checkpoint is shared, so this checks the plumbing (cfg -> config,
    names -> modules, normalizer, masks), not the original's numbers.
    """
    from dp_core.models.transformer import TransformerConfig, TransformerDenoiser

    torch.manual_seed(0)
    source = TransformerDenoiser(
        2,
        20,
        2,
        16,
        TransformerConfig(
            n_layer=2, n_head=2, n_emb=16, p_drop_attn=0.0, n_cond_layers=n_cond_layers, causal_cond_encoder=False
        ),
    ).eval()
    state = {
        ("model.encoder." + k[len("cond_encoder.") :] if k.startswith("cond_encoder.") else "model." + k): v
        for k, v in source.state_dict().items()
    }
    state["model._dummy_variable"] = torch.zeros(0)
    for key, dim in (("obs", 20), ("action", 2)):
        low, high = torch.zeros(dim), torch.full((dim,), 512.0)
        state.update(
            {
                f"normalizer.params_dict.{key}.scale": 2 / (high - low),
                f"normalizer.params_dict.{key}.offset": -1 - 2 * low / (high - low),
                f"normalizer.params_dict.{key}.input_stats.min": low,
                f"normalizer.params_dict.{key}.input_stats.max": high,
            }
        )
    cfg = {
        "policy": {
            "_target_": "diffusion_policy.policy.diffusion_transformer_lowdim_policy.DiffusionTransformerLowdimPolicy",
            "model": {
                "_target_": "diffusion_policy.model.diffusion.transformer_for_diffusion.TransformerForDiffusion",
                "input_dim": 2,
                "output_dim": 2,
                "horizon": 16,
                "n_obs_steps": 2,
                "cond_dim": 20,
                "n_layer": 2,
                "n_head": 2,
                "n_emb": 16,
                "p_drop_emb": 0.0,
                "p_drop_attn": 0.0,
                "causal_attn": True,
                "time_as_cond": True,
                "obs_as_cond": True,
                "n_cond_layers": n_cond_layers,
            },
            "noise_scheduler": {
                "_target_": "diffusers.schedulers.scheduling_ddpm.DDPMScheduler",
                "num_train_timesteps": 100,
                "beta_schedule": "squaredcos_cap_v2",
                "clip_sample": True,
                "prediction_type": "epsilon",
                "variance_type": "fixed_small",
            },
            "horizon": 16,
            "obs_dim": 20,
            "action_dim": 2,
            "n_action_steps": 8,
            "n_obs_steps": 2,
            "num_inference_steps": 100,
            "obs_as_cond": True,
            "pred_action_steps_only": False,
        },
        "task": {"dataset": {"_target_": "diffusion_policy.dataset.pusht_dataset.PushTLowdimDataset"}},
        "optimizer": {"learning_rate": 1.0e-4, "weight_decay": 1.0e-3, "betas": [0.9, 0.95]},
    }
    return {"cfg": cfg, "state_dicts": {"ema_model": state, "model": state}, "pickles": {"global_step": 7}}, source


@pytest.mark.parametrize("n_cond_layers", [0, 1])
def test_lowdim_transformer_maps_by_name(n_cond_layers: int) -> None:
    payload, source = _transformer_payload(n_cond_layers)
    imported = import_original(payload)
    config = imported.config_tree["policy"]
    assert config["denoiser"] == "transformer" and config["transformer"]["causal_cond_encoder"] is False
    assert imported.config_tree["train"]["lr"] == 1e-4 and imported.config_tree["train"]["weight_decay"] == 1e-3
    sample, cond = torch.randn(3, 16, 2), torch.randn(3, 2, 20)
    with torch.inference_mode():
        ours = imported.model.denoiser.eval()(sample, torch.tensor([0, 40, 99]), cond)
        np.testing.assert_array_equal(ours.numpy(), source(sample, torch.tensor([0, 40, 99]), cond).numpy())
    assert imported.model.num_inference_steps is None and imported.global_step == 7
    del payload["state_dicts"]["ema_model"]["model.head.weight"]
    with pytest.raises(UnsupportedOriginalCheckpoint, match=r"head\.weight"):
        import_original(payload)
