"""dp-convert on real bags: alignment, images, filters, append, corrupt bags, third-party bags."""

import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from rosbags.rosbag2 import StoragePlugin
from rosbags.typesys import Stores, get_typestore

from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.sensors.images import ImageTransform
from dp_recorder.convert import convert_bags
from dp_recorder.convert_cli import main as convert_main
from dp_recorder.convert_config import config_from_dict, load_config
from dp_recorder.episode_metadata import EpisodeMetadata, write_metadata
from dp_recorder.synthetic import CONVERT_CONFIG, StreamRates, make_message, stream_schedule, write_synthetic_bag

START_NS = 5_000_000_000
RATES = StreamRates()
CONFIG = CONVERT_CONFIG


def _bag(
    tmp_path: Path,
    name: str,
    duration_s: float = 2.0,
    seed: int = 0,
    success: bool | None = True,
    rates: StreamRates = RATES,
    **kw,
) -> Path:
    path = tmp_path / name
    write_synthetic_bag(path, START_NS, duration_s, rates, seed=seed, **kw)
    if success is not None:
        write_metadata(path, EpisodeMetadata(episode_index=0, status="kept", success=success))
    return path


def _expected(duration_s: float, seed: int) -> dict[str, np.ndarray]:
    """Independent reference: latest sample not after each tick, computed by brute force."""
    events = stream_schedule(START_NS, duration_s, RATES, seed)
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for t, topic, i in events:
        by_topic.setdefault(topic, []).append((t, i))
    first = max(v[0][0] for v in by_topic.values())
    last = min(v[-1][0] for v in by_topic.values())
    ticks = np.arange(first, last + 1, 100_000_000)
    pick = {
        topic: [max((s for s in v if s[0] <= tick), key=lambda s: s[0]) for tick in ticks]
        for topic, v in by_topic.items()
    }
    ts = get_typestore(Stores.ROS2_JAZZY)
    transform = ImageTransform(24, 32)
    images = []
    for t, i in pick["/camera/top/image_raw"]:
        msg = make_message(ts, "/camera/top/image_raw", t, i, RATES)
        images.append(transform(msg.data.reshape(RATES.height, RATES.width, 3)))
    return {
        "timestamp": ticks / 1e9,
        "joint_pos": np.array([[t / 1e9, t / 1e9 + 2] for t, _ in pick["/joint_states"]], dtype=np.float32),
        "action": np.array([[t / 1e9, -t / 1e9] for t, _ in pick["/cartesian_target"]], dtype=np.float32),
        "top_image": np.stack(images),
    }


