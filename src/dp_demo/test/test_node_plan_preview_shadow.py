"""plan_preview_node and the executor's shadow mode against dp_sim's FR3 twin, composed in one process.

Lockstep (dp_sim.lockstep): the twin, chunk_executor_node, plan_preview_node and a probe on sim
time; chunks published as the policy node publishes them, the policy status as its lifecycle does.

- Shadow (joint position stream and trajectories): nothing from the executor reaches the controllers'
  topics, the twin does not move (or moves only as the probe, a stand-in teleoperator, drives it),
  dp/shadow/* carries the commands, and each chunk's dp/shadow/report equals the distances between
  those commands and the twin's measured joints.
- Preview: the ghost joint state is the latest chunk's end, the preview trajectory the chunk; the
  markers count what the executor's own status says was executed, the superseded chunk's tail and
  the rest after a stop discarded; in pose mode the path is the chunk's end-effector poses and the
  markers colour each point by its state.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from nav_msgs.msg import Path
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.plan_preview import DISCARDED, EXECUTED, STATE_COLORS
from dp_demo.preview_graph import POSE_NAMES, add_pose_preview
from dp_msgs.msg import ActionChunk, ExecutorStatus, PolicyStatus, ShadowReport
from dp_policy_node.chunk_executor_node import ChunkExecutorNode
from dp_policy_node.conversions import chunk_to_msg
from dp_policy_node.plan_preview_node import PlanPreviewNode

fr3 = pytest.importorskip("dp_sim.fr3")
from dp_sim.interfaces import FRANKA  # noqa: E402
from dp_sim.lockstep import Lockstep  # noqa: E402

pytestmark = pytest.mark.ros
JOINTS = list(fr3.JOINT_NAMES)
POSE = list(POSE_NAMES)
SUMMARY = re.compile(r"chunk (\d+): executed (\d+), pending (\d+), discarded (\d+)")


class Probe:
    """Everything the test looks at, with the sim time of receipt; publishes chunks and the status."""

    def __init__(self, ls: Lockstep) -> None:
        self.ls = ls
        node = ls.add(Node, "preview_probe")
        self.node = node
        self.q: list[np.ndarray] = []
        self.got: dict[str, list] = {k: [] for k in ("controller", "shadow", "report", "ghost", "traj", "markers")}
        self.got.update(path=[], status=[], pose=[])
        rec = self._recorder
        node.create_subscription(JointState, FRANKA.joint_states, lambda m: self.q.append(np.array(m.position[:7])), 50)
        node.create_subscription(Float64MultiArray, FRANKA.positions, rec("controller"), 10)
        node.create_subscription(JointTrajectory, FRANKA.trajectory, rec("controller"), 10)
        node.create_subscription(PoseStamped, FRANKA.cartesian, rec("controller"), 10)
        node.create_subscription(Float64MultiArray, "dp/shadow/commands", rec("shadow"), 10)
        node.create_subscription(JointTrajectory, "dp/shadow/joint_trajectory", rec("shadow"), 10)
        node.create_subscription(ShadowReport, "dp/shadow/report", rec("report"), 10)
        node.create_subscription(JointState, "dp/preview/joint_states", rec("ghost"), 10)
        node.create_subscription(JointTrajectory, "dp/preview/joint_trajectory", rec("traj"), 10)
        node.create_subscription(MarkerArray, "dp/preview/markers", rec("markers"), 10)
        node.create_subscription(Path, "dp/preview/path", rec("path"), 10)
        node.create_subscription(ExecutorStatus, "dp/executor_status", rec("status"), 10)
        best_effort = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(PoseStamped, FRANKA.ee_pose, self.got["pose"].append, best_effort)
        self.chunks = node.create_publisher(ActionChunk, "dp/action_chunk", 10)
        self.status = node.create_publisher(PolicyStatus, "dp/policy_status", 10)
        self.teleop = node.create_publisher(Float64MultiArray, FRANKA.positions, 10)
        self.teleop_target = None  # sim time (s) -> joint positions: a person moving the arm meanwhile
        self.teleop_sent = 0
        self.run(50, active=True)

    def _recorder(self, key: str):
        return lambda m: self.got[key].append((self.ls.time_s, m, self.q[-1].copy() if self.q else None))

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def run(self, ticks: int, active: bool) -> None:
        for k in range(ticks):
            if k % 100 == 0:
                self.status.publish(PolicyStatus(lifecycle_state="active" if active else "inactive"))
            if self.teleop_target is not None:  # at the twin's 1 kHz position interface
                self.teleop.publish(Float64MultiArray(data=self.teleop_target(self.ls.time_s).tolist()))
                self.teleop_sent += 1
            self.ls.tick()

    def send(self, seq: int, names: list[str], actions: np.ndarray) -> ActionChunkData:
        now = self.now_ns()
        chunk = ActionChunkData(now, now, 0.1, names, actions.astype(np.float32), len(actions), seq)
        self.chunks.publish(chunk_to_msg(chunk))
        self.ls.settle()  # executor and preview take it before the next tick
        return chunk


def summaries(markers: MarkerArray) -> dict[int, tuple[int, int, int]]:
    out = {}
    for m in markers.markers:
        if m.type == Marker.TEXT_VIEW_FACING and (match := SUMMARY.fullmatch(m.text)):
            seq, *counts = map(int, match.groups())
            out[seq] = tuple(counts)
    return out


def first_stop_s(probe: Probe, after_s: float) -> float:
    """Sim time of the executor's first status after ``after_s`` that no longer follows the plan."""
    return next(t for t, m, _ in probe.got["status"] if t >= after_s and m.mode != "executing")


