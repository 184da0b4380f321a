"""Helper process for test_action_chunk_transport: publishes one known ActionChunk (latched)."""

import sys

import numpy as np
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from dp_msgs.msg import ActionChunk


def known_chunk() -> ActionChunk:
    msg = ActionChunk()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1234, 567_890_123
    msg.header.frame_id = "fr3_link0"
    msg.start.sec, msg.start.nanosec = 1234, 667_890_123
    msg.dt = 0.1
    msg.action_names = ["x", "y", "z", "gripper"]
    msg.horizon, msg.action_dim, msg.execute_steps = 16, 4, 8
    msg.data = (np.arange(64, dtype=np.float32) * 0.25 - 3.0).tolist()
    msg.sequence = 2**40 + 3
    msg.policy_id = "pusht_lowdim@0123abcd"
    return msg


def main() -> None:
    rclpy.init(args=sys.argv)
    node = rclpy.create_node("chunk_publisher")
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    pub = node.create_publisher(ActionChunk, "/test/action_chunk", qos)
    pub.publish(known_chunk())
    print("published", flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
