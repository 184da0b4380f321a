"""Recorder core without ROS: bag writing, metadata, disk check, crash recovery (real MCAP files)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

from dp_recorder.disk import LowDiskError
from dp_recorder.episode_metadata import EpisodeMetadata, read_metadata, write_metadata
from dp_recorder.episode_recorder import EpisodeRecorder, RecorderConfig, RecorderStateError, next_episode_index
from dp_recorder.message_types import make_typestore, message_definition
from dp_recorder.recovery import is_finalized, recover_episode
from dp_recorder.synthetic import joint_state

TS = get_typestore(Stores.ROS2_JAZZY)
JS = "sensor_msgs/msg/JointState"


def _raw(i: int) -> bytes:
    return bytes(TS.serialize_cdr(joint_state(TS, 1_000_000_000 + i * 10_000_000), JS))


def _read(bag: Path) -> list[tuple[str, int, bytes]]:
    with AnyReader([bag]) as reader:
        return [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()]


def test_custom_types_come_from_installed_msg_files():
    ts = make_typestore(["dp_msgs/TaskStatus"])
    msgdef, rihs01 = message_definition(ts, "dp_msgs/msg/ActionChunk")
    assert msgdef.startswith("std_msgs/Header header") and "MSG: builtin_interfaces/Time" in msgdef
    assert rihs01.startswith("RIHS01_")
    with pytest.raises(ValueError, match="unknown message type 'nope/msg/Nothing'"):
        make_typestore(["nope/msg/Nothing"])
    with pytest.raises(ValueError, match="pkg/msg/Name"):
        make_typestore(["JointState"])


def test_metadata_round_trip_and_validation(tmp_path):
    meta = EpisodeMetadata(
        episode_index=3,
        task="push_t",
        note="hi",
        status="kept",
        success=True,
        start_time_ns=5,
        end_time_ns=2_000_000_005,
        topics={"/a": JS},
        message_counts={"/a": 4},
        parameters={"topics": ["/a"]},
    )
    write_metadata(tmp_path, meta)
    assert read_metadata(tmp_path) == meta
    assert read_metadata(tmp_path / "missing") is None
    with pytest.raises(ValueError, match="status"):
        EpisodeMetadata(episode_index=0, status="weird")


def test_episodes_kept_discarded_and_bytes_unchanged(tmp_path):
    rec = EpisodeRecorder(RecorderConfig(output_dir=tmp_path, min_free_disk_bytes=0), make_typestore())
    with pytest.raises(RecorderStateError, match="not recording"):
        rec.stop(True, "", 0)
    path0 = rec.start("push_t", "first", {"/joint_states": JS}, now_ns=10)
    with pytest.raises(RecorderStateError, match="already recording"):
        rec.start("push_t", "", {}, now_ns=11)
    sent = [_raw(i) for i in range(20)]
    for i, raw in enumerate(sent):
        assert rec.write("/joint_states", 100 + i, raw)
    assert rec.snapshot().message_counts == {"/joint_states": 20}
    assert rec.stop(True, "good", now_ns=2_000_000_010) == path0
    assert [raw for _, _, raw in _read(path0)] == sent
    meta = read_metadata(path0)
    assert (meta.status, meta.success, meta.task, meta.message_counts) == (
        "kept",
        True,
        "push_t",
        {"/joint_states": 20},
    )
    assert meta.note == "first good" and meta.topics == {"/joint_states": JS}

    path1 = rec.start("push_t", "", {"/joint_states": JS}, now_ns=20)
    rec.write("/joint_states", 1, sent[0])
    rec.discard()
    assert not path1.exists() and not rec.write("/joint_states", 2, sent[0])
    assert rec.start("t", "", {"/joint_states": JS}, now_ns=30) == path1  # index reused after a discard
    rec.stop(False, "", now_ns=40)
    assert next_episode_index(tmp_path) == 2


def test_latched_messages_go_into_every_episode(tmp_path):
    """/tf_static-like topics publish once before the first episode: each bag still gets them."""
    rec = EpisodeRecorder(RecorderConfig(output_dir=tmp_path, min_free_disk_bytes=0), make_typestore())
    static, other = _raw(1000), _raw(2000)
    assert not rec.write("/static", 5, static, latched=True)  # not recording: kept, not written
    assert not rec.write("/static", 6, static, latched=True)  # the same message again: kept once
    assert not rec.write("/volatile", 7, other)  # an ordinary message before an episode is gone
    topics = {"/static": JS, "/volatile": JS}
    paths = []
    for episode in range(2):
        paths.append(rec.start("t", "", topics, now_ns=100 + episode))
        rec.write("/volatile", 200, other)
        rec.stop(True, "", now_ns=300)
    for episode, path in enumerate(paths):
        assert _read(path) == [("/static", 100 + episode, static), ("/volatile", 200, other)]
    # distinct latched messages (several static broadcasters) are all kept, the newest MAX_LATCHED_PER_TOPIC
    from dp_recorder.episode_recorder import MAX_LATCHED_PER_TOPIC

    many = [_raw(3000 + i) for i in range(MAX_LATCHED_PER_TOPIC + 3)]
    for raw in many:
        rec.write("/static", 1, raw, latched=True)
    path = rec.start("t", "", {"/static": JS}, now_ns=400)
    rec.stop(True, "", now_ns=500)
    assert [raw for _, _, raw in _read(path)] == many[-MAX_LATCHED_PER_TOPIC:]
    # a latched topic that is not among the episode's topics is not written
    path = rec.start("t", "", {"/volatile": JS}, now_ns=600)
    rec.stop(True, "", now_ns=700)
    assert _read(path) == []


def test_refuses_to_start_on_low_disk(tmp_path):
    rec = EpisodeRecorder(RecorderConfig(output_dir=tmp_path, min_free_disk_bytes=10**18), make_typestore())
    with pytest.raises(LowDiskError, match="min_free_disk_gb"):
        rec.start("t", "", {"/joint_states": JS}, now_ns=0)
    assert not any(tmp_path.iterdir())


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="flush_period_s"):
        RecorderConfig(output_dir=tmp_path, flush_period_s=0)
    with pytest.raises(ValueError, match="min_free_disk_bytes"):
        RecorderConfig(output_dir=tmp_path, min_free_disk_bytes=-1)


def test_crash_leaves_flushed_prefix_recoverable(tmp_path):
    """A copy of the .mcap taken mid-episode is what kill -9 leaves; recovery keeps flushed data."""
    rec = EpisodeRecorder(RecorderConfig(output_dir=tmp_path / "live", min_free_disk_bytes=0), make_typestore())
    path = rec.start("t", "n", {"/joint_states": JS}, now_ns=1)
    sent = [_raw(i) for i in range(30)]
    for i, raw in enumerate(sent[:20]):
        rec.write("/joint_states", 100 + i, raw)
    rec._bag.flush()  # what the node's flush timer does
    for i, raw in enumerate(sent[20:]):
        rec.write("/joint_states", 200 + i, raw)  # still in the unflushed chunk
    crashed = tmp_path / "out" / path.name
    shutil.copytree(path, crashed)  # the directory as a killed process leaves it: no metadata.yaml
    rec.stop(True, "", now_ns=2)
    assert not is_finalized(crashed)
    with pytest.raises(Exception):  # noqa: B017 (rosbags/mcap raise different types for a truncated file)
        _read(crashed / f"{path.name}.mcap")
    report = recover_episode(crashed)
    assert not report.complete and report.message_count == 20
    assert [raw for _, _, raw in _read(crashed)] == sent[:20]
    meta = read_metadata(crashed)
    assert meta.status == "recovered" and meta.message_counts == {"/joint_states": 20}
    # a restarted recorder recovers leftovers itself and continues numbering
    shutil.rmtree(crashed)
    shutil.copytree(path.with_name(path.name), tmp_path / "out" / "episode_0007")
    (tmp_path / "out" / "episode_0007" / "metadata.yaml").unlink()
    rec2 = EpisodeRecorder(RecorderConfig(output_dir=tmp_path / "out", min_free_disk_bytes=0), make_typestore())
    assert is_finalized(tmp_path / "out" / "episode_0007") and rec2.episode_index == 8
    assert len(_read(tmp_path / "out" / "episode_0007")) == 30
    np.testing.assert_equal(rec2.snapshot().recording, False)
