"""Configuration of the observation node (ROS-free): its streams and the window's shape.

The window's shape (n_obs_steps, dt_s, camera sizes) is the policy's. With ``checkpoint_path``
it comes from the checkpoint's spec and the configured streams are checked against the spec's
observation keys; a shape parameter that is also set (non-zero) must agree, else start-up fails
with a message naming the difference. Without a checkpoint every value must be set, and the
policy node refuses windows of another length, rate or shape with a message that says so.

Cameras are data (``cameras.<name>.*``); the robot state is one JointState topic (selected
joints by name → one low-dim key) and optionally one PoseStamped topic (→ a 7-D key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

from dp_core.spec import ObsKeySpec, PolicySpec, spec_mismatch
from dp_core.timing.alignment import AlignmentConfig
from dp_core.timing.window_trigger import TriggerConfig

TRANSPORTS = ("raw", "compressed")


@dataclass(frozen=True)
class CameraStream:
    """One camera: observation key ``name`` from ``topic``; height/width 0 = the checkpoint's."""

    name: str
    topic: str
    transport: str
    height: int = 0
    width: int = 0

    def __post_init__(self) -> None:
        if not self.topic:
            raise ValueError(f"camera '{self.name}': cameras.{self.name}.topic must be set")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"camera '{self.name}': transport must be one of {TRANSPORTS}, got '{self.transport}'")
        if self.height < 0 or self.width < 0:
            raise ValueError(f"camera '{self.name}': height and width must be >= 0, got {self.height}x{self.width}")

    @property
    def obs_spec(self) -> ObsKeySpec:
        return ObsKeySpec(self.name, "rgb", (3, self.height, self.width))


@dataclass(frozen=True)
class ObservationStreams:
    """All inputs of the observation node."""

    cameras: tuple[CameraStream, ...]
    joint_key: str
    joint_topic: str
    joint_names: tuple[str, ...]
    pose_key: str = ""
    pose_topic: str = ""

    def __post_init__(self) -> None:
        if not self.joint_key or not self.joint_topic or not self.joint_names:
            raise ValueError("joint_state.key, joint_state.topic and joint_state.joint_names must be set")
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError(f"joint_state.joint_names has duplicates: {list(self.joint_names)}")
        if bool(self.pose_key) != bool(self.pose_topic):
            raise ValueError("ee_pose.key and ee_pose.topic must both be set or both be empty")
        names = [c.name for c in self.cameras] + [self.joint_key] + ([self.pose_key] if self.pose_key else [])
        if len(set(names)) != len(names):
            raise ValueError(f"observation keys must be unique, got {names}")

    @property
    def obs_specs(self) -> tuple[ObsKeySpec, ...]:
        low_dim = [ObsKeySpec(self.joint_key, "low_dim", (len(self.joint_names),))]
        if self.pose_key:
            low_dim.append(ObsKeySpec(self.pose_key, "low_dim", (7,)))
        return (*[c.obs_spec for c in self.cameras], *low_dim)

    def sized(self, spec: PolicySpec | None) -> ObservationStreams:
        """Camera sizes left at 0 taken from ``spec`` (ValueError when there is none to take)."""
        rgb = {k.name: k.shape[1:] for k in spec.rgb_keys} if spec is not None else {}
        cameras = []
        for cam in self.cameras:
            if cam.height and cam.width:
                cameras.append(cam)
                continue
            if cam.name not in rgb:
                where = "the checkpoint has no such camera" if spec is not None else "no checkpoint_path is set"
                raise ValueError(f"cameras.{cam.name}.height/width are 0 (from the checkpoint) but {where}")
            height, width = rgb[cam.name]
            cameras.append(replace(cam, height=cam.height or height, width=cam.width or width))
        return replace(self, cameras=tuple(cameras))


def window_timing(spec: PolicySpec | None, n_obs_steps: int, dt_s: float) -> tuple[int, float]:
    """(n_obs_steps, dt_s) of the windows: the spec's, or the parameters' (0: not set)."""
    n_obs = n_obs_steps or (spec.n_obs_steps if spec is not None else 0)
    dt = dt_s or (spec.dt_s if spec is not None else 0.0)
    if not (n_obs and dt):
        raise ValueError("n_obs_steps and dt_s are 0 (from the checkpoint) but no checkpoint_path is set: set either")
    return int(n_obs), float(dt)


@dataclass(frozen=True)
class ObservationNodeConfig:
    """Streams + window trigger (dp_core) + status rate + image crop."""

    streams: ObservationStreams
    trigger: TriggerConfig
    rate_hz: float
    image_crop: Literal["center", "none"]

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {self.rate_hz}")
        if self.image_crop not in ("center", "none"):
            raise ValueError(f"image_crop must be 'center' or 'none', got {self.image_crop!r}")

    @classmethod
    def build(cls, v: Mapping[str, Any], streams: ObservationStreams, spec: PolicySpec | None) -> ObservationNodeConfig:
        """From the node's parameter values, its streams and the checkpoint's spec (None: none given)."""
        streams = streams.sized(spec)
        n_obs, dt = window_timing(spec, v["n_obs_steps"], v["dt_s"])
        if spec is not None:
            problems = spec_mismatch(spec, streams.obs_specs, n_obs_steps=n_obs, dt_s=dt)
            if problems:
                raise ValueError("the streams do not match the checkpoint's spec: " + "; ".join(problems))
        capacity = {"rgb": v["image_buffer_capacity"], "low_dim": v["state_buffer_capacity"]}
        trigger = TriggerConfig(
            AlignmentConfig(n_obs_steps=n_obs, dt_s=dt, max_age_s=v["max_age_s"]),
            v["max_window_rate_hz"],
            {o.name: capacity[o.kind] for o in streams.obs_specs},
        )
        crop = cast(Literal["center", "none"], v["image_crop"])  # checked in __post_init__
        return cls(streams=streams, trigger=trigger, rate_hz=v["rate_hz"], image_crop=crop)
