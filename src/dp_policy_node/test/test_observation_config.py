"""The observation node's window shape comes from the checkpoint; a set parameter that disagrees is refused."""

from __future__ import annotations

import pytest

from dp_core.spec import load_spec
from dp_policy_node.observation_config import CameraStream, ObservationNodeConfig, ObservationStreams
from dp_policy_node.tiny_policy import tiny_spec

SPEC = tiny_spec(cameras={"front": (48, 64)})  # front 3x48x64 + joint_pos (3), n_obs_steps 2, dt_s 0.1


def values(**overrides) -> dict:
    v = dict(
        n_obs_steps=0,
        dt_s=0.0,
        max_age_s=0.25,
        image_buffer_capacity=48,
        state_buffer_capacity=256,
        max_window_rate_hz=30.0,
        rate_hz=10.0,
        image_crop="center",
    )
    return v | overrides


def streams(height: int = 0, width: int = 0, joints: tuple[str, ...] = ("j1", "j2", "j3")) -> ObservationStreams:
    return ObservationStreams((CameraStream("front", "/cam", "raw", height, width),), "joint_pos", "/js", joints)


def test_the_window_shape_comes_from_the_spec():
    config = ObservationNodeConfig.build(values(), streams(), SPEC)
    alignment = config.trigger.alignment
    assert (alignment.n_obs_steps, alignment.dt_s) == (2, 0.1)
    assert (config.streams.cameras[0].height, config.streams.cameras[0].width) == (48, 64)
    same = ObservationNodeConfig.build(values(n_obs_steps=2, dt_s=0.1), streams(48, 64), SPEC)  # set and equal
    assert same.trigger == config.trigger


@pytest.mark.parametrize(
    ("v", "s", "message"),
    [
        (values(dt_s=0.05), streams(), "dt_s: checkpoint 0.1 s, configured 0.05 s"),
        (values(n_obs_steps=3), streams(), "n_obs_steps: checkpoint 2, configured 3"),
        (values(), streams(96, 96), r"observation 'front': checkpoint rgb \(3, 48, 64\), configured rgb \(3, 96, 96\)"),
        (values(), streams(joints=("j1", "j2")), r"observation 'joint_pos': checkpoint low_dim \(3,\)"),
    ],
)
def test_a_parameter_that_disagrees_with_the_checkpoint_is_refused(v, s, message):
    with pytest.raises(ValueError, match="the streams do not match the checkpoint's spec: .*" + message):
        ObservationNodeConfig.build(v, s, SPEC)


def test_without_a_checkpoint_every_shape_value_must_be_set():
    with pytest.raises(ValueError, match=r"n_obs_steps and dt_s are 0 .* no checkpoint_path is set"):
        ObservationNodeConfig.build(values(), streams(48, 64), None)
    with pytest.raises(ValueError, match=r"cameras.front.height/width are 0 .* no checkpoint_path is set"):
        ObservationNodeConfig.build(values(n_obs_steps=2, dt_s=0.1), streams(), None)
    config = ObservationNodeConfig.build(values(n_obs_steps=2, dt_s=0.05), streams(48, 64), None)
    assert config.trigger.alignment.dt_s == 0.05  # accepted here; the policy node refuses its windows (WindowGate)


def test_load_spec_reads_the_checkpoint(tiny_checkpoint, tmp_path):
    assert load_spec(tiny_checkpoint) == SPEC
    with pytest.raises(ValueError, match="cannot read the policy spec of checkpoint"):
        load_spec(tmp_path / "nowhere")
