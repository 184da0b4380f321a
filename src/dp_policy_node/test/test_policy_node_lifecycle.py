"""policy_node as a separate process, driven through its real lifecycle services by another node."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from dp_msgs.msg import ActionChunk, PolicyStatus
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
from dp_policy_node.conversions import time_to_ns, window_to_msg
from dp_ros_common.testing import LifecycleClient, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]
NS = 1_000_000_000


def write_params(path, checkpoint: str, front_shape: str) -> str:
    params = {
        "policy_node": {
            "ros__parameters": {
                "checkpoint_path": checkpoint,
                "device": "cpu",
                "seed": 3,
                "status_rate_hz": 10.0,
                "expected_obs_keys": ["front", "joint_pos"],
                "expected_obs_shapes": [front_shape, "3"],
                "action_names": ["j1", "j2", "j3"],
            }
        }
    }
    path.write_text(yaml.safe_dump(params))
    return str(path)


class Driver:
    """Publishes observation windows at 10 Hz and records chunks and status."""

    def __init__(self, ctx) -> None:
        self.node = Node("lifecycle_driver", context=ctx)
        self.executor = SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        self.life = LifecycleClient(self.node, self.executor, "/policy_node")
        self.chunks: list[ActionChunk] = []
        self.status: list[PolicyStatus] = []
        self.diagnostics: list[dict[str, str]] = []
        self.sent_stamps: list[int] = []
        self.node.create_subscription(ActionChunk, "dp/action_chunk", self.chunks.append, 50)
        self.node.create_subscription(PolicyStatus, "dp/policy_status", self.status.append, 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, 50)
        self.pub = self.node.create_publisher(ObservationWindowMsg, "dp/observation_window", 5)
        self.rng = np.random.default_rng(0)
        self.node.create_timer(0.1, self.publish_window)

    def publish_window(self) -> None:
        now = self.node.get_clock().now().nanoseconds
        stamps = [now - NS // 10, now]
        low_dim = {"joint_pos": self.rng.normal(0, 0.1, (2, 3)).astype(np.float32)}
        images = {"front": self.rng.integers(0, 255, (2, 48, 64, 3), dtype=np.uint8)}
        self.pub.publish(window_to_msg(stamps, low_dim, images))
        self.sent_stamps.append(now)

    def on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith("policy_node"):
                self.diagnostics.append({kv.key: kv.value for kv in status.values})

    def spin(self, predicate, timeout_s: float = 30.0) -> bool:
        return spin_until(self.executor, predicate, timeout_s)

    def status_says(self, text: str) -> bool:
        return bool(self.status) and text in self.status[-1].message


def test_lifecycle_through_services(ros_context, ros_process, tiny_checkpoint, tmp_path):
    params = write_params(tmp_path / "params.yaml", str(tmp_path / "missing_checkpoint"), "3x96x96")
    ros_process("-m", "dp_policy_node.policy_node", "--ros-args", "--params-file", params)
    d = Driver(ros_context)
    try:
        assert d.life.state(timeout_s=120.0) == "unconfigured"  # the process imports torch first
        # 1. a checkpoint that does not exist: FAILURE, the node stays unconfigured and says why
        assert d.life.transition(Transition.TRANSITION_CONFIGURE) is False
        assert d.life.state() == "unconfigured"
        assert d.spin(lambda: d.status_says("does not exist"))
        if not torch.cuda.is_available():  # 1b. CUDA requested on a machine without: FAILURE that says so
            d.life.set_parameters(device="cuda")
            assert d.life.transition(Transition.TRANSITION_CONFIGURE) is False
            assert d.spin(lambda: d.status_says("device 'cuda' requested but CUDA is not available"))
            d.life.set_parameters(device="cpu")
        # 2. a real checkpoint whose camera shape differs from the configured stream: FAILURE naming it
        d.life.set_parameters(checkpoint_path=str(tiny_checkpoint))
        assert d.life.transition(Transition.TRANSITION_CONFIGURE) is False
        assert d.spin(
            lambda: d.status_says("observation 'front': checkpoint rgb (3, 48, 64), configured rgb (3, 96, 96)")
        )
        # 3. matching configuration: configured and warmed up, then active; chunks flow
        d.life.set_parameters(expected_obs_shapes=["3x48x64", "3"])
        assert d.life.transition(Transition.TRANSITION_CONFIGURE) is True
        assert d.life.state() == "inactive"
        assert not d.chunks, "a chunk was published before activation"
        assert d.life.transition(Transition.TRANSITION_ACTIVATE) is True
        assert d.spin(lambda: len(d.chunks) >= 3), d.status[-1:] if d.status else "no status"
        for chunk in d.chunks:
            stamp = time_to_ns(chunk.header.stamp)
            assert stamp in d.sent_stamps, "chunk not stamped with its observation time"
            assert time_to_ns(chunk.start) == stamp - NS // 10  # action 1 (n_obs_steps - 1) is aligned with it
            assert (chunk.horizon, chunk.action_dim, chunk.execute_steps) == (8, 3, 4)
            assert list(chunk.action_names) == ["j1", "j2", "j3"] and chunk.policy_id
            assert np.all(np.isfinite(chunk.data))
        sequences = [c.sequence for c in d.chunks]
        assert sequences == sorted(sequences) and sequences[0] >= 1
        assert d.spin(lambda: d.status[-1].lifecycle_state == "active" and d.status[-1].chunks_published >= 3)
        assert d.status[-1].median_inference_ms > 0 and d.status[-1].device == "cpu"
        # device, precision, chunk form and per-chunk latency in /diagnostics (and the status note)
        assert d.spin(lambda: d.diagnostics and float(d.diagnostics[-1].get("chunk_ms_median", 0)) > 0)
        diag = d.diagnostics[-1]
        assert diag["device"] == "cpu" and diag["precision"] == "fp32"  # the default: never chosen by timing
        assert diag["chunk_form"] == "eager" and int(diag["torch_threads"]) >= 1  # timed choice (torch_threads 0)
        assert float(diag["chunk_ms_p99"]) >= float(diag["chunk_ms_median"]) > 0
        first_program = diag["chunk_program"]
        # 4. deactivate: chunks stop (at most one already on the wire)
        assert d.life.transition(Transition.TRANSITION_DEACTIVATE) is True
        count, windows = len(d.chunks), len(d.sent_stamps)
        assert d.spin(lambda: len(d.sent_stamps) >= windows + 10)
        assert len(d.chunks) <= count + 1
        # 5. cleanup frees the model, shutdown finalizes
        assert d.life.transition(Transition.TRANSITION_CLEANUP) is True
        assert d.life.state() == "unconfigured"
        assert d.spin(lambda: d.status[-1].policy_id == "")
        assert d.spin(lambda: "chunk_program" not in d.diagnostics[-1]), "the chunk program outlived cleanup"
        # 6. configure again: a new chunk program is prepared (not the released one reused)
        d.life.set_parameters(torch_threads=1)
        assert d.life.transition(Transition.TRANSITION_CONFIGURE) is True
        assert d.spin(lambda: d.diagnostics[-1].get("chunk_program") not in (None, first_program))
        assert d.diagnostics[-1]["torch_threads"] == "1" and d.diagnostics[-1]["chunk_form"] == "eager"
        assert d.status_says("chunk form eager, 1 torch threads")
        assert d.life.transition(Transition.TRANSITION_CLEANUP) is True
        assert d.life.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN) is True
        assert d.life.state() == "finalized"
    finally:
        d.executor.shutdown()
        d.node.destroy_node()
