"""ROS adapter of the episode recorder: raw subscriptions → EpisodeRecorder, services, status.

Message bytes go into the bag exactly as received (``raw=True``), stamped with the receive time
on the node's clock (what ``ros2 bag record`` does). Topics whose type is not configured are
subscribed once a publisher appears in the graph. Topics whose publishers are all transient local
(``/tf_static``) are subscribed as such, and their messages go into every episode (EpisodeRecorder).
"""

from __future__ import annotations

import functools
import importlib
import logging
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from dp_msgs.msg import RecorderStatus
from dp_msgs.srv import StartEpisode, StopEpisode
from dp_recorder.disk import LowDiskError
from dp_recorder.episode_recorder import EpisodeRecorder, RecorderConfig, RecorderStateError
from dp_recorder.message_types import normalize_type_name
from dp_ros_common.node_main import run_node
from dp_ros_common.params import Param, declare_all

LOG = logging.getLogger(__name__)

PARAMS = (
    Param("output_dir", "episodes", "directory of the episode bags (one MCAP bag per episode)"),
    Param("topics", [""], "topics to record (required)"),
    Param("topic_types", [""], "message type per topic ('pkg/msg/Name'); [''] = from the graph once published"),
    Param("min_free_disk_gb", 1.0, "refuse to start (and stop) an episode below this free disk space, GB"),
    Param("flush_period_s", 1.0, "bag flush period, s"),
    Param("status_period_s", 1.0, "~/status period, s"),
    Param("discovery_period_s", 0.5, "period of looking for publishers of not yet subscribed topics, s"),
    Param("qos_depth", 100, "subscription queue depth"),
)


def import_message_class(msgtype: str) -> type:
    """'pkg/msg/Name' → the generated Python class (raises ValueError when not installed)."""
    pkg, sub, name = normalize_type_name(msgtype).split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.{sub}"), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"message type {msgtype} is not installed: {err}") from err


