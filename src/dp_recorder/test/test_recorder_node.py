"""Recorder node over real DDS: episodes via services → bags → dp-convert; kill -9 safety;
equivalence of converted data with the observation node's live windows."""

import signal
from pathlib import Path

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import Image, JointState

from dp_core.data.replay_buffer import ReplayBuffer
from dp_core.sensors.images import ImageTransform, decode_raw
from dp_core.timing.alignment import AlignmentConfig
from dp_core.timing.window_trigger import TriggerConfig, WindowTrigger
from dp_msgs.msg import RecorderStatus
from dp_msgs.srv import StartEpisode, StopEpisode
from dp_policy_node.conversions import joint_positions_from_msg
from dp_recorder.convert import convert_bags
from dp_recorder.convert_config import config_from_dict
from dp_recorder.episode_metadata import read_metadata
from dp_recorder.recovery import is_finalized
from dp_ros_common.stamps import time_to_ns
from dp_ros_common.testing import spin_until

pytestmark = pytest.mark.ros
TOPICS = ["/joint_states", "/camera/top/image_raw", "/cartesian_target"]
JOINTS = [f"fr3_joint{i}" for i in range(1, 8)]
CONFIG = config_from_dict(
    {
        "rate_hz": 10.0,
        "obs": {
            "joint_pos": {"topic": "/joint_states", "field": "position", "names": ["fr3_joint1", "fr3_joint3"]},
            "top_image": {"topic": "/camera/top/image_raw", "image": [24, 32]},
        },
        "action": {"topic": "/cartesian_target", "field": "pose.position", "components": ["x", "y"]},
    }
)


