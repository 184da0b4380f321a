#!/usr/bin/env python3
"""ROS overhead of the policy path, over real rclpy/DDS, composed and as separate processes.

Per chunk: overhead = (chunk published by the policy node) - (arrival of the sample that completed
the window at the observation node) - (that chunk's own inference time, ``predict``). Both times
are the nodes' clocks (system time, shared by the processes on one machine); "arrival" is the
node's receipt of the message (the start of its subscription callback: DDS delivery and the take
of that sample come before it; ``ros_overhead_from_sample_stamp_ms`` adds them, from the sample's
header stamp, which the synthetic sensors set at publication). Sensors (two synthetic 240x320 rgb8
cameras + ``--joint-rate-hz`` joint states, 200 by default; the FR3 streams 1000) and the chunk
probe run in this process; the nodes run in child processes: ``composed`` (observation + policy
node on one executor, dp_bringup's default; dp_bringup also hosts the chunk executor, not here) or
``separate`` (one process each, on the executor of the nodes' own ``main``); ``DP_EXECUTOR=single``
puts both on the SingleThreadedExecutor. Cameras run slower than one inference so no window waits
for the model (queueing is not ROS overhead). The chunk executor is measured by bench_executor.py.

The last line of output is one JSON object (``--json`` prints only that line).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CAMERAS = ("front", "wrist")
JOINTS = ("j1", "j2", "j3")
STAGES = (  # (name, from mark, to mark); marks are node-clock ns keyed by the window stamp
    ("last_frame_arrival_to_completing_arrival", "last_frame_arrival", "arrival"),
    ("arrival_to_window_published", "arrival", "window_published"),
    ("window_published_to_policy_callback", "window_published", "policy_callback"),
    ("policy_callback_msg_to_checked", "policy_callback", "submitted"),
    ("submitted_to_infer_start", "submitted", "infer_start"),
    ("infer_end_to_chunk_published", "infer_end", "chunk_published"),
)


def percentiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    return {
        "median": round(float(np.median(arr)), 3),
        "p90": round(float(np.percentile(arr, 90)), 3),
        "max": round(float(arr.max()), 3),
        "n": int(arr.size),
    }


# --- child: the nodes, instrumented ---------------------------------------------------------------


def instrument(obs: object | None, policy: object | None, marks: dict[int, dict[str, float]]) -> None:
    """Record the marks by wrapping the nodes' own methods (the nodes stay unchanged)."""

    def mark(key: int, stage: str, node: object) -> None:
        marks.setdefault(key, {}).setdefault(stage, node.get_clock().now().nanoseconds)  # type: ignore[attr-defined]

    if obs is not None:
        receipts: dict[tuple[str, int], int] = {}
        add, publish = obs.trigger.add, obs._publish  # type: ignore[attr-defined]
        released: set[int] = set()  # windows returned by add (not by the timer's poll)

        trigger: list[tuple[str, int, int]] = [("", 0, 0)]

        def _add(stream, stamp_ns, value, now_ns):  # now_ns: the node's clock at the callback's start
            receipts.setdefault((stream, int(stamp_ns)), int(now_ns))
            trigger[0] = (stream, int(now_ns), int(stamp_ns))
            window = add(stream, stamp_ns, value, now_ns)
            if window is not None:
                released.add(int(window.stamps_ns[-1]))
            return window

        def _publish(window):
            publish(window)
            key = int(window.stamps_ns[-1])
            mark(key, "window_published", obs)
            held = [(receipts[(n, int(t))], int(t)) for n, st in window.sample_stamps_ns.items() for t in st]
            marks[key]["last_frame_arrival"] = max(held)[0]  # the latest-received frame the window holds
            # the sample whose arrival completed it; released by the timer: its latest-received frame
            by_sample = key in released
            marks[key]["arrival"] = trigger[0][1] if by_sample else max(held)[0]
            # that sample's header stamp: the sensors stamp at publication, so this adds its DDS delivery
            marks[key]["completing_stamp"] = trigger[0][2] if by_sample else max(held)[1]
            marks[key]["completed_by_" + (trigger[0][0] if by_sample else "timer")] = 1
            released.discard(key)

        obs.trigger.add, obs._publish = _add, _publish  # type: ignore[attr-defined]
    if policy is not None:  # before configure: the subscription and the worker take these bound methods
        from dp_policy_node.conversions import time_to_ns

        on_window, on_chunk = policy._on_window, policy._on_chunk  # type: ignore[attr-defined]

        def _on_window(msg):
            key = time_to_ns(msg.header.stamp)
            mark(key, "policy_callback", policy)
            on_window(msg)
            mark(key, "submitted", policy)

        def _on_chunk(window, chunk):
            on_chunk(window, chunk)
            mark(chunk.stamp_ns, "chunk_published", policy)
            marks[chunk.stamp_ns]["inference_ms"] = float(chunk.inference_ms)

        policy._on_window, policy._on_chunk = _on_window, _on_chunk  # type: ignore[attr-defined]


