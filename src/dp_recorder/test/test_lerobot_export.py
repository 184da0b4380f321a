"""dp-convert --format lerobot on real bags: the LeRobot v3.0 files, read back with pyarrow/PyAV,
hold the zarr output's episodes (same values, timestamps on the 1/fps grid, frames in the MP4s)."""

import json
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from dp_core.data.replay_buffer import ReplayBuffer
from dp_recorder.convert import LeRobotOptions, convert_bags
from dp_recorder.convert_cli import main as convert_main
from dp_recorder.convert_config import config_from_dict
from dp_recorder.episode_metadata import EpisodeMetadata, write_metadata
from dp_recorder.lerobot_writer import LeRobotWriter
from dp_recorder.synthetic import CONVERT_CONFIG, StreamRates, write_synthetic_bag

START_NS = 5_000_000_000
CONFIG = CONVERT_CONFIG
CAM = "observation.images.top_image"
TOLERANCE_S = 1e-4  # LeRobotDataset's default tolerance_s for timestamps and video frames


def _bags(tmp_path: Path) -> list[Path]:
    bags = []
    for i, (duration, task) in enumerate([(2.0, "push the T"), (1.5, "")]):
        path = tmp_path / f"ep{i}"
        write_synthetic_bag(path, START_NS + i * 10**9, duration, StreamRates(), seed=i)
        write_metadata(path, EpisodeMetadata(episode_index=i, status="kept", success=True, task=task))
        bags.append(path)
    return bags


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with av.open(str(path)) as container:
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    return np.array([t for t, _ in frames]), np.stack([img for _, img in frames])


