"""MJCF of the Push-T table: an FR3-like arm with a downward pusher, a T block and its target.

Everything is primitive geometry written here (no meshes, nothing downloaded). World frame =
robot base frame (``fr3_link0``): the arm stands on the table, whose top is the plane z = 0.
Only the pusher, the block and the table collide; the arm links are visual (the task keeps the
arm high above the table, so link collisions would only cost time). Arm bodies are gravity
compensated (like the real robot's controllers) and driven by stiff joint position servos plus a
velocity feed-forward actuator per joint, so that they track commanded joint trajectories.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dp_sim import fr3
from dp_sim.tshape import TShape

ARM_LINK_RADII = (0.06, 0.06, 0.055, 0.055, 0.05, 0.045, 0.04)


@dataclass(frozen=True)
class SceneConfig:
    """Physical parameters of the scene (SI units)."""

    tshape: TShape = field(default_factory=TShape)
    target_pose: tuple[float, float, float] = (0.45, 0.0, 0.0)  # x m, y m, yaw rad
    pusher_length_m: float = 0.30  # flange → pusher tip
    pusher_radius_m: float = 0.015
    block_mass_kg: float = 0.2
    block_friction: float = 0.4  # block-table sliding friction coefficient
    pusher_friction: float = 0.8  # pusher-block (rubber tip)
    timestep_s: float = 0.002
    servo_kp: tuple[float, ...] = (4000.0, 4000.0, 4000.0, 4000.0, 800.0, 800.0, 400.0)  # N m/rad
    servo_kv: tuple[float, ...] = (120.0, 120.0, 120.0, 120.0, 20.0, 20.0, 10.0)  # N m s/rad

    def __post_init__(self) -> None:
        if len(self.target_pose) != 3 or not np.all(np.isfinite(self.target_pose)):
            raise ValueError(f"target_pose must be finite (x, y, yaw), got {self.target_pose}")
        for name in (
            "pusher_length_m",
            "pusher_radius_m",
            "block_mass_kg",
            "block_friction",
            "pusher_friction",
            "timestep_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"SceneConfig.{name} must be > 0, got {getattr(self, name)}")
        if len(self.servo_kp) != 7 or len(self.servo_kv) != 7 or min(self.servo_kp) <= 0 or min(self.servo_kv) < 0:
            raise ValueError(f"servo_kp/servo_kv need 7 gains (kp > 0, kv >= 0), got {self.servo_kp}, {self.servo_kv}")


def _v(a: np.ndarray | tuple[float, ...]) -> str:
    return " ".join(f"{float(x):.6g}" for x in a)


def _roll_quat(roll: float) -> str:
    return _v((np.cos(roll / 2), np.sin(roll / 2), 0.0, 0.0))


def _arm_xml(cfg: SceneConfig) -> str:
    """Nested bodies link1..link7 + flange with pusher, tip site and wrist camera."""
    opened, closed = [], []
    origins = fr3.JOINT_ORIGINS
    for i, ((xyz, roll), mass, radius) in enumerate(zip(origins, fr3.LINK_MASSES, ARM_LINK_RADII), start=1):
        child = origins[i][0] if i < 7 else (0.0, 0.0, fr3.FLANGE_OFFSET_M)
        shaft = (
            f'<geom class="link" type="capsule" size="{radius}" fromto="0 0 0 {_v(child)}" mass="{mass}"/>'
            if np.linalg.norm(child) > 1e-6
            else ""
        )
        opened.append(
            f'<body name="fr3_link{i}" pos="{_v(xyz)}" quat="{_roll_quat(roll)}" gravcomp="1">'
            f'<joint name="fr3_joint{i}" class="fr3" range="{fr3.Q_MIN[i - 1]} {fr3.Q_MAX[i - 1]}" '
            f'actuatorfrcrange="{-fr3.TAU_MAX[i - 1]} {fr3.TAU_MAX[i - 1]}"/>'
            f'<geom class="link" type="cylinder" size="{radius} {radius}" mass="{mass * 0.3}"/>{shaft}'
        )
        closed.append("</body>")
    length, r = cfg.pusher_length_m, cfg.pusher_radius_m
    flange = (
        f'<body name="fr3_flange" pos="0 0 {fr3.FLANGE_OFFSET_M}" gravcomp="1">'
        f'<geom class="link" type="cylinder" size="0.04 0.01" pos="0 0 0.01" mass="0.3" rgba="0.2 0.2 0.2 1"/>'
        f'<geom name="pusher_rod" class="link" type="cylinder" size="{r * 0.6} {length / 2}" pos="0 0 {length / 2}" mass="0.1" rgba="0.3 0.3 0.3 1"/>'
        f'<geom name="pusher" type="capsule" size="{r} 0.02" pos="0 0 {length - 0.02}" mass="0.05" '
        f'contype="4" conaffinity="1" friction="{cfg.pusher_friction} 0.005 0.0001" rgba="0.9 0.3 0.1 1"/>'
        f'<site name="pusher_tip" pos="0 0 {length}" size="0.005"/>'
        f'<camera name="wrist" pos="0.09 0 0.02" xyaxes="0 -1 0 -1 0 0" fovy="75"/>'
        "</body>"
    )
    return "".join(opened) + flange + "".join(reversed(closed))


def _block_xml(cfg: SceneConfig) -> tuple[str, str]:
    """The free T body and the visual-only target T (drawn just above the table)."""
    shape = cfg.tshape
    block, target = [], []
    half_h = shape.height / 2
    mass_each = [cfg.block_mass_kg * (h[0] * h[1]) * 4 / shape.area for _, h in shape.boxes()]
    for (c, h), m in zip(shape.boxes(), mass_each):
        block.append(
            f'<geom type="box" size="{_v(h)} {half_h}" pos="{_v(c)} 0" mass="{m:.6g}" contype="1" conaffinity="1" '
            f'friction="{cfg.block_friction} 0.005 0.0001" rgba="0.35 0.45 0.8 1"/>'
        )
        target.append(
            f'<geom type="box" size="{_v(h)} 0.0005" pos="{_v(c)} 0" contype="0" conaffinity="0" rgba="0.2 0.8 0.3 0.6"/>'
        )
    tx, ty, tyaw = cfg.target_pose
    block_xml = f'<body name="tblock" pos="{tx + 0.15} {ty} {half_h + 0.0005}"><freejoint name="tblock"/>{"".join(block)}</body>'
    target_xml = f'<body name="target" pos="{tx} {ty} 0.0006" euler="0 0 {tyaw}">{"".join(target)}</body>'
    return block_xml, target_xml


def build_mjcf(cfg: SceneConfig) -> str:
    """The complete MJCF model as a string."""
    block, target = _block_xml(cfg)
    tx, ty, _ = cfg.target_pose
    ctrl = "".join(
        f'<position name="fr3_pos{i + 1}" joint="fr3_joint{i + 1}" kp="{cfg.servo_kp[i]}" '
        f'ctrlrange="{fr3.Q_MIN[i]} {fr3.Q_MAX[i]}"/>'
        for i in range(7)
    ) + "".join(
        f'<velocity name="fr3_vel{i + 1}" joint="fr3_joint{i + 1}" kv="{cfg.servo_kv[i]}" '
        f'ctrlrange="{-fr3.DQ_MAX[i]} {fr3.DQ_MAX[i]}"/>'
        for i in range(7)
    )
    return f"""<mujoco model="fr3_push_t">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{cfg.timestep_s}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual><global offwidth="1280" offheight="960"/><quality shadowsize="1024"/></visual>
  <default>
    <default class="fr3"><joint axis="0 0 1" armature="0.1" damping="1.0"/></default>
    <default class="link"><geom contype="0" conaffinity="0" rgba="0.92 0.92 0.92 1"/></default>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.55 0.45 0.35" rgb2="0.5 0.4 0.3" width="256" height="256"/>
    <material name="table" texture="grid" texrepeat="8 8"/>
  </asset>
  <worldbody>
    <light pos="0.4 0 1.5" dir="0 0 -1" diffuse="0.8 0.8 0.8"/>
    <geom name="table" type="plane" size="1.0 0.8 0.01" pos="0.4 0 0" material="table" contype="2" conaffinity="1"
          friction="{cfg.block_friction} 0.005 0.0001"/>
    <camera name="top" pos="{tx + 0.08} {ty} 0.9" xyaxes="0 -1 0 1 0 0" fovy="40"/>
    <body name="fr3_link0"><geom class="link" type="cylinder" size="0.08 0.05" pos="0 0 0.05" mass="3"/>
      {_arm_xml(cfg)}
    </body>
    {block}
    {target}
  </worldbody>
  <actuator>{ctrl}</actuator>
</mujoco>
"""