def instrument_worker(policy: object, marks: dict[int, dict[str, float]]) -> None:
    """After configure: the worker's inference call (start and end on the node's clock)."""
    infer = policy.worker._infer  # type: ignore[attr-defined]

    def _infer(window):
        marks.setdefault(window.stamp_ns, {})["infer_start"] = policy.get_clock().now().nanoseconds  # type: ignore[attr-defined]
        chunk = infer(window)
        marks[window.stamp_ns]["infer_end"] = policy.get_clock().now().nanoseconds  # type: ignore[attr-defined]
        return chunk

    policy.worker._infer = _infer  # type: ignore[attr-defined]


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


def run_child(nodes: list[str], checkpoint: Path, out: Path) -> None:
    """Spin the given nodes on one executor, the kind their own ``main`` uses, until SIGTERM; marks → ``out``."""
    import rclpy
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.parameter import Parameter
    from rclpy.signals import SignalHandlerOptions

    from dp_policy_node.bringup import DEFAULT_EXECUTOR
    from dp_policy_node.observation_node import ObservationNode
    from dp_policy_node.policy_node import PolicyNode
    from dp_ros_common.node_main import LATENCY_EXECUTOR, executor_kind, make_executor

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rclpy.init(domain_id=int(os.environ["ROS_DOMAIN_ID"]), signal_handler_options=SignalHandlerOptions.NO)
    kind = executor_kind(DEFAULT_EXECUTOR if len(nodes) > 1 else LATENCY_EXECUTOR)  # dp_bringup's or the node's own
    executor = make_executor(kind)
    obs = policy = None
    marks: dict[int, dict[str, float]] = {}
    if "observation" in nodes:
        params = [
            Parameter("checkpoint_path", value=str(checkpoint)),  # n_obs_steps, dt_s and 96x96 from its spec
            Parameter("camera_names", value=list(CAMERAS)),
            Parameter("joint_state.joint_names", value=list(JOINTS)),
            Parameter("max_age_s", value=1.0),
        ]
        params += [Parameter(f"cameras.{c}.topic", value=f"/bench/{c}") for c in CAMERAS]
        obs = ObservationNode(parameter_overrides=params)
        executor.add_node(obs)
    info: dict[str, float | str] = {"executor": kind}
    if "policy" in nodes:
        policy = PolicyNode(
            parameter_overrides=[
                Parameter("checkpoint_path", value=str(checkpoint)),
                Parameter("device", value="cpu"),
                Parameter("seed", value=0),
                Parameter("torch_threads", value=1),
                Parameter("max_window_age_s", value=2.0),
            ]
        )
        instrument(None, policy, marks)
        if (
            policy.trigger_configure() != TransitionCallbackReturn.SUCCESS
            or policy.trigger_activate() != TransitionCallbackReturn.SUCCESS
        ):
            raise RuntimeError(f"policy node did not start: {policy.note}")
        instrument_worker(policy, marks)
        info["inference_ms"] = measure_inference_ms(policy.producer.policy)
        executor.add_node(policy)
    instrument(obs, None, marks)
    print("READY " + json.dumps(info), flush=True)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.05)
    finally:
        if policy is not None and policy.worker is not None:
            policy.worker.stop()
        executor.shutdown(timeout_sec=5.0)
        for node in (obs, policy):
            if node is not None:
                node.destroy_node()
        rclpy.try_shutdown()
        out.write_text(json.dumps({str(k): v for k, v in marks.items()}))


# --- parent: sensors, probe, the numbers --------------------------------------------------------


