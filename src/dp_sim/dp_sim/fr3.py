"""Franka FR3 kinematic and limit constants, from Franka's published robot parameters.

Joint origins (parent link frame → child joint frame, xyz in m and roll about x in rad) follow the
FR3 URDF in ``franka_description`` (equivalently the modified-DH table in Franka's "Robot and
interface specifications"): every joint rotates about its local z axis. Limits are the FR3
datasheet's joint position and velocity limits and the joint torque limits.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = tuple(f"fr3_joint{i}" for i in range(1, 8))

# (xyz, roll) of each joint frame in its parent link frame; pitch and yaw are zero for all joints.
JOINT_ORIGINS: tuple[tuple[tuple[float, float, float], float], ...] = (
    ((0.0, 0.0, 0.333), 0.0),
    ((0.0, 0.0, 0.0), -np.pi / 2),
    ((0.0, -0.316, 0.0), np.pi / 2),
    ((0.0825, 0.0, 0.0), np.pi / 2),
    ((-0.0825, 0.384, 0.0), -np.pi / 2),
    ((0.0, 0.0, 0.0), np.pi / 2),
    ((0.088, 0.0, 0.0), np.pi / 2),
)
FLANGE_OFFSET_M = 0.107  # link7 → flange along link7 z

Q_MIN = np.array([-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159])
Q_MAX = np.array([2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159])
DQ_MAX = np.array([2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26])  # rad/s
TAU_MAX = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])  # N m

# Approximate link masses (kg) so that the servos see realistic inertia; gravity is compensated.
LINK_MASSES = (4.97, 0.65, 3.23, 3.59, 1.23, 1.67, 0.74)

# Franka's usual "ready" configuration (flange pointing down, high above the table); the sim's
# ready pose is derived from it by IK to the pusher's working height.
FRANKA_READY_Q = np.array([0.0, -np.pi / 4, 0.0, -3 * np.pi / 4, 0.0, np.pi / 2, np.pi / 4])


def within_limits(q: np.ndarray, margin: float = 0.0) -> bool:
    """True when all 7 joint positions are finite and inside the FR3 limits (shrunk by margin)."""
    q = np.asarray(q, dtype=float)
    return bool(
        q.shape == (7,) and np.all(np.isfinite(q)) and np.all(q >= Q_MIN + margin) and np.all(q <= Q_MAX - margin)
    )
