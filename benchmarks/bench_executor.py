#!/usr/bin/env python3
"""The chunk executor's cost and timing: the pure core, and the node as its own process over DDS.

1. Core (dp_core ChunkExecutor, 7 joints, FR3-like limits): tick cost (median, p99 µs) while a
   new 16-step chunk arrives every 0.1 s; trajectory mode's cost of building a trajectory; the
   validation cost of add_chunk per 1,000 actions (horizon 1,000).
2. Node (chunk_executor_node in its own process, position streaming, 7 joints) at 250 Hz and
   1 kHz while a probe process streams /joint_states at 1 kHz (franka's joint_state_broadcaster
   rate), dp/policy_status at 10 Hz and a 16-step chunk every 0.1 s: period error of the
   commands received (|interval - 1/rate|) and of the node's own tick starts; and, as the baseline
   in the same run, the same at the first rate on rclpy's MultiThreadedExecutor (4 threads).
Machine load (1-min load average before/after, cores) is reported with it. The last line of
output is one JSON object (``--json`` prints only that line).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

JOINTS = [f"fr3_joint{i}" for i in range(1, 8)]
Q_MIN = [-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159]
Q_MAX = [2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159]
Q_READY = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
V_MAX, A_MAX = [2.0] * 7, [10.0] * 7


def percentiles(values, scale: float = 1.0) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64) * scale
    return {
        "median": round(float(np.median(arr)), 3),
        "p99": round(float(np.percentile(arr, 99)), 3),
        "max": round(float(arr.max()), 3),
        "n": int(arr.size),
    }


def chunk(now_ns: int, seq: int, horizon: int = 16):
    from dp_core.control.action_chunk import ActionChunkData

    t = (np.arange(horizon) * 0.1 + seq * 0.1)[:, None]
    actions = Q_READY + 0.2 * np.sin(t * np.array([1.0, 0.7, 0.5, 0.9, 1.1, 0.6, 0.8]))
    return ActionChunkData(now_ns, now_ns, 0.1, tuple(JOINTS), actions.astype(np.float32), 8, sequence=seq)


def bench_core(ticks: int) -> dict:
    from dp_core.control.chunk_schedule_config import ChunkScheduleConfig
    from dp_core.control.executor import ChunkExecutor, ChunkExecutorConfig
    from dp_core.control.limits import JointLimits
    from dp_core.control.watchdog import WatchdogConfig

    limits = JointLimits(tuple(JOINTS), Q_MIN, Q_MAX, V_MAX, A_MAX)
    result = {}
    for mode in ("position", "trajectory"):
        plan = ChunkScheduleConfig(tuple(JOINTS), control_rate_hz=250.0, joint_limits=limits, max_chunk_actions=2048)
        ex = ChunkExecutor(ChunkExecutorConfig(plan, WatchdogConfig(max_state_age_s=0.1), mode))
        now, seq, costs, sends = 10**12, 0, [], []
        ex.set_policy_state("active", now)
        for k in range(ticks):
            now += 4_000_000
            ex.set_joint_state(JOINTS, Q_READY.tolist(), now, now)
            if k % 25 == 0:
                ex.set_policy_state("active", now)
                seq += 1
                assert ex.add_chunk(chunk(now, seq), now)
            start = time.perf_counter_ns()
            out = ex.tick(now)
            elapsed = time.perf_counter_ns() - start
            (sends if out.trajectory is not None else costs).append(elapsed)
        result[f"core_tick_us_{mode}"] = percentiles(costs, 1e-3)
        if sends:
            result["core_trajectory_build_us"] = percentiles(sends, 1e-3)
    ex = ChunkExecutor(ChunkExecutorConfig(ChunkScheduleConfig(tuple(JOINTS), joint_limits=limits), WatchdogConfig()))
    now = 10**12
    ex.set_policy_state("active", now)
    validation = []
    for seq in range(1, 21):
        ex.set_joint_state(JOINTS, Q_READY.tolist(), now, now)
        big = chunk(now, seq, horizon=1000)
        big = type(big)(now, now, 0.02, big.action_names, big.actions, 8, sequence=seq)  # 20 s at 50 Hz
        start = time.perf_counter_ns()
        assert ex.add_chunk(big, now)
        validation.append(time.perf_counter_ns() - start)
    result["validation_ms_per_1000_actions"] = percentiles(validation, 1e-6)
    return result


def bench_node(work: Path, rate_hz: float, seconds: float, log, threads: int = 1) -> dict:
    import rclpy
    import yaml
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from dp_msgs.msg import ActionChunk, PolicyStatus
    from dp_policy_node.conversions import chunk_to_msg, joint_state_to_msg
    from dp_ros_common.testing import spin_until

    params = work / f"executor_{rate_hz:g}.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "chunk_executor_node": {
                    "ros__parameters": {
                        "action_names": JOINTS,
                        "control_rate_hz": rate_hz,
                        "max_state_age_s": 0.1,
                        "joint_limits": {
                            "position_min": Q_MIN,
                            "position_max": Q_MAX,
                            "velocity_max": V_MAX,
                            "acceleration_max": A_MAX,
                        },
                    }
                }
            }
        )
    )
    ticks_file = work / f"ticks_{rate_hz:g}.npy"
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--executor-child",
            str(ticks_file),
            str(threads),
            "--ros-args",
            "--params-file",
            str(params),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    node = Node("bench_executor_probe", context=ctx)
    arrivals: list[int] = []
    node.create_subscription(
        Float64MultiArray, "/forward_position_controller/commands", lambda m: arrivals.append(time.monotonic_ns()), 5000
    )
    chunk_pub = node.create_publisher(ActionChunk, "dp/action_chunk", 10)
    status_pub = node.create_publisher(PolicyStatus, "dp/policy_status", 10)
    state_pub = node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
    now = lambda: node.get_clock().now().nanoseconds  # noqa: E731
    running = [True]

    def feed() -> None:  # from a plain thread: a 1 ms rclpy timer saturates a Python executor here
        k = 0
        while running[0]:
            state_pub.publish(joint_state_to_msg(JOINTS, Q_READY, now()))
            if k % 100 == 0:
                status_pub.publish(PolicyStatus(lifecycle_state="active"))
                chunk_pub.publish(chunk_to_msg(chunk(now(), k // 100 + 1)))
            k += 1
            time.sleep(0.001)

    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        log(f"executor process at {rate_hz:g} Hz: waiting for commands ...")
        if not spin_until(executor, lambda: len(arrivals) >= 50 or proc.poll() is not None, timeout_s=60.0):
            raise RuntimeError("the executor published no commands")
        if proc.poll() is not None:
            raise RuntimeError(f"the executor exited: {proc.communicate(timeout=10)[0]}")
        arrivals.clear()
        spin_until(executor, lambda: False, timeout_s=seconds, step_s=0.0005)
    finally:
        running[0] = False
        feeder.join()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)
        proc.send_signal(2)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    period_ms = 1000.0 / rate_hz
    intervals = np.diff(np.asarray(arrivals, dtype=np.int64)) / 1e6
    key = f"node_{rate_hz:g}hz" + ("" if threads == 1 else f"_multithreaded{threads}")
    result = {
        f"{key}_command_period_error_ms": percentiles(np.abs(intervals - period_ms)),
        f"{key}_command_rate_hz": round(float(1000.0 / intervals.mean()), 2),
    }
    if ticks_file.exists():
        ticks = np.load(ticks_file)
        ticks = ticks[(ticks >= arrivals[0]) & (ticks <= arrivals[-1])] if arrivals else ticks
        result[f"{key}_tick_period_error_ms"] = percentiles(np.abs(np.diff(ticks) / 1e6 - period_ms))
    return result


def executor_child(ticks_file: str, threads: int, ros_args: list[str]) -> None:
    """The executor's own ``main`` (on ``threads`` executor threads), each control tick's start
    time recorded (monotonic ns)."""
    from dp_policy_node import chunk_executor_node as module
    from dp_ros_common.node_main import run_node

    ticks: list[int] = []
    on_tick = module.ChunkExecutorNode._on_tick

    def timed_tick(self) -> None:
        ticks.append(time.monotonic_ns())
        on_tick(self)

    module.ChunkExecutorNode._on_tick = timed_tick
    try:
        run_node(
            module.ChunkExecutorNode,
            "chunk_executor_node",
            ["chunk_executor_node", *ros_args],
            threads=threads,
            on_exit=lambda node: node.stop(),
            own_sigint=True,
        )
    finally:
        np.save(ticks_file, np.asarray(ticks, dtype=np.int64))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--executor-child":
        executor_child(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--ticks", type=int, default=5000, help="core ticks measured per mode (default 5000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="node measurement time per rate, s (default 5)")
    parser.add_argument("--rates", type=float, nargs="+", default=[250.0, 1000.0], help="node control rates, Hz")
    args = parser.parse_args()
    log = (lambda *_: None) if args.json else (lambda text: print(text, file=sys.stderr, flush=True))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", "43")  # the executor process must share the domain
    result: dict = {"joints": 7, "cpu_count": os.cpu_count(), "load_avg_1min_before": round(os.getloadavg()[0], 2)}
    log("core ...")
    result.update(bench_core(args.ticks))
    with tempfile.TemporaryDirectory(prefix="bench_executor_") as tmp:
        for rate in args.rates:
            result.update(bench_node(Path(tmp), rate, args.seconds, log))
        # the baseline in the same run: rclpy's MultiThreadedExecutor (what the node used before)
        result.update(bench_node(Path(tmp), args.rates[0], args.seconds, log, threads=4))
    result["load_avg_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