def test_lerobot_export_matches_the_zarr_episodes(tmp_path):
    bags = _bags(tmp_path)
    convert_bags(bags, config_from_dict(CONFIG), tmp_path / "ds.zarr")
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump(CONFIG))
    out = tmp_path / "lerobot"
    rc = convert_main(
        [str(b) for b in bags]
        + [
            "--config",
            str(conf),
            "--out",
            str(out),
            "--format",
            "lerobot",
            "--task",
            "default task",
            "--robot-type",
            "fr3",
            "-q",
            "--workers",
            "1",
        ]
    )
    assert rc == 0
    rb = ReplayBuffer.open(tmp_path / "ds.zarr")
    n = rb.n_steps
    ends = rb.episode_ends[:]
    starts = np.concatenate([[0], ends[:-1]])

    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["robot_type"] == "fr3"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (2, n, 2)
    feats = info["features"]
    assert feats["observation.state"]["shape"] == [2]
    assert feats["observation.state"]["names"] == ["joint_pos.fr3_joint1", "joint_pos.fr3_joint3"]
    assert feats["action"] == {"dtype": "float32", "shape": [2], "names": ["action.x", "action.y"]}
    assert feats[CAM]["dtype"] == "video" and feats[CAM]["shape"] == [24, 32, 3]
    assert feats[CAM]["info"]["video.codec"] == "av1" and feats[CAM]["info"]["video.fps"] == 10
    assert {k: feats[k]["dtype"] for k in ("timestamp", "frame_index", "episode_index", "index", "task_index")} == {
        "timestamp": "float32",
        "frame_index": "int64",
        "episode_index": "int64",
        "index": "int64",
        "task_index": "int64",
    }

    data = pq.read_table(out / "data/chunk-000/file-000.parquet")
    assert data.column_names == [
        "observation.state",
        "action",
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ]
    assert data.num_rows == n
    np.testing.assert_array_equal(np.array(data["observation.state"].to_pylist(), np.float32), rb["joint_pos"][:])
    np.testing.assert_array_equal(np.array(data["action"].to_pylist(), np.float32), rb["action"][:])
    np.testing.assert_array_equal(data["index"].to_numpy(), np.arange(n))
    stamps, frame_index = data["timestamp"].to_numpy(), data["frame_index"].to_numpy()
    zarr_stamps = rb["timestamp"][:]
    for e, (s, t) in enumerate(zip(starts, ends, strict=True)):
        np.testing.assert_array_equal(data["episode_index"].to_numpy()[s:t], e)
        np.testing.assert_array_equal(frame_index[s:t], np.arange(t - s))
        np.testing.assert_allclose(stamps[s:t], zarr_stamps[s:t] - zarr_stamps[s], atol=1e-6)
    assert np.abs(stamps - frame_index / 10).max() < TOLERANCE_S

    episodes = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["length"] for e in episodes] == list(ends - starts)
    assert [e["tasks"] for e in episodes] == [["push the T"], ["default task"]]
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in episodes] == list(zip(starts, ends, strict=True))
    assert [e[f"videos/{CAM}/from_timestamp"] for e in episodes] == [0.0, starts[1] / 10]
    np.testing.assert_allclose(episodes[1]["stats/action/mean"], rb.get_episode(1)["action"].mean(axis=0), rtol=1e-6)
    tasks = pq.read_table(out / "meta/tasks.parquet")
    assert tasks.to_pydict() == {"task_index": [0, 1], "task": ["push the T", "default task"]}
    assert tasks.schema.pandas_metadata["index_columns"] == ["task"]

    stats = json.loads((out / "meta/stats.json").read_text())
    np.testing.assert_allclose(stats["action"]["mean"], rb["action"][:].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(stats["observation.state"]["std"], rb["joint_pos"][:].std(axis=0), rtol=1e-5)
    assert stats["action"]["count"] == [n] and np.array(stats[CAM]["mean"]).shape == (3, 1, 1)
    assert set(stats["action"]) >= {"min", "max", "q01", "q50", "q99"}

    times, frames = _decode(out / f"videos/{CAM}/chunk-000/file-000.mp4")
    assert frames.shape == (n, 24, 32, 3)
    for e, (s, t) in enumerate(zip(starts, ends, strict=True)):
        query = episodes[e][f"videos/{CAM}/from_timestamp"] + stamps[s:t]  # what LeRobotDataset decodes
        assert np.abs(times[s:t] - query).max() < TOLERANCE_S
    error = np.abs(frames.astype(np.int16) - rb["top_image"][:].astype(np.int16)).mean()
    assert error < 6, f"decoded frames differ from the zarr images by {error:.1f} on average"


def test_files_roll_over_and_every_episode_finds_its_rows_and_frames(tmp_path):
    """Tiny size limits: each episode still leads, through meta/episodes, to its rows and frames."""
    bags = _bags(tmp_path) + _bags(tmp_path / "more")
    config = config_from_dict(CONFIG)
    convert_bags(bags, config, tmp_path / "ds.zarr")
    rb = ReplayBuffer.open(tmp_path / "ds.zarr")
    out = tmp_path / "lr"
    writer = LeRobotWriter(out, config, data_files_size_in_mb=1e-6, video_files_size_in_mb=1e-6, vcodec="h264")
    for e in range(rb.n_episodes):
        writer.add_episode(rb.get_episode(e))
    writer.close()
    info = json.loads((out / "meta/info.json").read_text())
    assert len(list((out / "data").glob("chunk-000/file-*.parquet"))) == rb.n_episodes
    assert len(list((out / "videos" / CAM).glob("chunk-000/file-*.mp4"))) >= 2
    for e, ep in enumerate(pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()):
        rows = pq.read_table(
            out / info["data_path"].format(chunk_index=ep["data/chunk_index"], file_index=ep["data/file_index"])
        )
        mine = np.nonzero(rows["episode_index"].to_numpy() == e)[0]
        assert len(mine) == ep["length"] == len(rb.get_episode(e)["action"])
        np.testing.assert_array_equal(
            rows["index"].to_numpy()[mine], np.arange(ep["dataset_from_index"], ep["dataset_to_index"])
        )
        video = out / info["video_path"].format(
            video_key=CAM, chunk_index=ep[f"videos/{CAM}/chunk_index"], file_index=ep[f"videos/{CAM}/file_index"]
        )
        times, frames = _decode(video)
        inside = (times >= ep[f"videos/{CAM}/from_timestamp"] - TOLERANCE_S) & (
            times < ep[f"videos/{CAM}/to_timestamp"] - TOLERANCE_S
        )
        assert inside.sum() == ep["length"]
        query = ep[f"videos/{CAM}/from_timestamp"] + rows["timestamp"].to_numpy()[mine]
        assert np.abs(times[inside] - query).max() < TOLERANCE_S
        error = np.abs(frames[inside].astype(int) - rb.get_episode(e)["top_image"].astype(int)).mean()
        assert error < 6


def test_lerobot_export_refuses_what_lerobot_cannot_hold(tmp_path, capsys):
    bags = _bags(tmp_path)[:1]
    with pytest.raises(ValueError, match="integer fps"):
        convert_bags(bags, config_from_dict(dict(CONFIG, rate_hz=7.5)), tmp_path / "a", lerobot=LeRobotOptions())
    odd = config_from_dict(
        dict(CONFIG, obs={**CONFIG["obs"], "top_image": {"topic": "/camera/top/image_raw", "image": [23, 32]}})
    )
    with pytest.raises(ValueError, match="no bag converted"):
        convert_bags(bags, odd, tmp_path / "b", lerobot=LeRobotOptions())
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b*")), "nothing half-written"
    convert_bags(bags, odd, tmp_path / "odd.zarr")
    with pytest.raises(ValueError, match="even height and width"):
        LeRobotWriter(tmp_path / "d", odd).add_episode(ReplayBuffer.open(tmp_path / "odd.zarr").get_episode(0))
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump(CONFIG))
    rc = convert_main(
        [str(bags[0]), "--config", str(conf), "--out", str(tmp_path / "c"), "--format", "lerobot", "--append", "-q"]
    )
    assert rc == 2 and "zarr output only" in capsys.readouterr().err
