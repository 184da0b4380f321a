"""Normalizer: min-max and image maps, constant dims, state-dict round trips, errors."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from dp_core.data.normalizer import RANGE_EPS, Normalizer

torch.set_num_threads(1)


def fitted(seed: int = 0) -> tuple[Normalizer, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    data = {
        "agent_pos": rng.uniform([-5, 100], [5, 400], size=(500, 2)).astype(np.float32),
        "action": rng.normal(0, 3, size=(40, 16, 7)).astype(np.float32),
    }
    norm = Normalizer()
    norm.fit(data, {"agent_pos": "low_dim", "action": "action", "image": "rgb"})
    return norm, data


def test_low_dim_maps_the_data_range_onto_minus_one_one():
    norm, data = fitted()
    for key in ("agent_pos", "action"):
        x = torch.from_numpy(data[key])
        y = norm.normalize(key, x)
        flat = y.reshape(-1, y.shape[-1])
        torch.testing.assert_close(flat.min(0).values, -torch.ones(flat.shape[1]), rtol=0, atol=1e-6)
        torch.testing.assert_close(flat.max(0).values, torch.ones(flat.shape[1]), rtol=0, atol=1e-6)
    assert norm.kind("action") == "action" and norm.kind("agent_pos") == "low_dim"
    low, high = norm.input_range("agent_pos")
    np.testing.assert_allclose(low.numpy(), data["agent_pos"].min(0))
    np.testing.assert_allclose(high.numpy(), data["agent_pos"].max(0))


def test_round_trip_is_exact_to_float_precision():
    norm, data = fitted()
    x = torch.from_numpy(data["action"])
    torch.testing.assert_close(norm.unnormalize("action", norm.normalize("action", x)), x, rtol=1e-6, atol=1e-5)
    x64 = x.double()
    torch.testing.assert_close(norm.unnormalize("action", norm.normalize("action", x64)), x64, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(1, 4)),
        elements=st.floats(-1e4, 1e4, allow_nan=False, width=64),
    )
)
def test_round_trip_property(values):
    norm = Normalizer()
    norm.fit({"x": values}, {"x": "low_dim"})
    x = torch.from_numpy(values)
    y = norm.normalize("x", x)
    assert y.abs().max() <= 1 + 1e-5
    torch.testing.assert_close(norm.unnormalize("x", y), x, rtol=1e-5, atol=1e-5 * (1 + values.__abs__().max()))


def test_constant_dims_get_scale_one_and_are_centred():
    values = np.stack([np.linspace(0, 1, 50), np.full(50, 7.5), 3 + np.linspace(0, RANGE_EPS / 2, 50)], axis=1)
    norm = Normalizer()
    norm.fit({"gripper": values}, {"gripper": "low_dim"})
    y = norm.normalize("gripper", torch.from_numpy(values))
    assert torch.all(y[:, 1] == 0)
    assert y[:, 2].abs().max() <= RANGE_EPS  # scale 1: nearly-constant values stay tiny, no blow-up
    torch.testing.assert_close(norm.stats["gripper"].scale[1:], torch.ones(2))
    moved = norm.normalize("gripper", torch.tensor([[0.5, 8.5, 3.0]], dtype=torch.float64))
    assert moved[0, 1] == pytest.approx(1.0)  # a unit step on a constant dim is a unit step normalized


def test_rgb_is_the_fixed_map_on_channel_first_images():
    norm, _ = fitted()
    images = torch.rand(2, 3, 3, 8, 10)  # (B, T, 3, H, W)
    torch.testing.assert_close(norm.normalize("image", images), images * 2 - 1)
    torch.testing.assert_close(norm.unnormalize("image", images * 2 - 1), images)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        norm.normalize("image", torch.rand(2, 8, 10, 3))


def test_dtype_and_device_follow_the_input():
    norm, _ = fitted()
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        x = torch.zeros(4, 2, dtype=dtype)
        assert norm.normalize("agent_pos", x).dtype == dtype
        assert norm.unnormalize("agent_pos", x).dtype == dtype
    meta = norm.to("meta")  # a real device move of every buffer, without needing a GPU
    assert meta.stats["agent_pos"].scale.device.type == "meta"
    assert meta.normalize("agent_pos", torch.zeros(3, 2, device="meta")).device.type == "meta"


def test_state_dict_round_trip_into_a_fresh_normalizer(tmp_path):
    norm, data = fitted()
    norm.fit({"eef.pos": data["agent_pos"]}, {"eef.pos": "low_dim"})  # '.' in a key survives
    torch.save(norm.state_dict(), tmp_path / "norm.pt")
    fresh = Normalizer()
    fresh.load_state_dict(torch.load(tmp_path / "norm.pt"))
    assert set(fresh.keys) == {"agent_pos", "action", "image", "eef.pos"}
    x = torch.from_numpy(data["action"])
    assert torch.equal(fresh.normalize("action", x), norm.normalize("action", x))
    assert fresh.kind("image") == "rgb" and fresh.kind("eef.pos") == "low_dim"
    assert "stats.eef%2Epos.scale" in norm.state_dict()


def test_nested_in_a_policy_module_loads_into_a_new_one():
    class Policy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.normalizer = Normalizer()
            self.head = nn.Linear(2, 2)

    trained = Policy()
    trained.normalizer.fit({"action": np.array([[0.0, 1.0], [2.0, 5.0]])}, {"action": "action"})
    new = Policy()
    new.load_state_dict(trained.state_dict())
    x = torch.tensor([[1.0, 3.0]])
    torch.testing.assert_close(new.normalizer.normalize("action", x), torch.zeros(1, 2))
    # A normalizer with a key the checkpoint lacks fails strict loading with the key named.
    extra = Policy()
    extra.normalizer.fit({"other": np.zeros((2, 1))}, {"other": "low_dim"})
    with pytest.raises(RuntimeError, match="normalizer.stats.other.scale"):
        extra.load_state_dict(trained.state_dict())
    # Shape mismatch for an existing key is reported by torch with the key name.
    wrong = Policy()
    wrong.normalizer.fit({"action": np.zeros((2, 3))}, {"action": "action"})
    with pytest.raises(RuntimeError, match="size mismatch for normalizer.stats.action.scale"):
        wrong.load_state_dict(trained.state_dict())


def test_missing_key_names_the_known_keys():
    norm, _ = fitted()
    with pytest.raises(KeyError, match=r"'camera0'.*agent_pos"):
        norm.normalize("camera0", torch.zeros(3, 8, 8))
    with pytest.raises(KeyError, match="camera0"):
        norm.unnormalize_dict({"camera0": torch.zeros(1)})
    out = norm.normalize_dict({"agent_pos": torch.zeros(1, 2), "image": torch.zeros(1, 3, 4, 4)})
    assert set(out) == {"agent_pos", "image"} and "image" in norm and "nope" not in norm


def test_bad_fit_inputs_are_rejected_with_clear_errors():
    norm = Normalizer()
    with pytest.raises(ValueError, match=r"'pos': 2 non-finite values \(first at row 1, dim 0\)"):
        norm.fit({"pos": np.array([[0.0, 1.0], [math.nan, 2.0], [1.0, math.inf]])}, {"pos": "low_dim"})
    with pytest.raises(ValueError, match="non-empty"):
        norm.fit({"pos": np.zeros((0, 2))}, {"pos": "low_dim"})
    with pytest.raises(ValueError, match="kind must be one of"):
        norm.fit({"pos": np.zeros((2, 2))}, {"pos": "depth"})
    with pytest.raises(KeyError, match="no data to fit"):
        norm.fit({}, {"pos": "low_dim"})
    with pytest.raises(ValueError, match="non-finite"):  # one bad key: nothing is half-fitted
        norm.fit({"ok": np.zeros((2, 1)), "bad": np.full((2, 1), math.nan)}, {"ok": "low_dim", "bad": "low_dim"})
    assert norm.keys == ()


def test_bad_normalize_inputs_are_rejected():
    norm, _ = fitted()
    with pytest.raises(ValueError, match=r"expects shape \(\.\.\., 2\)"):
        norm.normalize("agent_pos", torch.zeros(4, 3))
    with pytest.raises(TypeError, match="floating-point"):
        norm.normalize("image", torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="floating-point"):
        norm.normalize("agent_pos", np.zeros((1, 2)))


def test_fit_accepts_tensors_and_any_leading_shape():
    values = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    a, b = Normalizer(), Normalizer()
    a.fit({"x": values}, {"x": "low_dim"})
    b.fit({"x": values.reshape(6, 4).numpy()}, {"x": "low_dim"})
    assert torch.equal(a.stats["x"].scale, b.stats["x"].scale)
    assert torch.equal(a.stats["x"].offset, b.stats["x"].offset)


def test_loading_updates_the_kind_of_an_existing_key():
    source, target = Normalizer(), Normalizer()
    source.fit({"x": np.zeros((2, 3))}, {"x": "action"})
    target.fit({"x": np.ones((2, 3))}, {"x": "low_dim"})
    target.load_state_dict(source.state_dict())
    assert target.kind("x") == "action"
