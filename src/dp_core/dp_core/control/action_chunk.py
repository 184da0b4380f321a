"""A validated, ROS-free action chunk: the payload of dp_msgs/ActionChunk as numpy.

One chunk type from the model to the robot: ``Policy.predict`` returns it, the policy node
publishes it, the executor consumes it. Why here and not in a node: the executor, the policy, the
evaluation and tests all need the same validation, and it must be testable without ROS. Every
field is validated once, when the chunk is built (``__post_init__``); the node-side conversion
only copies fields.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dp_core.time_units import NS_PER_S


class ChunkValidationError(ValueError):
    """An action chunk is malformed; the message names the offending field."""


@dataclass(frozen=True)
class ActionChunkData:
    """Actions ``actions[i]`` to execute at ``start_ns + i * dt_s`` (ns, one clock).

    Attributes:
        stamp_ns: time of the newest observation the chunk was computed from.
        start_ns: time at which action 0 is meant to execute.
        dt_s: seconds between actions, > 0.
        action_names: one unique name per action dimension.
        actions: float32 array, shape (horizon, action_dim), all finite.
        execute_steps: actions the policy intends to execute before replanning, 1..horizon.
        sequence: increasing number per policy activation.
        policy_id: identifies the checkpoint.
        frame_id: frame of Cartesian components ("" for joint actions).
        inference_ms: wall time of the prediction (0 when unknown; not part of the message).
    """

    stamp_ns: int
    start_ns: int
    dt_s: float
    action_names: tuple[str, ...]
    actions: np.ndarray
    execute_steps: int
    sequence: int = 0
    policy_id: str = ""
    frame_id: str = ""
    inference_ms: float = 0.0

    def __post_init__(self) -> None:
        actions = np.asarray(self.actions, dtype=np.float32)
        if actions.ndim != 2:
            raise ChunkValidationError(f"actions must be 2-D (horizon, action_dim), got shape {actions.shape}")
        object.__setattr__(self, "actions", actions)
        object.__setattr__(self, "action_names", tuple(self.action_names))
        validate_chunk_fields(
            horizon=actions.shape[0],
            action_dim=actions.shape[1],
            action_names=self.action_names,
            data_len=actions.size,
            dt_s=self.dt_s,
            execute_steps=self.execute_steps,
        )
        if not np.isfinite(actions).all():
            bad = np.argwhere(~np.isfinite(actions))[0]
            raise ChunkValidationError(
                f"actions contain non-finite values (first at step {bad[0]}, "
                f"dimension '{self.action_names[bad[1]]}': {actions[bad[0], bad[1]]})"
            )
        actions.setflags(write=False)

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    @property
    def aligned_index(self) -> int:
        """Index of the action aligned with the newest observation (``stamp_ns``)."""
        return round((self.stamp_ns - self.start_ns) / (self.dt_s * NS_PER_S))

    def shifted(self, executed_steps: int) -> np.ndarray:
        """The actions advanced by ``executed_steps`` (the tail repeats the last action): a warm start."""
        if executed_steps < 0:
            raise ValueError(f"executed_steps must be >= 0, got {executed_steps}")
        index = np.minimum(np.arange(self.horizon) + executed_steps, self.horizon - 1)
        return self.actions[index]

    @property
    def end_ns(self) -> int:
        """Time of the last action."""
        return self.start_ns + round((self.horizon - 1) * self.dt_s * NS_PER_S)

    def times_ns(self) -> np.ndarray:
        """Execution time of every action, shape (horizon,), int64 ns."""
        return self.start_ns + np.round(np.arange(self.horizon) * self.dt_s * NS_PER_S).astype(np.int64)


def validate_chunk_fields(
    *,
    horizon: int,
    action_dim: int,
    action_names: Sequence[str],
    data_len: int,
    dt_s: float,
    execute_steps: int,
) -> None:
    """Check the scalar fields of a chunk for consistency; raise ChunkValidationError."""
    if horizon < 1:
        raise ChunkValidationError(f"horizon must be >= 1, got {horizon}")
    if action_dim < 1:
        raise ChunkValidationError(f"action_dim must be >= 1, got {action_dim}")
    if len(action_names) != action_dim:
        raise ChunkValidationError(f"action_dim is {action_dim} but {len(action_names)} action_names were given")
    if any(not name for name in action_names):
        raise ChunkValidationError("action_names must not contain empty names")
    if len(set(action_names)) != len(action_names):
        dupes = sorted({n for n in action_names if list(action_names).count(n) > 1})
        raise ChunkValidationError(f"duplicate action_names: {dupes}")
    if data_len != horizon * action_dim:
        raise ChunkValidationError(
            f"data has {data_len} values but horizon x action_dim = {horizon} x {action_dim} = {horizon * action_dim}"
        )
    if not (isinstance(dt_s, (int, float)) and math.isfinite(dt_s) and dt_s > 0):
        raise ChunkValidationError(f"dt must be a finite number of seconds > 0, got {dt_s}")
    if not 1 <= execute_steps <= horizon:
        raise ChunkValidationError(f"execute_steps must be in [1, horizon={horizon}], got {execute_steps}")


def chunk_from_flat(
    *,
    stamp_ns: int,
    start_ns: int,
    dt_s: float,
    action_names: Sequence[str],
    horizon: int,
    action_dim: int,
    data: Sequence[float] | np.ndarray,
    execute_steps: int,
    sequence: int = 0,
    policy_id: str = "",
    frame_id: str = "",
) -> ActionChunkData:
    """Build a chunk from the flat row-major layout of the message (validated once, by the chunk)."""
    flat = np.asarray(data, dtype=np.float32).reshape(-1)
    if horizon < 1 or action_dim < 1 or flat.size != horizon * action_dim:  # cannot reshape: say why
        validate_chunk_fields(
            horizon=horizon,
            action_dim=action_dim,
            action_names=action_names,
            data_len=flat.size,
            dt_s=dt_s,
            execute_steps=execute_steps,
        )
    return ActionChunkData(
        stamp_ns=int(stamp_ns),
        start_ns=int(start_ns),
        dt_s=float(dt_s),
        action_names=tuple(action_names),
        actions=flat.reshape(horizon, action_dim),
        execute_steps=int(execute_steps),
        sequence=int(sequence),
        policy_id=policy_id,
        frame_id=frame_id,
    )