def start_child(nodes: list[str], checkpoint: Path, out: Path) -> tuple[subprocess.Popen, dict]:
    cmd = [sys.executable, __file__, "--child", ",".join(nodes), "--checkpoint", str(checkpoint), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            return proc, json.loads(line[6:])
    raise RuntimeError(f"child {nodes} exited ({proc.wait()}) before it was ready")


def bench_mode(mode: str, checkpoint: Path, work: Path, n_chunks: int, joint_rate_hz: float, log) -> dict:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from dp_msgs.msg import ActionChunk
    from dp_policy_node.synthetic_sensors import SyntheticCamera, SyntheticSensors

    groups = [["observation", "policy"]] if mode == "composed" else [["observation"], ["policy"]]
    children = []
    info: dict = {}
    try:
        for i, nodes in enumerate(groups):
            proc, child_info = start_child(nodes, checkpoint, work / f"{mode}_{i}.json")
            children.append(proc)
            info |= child_info
        camera_hz = min(10.0, 1000.0 / (2.5 * info["inference_ms"]))  # a frame pair arrives only when the model is idle
        log(f"{mode}: cameras at {camera_hz:.1f} Hz (2 x 240x320 rgb8), joint states {joint_rate_hz:g} Hz")
        ctx = Context()
        rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
        probe = Node("bench_probe", context=ctx)
        done = threading.Event()
        count = [0]

        def on_chunk(_msg: ActionChunk) -> None:
            count[0] += 1
            if count[0] >= n_chunks + 3:
                done.set()

        probe.create_subscription(ActionChunk, "dp/action_chunk", on_chunk, 50)
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(probe)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        time.sleep(2.0)  # discovery between the processes
        cams = [SyntheticCamera(f"/bench/{c}", "rgb8", 240, 320, rate_hz=camera_hz) for c in CAMERAS]
        sensors = SyntheticSensors(probe, cams, JOINTS, joint_rate_hz=joint_rate_hz, seed=0).start()
        finished = done.wait(timeout=60.0 + n_chunks * 3.0 / camera_hz)
        sensors.stop()
        executor.shutdown(timeout_sec=5.0)
        probe.destroy_node()
        rclpy.shutdown(context=ctx)
    finally:
        for proc in children:
            proc.send_signal(signal.SIGTERM)
        for proc in children:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
    if not finished:
        raise RuntimeError(f"{mode}: only {count[0]} chunks arrived")
    marks: dict[str, dict[str, float]] = {}
    for i in range(len(groups)):
        for key, values in json.loads((work / f"{mode}_{i}.json").read_text()).items():
            marks.setdefault(key, {}).update(values)
    chunks = sorted((int(k), m) for k, m in marks.items() if {"arrival", "chunk_published", "inference_ms"} <= set(m))[
        3:
    ]  # the first chunks may include start-up effects
    overhead = [(m["chunk_published"] - m["arrival"]) / 1e6 - m["inference_ms"] for _, m in chunks]
    stages = {name: percentiles([(m[b] - m[a]) / 1e6 for _, m in chunks if a in m and b in m]) for name, a, b in STAGES}
    stages["infer_outside_predict"] = percentiles(
        [(m["infer_end"] - m["infer_start"]) / 1e6 - m["inference_ms"] for _, m in chunks if "infer_start" in m]
    )
    completed_by = {
        k[13:]: sum(1 for _, m in chunks if k in m)
        for k in {k for _, m in chunks for k in m if k.startswith("completed_by_")}
    }
    return {
        "ros_overhead_ms": percentiles(overhead),
        "ros_overhead_from_sample_stamp_ms": percentiles(
            [(m["chunk_published"] - m["completing_stamp"]) / 1e6 - m["inference_ms"] for _, m in chunks]
        ),
        "ros_overhead_from_last_frame_ms": percentiles(
            [(m["chunk_published"] - m["last_frame_arrival"]) / 1e6 - m["inference_ms"] for _, m in chunks]
        ),
        "windows_completed_by": completed_by,
        "arrival_to_chunk_ms": percentiles([(m["chunk_published"] - m["arrival"]) / 1e6 for _, m in chunks]),
        "inference_ms": percentiles([m["inference_ms"] for _, m in chunks]),
        "camera_rate_hz": round(camera_hz, 2),
        "joint_rate_hz": joint_rate_hz,
        "executor": info["executor"],
        "stages_ms": stages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--chunks", type=int, default=30, help="chunks measured per mode (default 30)")
    parser.add_argument("--modes", default="composed,separate", help="composed, separate or both (default)")
    parser.add_argument(
        "--joint-rate-hz", type=float, default=200.0, help="/joint_states rate (default 200; the FR3 streams 1000)"
    )
    parser.add_argument("--checkpoint", type=Path, help="tiny checkpoint run dir to reuse (missing: trained there)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", "42")
    if args.child:
        run_child(args.child.split(","), args.checkpoint, args.out)
        return
    log = (lambda *_: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="bench_nodes_") as tmp:
        work = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None or not checkpoint.exists():
            from dp_policy_node.tiny_policy import make_tiny_checkpoint, tiny_spec

            log("training a tiny two-camera checkpoint (96x96 inputs) ...")
            spec = tiny_spec(cameras=dict.fromkeys(CAMERAS, (96, 96)), joint_names=JOINTS)
            checkpoint = make_tiny_checkpoint(checkpoint.parent if checkpoint else work / "policy", spec, steps=2)
        result: dict = {"cameras": "2 x 240x320 rgb8 -> 96x96", "cpu_count": os.cpu_count()}
        for mode in args.modes.split(","):
            result[mode] = bench_mode(mode, checkpoint, work, args.chunks, args.joint_rate_hz, log)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
