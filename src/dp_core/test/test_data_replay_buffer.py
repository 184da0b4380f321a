"""ReplayBuffer: the original zarr layout, dir/zip/memory stores, appends, recovery, real datasets."""

import logging
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

from dp_core.data.replay_buffer import ReplayBuffer

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
PUSHT = SHARED_DATA / "pusht" / "pusht_cchi_v7_replay.zarr"
XARM = SHARED_DATA / "real_xarm_ril" / "replay_buffer.zarr"


def make_episode(length: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "img": rng.integers(0, 256, size=(length, 8, 10, 3), dtype=np.uint8),
        "state": rng.normal(size=(length, 5)).astype(np.float32),
        "keypoint": rng.normal(size=(length, 9, 2)).astype(np.float32),
        "action": rng.normal(size=(length, 2)).astype(np.float64),
    }


def fill(buffer: ReplayBuffer, lengths: list[int]) -> list[dict[str, np.ndarray]]:
    episodes = [make_episode(n, seed) for seed, n in enumerate(lengths)]
    for episode in episodes:
        buffer.add_episode(episode)
    return episodes


def assert_same_episodes(buffer: ReplayBuffer, episodes: list[dict[str, np.ndarray]]) -> None:
    assert buffer.n_episodes == len(episodes)
    assert buffer.keys() == sorted(episodes[0])
    for i, episode in enumerate(episodes):
        got = buffer.get_episode(i)
        for key, values in episode.items():
            np.testing.assert_array_equal(got[key], values)
            assert got[key].dtype == values.dtype


def test_round_trip_directory_store(tmp_path):
    buffer = ReplayBuffer.create(tmp_path / "demo.zarr")
    episodes = fill(buffer, [3, 1, 7])
    reopened = ReplayBuffer.open(tmp_path / "demo.zarr")
    assert_same_episodes(reopened, episodes)
    np.testing.assert_array_equal(reopened.episode_ends, [3, 4, 11])
    np.testing.assert_array_equal(reopened.episode_lengths, [3, 1, 7])
    assert reopened.n_steps == 11 and reopened["state"].shape == (11, 5)
    assert reopened.root["meta/episode_ends"].dtype == np.int64
    np.testing.assert_array_equal(reopened.get_episode(-1, keys=["action"])["action"], episodes[2]["action"])
    # The layout is the original one: plain zarr finds data/<key> and meta/episode_ends.
    raw = zarr.open_group(str(tmp_path / "demo.zarr"), mode="r")
    assert sorted(raw["data"].array_keys()) == buffer.keys()
    np.testing.assert_array_equal(raw["meta/episode_ends"][:], [3, 4, 11])


def test_copy_to_zip_and_back_to_directory(tmp_path):
    buffer = ReplayBuffer.create_in_memory()
    episodes = fill(buffer, [4, 2])
    with buffer.copy_to(tmp_path / "demo.zip") as zipped:
        assert_same_episodes(zipped, episodes)
    with ReplayBuffer.open(tmp_path / "demo.zip") as zipped:
        assert_same_episodes(zipped, episodes)
        assert_same_episodes(zipped.copy_to(tmp_path / "again.zarr"), episodes)
        with pytest.raises(PermissionError, match="read-only"):
            zipped.add_episode(make_episode(1, 9))
    with pytest.raises(ValueError, match="zip stores are read-only"):
        ReplayBuffer.open(tmp_path / "demo.zip", "a")
    with pytest.raises(FileExistsError, match="already exists"):
        buffer.copy_to(tmp_path / "demo.zip")


def test_append_to_existing_store_and_to_memory_copy(tmp_path):
    first = make_episode(5, 0)
    ReplayBuffer.create(tmp_path / "demo.zarr").add_episode(first)
    second, third = make_episode(2, 1), make_episode(6, 2)
    appendable = ReplayBuffer.open(tmp_path / "demo.zarr", "a")
    appendable.add_episode(second)
    appendable.add_episode(third)
    assert_same_episodes(ReplayBuffer.open(tmp_path / "demo.zarr"), [first, second, third])
    memory = ReplayBuffer.open(tmp_path / "demo.zarr").to_memory()
    memory.add_episode(make_episode(3, 7))
    assert memory.n_episodes == 4 and ReplayBuffer.open(tmp_path / "demo.zarr").n_episodes == 3
    np.testing.assert_array_equal(memory.get_episode(2)["img"], third["img"])


def test_chunks_and_compression():
    buffer = ReplayBuffer.create_in_memory()
    fill(buffer, [4])
    assert buffer["img"].chunks == (1, 8, 10, 3)  # one frame per chunk
    assert buffer["state"].chunks[1:] == (5,) and buffer["state"].chunks[0] > 1000  # long time chunks
    compressor = buffer["img"].compressor
    assert isinstance(compressor, numcodecs.Blosc) and compressor.cname == "zstd"
    custom = ReplayBuffer.create_in_memory()
    custom.add_episode(make_episode(4, 0), chunks={"state": (2, 5)}, compressors={"action": None})
    assert custom["state"].chunks == (2, 5) and custom["action"].compressor is None


