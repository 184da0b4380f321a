"""PolicySpec: validation and dict round trip."""

import pytest

from dp_core.spec import ObsKeySpec, PolicySpec


def pusht_image_spec() -> PolicySpec:
    return PolicySpec(
        obs=(ObsKeySpec("image", "rgb", (3, 96, 96)), ObsKeySpec("agent_pos", "low_dim", (2,))),
        action_dim=2,
        action_names=("x", "y"),
        n_obs_steps=2,
        horizon=16,
        n_action_steps=8,
        dt_s=0.1,
    )


def test_round_trip_and_key_views():
    spec = pusht_image_spec()
    assert PolicySpec.from_dict(spec.to_dict()) == spec
    assert [o.name for o in spec.rgb_keys] == ["image"] and [o.name for o in spec.low_dim_keys] == ["agent_pos"]
    assert spec.key("agent_pos").shape == (2,)
    with pytest.raises(KeyError, match="no observation key 'nope'"):
        spec.key("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(action_dim=0), "action_dim"),
        (dict(action_names=("x", "x")), "unique"),
        (dict(n_obs_steps=0), "n_obs_steps"),
        (dict(horizon=1), "horizon"),
        (dict(n_action_steps=16), "n_action_steps"),
        (dict(dt_s=0.0), "dt_s"),
    ],
)
def test_invalid_specs_raise(kwargs, message):
    base = pusht_image_spec().to_dict()
    base.update(kwargs)
    with pytest.raises(ValueError, match=message):
        PolicySpec.from_dict(base)


def test_bad_key_shapes():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        ObsKeySpec("cam", "rgb", (96, 96, 3))
    with pytest.raises(ValueError, match=r"\(D,\)"):
        ObsKeySpec("pos", "low_dim", (2, 2))
    with pytest.raises(ValueError, match="kind"):
        ObsKeySpec("pos", "depth", (2,))  # type: ignore[arg-type]


def test_spec_mismatch_compares_timing_only_when_given():
    from dp_core.spec import parse_obs_specs, spec_mismatch

    spec = PolicySpec(obs=(ObsKeySpec("state", "low_dim", (6,)),), action_dim=2, n_obs_steps=2, dt_s=0.1)
    obs = parse_obs_specs(["state"], ["6"])
    assert spec_mismatch(spec, obs) == [] and spec_mismatch(spec, obs, n_obs_steps=2, dt_s=0.1) == []
    assert spec_mismatch(spec, obs, n_obs_steps=3, dt_s=0.05) == [
        "dt_s: checkpoint 0.1 s, configured 0.05 s",
        "n_obs_steps: checkpoint 2, configured 3",
    ]
