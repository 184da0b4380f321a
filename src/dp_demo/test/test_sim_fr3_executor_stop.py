"""The chunk executor against the FR3 twin, in every output mode. Trajectory mode against the FR3 twin's fr3_arm_controller (JTC semantics:
it keeps executing the last trajectory it accepted): deactivating the policy mid-motion brings
the arm to rest within the stopping distance the limits allow, and no reflex fires.

Without the stop trajectory the controller would run the accepted trajectory to its end (~1 s
more, ~1 rad here); the test asserts the arm travels at most v²/2a + v·(one tick + a trajectory
period) after the deactivation."""

from __future__ import annotations

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import JointState

from dp_core.control.action_chunk import chunk_from_flat
from dp_msgs.msg import ActionChunk, PolicyStatus
from dp_policy_node.chunk_executor_node import ChunkExecutorNode
from dp_policy_node.conversions import chunk_to_msg
from dp_sim import fr3
from dp_sim.interfaces import FRANKA
from dp_sim.lockstep import Lockstep

pytestmark = pytest.mark.ros
JOINTS = list(fr3.JOINT_NAMES)
VMAX, AMAX = 1.0, 5.0  # rad/s, rad/s² on every joint (within the FR3's)
PERIOD_S = 0.02


class Probe:
    """The twin's joint states (sim time, q), O_T_EE poses, reflex reports; chunk and policy-status
    publishers. Made after the sim and the executor; runs 50 ticks and activates the policy."""

    def __init__(self, ls: Lockstep) -> None:
        from geometry_msgs.msg import PoseStamped

        node = ls.add(Node, "executor_probe")
        self.states: list[tuple[float, np.ndarray]] = []
        self.poses: list[PoseStamped] = []
        self.reflex: list[DiagnosticStatus] = []
        node.create_subscription(
            JointState, FRANKA.joint_states, lambda m: self.states.append((ls.time_s, np.asarray(m.position[:7]))), 100
        )
        node.create_subscription(
            PoseStamped,
            FRANKA.ee_pose,
            self.poses.append,
            QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT),
        )
        node.create_subscription(
            DiagnosticStatus,
            "/sim_node/reflex",
            self.reflex.append,
            QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL),
        )
        self.chunks = node.create_publisher(ActionChunk, "dp/action_chunk", 10)
        self.status = node.create_publisher(PolicyStatus, "dp/policy_status", 10)
        for _ in range(50):
            ls.tick()
        self.status.publish(PolicyStatus(lifecycle_state="active"))
        ls.tick()

    def q(self) -> np.ndarray:
        """All joint positions received so far, (N, 7)."""
        return np.stack([q for _, q in self.states])


def publish_chunk(pub, executor: Node, names, actions: np.ndarray) -> None:
    """One chunk of ``actions`` (H, 7) at 10 Hz starting now, all of it executed."""
    now = executor.get_clock().now().nanoseconds
    horizon = len(actions)
    chunk = chunk_from_flat(
        stamp_ns=now,
        start_ns=now,
        dt_s=0.1,
        action_names=names,
        horizon=horizon,
        action_dim=7,
        data=actions,
        execute_steps=horizon,
        sequence=1,
    )
    pub.publish(chunk_to_msg(chunk))


def test_deactivating_the_policy_stops_the_arm_within_the_stopping_distance():
    with Lockstep() as ls:
        ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
        executor = ls.add(
            ChunkExecutorNode,
            **{
                "action_names": JOINTS,
                "output_mode": "trajectory",
                "command_topic": FRANKA.trajectory,
                "control_rate_hz": 250.0,
                "trajectory_period_s": PERIOD_S,
                "max_state_age_s": 0.1,
                "joint_limits.position_min": fr3.Q_MIN.tolist(),
                "joint_limits.position_max": fr3.Q_MAX.tolist(),
                "joint_limits.velocity_max": [VMAX] * 7,
                "joint_limits.acceleration_max": [AMAX] * 7,
            },
        )
        probe = Probe(ls)
        states, reflex, chunks, status = probe.states, probe.reflex, probe.chunks, probe.status
        q0 = states[-1][1]
        # joint 1 at the velocity limit for 2 s (the executor accelerates into it), the others still
        t = np.arange(21) * 0.1
        actions = np.tile(q0, (21, 1))
        actions[:, 0] += VMAX * t
        publish_chunk(chunks, executor, JOINTS, actions)
        for k in range(700):  # 0.7 s of sim time at 1 kHz, the policy status every 0.1 s
            if k % 100 == 0:
                status.publish(PolicyStatus(lifecycle_state="active"))
            ls.tick()
        assert executor.core.counts["accepted"] == 1 and executor.core.mode == "executing"
        (t_a, q_a), (t_b, q_b) = states[-11], states[-1]
        v0 = (q_b[0] - q_a[0]) / (t_b - t_a)
        assert v0 > 0.8 * VMAX, f"joint 1 at {v0:.3f} rad/s before the stop"
        q_stop = q_b[0]
        status.publish(PolicyStatus(lifecycle_state="inactive"))
        for _ in range(1000):
            ls.tick()
        travelled = states[-1][1][0] - q_stop
        allowed = v0**2 / (2 * AMAX) + v0 * (0.004 + PERIOD_S) + 1e-3
        assert 0 < travelled <= allowed, f"travelled {travelled:.4f} rad after the deactivation, allowed {allowed:.4f}"
        last = np.stack([q for _, q in states[-50:]])
        assert np.abs(np.diff(last, axis=0)).max() < 1e-6, "the arm is not at rest"
        assert executor.core.mode == "idle"
        assert all(r.level == DiagnosticStatus.OK for r in reflex), [r.message for r in reflex]


