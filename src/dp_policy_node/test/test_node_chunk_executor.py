"""chunk_executor_node over real DDS: latency skip, joins within limits, fuzzing, watchdog, outputs."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dp_core.control.action_chunk import chunk_from_flat
from dp_core.control.motion_limiter import MAX_GAP_PERIODS
from dp_msgs.msg import ActionChunk, ExecutorStatus, PolicyStatus
from dp_policy_node.chunk_executor_node import PARAMS, ChunkExecutorNode
from dp_policy_node.conversions import chunk_to_msg, joint_state_to_msg, ns_to_time, pose_to_msg
from dp_policy_node.executor_config import build_config
from dp_ros_common.testing import spin_until

pytestmark = pytest.mark.ros
JOINTS = ["j1", "j2", "j3"]
V_MAX, POS_MIN, POS_MAX, RATE = 2.0, -1.5, 1.5, 250.0
STEP_MAX = V_MAX * MAX_GAP_PERIODS / RATE * (1 + 1e-6) + 1e-9  # a late tick counts as at most 2 periods


def executor_params(**extra) -> list[Parameter]:
    values = {
        "action_names": JOINTS,
        "control_rate_hz": RATE,
        "blend_s": 0.0,
        "max_state_age_s": 0.5,
        "joint_limits.position_min": [POS_MIN] * 3,
        "joint_limits.position_max": [POS_MAX] * 3,
        "joint_limits.velocity_max": [V_MAX] * 3,
        "joint_limits.acceleration_max": [200.0] * 3,
        "status_rate_hz": 20.0,
    }
    values.update(extra)
    return [Parameter(k, value=v) for k, v in values.items()]


class Rig:
    """Executor node + a probe that feeds joint states and records commands and status."""

    def __init__(self, ctx, **extra) -> None:
        self.node = ChunkExecutorNode(context=ctx, parameter_overrides=executor_params(**extra))
        self.probe = Node("executor_probe", context=ctx)
        self.commands: list[np.ndarray] = []
        self.trajectories: list[JointTrajectory] = []
        self.status: list[ExecutorStatus] = []
        self.probe.create_subscription(
            Float64MultiArray,
            "/forward_position_controller/commands",
            lambda m: self.commands.append(np.asarray(m.data)),
            1000,
        )
        self.probe.create_subscription(
            JointTrajectory, "/joint_trajectory_controller/joint_trajectory", self.trajectories.append, 100
        )
        self.probe.create_subscription(ExecutorStatus, "dp/executor_status", self.status.append, 100)
        self.chunk_pub = self.probe.create_publisher(ActionChunk, "dp/action_chunk", 100)
        self.policy_pub = self.probe.create_publisher(PolicyStatus, "dp/policy_status", 10)
        self.state_pub = self.probe.create_publisher(JointState, "/joint_states", qos_profile_sensor_data)
        self.measured = np.zeros(3)
        self.publish_state = True
        self.policy_state = "active"
        self.probe.create_timer(0.01, self._state)
        self.probe.create_timer(0.1, lambda: self.policy_pub.publish(PolicyStatus(lifecycle_state=self.policy_state)))
        self.executor = SingleThreadedExecutor(context=ctx)
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)

    def _state(self) -> None:
        if self.publish_state:
            self.state_pub.publish(joint_state_to_msg(JOINTS, self.measured, self.now()))

    def now(self) -> int:
        return self.probe.get_clock().now().nanoseconds

    def spin(self, predicate, timeout_s: float = 10.0) -> bool:
        return spin_until(self.executor, predicate, timeout_s)

    def handled(self) -> int:
        return self.node.core.counts["accepted"] + self.node.core.counts["rejected"]

    def send(self, stamp_ns: int, actions: np.ndarray, dt: float = 0.1, seq: int = 1) -> None:
        chunk = chunk_from_flat(
            stamp_ns=stamp_ns,
            start_ns=stamp_ns,
            dt_s=dt,
            action_names=JOINTS,
            horizon=len(actions),
            action_dim=3,
            data=actions,
            execute_steps=8,
            sequence=seq,
        )
        before = self.handled()
        self.chunk_pub.publish(chunk_to_msg(chunk))
        assert self.spin(lambda: self.handled() > before), "the executor did not handle the chunk"

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.probe.destroy_node()


@pytest.fixture
def rig_factory(ros_context):
    made: list[Rig] = []

    def make(**extra) -> Rig:
        made.append(Rig(ros_context, **extra))
        core = made[-1].node.core
        assert made[-1].spin(lambda: core.watchdog.measured is not None and not core.watchdog.check(made[-1].now()))
        return made[-1]

    yield make
    for r in made:
        r.close()


def ramp(horizon: int = 16, slope_per_step: float = 0.1, offset: float = 0.0) -> np.ndarray:
    return offset + np.outer(np.arange(horizon) * slope_per_step, [1.0, -0.5, 0.25])


def test_late_chunk_starts_at_the_right_action(rig_factory):
    rig = rig_factory(**{"joint_limits.velocity_max": [50.0] * 3, "joint_limits.acceleration_max": [1e5] * 3})
    rig.measured[:] = ramp()[1]  # the robot is where the chunk's action at 0.1 s puts it (no limiter catch-up)
    rig.spin(lambda: False, timeout_s=0.05)
    stamp = rig.now() - 150_000_000  # the chunk arrives 150 ms after its observation
    rig.send(stamp, ramp())
    assert rig.node.core.counts["accepted"] == 1
    assert rig.spin(lambda: len(rig.commands) >= 1)
    first = rig.commands[0][0]
    received_s = (rig.now() - stamp) / 1e9
    # action i is at i * 0.1 s; 150 ms late means the first command is past action 1, not action 0
    assert 0.15 - 0.01 <= first <= 1.0 * received_s + 0.01, (first, received_s)


def test_consecutive_chunks_join_within_limits(rig_factory):
    rig = rig_factory(blend_s=0.1)
    rig.send(rig.now(), ramp(slope_per_step=0.05))
    assert rig.spin(lambda: len(rig.commands) >= 40)
    rig.send(rig.now(), ramp(slope_per_step=0.0, offset=-0.3), seq=2)  # ~0.4 rad away from the first: a jump
    start = len(rig.commands)
    assert rig.spin(lambda: len(rig.commands) >= start + 150)
    cmds = np.stack(rig.commands)
    steps = np.abs(np.diff(cmds, axis=0)).max()
    assert steps <= STEP_MAX, f"step {steps} rad between commands exceeds {STEP_MAX}"
    np.testing.assert_allclose(cmds[-1], -0.3, atol=1e-6, err_msg="the second chunk was not reached")


def test_watchdog_holds_on_stale_state_and_inactive_policy(rig_factory):
    rig = rig_factory()
    rig.send(rig.now(), ramp(horizon=40, slope_per_step=0.02))
    assert rig.spin(lambda: len(rig.commands) >= 20)
    rig.publish_state = False
    assert rig.spin(lambda: bool(rig.status) and "stale" in rig.status[-1].hold_reason)
    assert rig.spin(lambda: rig.status[-1].mode == "holding")  # after decelerating ("stopping")
    n = len(rig.commands)
    assert rig.spin(lambda: len(rig.commands) >= n + 20)
    held = np.stack(rig.commands[n + 2 :])
    assert np.all(held == held[0]), "commands moved while holding"
    rig.publish_state = True
    rig.policy_state = "inactive"
    assert rig.spin(lambda: "policy inactive" in rig.status[-1].hold_reason and rig.status[-1].mode == "idle")
    before = rig.node.core.counts["rejected"]
    rig.send(rig.now(), ramp(horizon=40, slope_per_step=0.02), seq=5)
    assert rig.node.core.counts["rejected"] == before + 1, "a chunk was accepted while the policy is inactive"


def test_trajectory_output_is_the_retimed_remainder(rig_factory):
    rig = rig_factory(output_mode="trajectory", trajectory_period_s=0.05)
    stamp = rig.now() - 100_000_000
    rig.send(stamp, ramp(slope_per_step=0.01))
    assert rig.spin(lambda: bool(rig.trajectories))
    traj = rig.trajectories[0]
    times = [p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in traj.points]
    # stamped 0 ("start on receipt"); the sample at 0 (the current command) is left out
    assert (traj.header.stamp.sec, traj.header.stamp.nanosec) == (0, 0)
    assert traj.joint_names == JOINTS and times[0] == pytest.approx(0.05) and np.all(np.diff(times) > 0)
    assert 1.3 < times[-1] < 1.6  # 1.5 s chunk, 0.1 s late + handling time, then settling at rest
    assert traj.points[0].positions[0] == pytest.approx(0.015, abs=0.01)  # ≈ 0.15 s into the chunk, from rest
    assert len(traj.points[0].velocities) == 3 and list(traj.points[-1].velocities) == [0.0, 0.0, 0.0]  # ends at rest


finite = st.floats(-10, 10, allow_nan=False)
values = st.one_of(finite, st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e30]))


@st.composite
def chunk_messages(draw):
    """Half well-formed chunks with arbitrary (often out-of-limit) values, half malformed ones."""
    horizon = draw(st.integers(1, 12))
    if draw(st.booleans()):
        names, dim, n_data = JOINTS, 3, horizon * 3
        execute_steps, dt = draw(st.integers(1, horizon)), draw(st.floats(0.02, 0.5))
        data = draw(st.lists(finite, min_size=n_data, max_size=n_data))
    else:
        names = draw(st.lists(st.sampled_from(JOINTS + ["bogus", ""]), min_size=1, max_size=4))
        dim = draw(st.one_of(st.just(len(names)), st.integers(0, 5)))
        n_data = draw(st.one_of(st.just(horizon * dim), st.integers(0, 40)))
        execute_steps = draw(st.integers(0, horizon + 1))
        dt = draw(st.one_of(st.just(0.1), st.floats(allow_nan=True, allow_infinity=True)))
        data = draw(st.lists(values, min_size=n_data, max_size=n_data))
    msg = ActionChunk(
        action_names=names,
        horizon=horizon,
        action_dim=dim,
        execute_steps=execute_steps,
        dt=dt,
        data=data,
        sequence=draw(st.integers(0, 2**64 - 1)),
    )
    offset_s = draw(st.sampled_from([-5.0, -0.9, -0.15, 0.0, 0.05, 0.4, 3.0]))
    return msg, offset_s


def test_fuzzed_chunks_never_crash_or_exceed_limits(rig_factory):
    rig = rig_factory(blend_s=0.05)
    rig.send(rig.now(), ramp(slope_per_step=0.01))

    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(chunk_messages())
    def check(example):
        msg, offset_s = example
        stamp = max(rig.now() + int(offset_s * 1e9), 0)
        msg.header.stamp = msg.start = ns_to_time(stamp)
        before = rig.handled()
        rig.chunk_pub.publish(msg)
        assert rig.spin(lambda: rig.handled() > before), "the executor stopped handling chunks"

    check()
    ticks = len(rig.commands)
    assert rig.spin(lambda: len(rig.commands) >= ticks + 10), "the control loop stopped"
    if rig.commands:
        cmds = np.stack(rig.commands)
        assert np.all(np.isfinite(cmds))
        assert cmds.min() >= POS_MIN - 1e-9 and cmds.max() <= POS_MAX + 1e-9
        assert np.abs(np.diff(cmds, axis=0)).max() <= STEP_MAX
    assert rig.node.core.counts["rejected"] > 0 and rig.node.core.counts["accepted"] > 0


# --- pose output of planar (x, y) actions -------------------------------------------------

PLANAR_DEFAULTS = [0.0, 0.0, 0.015, 1.0, 0.0, 0.0, 0.0]  # x, y (replaced by the actions), z m, qx..qw


def planar_values(**extra) -> dict:
    values = {p.name: p.default for p in PARAMS}
    values.update(
        {
            "action_names": ["x", "y"],
            "output_mode": "pose",
            "pose_defaults": PLANAR_DEFAULTS,
            "cartesian_limits.box_min": [0.25, -0.3, 0.0],
            "cartesian_limits.box_max": [0.75, 0.3, 0.2],
            "cartesian_limits.max_linear_speed": 0.5,
        }
    )
    values.update(extra)
    return values


def test_planar_pose_config_fills_z_and_orientation_from_pose_defaults():
    cfg = build_config(planar_values())
    assert cfg.topic == "/cartesian_target" and cfg.command_indices == [0, 1]
    assert cfg.pose_vector(np.array([0.4, -0.1])).tolist() == [0.4, -0.1] + PLANAR_DEFAULTS[2:]
    swapped = build_config(planar_values(action_names=["y", "x"]))  # action order does not matter
    assert swapped.pose_vector(np.array([-0.1, 0.4])).tolist() == [0.4, -0.1] + PLANAR_DEFAULTS[2:]
    full = build_config(planar_values(action_names=["x", "y", "z", "qx", "qy", "qz", "qw"], pose_defaults=[]))
    pose = np.array([0.5, 0.1, 0.2, 0.0, 0.0, 0.0, 1.0])
    assert full.pose_vector(pose).tolist() == pose.tolist()
    with pytest.raises(ValueError, match="lack \\['z', 'qx', 'qy', 'qz', 'qw'\\]; set pose_defaults"):
        build_config(planar_values(pose_defaults=[]))
    with pytest.raises(ValueError, match="pose_defaults must be 7 finite values"):
        build_config(planar_values(pose_defaults=[0.0, 0.0, 0.015]))
    with pytest.raises(ValueError, match="unit quaternion"):
        build_config(planar_values(pose_defaults=[0.0, 0.0, 0.015, 0.0, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="missing \\['y'\\]"):
        build_config(planar_values(action_names=["x", "z"]))
    with pytest.raises(ValueError, match="needs joint action names"):
        build_config(planar_values(output_mode="position"))


def test_planar_actions_stream_limited_poses(ros_context):
    defaults = {p.name: p.default for p in PARAMS}
    values = planar_values(control_rate_hz=100.0, blend_s=0.0, max_state_age_s=0.5, frame_id="fr3_link0")
    params = [Parameter(k, value=v) for k, v in values.items() if v != defaults[k]]
    node = ChunkExecutorNode(context=ros_context, parameter_overrides=params)
    probe = Node("planar_probe", context=ros_context)
    poses: list[PoseStamped] = []
    probe.create_subscription(PoseStamped, "/cartesian_target", poses.append, 1000)
    chunk_pub = probe.create_publisher(ActionChunk, "dp/action_chunk", 10)
    policy_pub = probe.create_publisher(PolicyStatus, "dp/policy_status", 10)
    # franka's current_pose: best-effort, depth 1 (franka_robot_state_broadcaster)
    pose_pub = probe.create_publisher(
        PoseStamped, "franka_robot_state_broadcaster/current_pose", qos_profile_sensor_data
    )
    now = lambda: probe.get_clock().now().nanoseconds  # noqa: E731
    measured = [0.5, 0.0]

    def publish_state() -> None:
        pose_pub.publish(pose_to_msg([*measured, 0.015, 1.0, 0.0, 0.0, 0.0], now(), "fr3_link0"))
        policy_pub.publish(PolicyStatus(lifecycle_state="active"))

    probe.create_timer(0.01, publish_state)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(probe)
    try:
        assert spin_until(executor, lambda: not node.core.watchdog.check(now()), 10.0)
        # x ramps 0.5 → 0.9 m (beyond box_max 0.75), y from 0.0 at 0.02 m per 0.1 s step
        actions = np.stack([0.5 + 0.025 * np.arange(16), 0.02 * np.arange(16)], axis=1)
        chunk = chunk_from_flat(
            stamp_ns=now(),
            start_ns=now(),
            dt_s=0.1,
            action_names=["x", "y"],
            horizon=16,
            action_dim=2,
            data=actions,
            execute_steps=16,
            sequence=1,
        )
        chunk_pub.publish(chunk_to_msg(chunk))
        assert spin_until(executor, lambda: len(poses) >= 120, 10.0), f"{len(poses)} poses, counts {node.core.counts}"
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()
    assert node.core.counts["accepted"] == 1
    assert {p.header.frame_id for p in poses} == {"fr3_link0"}
    xyz = np.array([[p.pose.position.x, p.pose.position.y, p.pose.position.z] for p in poses])
    quat = np.array(
        [[p.pose.orientation.x, p.pose.orientation.y, p.pose.orientation.z, p.pose.orientation.w] for p in poses]
    )
    assert np.all(xyz[:, 2] == 0.015) and np.all(quat == [1.0, 0.0, 0.0, 0.0])  # from pose_defaults
    assert xyz[:, 0].max() <= 0.75 + 1e-12 and xyz[:, 0].max() > 0.7  # clipped at the box, x moved
    assert xyz[:, 1].max() > 0.1  # y followed the actions
    # max_linear_speed over the elapsed time (a late tick counts as at most MAX_GAP_PERIODS periods)
    assert np.linalg.norm(np.diff(xyz[:, :2], axis=0), axis=1).max() <= 0.5 * MAX_GAP_PERIODS / 100.0 + 1e-9