def test_append_validation_errors():
    buffer = ReplayBuffer.create_in_memory()
    fill(buffer, [3])
    episode = make_episode(2, 5)
    with pytest.raises(ValueError, match="missing \\['img'\\]"):
        buffer.add_episode({k: v for k, v in episode.items() if k != "img"})
    with pytest.raises(ValueError, match="unexpected \\['extra'\\]"):
        buffer.add_episode({**episode, "extra": np.zeros((2, 1))})
    with pytest.raises(ValueError, match="same number of steps"):
        buffer.add_episode({**episode, "state": episode["state"][:1]})
    with pytest.raises(ValueError, match="dtype float64 cannot be stored safely as the stored float32"):
        buffer.add_episode({**episode, "state": episode["state"].astype(np.float64)})
    with pytest.raises(ValueError, match="per-step shape"):
        buffer.add_episode({**episode, "keypoint": episode["keypoint"].reshape(2, 18)})
    with pytest.raises(ValueError, match="at least one step"):
        buffer.add_episode({k: v[:0] for k, v in episode.items()})
    assert buffer.n_episodes == 1 and buffer.n_steps == 3  # nothing was written by the failures
    buffer.add_episode({**episode, "action": episode["action"].astype(np.float32)})  # safe cast is fine
    assert buffer["action"].dtype == np.float64 and buffer.n_episodes == 2


def test_bad_stores_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no replay buffer"):
        ReplayBuffer.open(tmp_path / "missing.zarr")
    root = zarr.open_group(str(tmp_path / "nometa.zarr"), mode="w")
    root.require_group("data").zeros("x", shape=(3,))
    with pytest.raises(ValueError, match="no meta/episode_ends"):
        ReplayBuffer.open(tmp_path / "nometa.zarr")
    root.require_group("meta").array("episode_ends", np.array([2, 1], dtype=np.int64))
    with pytest.raises(ValueError, match="strictly increasing"):
        ReplayBuffer.open(tmp_path / "nometa.zarr")
    root["meta/episode_ends"][:] = [2, 5]
    with pytest.raises(ValueError, match="data/x has 3 steps but meta/episode_ends ends at 5"):
        ReplayBuffer.open(tmp_path / "nometa.zarr")
    with pytest.raises(FileExistsError):
        ReplayBuffer.create(tmp_path / "nometa.zarr")
    with pytest.raises(ValueError, match="zip"):
        ReplayBuffer.create(tmp_path / "new.zip")


def test_interrupted_append_keeps_complete_episodes(tmp_path, caplog):
    path = tmp_path / "demo.zarr"
    episodes = fill(ReplayBuffer.create(path), [3, 4])
    # Simulate a crash inside add_episode: data of a third episode written (only some keys), and
    # the episode_ends resize done but its value never written.
    raw = zarr.open_group(str(path), mode="a")
    for key in ("img", "state"):
        arr = raw["data"][key]
        arr.resize(arr.shape[0] + 5, *arr.shape[1:])
        arr[-5:] = 1
    raw["meta/episode_ends"].resize(3)
    with caplog.at_level(logging.WARNING):
        readonly = ReplayBuffer.open(path)
    assert "interrupted append" in caplog.text
    assert_same_episodes(readonly, episodes)
    assert readonly.n_steps == 7 and readonly["img"].shape[0] == 12  # extra steps ignored, untouched
    # Opened for appending, the partial episode is truncated and appends continue cleanly.
    appendable = ReplayBuffer.open(path, "a")
    assert appendable["img"].shape[0] == 7 and appendable.root["meta/episode_ends"].shape == (2,)
    episodes.append(make_episode(2, 42))
    appendable.add_episode(episodes[-1])
    assert_same_episodes(ReplayBuffer.open(path), episodes)


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found: the shared demo data (../shared/data next to the repository) is absent")
    return path


def test_original_pusht_demos_load_unchanged():
    buffer = ReplayBuffer.open(require(PUSHT))
    assert buffer.n_episodes == 206 and buffer.n_steps == 25650
    assert buffer.keys() == ["action", "img", "keypoint", "n_contacts", "state"]
    shapes = {key: buffer[key].shape for key in buffer.keys()}
    assert shapes == {
        "action": (25650, 2),
        "img": (25650, 96, 96, 3),
        "keypoint": (25650, 9, 2),
        "n_contacts": (25650, 1),
        "state": (25650, 5),
    }
    assert buffer.episode_lengths.min() == 49 and buffer.episode_lengths.max() == 246
    first = buffer.get_episode(0, keys=["state", "action"])
    assert first["state"].shape == (161, 5) and first["action"].dtype == np.float32


def test_real_xarm_buffer_loads_and_round_trips_through_zip(tmp_path):
    buffer = ReplayBuffer.open(require(XARM))
    np.testing.assert_array_equal(buffer.episode_ends, [12, 571, 942])
    assert {"JointAngles", "TCPPose", "action", "Grasp", "timestamp"} <= set(buffer.keys())
    assert buffer["JointAngles"].shape == (942, 7) and buffer["action"].shape == (942, 7)
    episode = buffer.get_episode(1)
    assert episode["TCPPose"].shape == (559, 6) and np.all(np.diff(episode["timestamp"]) > 0)
    with buffer.copy_to(tmp_path / "xarm.zip") as copy:
        for key in buffer.keys():
            np.testing.assert_array_equal(copy[key][:], buffer[key][:])
        np.testing.assert_array_equal(copy.episode_ends, buffer.episode_ends)
