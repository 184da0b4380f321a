"""SequenceDataset: key mapping, padding, image conversion, splits, workers, original Push-T demos."""

import logging
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dp_core.data.dataset import DataConfig, ObsSource, SequenceDataset
from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.spec import ObsKeySpec, PolicySpec

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
PUSHT = SHARED_DATA / "pusht" / "pusht_cchi_v7_replay.zarr"
XARM = SHARED_DATA / "real_xarm_ril" / "replay_buffer.zarr"
LENGTHS = [3, 6, 5, 4, 7]


def write_buffer(path: Path, float_images: bool = False) -> Path:
    """Each step's values encode its global index t: image pixels t, state[c] = 10 t + c, ..."""
    buffer = ReplayBuffer.create_in_memory()
    start = 0
    for length in LENGTHS:
        t = np.arange(start, start + length)
        dtype = np.float32 if float_images else np.uint8
        img = np.broadcast_to(t[:, None, None, None], (length, 12, 16, 3)).astype(dtype)
        buffer.add_episode(
            {
                "img": img,
                "state": (10.0 * t[:, None] + np.arange(5)).astype(np.float32),
                "keypoint": (100.0 * t[:, None, None] + np.arange(6).reshape(3, 2)).astype(np.float32),
                "action": (t[:, None] + 0.5 * np.arange(3)).astype(np.float64),
            }
        )
        start += length
    return Path(buffer.copy_to(path).location)


def tiny_spec() -> PolicySpec:
    return PolicySpec(
        obs=(
            ObsKeySpec("image", "rgb", (3, 6, 8)),
            ObsKeySpec("keypoint", "low_dim", (6,)),
            ObsKeySpec("agent_pos", "low_dim", (2,)),
        ),
        action_dim=2,
        n_obs_steps=2,
        horizon=4,
        n_action_steps=2,
    )


def tiny_config(path: Path, **kwargs) -> DataConfig:
    sources = {"image": "img", "keypoint": "keypoint", "agent_pos": {"key": "state", "columns": [0, 2]}}
    return DataConfig(path=str(path), obs_sources=sources, action_source=ObsSource("action", (0, 2)), **kwargs)


@pytest.fixture
def tiny_path(tmp_path) -> Path:
    return write_buffer(tmp_path / "tiny.zarr")


def global_steps(dataset: SequenceDataset, idx: int) -> np.ndarray:
    """The global step indices of window idx, from the sampler's index row (edges repeated)."""
    buffer_start, buffer_end, sample_start, _ = dataset.sampler.indices[idx]
    positions = np.arange(dataset.spec.horizon) + buffer_start - sample_start
    return np.clip(positions, buffer_start, buffer_end - 1)


