"""Checking an observation window against a policy's spec, before any tensor is touched.

Shared by the eager ``Policy`` (``inference.py``) and the accelerated path (``accelerated.py``) so
that both reject the same inputs with the same message. The arrays stay in their wire form
(images uint8 (T, H, W, 3), low-dim float32 (T, D)): the accelerated path copies uint8 images to
the GPU (4× fewer bytes than float32) and converts them there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dp_core.spec import PolicySpec


@dataclass(frozen=True)
class CheckedWindow:
    """A window already checked against ``spec`` (``checked_window``): ``predict`` does not check it again.

    Attributes:
        spec: the spec it was checked against.
        arrays: {key: array} in wire form (rgb uint8 (T, H, W, 3), low-dim float32 (T, D)), contiguous.
        stamps_ns: (T,) int64 target times, oldest first (empty when the observation had none).
    """

    spec: PolicySpec
    arrays: dict[str, np.ndarray]
    stamps_ns: np.ndarray

    @property
    def stamp_ns(self) -> int:
        """The newest observation time (0 when the observation carried no stamps)."""
        return int(self.stamps_ns[-1]) if self.stamps_ns.size else 0


def checked_window(spec: PolicySpec, observation: Any) -> CheckedWindow:
    """Check an observation once: a ``CheckedWindow`` passes through; anything else goes to ``checked_arrays``."""
    if isinstance(observation, CheckedWindow) and observation.spec == spec:
        return observation
    stamps = np.asarray(getattr(observation, "stamps_ns", ()), dtype=np.int64).reshape(-1)
    return CheckedWindow(spec, checked_arrays(spec, observation), stamps)


def split_observation(observation: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(low_dim, images) dicts from the accepted observation forms."""
    if hasattr(observation, "low_dim") and hasattr(observation, "images"):
        return observation.low_dim, observation.images
    if isinstance(observation, Mapping):
        if "low_dim" in observation or "images" in observation:
            return observation.get("low_dim", {}), observation.get("images", {})
        return observation, observation
    raise TypeError(f"observation must be an ObservationWindowData or a mapping, got {type(observation).__name__}")


def checked_arrays(spec: PolicySpec, observation: Any) -> dict[str, np.ndarray]:
    """{key: array} for every spec key: rgb uint8 (T, H, W, 3), low-dim float32 (T, D), all finite.

    Raises:
        ValueError: a key is missing, or has the wrong shape, dtype or non-finite values.
    """
    low_dim, images = split_observation(observation)
    n_obs = spec.n_obs_steps
    arrays = {}
    for key in spec.obs:
        source = images if key.kind == "rgb" else low_dim
        if key.name not in source:
            raise ValueError(f"observation key '{key.name}' ({key.kind}) missing; got {sorted(source)}")
        value = np.asarray(source[key.name])
        if key.kind == "rgb":
            expected = (n_obs, key.shape[1], key.shape[2], 3)
            if value.shape != expected or value.dtype != np.uint8:
                raise ValueError(
                    f"image '{key.name}': expected uint8 {expected} (T, H, W, RGB), got {value.dtype} {value.shape}"
                )
            arrays[key.name] = np.ascontiguousarray(value)
        else:
            if value.shape != (n_obs, key.shape[0]):
                raise ValueError(
                    f"low-dim '{key.name}': expected shape {(n_obs, key.shape[0])} (T, D), got {value.shape}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"low-dim '{key.name}' contains non-finite values: {value.tolist()}")
            arrays[key.name] = np.ascontiguousarray(value, dtype=np.float32)
    return arrays
