"""Observation streams as configured in YAML, and their comparison with a checkpoint's PolicySpec.

Parameters per camera live under ``cameras.<name>.*`` (dotted ROS parameters, nested maps in
YAML), so the list of cameras is data, not code. The robot state is one JointState topic
(selected joints by name → one low-dim key) and optionally one PoseStamped topic (→ a 7-D key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.parameter import Parameter

from dp_core.spec import ObsKeySpec, PolicySpec
from dp_ros_common.params import Param, declare, declare_all

TRANSPORTS = ("raw", "compressed")


@dataclass(frozen=True)
class CameraStream:
    """One camera: observation key ``name`` from ``topic`` (sensor_msgs/Image or CompressedImage)."""

    name: str
    topic: str
    transport: str
    height: int
    width: int

    def __post_init__(self) -> None:
        if not self.topic:
            raise ValueError(f"camera '{self.name}': cameras.{self.name}.topic must be set")
        if self.transport not in TRANSPORTS:
            raise ValueError(f"camera '{self.name}': transport must be one of {TRANSPORTS}, got '{self.transport}'")
        if self.height < 1 or self.width < 1:
            raise ValueError(f"camera '{self.name}': height and width must be >= 1, got {self.height}x{self.width}")

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

    @property
    def stream_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.obs_specs)


def declare_streams(node: Node) -> ObservationStreams:
    """Declare the stream parameters on ``node`` and build the config (ValueError if invalid)."""
    camera_names = declare(
        node, Param("camera_names", [], "observation keys of the cameras, in order", Parameter.Type.STRING_ARRAY)
    )
    cameras = []
    for name in camera_names:
        v = declare_all(
            node,
            [
                Param(f"cameras.{name}.topic", "", "image topic (sensor_msgs/Image, or CompressedImage)"),
                Param(f"cameras.{name}.transport", "raw", "raw (Image: rgb8/bgr8/mono8/16UC1) or compressed"),
                Param(f"cameras.{name}.height", 96, "policy input height in pixels (resize/crop target)"),
                Param(f"cameras.{name}.width", 96, "policy input width in pixels"),
            ],
        )
        p = f"cameras.{name}."
        cameras.append(CameraStream(name, v[p + "topic"], v[p + "transport"], v[p + "height"], v[p + "width"]))
    v = declare_all(
        node,
        [
            Param("joint_state.key", "joint_pos", "observation key of the selected joint positions"),
            Param("joint_state.topic", "/joint_states", "sensor_msgs/JointState topic"),
            Param("joint_state.joint_names", [], "joints to select, in order (rad)", Parameter.Type.STRING_ARRAY),
            Param("ee_pose.key", "", "observation key of the end-effector pose (empty: none)"),
            Param("ee_pose.topic", "", "geometry_msgs/PoseStamped topic (empty: none); 7-D [xyz m, quat xyzw]"),
        ],
    )
    return ObservationStreams(
        cameras=tuple(cameras),
        joint_key=v["joint_state.key"],
        joint_topic=v["joint_state.topic"],
        joint_names=tuple(v["joint_state.joint_names"]),
        pose_key=v["ee_pose.key"],
        pose_topic=v["ee_pose.topic"],
    )


def parse_obs_specs(keys: Sequence[str], shapes: Sequence[str]) -> tuple[ObsKeySpec, ...]:
    """Parallel lists ``["front", "joint_pos"]``, ``["3x96x96", "7"]`` → ObsKeySpecs (rgb when 3-D)."""
    if len(keys) != len(shapes):
        raise ValueError(f"{len(keys)} observation keys but {len(shapes)} shapes")
    specs = []
    for key, text in zip(keys, shapes, strict=True):
        try:
            shape = tuple(int(s) for s in text.lower().split("x"))
        except ValueError:
            raise ValueError(f"observation '{key}': shape '{text}' is not like '3x96x96' or '7'") from None
        specs.append(ObsKeySpec(key, "rgb" if len(shape) == 3 else "low_dim", shape))
    return tuple(specs)


def spec_mismatch(
    spec: PolicySpec,
    expected_obs: Sequence[ObsKeySpec],
    action_names: Sequence[str],
    n_obs_steps: int | None = None,
) -> list[str]:
    """What differs between a checkpoint's spec and the configured streams/output (empty: compatible)."""
    problems = []
    have = {o.name: o for o in spec.obs}
    want = {o.name: o for o in expected_obs}
    for name in have.keys() - want.keys():
        problems.append(f"checkpoint needs observation '{name}' {have[name].kind} {have[name].shape}, not configured")
    for name in want.keys() - have.keys():
        problems.append(f"configured observation '{name}' is not an input of the checkpoint")
    for name in have.keys() & want.keys():
        if (have[name].kind, have[name].shape) != (want[name].kind, want[name].shape):
            problems.append(
                f"observation '{name}': checkpoint {have[name].kind} {have[name].shape}, "
                f"configured {want[name].kind} {want[name].shape}"
            )
    if action_names and tuple(action_names) != spec.action_names:
        problems.append(f"action names: checkpoint {list(spec.action_names)}, configured {list(action_names)}")
    if n_obs_steps is not None and n_obs_steps != spec.n_obs_steps:
        problems.append(f"n_obs_steps: checkpoint {spec.n_obs_steps}, configured {n_obs_steps}")
    return sorted(problems)