def test_sample_layout_and_values(tiny_path):
    dataset = SequenceDataset(tiny_config(tiny_path, val_ratio=0.0), tiny_spec())
    assert len(dataset) == sum(n + 1 + 1 - 4 + 1 for n in LENGTHS)
    for idx in (0, 1, len(dataset) - 1):
        sample, t = dataset[idx], global_steps(dataset, idx)
        obs = sample["obs"]
        assert list(obs) == ["image", "keypoint", "agent_pos"]
        assert obs["image"].shape == (2, 3, 6, 8) and obs["image"].dtype == torch.float32
        # Constant frames stay constant through INTER_AREA resizing: pixel = step / 255.
        np.testing.assert_allclose(obs["image"][:, 0, 0, 0].numpy(), t[:2] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(obs["agent_pos"].numpy(), 10.0 * t[:2, None] + np.arange(2))
        np.testing.assert_array_equal(obs["keypoint"].numpy(), 100.0 * t[:2, None] + np.arange(6))
        assert sample["action"].shape == (4, 2) and sample["action"].dtype == torch.float32
        np.testing.assert_array_equal(sample["action"].numpy(), t[:, None] + 0.5 * np.arange(2))
    assert global_steps(dataset, 0).tolist() == [0, 0, 1, 2]  # first window starts one step early


def test_caches_and_float_images_give_identical_samples(tmp_path):
    uint8_path, float_path = write_buffer(tmp_path / "u8.zarr"), write_buffer(tmp_path / "f32.zarr", True)
    reference = SequenceDataset(tiny_config(uint8_path, cache_low_dim=False), tiny_spec())
    variants = [
        SequenceDataset(tiny_config(uint8_path, cache_images=True), tiny_spec()),
        SequenceDataset(tiny_config(float_path), tiny_spec()),
    ]
    for variant in variants:
        assert len(variant) == len(reference)
        for idx in range(0, len(reference), 3):
            expected, got = reference[idx], variant[idx]
            for key in expected["obs"]:
                np.testing.assert_array_equal(got["obs"][key].numpy(), expected["obs"][key].numpy())
            np.testing.assert_array_equal(got["action"].numpy(), expected["action"].numpy())


def test_splits_and_normalizer_data(tiny_path):
    config = tiny_config(tiny_path, val_ratio=0.4, seed=3)
    train = SequenceDataset(config, tiny_spec())
    val = train.get_validation_dataset()
    assert val.split == "val" and train.val_mask.sum() == 2 and not np.any(train.train_mask & train.val_mask)
    assert len(val) == sum(n - 1 for n, v in zip(LENGTHS, train.val_mask) if v)
    assert len(train) == sum(n - 1 for n, v in zip(LENGTHS, train.train_mask) if v)
    assert len(SequenceDataset(config, tiny_spec(), split="val")) == len(val)
    everything = train.get_normalizer_data()  # default: every step of the buffer, as the original
    np.testing.assert_array_equal(everything["action"], np.arange(sum(LENGTHS))[:, None] + 0.5 * np.arange(2))
    data = SequenceDataset(
        tiny_config(tiny_path, val_ratio=0.4, seed=3, normalizer_fit="train"), tiny_spec()
    ).get_normalizer_data()
    assert sorted(data) == ["action", "agent_pos", "keypoint"]  # images excluded
    ends = np.cumsum(LENGTHS)
    t = np.concatenate([np.arange(e - n, e) for e, n, m in zip(ends, LENGTHS, train.train_mask) if m])
    np.testing.assert_array_equal(data["agent_pos"], 10.0 * t[:, None] + np.arange(2))
    np.testing.assert_array_equal(data["action"], t[:, None] + 0.5 * np.arange(2))
    assert data["keypoint"].shape == (len(t), 6) and data["keypoint"].dtype == np.float32
    fewer = SequenceDataset(tiny_config(tiny_path, val_ratio=0.4, seed=3, max_train_episodes=1), tiny_spec())
    assert fewer.train_mask.sum() == 1 and not np.any(fewer.train_mask & fewer.val_mask)
    np.testing.assert_array_equal(fewer.val_mask, ~fewer.train_mask)  # every non-training episode validates
    held_out = SequenceDataset(
        tiny_config(tiny_path, val_ratio=0.4, seed=3, max_train_episodes=1, val_episodes="held_out"), tiny_spec()
    )
    np.testing.assert_array_equal(held_out.val_mask, train.val_mask)
    assert held_out.val_mask.sum() == 2 and fewer.val_mask.sum() == len(LENGTHS) - 1


def test_dataloader_workers_read_a_zip_store(tmp_path):
    zipped = ReplayBuffer.open(write_buffer(tmp_path / "tiny.zarr")).copy_to(tmp_path / "tiny.zip")
    zipped.close()
    zip_path = Path(zipped.location)
    dataset = SequenceDataset(tiny_config(zip_path, val_ratio=0.0), tiny_spec())
    loader = DataLoader(dataset, batch_size=4, shuffle=False, num_workers=1)
    batches = list(loader)
    assert sum(len(b["action"]) for b in batches) == len(dataset)
    first = batches[0]
    assert first["obs"]["image"].shape == (4, 2, 3, 6, 8) and first["action"].shape == (4, 4, 2)
    np.testing.assert_array_equal(first["obs"]["image"][1].numpy(), dataset[1]["obs"]["image"].numpy())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(obs_sources={"image": "img", "keypoint": "keypoint"}), "missing \\['agent_pos'\\]"),
        (dict(obs_sources={"image": "img", "keypoint": "kp", "agent_pos": "state"}), "zarr key 'kp' is not in"),
        (
            dict(obs_sources={"image": "img", "keypoint": "keypoint", "agent_pos": "state"}),
            "'agent_pos' <- zarr 'state': stored shape \\(25, 5\\) .* gives 5 values per step, expected \\(2,\\)",
        ),
        (
            dict(
                obs_sources={"image": "img", "keypoint": "keypoint", "agent_pos": {"key": "state", "columns": [4, 6]}}
            ),
            "exceed",
        ),
        (dict(obs_sources={"image": "state", "keypoint": "keypoint", "agent_pos": "action"}), "rgb key 'image'"),
        (dict(action_source="state"), "'action' <- zarr 'state'"),
    ],
)
def test_mismatched_sources_name_the_key_and_shapes(tiny_path, change, message):
    config = tiny_config(tiny_path)
    for name, value in change.items():
        setattr(config, name, value)
    config.__post_init__()
    with pytest.raises(ValueError, match=message):
        SequenceDataset(config, tiny_spec())


def test_empty_buffer_is_a_clear_error(tmp_path):
    ReplayBuffer.create(tmp_path / "empty.zarr")
    with pytest.raises(ValueError, match="holds no episodes"):
        SequenceDataset(tiny_config(tmp_path / "empty.zarr"), tiny_spec())


