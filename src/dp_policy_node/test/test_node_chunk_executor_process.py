"""chunk_executor_node as its own process, fed adversarial input by this process over DDS.

Bounded in count and time (a few seconds per mode). Asserted on every command received:
finite and within the position limits; position stream: no step faster than the velocity limit
over MAX_GAP_PERIODS periods; trajectory mode: every point within the limits, velocity and
acceleration between points within them, every trajectory ends at rest; after each fault
(stale / invalid / future-stamped / outside-limits state, policy inactive or silent) the commands
come to rest within the stopping time the limits allow after the executor reports it, and stay
there; in trajectory mode at most one trajectory follows a fault, and it is a stop.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import yaml
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dp_core.control.action_chunk import chunk_from_flat
from dp_core.control.motion_limiter import MAX_GAP_PERIODS
from dp_msgs.msg import ActionChunk, ExecutorStatus, PolicyStatus
from dp_policy_node.conversions import chunk_to_msg, joint_state_to_msg, ns_to_time

pytestmark = pytest.mark.ros
JOINTS = ["j1", "j2", "j3"]
VMAX, AMAX, QMIN, QMAX, RATE, MAX_AGE_S = 1.0, 8.0, -1.0, 1.0, 250.0, 0.1
POLICY_TIMEOUT_S = 0.5
STOP_S = VMAX / AMAX + MAX_AGE_S + 0.3  # braking from full speed + detection + DDS/scheduling slack


def params_file(tmp_path, mode: str):
    path = tmp_path / f"executor_{mode}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "chunk_executor_node": {
                    "ros__parameters": {
                        "action_names": JOINTS,
                        "control_rate_hz": RATE,
                        "output_mode": mode,
                        "max_state_age_s": MAX_AGE_S,
                        "policy_status_timeout_s": POLICY_TIMEOUT_S,
                        "max_chunk_actions": 64,
                        "trajectory_period_s": 0.02,
                        "joint_limits": {
                            "position_min": [QMIN] * 3,
                            "position_max": [QMAX] * 3,
                            "velocity_max": [VMAX] * 3,
                            "acceleration_max": [AMAX] * 3,
                        },
                    }
                }
            }
        )
    )
    return path


class Feeder:
    """Plays the robot (tracks the commands) and a misbehaving policy and state stream."""

    def __init__(self, ctx, mode: str) -> None:
        self.node = Node("adversary", context=ctx)
        self.mode = mode
        self.q = np.zeros(3)
        self.commands: list[tuple[int, np.ndarray]] = []
        self.trajectories: list[tuple[int, JointTrajectory]] = []
        self.status: list[ExecutorStatus] = []
        self.status_at: list[int] = []
        sub = self.node.create_subscription
        sub(Float64MultiArray, "/forward_position_controller/commands", self._on_command, 5000)
        sub(JointTrajectory, "/joint_trajectory_controller/joint_trajectory", self._on_trajectory, 500)
        sub(
            ExecutorStatus,
            "dp/executor_status",
            lambda m: (self.status.append(m), self.status_at.append(self.now())),
            500,
        )
        self.chunk_pub = self.node.create_publisher(ActionChunk, "dp/action_chunk", 100)
        self.policy_pub = self.node.create_publisher(PolicyStatus, "dp/policy_status", 10)
        self.state_pub = self.node.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
        self.state_kind, self.policy = "valid", "active"
        # spun by a thread (spin() serves every ready callback per wait; a spin_once loop serves one
        # and, slower than the 5 ms state timer on a busy machine, would starve the subscriptions)
        self.executor = SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()
        # states at 200 Hz and the policy status at 10 Hz from a plain thread: a 5 ms rclpy timer
        # alone saturates a Python executor here and starves its subscriptions
        self.running = True
        self.publisher = threading.Thread(target=self._publish_loop, daemon=True)
        self.publisher.start()

    def _publish_loop(self) -> None:
        k = 0
        while self.running:
            self._publish_state()
            if k % 20 == 0:
                self._publish_policy()
            k += 1
            time.sleep(0.005)

    def close(self) -> None:
        self.running = False
        self.publisher.join()
        self.executor.shutdown()
        self.node.destroy_node()

    def now(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def _on_command(self, msg: Float64MultiArray) -> None:
        self.q = np.asarray(msg.data, dtype=np.float64)
        self.commands.append((self.now(), self.q.copy()))

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        self.trajectories.append((self.now(), msg))
        if msg.points:
            self.q = np.asarray(msg.points[-1].positions)  # where it will rest (the probe is no controller)

    def _publish_state(self) -> None:
        kind, q, stamp = self.state_kind, self.q.copy(), self.now()
        if kind == "none":
            return
        names = list(JOINTS)
        if kind == "nan":
            q[1] = np.nan
        elif kind == "partial":
            names, q = names[:2], q[:2]
        elif kind == "future":
            stamp += 2_000_000_000
        elif kind == "outside":
            q[0] = QMAX + 0.3
        self.state_pub.publish(joint_state_to_msg(names, q, stamp))

    def _publish_policy(self) -> None:
        if self.policy != "silent":
            self.policy_pub.publish(PolicyStatus(lifecycle_state=self.policy))

    def spin(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait_for(self, predicate, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not predicate():
            time.sleep(0.01)
        return predicate()

    def send(self, rng: np.random.Generator, seq: int, kind: str = "valid") -> None:
        horizon = {"huge": 65, "one": 1}.get(kind, int(rng.integers(2, 16)))
        actions = self.q + np.cumsum(rng.normal(scale=float(rng.choice([0.02, 0.3, 5.0])), size=(horizon, 3)), axis=0)
        now = self.now()
        stamp = now + (400_000_000 if kind == "future" else -int(rng.integers(0, 80)) * 1_000_000)
        chunk = chunk_from_flat(
            stamp_ns=stamp,
            start_ns=stamp,
            dt_s=0.1,
            action_names=JOINTS,
            horizon=horizon,
            action_dim=3,
            data=actions,
            execute_steps=horizon,
            sequence=seq,
        )
        msg = chunk_to_msg(chunk)
        if kind == "malformed":
            msg.action_dim, msg.data = 4, list(msg.data)[:-1]
        msg.start = ns_to_time(stamp)
        self.chunk_pub.publish(msg)


def check_stream(commands: list[tuple[int, np.ndarray]]) -> None:
    values = np.stack([c for _, c in commands])
    assert np.all(np.isfinite(values)) and values.min() >= QMIN - 1e-9 and values.max() <= QMAX + 1e-9
    step = np.abs(np.diff(values, axis=0)).max()
    assert step <= VMAX * MAX_GAP_PERIODS / RATE * (1 + 1e-6) + 1e-9, f"a step of {step} rad"


def check_trajectory(msg: JointTrajectory) -> None:
    t = np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points])
    pos = np.array([p.positions for p in msg.points])
    vel = np.array([p.velocities for p in msg.points])
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (0, 0)  # start on receipt
    assert len(t) and t[0] > 0 and np.all(np.diff(t) > 0)
    assert np.all(np.isfinite(pos)) and pos.min() >= QMIN - 1e-9 and pos.max() <= QMAX + 1e-9
    assert np.abs(vel).max() <= VMAX * (1 + 1e-6) + 1e-9 and np.all(vel[-1] == 0.0)  # ends at rest
    acc = np.diff(vel, axis=0) / np.diff(t)[:, None]
    assert acc.size == 0 or np.abs(acc).max() <= AMAX * (1 + 1e-6) + 1e-4
    # positions and velocities agree (trapezoid steps: what a cubic spline through them executes)
    np.testing.assert_allclose(np.diff(pos, axis=0), (vel[1:] + vel[:-1]) / 2 * np.diff(t)[:, None], atol=1e-7)


def noticed_at(feed: Feeder, since_ns: int) -> int | None:
    """When the executor's status first reported the fault (not executing) after ``since_ns``."""
    for t, msg in zip(feed.status_at, feed.status, strict=True):
        if t > since_ns and msg.mode != "executing" and msg.hold_reason:
            return t
    return None