def joint_params(mode: str) -> dict:
    return {
        "action_names": JOINTS,
        "output_mode": mode,
        "shadow": True,
        "command_topic": FRANKA.positions if mode == "position" else FRANKA.trajectory,
        "control_rate_hz": 250.0,
        "joint_limits.position_min": fr3.Q_MIN.tolist(),
        "joint_limits.position_max": fr3.Q_MAX.tolist(),
        "joint_limits.velocity_max": [1.0] * 7,
        "joint_limits.acceleration_max": [5.0] * 7,
    }


@pytest.mark.parametrize(
    ("mode", "arm"), [("position", "still"), ("trajectory", "still"), ("position", "teleoperated")]
)
def test_shadow_mode_reports_what_it_would_have_done_and_the_preview_shows_it(mode, arm):
    """``teleoperated``: meanwhile the probe moves joint 4 through the twin's position interface (as a
    person would with teleop); the report's distances follow the measured motion."""
    with Lockstep() as ls:
        ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
        ls.add(ChunkExecutorNode, **joint_params(mode))
        ls.add(PlanPreviewNode)
        probe = Probe(ls)
        q0 = probe.q[-1].copy()
        if arm == "teleoperated":  # 0.1 rad on joint 4 over 1 s, smooth (cosine), within the twin's reflexes
            t0 = ls.time_s
            probe.teleop_target = lambda ts: q0 + 0.05 * (1 - np.cos(np.pi * min(ts - t0, 1.0))) * np.eye(7)[3]
        t = np.arange(16)[:, None] * 0.1
        c1 = probe.send(1, JOINTS, q0 + 0.4 * t * np.eye(7)[0])  # joint 1 at 0.4 rad/s
        t1 = ls.time_s
        probe.run(400, active=True)
        c2 = probe.send(2, JOINTS, q0 + 0.16 * np.eye(7)[0] - 0.3 * t * np.eye(7)[1])
        t2 = ls.time_s
        probe.run(400, active=True)
        t_off = ls.time_s
        probe.run(400, active=False)
        got = probe.got

        # shadow: the controllers hear nothing from the executor, dp/shadow/* has the commands
        assert len(got["controller"]) == probe.teleop_sent  # the teleoperator's only
        moved = np.abs(np.stack(probe.q) - q0).max(axis=0)
        assert moved.max() < 1e-3 if arm == "still" else (moved[3] > 0.08 and np.delete(moved, 3).max() < 1e-3)
        assert len(got["shadow"]) >= (200 if mode == "position" else 2)
        reports = [m for _, m, _ in got["report"]]
        assert [r.sequence for r in reports] == [1, 2] and all(r.unit == "rad" for r in reports)
        if mode == "position":  # one command per tick: the report's distances, recomputed from the topics
            for r, (begin, end) in zip(reports, [(t1, t2), (t2, np.inf)], strict=True):
                d = np.array([np.linalg.norm(np.array(m.data) - q) for ts, m, q in got["shadow"] if begin <= ts < end])
                # chunk 2 ends with the stop's resting command, sent once in idle (not a moving tick)
                # still: exact; teleoperated: the executor's state may be one 1 ms sample older than the probe's
                tol = 1e-6 if arm == "still" else 3e-4
                assert r.samples == (d.size if end < np.inf else d.size - 1)
                assert r.max_distance == pytest.approx(d.max(), rel=tol, abs=tol)
                assert r.mean_distance == pytest.approx(d[: r.samples].mean(), rel=tol, abs=tol)
            if arm == "still":
                assert reports[0].max_distance == pytest.approx(0.16, abs=0.03)  # 0.4 s of joint 1 at 0.4 rad/s
            else:  # the teleoperated joint 4 is part of the distance: chunk 2 ends 0.1 rad off on it alone
                assert reports[1].final_distance > 0.09
        else:  # trajectories: the report's peak is the farthest shadow point (sampled at the ticks)
            peak = max(np.linalg.norm(np.array(p.positions) - q0) for _, m, _ in got["shadow"] for p in m.points)
            assert 0.1 < max(r.max_distance for r in reports) <= peak + 1e-6

        # preview: ghost = chunk 2's end, trajectory = chunk 2, markers = what the executor did
        _, ghost, _ = got["ghost"][-1]
        assert list(ghost.name) == JOINTS and np.allclose(ghost.position, c2.actions[-1], atol=1e-6)
        _, traj, _ = got["traj"][-1]
        assert len(traj.points) == 16 and np.allclose([p.positions for p in traj.points], c2.actions, atol=1e-6)
        assert traj.points[-1].time_from_start.sec == 1 and traj.points[-1].time_from_start.nanosec == 500_000_000
        counts = summaries(got["markers"][-1][1])
        times1, times2 = c1.times_ns() / 1e9, c2.times_ns() / 1e9
        n1 = int(np.count_nonzero(times1 <= t2 + 1e-9))
        assert counts[1] == (n1, 0, 16 - n1) and n1 == 5  # 0 .. 0.4 s, then chunk 2 took over
        n2 = int(np.count_nonzero(times2 <= first_stop_s(probe, t_off) + 1e-9))
        assert counts[2] == (n2, 0, 16 - n2) and 4 <= n2 <= 6