def test_episodes_keys_dtypes_and_alignment(tmp_path):
    bags = [_bag(tmp_path, "ep0", 2.0, seed=0), _bag(tmp_path, "ep1", 1.5, seed=1)]
    summary = convert_bags(bags, config_from_dict(CONFIG), tmp_path / "out.zarr")
    assert not summary.failed and not summary.skipped
    rb = ReplayBuffer.open(tmp_path / "out.zarr")
    assert rb.n_episodes == 2 and sorted(rb.keys()) == ["action", "joint_pos", "timestamp", "top_image"]
    assert rb["top_image"].dtype == np.uint8 and rb["top_image"].shape[1:] == (24, 32, 3)
    assert rb["joint_pos"].dtype == np.float32 and rb["action"].dtype == np.float32
    for index, (duration, seed) in enumerate([(2.0, 0), (1.5, 1)]):
        want, got = _expected(duration, seed), rb.get_episode(index)
        assert len(got["action"]) == len(want["action"]) == summary.lengths[index]
        np.testing.assert_allclose(got["timestamp"], want["timestamp"], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(got["joint_pos"], want["joint_pos"])
        np.testing.assert_array_equal(got["action"], want["action"])
        np.testing.assert_array_equal(got["top_image"], want["top_image"])


def test_next_state_action_filters_and_append(tmp_path):
    cfg = dict(CONFIG, action={"mode": "next_state", "key": "joint_pos"}, min_length=12, success_only=True)
    good, failed = _bag(tmp_path, "good", 2.0), _bag(tmp_path, "failed", 2.0, success=False)
    short, third = _bag(tmp_path, "short", 1.0), _bag(tmp_path, "third_party", 2.0, success=None)
    out = tmp_path / "ds.zarr"
    summary = convert_bags([good, failed, short, third], config_from_dict(cfg), out)
    assert summary.converted == [str(good)]
    assert set(summary.skipped) == {str(failed), str(short), str(third)}
    assert "min_length" in summary.skipped[str(short)] and "success unknown" in summary.skipped[str(third)]
    rb = ReplayBuffer.open(out)
    np.testing.assert_array_equal(rb["action"][:-1], rb["joint_pos"][1:])
    with pytest.raises(FileExistsError, match="--append"):
        convert_bags([good], config_from_dict(cfg), out)
    summary = convert_bags([good], config_from_dict(cfg), out, append=True)
    assert ReplayBuffer.open(out).n_episodes == 2 and summary.n_episodes_total == 2
    assert not list(tmp_path.glob(".ds.zarr*")), "no staging leftovers"


def test_corrupt_and_truncated_bags_are_reported_and_skipped(tmp_path, capsys):
    good = _bag(tmp_path, "a_good", 1.5)
    trunc = _bag(tmp_path, "b_truncated", 1.5, rates=StreamRates(width=320, height=240))  # 1 MiB chunks: several
    mcap_file = trunc / "b_truncated.mcap"
    mcap_file.write_bytes(mcap_file.read_bytes()[: mcap_file.stat().st_size * 2 // 3])
    corrupt = _bag(tmp_path, "c_corrupt", 1.5)
    data = bytearray((corrupt / "c_corrupt.mcap").read_bytes())
    data[20:4000] = bytes(3980)  # zeros over the first records
    (corrupt / "c_corrupt.mcap").write_bytes(bytes(data))
    good2 = _bag(tmp_path, "d_good", 1.5, seed=3)
    conf = tmp_path / "conf.yaml"
    conf.write_text(yaml.safe_dump(CONFIG))
    rc = convert_main(
        [str(p) for p in (good, trunc, corrupt, good2)]
        + ["--config", str(conf), "--out", str(tmp_path / "o.zarr"), "-q", "--workers", "1"]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "FAILED  " + str(trunc) in out and "FAILED  " + str(corrupt) in out
    rb = ReplayBuffer.open(tmp_path / "o.zarr")
    assert rb.n_episodes == 2
    np.testing.assert_array_equal(rb.get_episode(1)["joint_pos"], _expected(1.5, 3)["joint_pos"])
    # --recover salvages the complete chunks of the truncated one
    rc = convert_main([str(trunc), "--config", str(conf), "--out", str(tmp_path / "r.zarr"), "-q", "--recover"])
    assert rc == 0 and "salvaged" in capsys.readouterr().out
    salvaged = ReplayBuffer.open(tmp_path / "r.zarr")
    assert salvaged.n_episodes == 1 and 0 < salvaged.n_steps < 15


def test_sqlite3_and_bare_mcap_from_the_mcap_writer(tmp_path):
    from mcap.writer import Writer as McapWriter

    sqlite_bag = _bag(tmp_path, "sql", 1.5, storage=StoragePlugin.SQLITE3, success=None)
    assert list(sqlite_bag.glob("*.db3"))
    ts = get_typestore(Stores.ROS2_JAZZY)
    types = {
        "/joint_states": "sensor_msgs/msg/JointState",
        "/cartesian_target": "geometry_msgs/msg/PoseStamped",
        "/camera/top/image_raw": "sensor_msgs/msg/Image",
    }
    bare = tmp_path / "third_party.mcap"
    with open(bare, "wb") as f:
        writer = McapWriter(f)
        writer.start(profile="ros2", library="test")
        channels = {}
        for topic, msgtype in types.items():
            schema = writer.register_schema(
                name=msgtype, encoding="ros2msg", data=ts.generate_msgdef(msgtype, ros_version=2)[0].encode()
            )
            channels[topic] = writer.register_channel(topic=topic, message_encoding="cdr", schema_id=schema)
        for t, topic, i in stream_schedule(START_NS, 1.5, RATES, seed=0):
            raw = bytes(ts.serialize_cdr(make_message(ts, topic, t, i, RATES), types[topic]))
            writer.add_message(channel_id=channels[topic], log_time=t, publish_time=t, data=raw)
        writer.finish()
    summary = convert_bags([sqlite_bag, bare], config_from_dict(CONFIG), tmp_path / "tp.zarr")
    assert not summary.failed, summary.failed
    rb = ReplayBuffer.open(tmp_path / "tp.zarr")
    want = _expected(1.5, 0)
    for index in range(2):
        np.testing.assert_array_equal(rb.get_episode(index)["joint_pos"], want["joint_pos"])
        np.testing.assert_array_equal(rb.get_episode(index)["top_image"], want["top_image"])


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="rate_hz"):
        config_from_dict(dict(CONFIG, rate_hz=0))
    with pytest.raises(ValueError, match="'field'"):
        config_from_dict(dict(CONFIG, obs={"x": {"topic": "/a"}}))
    with pytest.raises(ValueError, match="low-dim obs key"):
        config_from_dict(dict(CONFIG, action={"mode": "next_state", "key": "top_image"}))
    with pytest.raises(ValueError, match="unknown converter config fields"):
        config_from_dict(dict(CONFIG, rate=3))
    with pytest.raises(ValueError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bag = _bag(tmp_path, "b", 1.0)
    summary = convert_bags(
        [bag], config_from_dict(dict(CONFIG, obs={"q": {"topic": "/nope", "field": "x"}})), tmp_path / "x.zarr"
    )
    assert "'/nope'" in summary.failed[str(bag)]


@pytest.mark.slow
def test_parallel_equals_serial(tmp_path):
    bags = [_bag(tmp_path, f"ep{i}", 1.5, seed=i) for i in range(3)]
    t0 = time.monotonic()
    convert_bags(bags, config_from_dict(CONFIG), tmp_path / "serial.zarr", workers=1)
    convert_bags(bags, config_from_dict(CONFIG), tmp_path / "parallel.zarr", workers=2)
    assert time.monotonic() - t0 < 120
    a, b = ReplayBuffer.open(tmp_path / "serial.zarr"), ReplayBuffer.open(tmp_path / "parallel.zarr")
    np.testing.assert_array_equal(a.episode_ends, b.episode_ends)
    for key in a.keys():
        np.testing.assert_array_equal(a[key][:], b[key][:])
