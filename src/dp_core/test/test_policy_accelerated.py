"""The accelerated chunk path: same chunk as ``Policy.predict`` for the same noise, prepare/release,
clear device and form errors, thread-count choice. CUDA-graph and torch.compile checks run where
they can (a CUDA machine; DP_TEST_COMPILE=1), the eager program everywhere."""

from __future__ import annotations

import gc
import itertools
import os
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dp_core.diffusion.schedules import NoiseScheduleConfig
from dp_core.models.obs_encoder import EncoderConfig
from dp_core.models.transformer import TransformerConfig
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.accelerated import AcceleratedPolicy
from dp_core.policy.chunk_program import ChunkProgram, ChunkRunner, draw_chunk_noise
from dp_core.policy.cpu_threads import candidate_counts, choose_thread_count
from dp_core.policy.device import resolve_device
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.policy.inference import Policy
from dp_core.spec import ObsKeySpec, PolicySpec

CUDA = torch.cuda.is_available()


def make_model(
    image: bool = True, steps: int | None = 4, denoiser: str = "unet", seed: int = 0, clip: bool = False
) -> DiffusionModel:
    """A small random policy (camera 40x40 + 3-d state → 2-d actions) with a fitted normalizer.

    Without clipping by default: a random denoiser's x0 estimate saturates the clip bounds, and
    every chunk would be the same corners whatever the noise (a comparison that cannot fail).
    """
    obs = [ObsKeySpec("pos", "low_dim", (3,))]
    if image:
        obs.insert(0, ObsKeySpec("cam", "rgb", (3, 40, 40)))
    spec = PolicySpec(obs=tuple(obs), action_dim=2, n_obs_steps=2, horizon=8, n_action_steps=4)
    torch.manual_seed(seed)
    config = DiffusionModelConfig(
        spec=spec,
        denoiser=denoiser,
        num_inference_steps=steps,
        noise=NoiseScheduleConfig(clip_sample=clip),
        unet=UNetConfig(down_dims=(16, 32), diffusion_step_embed_dim=16, n_groups=4),
        transformer=TransformerConfig(n_layer=1, n_head=2, n_emb=16),
        encoder=EncoderConfig(crop_shape=(36, 36), num_keypoints=4, feature_dim_per_camera=8),
    )
    model = DiffusionModel(config)
    rng = np.random.default_rng(seed)
    data = {
        "pos": rng.normal(size=(50, 3)).astype(np.float32),
        "action": rng.uniform(-3, 5, size=(50, 2)).astype(np.float32),
    }
    model.normalizer.fit(data, {"pos": "low_dim", "action": "low_dim", "cam": "rgb"})
    return model


def window(spec: PolicySpec, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    images = {k.name: rng.integers(0, 256, size=(2, k.shape[1], k.shape[2], 3), dtype=np.uint8) for k in spec.rgb_keys}
    return {"low_dim": {"pos": rng.normal(size=(2, 3)).astype(np.float32)}, "images": images}


def accelerated(model: DiffusionModel, form: str = "eager", device: str = "cpu", precision: str = "fp32"):
    policy = AcceleratedPolicy(Policy(model, device=device, precision=precision), form=form, timing_runs=1)
    policy.prepare()
    return policy


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("image", "steps", "denoiser", "clip"),
    [
        (True, 4, "unet", False),
        (False, None, "unet", False),
        (True, None, "unet", True),
        (True, 3, "transformer", False),
        (False, None, "transformer", False),
    ],
)
def test_program_chunk_equals_policy_predict_for_the_same_seed(image, steps, denoiser, clip) -> None:
    """DDIM and the stochastic 100-step DDPM chain (pre-drawn noise) give Policy.predict's chunk."""
    policy = accelerated(make_model(image=image, steps=steps, denoiser=denoiser, clip=clip))
    obs = window(policy.spec)
    for seed in (0, 5):
        reference = policy.policy.predict(obs, seed=seed).actions
        ours = policy.predict(obs, seed=seed)
        np.testing.assert_allclose(ours.actions, reference, rtol=0, atol=1e-5 * np.abs(reference).max())
        assert ours.actions.shape == (8, 2) and ours.inference_ms > 0 and ours.aligned_index == 1
    if not clip:  # the comparison can fail: chunks do depend on the noise
        assert not np.allclose(policy.predict(obs, seed=1).actions, policy.predict(obs, seed=2).actions)
    assert policy.form == "eager" and policy.precision == "fp32"


