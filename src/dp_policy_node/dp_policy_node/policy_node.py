"""policy_node (lifecycle): dp_msgs/ObservationWindow → inference on a worker thread → ActionChunk.

configure loads and checks the checkpoint (ChunkProducer), activate starts the InferenceWorker,
deactivate stops it, cleanup frees the model. Callbacks only convert and hand over the newest
window; the model never runs on the executor. Exception: ``inference_thread:=false`` runs the
model in the window callback, for a lockstep simulation (``dp_sim.lockstep``) where the graph must
not move on before the chunk is out; replanning is then paced by the windows' (sim) stamps.
"""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter

from dp_core.policy.window_input import CheckedWindow
from dp_core.timing.observation_window import ObservationWindowData
from dp_msgs.msg import ActionChunk, PolicyStatus
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
from dp_policy_node.chunk_producer import ChunkProducer, ChunkProducerConfig
from dp_policy_node.conversions import chunk_to_msg, status_diagnostics, window_arrays_from_msg
from dp_policy_node.inference_worker import InferenceWorker
from dp_ros_common.node_main import LATENCY_EXECUTOR, run_node
from dp_ros_common.params import Param, declare_all

PARAMS = [
    Param("checkpoint_path", "", "checkpoint file/directory written by dp-train (required)"),
    Param("device", "auto", "auto (CUDA when available), cpu, cuda or cuda:N"),
    Param("precision", "fp32", "denoiser precision: fp32, int8, bf16, or auto (by accuracy and capability)"),
    Param("num_inference_steps", 0, "DDIM denoising steps; 0 keeps the checkpoint's setting"),
    Param("warm_start", False, "start denoising from the previous chunk's remainder (default false)"),
    Param("seed", -1, "base seed of the sampling noise; -1 = random"),
    Param("expected_obs_keys", [], "keys the observation node sends (empty: any)", Parameter.Type.STRING_ARRAY),
    Param("expected_obs_shapes", [], "their shapes: '3xHxW' (rgb) or 'D' (low-dim)", Parameter.Type.STRING_ARRAY),
    Param("action_names", [], "action names the executor expects (empty: any)", Parameter.Type.STRING_ARRAY),
    Param("min_replan_period_s", 0.0, "minimum seconds between inference starts (0: every new window)"),
    Param("inference_thread", True, "infer on a worker thread; false: in the window callback (lockstep sim only)"),
    Param("max_window_age_s", 0.5, "windows older than this on arrival (s) are rejected as stale"),
    Param("status_rate_hz", 2.0, "PolicyStatus and /diagnostics rate in Hz"),
    Param("chunk_form", "auto", "auto (CUDA graph if faster and equal, else eager), eager, compile, graph, off"),
    Param("torch_threads", 0, "CPU intra-op threads; 0 = fastest of 1, 2, 4.. timed at configure"),
]


