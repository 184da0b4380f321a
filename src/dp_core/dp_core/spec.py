"""What a policy consumes and produces: observation keys with shapes, actions, time steps.

One ``PolicySpec`` is shared by the dataset, the encoder, the checkpoint, the observation node
and the bag converter, so that all of them agree on keys, shapes and timing.

Conventions (used everywhere in dp_core):
- numpy observation windows hold images as uint8 RGB, shape (T, H, W, 3), and low-dim values as
  float32, shape (T, D); T = n_obs_steps, oldest first.
- torch batches hold images as float in [0, 1], shape (B, T, 3, H, W) before normalization.
- actions are float32, shape (horizon, action_dim); action index ``n_obs_steps - 1`` is aligned
  with the newest observation (the original implementation's convention).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ObsKind = Literal["rgb", "low_dim"]


@dataclass(frozen=True)
class ObsKeySpec:
    """One observation key. rgb: shape (3, H, W); low_dim: shape (D,)."""

    name: str
    kind: ObsKind
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.name:
            raise ValueError("observation key name must not be empty")
        if self.kind == "rgb":
            if len(self.shape) != 3 or self.shape[0] != 3 or min(self.shape) < 1:
                raise ValueError(f"rgb key '{self.name}' needs shape (3, H, W), got {self.shape}")
        elif self.kind == "low_dim":
            if len(self.shape) != 1 or self.shape[0] < 1:
                raise ValueError(f"low_dim key '{self.name}' needs shape (D,), got {self.shape}")
        else:
            raise ValueError(f"observation key '{self.name}': kind must be 'rgb' or 'low_dim', got {self.kind!r}")


@dataclass(frozen=True)
class PolicySpec:
    """Inputs, outputs and timing of a policy.

    Attributes:
        obs: observation keys, in the order features are concatenated.
        action_dim: action dimensions.
        action_names: one name per action dimension (joint or pose component names).
        n_obs_steps: observation frames per window (To).
        horizon: predicted actions per chunk (Ta_total).
        n_action_steps: actions executed before replanning (Ta).
        dt_s: seconds between observation frames and between actions.
    """

    obs: tuple[ObsKeySpec, ...]
    action_dim: int
    action_names: tuple[str, ...] = ()
    n_obs_steps: int = 2
    horizon: int = 16
    n_action_steps: int = 8
    dt_s: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "obs", tuple(self.obs))
        names = tuple(self.action_names) or tuple(f"a{i}" for i in range(self.action_dim))
        object.__setattr__(self, "action_names", names)
        if not self.obs:
            raise ValueError("a policy needs at least one observation key")
        keys = [o.name for o in self.obs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate observation keys: {keys}")
        if self.action_dim < 1:
            raise ValueError(f"action_dim must be >= 1, got {self.action_dim}")
        if len(names) != self.action_dim or len(set(names)) != len(names):
            raise ValueError(f"action_names must be {self.action_dim} unique names, got {list(names)}")
        if self.n_obs_steps < 1:
            raise ValueError(f"n_obs_steps must be >= 1, got {self.n_obs_steps}")
        if self.horizon < self.n_obs_steps:
            raise ValueError(f"horizon ({self.horizon}) must be >= n_obs_steps ({self.n_obs_steps})")
        if not 1 <= self.n_action_steps <= self.horizon - self.n_obs_steps + 1:
            raise ValueError(
                f"n_action_steps must be in [1, horizon - n_obs_steps + 1 = {self.horizon - self.n_obs_steps + 1}], "
                f"got {self.n_action_steps}"
            )
        if not self.dt_s > 0:
            raise ValueError(f"dt_s must be > 0, got {self.dt_s}")

    @property
    def rgb_keys(self) -> tuple[ObsKeySpec, ...]:
        return tuple(o for o in self.obs if o.kind == "rgb")

    @property
    def low_dim_keys(self) -> tuple[ObsKeySpec, ...]:
        return tuple(o for o in self.obs if o.kind == "low_dim")

    def key(self, name: str) -> ObsKeySpec:
        for o in self.obs:
            if o.name == name:
                return o
        raise KeyError(f"no observation key '{name}' (have {[o.name for o in self.obs]})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "obs": [{"name": o.name, "kind": o.kind, "shape": list(o.shape)} for o in self.obs],
            "action_dim": self.action_dim,
            "action_names": list(self.action_names),
            "n_obs_steps": self.n_obs_steps,
            "horizon": self.horizon,
            "n_action_steps": self.n_action_steps,
            "dt_s": self.dt_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicySpec:
        unknown = set(data) - {"obs", "action_dim", "action_names", "n_obs_steps", "horizon", "n_action_steps", "dt_s"}
        if unknown:
            raise ValueError(f"unknown policy spec fields: {sorted(unknown)}")
        obs = tuple(ObsKeySpec(name=o["name"], kind=o["kind"], shape=tuple(o["shape"])) for o in data["obs"])
        rest = {k: v for k, v in data.items() if k != "obs"}
        if "action_names" in rest:
            rest["action_names"] = tuple(rest["action_names"])
        return cls(obs=obs, **rest)


def parse_obs_specs(keys: Sequence[str], shapes: Sequence[str]) -> tuple[ObsKeySpec, ...]:
    """Parallel lists ``["front", "joint_pos"]``, ``["3x96x96", "7"]`` → ObsKeySpecs (rgb when 3-D).

    The textual form is how ROS parameters (string arrays) name observation shapes.
    """
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
    action_names: Sequence[str] = (),
    n_obs_steps: int | None = None,
    dt_s: float | None = None,
) -> list[str]:
    """What differs between a checkpoint's spec and a configuration (empty: compatible).

    ``action_names``, ``n_obs_steps`` and ``dt_s`` are compared only when given (empty / None: any).
    """
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
    if dt_s is not None and round(dt_s * 1e9) != round(spec.dt_s * 1e9):
        problems.append(f"dt_s: checkpoint {spec.dt_s:g} s, configured {dt_s:g} s")
    return sorted(problems)


def load_spec(checkpoint: str | Path) -> PolicySpec:
    """The spec stored with a dp-train checkpoint (run or step directory); ValueError when unreadable.

    Reads only the checkpoint's config.yaml (no weights), so a node that needs the policy's shape
    but not the model (the observation node) agrees with the checkpoint by construction.
    """
    from dp_core.training.checkpoint import load_config_dict  # checkpoint layout (imports torch)

    try:
        return PolicySpec.from_dict(load_config_dict(checkpoint)["policy"]["spec"])
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot read the policy spec of checkpoint '{checkpoint}': {type(exc).__name__}: {exc}"
        ) from exc
