"""dp-eval pusht: start states, observations and a short real run on gym-pusht 0.1.8."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.evaluation.pusht_env import LOCAL_KEYPOINTS, PushTObserver, block_keypoints, start_state
from dp_core.evaluation.rollout import _window
from dp_core.models.unet1d import UNetConfig
from dp_core.policy.diffusion_model import DiffusionModel, DiffusionModelConfig
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.training.checkpoint import save_checkpoint_dir
from dp_core.training.config import to_dict

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
PUSHT = SHARED / "pusht" / "pusht_cchi_v7_replay.zarr"

torch.set_num_threads(1)


def _tiny_checkpoint(tmp_path: Path, image: bool = False) -> Path:
    obs = [ObsKeySpec("keypoint", "low_dim", (18,)), ObsKeySpec("agent_pos", "low_dim", (2,))]
    if image:
        obs = [ObsKeySpec("image", "rgb", (3, 96, 96)), obs[1]]
    spec = PolicySpec(obs=tuple(obs), action_dim=2, action_names=("x", "y"), horizon=8, n_action_steps=4)
    config = DiffusionModelConfig(
        spec=spec, unet=UNetConfig(down_dims=(8, 16), n_groups=4, diffusion_step_embed_dim=8), num_inference_steps=2
    )
    torch.manual_seed(0)
    model = DiffusionModel(config)
    rng = np.random.default_rng(0)
    data = {k.name: rng.uniform(0, 512, (100, k.shape[0])) for k in spec.low_dim_keys}
    data["action"] = rng.uniform(0, 512, (100, 2))
    model.normalizer.fit(data, {**{k: "low_dim" for k in data}, **{k.name: "rgb" for k in spec.rgb_keys}})
    tree = {"policy": to_dict(config), "data": {"path": "none", "obs_sources": {k.name: k.name for k in obs}}}
    return save_checkpoint_dir(tmp_path / "run", 0, model.state_dict(), tree)


def test_start_states_follow_the_original_reset() -> None:
    rs = np.random.RandomState(seed=100000)
    expected = [
        rs.randint(50, 450),
        rs.randint(50, 450),
        rs.randint(100, 400),
        rs.randint(100, 400),
        rs.randn() * 2 * np.pi - np.pi,
    ]
    np.testing.assert_array_equal(start_state(100000), expected)
    states = np.array([start_state(s) for s in range(100000, 100050)])
    assert states[:, :2].min() >= 50 and states[:, :2].max() < 450 and states[:, 2:4].min() >= 100
    assert len({tuple(s) for s in states}) == 50


def test_keypoints_reproduce_the_demonstrations() -> None:
    if not PUSHT.exists():
        pytest.skip(f"{PUSHT} is absent: the shared Push-T replay buffer (../shared/data/pusht)")
    import zarr

    store = zarr.open(str(PUSHT), "r")
    keypoints, state = store["data/keypoint"][:], store["data/state"][:]
    starts = np.concatenate([[0], store["meta/episode_ends"][:-1]])
    steps = np.setdiff1d(np.arange(0, len(state), 7), starts)  # first frames were stored before physics settled
    errors = [np.abs(block_keypoints(state[i, 2:4], state[i, 4]) - keypoints[i]).max() for i in steps]
    assert np.median(errors) < 1e-3 and np.percentile(errors, 99) < 0.1
    assert LOCAL_KEYPOINTS.shape == (9, 2)


@settings(max_examples=40, deadline=None)
@given(n_obs=st.integers(1, 4), n_frames=st.integers(1, 6))
def test_window_repeats_the_first_frame_until_full(n_obs: int, n_frames: int) -> None:
    history: deque = deque(maxlen=n_obs)
    for t in range(n_frames):
        history.append(({"agent_pos": np.full(2, t, np.float32)}, {}))
    values = _window(history, n_obs)["low_dim"]["agent_pos"][:, 0]
    newest = list(range(n_frames))[-n_obs:]
    assert values.shape == (n_obs,) and values[-1] == n_frames - 1
    assert list(values) == [newest[0]] * (n_obs - len(newest)) + newest


def test_unknown_keys_are_refused() -> None:
    spec = PolicySpec(obs=(ObsKeySpec("joints", "low_dim", (7,)),), action_dim=2)
    with pytest.raises(ValueError, match="'joints'"):
        PushTObserver.for_spec(spec)
    with pytest.raises(ValueError, match="action_dim 2"):
        PushTObserver.for_spec(PolicySpec(obs=(ObsKeySpec("agent_pos", "low_dim", (2,)),), action_dim=3))


@pytest.mark.parametrize("image", [False, True], ids=["keypoints", "image"])
def test_dp_eval_pusht_short_run(tmp_path: Path, image: bool, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("gym_pusht", reason="gym-pusht 0.1.8 (requirements/no-deps.txt) is not installed")
    from dp_core.evaluation.cli import main

    checkpoint = _tiny_checkpoint(tmp_path, image)
    out = tmp_path / "eval"
    assert (
        main(["pusht", str(checkpoint), "--seeds", "2", "--max-steps", "10", "--vis-episodes", "1", "--out", str(out)])
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    results = json.loads((out / "results.json").read_text())
    episodes = results["episodes"]
    assert [e["seed"] for e in episodes] == [100000, 100001]
    assert all(e["steps"] == len(e["rewards"]) <= 10 and e["chunks"] == 3 for e in episodes)  # 4 actions a chunk
    assert all(0 <= r <= 1 for e in episodes for r in e["rewards"])
    assert summary["score"] == pytest.approx(np.mean([max(e["rewards"]) for e in episodes]), abs=1e-4)
    assert summary["observation"] == ("image" if image else "keypoints")
    assert (out / "scores.png").stat().st_size > 0 and (out / "episodes.gif").stat().st_size > 0
    assert episodes[0]["start_state"] == list(start_state(100000))


def test_rendered_images_reproduce_the_demonstrations() -> None:
    """gym-pusht 0.1.8 with pygame 2.5.2 renders a stored state as the dataset's 96x96 image."""
    pytest.importorskip("gym_pusht", reason="gym-pusht 0.1.8 (requirements/no-deps.txt) is not installed")
    if not PUSHT.exists():
        pytest.skip(f"{PUSHT} is absent: the shared Push-T replay buffer (../shared/data/pusht)")
    import zarr

    from dp_core.evaluation.pusht_env import make_env

    store = zarr.open(str(PUSHT), "r")
    env = make_env(PushTObserver((), "image", (96, 96)))
    env.reset(options={"reset_to_state": start_state(0)})
    inner = env.unwrapped
    differing = []
    for index in range(500, 25000, 1500):
        state = store["data/state"][index]
        # A stored state is (position, angle) of the body as it is: set the angle first (setting it
        # after the position would rotate the block about its centre of gravity and move it).
        inner.block.angle = float(state[4])
        inner.agent.position, inner.block.position = list(state[:2]), list(state[2:4])
        inner.space.reindex_shapes_for_body(inner.block)
        inner.space.reindex_shapes_for_body(inner.agent)
        frame = inner._render(visualize=False).astype(int)
        differing.append(float((np.abs(frame - store["data/img"][index].astype(int)).max(-1) > 0).mean()))
    env.close()
    assert np.median(differing) == 0.0 and max(differing) < 1e-3, differing  # measured: 16 of 17 bit-equal
