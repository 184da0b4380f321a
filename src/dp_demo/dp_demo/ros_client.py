"""The demo's own ROS node: watches the task, resets the sim, drives the recorder and the policy.

Everything goes through the real interfaces (services, lifecycle ``change_state``, topics). The
node is composed with the graph in a :class:`dp_sim.lockstep.Lockstep`, so every wait is counted
in sim time and ticks the sim until its condition holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import PoseStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rclpy.node import Node

from dp_msgs.msg import ExecutorStatus, PolicyStatus, RecorderStatus, TaskStatus
from dp_msgs.srv import ResetSim, StartEpisode, StopEpisode
from dp_sim.lockstep import Lockstep


@dataclass
class Trajectory:
    """What one episode looked like: sim time (s), pusher xy (m), block (x, y, yaw), coverage."""

    seed: int
    time_s: list[float] = field(default_factory=list)
    pusher: list[np.ndarray] = field(default_factory=list)
    block: list[np.ndarray] = field(default_factory=list)
    coverage: list[float] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "time_s": np.asarray(self.time_s),
            "pusher": np.asarray(self.pusher).reshape(-1, 2),
            "block": np.asarray(self.block).reshape(-1, 3),
            "coverage": np.asarray(self.coverage),
        }


@dataclass(frozen=True)
class Outcome:
    seed: int
    success: bool
    coverage: float
    duration_s: float  # sim time


def success_rate(outcomes: list[Outcome]) -> float:
    """Fraction of successful episodes (0 for none)."""
    return sum(o.success for o in outcomes) / max(len(outcomes), 1)


class DemoClient:
    """A node in ``lockstep``'s graph; waits tick the sim (limits in sim seconds)."""

    def __init__(self, lockstep: Lockstep, name: str = "dp_demo") -> None:
        self.lockstep = lockstep
        self.node = n = lockstep.add(Node, name)
        self.status: TaskStatus | None = None
        self.pusher_xy: np.ndarray | None = None
        self.recorder_status: RecorderStatus | None = None
        self.policy_status: PolicyStatus | None = None
        self.executor_status: ExecutorStatus | None = None
        self.trajectory: Trajectory | None = None
        n.create_subscription(TaskStatus, "/task_status", self._on_status, 10)
        n.create_subscription(PoseStamped, "/ee_pose", self._on_pose, 10)
        n.create_subscription(RecorderStatus, "/recorder/status", lambda m: setattr(self, "recorder_status", m), 10)
        n.create_subscription(PolicyStatus, "/dp/policy_status", lambda m: setattr(self, "policy_status", m), 10)
        n.create_subscription(ExecutorStatus, "/dp/executor_status", lambda m: setattr(self, "executor_status", m), 10)
        self._reset = n.create_client(ResetSim, "/sim_node/reset")
        self._start = n.create_client(StartEpisode, "/recorder/start_episode")
        self._stop = n.create_client(StopEpisode, "/recorder/stop_episode")
        self._discard = n.create_client(StopEpisode, "/recorder/discard_episode")
        self._lifecycle = n.create_client(ChangeState, "/policy_node/change_state")

    # ---- topics ----------------------------------------------------------------------------
    def _on_pose(self, msg: PoseStamped) -> None:
        self.pusher_xy = np.array([msg.pose.position.x, msg.pose.position.y])

    def _on_status(self, msg: TaskStatus) -> None:
        self.status = msg
        t = self.trajectory
        if t is not None and msg.seed == t.seed and self.pusher_xy is not None:
            t.time_s.append(msg.episode_time_s)
            t.pusher.append(self.pusher_xy.copy())
            t.block.append(np.asarray(msg.block_pose, float))
            t.coverage.append(msg.coverage)

    def wait(self, predicate, max_sim_s: float, what: str) -> float:
        """Tick the sim until ``predicate()``; returns the sim seconds it took."""
        return self.lockstep.run_until(predicate, max_sim_s, what)

    # ---- services --------------------------------------------------------------------------
    def call(self, client, request):
        return self.lockstep.call(client, request)

    def reset(self, seed: int) -> None:
        """Reset the sim to ``seed`` and wait until its status reports the new episode."""
        self.call(self._reset, ResetSim.Request(seed=int(seed)))
        self.status = None
        self.wait(lambda: self.status is not None and self.status.seed == seed, 1.0, f"status of episode seed {seed}")

    def wait_episode(self, seed: int, timeout_s: float) -> Outcome:
        """Until the sim reports success or ``timeout_s`` of episode (sim) time has passed."""

        def done() -> bool:
            s = self.status
            return s is not None and s.seed == seed and (s.success or s.episode_time_s >= timeout_s)

        self.wait(done, timeout_s + 1.0, f"end of episode seed {seed}")
        s = self.status
        assert s is not None  # done() saw it
        return Outcome(seed, bool(s.success), float(s.coverage), float(s.episode_time_s))

    def start_recording(self, note: str) -> str:
        response = self.call(self._start, StartEpisode.Request(task="push_t", note=note))
        if not response.success:
            raise RuntimeError(f"recorder refused to start an episode: {response.message}")
        return str(response.bag_path)

    def stop_recording(self, keep: bool, success: bool, note: str = "") -> str:
        request = StopEpisode.Request(task_success=bool(success), note=note)
        response = self.call(self._stop if keep else self._discard, request)
        if not response.success:
            raise RuntimeError(f"recorder could not stop the episode: {response.message}")
        return str(response.bag_path)

    def policy_transition(self, transition_id: int) -> None:
        """configure/activate/deactivate the policy node through its lifecycle service."""
        request = ChangeState.Request()
        request.transition.id = transition_id
        response = self.call(self._lifecycle, request)
        if not response.success:
            note = self.policy_status.message if self.policy_status is not None else ""
            raise RuntimeError(f"policy_node refused lifecycle transition {transition_id}: {note}")

    def configure_policy(self) -> None:
        self.policy_transition(Transition.TRANSITION_CONFIGURE)

    def activate_policy(self) -> None:
        self.policy_transition(Transition.TRANSITION_ACTIVATE)

    def deactivate_policy(self) -> None:
        self.policy_transition(Transition.TRANSITION_DEACTIVATE)
