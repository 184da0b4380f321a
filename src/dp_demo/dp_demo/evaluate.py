"""Step 4: deploy a checkpoint through observation → policy → executor nodes and evaluate it.

The sim, the task-state publisher, the three policy nodes (``config/demo/deploy_*.yaml``) and the
demo's client are composed in one lockstep process (:mod:`dp_sim.lockstep`): the policy infers in
its window callback and the sim waits for every callback, so the result depends only on the
seeds, not on the machine's speed. The policy node is configured once through its lifecycle
service and activated per episode; success is the sim's ``/task_status.success`` before the
timeout, on held-out seeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from dp_demo.episodes import NODE_ARGS, compose_sim, wait_for_graph
from dp_demo.ros_client import DemoClient, Outcome, Trajectory, success_rate
from dp_demo.settings import DemoSettings
from dp_policy_node.chunk_executor_node import ChunkExecutorNode
from dp_policy_node.observation_node import ObservationNode
from dp_policy_node.policy_node import PolicyNode
from dp_sim.lockstep import Lockstep

WARMUP_S = 0.25  # sim s after a reset before activation: the first window holds only new-episode frames


@dataclass
class EvaluationResult:
    outcomes: list[Outcome]
    trajectories: list[Trajectory]
    reflexes: int = 0  # reflexes the sim's monitor fired (dp_sim.reflexes); resets do not clear the count

    @property
    def success_rate(self) -> float:
        return success_rate(self.outcomes)


def run_policy_episode(settings: DemoSettings, seed: int, client: DemoClient) -> Outcome:
    """One evaluation episode: reset, activate, run to success or timeout, deactivate, executor idle."""
    client.trajectory = Trajectory(seed)
    client.reset(seed)
    client.wait(
        lambda: client.status is not None and client.status.episode_time_s >= WARMUP_S,
        1.0,
        "the first observation window",
    )
    client.activate_policy()
    outcome = client.wait_episode(seed, settings.episode_timeout_s)
    client.deactivate_policy()
    # the executor forgets its plan when it hears the policy is inactive; the next reset must not be fought
    client.executor_status = None
    client.wait(
        lambda: client.executor_status is not None and client.executor_status.mode == "idle",
        2.0,
        "the chunk executor to go idle",
    )
    return outcome


def evaluate_policy(settings: DemoSettings, checkpoint: Path, progress) -> EvaluationResult:
    """Evaluate ``checkpoint`` on ``settings.eval_seeds``."""
    import torch

    # One intra-op thread: a batch-1 chunk gains nothing from more, and a fixed count keeps the
    # float results (summation order) the same on machines with more cores.
    torch.set_num_threads(1)
    result = EvaluationResult([], [])
    with Lockstep([*NODE_ARGS, "--params-file", str(settings.deploy_config)]) as lockstep:
        compose_sim(lockstep, settings.images)
        lockstep.add(ObservationNode, checkpoint_path=str(checkpoint))  # window shape checked against its spec
        lockstep.add(PolicyNode, checkpoint_path=str(checkpoint), seed=settings.seed, inference_thread=False)
        lockstep.add(ChunkExecutorNode)
        client = DemoClient(lockstep, "dp_demo_evaluation")
        wait_for_graph(client)
        client.configure_policy()
        for i, seed in enumerate(settings.eval_seeds):
            wall = time.monotonic()
            outcome = run_policy_episode(settings, seed, client)
            result.outcomes.append(outcome)
            if client.trajectory is not None:
                result.trajectories.append(client.trajectory)
            client.trajectory = None
            progress(
                i + 1,
                len(settings.eval_seeds),
                f"seed {seed}: {'success' if outcome.success else 'timeout'} in {outcome.duration_s:.1f} s sim "
                f"(coverage {outcome.coverage:.2f}, {time.monotonic() - wall:.1f} s wall), "
                f"policy success {result.success_rate:.0%}",
            )
        assert lockstep.sim is not None  # compose_sim added it
        result.reflexes = lockstep.sim.sim.reflex_count
    return result
