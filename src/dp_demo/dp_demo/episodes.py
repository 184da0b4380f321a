"""Step 1: record expert demonstrations over ROS, one MCAP bag per successful episode.

sim_node, task_state_node, expert_node and the recorder (topics of ``config/demo/recorder.yaml``)
are composed in one lockstep process on sim time (:mod:`dp_sim.lockstep`): the recording does not
depend on the machine's speed and runs as fast as the graph computes. Per seed: reset the sim,
start the recorder's episode, tick until success or the timeout, keep the bag (success) or
discard it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dp_demo.ros_client import DemoClient, Outcome, success_rate
from dp_demo.settings import DemoSettings
from dp_recorder.recorder_node import RecorderNode
from dp_sim.expert_node import ExpertNode
from dp_sim.lockstep import Lockstep
from dp_sim.task_state_node import TaskStateNode

# The nodes' INFO lines (several per episode) would drown the demo's progress; warnings and
# errors still show.
NODE_ARGS = ["--ros-args", "--log-level", "warn"]


@dataclass
class RecordingResult:
    outcomes: list[Outcome]
    bags: list[Path]
    reflexes: int = 0  # reflexes the sim's monitor fired while recording

    @property
    def success_rate(self) -> float:
        return success_rate(self.outcomes)


def compose_sim(lockstep: Lockstep, images: bool) -> None:
    """sim_node (ticked by ``lockstep``) plus the low-dim state publisher."""
    lockstep.add_sim(publish_images=images, cameras=["top"])
    lockstep.add(TaskStateNode)


def wait_for_graph(client: DemoClient) -> None:
    """Until the sim's status and pose reached the client (a few ticks)."""
    client.wait(
        lambda: client.status is not None and client.pusher_xy is not None,
        1.0,
        "/task_status and /ee_pose from the sim",
    )


def record_expert(settings: DemoSettings, progress) -> RecordingResult:
    """Record ``settings.episodes`` expert episodes; returns outcomes and kept bag paths."""
    result = RecordingResult([], [])
    with Lockstep([*NODE_ARGS, "--params-file", str(settings.recorder_config)]) as lockstep:
        compose_sim(lockstep, settings.images)
        lockstep.add(ExpertNode, timeout_s=settings.episode_timeout_s)
        lockstep.add(RecorderNode, output_dir=str(settings.bags_dir))
        client = DemoClient(lockstep, "dp_demo_recording")
        wait_for_graph(client)
        client.wait(lambda: client.recorder_status is not None, 2.0, "the recorder's status")
        for i, seed in enumerate(settings.record_seeds):
            wall = time.monotonic()
            client.reset(seed)
            client.start_recording(note=f"expert, seed {seed}")
            outcome = client.wait_episode(seed, settings.episode_timeout_s)
            bag = client.stop_recording(
                keep=outcome.success, success=outcome.success, note=f"coverage {outcome.coverage:.3f}"
            )
            result.outcomes.append(outcome)
            if outcome.success:
                result.bags.append(Path(bag))
            progress(
                i + 1,
                len(settings.record_seeds),
                f"seed {seed}: {'success' if outcome.success else 'timeout'} in {outcome.duration_s:.1f} s sim "
                f"({time.monotonic() - wall:.1f} s wall), expert success {result.success_rate:.0%}",
            )
        assert lockstep.sim is not None  # compose_sim added it
        result.reflexes = lockstep.sim.sim.reflex_count
    return result