@pytest.mark.parametrize("mode", ["position", "pose"])
def test_streaming_modes_drive_the_twin_without_a_reflex_and_stop(mode):
    """Position stream at the interface's 1 kHz (franka.launch.py refuses less on hardware) and pose
    targets to the Cartesian controller (O_T_EE measured on current_pose, best-effort): a motion, then
    a deactivation; the twin's reflexes (velocity, acceleration, jerk, discontinuity) never fire."""
    pose = mode == "pose"
    names = ["x", "y", "z", "qx", "qy", "qz", "qw"] if pose else JOINTS
    params = {
        "action_names": names,
        "output_mode": mode,
        "max_state_age_s": 0.1,
        "command_topic": FRANKA.cartesian if pose else FRANKA.positions,
        "control_rate_hz": 100.0 if pose else 1000.0,
    }
    if pose:
        params.update(
            {
                "frame_id": "fr3_link0",
                "measured_pose_topic": FRANKA.ee_pose,
                "cartesian_limits.box_min": [0.2, -0.5, 0.05],
                "cartesian_limits.box_max": [0.8, 0.5, 0.8],
                "cartesian_limits.max_linear_speed": 0.1,
                "cartesian_limits.max_linear_acceleration": 0.5,
                "cartesian_limits.max_angular_speed": 0.5,
                "cartesian_limits.max_angular_acceleration": 2.0,
            }
        )
    else:
        params.update(
            {
                "joint_limits.position_min": fr3.Q_MIN.tolist(),
                "joint_limits.position_max": fr3.Q_MAX.tolist(),
                "joint_limits.velocity_max": [0.5] * 7,
                "joint_limits.acceleration_max": [2.0] * 7,
            }
        )
    with Lockstep() as ls:
        ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
        executor = ls.add(ChunkExecutorNode, **params)
        probe = Probe(ls)
        reflex, chunks, status, poses = probe.reflex, probe.chunks, probe.status, probe.poses
        t = np.arange(16) * 0.1
        if pose:
            p = poses[-1].pose
            start = np.array(
                [
                    p.position.x,
                    p.position.y,
                    p.position.z,
                    p.orientation.x,
                    p.orientation.y,
                    p.orientation.z,
                    p.orientation.w,
                ]
            )
            actions = np.tile(start, (16, 1))
            actions[:, 0] += 0.08 * t  # 8 cm/s along x
        else:
            actions = np.tile(probe.q()[-1], (16, 1))
            actions[:, 0] += 0.4 * t  # 0.4 rad/s on joint 1
        publish_chunk(chunks, executor, names, actions)
        for k in range(800):
            if k % 100 == 0:
                status.publish(PolicyStatus(lifecycle_state="active"))
            ls.tick()
        assert executor.core.counts["accepted"] == 1 and executor.core.mode == "executing", executor.core.reason
        moved = np.abs(probe.q()[-1] - probe.q()[0]).max()
        assert moved > 0.05, f"the arm moved {moved:.3f} rad"
        status.publish(PolicyStatus(lifecycle_state="inactive"))
        for _ in range(1000):
            ls.tick()
        last = probe.q()[-20:]
        assert np.abs(np.diff(last, axis=0)).max() < 1e-5, "the arm is not at rest"
        assert executor.core.mode == "idle"
        assert reflex and all(r.level == DiagnosticStatus.OK for r in reflex), [r.message for r in reflex]
