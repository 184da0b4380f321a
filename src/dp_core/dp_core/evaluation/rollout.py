"""One Push-T test episode with the original runner's rules (env_runner/pusht_keypoints_runner.py).

10 Hz; the policy sees the last n_obs_steps observations (the first one repeated until there are
enough, as the original MultiStepWrapper's history); each plan's n_action_steps actions starting
at the one aligned with the newest observation (index n_obs_steps - 1) are executed one per
step; the episode ends when the block covers more than 95 % of the goal or after ``max_steps``
steps. The episode's score is the max over its steps of the reward clip(coverage / 0.95, 0, 1).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dp_core.evaluation.pusht_env import SUCCESS_COVERAGE, PushTObserver, start_state


@dataclass
class EpisodeResult:
    """What one seed's episode did (the per-seed JSON record)."""

    seed: int
    max_reward: float
    success: bool
    steps: int
    chunks: int
    start_state: list[float]
    rewards: list[float] = field(default_factory=list)
    mean_inference_ms: float = 0.0
    wall_s: float = 0.0

    def record(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "max_reward": self.max_reward,
            "success": self.success,
            "steps": self.steps,
            "chunks": self.chunks,
            "start_state": self.start_state,
            "mean_inference_ms": self.mean_inference_ms,
            "wall_s": self.wall_s,
            "rewards": self.rewards,
        }


def _window(history: deque, n_obs: int) -> dict[str, dict[str, np.ndarray]]:
    frames = list(history)
    frames = [frames[0]] * (n_obs - len(frames)) + frames[-n_obs:]
    low_dim = {k: np.stack([f[0][k] for f in frames]) for k in frames[0][0]}
    images = {k: np.stack([f[1][k] for f in frames]) for k in frames[0][1]}
    return {"low_dim": low_dim, "images": images}


def run_episode(
    policy: Any,
    env: Any,
    observer: PushTObserver,
    seed: int,
    max_steps: int = 300,
    frames: list[np.ndarray] | None = None,
) -> EpisodeResult:
    """Run the test episode of ``seed``; ``frames`` (if given) collects rendered frames for a video."""
    spec = policy.spec
    started = time.perf_counter()
    state = start_state(seed)
    env.reset(options={"reset_to_state": state})
    history: deque = deque([observer.observe(env)], maxlen=spec.n_obs_steps)
    if frames is not None:
        frames.append(env.render())
    rewards: list[float] = []
    inference_ms: list[float] = []
    done = False
    chunk = 0
    max_coverage = 0.0
    while not done:
        plan = policy.predict(_window(history, spec.n_obs_steps), seed=seed * 1000 + chunk)
        inference_ms.append(plan.inference_ms)
        chunk += 1
        start = plan.aligned_index
        for action in plan.actions[start : start + plan.execute_steps]:
            _, reward, terminated, _, info = env.step(np.asarray(action, dtype=np.float64))
            rewards.append(float(reward))
            max_coverage = max(max_coverage, float(info["coverage"]))
            history.append(observer.observe(env))
            if frames is not None:
                frames.append(env.render())
            if terminated or info["coverage"] > SUCCESS_COVERAGE or len(rewards) >= max_steps:
                done = True
                break
    best = max(rewards)
    return EpisodeResult(
        seed=seed,
        max_reward=best,
        success=max_coverage > SUCCESS_COVERAGE,
        steps=len(rewards),
        chunks=chunk,
        start_state=[float(v) for v in state],
        rewards=[round(r, 5) for r in rewards],
        mean_inference_ms=round(float(np.mean(inference_ms)), 2),
        wall_s=round(time.perf_counter() - started, 3),
    )
