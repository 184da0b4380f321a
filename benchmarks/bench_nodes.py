#!/usr/bin/env python3
"""ROS overhead of the policy path, over real rclpy/DDS.

1. Policy path (one process, like dp_bringup): two synthetic 240x320 rgb8 cameras + joint states →
   observation_node (decode, resize to the policy's 96x96, align) → policy_node (worker thread) →
   ActionChunk received by a probe. Per chunk: overhead = (receive time - observation stamp)
   - that chunk's pure inference time. Cameras run slower than one inference so no window waits
   for the model (queueing is not ROS overhead).
(The chunk executor's timing is measured by bench_executor.py.)

The last line of output is one JSON object (``--json`` prints only that line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return {
        "median": round(float(np.median(arr)), 3),
        "p99": round(float(np.percentile(arr, 99)), 3),
        "max": round(float(arr.max()), 3),
        "n": int(arr.size),
    }


def measure_inference_ms(policy: object, runs: int = 3) -> float:
    """Median wall time of ``predict`` on a mid-grey window of the policy's shapes."""
    spec = policy.spec  # type: ignore[attr-defined]
    n = spec.n_obs_steps
    window = {
        "low_dim": {k.name: np.zeros((n, k.shape[0]), np.float32) for k in spec.low_dim_keys},
        "images": {k.name: np.full((n, k.shape[1], k.shape[2], 3), 128, np.uint8) for k in spec.rgb_keys},
    }
    times = []
    for seed in range(runs):
        start = time.perf_counter()
        policy.predict(window, seed=seed)  # type: ignore[attr-defined]
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times))


class StageStamps:
    """Wall-clock (ROS time) stamps of each window's way through the graph, keyed by the window stamp.

    Recorded by thin wrappers around the nodes' own methods (the nodes stay unchanged), so the
    overhead splits into: camera → observation callback, window build + publish, DDS to the
    policy node, message → numpy, worker wake-up, inference (outside/inside ``predict``),
    chunk conversion + publish, DDS to the probe.
    """

    def __init__(self) -> None:
        self.by_window: dict[int, dict[str, int]] = {}
        self.last_store_ns = 0

    def mark(self, key: int, stage: str) -> None:
        self.by_window.setdefault(key, {}).setdefault(stage, time.time_ns())

    def instrument(self, obs: object, policy: object) -> None:
        from dp_policy_node.conversions import time_to_ns

        store, publish_window, on_window = obs._store, obs._publish_window, policy._on_window  # type: ignore[attr-defined]

        def _store(stream, stamp, convert):
            self.last_store_ns = time.time_ns()
            return store(stream, stamp, convert)

        def _publish_window(result, now_ns):
            if result.window is not None:
                key = int(result.window.stamps_ns[-1])
                self.by_window.setdefault(key, {}).setdefault("obs_callback", self.last_store_ns)
                self.mark(key, "window_publish")
            return publish_window(result, now_ns)

        def _on_window(msg):
            key = time_to_ns(msg.header.stamp)
            self.mark(key, "policy_callback")
            on_window(msg)
            self.mark(key, "submitted")

        obs._store, obs._publish_window, policy._on_window = _store, _publish_window, _on_window  # type: ignore[attr-defined]

    def instrument_worker(self, policy: object) -> None:
        worker = policy.worker  # type: ignore[attr-defined]
        infer, on_result = worker._infer, worker._on_result

        def _infer(window):
            self.mark(int(window.stamps_ns[-1]), "infer_start")
            return infer(window)

        def _on_result(window, chunk):
            key = int(window.stamps_ns[-1])
            self.mark(key, "infer_end")
            on_result(window, chunk)
            self.mark(key, "chunk_published")

        worker._infer, worker._on_result = _infer, _on_result

    STAGES = (
        ("camera_to_obs_callback", "stamp", "obs_callback"),
        ("obs_callback_to_window_publish", "obs_callback", "window_publish"),
        ("window_publish_to_policy_callback", "window_publish", "policy_callback"),
        ("window_msg_to_numpy", "policy_callback", "submitted"),
        ("worker_wakeup", "submitted", "infer_start"),
        ("infer_wall", "infer_start", "infer_end"),
        ("chunk_to_msg_publish", "infer_end", "chunk_published"),
        ("chunk_publish_to_probe", "chunk_published", "probe"),
    )

    def stages_ms(self, keys: list[int], inference_ms: list[float]) -> dict[str, dict[str, float]]:
        """Median/p99 of every stage over the given windows; ``infer_outside_predict`` = wall - predict's own time."""
        out: dict[str, list[float]] = {name: [] for name, _, _ in self.STAGES}
        out["infer_outside_predict"] = []
        for key, pure_ms in zip(keys, inference_ms, strict=True):
            marks = dict(self.by_window.get(key, {}), stamp=key)
            for name, a, b in self.STAGES:
                if a in marks and b in marks:
                    out[name].append((marks[b] - marks[a]) / 1e6)
            if "infer_start" in marks and "infer_end" in marks:
                out["infer_outside_predict"].append((marks["infer_end"] - marks["infer_start"]) / 1e6 - pure_ms)
        return {name: percentiles(v) for name, v in out.items() if v}


