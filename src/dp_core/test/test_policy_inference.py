"""Checkpoint → Policy: identical predictions for a seed, clear errors for wrong shapes and inputs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dp_core.control.action_chunk import ActionChunkData
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.policy.inference import PRECISION_TOLERANCE, Policy
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.timing.observation_window import ObservationWindowData
from dp_core.training.checkpoint import load_policy_weights, save_checkpoint_dir
from dp_core.training.config import to_dict

UNET = UNetConfig(down_dims=(16, 32), diffusion_step_embed_dim=16, n_groups=4)


def make_spec(action_dim: int = 2, image: bool = False) -> PolicySpec:
    obs = [ObsKeySpec("pos", "low_dim", (3,))]
    if image:
        obs.insert(0, ObsKeySpec("cam", "rgb", (3, 40, 40)))
    return PolicySpec(obs=tuple(obs), action_dim=action_dim, n_obs_steps=2, horizon=8, n_action_steps=4)


def make_policy(spec: PolicySpec, seed: int = 0) -> DiffusionModel:
    """A randomly initialised policy with a normalizer fitted on random data."""
    from dp_core.models.obs_encoder import EncoderConfig

    torch.manual_seed(seed)
    config = DiffusionModelConfig(
        spec=spec,
        unet=UNET,
        num_inference_steps=4,
        encoder=EncoderConfig(crop_shape=(36, 36), num_keypoints=4, feature_dim_per_camera=8),
    )
    model = DiffusionModel(config)
    rng = np.random.default_rng(seed)
    data = {
        "pos": rng.normal(size=(50, 3)).astype(np.float32),
        "action": rng.uniform(-3, 5, size=(50, spec.action_dim)).astype(np.float32),
    }
    kinds = {"pos": "low_dim", "action": "low_dim", **{k.name: "rgb" for k in spec.rgb_keys}}
    model.normalizer.fit(data, kinds)
    return model


def save(model: DiffusionModel, run_dir: Path, step: int = 1) -> Path:
    tree = {"policy": to_dict(model.config), "data": {}, "train": {}}
    return save_checkpoint_dir(run_dir, step, model.state_dict(), tree)


def window(spec: PolicySpec, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    images = {k.name: rng.integers(0, 256, size=(2, k.shape[1], k.shape[2], 3), dtype=np.uint8) for k in spec.rgb_keys}
    return {"low_dim": {"pos": rng.normal(size=(2, 3)).astype(np.float32)}, "images": images}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[DiffusionModel, Path]:
    torch.set_num_threads(1)
    spec = make_spec(image=True)
    model = make_policy(spec)
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    save(model, run_dir, step=3)
    return model, run_dir


def test_save_load_gives_identical_predictions(saved: tuple[DiffusionModel, Path]) -> None:
    model, run_dir = saved
    policy = Policy.from_checkpoint(run_dir, device="cpu", precision="fp32")
    obs = window(policy.spec)
    first, again = policy.predict(obs, seed=7), policy.predict(obs, seed=7)
    np.testing.assert_array_equal(first.actions, again.actions)
    default = Policy.from_checkpoint(run_dir / "step_3", device="cpu")  # fp32 unless asked: nothing tried
    assert default.precision == "fp32" and default.precision_check == {}
    np.testing.assert_array_equal(first.actions, default.predict(obs, seed=7).actions)
    assert not np.array_equal(first.actions, policy.predict(obs, seed=8).actions)
    # the in-memory model gives the same chunk for the same generator
    tensors = {
        "pos": torch.from_numpy(obs["low_dim"]["pos"])[None],
        "cam": torch.from_numpy(obs["images"]["cam"]).permute(0, 3, 1, 2)[None].float() / 255,
    }
    with torch.inference_mode():
        direct = model.eval().sample(tensors, torch.Generator().manual_seed(7))
    np.testing.assert_allclose(first.actions, direct[0].numpy(), rtol=1e-5, atol=1e-5)
    assert first.actions.shape == (8, 2) and first.actions.dtype == np.float32
    assert first.aligned_index == 1 and first.execute_steps == 4 and first.inference_ms > 0
    assert policy.policy_id.startswith("run/step_3@")
    # the chunk the executor consumes: on the window's clock, numbered, named by the checkpoint
    stamped = ObservationWindowData(np.array([900, 1000]) * 1_000_000, obs["low_dim"], obs["images"])
    chunk = policy.predict(stamped, seed=7, sequence=5)
    assert isinstance(chunk, ActionChunkData) and chunk.policy_id == policy.policy_id and chunk.sequence == 5
    assert (chunk.stamp_ns, chunk.start_ns, chunk.dt_s) == (1_000_000_000, 1_000_000_000 - 100_000_000, 0.1)
    np.testing.assert_array_equal(chunk.actions, first.actions)


def test_actions_are_in_unnormalized_units(saved: tuple[DiffusionModel, Path]) -> None:
    _, run_dir = saved
    policy = Policy.from_checkpoint(run_dir, device="cpu", precision="fp32")
    plans = np.stack([policy.predict(window(policy.spec, s), seed=s).actions for s in range(4)])
    low, high = policy.model.normalizer.input_range("action")
    # clip_sample keeps normalized actions in [-1, 1], i.e. inside the fitted range in robot units
    assert (plans >= low.numpy() - 1e-4).all() and (plans <= high.numpy() + 1e-4).all()
    assert plans.max() > 1.0, "actions look normalized, not in robot units"


def test_warm_start_and_bf16(saved: tuple[DiffusionModel, Path]) -> None:
    _, run_dir = saved
    policy = Policy.from_checkpoint(run_dir, device="cpu", precision="fp32")
    obs = window(policy.spec)
    plan = policy.predict(obs, seed=1)
    warm = policy.predict(obs, seed=2, warm_start=plan, executed_steps=4)
    assert warm.actions.shape == plan.actions.shape and np.isfinite(warm.actions).all()
    np.testing.assert_array_equal(plan.shifted(4)[:4], plan.actions[4:])
    np.testing.assert_array_equal(plan.shifted(4)[4:], np.repeat(plan.actions[-1:], 4, axis=0))
    bf16 = Policy.from_checkpoint(run_dir, device="cpu", precision="bf16")
    # explicit bf16 is kept exactly when its chunk passes the accuracy check, else fp32
    accurate = bf16.precision_check["bf16"]["rel_diff"] <= PRECISION_TOLERANCE
    assert bf16.precision == ("bf16" if accurate else "fp32")
    if bf16.precision == "bf16":
        ref = plan.actions
        out = bf16.predict(obs, seed=1).actions
        assert np.abs(out - ref).max() <= 0.02 * np.abs(ref).max()


def test_bad_observations_are_named(saved: tuple[DiffusionModel, Path]) -> None:
    _, run_dir = saved
    policy = Policy.from_checkpoint(run_dir, device="cpu", precision="fp32")
    obs = window(policy.spec)
    with pytest.raises(ValueError, match=r"'pos'.*missing"):
        policy.predict({"low_dim": {}, "images": obs["images"]})
    bad = {"low_dim": {"pos": np.zeros((2, 4), np.float32)}, "images": obs["images"]}
    with pytest.raises(ValueError, match=r"low-dim 'pos': expected shape \(2, 3\).*got \(2, 4\)"):
        policy.predict(bad)
    bad = {"low_dim": {"pos": np.full((2, 3), np.nan, np.float32)}, "images": obs["images"]}
    with pytest.raises(ValueError, match="non-finite"):
        policy.predict(bad)
    bad = {"low_dim": obs["low_dim"], "images": {"cam": np.zeros((2, 40, 40, 3), np.float32)}}
    with pytest.raises(ValueError, match=r"image 'cam': expected uint8"):
        policy.predict(bad)
    with pytest.raises(ValueError, match="warm_start actions"):
        policy.predict(obs, warm_start=ActionChunkData(0, 0, 0.1, ("a", "b"), np.zeros((3, 2), np.float32), 1))


def test_mismatched_checkpoint_fails_with_a_clear_message(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    save(make_policy(make_spec(action_dim=2)), tmp_path / "run")
    wrong = make_policy(make_spec(action_dim=7))
    with pytest.raises(ValueError, match=r"action_dim: checkpoint was trained with 2, config says 7") as info:
        load_policy_weights(wrong, tmp_path / "run")
    assert "shape mismatches" in str(info.value) and "denoiser." in str(info.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Policy.from_checkpoint(tmp_path / "nowhere")
    (tmp_path / "run" / "step_1" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"model\.safetensors is missing"):
        Policy.from_checkpoint(tmp_path / "run", device="cpu")
