"""``ChunkScheduleConfig``: how the chunk schedule runs chunks (rate, interpolation, blending,
ensembling, timing windows, limits), validated once; read by ``ChunkSchedule`` and ``ChunkExecutor``.
Times in seconds, rates in Hz; see ``chunk_schedule`` for what each setting does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from dp_core.control.interpolation import InterpolationConfig
from dp_core.control.layout import ActionLayout
from dp_core.control.limits import CartesianLimits, JointLimits, LimitSet


@dataclass(frozen=True)
class ChunkScheduleConfig:
    """How chunks are scheduled and checked (see ``chunk_schedule``). Times in seconds, rates in Hz."""

    action_names: tuple[str, ...]
    control_rate_hz: float = 250.0
    interpolation: Literal["linear", "cubic"] = "linear"
    cubic_bc: Literal["natural", "clamped"] = "natural"
    blend_s: float = 0.1
    ensemble: bool = False
    ensemble_decay: float = 0.01
    max_future_s: float = 0.5
    max_past_s: float = 1.0
    limit_mode: Literal["clip", "reject"] = "clip"
    joint_limits: JointLimits | None = None
    cartesian_limits: CartesianLimits | None = None
    max_step_from_measured: float | None = None
    execute_to: Literal["horizon", "execute_steps"] = "horizon"
    gripper_names: tuple[str, ...] | None = None
    max_chunk_duration_s: float = 30.0
    max_chunk_actions: int = 2048  # horizon above this is refused (bounded validation work)

    def __post_init__(self) -> None:
        object.__setattr__(self, "action_names", tuple(self.action_names))
        if not (np.isfinite(self.control_rate_hz) and self.control_rate_hz > 0):
            raise ValueError(f"control_rate_hz must be a finite number > 0, got {self.control_rate_hz}")
        if not (isinstance(self.max_chunk_actions, int) and self.max_chunk_actions >= 1):
            raise ValueError(f"max_chunk_actions must be an integer >= 1, got {self.max_chunk_actions}")
        if not (np.isfinite(self.max_chunk_duration_s) and self.max_chunk_duration_s > 0):
            raise ValueError(f"max_chunk_duration_s must be a finite number > 0, got {self.max_chunk_duration_s}")
        for attr in ("blend_s", "ensemble_decay", "max_future_s", "max_past_s"):
            value = getattr(self, attr)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{attr} must be a finite number >= 0, got {value}")
        if self.limit_mode not in ("clip", "reject"):
            raise ValueError(f"limit_mode must be 'clip' or 'reject', got {self.limit_mode!r}")
        if self.execute_to not in ("horizon", "execute_steps"):
            raise ValueError(f"execute_to must be 'horizon' or 'execute_steps', got {self.execute_to!r}")
        InterpolationConfig(self.interpolation, self.cubic_bc)
        _ = self.limit_set  # validates names against the limits

    @property
    def period_s(self) -> float:
        return 1.0 / self.control_rate_hz

    @property
    def layout(self) -> ActionLayout:
        return ActionLayout.from_names(self.action_names, self.gripper_names)

    @property
    def limit_set(self) -> LimitSet:
        return LimitSet(self.layout, self.joint_limits, self.cartesian_limits, self.max_step_from_measured)
