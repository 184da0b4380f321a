"""The paper's Push-T test environment: gym-pusht 0.1.8 started and observed as the original evaluates.

Start states (``start_state``): the original PushTEnv.reset with a seed draws, from
``np.random.RandomState(seed)``: agent x, y = randint(50, 450) twice, block x, y =
randint(100, 400) twice, angle = randn * 2 pi - pi; the test seeds are 100000, 100001, ...
(diffusion_policy/env/pusht/pusht_env.py, env_runner/pusht_keypoints_runner.py). gym-pusht's
``reset_to_state`` then sets them in the legacy order (block position, then angle), as the
original's legacy test environments do, and steps the physics once.

Observations (``PushTObserver``), by policy key:
- ``keypoint`` (18,): the block's 9 keypoints (x, y) in px, the original PushTKeypointsEnv's
  (local keypoints below, rotated by the block angle and moved to the block position);
- ``agent_pos`` (2,): the pusher position, px;
- ``obs`` (20,): both concatenated (an original low-dim policy's single key);
- one rgb key (3, H, W): gym-pusht's pixels rendered at H x W (the original's 96 x 96 image;
  with pygame 2.5.2 a stored demonstration state renders bit-equal to its stored image in 16 of 17
  sampled frames, one pixel off in the other: test_eval_pusht.py).

The local keypoints are not stored by the original code (it generates them when the environment
is built); these are recovered from the Push-T demonstrations: the median over all 25,650 steps
of R(-angle) (keypoint - block position), whose per-step deviation is 1.5e-5 px (median) and
8e-3 px (90th percentile; float32 rounding of the stored data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from dp_core.spec import PolicySpec

LOCAL_KEYPOINTS = np.array(
    [
        [9.26979, 90.04097],
        [-60.98347, -1.18673],
        [60.91276, -1.39336],
        [-0.27050, 25.54363],
        [-14.06493, 122.81585],
        [39.00274, 32.85740],
        [-39.96641, 32.72966],
        [-16.82434, 62.86318],
        [23.54146, -1.70029],
    ]
)
LOW_DIM_KEYS = {"keypoint": 18, "agent_pos": 2, "obs": 20}
TEST_START_SEED = 100000
SUCCESS_COVERAGE = 0.95


def start_state(seed: int) -> np.ndarray:
    """[agent x, agent y, block x, block y, block angle] as the original PushTEnv.reset draws it."""
    rs = np.random.RandomState(seed=seed)
    return np.array(
        [
            rs.randint(50, 450),
            rs.randint(50, 450),
            rs.randint(100, 400),
            rs.randint(100, 400),
            rs.randn() * 2 * np.pi - np.pi,
        ],
        dtype=np.float64,
    )


def block_keypoints(position: Any, angle: float) -> np.ndarray:
    """(9, 2) keypoints in px of a block at ``position`` (x, y) rotated by ``angle`` (rad)."""
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    return LOCAL_KEYPOINTS @ rotation.T + np.asarray(position, dtype=np.float64)


@dataclass(frozen=True)
class PushTObserver:
    """Which policy keys to fill from the environment, checked against the policy spec."""

    low_dim: tuple[str, ...]
    image_key: str | None
    image_hw: tuple[int, int] | None

    @classmethod
    def for_spec(cls, spec: PolicySpec) -> PushTObserver:
        if spec.action_dim != 2:
            raise ValueError(f"Push-T actions are the pusher target (x, y): need action_dim 2, got {spec.action_dim}")
        low_dim = []
        for key in spec.low_dim_keys:
            if LOW_DIM_KEYS.get(key.name) != key.shape[0]:
                raise ValueError(
                    f"Push-T cannot provide low-dim key '{key.name}' {key.shape}; supported: "
                    + ", ".join(f"{k} ({n},)" for k, n in LOW_DIM_KEYS.items())
                )
            low_dim.append(key.name)
        rgb = spec.rgb_keys
        if len(rgb) > 1:
            raise ValueError(f"Push-T has one camera; the policy wants {[k.name for k in rgb]}")
        return cls(
            tuple(low_dim), rgb[0].name if rgb else None, (int(rgb[0].shape[1]), int(rgb[0].shape[2])) if rgb else None
        )

    def observe(self, env: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(low_dim {key: (D,) float32}, images {key: (H, W, 3) uint8}) of the current state."""
        inner = env.unwrapped
        keypoints = block_keypoints(inner.block.position, inner.block.angle).reshape(-1)
        agent = np.array(inner.agent.position, dtype=np.float64)
        values = {"keypoint": keypoints, "agent_pos": agent, "obs": np.concatenate([keypoints, agent])}
        low_dim = {k: values[k].astype(np.float32) for k in self.low_dim}
        images = {self.image_key: inner._render(visualize=False)} if self.image_key else {}
        return low_dim, images


def make_env(observer: PushTObserver, render_size: int = 256) -> Any:
    """A gym-pusht PushTEnv rendering observations at the policy's image size (96 x 96 by default)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        from gym_pusht.envs.pusht import PushTEnv
    except ImportError as error:
        raise RuntimeError(
            f"dp-eval pusht needs gym-pusht 0.1.8, pymunk < 7 and pygame 2.5.2 ({error}); "
            "see requirements/python.txt and requirements/no-deps.txt"
        ) from error
    height, width = observer.image_hw or (96, 96)
    return PushTEnv(
        obs_type="state",
        render_mode="rgb_array",
        observation_width=width,
        observation_height=height,
        visualization_width=render_size,
        visualization_height=render_size,
    )