class Operator:
    """Test side: publishes synthetic robot streams and calls the recorder's services."""

    def __init__(self, context: object) -> None:
        self.node = Node("operator", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.pubs = {
            "/joint_states": self.node.create_publisher(JointState, "/joint_states", 100),
            "/camera/top/image_raw": self.node.create_publisher(Image, "/camera/top/image_raw", 100),
            "/cartesian_target": self.node.create_publisher(PoseStamped, "/cartesian_target", 100),
        }
        self.status: list[RecorderStatus] = []
        self.node.create_subscription(RecorderStatus, "/recorder/status", self.status.append, 10)
        self.clients = {
            name: self.node.create_client(srv, f"/recorder/{name}")
            for name, srv in (
                ("start_episode", StartEpisode),
                ("stop_episode", StopEpisode),
                ("discard_episode", StopEpisode),
            )
        }
        self.published: dict[tuple[str, int], object] = {}
        self.count = 0

    def wait_ready(self) -> None:
        ok = spin_until(
            self.executor,
            lambda: (
                all(c.service_is_ready() for c in self.clients.values())
                and all(self.node.count_subscribers(t) > 0 for t in TOPICS)
            ),
            60.0,
        )
        assert ok, "recorder services/subscriptions did not appear within 60 s"

    def call(self, name: str, **fields: object) -> object:
        client = self.clients[name]
        future = client.call_async(client.srv_type.Request(**fields))
        assert spin_until(self.executor, future.done, 20.0), f"{name} timed out"
        return future.result()

    def publish_for(self, duration_s: float) -> None:
        """Publish joints every 10 ms, a 64x48 frame every 3rd tick, a target every 5th, for duration_s."""
        clock = self.node.get_clock()
        end = clock.now().nanoseconds + int(duration_s * 1e9)
        while (now := clock.now().nanoseconds) < end:
            self.count += 1
            stamp = clock.now().to_msg()
            js = JointState(name=JOINTS, position=[now / 1e9 % 1000 + j for j in range(7)])
            js.header.stamp = stamp
            self._send("/joint_states", js)
            if self.count % 3 == 0:
                img = Image(height=48, width=64, encoding="rgb8", step=192)
                img.header.stamp = stamp
                img.data = np.random.default_rng(self.count).integers(0, 255, 48 * 192, dtype=np.uint8).tobytes()
                self._send("/camera/top/image_raw", img)
            if self.count % 5 == 0:
                pose = PoseStamped()
                pose.header.stamp = stamp
                pose.pose.position.x, pose.pose.position.y = now / 1e9 % 1000, -1.0
                self._send("/cartesian_target", pose)
            self.executor.spin_once(timeout_sec=0.01)

    def _send(self, topic: str, msg: object) -> None:
        self.published[(topic, time_to_ns(msg.header.stamp))] = msg
        self.pubs[topic].publish(msg)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def _start_recorder(ros_process, out: Path):
    return ros_process(
        "-m",
        "dp_recorder.recorder_node",
        "--ros-args",
        "-p",
        f"output_dir:={out}",
        "-p",
        f"topics:=[{','.join(TOPICS)}]",
        "-p",
        "min_free_disk_gb:=0.0",
        "-p",
        "flush_period_s:=0.2",
        "-p",
        "status_period_s:=0.2",
    )


@pytest.mark.slow
def test_record_convert_and_live_equivalence(ros_context, ros_process, tmp_path):
    proc = _start_recorder(ros_process, tmp_path / "eps")
    op = Operator(ros_context)
    try:
        op.wait_ready()
        res = op.call("start_episode", task="push_t", note="e0")
        assert res.success and res.episode_index == 0, res.message
        assert not op.call("start_episode", task="x").success  # already recording
        op.publish_for(2.0)
        assert spin_until(op.executor, lambda: any(s.recording and sum(s.message_counts) > 0 for s in op.status), 5.0)
        assert op.call("stop_episode", task_success=True, note="good").success
        assert op.call("start_episode", task="push_t").success
        op.publish_for(0.5)
        res = op.call("discard_episode")
        assert res.success and res.bag_path == ""
        assert not op.call("stop_episode").success  # not recording
        assert op.call("start_episode", task="push_t").success
        op.publish_for(1.5)
        assert op.call("stop_episode", task_success=False).success
        assert op.call("start_episode", task="push_t", note="interrupted").success
        op.publish_for(0.5)
    finally:
        op.close()
    proc.proc.send_signal(signal.SIGINT)
    assert proc.proc.wait(timeout=30) == 0
    eps = sorted((tmp_path / "eps").iterdir())
    assert [p.name for p in eps] == ["episode_0000", "episode_0001", "episode_0002"] and all(map(is_finalized, eps))
    metas = [read_metadata(p) for p in eps]
    assert [(m.success, m.status) for m in metas] == [(True, "kept"), (False, "kept"), (False, "kept")]
    assert (
        "shut down" in metas[2].note
        and metas[0].task == "push_t"
        and metas[0].topics["/joint_states"] == "sensor_msgs/msg/JointState"
    )
    types = {"/joint_states": JointState, "/camera/top/image_raw": Image, "/cartesian_target": PoseStamped}
    for path in eps:  # the bag holds the published messages, unchanged
        with Reader(path) as reader:
            msgs = [(c.topic, deserialize_message(raw, types[c.topic])) for c, _, raw in reader.messages()]
        assert len(msgs) > 50 and {t for t, _ in msgs} == set(TOPICS)
        assert all(op.published[(t, time_to_ns(m.header.stamp))] == m for t, m in msgs)

    summary = convert_bags(eps[:2], CONFIG, tmp_path / "ds.zarr")
    assert not summary.failed, summary.failed
    rb = ReplayBuffer.open(tmp_path / "ds.zarr")
    assert rb.n_episodes == 2 and 17 <= rb.episode_lengths[0] <= 21 and 12 <= rb.episode_lengths[1] <= 16
    assert {k: rb[k].dtype.str for k in rb.keys()} == {
        "action": "<f4",
        "joint_pos": "<f4",
        "timestamp": "<f8",
        "top_image": "|u1",
    }
    assert rb["top_image"].shape[1:] == (24, 32, 3)
    _assert_live_windows_equal(eps[0], rb.get_episode(0))


def _assert_live_windows_equal(bag: Path, episode: dict[str, np.ndarray]) -> None:
    """The observation node's path (rclpy messages → WindowTrigger) picks the same frames and pixels."""
    transform = ImageTransform(out_h=24, out_w=32)
    alignment = AlignmentConfig(n_obs_steps=2, dt_s=0.1, max_age_s=60.0)
    capacities = {"joint_pos": 100_000, "top_image": 100_000}
    builder = WindowTrigger(TriggerConfig(alignment, 1000.0, capacities), {"joint_pos": "low_dim", "top_image": "rgb"})
    first: dict[str, int] = {}
    with Reader(bag) as reader:
        for conn, _t, raw in reader.messages():
            stamp = time_to_ns(
                deserialize_message(
                    raw,
                    {"/joint_states": JointState, "/camera/top/image_raw": Image, "/cartesian_target": PoseStamped}[
                        conn.topic
                    ],
                ).header.stamp
            )
            first[conn.topic] = min(first.get(conn.topic, stamp), stamp)
            if conn.topic == "/joint_states":
                msg = deserialize_message(raw, JointState)
                stamp = time_to_ns(msg.header.stamp)
                builder.add("joint_pos", stamp, joint_positions_from_msg(msg, ["fr3_joint1", "fr3_joint3"]), stamp)
            elif conn.topic == "/camera/top/image_raw":
                msg = deserialize_message(raw, Image)
                frame = transform(decode_raw(msg.encoding, msg.height, msg.width, msg.step, msg.data))
                builder.add("top_image", time_to_ns(msg.header.stamp), frame, time_to_ns(msg.header.stamp))
    # the timeline starts when every stream has a sample; float64 seconds only approximate the ns ticks
    ticks = max(first.values()) + np.arange(len(episode["timestamp"]), dtype=np.int64) * 100_000_000
    np.testing.assert_allclose(episode["timestamp"], ticks / 1e9, rtol=0, atol=1e-6)
    for i in range(1, len(ticks)):
        # all messages are buffered, so the newest complete time is `now` = the dataset tick
        result, _ = builder.poll(int(ticks[i]))
        assert result.ok, result.message
        np.testing.assert_array_equal(result.window.stamps_ns, ticks[i - 1 : i + 1])
        np.testing.assert_array_equal(result.window.low_dim["joint_pos"], episode["joint_pos"][i - 1 : i + 1])
        np.testing.assert_array_equal(result.window.images["top_image"], episode["top_image"][i - 1 : i + 1])


@pytest.mark.slow
def test_kill_9_mid_episode(ros_context, ros_process, tmp_path):
    out = tmp_path / "eps"
    proc = _start_recorder(ros_process, out)
    op = Operator(ros_context)
    try:
        op.wait_ready()
        assert op.call("start_episode", task="t").success
        op.publish_for(1.5)
        assert op.call("stop_episode", task_success=True).success
        assert op.call("start_episode", task="t").success
        op.publish_for(2.0)

        def written():
            return any(
                s.recording and s.episode_index == 1 and min(s.message_counts, default=0) > 20 for s in op.status
            )

        assert spin_until(op.executor, written, 5.0)
        op.publish_for(0.5)  # > flush_period_s: earlier messages are flushed
        proc.proc.send_signal(signal.SIGKILL)
        assert proc.proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        op.close()
    ep0, ep1 = out / "episode_0000", out / "episode_0001"
    assert is_finalized(ep0) and not is_finalized(ep1) and read_metadata(ep1).status == "recording"
    plain = convert_bags([out], CONFIG, tmp_path / "plain.zarr")
    assert plain.converted == [str(ep0)] and "dp-recover" in plain.failed[str(ep1)]
    salvaged = convert_bags([out], CONFIG, tmp_path / "salvaged.zarr", recover=True)
    assert salvaged.converted == [str(ep0), str(ep1)] and salvaged.lengths[1] >= 10, salvaged.lines()
    assert ReplayBuffer.open(tmp_path / "plain.zarr").episode_lengths[0] == salvaged.lengths[0]


def test_latched_topic_published_before_the_episodes_is_in_every_bag(ros_context, ros_process, tmp_path):
    """Like /tf_static (realsense2_camera, robot_state_publisher): one transient-local message, published
    before the first episode starts, ends up in each episode; a volatile one published then does not."""
    from rclpy.qos import DurabilityPolicy, QoSProfile
    from std_msgs.msg import String

    topics = ["/static_info", "/volatile_info"]
    proc = ros_process(
        "-m",
        "dp_recorder.recorder_node",
        "--ros-args",
        "-p",
        f"output_dir:={tmp_path / 'eps'}",
        "-p",
        f"topics:=[{','.join(topics)}]",
        "-p",
        "min_free_disk_gb:=0.0",
        "-p",
        "discovery_period_s:=0.1",
    )
    node = Node("operator", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        latched = node.create_publisher(
            String, "/static_info", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        )
        volatile = node.create_publisher(String, "/volatile_info", 10)
        latched.publish(String(data="camera_link -> camera_color_optical_frame"))
        start = node.create_client(StartEpisode, "/recorder/start_episode")
        stop = node.create_client(StopEpisode, "/recorder/stop_episode")
        assert spin_until(
            executor,
            lambda: (
                start.service_is_ready()
                and stop.service_is_ready()
                and all(node.count_subscribers(t) > 0 for t in topics)
            ),
            60.0,
        )
        volatile.publish(String(data="before"))
        executor.spin_once(timeout_sec=0.5)
        for episode in range(2):
            future = start.call_async(StartEpisode.Request(task="t"))
            assert spin_until(executor, future.done, 20.0) and future.result().success
            volatile.publish(String(data=f"during {episode}"))
            spin_until(executor, lambda: False, 0.5)
            future = stop.call_async(StopEpisode.Request(task_success=True))
            assert spin_until(executor, future.done, 20.0) and future.result().success
    finally:
        executor.shutdown()
        node.destroy_node()
    proc.proc.send_signal(signal.SIGINT)
    assert proc.proc.wait(timeout=30) == 0
    eps = sorted((tmp_path / "eps").iterdir())
    assert len(eps) == 2
    for episode, path in enumerate(eps):
        with Reader(path) as reader:
            msgs = [(c.topic, deserialize_message(raw, String).data) for c, _, raw in reader.messages()]
        assert msgs == [
            ("/static_info", "camera_link -> camera_color_optical_frame"),
            ("/volatile_info", f"during {episode}"),
        ], msgs