def test_fixed_noise_entry_point_is_deterministic_and_noise_sensitive() -> None:
    policy = accelerated(make_model(steps=None))
    program = policy.runner.program
    noise = draw_chunk_noise(program.scheduler, program.shape, torch.Generator().manual_seed(3))
    assert noise.steps.shape == (100, 1, 8, 2) and bool((noise.steps[-1] == 0).all())  # no noise at t = 0
    obs = window(policy.spec)
    first = policy.predict_with_noise(obs, noise).actions
    np.testing.assert_array_equal(first, policy.predict_with_noise(obs, noise).actions)
    np.testing.assert_array_equal(first, policy.predict(obs, seed=3).actions)  # a seed is this noise
    other = type(noise)(noise.initial, noise.steps * 0.5)
    assert not np.allclose(first, policy.predict_with_noise(obs, other).actions)
    with pytest.raises(ValueError, match="noise must be initial"):
        policy.predict_with_noise(obs, type(noise)(noise.initial[..., :1], noise.steps))


def test_given_initial_noise_replaces_the_seeded_draw() -> None:
    """DDIM with a given x_T (Policy.predict's ``noise``) no longer depends on the seed."""
    policy = accelerated(make_model(steps=4))
    program, obs = policy.runner.program, window(policy.spec)
    x_t = draw_chunk_noise(program.scheduler, program.shape, torch.Generator().manual_seed(3)).initial[0].numpy()
    given = policy.predict(obs, seed=1, noise=x_t).actions
    np.testing.assert_array_equal(given, policy.predict(obs, seed=2, noise=x_t).actions)
    np.testing.assert_array_equal(given, policy.predict(obs, seed=3).actions)  # seed 3 draws this x_T
    with pytest.raises(ValueError, match=r"noise must be finite with shape \(8, 2\)"):
        policy.predict(obs, seed=0, noise=np.full((8, 2), np.nan, np.float32))


def test_bf16_program_matches_the_bf16_policy() -> None:
    """The precision is Policy's (its accuracy check); the program runs that precision unchanged."""
    policy = accelerated(make_model(), precision="bf16")
    obs = window(policy.spec)
    reference = policy.policy.predict(obs, seed=0).actions
    np.testing.assert_allclose(policy.predict(obs, seed=0).actions, reference, atol=1e-4 * np.abs(reference).max())


