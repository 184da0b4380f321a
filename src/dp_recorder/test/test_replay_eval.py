"""dp-replay-eval on real MCAP bags with a checkpoint trained here on the same bags' dp-convert output.

The report is checked against an independent recomputation: windows read straight from the
converted zarr (rows i-1, i), the policy called again with each chunk's recorded seed, errors
taken against the zarr's action rows. Also: K samples give K different chunks, and a rate or
topic mismatch is a clear error.
"""

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml

from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.policy.inference import Policy
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_recorder.convert import convert_bags
from dp_recorder.convert_config import config_from_dict
from dp_recorder.episode_metadata import EpisodeMetadata, write_metadata
from dp_recorder.replay_eval_cli import main as replay_main
from dp_recorder.synthetic import CONVERT_CONFIG, StreamRates, stream_schedule, write_synthetic_bag

START_NS = 5_000_000_000
SAMPLES = 3
# The synthetic bags' converter config, with the camera at 40x48 (spatial softmax needs >= 33x33).
CONFIG = {
    **CONVERT_CONFIG,
    "obs": {**CONVERT_CONFIG["obs"], "top_image": {"topic": "/camera/top/image_raw", "image": [40, 48]}},
}
# Policy keys differ from the dataset keys (camera <- top_image, q <- joint_pos column 1), as training allows.
SPEC = PolicySpec(
    obs=(ObsKeySpec("camera", "rgb", (3, 40, 48)), ObsKeySpec("q", "low_dim", (1,))),
    action_dim=2,
    action_names=("x", "y"),
    n_obs_steps=2,
    horizon=8,
    n_action_steps=4,
    dt_s=0.1,
)
SOURCES = {"camera": "top_image", "q": {"key": "joint_pos", "columns": [1, 2]}}


def _train(data: Path, out_dir: Path) -> Path:
    """A few CPU steps of a small U-Net policy on the converted bags (the real training code)."""
    from dp_core.data.dataset import DataConfig
    from dp_policy_node.tiny_policy import train_tiny

    return train_tiny(SPEC, DataConfig(path=str(data), obs_sources=SOURCES, val_ratio=0.0, seed=0), out_dir, steps=3)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("replay")
    bags = []
    for i, duration in enumerate((2.5, 1.8)):
        bag = root / "bags" / f"episode_{i:04d}"
        write_synthetic_bag(bag, START_NS + i * 10**10, duration, seed=i)
        write_metadata(bag, EpisodeMetadata(episode_index=i, status="kept", success=True, task="synthetic"))
        bags.append(bag)
    summary = convert_bags(bags, config_from_dict(CONFIG), root / "data.zarr")
    assert len(summary.converted) == 2
    config = root / "convert.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    checkpoint = _train(root / "data.zarr", root / "run")
    out = root / "report"
    args = [*map(str, bags), "--checkpoint", str(checkpoint), "--config", str(config), "--out", str(out)]
    assert replay_main([*args, "--samples", str(SAMPLES), "--stride", "1", "--seed", "7", "-q"]) == 0
    return {"root": root, "bags": bags, "config": config, "checkpoint": checkpoint, "out": out}


def _zarr_episodes(path: Path) -> list[dict[str, np.ndarray]]:
    with ReplayBuffer.open(path, "r") as buffer:
        ends = np.array(buffer.episode_ends)
        data = {k: np.asarray(buffer[k][: buffer.n_steps]) for k in buffer}
    starts = np.concatenate([[0], ends[:-1]])
    return [{k: v[s:e] for k, v in data.items()} for s, e in zip(starts, ends, strict=True)]


