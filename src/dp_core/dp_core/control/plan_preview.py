"""What the executor does with each chunk, for a person watching (RViz): pure, no ROS.

Every action of a chunk is in one of three states:

- ``EXECUTED``: its time has come while the chunk was the executor's active one and it moved;
- ``PENDING``: still ahead in the active chunk (or the chunk has just arrived);
- ``DISCARDED``: never executed: before the chunk took over (latency skip), after a newer chunk or
  a stop took over (the tail), or the whole chunk when the executor never made it active (refused,
  or a newer chunk won first).

The executor's progress comes from its status (``dp/executor_status``: active sequence, mode):
a chunk takes over at ``max(start_ns, receipt)`` when the status first names it (the executor
accepts on receipt of the same message), and hands over when a newer one takes over or the
executor stops moving. The geometry helpers turn actions into end-effector poses (Cartesian
actions, the executor's ``pose_defaults`` rule) or the chunk's end joint state (joint actions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.layout import ActionLayout

EXECUTED, PENDING, DISCARDED = 0, 1, 2
STATE_NAMES = ("executed", "pending", "discarded")
STATE_COLORS = (  # RGBA per state, for markers and plots: green, blue, faded red
    (0.1, 0.75, 0.2, 1.0),
    (0.2, 0.45, 1.0, 1.0),
    (0.85, 0.2, 0.2, 0.45),
)
UNIT_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # [x, y, z, qx, qy, qz, qw]


def executor_follows_plan(mode: str, hold_reason: str) -> bool:
    """Does the executor (still) follow its plan? Executing; settling onto an exhausted plan's end
    (every action's time has passed then); idle with "no plan" (a chunk accepted, the first tick
    not yet run). A fault stop, a hold and idle after a stop cut the plan."""
    if mode == "executing" or (mode == "stopping" and hold_reason.startswith("plan exhausted")):
        return True
    return mode == "idle" and hold_reason.startswith("no plan")


def pose_vectors(actions: np.ndarray, layout: ActionLayout, defaults: Sequence[float] = ()) -> np.ndarray:
    """Actions (H, D) in layout order → end-effector poses (H, 7) [x, y, z, qx, qy, qz, qw]; the
    components that are not actions come from ``defaults`` (7 values; empty: origin, identity)."""
    a = np.atleast_2d(np.asarray(actions, dtype=np.float64))
    if a.shape[1] != layout.dim:
        raise ValueError(f"actions have {a.shape[1]} dimensions, the layout {layout.dim}")
    if not layout.position:
        raise ValueError(f"no Cartesian position among the actions {list(layout.names)}")
    base = np.asarray(defaults if len(defaults) else UNIT_POSE, dtype=np.float64)
    if base.shape != (7,):
        raise ValueError(f"pose defaults must be 7 values [x, y, z, qx, qy, qz, qw], got {base.tolist()}")
    out = np.tile(base, (a.shape[0], 1))
    src = list(layout.position + layout.quaternion)
    dst = list(layout.position_axes + ((3, 4, 5, 6) if layout.quaternion else ()))
    out[:, dst] = a[:, src]
    return out


@dataclass(frozen=True)
class ChunkPreview:
    """One chunk as shown: its actions, their times and their states (EXECUTED/PENDING/DISCARDED)."""

    sequence: int
    times_ns: np.ndarray  # (H,) int64
    actions: np.ndarray  # (H, D) in the chunk's action order
    action_names: tuple[str, ...]
    states: np.ndarray  # (H,) int8

    def count(self, state: int) -> int:
        return int(np.count_nonzero(self.states == state))

    def runs(self) -> list[tuple[int, int, int]]:
        """Contiguous runs ``(state, first, last)`` (inclusive indices), in order."""
        out: list[tuple[int, int, int]] = []
        for i, s in enumerate(self.states.tolist()):
            if out and out[-1][0] == s:
                out[-1] = (s, out[-1][1], i)
            else:
                out.append((s, i, i))
        return out

    def joint_end_state(self, layout: ActionLayout) -> tuple[list[str], np.ndarray]:
        """Joint names and positions of the chunk's last action (what the ghost arm shows)."""
        index = [self.action_names.index(layout.names[i]) for i in layout.joints]
        return [self.action_names[i] for i in index], self.actions[-1, index].astype(np.float64)


@dataclass
class _Record:
    chunk: ActionChunkData
    receipt_ns: int
    active_from_ns: int | None = None
    active_until_ns: int | None = None
    statuses_since_receipt: int = 0
    refused: bool = False


class PlanPreview:
    """Chunks in (``add_chunk``), the executor's progress in (``set_progress``), previews out.

    Keeps the ``keep`` newest chunks (the current and the one before: its discarded tail).
    A chunk that two executor statuses after its receipt still do not name is counted as refused
    (the status after the receipt may have been published before the chunk was accepted).
    """

    def __init__(self, keep: int = 2) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.keep = int(keep)
        self._records: list[_Record] = []
        self.active_sequence = 0

    def add_chunk(self, chunk: ActionChunkData, receipt_ns: int) -> None:
        self._records = [r for r in self._records if r.chunk.sequence != chunk.sequence]  # a repeat replaces
        self._records.append(_Record(chunk, int(receipt_ns)))
        self._records = self._records[-self.keep :]

    def set_progress(self, active_sequence: int, moving: bool, now_ns: int) -> None:
        """One executor status: the chunk it follows (0: none) and whether it follows it now."""
        self.active_sequence = int(active_sequence)
        for rec in self._records:
            if rec.chunk.sequence == active_sequence and rec.active_from_ns is None and not rec.refused:
                rec.active_from_ns = max(rec.chunk.start_ns, rec.receipt_ns)
                for older in self._records:  # the one it took over from hands over at its takeover
                    if older is not rec and older.active_from_ns is not None and older.active_until_ns is None:
                        older.active_until_ns = max(older.active_from_ns, rec.active_from_ns)
            elif rec.active_from_ns is None and not rec.refused:
                rec.statuses_since_receipt += int(now_ns >= rec.receipt_ns)
                rec.refused = rec.statuses_since_receipt >= 2  # sequences restart on reactivation: no order
            began = rec.active_from_ns
            cut = rec.chunk.sequence == active_sequence and not moving and rec.active_until_ns is None
            if cut and began is not None:
                rec.active_until_ns = max(began, int(now_ns))

    def previews(self, now_ns: int) -> list[ChunkPreview]:
        """The kept chunks, oldest first, with each action's state at ``now_ns``."""
        return [self._preview(r, int(now_ns)) for r in self._records]

    def latest(self, now_ns: int) -> ChunkPreview | None:
        return self._preview(self._records[-1], int(now_ns)) if self._records else None

    @staticmethod
    def _preview(rec: _Record, now_ns: int) -> ChunkPreview:
        t = rec.chunk.times_ns()
        if rec.active_from_ns is None:
            states = np.full(t.shape, DISCARDED if rec.refused else PENDING, dtype=np.int8)
        else:
            cut = now_ns if rec.active_until_ns is None else min(now_ns, rec.active_until_ns)
            states = np.where(
                t < rec.active_from_ns,
                DISCARDED,
                np.where(t <= cut, EXECUTED, DISCARDED if rec.active_until_ns is not None else PENDING),
            ).astype(np.int8)
        return ChunkPreview(rec.chunk.sequence, t, rec.chunk.actions, rec.chunk.action_names, states)