def test_preview_path_and_markers_in_pose_mode_while_the_arm_moves():
    with Lockstep() as ls:
        executor = add_pose_preview(ls)
        probe = Probe(ls)
        p = probe.got["pose"][-1].pose
        start = np.array([p.position.x, p.position.y, p.position.z, *(getattr(p.orientation, a) for a in "xyzw")])
        actions = np.tile(start, (12, 1))
        actions[:, 0] += 0.08 * np.arange(12) * 0.1
        chunk = probe.send(1, POSE, actions)
        probe.run(600, active=True)
        assert executor.core.counts["accepted"] == 1
        assert len(probe.got["controller"]) > 20  # not shadowed: the Cartesian controller gets targets
        _, path, _ = probe.got["path"][-1]
        assert path.header.frame_id == "fr3_link0" and len(path.poses) == 12
        xyzq = [[q.pose.position.x, q.pose.position.y, q.pose.position.z, q.pose.orientation.w] for q in path.poses]
        assert np.allclose(xyzq, chunk.actions[:, [0, 1, 2, 6]], atol=1e-6)
        assert [q.header.stamp.sec * 10**9 + q.header.stamp.nanosec for q in path.poses] == chunk.times_ns().tolist()
        t_marks, markers, _ = probe.got["markers"][-1]
        line = next(m for m in markers.markers if m.type == Marker.LINE_STRIP and m.id == 3)  # the latest chunk
        assert len(line.points) == 12 and np.allclose([pt.x for pt in line.points], chunk.actions[:, 0], atol=1e-6)
        passed = chunk.times_ns() / 1e9 <= t_marks + 1e-9
        colors = [(c.r, c.g, c.b, c.a) for c in line.colors]
        assert all(np.allclose(c, STATE_COLORS[EXECUTED if s else 1]) for c, s in zip(colors, passed, strict=True))
        assert summaries(markers)[1] == (int(passed.sum()), int((~passed).sum()), 0)
        assert any(np.allclose(c, STATE_COLORS[EXECUTED]) for c in colors)
        assert not any(np.allclose(c, STATE_COLORS[DISCARDED]) for c in colors)
