"""What ``dp-convert`` turns a bag into: dataset keys from topics, the action, the rate.

Example (YAML)::

    rate_hz: 10.0            # dataset steps per second (= 1 / policy dt_s)
    min_length: 10           # episodes shorter than this (steps) are skipped
    success_only: false      # keep only episodes whose metadata says success
    obs:
      joint_pos: {topic: /joint_states, field: position, names: [fr3_joint1, fr3_joint2]}
      ee_pos: {topic: /ee_pose, field: pose.position, components: [x, y, z]}
      top_image: {topic: /camera/top/image_raw, image: [96, 96]}      # (H, W)
      block_pose: {topic: /task_status, field: block_pose}
    action:
      mode: command          # command: a command topic; next_state: an obs key one step later
      topic: /cartesian_target
      field: pose.position
      components: [x, y]
      # mode: next_state
      # key: joint_pos

``stamp`` (per stream, default ``header``) picks the time a sample is aligned by: the message's
``header.stamp`` (what the observation node uses) or ``receive`` (the bag's record time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from dp_core.sensors.images import ImageTransform

StampSource = Literal["header", "receive"]


@dataclass(frozen=True)
class StreamSpec:
    """One dataset key taken from one topic.

    Attributes:
        key: dataset key (``data/<key>``).
        topic: bag topic.
        field: dotted path to the value in the message (low-dim streams).
        components: attribute names picked from that value, in order (e.g. x, y, z).
        indices: element indices picked from an array value.
        names: JointState-style selection: values of these names (message ``name`` list).
        image: (H, W) output size; set for camera streams (raw or compressed images).
        crop: "center" (keep aspect) or "none" (stretch) before resizing.
        stamp: "header" or "receive".
    """

    key: str
    topic: str
    field: str = ""
    components: tuple[str, ...] = ()
    indices: tuple[int, ...] = ()
    names: tuple[str, ...] = ()
    image: tuple[int, int] | None = None
    crop: Literal["center", "none"] = "center"
    stamp: StampSource = "header"

    def __post_init__(self) -> None:
        for name in ("components", "indices", "names"):
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))
        if not self.key or "/" in self.key:
            raise ValueError(f"dataset key must be a non-empty name without '/', got {self.key!r}")
        if not self.topic.startswith("/"):
            raise ValueError(
                f"key '{self.key}': topic must be an absolute name like '/joint_states', got {self.topic!r}"
            )
        if self.stamp not in ("header", "receive"):
            raise ValueError(f"key '{self.key}': stamp must be 'header' or 'receive', got {self.stamp!r}")
        if self.image is not None:
            object.__setattr__(self, "image", tuple(int(v) for v in self.image))
            ImageTransform(out_h=self.image[0], out_w=self.image[1], crop=self.crop)  # validates size/crop
            if self.field or self.components or self.indices or self.names:
                raise ValueError(f"key '{self.key}': an image stream takes no field/components/indices/names")
        elif not self.field:
            raise ValueError(f"key '{self.key}': set 'field' (e.g. position) for a low-dim stream or 'image: [H, W]'")
        if sum(bool(x) for x in (self.components, self.indices, self.names)) > 1:
            raise ValueError(f"key '{self.key}': use at most one of components, indices, names")

    @property
    def is_image(self) -> bool:
        return self.image is not None


@dataclass(frozen=True)
class ActionSpec:
    """The action: a command topic (``stream``) or the next value of an obs key."""

    mode: Literal["command", "next_state"]
    stream: StreamSpec | None = None
    key: str = ""

    def __post_init__(self) -> None:
        if self.mode == "command":
            if self.stream is None or self.stream.is_image:
                raise ValueError(
                    "action mode 'command' needs a low-dim topic/field (e.g. /cartesian_target pose.position)"
                )
        elif self.mode == "next_state":
            if not self.key:
                raise ValueError("action mode 'next_state' needs 'key': the obs key whose next value is the action")
        else:
            raise ValueError(f"action mode must be 'command' or 'next_state', got {self.mode!r}")


@dataclass(frozen=True)
class ConvertConfig:
    """Everything the converter needs besides the bag paths."""

    rate_hz: float
    obs: tuple[StreamSpec, ...]
    action: ActionSpec
    min_length: int = 1
    success_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs", tuple(self.obs))
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {self.rate_hz}")
        if not self.obs:
            raise ValueError("config needs at least one obs stream")
        keys = [s.key for s in self.obs]
        if len(set(keys)) != len(keys) or "action" in keys:
            raise ValueError(f"obs keys must be unique and not 'action', got {keys}")
        if self.min_length < 1:
            raise ValueError(f"min_length must be >= 1, got {self.min_length}")
        if self.action.mode == "next_state":
            target = next((s for s in self.obs if s.key == self.action.key), None)
            if target is None or target.is_image:
                raise ValueError(f"action key '{self.action.key}' must name a low-dim obs key, have {keys}")

    @property
    def dt_s(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def streams(self) -> tuple[StreamSpec, ...]:
        """Obs streams plus the command stream (keyed 'action')."""
        return self.obs + ((self.action.stream,) if self.action.stream is not None else ())

    @property
    def topics(self) -> set[str]:
        return {s.topic for s in self.streams}


def _stream(key: str, raw: Mapping[str, Any]) -> StreamSpec:
    if not isinstance(raw, Mapping):
        raise ValueError(f"key '{key}': expected a mapping with 'topic', got {raw!r}")
    unknown = set(raw) - set(StreamSpec.__dataclass_fields__) - {"mode"}
    if unknown:
        raise ValueError(f"key '{key}': unknown fields {sorted(unknown)}")
    if "topic" not in raw:
        raise ValueError(f"key '{key}': 'topic' is required")
    return StreamSpec(key=key, **{k: v for k, v in raw.items() if k not in ("mode", "key")})


def config_from_dict(data: Mapping[str, Any]) -> ConvertConfig:
    """Build a validated ConvertConfig from parsed YAML."""
    unknown = set(data) - {"rate_hz", "obs", "action", "min_length", "success_only"}
    if unknown:
        raise ValueError(f"unknown converter config fields: {sorted(unknown)}")
    obs = data.get("obs") or {}
    if not isinstance(obs, Mapping):
        raise ValueError("'obs' must map dataset keys to {topic, field|image, ...}")
    action = dict(data.get("action") or {})
    mode = action.get("mode", "command")
    if mode == "command":
        spec = ActionSpec(mode="command", stream=_stream("action", action))
    else:
        spec = ActionSpec(mode=mode, key=str(action.get("key", "")))
    return ConvertConfig(
        rate_hz=float(data.get("rate_hz", 0)),
        obs=tuple(_stream(str(k), v) for k, v in obs.items()),
        action=spec,
        min_length=int(data.get("min_length", 1)),
        success_only=bool(data.get("success_only", False)),
    )


def load_config(path: Path) -> ConvertConfig:
    """Read a converter YAML file (see the module docstring)."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"cannot read converter config {path}: {err}") from err
    if not isinstance(data, Mapping):
        raise ValueError(f"converter config {path} must be a YAML mapping")
    return config_from_dict(data)
