"""Closed-loop episodes in the pure sim (no ROS): expert evaluation and quick policy checks.

The recommended low-dim policy observation is ``[pusher_x, pusher_y, block_x, block_y,
sin(block_yaw), cos(block_yaw)]`` and the action is the pusher target ``[x, y]`` at 10 Hz;
:func:`low_dim_observation` builds it so every consumer agrees on the layout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dp_sim.env import PushTSim
from dp_sim.expert import ScriptedExpert

OBS_NAMES = ("pusher_x", "pusher_y", "block_x", "block_y", "block_sin_yaw", "block_cos_yaw")
ACTION_NAMES = ("pusher_target_x", "pusher_target_y")


def low_dim_observation(pusher_xy: np.ndarray, block_pose: np.ndarray) -> np.ndarray:
    """(6,) float32 observation; sin/cos avoid the yaw wrap-around discontinuity."""
    return np.array(
        [pusher_xy[0], pusher_xy[1], block_pose[0], block_pose[1], np.sin(block_pose[2]), np.cos(block_pose[2])],
        dtype=np.float32,
    )


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    coverage: float
    sim_time_s: float
    wall_time_s: float
    observations: np.ndarray  # (T, 6)
    actions: np.ndarray  # (T, 2)
    side: int = 0  # the expert's route (+1 left / -1 right), 0 for other controllers

    @property
    def real_time_factor(self) -> float:
        return self.sim_time_s / max(self.wall_time_s, 1e-9)


def run_episode(
    sim: PushTSim,
    controller: Callable[[np.ndarray, np.ndarray], np.ndarray],
    seed: int,
    max_time_s: float = 30.0,
    decision_dt_s: float = 0.1,
) -> EpisodeResult:
    """Reset with seed, then call controller(pusher_xy, block_pose) -> target xy every decision_dt_s.

    Stops at success or after max_time_s of sim time.
    """
    sim.reset(seed)
    substeps = max(1, int(round(decision_dt_s / sim.dt_s)))
    obs, acts = [], []
    start = time.perf_counter()
    while sim.episode_time_s < max_time_s and not sim.success:
        pusher, block = sim.ee_position()[:2], sim.block_pose()
        target = np.asarray(controller(pusher, block), dtype=float)
        target = np.clip(target, sim.config.workspace_min, sim.config.workspace_max)
        obs.append(low_dim_observation(pusher, block))
        acts.append(target.astype(np.float32))
        sim.set_pusher_target(target)
        sim.step(substeps)
    return EpisodeResult(
        seed=seed,
        success=sim.success,
        coverage=sim.coverage(),
        sim_time_s=sim.episode_time_s,
        wall_time_s=time.perf_counter() - start,
        observations=np.array(obs).reshape(-1, 6),
        actions=np.array(acts).reshape(-1, 2),
    )


def run_expert_episode(sim: PushTSim, seed: int, max_time_s: float = 30.0) -> EpisodeResult:
    """One scripted-expert episode (route side drawn from the seed)."""
    expert = ScriptedExpert(sim.target_pose, sim.config.scene.tshape)
    expert.reset(seed)
    side = expert.side  # the initial choice; a recovery may pass the other way later
    result = run_episode(sim, expert.act, seed, max_time_s, expert.config.decision_dt_s)
    result.side = side
    return result