class RecorderNode(Node):
    """Records the configured topics into one MCAP bag per episode."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("recorder", **kwargs)
        self.values = v = declare_all(self, PARAMS)
        self._wanted = self._wanted_topics()
        params = {p: v[p] for p in ("topics", "topic_types", "min_free_disk_gb", "flush_period_s")}
        self.recorder = EpisodeRecorder(
            RecorderConfig(
                output_dir=Path(v["output_dir"]),
                min_free_disk_bytes=int(v["min_free_disk_gb"] * 1e9),
                flush_period_s=v["flush_period_s"],
                parameters={"node": self.get_fully_qualified_name(), **params},
            )
        )
        self._types: dict[str, str] = {}
        self._subs: dict[str, object] = {}
        self._last_message = ""
        self._status_pub = self.create_publisher(RecorderStatus, "~/status", 10)
        self.create_service(StartEpisode, "~/start_episode", self._on_start)
        self.create_service(StopEpisode, "~/stop_episode", self._on_stop)
        self.create_service(StopEpisode, "~/discard_episode", self._on_discard)
        self.create_timer(v["status_period_s"], self._publish_status)
        self.create_timer(v["discovery_period_s"], self._discover)
        self.create_timer(0.1, self.recorder.maybe_flush)
        self._discover()
        self.get_logger().info(f"recording {sorted(self._wanted)} into {self.recorder.config.output_dir}")

    def _wanted_topics(self) -> dict[str, str]:
        topics = [t for t in self.values["topics"] if t]
        types = [t for t in self.values["topic_types"] if t]
        if not topics:
            raise ValueError("parameter 'topics' is empty: list the topics to record")
        if types and len(types) != len(topics):
            raise ValueError(f"'topic_types' needs one type per topic ({len(topics)}), got {len(types)}")
        return {t: normalize_type_name(types[i]) if types else "" for i, t in enumerate(topics)}

    def _discover(self) -> None:
        graph = dict(self.get_topic_names_and_types())
        for topic, msgtype in self._wanted.items():
            if topic in self._subs:
                continue
            msgtype = msgtype or next(iter(graph.get(topic, [])), "")
            if msgtype:
                self._subscribe(topic, msgtype)

    def _subscribe(self, topic: str, msgtype: str) -> None:
        msgtype = normalize_type_name(msgtype)
        try:
            cls = import_message_class(msgtype)
            self.recorder.add_topic(topic, msgtype)
        except ValueError as err:
            self._report(f"cannot record {topic}: {err}")
            self._subs[topic] = None  # do not retry every discovery tick
            return
        infos = self.get_publishers_info_by_topic(topic)
        best_effort = any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
        latched = bool(infos) and all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos)
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_LAST,
            depth=self.values["qos_depth"],
            reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
        )
        self._types[topic] = msgtype
        self._subs[topic] = self.create_subscription(
            cls, topic, functools.partial(self._on_message, topic, latched=latched), qos, raw=True
        )
        self.get_logger().info(f"subscribed {topic} [{msgtype}]")

    def _on_message(self, topic: str, raw: bytes, latched: bool = False) -> None:
        try:
            self.recorder.write(topic, self.get_clock().now().nanoseconds, raw, latched=latched)
        except Exception as err:
            self._report(f"write to {topic} failed: {err}")

    def _on_start(self, request: StartEpisode.Request, response: StartEpisode.Response) -> StartEpisode.Response:
        try:
            path = self.recorder.start(
                request.task, request.note, dict(self._types), self.get_clock().now().nanoseconds
            )
        except (RecorderStateError, LowDiskError, ValueError, OSError) as err:
            response.success, response.message = False, self._report(f"cannot start: {err}")
            return response
        response.success, response.message = True, f"recording episode {self.recorder.episode_index}"
        response.episode_index, response.bag_path = self.recorder.episode_index, str(path)
        return response

    def _on_stop(self, request: StopEpisode.Request, response: StopEpisode.Response) -> StopEpisode.Response:
        try:
            path = self.recorder.stop(request.task_success, request.note, self.get_clock().now().nanoseconds)
        except (RecorderStateError, OSError) as err:
            response.success, response.message = False, self._report(f"cannot stop: {err}")
            return response
        response.success, response.message, response.bag_path = True, f"kept {path}", str(path)
        return response

    def _on_discard(self, request: StopEpisode.Request, response: StopEpisode.Response) -> StopEpisode.Response:
        try:
            path = self.recorder.discard()
        except (RecorderStateError, OSError) as err:
            response.success, response.message = False, self._report(f"cannot discard: {err}")
            return response
        response.success, response.message = True, f"discarded {path}"
        return response

    def _report(self, message: str) -> str:
        self.get_logger().warning(message)
        self._last_message = message
        return message

    def _publish_status(self) -> None:
        snap = self.recorder.snapshot()
        msg = RecorderStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.recording, msg.episode_index, msg.duration_s = snap.recording, snap.episode_index, snap.duration_s
        msg.topics = sorted(snap.message_counts) if snap.recording else sorted(self._types)
        msg.message_counts = [int(snap.message_counts.get(t, 0)) for t in msg.topics]
        msg.bag_path, msg.free_disk_bytes, msg.message = snap.bag_path, snap.free_disk_bytes, self._last_message
        self._status_pub.publish(msg)

    def finalize(self) -> None:
        """Keep the open episode (success unknown → False) on shutdown."""
        if self.recorder.recording:
            path = self.recorder.stop(
                False, "[recorder shut down during the episode]", self.get_clock().now().nanoseconds
            )
            self.get_logger().warning(f"finalized open episode {path} on shutdown")


def main(args: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    # release: the open episode is kept even when SIGINT/SIGTERM already shut the context down
    run_node(RecorderNode, "recorder", args, release=lambda node: node.finalize())


if __name__ == "__main__":
    main()