def bench_policy_path(
    work: Path, n_chunks: int, log, checkpoint: Path | None = None, single_threaded: bool = False
) -> dict:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from dp_msgs.msg import ActionChunk
    from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
    from dp_policy_node.conversions import time_to_ns
    from dp_policy_node.observation_node import ObservationNode
    from dp_policy_node.policy_node import PolicyNode
    from dp_policy_node.synthetic_sensors import SyntheticCamera, SyntheticSensors
    from dp_policy_node.tiny_policy import make_tiny_checkpoint, tiny_spec

    joints = ("j1", "j2", "j3")
    if checkpoint is not None and checkpoint.exists():
        ckpt = checkpoint
    else:
        log("training a tiny two-camera checkpoint (96x96 inputs) ...")
        spec = tiny_spec(cameras={"front": (96, 96), "wrist": (96, 96)})
        ckpt = make_tiny_checkpoint(checkpoint.parent if checkpoint else work / "policy", spec, steps=2)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(os.environ.get("ROS_DOMAIN_ID", "42")))
    obs_params = [
        Parameter("camera_names", value=["front", "wrist"]),
        Parameter("joint_state.joint_names", value=list(joints)),
        Parameter("max_age_s", value=1.0),
    ]
    for cam in ("front", "wrist"):
        obs_params += [
            Parameter(f"cameras.{cam}.topic", value=f"/bench/{cam}"),
            Parameter(f"cameras.{cam}.height", value=96),
            Parameter(f"cameras.{cam}.width", value=96),
        ]
    obs = ObservationNode(context=ctx, parameter_overrides=obs_params)
    policy = PolicyNode(
        context=ctx,
        parameter_overrides=[
            Parameter("checkpoint_path", value=str(ckpt)),
            Parameter("device", value="cpu"),
            Parameter("seed", value=0),
            Parameter("expected_obs_keys", value=["front", "wrist", "joint_pos"]),
            Parameter("expected_obs_shapes", value=["3x96x96", "3x96x96", "3"]),
            Parameter("max_window_age_s", value=2.0),
        ],
    )
    probe = Node("bench_probe", context=ctx)
    received: list[tuple[int, ActionChunk]] = []
    done = threading.Event()

    stages = StageStamps()
    stages.instrument(obs, policy)

    def on_chunk(msg: ActionChunk) -> None:
        now_ns = probe.get_clock().now().nanoseconds
        stages.mark(time_to_ns(msg.header.stamp), "probe")
        received.append((now_ns, msg))
        if len(received) >= n_chunks + 2:
            done.set()

    probe.create_subscription(ActionChunk, "dp/action_chunk", on_chunk, 50)
    windows: dict[int, int] = {}  # window stamp -> receive time at the probe (splits the overhead)
    probe.create_subscription(
        ObservationWindowMsg,
        "dp/observation_window",
        lambda m: windows.setdefault(time_to_ns(m.header.stamp), probe.get_clock().now().nanoseconds),
        50,
    )
    executor = (
        SingleThreadedExecutor(context=ctx)
        if single_threaded  # dp_bringup --threads 1
        else MultiThreadedExecutor(num_threads=4, context=ctx)
    )  # dp_bringup's default
    for node in (obs, policy, probe):
        executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    try:
        if (
            policy.trigger_configure() != TransitionCallbackReturn.SUCCESS
            or policy.trigger_activate() != TransitionCallbackReturn.SUCCESS
        ):
            raise RuntimeError(f"policy node did not start: {policy.note}")
        stages.instrument_worker(policy)
        infer_ms = measure_inference_ms(policy.runner.policy)
        camera_hz = min(10.0, 1000.0 / (2.5 * infer_ms))  # a frame pair arrives only when the model is idle
        log(f"cameras at {camera_hz:.1f} Hz (240x320 rgb8 each), joint states 200 Hz")
        sensors = SyntheticSensors(
            probe,
            [SyntheticCamera(f"/bench/{c}", "rgb8", 240, 320, rate_hz=camera_hz) for c in ("front", "wrist")],
            joints,
            joint_rate_hz=200.0,
            seed=0,
        )
        spinner.start()
        sensors.start()
        finished = done.wait(timeout=60.0 + n_chunks * 3.0 / camera_hz)
        sensors.stop()
        latencies = list(policy.runner.stats.latencies_ms)
    finally:
        executor.shutdown(timeout_sec=5.0)
        if policy.worker is not None:
            policy.worker.stop()
        for node in (obs, policy, probe):
            node.destroy_node()
        rclpy.shutdown(context=ctx)
    if not finished:
        raise RuntimeError(f"only {len(received)} chunks arrived")
    overhead, total, to_window, keys, pure = [], [], [], [], []
    for recv_ns, msg in received[2:]:  # the first chunks may include start-up effects
        inference_ms = latencies[msg.sequence - 1]  # this chunk's own predict() time (stats in sequence order)
        stamp = time_to_ns(msg.header.stamp)
        keys.append(stamp)
        pure.append(inference_ms)
        total_ms = (recv_ns - stamp) / 1e6
        total.append(total_ms)
        overhead.append(total_ms - inference_ms)
        if stamp in windows:
            to_window.append((windows[stamp] - stamp) / 1e6)
    return {
        "ros_overhead_ms": percentiles(overhead),
        "obs_to_chunk_ms": percentiles(total),
        "obs_to_window_ms": percentiles(to_window),
        "inference_ms": percentiles(latencies[2:]),
        "camera_rate_hz": round(camera_hz, 2),
        "policy_stages_ms": stages.stages_ms(keys, pure),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--chunks", type=int, default=20, help="chunks measured on the policy path (default 20)")
    parser.add_argument(
        "--checkpoint", type=Path, help="tiny checkpoint run dir to reuse (when missing, trained into its parent)"
    )
    parser.add_argument(
        "--single-threaded",
        action="store_true",
        help="policy path on a SingleThreadedExecutor (dp_bringup --threads 1) instead of 4 threads",
    )
    args = parser.parse_args()
    log = (lambda *_: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", "42")  # the executor process must share the domain
    with tempfile.TemporaryDirectory(prefix="bench_nodes_") as tmp:
        result = {"cameras": "2 x 240x320 rgb8 -> 96x96", "cpu_count": os.cpu_count()}
        result.update(bench_policy_path(Path(tmp), args.chunks, log, args.checkpoint, args.single_threaded))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
