"""The numpy observation window: T aligned frames, the core twin of dp_msgs/ObservationWindow.

Built by ``alignment.build_window`` (live) and ``evaluation.replay_eval`` (recorded rows), decoded
from the message by the policy node, consumed by ``Policy.predict`` (via ``window_input``). Named
``...Data`` like ``control.action_chunk.ActionChunkData``, the core twin of dp_msgs/ActionChunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ObservationWindowData:
    """T aligned frames, oldest first (see dp_core.spec for the layout conventions).

    Attributes:
        stamps_ns: target times, (T,) int64, oldest first.
        low_dim: key -> (T, D) float32.
        images: key -> (T, H, W, 3) uint8 RGB.
        sample_stamps_ns: key -> (T,) int64 stamps of the samples chosen for each target.
    """

    stamps_ns: np.ndarray
    low_dim: dict[str, np.ndarray]
    images: dict[str, np.ndarray]
    sample_stamps_ns: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        stamps = np.asarray(self.stamps_ns, dtype=np.int64)
        object.__setattr__(self, "stamps_ns", stamps)
        n = stamps.shape[0] if stamps.ndim == 1 else -1
        if n < 1:
            raise ValueError(f"stamps_ns must be a non-empty 1-D array, got shape {stamps.shape}")
        for key, arr in self.low_dim.items():
            if arr.ndim != 2 or arr.shape[0] != n or arr.dtype != np.float32:
                raise ValueError(f"low_dim '{key}' must be ({n}, D) float32, got {arr.shape} {arr.dtype}")
        for key, arr in self.images.items():
            if arr.ndim != 4 or arr.shape[0] != n or arr.shape[3] != 3 or arr.dtype != np.uint8:
                raise ValueError(f"image '{key}' must be ({n}, H, W, 3) uint8, got {arr.shape} {arr.dtype}")

    @property
    def n_obs_steps(self) -> int:
        return int(self.stamps_ns.shape[0])