def test_config_validation():
    with pytest.raises(ValueError, match="val_ratio"):
        DataConfig(path="x", obs_sources={"a": "b"}, val_ratio=1.5)
    with pytest.raises(ValueError, match="max_train_episodes"):
        DataConfig(path="x", obs_sources={"a": "b"}, max_train_episodes=0)
    with pytest.raises(ValueError, match="obs_sources"):
        DataConfig(path="x", obs_sources={})
    with pytest.raises(ValueError, match="columns"):
        ObsSource("state", (2, 2))
    with pytest.raises(ValueError, match="unknown ObsSource fields"):
        ObsSource.parse({"key": "state", "cols": [0, 2]})
    with pytest.raises(ValueError, match="split"):
        SequenceDataset(DataConfig(path="x", obs_sources={"a": "b"}), tiny_spec(), split="test")


def pusht_sources(kind: str) -> dict:
    """The original Push-T configs: agent_pos is state[:, 0:2]; keypoint (9, 2) is flattened to 18."""
    first = {"keypoint": "keypoint"} if kind == "low_dim" else {"image": "img"}
    return {**first, "agent_pos": {"key": "state", "columns": [0, 2]}}


def pusht_spec(kind: str) -> PolicySpec:
    first = ObsKeySpec("keypoint", "low_dim", (18,)) if kind == "low_dim" else ObsKeySpec("image", "rgb", (3, 96, 96))
    return PolicySpec(
        obs=(first, ObsKeySpec("agent_pos", "low_dim", (2,))), action_dim=2, n_obs_steps=2, horizon=16, n_action_steps=8
    )


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found: the shared demo data (../shared/data next to the repository) is absent")
    return path


def test_pusht_low_dim_sample():
    path = require(PUSHT)
    dataset = SequenceDataset(DataConfig(str(path), pusht_sources("low_dim")), pusht_spec("low_dim"))
    buffer = ReplayBuffer.open(path)
    train_lengths = buffer.episode_lengths[dataset.train_mask]
    assert len(dataset) == int((train_lengths - 7).sum()) == 23804
    idx = 100
    sample, t = dataset[idx], global_steps(dataset, idx)
    features = torch.cat([sample["obs"]["keypoint"], sample["obs"]["agent_pos"]], dim=-1)
    assert features.shape == (2, 20)
    np.testing.assert_array_equal(sample["obs"]["keypoint"].numpy(), buffer["keypoint"][t[:2]].reshape(2, 18))
    np.testing.assert_array_equal(sample["obs"]["agent_pos"].numpy(), buffer["state"][t[:2]][:, :2])
    np.testing.assert_array_equal(sample["action"].numpy(), buffer["action"][t])
    data = dataset.get_normalizer_data()
    assert data["keypoint"].shape == (buffer.n_steps, 18) and data["action"].shape[1] == 2  # whole buffer


def test_pusht_image_sample_and_throughput(caplog):
    path = require(PUSHT)
    dataset = SequenceDataset(DataConfig(str(path), pusht_sources("image")), pusht_spec("image"))
    buffer = ReplayBuffer.open(path)
    idx = len(dataset) // 2
    sample, t = dataset[idx], global_steps(dataset, idx)
    image = sample["obs"]["image"]
    assert image.shape == (2, 3, 96, 96) and image.min() >= 0.0 and image.max() <= 1.0
    expected = buffer["img"][t[:2]].transpose(0, 3, 1, 2) / 255.0
    np.testing.assert_allclose(image.numpy(), expected, atol=1e-6)
    rng = np.random.default_rng(0)
    indices = rng.integers(0, len(dataset), size=20)
    start = time.perf_counter()
    for i in indices:
        dataset[int(i)]
    rate = len(indices) / (time.perf_counter() - start)
    logging.getLogger(__name__).info("Push-T image dataset: %d windows, %.1f samples/s (1 process)", len(dataset), rate)


def test_real_xarm_low_dim_dataset():
    path = require(XARM)
    obs = (
        ObsKeySpec("joints", "low_dim", (7,)),
        ObsKeySpec("tcp_xyz", "low_dim", (3,)),
        ObsKeySpec("grasp", "low_dim", (1,)),
    )
    spec = PolicySpec(obs=obs, action_dim=7, n_obs_steps=2, horizon=16, n_action_steps=8)
    sources = {"joints": "JointAngles", "tcp_xyz": {"key": "TCPPose", "columns": [0, 3]}, "grasp": "Grasp"}
    dataset = SequenceDataset(DataConfig(str(path), sources, val_ratio=0.0), spec)
    assert len(dataset) == (12 - 7) + (559 - 7) + (371 - 7)
    buffer = ReplayBuffer.open(path)
    sample, t = dataset[0], global_steps(dataset, 0)
    assert t.tolist() == [0, 0] + list(range(1, 12)) + [11] * 3  # short episode: both edges padded
    np.testing.assert_allclose(sample["obs"]["tcp_xyz"].numpy(), buffer["TCPPose"][t[:2]][:, :3], rtol=1e-6)
    np.testing.assert_allclose(sample["action"].numpy(), buffer["action"][t], rtol=1e-6)
    assert sample["obs"]["grasp"].shape == (2, 1) and sample["action"].dtype == torch.float32