def test_report_matches_an_independent_recomputation(setup: dict) -> None:
    out = setup["out"]
    policy = Policy.from_checkpoint(setup["checkpoint"], device="cpu")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == {} and summary["samples"] == SAMPLES and summary["stride"] == 1
    all_errors = []
    for bag, rows in zip(setup["bags"], _zarr_episodes(setup["root"] / "data.zarr"), strict=True):
        report = json.loads((out / "episodes" / f"{bag.name}.json").read_text())
        arrays = np.load(out / "episodes" / f"{bag.name}.npz")
        n = len(rows["action"])
        # every row with a full window behind it, newest observation at row i
        assert report["rows"] == list(range(1, n)) and report["length"] == n
        assert report["info"]["success"] is True and report["info"]["task"] == "synthetic"
        chunks, seeds = arrays["chunks"], np.asarray(report["seeds"])
        assert chunks.shape == (n - 1, SAMPLES, SPEC.horizon, SPEC.action_dim)
        errors = np.full(chunks.shape, np.nan)
        for w, i in enumerate(report["rows"]):
            # the recorded actions of the chunk: action index 1 (n_obs_steps - 1) is row i
            future = rows["action"][i - 1 : i - 1 + SPEC.horizon]
            np.testing.assert_array_equal(arrays["recorded"][w, : len(future)], future)
            assert np.isnan(arrays["recorded"][w, len(future) :]).all()
            # N samples give N different chunks (stochastic sampler)
            for a in range(SAMPLES):
                for b in range(a + 1, SAMPLES):
                    assert np.abs(chunks[w, a] - chunks[w, b]).max() > 1e-4
            for k in range(SAMPLES):
                errors[w, k, : len(future)] = chunks[w, k, : len(future)] - future
        # spot-check the chunks: the same window read from the zarr, the same seed, the same chunk
        for w in (0, len(report["rows"]) // 2, len(report["rows"]) - 1):
            i = report["rows"][w]
            window = {"camera": rows["top_image"][i - 1 : i + 1], "q": rows["joint_pos"][i - 1 : i + 1, 1:2]}
            for k in range(SAMPLES):
                again = policy.predict(window, seed=int(seeds[w, k])).actions
                np.testing.assert_allclose(again, chunks[w, k], atol=1e-5)
        # executed part: the 4 actions from the one aligned with the newest observation (index 1)
        executed = np.abs(errors[:, :, 1:5])
        np.testing.assert_allclose(report["executed_mae"], np.nanmean(executed, axis=(0, 1, 2)), rtol=1e-6)
        np.testing.assert_allclose(
            report["executed_rmse"], np.sqrt(np.nanmean(errors[:, :, 1:5] ** 2, axis=(0, 1, 2))), rtol=1e-6
        )
        np.testing.assert_allclose(report["horizon_mae"], np.nanmean(np.abs(errors), axis=(0, 1)), rtol=1e-6)
        best = np.nanmean(executed, axis=(2, 3)).min(axis=1)
        np.testing.assert_allclose(report["window_best_executed_mae"], best, rtol=1e-6)
        assert all(s > 0 for s in report["window_spread"])
        all_errors.append(errors)
        image = matplotlib.image.imread(out / "episodes" / f"{bag.name}.png")
        assert image.ndim == 3 and image.shape[0] > 100 and image.std() > 0.01  # a drawn figure
    errors = np.concatenate(all_errors)
    np.testing.assert_allclose(summary["executed_mae"], np.nanmean(np.abs(errors[:, :, 1:5]), axis=(0, 1, 2)))
    assert summary["windows"] == len(errors)
    assert matplotlib.image.imread(out / "summary.png").ndim == 3


def _stale_rows(duration_s: float, seed: int, max_age_ns: int) -> list[int]:
    """Brute force from the synthetic schedule: rows whose camera or joint sample is older than max_age."""
    by_topic: dict[str, list[int]] = {}
    for t, topic, _ in stream_schedule(START_NS, duration_s, StreamRates(), seed):
        by_topic.setdefault(topic, []).append(t)
    first = max(v[0] for v in by_topic.values())
    last = min(v[-1] for v in by_topic.values())
    stale = []
    for row, tick in enumerate(range(first, last + 1, 100_000_000)):
        ages = [tick - max(s for s in by_topic[t] if s <= tick) for t in ("/joint_states", "/camera/top/image_raw")]
        if row >= 1 and max(ages) > max_age_ns:
            stale.append(row)
    return stale


def test_same_seed_same_chunks_default_stride_and_stale_rows(setup: dict, tmp_path: Path) -> None:
    """--seed reproduces the chunks; the default stride is n_action_steps (the replanning period);
    rows whose observation streams are older than --max-age-s are skipped, as the node would."""
    bag = setup["bags"][0]
    args = [str(bag), "--checkpoint", str(setup["checkpoint"]), "--config", str(setup["config"]), "-q"]
    assert replay_main([*args, "--samples", str(SAMPLES), "--seed", "7", "--out", str(tmp_path / "a")]) == 0
    report = json.loads((tmp_path / "a" / "episodes" / f"{bag.name}.json").read_text())
    assert report["rows"] == list(range(1, report["length"], SPEC.n_action_steps)) and report["stale_rows"] == []
    full = np.load(setup["out"] / "episodes" / f"{bag.name}.npz")["chunks"]
    strided = np.load(tmp_path / "a" / "episodes" / f"{bag.name}.npz")["chunks"]
    np.testing.assert_allclose(strided, full[:: SPEC.n_action_steps], atol=1e-5)
    # a 20 ms limit: the 30 Hz camera's newest frame is often older at a row's time
    out = ["--out", str(tmp_path / "b"), "--stride", "1", "--max-age-s", "0.02"]
    assert replay_main([*args, "--samples", str(SAMPLES), "--seed", "7", *out]) == 0
    report = json.loads((tmp_path / "b" / "episodes" / f"{bag.name}.json").read_text())
    stale = _stale_rows(2.5, 0, 20_000_000)
    assert 0 < len(stale) < report["length"] - 1 and report["stale_rows"] == stale
    assert report["rows"] == [r for r in range(1, report["length"]) if r not in stale]
    fresh = np.load(tmp_path / "b" / "episodes" / f"{bag.name}.npz")["chunks"]
    np.testing.assert_allclose(fresh, full[np.array(report["rows"]) - 1], atol=1e-5)


def test_mismatches_are_clear_errors(setup: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint = str(setup["checkpoint"])
    wrong_rate = tmp_path / "rate.yaml"
    wrong_rate.write_text(yaml.safe_dump({**CONFIG, "rate_hz": 20.0}))
    bag = str(setup["bags"][0])
    out = ["--out", str(tmp_path / "out"), "-q"]
    assert replay_main([bag, "--checkpoint", checkpoint, "--config", str(wrong_rate), *out]) == 2
    assert "rate_hz 20" in capsys.readouterr().err
    no_camera = tmp_path / "nocam.yaml"
    no_camera.write_text(yaml.safe_dump({**CONFIG, "obs": {"joint_pos": CONFIG["obs"]["joint_pos"]}}))
    assert replay_main([bag, "--checkpoint", checkpoint, "--config", str(no_camera), *out]) == 2
    assert "'camera' reads dataset key 'top_image'" in capsys.readouterr().err
    # a bag without the camera topic, and one whose command topic is slower than the policy's 10 Hz:
    # both reported by name, the good bag still evaluated, exit status 1
    no_topic, slow = tmp_path / "no_topic", tmp_path / "slow"
    write_synthetic_bag(no_topic, START_NS, 1.0, StreamRates(cameras=()))
    write_synthetic_bag(slow, START_NS, 1.0, StreamRates(command_hz=5.0))
    config = str(setup["config"])
    assert replay_main([str(no_topic), str(slow), bag, "--checkpoint", checkpoint, "--config", config, *out]) == 1
    err = capsys.readouterr().err
    assert "topics ['/camera/top/image_raw'] are not in the bag" in err
    assert "/cartesian_target at " in err and "slower than the policy's 10 Hz" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sorted(summary["failed"]) == [str(no_topic), str(slow)] and summary["episodes"] == ["episode_0000"]