def test_auto_form_on_a_cpu_is_eager_and_times_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Form "auto" times candidates only where there are some (CUDA); on a CPU: eager, no clock."""

    def no_timing(self, runner):
        raise AssertionError("a CPU form chosen by timing")

    monkeypatch.setattr(AcceleratedPolicy, "_median_ms", no_timing)
    policy = accelerated(make_model(), form="auto")
    assert policy.form == "eager" and set(policy.form_check) == {"eager"}


def test_warm_start_runs_the_eager_policy() -> None:
    policy = accelerated(make_model())
    obs = window(policy.spec)
    previous = policy.predict(obs, seed=0)
    ours = policy.predict(obs, seed=1, warm_start=previous, executed_steps=4)
    reference = policy.policy.predict(obs, seed=1, warm_start=previous, executed_steps=4)
    np.testing.assert_array_equal(ours.actions, reference.actions)


def test_release_frees_the_program_and_prepare_recreates_it() -> None:
    policy = accelerated(make_model())
    first_serial, program = policy.serial, weakref.ref(policy.runner.program)
    policy.release()
    gc.collect()
    assert program() is None, "the released chunk program is still referenced"
    assert policy.form == "released"
    with pytest.raises(RuntimeError, match="released"):
        policy.predict_with_noise(
            window(policy.spec),
            draw_chunk_noise(policy.policy.model.inference_scheduler, (1, 8, 2), torch.Generator().manual_seed(0)),
        )
    policy.prepare()
    assert policy.serial > first_serial and policy.form == "eager"
    assert np.all(np.isfinite(policy.predict(window(policy.spec), seed=0).actions))


def test_bad_inputs_are_rejected_with_the_policy_messages() -> None:
    policy = accelerated(make_model())
    obs = window(policy.spec)
    obs["low_dim"]["pos"] = obs["low_dim"]["pos"][:1]
    with pytest.raises(ValueError, match=r"low-dim 'pos': expected shape \(2, 3\)"):
        policy.predict(obs, seed=0)
    obs = window(policy.spec)
    obs["images"]["cam"] = obs["images"]["cam"].astype(np.float32)
    with pytest.raises(ValueError, match="image 'cam': expected uint8"):
        policy.predict(obs, seed=0)


@pytest.mark.skipif(CUDA, reason="checks the error on a machine without CUDA")
def test_cuda_requested_without_cuda_is_a_clear_error() -> None:
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match=f"device '{device}' requested but CUDA is not available"):
            resolve_device(device)
        with pytest.raises(ValueError, match="CUDA is not available"):
            Policy(make_model(), device=device)
    with pytest.raises(ValueError, match="form 'graph' .* needs device cuda"):
        AcceleratedPolicy(Policy(make_model(), device="cpu", precision="fp32"), form="graph")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        ChunkRunner(ChunkProgram(make_model(), torch.device("cpu")), "graph")
    with pytest.raises(ValueError, match="device 'tpu' is not"):
        resolve_device("tpu")
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.skipif(not CUDA, reason="needs a CUDA device (CI has none)")
@pytest.mark.parametrize("steps", [4, None])
def test_cuda_graph_chunk_equals_eager(steps) -> None:
    policy = accelerated(make_model(steps=steps), form="graph", device="cuda")
    assert policy.form == "graph", policy.form_check
    obs = window(policy.spec)
    reference = policy.policy.predict(obs, seed=2).actions
    np.testing.assert_allclose(policy.predict(obs, seed=2).actions, reference, atol=1e-4 * np.abs(reference).max())
    policy.release()


@pytest.mark.skipif(
    not os.environ.get("DP_TEST_COMPILE"),
    reason="torch.compile of even this tiny policy took 29-62 s on the 2-core CI CPU; set DP_TEST_COMPILE=1 to run it",
)
def test_compiled_chunk_equals_eager() -> None:
    policy = accelerated(make_model(), form="compile")
    assert policy.form == "compile:default", policy.form_check
    obs = window(policy.spec)
    reference = policy.policy.predict(obs, seed=2).actions
    np.testing.assert_allclose(policy.predict(obs, seed=2).actions, reference, atol=1e-4 * np.abs(reference).max())
    policy.release()


@given(st.integers(1, 300))
def test_thread_candidates_start_at_one_end_at_max_and_double(max_threads: int) -> None:
    counts = candidate_counts(max_threads)
    assert counts[0] == 1 and counts[-1] == max_threads
    assert all(b > a for a, b in itertools.pairwise(counts))
    assert all(b == 2 * a for a, b in itertools.pairwise(counts[:-1]))  # doubling up to the last


def test_thread_choice_times_each_count_and_leaves_precision_alone() -> None:
    policy = accelerated(make_model())
    before = (policy.precision, policy.form, policy.serial)
    obs = window(policy.spec)
    chosen, timings = choose_thread_count(lambda: policy.predict(obs, seed=0), max_threads=2, runs=1)
    assert set(timings) == {1, 2} and chosen == min(timings, key=timings.get)
    assert torch.get_num_threads() == chosen
    assert (policy.precision, policy.form, policy.serial) == before
    with pytest.raises(ValueError, match="max_threads must be >= 1"):
        candidate_counts(0)
