"""Step 1: record expert demonstrations over ROS, one MCAP bag per successful episode.

sim_node (faster than real time), expert_node and task_state_node run as processes on sim
time; the recorder records the topics of ``config/demo/recorder.yaml``. Per seed: reset the sim,
start the recorder's episode, wait for success or the timeout, keep the bag (success) or
discard it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from dp_sim.demo.processes import ProcessGroup
from dp_sim.demo.ros_client import DemoClient, Outcome
from dp_sim.demo.settings import DemoSettings

log = logging.getLogger(__name__)


@dataclass
class RecordingResult:
    outcomes: list[Outcome]
    bags: list[Path]

    @property
    def success_rate(self) -> float:
        return sum(o.success for o in self.outcomes) / max(len(self.outcomes), 1)


def start_sim(group: ProcessGroup, rtf: float, images: bool) -> None:
    """sim_node at ``rtf`` x real time, plus the low-dim state publisher."""
    group.start("sim_node", "dp_sim.sim_node", [
        "-p", f"real_time_factor:={rtf}", "-p", f"publish_images:={'true' if images else 'false'}",
        "-p", "cameras:=[top]",
    ])
    group.start("task_state_node", "dp_sim.demo.task_state_node")


def wait_for_graph(client: DemoClient, group: ProcessGroup, timeout_s: float = 120.0) -> None:
    """Until the sim publishes status and every process is still alive."""
    def ready() -> bool:
        group.check()
        return client.status is not None and client.pusher_xy is not None

    client.wait(ready, timeout_s, "the sim to publish /task_status and /ee_pose")


def record_expert(settings: DemoSettings, client: DemoClient, group: ProcessGroup, progress) -> RecordingResult:  # noqa: ANN001
    """Record ``settings.episodes`` expert episodes; returns outcomes and kept bag paths."""
    start_sim(group, settings.record_rtf, settings.images)
    group.start("expert_node", "dp_sim.expert_node", ["-p", f"timeout_s:={settings.episode_timeout_s}"])
    group.start("recorder", "dp_recorder.recorder_node", [
        "--params-file", str(settings.recorder_config), "-p", f"output_dir:={settings.bags_dir}",
    ])
    wait_for_graph(client, group)
    client.wait(lambda: client.recorder_status is not None, 60.0, "the recorder's status")
    result = RecordingResult([], [])
    for i, seed in enumerate(settings.record_seeds):
        group.check()
        wall = time.monotonic()
        client.reset(seed)
        client.start_recording(note=f"expert, seed {seed}")
        wall_timeout = 30.0 + 3 * settings.episode_timeout_s / settings.record_rtf
        outcome = client.wait_episode(seed, settings.episode_timeout_s, wall_timeout)
        bag = client.stop_recording(keep=outcome.success, success=outcome.success,
                                    note=f"coverage {outcome.coverage:.3f}")
        result.outcomes.append(outcome)
        if outcome.success:
            result.bags.append(Path(bag))
        progress(i + 1, len(settings.record_seeds),
                 f"seed {seed}: {'success' if outcome.success else 'timeout'} in {outcome.duration_s:.1f} s sim "
                 f"({time.monotonic() - wall:.1f} s wall), expert success {result.success_rate:.0%}")
    return result
