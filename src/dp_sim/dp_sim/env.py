"""The Push-T simulation core (no ROS): physics stepping, commands, task state, cameras.

Commands follow the real robot's controllers: a joint position goal (streaming controller or an
IK solution for a Cartesian pusher target) is approached through a first-order filter, like an
impedance controller settling on its target; a joint trajectory is tracked exactly. Either way the
servo reference never moves faster than the FR3 joint velocity limits.

Reflexes (:mod:`dp_sim.reflexes`): every physics step is one cycle of the robot's command
interface; the command of each cycle is judged like libfranka judges it. A reflex aborts the
motion (the arm holds where it is), and commands are refused until :meth:`PushTSim.recover`.
With ``strict_interface`` (the FR3 twin) nothing smooths or clips the commands first: a streamed
position is held until the next one (as the forward position controller does), a Cartesian goal
is tracked by a critically damped second-order law (like a Cartesian controller's virtual
dynamics), and trajectories are followed exactly. The default (``strict_interface=False``)
keeps the forgiving filter for position and Cartesian goals, so only trajectories are judged.

Time: ``time_ns`` is the simulation clock (the ROS sim time the node publishes); it runs on
across resets so that stamps stay monotonic. ``episode_time_s`` restarts at every reset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import mujoco
import numpy as np

from dp_core.time_units import NS_PER_S
from dp_sim import fr3
from dp_sim.ik import IkConfig, PusherIk
from dp_sim.joint_trajectory import ActiveTrajectory, TrajectoryPoints, TrajectoryRejected
from dp_sim.reflexes import Reflex, ReflexLimits, ReflexMonitor
from dp_sim.rendering import CameraRenderer
from dp_sim.scene import SceneConfig, build_mjcf
from dp_sim.tshape import CoverageMeter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushTSimConfig:
    """Task and controller settings. Block start = target + offset drawn uniformly per seed."""

    scene: SceneConfig = field(default_factory=SceneConfig)
    ik: IkConfig = field(default_factory=IkConfig)
    tip_height_m: float = 0.015  # pusher tip above the table: mid-height of the block
    ready_xy: tuple[float, float] = (0.35, 0.0)  # pusher position of the ready pose
    block_dx_range: tuple[float, float] = (0.10, 0.16)  # block start x - target x, m
    block_dy_range: tuple[float, float] = (-0.05, 0.05)  # block start y - target y, m
    block_yaw_range: tuple[float, float] = (-0.4, 0.4)  # block start yaw - target yaw, rad
    workspace_min: tuple[float, float] = (0.25, -0.30)  # accepted pusher targets, m
    workspace_max: tuple[float, float] = (0.75, 0.30)
    success_coverage: float = 0.90  # the paper uses 0.95 with a kinematic pusher; see README
    command_filter_tau_s: float = 0.05  # position-goal smoothing (impedance-like); 0 = none
    max_ik_error_m: float = 0.005  # Cartesian targets with a worse IK solution are rejected
    strict_interface: bool = False  # FR3 twin: no smoothing/clipping; the reflexes judge raw commands
    reflexes: bool = True  # judge commands like libfranka (dp_sim.reflexes)
    reflex_limits: ReflexLimits = field(default_factory=ReflexLimits)
    cartesian_omega: float = 15.0  # rad/s, strict Cartesian tracking bandwidth (critically damped)
    ready_duration_s: float = 3.0  # strict: move_to_ready is a smooth trajectory of at least this long

    def __post_init__(self) -> None:
        for name in ("block_dx_range", "block_dy_range", "block_yaw_range"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"{name} must be (low, high) with low <= high, got {(lo, hi)}")
        if not all(lo < hi for lo, hi in zip(self.workspace_min, self.workspace_max)):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}")
        if not 0 < self.success_coverage <= 1:
            raise ValueError(f"success_coverage must be in (0, 1], got {self.success_coverage}")
        if not 0 < self.tip_height_m < 0.2:
            raise ValueError(f"tip_height_m must be in (0, 0.2) m, got {self.tip_height_m}")
        if not self.cartesian_omega > 0 or not self.ready_duration_s > 0:
            raise ValueError(
                f"cartesian_omega and ready_duration_s must be > 0, got {self.cartesian_omega}, {self.ready_duration_s}"
            )
        if self.command_filter_tau_s < 0 or not self.max_ik_error_m > 0:
            raise ValueError(
                f"command_filter_tau_s >= 0 and max_ik_error_m > 0 required, got "
                f"{self.command_filter_tau_s}, {self.max_ik_error_m}"
            )

    def in_workspace(self, xy: np.ndarray) -> bool:
        return bool(np.all(xy >= self.workspace_min) and np.all(xy <= self.workspace_max))


class ReflexActive(TrajectoryRejected):
    """A command arrived while a reflex holds the arm (the robot refuses it until recovery)."""


class PushTSim:
    """MuJoCo Push-T with an FR3-like arm; see the module docstring for command semantics."""

    def __init__(self, config: PushTSimConfig | None = None) -> None:
        self.config = cfg = config or PushTSimConfig()
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(cfg.scene))
        self.data = mujoco.MjData(self.model)
        self.dt_s = float(self.model.opt.timestep)
        self._dt_ns = int(round(self.dt_s * NS_PER_S))
        self._qpos_ids = np.array([self.model.joint(n).qposadr[0] for n in fr3.JOINT_NAMES])
        self._dof_ids = np.array([self.model.joint(n).dofadr[0] for n in fr3.JOINT_NAMES])
        self._block_qpos = self.model.joint("tblock").qposadr[0]
        self._block_dof = self.model.joint("tblock").dofadr[0]
        self._tip = self.model.site("pusher_tip").id
        self.target_pose = np.array(cfg.scene.target_pose, dtype=float)
        self._coverage_meter = CoverageMeter(cfg.scene.tshape, self.target_pose)
        self.ik = PusherIk(self.model, fr3.FRANKA_READY_Q, cfg.ik)
        _, self.tip_rotation = self.ik.forward(fr3.FRANKA_READY_Q)
        ready = self.ik.solve(self._tip_target(np.array(cfg.ready_xy)), self.tip_rotation, fr3.FRANKA_READY_Q)
        if ready.position_error_m > cfg.max_ik_error_m:
            raise ValueError(f"ready_xy {cfg.ready_xy} is not reachable at tip height {cfg.tip_height_m} m")
        self.ready_q = ready.q
        self.ik.rest_q = ready.q.copy()
        self._renderer: CameraRenderer | None = None
        self.time_ns = 0
        self.seed = 0
        self._alpha = 1.0 if cfg.command_filter_tau_s == 0 else 1 - np.exp(-self.dt_s / cfg.command_filter_tau_s)
        self.monitor = ReflexMonitor(cfg.reflex_limits, self.dt_s)
        self.reset(0)

    # ---- episode -------------------------------------------------------------------------
    def sample_block_pose(self, seed: int) -> np.ndarray:
        """Initial block pose (x, y, yaw) for a seed."""
        rng = np.random.default_rng(seed)
        c = self.config
        offset = np.array(
            [rng.uniform(*c.block_dx_range), rng.uniform(*c.block_dy_range), rng.uniform(*c.block_yaw_range)]
        )
        return self.target_pose + offset

    def reset(self, seed: int) -> None:
        """New episode: block at its seeded start pose, arm at rest in the ready pose."""
        self.seed = int(seed)
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self._qpos_ids] = self.ready_q
        self._set_block_pose(self.sample_block_pose(seed))
        self._cmd_q = self.ready_q.copy()
        self._cmd_v = np.zeros(7)
        self._goal_q = self.ready_q.copy()
        self._cartesian = False  # the goal came from a Cartesian target
        self._trajectory: ActiveTrajectory | None = None
        self.monitor.recover(self.ready_q)  # a new episode starts like after an error recovery
        self._apply_ctrl(np.zeros(7))
        mujoco.mj_forward(self.model, self.data)
        self.episode_start_ns = self.time_ns
        self._success = False
        self._coverage_ns = -1  # coverage is computed lazily, once per sim time it is asked at

    def _set_block_pose(self, pose: np.ndarray) -> None:
        a = self._block_qpos
        self.data.qpos[a : a + 3] = (pose[0], pose[1], self.config.scene.tshape.height / 2 + 1e-4)
        self.data.qpos[a + 3 : a + 7] = (np.cos(pose[2] / 2), 0.0, 0.0, np.sin(pose[2] / 2))
        self.data.qvel[self._block_dof : self._block_dof + 6] = 0.0

    # ---- stepping ------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance the physics n time steps (each one interface cycle)."""
        for _ in range(int(n)):
            t_next = self.time_ns + self._dt_ns
            new_cmd, vel = self._next_command(t_next)
            reflex = self.monitor.reflex
            if reflex is None and self.config.reflexes:
                reflex = self._judge(t_next, new_cmd, vel)
                if reflex is not None:
                    self._abort(reflex)
            if reflex is not None:  # aborted: hold where the arm is
                new_cmd, vel = self._cmd_q, np.zeros(7)
            self._cmd_v = (new_cmd - self._cmd_q) / self.dt_s
            self._cmd_q = new_cmd
            self._apply_ctrl(vel)
            mujoco.mj_step(self.model, self.data)
            self.time_ns += self._dt_ns

    def _next_command(self, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocity feed-forward) the controller commands for this cycle."""
        strict, dt = self.config.strict_interface, self.dt_s
        max_dq = fr3.DQ_MAX * dt
        if self._trajectory is not None:
            goal, vel = self._trajectory.sample(t_ns)
            if strict:
                return goal, vel
            return self._cmd_q + np.clip(goal - self._cmd_q, -max_dq, max_dq), np.clip(vel, -fr3.DQ_MAX, fr3.DQ_MAX)
        if strict and self._cartesian:
            w = self.config.cartesian_omega
            acc = w * w * (self._goal_q - self._cmd_q) - 2 * w * self._cmd_v
            vel = self._cmd_v + acc * dt
            return self._cmd_q + vel * dt, vel
        if strict:  # the forward position controller writes the newest command every cycle
            return self._goal_q.copy(), (self._goal_q - self._cmd_q) / dt
        step = np.clip(self._alpha * (self._goal_q - self._cmd_q), -max_dq, max_dq)
        return self._cmd_q + step, step / dt

    def _judge(self, t_ns: int, cmd: np.ndarray, vel: np.ndarray) -> Reflex | None:
        if self._trajectory is not None:
            goal, goal_vel = self._trajectory.sample(t_ns)
            return self.monitor.check_effort(t_ns, goal, goal_vel)
        if self.config.strict_interface:
            return self.monitor.check_position(t_ns, cmd)
        self.monitor.reset(cmd, vel)  # the forgiving filter's own smoothing is not judged
        return None

    def _abort(self, reflex: Reflex) -> None:
        log.error(reflex.describe())
        q = self.joint_positions()
        self._trajectory = None
        self._cmd_q, self._goal_q, self._cmd_v = q.copy(), q.copy(), np.zeros(7)

    @property
    def reflex(self) -> Reflex | None:
        """The reflex that aborted the motion, until :meth:`recover`; None while commands are taken."""
        return self.monitor.reflex

    @property
    def reflex_count(self) -> int:
        return self.monitor.count

    def recover(self) -> bool:
        """Error recovery (franka's ``error_recovery``): hold here and take commands again.
        Returns whether there was a reflex to recover from."""
        had = self.monitor.reflex is not None
        q = self.joint_positions()
        self._trajectory, self._cartesian = None, False
        self._cmd_q, self._goal_q, self._cmd_v = q.copy(), q.copy(), np.zeros(7)
        self.monitor.recover(q)
        return had

    def _refuse_during_reflex(self) -> None:
        if self.monitor.reflex is not None:
            raise ReflexActive(f"{self.monitor.reflex.describe()}; recover first (error_recovery)")

    def _apply_ctrl(self, vel: np.ndarray) -> None:
        self.data.ctrl[:7] = self._cmd_q
        self.data.ctrl[7:14] = vel

    # ---- commands ------------------------------------------------------------------------
    def set_joint_targets(self, q: np.ndarray) -> None:
        """Streaming joint position goal (7,), replacing any trajectory. Raises ValueError if invalid."""
        q = np.asarray(q, dtype=float)
        if q.shape != (7,):
            raise ValueError(f"need 7 joint positions, got shape {q.shape}")
        if not fr3.within_limits(q):
            raise ValueError(f"joint targets {np.round(q, 4).tolist()} are NaN or outside the FR3 limits")
        self._refuse_during_reflex()
        self._trajectory, self._cartesian = None, False
        self._goal_q = q.copy()

    def set_joint_trajectory(self, points: TrajectoryPoints, start_ns: int) -> None:
        """Follow a trajectory from now (start_ns 0 = now). Raises TrajectoryRejected if invalid."""
        self._refuse_during_reflex()
        start = self.time_ns if start_ns == 0 else int(start_ns)
        self._trajectory = ActiveTrajectory(points, start, self.time_ns, self._cmd_q, self._cmd_v)
        self._goal_q = np.asarray(points.positions, float)[-1].copy()
        self._cartesian = False

    def solve_pusher_target(self, xy: np.ndarray) -> np.ndarray:
        """Joint positions putting the pusher tip at xy (working height, pointing down)."""
        xy = np.asarray(xy, dtype=float)
        if xy.shape != (2,) or not np.all(np.isfinite(xy)):
            raise ValueError(f"pusher target must be 2 finite numbers (x, y), got {xy.tolist()}")
        if not self.config.in_workspace(xy):
            raise ValueError(
                f"pusher target {np.round(xy, 3).tolist()} is outside the workspace "
                f"{self.config.workspace_min}..{self.config.workspace_max} m"
            )
        result = self.ik.solve(self._tip_target(xy), self.tip_rotation, self._goal_q)
        if result.position_error_m > self.config.max_ik_error_m:
            raise ValueError(
                f"pusher target {np.round(xy, 3).tolist()} unreachable (IK error {result.position_error_m:.4f} m)"
            )
        return result.q

    def set_pusher_target(self, xy: np.ndarray) -> None:
        """Cartesian pusher goal through IK. Raises ValueError (and holds) if invalid."""
        self.set_joint_targets(self.solve_pusher_target(xy))
        self._cartesian = True

    def set_tip_pose_target(self, position: np.ndarray, rotation: np.ndarray) -> None:
        """Cartesian pose goal of the pusher tip (full pose, through IK). Raises ValueError if invalid."""
        position = np.asarray(position, dtype=float)
        if position.shape != (3,) or not np.all(np.isfinite(position)) or not np.all(np.isfinite(rotation)):
            raise ValueError(f"tip target must be finite, got {position.tolist()}")
        if not self.config.in_workspace(position[:2]) or not 0.0 < position[2] < 0.8:
            raise ValueError(f"tip target {np.round(position, 3).tolist()} is outside the workspace")
        result = self.ik.solve(position, np.asarray(rotation, float).reshape(3, 3), self._goal_q)
        if result.position_error_m > self.config.max_ik_error_m:
            raise ValueError(
                f"tip target {np.round(position, 3).tolist()} unreachable (IK error {result.position_error_m:.4f} m)"
            )
        self.set_joint_targets(result.q)
        self._cartesian = True

    def move_to_ready(self) -> None:
        """Back to the ready pose: a smooth trajectory on the strict interface, else the goal filter."""
        if not self.config.strict_interface:
            self.set_joint_targets(self.ready_q)
            return
        distance = float(np.max(np.abs(self.ready_q - self._cmd_q)))
        duration = max(self.config.ready_duration_s, 4.0 * distance)
        self.set_joint_trajectory(TrajectoryPoints(np.array([duration]), self.ready_q[None], np.zeros((1, 7))), 0)

    def _tip_target(self, xy: np.ndarray) -> np.ndarray:
        return np.array([xy[0], xy[1], self.config.tip_height_m])

    # ---- state ---------------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self._qpos_ids].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self._dof_ids].copy()

    def joint_efforts(self) -> np.ndarray:
        return self.data.actuator_force[:7] + self.data.actuator_force[7:14]

    def commanded_positions(self) -> np.ndarray:
        return self._cmd_q.copy()

    def ee_position(self) -> np.ndarray:
        """Pusher tip position (3,) in the base frame, m."""
        return self.data.site_xpos[self._tip].copy()

    def ee_quaternion(self) -> np.ndarray:
        """Pusher tip orientation as a quaternion (w, x, y, z)."""
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, self.data.site_xmat[self._tip])
        return quat

    def block_pose(self) -> np.ndarray:
        """Block (x, y, yaw) on the table."""
        a = self._block_qpos
        w, x, y, z = self.data.qpos[a + 3 : a + 7]
        yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        return np.array([self.data.qpos[a], self.data.qpos[a + 1], yaw])

    def coverage(self) -> float:
        """Fraction of the target T covered by the block now (updates the success latch)."""
        if self._coverage_ns != self.time_ns:
            self._coverage = self._coverage_meter(self.block_pose())
            self._coverage_ns = self.time_ns
            self._success = self._success or self._coverage >= self.config.success_coverage
        return self._coverage

    @property
    def success(self) -> bool:
        """True once the coverage reached success_coverage in this episode (checked whenever
        coverage or success is read: every decision step / status message)."""
        self.coverage()
        return self._success

    @property
    def episode_time_s(self) -> float:
        return (self.time_ns - self.episode_start_ns) / NS_PER_S

    # ---- cameras -------------------------------------------------------------------------
    def render(self, camera: str, height: int, width: int) -> np.ndarray:
        """RGB uint8 (height, width, 3) from camera 'top' or 'wrist' (needs headless GL)."""
        if self._renderer is None:
            self._renderer = CameraRenderer(self.model)
        return self._renderer.render(self.data, camera, height, width)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