class PolicyNode(LifecycleNode):
    """Lifecycle-managed diffusion policy; see the module docstring."""

    def __init__(self, node_name: str = "policy_node", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.values = declare_all(self, PARAMS)
        self.producer: ChunkProducer | None = None
        self.worker: InferenceWorker[CheckedWindow, Any] | None = None
        self.chunk_pub: Any = None
        self.window_sub: Any = None
        self.state_label = "unconfigured"
        self.note = ""
        self.rejected = 0
        self.status_pub = self.create_publisher(PolicyStatus, "dp/policy_status", 5)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 5)
        self.status_timer = self.create_timer(1.0 / max(self.values["status_rate_hz"], 0.1), self._publish_status)

    # --- lifecycle -------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        v = declare_all(self, PARAMS)  # re-read: parameters may have changed since a failed configure
        try:
            config = ChunkProducerConfig.from_params(v)
            self.producer = ChunkProducer.load(config)
        except ValueError as exc:
            self.note = f"configure failed: {exc}"
            self.get_logger().error(self.note)
            return TransitionCallbackReturn.FAILURE
        self.chunk_pub = self.create_lifecycle_publisher(ActionChunk, "dp/action_chunk", 5)
        self.window_sub = self.create_subscription(ObservationWindowMsg, "dp/observation_window", self._on_window, 2)
        self.worker = InferenceWorker(
            self.producer.infer,
            self._on_chunk,
            self._on_error,
            name="policy_inference",
        )
        self.note = f"loaded {self.producer.summary}"
        self.get_logger().info(self.note)
        self.state_label = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.producer is not None and self.worker is not None, "activate follows a successful configure"
        self.producer.reset()
        self.rejected = 0
        if self.values["inference_thread"]:
            self.worker.start()
        self.state_label = "active"
        result = super().on_activate(state)
        self._publish_status()  # now, not at the next status tick: the executor takes chunks only while active
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.worker is not None:
            self.worker.stop()
        self.state_label = "inactive"
        result = super().on_deactivate(state)
        self._publish_status()  # the executor stops executing at once
        return result

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.state_label = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.state_label = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.window_sub is not None:
            self.destroy_subscription(self.window_sub)
        if self.chunk_pub is not None:
            self.destroy_lifecycle_publisher(self.chunk_pub)
        if self.producer is not None:
            self.producer.release()  # the captured chunk program and its GPU memory
        self.producer = self.worker = self.chunk_pub = self.window_sub = None

    # --- data path -------------------------------------------------------------------------

    def _on_window(self, msg: ObservationWindowMsg) -> None:
        worker, producer = self.worker, self.producer
        inline = not self.values["inference_thread"]
        if worker is None or producer is None or not (self.state_label == "active" if inline else worker.running):
            return
        try:
            stamps, low_dim, images = window_arrays_from_msg(msg)
            window = ObservationWindowData(stamps_ns=stamps, low_dim=low_dim, images=images)
            checked = producer.gate.check(window, now_ns=self.get_clock().now().nanoseconds)
        except ValueError as exc:
            self.rejected += 1
            self.get_logger().warning(
                f"rejected observation window ({self.rejected}): {exc}", throttle_duration_sec=2.0
            )
            return
        if not producer.gate.admit(checked.stamp_ns):
            return  # inside the replanning period (counted as dropped)
        if not inline:
            worker.submit(checked)
            return
        try:  # inline (lockstep simulation): the graph waits for the chunk
            chunk = producer.infer(checked)
        except Exception as exc:
            self._on_error(checked, exc)
            return
        self._on_chunk(checked, chunk)

    def _on_chunk(self, window: CheckedWindow, chunk: Any) -> None:
        if self.chunk_pub is not None:
            self.chunk_pub.publish(chunk_to_msg(chunk))

    def _on_error(self, window: CheckedWindow, exc: BaseException) -> None:
        self.note = f"inference failed: {type(exc).__name__}: {exc}"
        self.get_logger().error(self.note, throttle_duration_sec=2.0)

    # --- status ----------------------------------------------------------------------------

    def _publish_status(self) -> None:
        msg = PolicyStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.lifecycle_state, msg.message = self.state_label, self.note
        producer, worker = self.producer, self.worker
        if producer is not None:
            producer.fill_status(msg, dropped=worker.dropped if worker is not None else 0)
        msg.observations_rejected = self.rejected
        self.status_pub.publish(msg)
        extra = producer.status_values() if producer is not None else {}
        self.diag_pub.publish(status_diagnostics(self.get_fully_qualified_name(), msg, extra))


def _stop_worker(node: PolicyNode) -> None:
    """Before the node is destroyed, even after a signal shut the context down (``release``, not ``on_exit``)."""
    if node.worker is not None:
        node.worker.stop(timeout_s=5.0)


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, "policy_node", args, release=_stop_worker, executor=LATENCY_EXECUTOR)


if __name__ == "__main__":
    main()