def rests_after(commands: list[tuple[int, np.ndarray]], since_ns: int, until_ns: int) -> bool:
    """The commands between STOP_S after ``since_ns`` and ``until_ns`` do not move."""
    held = [c for t, c in commands if since_ns + STOP_S * 1e9 <= t <= until_ns]
    return len(held) < 2 or bool(np.all(np.abs(np.diff(np.stack(held), axis=0)) <= 1e-12))


FAULTS = [
    ("state_kind", "none"),
    ("state_kind", "nan"),
    ("state_kind", "partial"),
    ("state_kind", "future"),
    ("state_kind", "outside"),
    ("policy", "inactive"),
    ("policy", "silent"),
]


@pytest.mark.parametrize("mode", ["position", "trajectory"])
def test_adversarial_input_over_dds_never_breaks_the_limits(ros_context, ros_process, tmp_path, mode):
    proc = ros_process(
        "-m", "dp_policy_node.chunk_executor_node", "--ros-args", "--params-file", str(params_file(tmp_path, mode))
    )
    feed = Feeder(ros_context, mode)
    rng = np.random.default_rng(7)
    try:
        assert feed.wait_for(lambda: bool(feed.status), timeout_s=30.0), "no executor status"
        seq = 0
        for fault_attr, fault_value in FAULTS:
            deadline = time.monotonic() + 0.8  # executing under a stream of chunks, valid and not
            while time.monotonic() < deadline:
                seq += 1
                kind = rng.choice(["valid"] * 6 + ["future", "huge", "malformed", "one"])
                feed.send(rng, seq if rng.random() > 0.1 else max(seq - 3, 1), kind)
                feed.spin(0.05)
            fault_at = feed.now()
            setattr(feed, fault_attr, fault_value)
            for _ in range(12):  # chunks keep coming during the fault: none may move the arm
                seq += 1
                feed.send(rng, seq)
                feed.spin(0.1)
            # the executor's notice (its status, 10 Hz) is the start: on this shared machine DDS and the
            # processes can lag by more than max_state_age_s; the core test bounds the reaction time
            notice = noticed_at(feed, fault_at)
            assert notice is not None, (
                f"the executor never reported fault {fault_value}",
                [(m.mode, m.hold_reason) for m in feed.status[-5:]],
                len(feed.status),
            )
            if mode == "position":
                assert rests_after(feed.commands, notice, feed.now()), f"moved during fault {fault_value}"
            else:
                # once the fault is noticed nothing more is sent (the stop went out when it was detected,
                # at most one status period before the notice); the last one before is a stop if any
                late = [m for t, m in feed.trajectories if t > notice + 50_000_000]  # (50 ms: in flight)
                assert not late, f"{len(late)} trajectories sent during fault {fault_value}"
                before = [m for t, m in feed.trajectories if fault_at < t <= notice + 50_000_000]
                if before:
                    speed = np.abs(np.array([p.velocities for p in before[-1].points]))
                    assert np.all(np.diff(speed, axis=0) <= 1e-9), f"not a stop during fault {fault_value}"
            setattr(feed, fault_attr, "valid" if fault_attr == "state_kind" else "active")
            feed.spin(0.3)
        assert proc.proc.poll() is None, "the executor died"
    finally:
        feed.close()
    last = feed.status[-1]
    assert last.chunks_accepted > 0 and last.chunks_rejected > 0
    if mode == "position":
        assert len(feed.commands) > 100
        check_stream(feed.commands)
    else:
        assert len(feed.trajectories) > 5
        for _, msg in feed.trajectories:
            check_trajectory(msg)
    output = proc.stop()
    assert "Traceback" not in output, output
