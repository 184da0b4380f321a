"""Which action dimensions are joints, Cartesian position, orientation quaternion or gripper.

Action names decide it: "x", "y", "z" are the end-effector position (m; "x", "y" without "z" is
a planar position, e.g. a pusher on a table, whose height the task fixes), "qx", "qy", "qz",
"qw" its orientation quaternion (scipy's scalar-last layout), names containing "gripper" or
"finger" (or those listed explicitly) are gripper dimensions, and everything else is a joint.
Interpolation, limits and the plan treat each group differently (SLERP for the quaternion,
linear only for the gripper).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

POSITION_NAMES = ("x", "y", "z")
PLANAR_NAMES = ("x", "y")
QUATERNION_NAMES = ("qx", "qy", "qz", "qw")
_GRIPPER_WORDS = ("gripper", "finger")


@dataclass(frozen=True)
class ActionLayout:
    """Index groups of one action vector (indices into ``names``)."""

    names: tuple[str, ...]
    position: tuple[int, ...]
    quaternion: tuple[int, ...]
    joints: tuple[int, ...]
    grippers: tuple[int, ...]

    @classmethod
    def from_names(cls, names: Sequence[str], gripper_names: Sequence[str] | None = None) -> ActionLayout:
        """Classify names; a partial pose (e.g. x without y, or qx..qz without qw) is a ValueError.

        The position is x, y, z or the planar x, y (z fixed by the task)."""
        names = tuple(names)
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"action names must be non-empty and unique, got {list(names)}")
        if gripper_names is not None:
            unknown = set(gripper_names) - set(names)
            if unknown:
                raise ValueError(f"gripper names {sorted(unknown)} are not action names {list(names)}")
        planar = "z" not in names and all(n in names for n in PLANAR_NAMES)
        position = _group(names, PLANAR_NAMES if planar else POSITION_NAMES, "position")
        quaternion = _group(names, QUATERNION_NAMES, "orientation quaternion")
        pose = set(position) | set(quaternion)
        grippers: list[int] = []
        joints: list[int] = []
        for i, name in enumerate(names):
            if i in pose:
                continue
            is_gripper = (
                name in gripper_names
                if gripper_names is not None
                else any(word in name.lower() for word in _GRIPPER_WORDS)
            )
            (grippers if is_gripper else joints).append(i)
        return cls(names, position, quaternion, tuple(joints), tuple(grippers))

    @property
    def is_cartesian(self) -> bool:
        return bool(self.position or self.quaternion)

    @property
    def is_planar(self) -> bool:
        """Position x, y only (no z)."""
        return len(self.position) == len(PLANAR_NAMES)

    @property
    def position_axes(self) -> tuple[int, ...]:
        """Axes (0 = x, 1 = y, 2 = z) of the ``position`` indices, e.g. into an [x, y, z] box."""
        return tuple(range(len(self.position)))

    @property
    def dim(self) -> int:
        return len(self.names)

    def names_of(self, indices: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.names[i] for i in indices)


def _group(names: tuple[str, ...], wanted: tuple[str, ...], what: str) -> tuple[int, ...]:
    present = [w for w in wanted if w in names]
    if present and len(present) != len(wanted):
        missing = [w for w in wanted if w not in names]
        raise ValueError(f"action names contain part of the {what} {list(wanted)}: missing {missing}")
    return tuple(names.index(w) for w in present)
