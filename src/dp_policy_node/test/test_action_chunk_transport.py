"""An ActionChunk published by one process arrives field by field equal in another, over DDS."""

from pathlib import Path

import numpy as np
import pytest
from chunk_publisher_process import known_chunk
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from dp_msgs.msg import ActionChunk
from dp_ros_common.testing import spin_until

pytestmark = pytest.mark.ros
PUBLISHER = Path(__file__).with_name("chunk_publisher_process.py")


def test_chunk_crosses_processes_unchanged(ros_context, ros_process):
    ros_process(str(PUBLISHER))
    node = Node("chunk_listener", context=ros_context)
    received: list[ActionChunk] = []
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    node.create_subscription(ActionChunk, "/test/action_chunk", received.append, qos)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        assert spin_until(executor, lambda: bool(received), timeout_s=30.0), "no chunk arrived within 30 s"
    finally:
        executor.shutdown()
        node.destroy_node()
    got, want = received[0], known_chunk()
    for field in ("dt", "action_names", "horizon", "action_dim", "execute_steps", "sequence", "policy_id"):
        assert getattr(got, field) == getattr(want, field), field
    assert (got.header.stamp.sec, got.header.stamp.nanosec) == (1234, 567_890_123)
    assert got.header.frame_id == "fr3_link0"
    assert (got.start.sec, got.start.nanosec) == (1234, 667_890_123)
    np.testing.assert_array_equal(np.asarray(got.data), np.asarray(want.data, dtype=np.float32))
