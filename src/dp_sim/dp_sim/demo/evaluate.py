"""Step 4: deploy a checkpoint through observation → policy → executor nodes and evaluate it.

The sim runs at ``eval_rtf`` (real time by default, what a robot would see); the policy node is
configured once through its lifecycle service and activated per episode. Success is the sim's
``/task_status.success`` before the timeout, on held-out seeds.

The chunk executor is started fresh for every episode: after a deactivation it keeps the last
command as its hold point and would drive the reset arm back there (see the README's known
gaps), so each episode starts from the measured ready pose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dp_sim.demo.episodes import start_sim, wait_for_graph
from dp_sim.demo.processes import ProcessGroup
from dp_sim.demo.ros_client import DemoClient, Outcome, Trajectory
from dp_sim.demo.settings import DemoSettings

WARMUP_S = 0.25  # sim s after a reset before activation: the first window holds only new-episode frames


@dataclass
class EvaluationResult:
    outcomes: list[Outcome]
    trajectories: list[Trajectory]

    @property
    def success_rate(self) -> float:
        return sum(o.success for o in self.outcomes) / max(len(self.outcomes), 1)


def start_policy_nodes(settings: DemoSettings, checkpoint: Path, group: ProcessGroup) -> None:
    params = ["--params-file", str(settings.deploy_config)]
    group.start("observation_node", "dp_policy_node.observation_node", params)
    group.start("policy_node", "dp_policy_node.policy_node", [
        *params, "-p", f"checkpoint_path:={checkpoint}", "-p", f"seed:={settings.seed}",
    ])


def run_policy_episode(settings: DemoSettings, seed: int, client: DemoClient, group: ProcessGroup) -> Outcome:
    """One evaluation episode: fresh executor, reset, activate, wait, deactivate."""
    client.executor_status = None
    executor = group.start("chunk_executor_node", "dp_policy_node.chunk_executor_node",
                           ["--params-file", str(settings.deploy_config)])
    try:
        client.wait(lambda: group.check() or client.executor_status is not None, 60.0, "the chunk executor")
        client.trajectory = Trajectory(seed)
        client.reset(seed)
        client.wait(lambda: client.status.episode_time_s >= WARMUP_S, 30.0, "the first observation window")
        client.activate_policy()
        wall_timeout = 60.0 + 3 * settings.episode_timeout_s / settings.eval_rtf
        outcome = client.wait_episode(seed, settings.episode_timeout_s, wall_timeout)
        client.deactivate_policy()
    finally:
        group.stop(executor)
    return outcome


def evaluate_policy(settings: DemoSettings, checkpoint: Path, client: DemoClient, group: ProcessGroup,
                    progress) -> EvaluationResult:  # noqa: ANN001
    """Evaluate ``checkpoint`` on ``settings.eval_seeds``."""
    start_sim(group, settings.eval_rtf, settings.images)
    start_policy_nodes(settings, checkpoint, group)
    wait_for_graph(client, group)
    client.configure_policy()
    result = EvaluationResult([], [])
    for i, seed in enumerate(settings.eval_seeds):
        wall = time.monotonic()
        outcome = run_policy_episode(settings, seed, client, group)
        result.outcomes.append(outcome)
        result.trajectories.append(client.trajectory)
        client.trajectory = None
        progress(i + 1, len(settings.eval_seeds),
                 f"seed {seed}: {'success' if outcome.success else 'timeout'} in {outcome.duration_s:.1f} s sim "
                 f"(coverage {outcome.coverage:.2f}, {time.monotonic() - wall:.1f} s wall), "
                 f"policy success {result.success_rate:.0%}")
    return result
