"""policy_node with ``inference_thread:=false`` (lockstep sims): inference inside the window
callback, replanning paced by the windows' stamps, the same chunks for the same windows."""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter

from dp_msgs.msg import ActionChunk
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
from dp_policy_node.conversions import time_to_ns, window_to_msg
from dp_policy_node.policy_node import PolicyNode

pytestmark = [pytest.mark.ros, pytest.mark.slow]
NS = 1_000_000_000


def windows(base_ns: int, n: int) -> list[ObservationWindowMsg]:
    """n windows 0.1 s apart (stamps from base_ns), fixed content."""
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        t = base_ns + k * NS // 10
        low_dim = {"joint_pos": rng.normal(0, 0.1, (2, 3)).astype(np.float32)}
        images = {"front": rng.integers(0, 255, (2, 48, 64, 3), dtype=np.uint8)}
        out.append(window_to_msg([t - NS // 10, t], low_dim, images))
    return out


def test_inline_inference_is_synchronous_paced_by_stamps_and_repeatable(ros_context, tiny_checkpoint):
    overrides = [
        Parameter(k, value=v)
        for k, v in {
            "checkpoint_path": str(tiny_checkpoint),
            "device": "cpu",
            "seed": 3,
            "inference_thread": False,
            "min_replan_period_s": 0.25,
            "max_window_age_s": 60.0,
            "expected_obs_keys": ["front", "joint_pos"],
            "expected_obs_shapes": ["3x48x64", "3"],
            "action_names": ["j1", "j2", "j3"],
        }.items()
    ]
    policy = PolicyNode("policy_node", context=ros_context, parameter_overrides=overrides)
    probe = Node("inline_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (policy, probe):
        executor.add_node(node)
    chunks: list[ActionChunk] = []
    probe.create_subscription(ActionChunk, "dp/action_chunk", chunks.append, 50)
    pub = probe.create_publisher(ObservationWindowMsg, "dp/observation_window", 50)
    try:
        assert policy.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert policy.worker is not None and not policy.worker.running
        base = probe.get_clock().now().nanoseconds - NS  # all 10 windows stamped in the past (none in the future)
        runs = []
        for _ in range(2):  # a fresh activation restarts the noise seeds: the same chunks again
            chunks.clear()
            assert policy.trigger_activate() == TransitionCallbackReturn.SUCCESS
            assert not policy.worker.running  # no thread: the callback infers
            for k, msg in enumerate(windows(base, 10)):
                pub.publish(msg)
                for _ in range(6):  # window callback (inference inside), then the chunk to the probe
                    executor.spin_once(timeout_sec=0.0)
                if k % 3 == 0:  # 0.3 s since the last inferred window >= 0.25 s: a chunk, right away
                    assert chunks and time_to_ns(chunks[-1].header.stamp) == base + k * NS // 10, k
            assert [time_to_ns(c.header.stamp) for c in chunks] == [base + k * NS // 10 for k in (0, 3, 6, 9)]
            runs.append([np.asarray(c.data) for c in chunks])
            assert policy.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert all(np.array_equal(a, b) for a, b in zip(*runs, strict=True))
        assert policy.producer.gate.skipped == 6  # the windows inside the replanning period
    finally:
        executor.shutdown(timeout_sec=1.0)
        policy.destroy_node()
        probe.destroy_node()
