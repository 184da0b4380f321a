"""Damped-least-squares inverse kinematics of the pusher tip on the MuJoCo Jacobian.

Solves for 7 joint positions that put the pusher tip site at a 3D position with a fixed
orientation (pointing down, fixed yaw), clamping to the FR3 joint limits every iteration. The
redundant degree of freedom is pulled towards a rest posture in the Jacobian's null space so
that repeated solves from nearby starts give nearby answers (no elbow drift over an episode).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import mujoco
import numpy as np

from dp_sim import fr3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IkConfig:
    """Solver settings."""

    max_iterations: int = 100
    damping: float = 0.02  # DLS lambda (m / rad): larger is more robust near singularities, slower
    position_tolerance_m: float = 5e-4
    orientation_tolerance_rad: float = 2e-3
    nullspace_gain: float = 0.1
    max_step_rad: float = 0.2  # per iteration, keeps the linearisation valid
    limit_margin_rad: float = 0.01

    def __post_init__(self) -> None:
        if self.max_iterations < 1:
            raise ValueError(f"max_iterations must be >= 1, got {self.max_iterations}")
        for name in ("damping", "position_tolerance_m", "orientation_tolerance_rad", "max_step_rad"):
            if not getattr(self, name) > 0:
                raise ValueError(f"IkConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.nullspace_gain < 0 or self.limit_margin_rad < 0:
            raise ValueError(
                f"nullspace_gain and limit_margin_rad must be >= 0, got {self.nullspace_gain}, {self.limit_margin_rad}"
            )


@dataclass(frozen=True)
class IkResult:
    q: np.ndarray
    position_error_m: float
    orientation_error_rad: float
    iterations: int
    converged: bool


def orientation_error(current: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame) that turns ``current`` into ``target`` (3x3 matrices)."""
    quat_c, quat_t, err = np.zeros(4), np.zeros(4), np.zeros(3)
    mujoco.mju_mat2Quat(quat_c, current.reshape(-1))
    mujoco.mju_mat2Quat(quat_t, target.reshape(-1))
    # mju_subQuat gives the rotation in the frame of quat_c; map it to world.
    mujoco.mju_subQuat(err, quat_t, quat_c)
    return current.reshape(3, 3) @ err


class PusherIk:
    """IK for the pusher tip of a model built by :func:`dp_sim.scene.build_mjcf`."""

    def __init__(self, model: mujoco.MjModel, rest_q: np.ndarray, config: IkConfig | None = None) -> None:
        self.model = model
        self.config = config or IkConfig()
        self.data = mujoco.MjData(model)  # private scratch data: never disturbs the physics
        self.site_id = model.site("pusher_tip").id
        self.qpos_ids = np.array([model.joint(n).qposadr[0] for n in fr3.JOINT_NAMES])
        self.dof_ids = np.array([model.joint(n).dofadr[0] for n in fr3.JOINT_NAMES])
        self.rest_q = np.asarray(rest_q, dtype=float).copy()
        self._lo = fr3.Q_MIN + self.config.limit_margin_rad
        self._hi = fr3.Q_MAX - self.config.limit_margin_rad
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tip position (3,) and orientation (3, 3) at joint positions q."""
        self.data.qpos[self.qpos_ids] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site_id].copy(), self.data.site_xmat[self.site_id].reshape(3, 3).copy()

    def solve(self, position: np.ndarray, rotation: np.ndarray, q_start: np.ndarray) -> IkResult:
        """Joint positions reaching (position, rotation), starting from q_start."""
        cfg = self.config
        q = np.clip(np.asarray(q_start, dtype=float), self._lo, self._hi)
        target_p = np.asarray(position, dtype=float)
        err_p, err_r = np.full(3, np.inf), np.full(3, np.inf)
        for it in range(1, cfg.max_iterations + 1):
            p, r = self.forward(q)
            err_p, err_r = target_p - p, orientation_error(r, rotation)
            if (
                np.linalg.norm(err_p) < cfg.position_tolerance_m
                and np.linalg.norm(err_r) < cfg.orientation_tolerance_rad
            ):
                return IkResult(q, float(np.linalg.norm(err_p)), float(np.linalg.norm(err_r)), it - 1, True)
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
            jac = np.vstack([self._jacp[:, self.dof_ids], self._jacr[:, self.dof_ids]])
            err = np.concatenate([err_p, err_r])
            jjt = jac @ jac.T + cfg.damping**2 * np.eye(6)
            dq = jac.T @ np.linalg.solve(jjt, err)
            # Null-space pull towards the rest posture; the undamped pseudo-inverse keeps the
            # projector exact, so the pull never biases the task-space solution.
            dq += (np.eye(7) - np.linalg.pinv(jac) @ jac) @ (cfg.nullspace_gain * (self.rest_q - q))
            scale = np.max(np.abs(dq)) / cfg.max_step_rad
            if scale > 1:
                dq /= scale
            q = np.clip(q + dq, self._lo, self._hi)
        p, r = self.forward(q)
        err_p, err_r = target_p - p, orientation_error(r, rotation)
        converged = bool(
            np.linalg.norm(err_p) < cfg.position_tolerance_m and np.linalg.norm(err_r) < cfg.orientation_tolerance_rad
        )
        return IkResult(q, float(np.linalg.norm(err_p)), float(np.linalg.norm(err_r)), cfg.max_iterations, converged)
