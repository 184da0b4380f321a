"""Evaluate an action chunk at arbitrary times between (and at) its action steps.

- joints and Cartesian position: linear, or a cubic spline (scipy ``CubicSpline``) with
  ``"natural"`` (zero second derivative at both ends: the chunk's own end slopes are kept) or
  ``"clamped"`` (zero first derivative at both ends: the chunk starts and ends at rest);
- orientation quaternion (qx, qy, qz, qw): SLERP between steps (scipy ``Slerp``); input signs
  are made continuous first (q and -q are the same rotation) and outputs follow that sign;
- gripper dimensions: always linear (a cubic would overshoot an open/close switch).

Outside the knot range the first/last value is held. Knots are hit exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation, Slerp

from dp_core.control.layout import ActionLayout
from dp_core.time_units import NS_PER_S

Method = Literal["linear", "cubic"]
CubicBoundary = Literal["natural", "clamped"]


@dataclass(frozen=True)
class InterpolationConfig:
    method: Method = "linear"
    cubic_bc: CubicBoundary = "natural"

    def __post_init__(self) -> None:
        if self.method not in ("linear", "cubic"):
            raise ValueError(f"interpolation must be 'linear' or 'cubic', got {self.method!r}")
        if self.cubic_bc not in ("natural", "clamped"):
            raise ValueError(f"cubic_bc must be 'natural' or 'clamped', got {self.cubic_bc!r}")


def continuous_quaternions(quats: np.ndarray) -> np.ndarray:
    """Normalise (N, 4) quaternions and flip signs so consecutive ones have a positive dot product."""
    q = np.asarray(quats, dtype=np.float64)
    norms = np.linalg.norm(q, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms < 1e-9):
        bad = int(np.argmax(~np.isfinite(norms[:, 0]) | (norms[:, 0] < 1e-9)))
        raise ValueError(
            f"quaternion at step {bad} has norm {float(norms[bad, 0]):g}; orientations must be unit quaternions"
        )
    q = q / norms
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def lerp_linear(knots_s: np.ndarray, values: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    """Piecewise-linear (M, D) values at ``t_s`` (already clamped to the knot range)."""
    if len(knots_s) == 1:
        return np.repeat(values[:1], len(t_s), axis=0)
    i = np.clip(np.searchsorted(knots_s, t_s, side="right") - 1, 0, len(knots_s) - 2)
    frac = ((t_s - knots_s[i]) / (knots_s[i + 1] - knots_s[i]))[:, None]
    # (1 - f) a + f b hits both ends exactly (a + f (b - a) can miss b by rounding)
    return values[i] * (1.0 - frac) + values[i + 1] * frac


class ChunkInterpolator:
    """Actions ``values[i]`` at ``times_ns[i]`` as a function of time (int ns -> float64)."""

    def __init__(
        self,
        times_ns: np.ndarray | Sequence[int],
        values: np.ndarray,
        layout: ActionLayout,
        config: InterpolationConfig = InterpolationConfig(),
    ) -> None:
        times = np.asarray(times_ns, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        if times.ndim != 1 or vals.shape != (times.size, layout.dim) or times.size < 1:
            raise ValueError(f"need times (N,) and values (N, {layout.dim}), got {times.shape} and {vals.shape}")
        if np.any(np.diff(times) <= 0):
            raise ValueError("chunk times must be strictly increasing")
        self.layout = layout
        self.config = config
        self.start_ns = int(times[0])
        self.end_ns = int(times[-1])
        self._knots_s = (times - times[0]) / NS_PER_S
        self._values = vals.copy()
        if layout.quaternion:
            self._values[:, list(layout.quaternion)] = continuous_quaternions(vals[:, list(layout.quaternion)])
        self._smooth = list(layout.joints) + list(layout.position)
        self._spline = None
        if config.method == "cubic" and times.size >= 2 and self._smooth:
            self._spline = CubicSpline(self._knots_s, self._values[:, self._smooth], axis=0, bc_type=config.cubic_bc)
        self._slerp = None
        if layout.quaternion and times.size >= 2:
            self._slerp = Slerp(self._knots_s, Rotation.from_quat(self._values[:, list(layout.quaternion)]))

    def __call__(self, t_ns: int | np.ndarray | Sequence[int]) -> np.ndarray:
        """Values at ``t_ns``: (D,) for a scalar time, (M, D) for an array."""
        scalar = np.ndim(t_ns) == 0
        if scalar and self._spline is None and self._slerp is None:
            return self._linear_at(int(t_ns))  # type: ignore[arg-type]  # a 0-d time  # the executor's per-tick call: ~10x fewer numpy calls
        t = np.atleast_1d(np.asarray(t_ns, dtype=np.int64))
        t_s = np.clip((t - self.start_ns) / NS_PER_S, 0.0, self._knots_s[-1])
        out = lerp_linear(self._knots_s, self._values, t_s)
        if self._spline is not None:
            out[:, self._smooth] = self._spline(t_s)
        if self.layout.quaternion:
            out[:, list(self.layout.quaternion)] = self._quaternions(t_s)
        seg = np.searchsorted(self._knots_s, t_s, side="right") - 1
        at_knot = self._knots_s[seg] == t_s  # spline evaluation can miss a knot by rounding
        out[at_knot] = self._values[seg[at_knot]]
        return out[0] if scalar else out

    def _linear_at(self, t_ns: int) -> np.ndarray:
        knots = self._knots_s
        t_s = min(max((t_ns - self.start_ns) / NS_PER_S, 0.0), float(knots[-1]))
        if len(knots) == 1:
            return self._values[0].copy()
        i = min(max(int(np.searchsorted(knots, t_s, side="right")) - 1, 0), len(knots) - 2)
        if t_s == knots[i]:
            return self._values[i].copy()
        frac = (t_s - knots[i]) / (knots[i + 1] - knots[i])
        return self._values[i] * (1.0 - frac) + self._values[i + 1] * frac

    def _quaternions(self, t_s: np.ndarray) -> np.ndarray:
        qi = list(self.layout.quaternion)
        if self._slerp is None:
            return np.repeat(self._values[:1, qi], len(t_s), axis=0)
        q = self._slerp(t_s).as_quat()
        seg = np.clip(np.searchsorted(self._knots_s, t_s, side="right") - 1, 0, len(self._knots_s) - 1)
        ref = self._values[seg][:, qi]
        return np.where(np.sum(q * ref, axis=1, keepdims=True) < 0, -q, q)  # follow the knots' sign


def blend_values(a: np.ndarray, b: np.ndarray, w: float, layout: ActionLayout) -> np.ndarray:
    """(1 - w) a + w b per dimension, with the quaternion part slerped (shortest arc)."""
    out = (1.0 - w) * a + w * b
    if layout.quaternion and 0.0 < w < 1.0:
        qi = list(layout.quaternion)
        out[qi] = slerp_pair(a[qi], b[qi], w)
    elif layout.quaternion:
        out[list(layout.quaternion)] = (a if w <= 0.0 else b)[list(layout.quaternion)]
    return out


def slerp_pair(q0: np.ndarray, q1: np.ndarray, w: float) -> np.ndarray:
    """Quaternion at fraction ``w`` from q0 to q1 along the shortest arc, sign continuous with q0.

    Closed form in numpy (called every control tick; scipy's Slerp object costs ~100x more).
    """
    q0n = q0 / np.linalg.norm(q0)
    q1n = q1 / np.linalg.norm(q1)
    dot = float(np.dot(q0n, q1n))
    if dot < 0:
        q1n, dot = -q1n, -dot
    theta = float(np.arccos(min(1.0, dot)))
    if theta < 1e-9:
        q = (1.0 - w) * q0n + w * q1n
    else:
        q = (np.sin((1.0 - w) * theta) * q0n + np.sin(w * theta) * q1n) / np.sin(theta)
    return q / np.linalg.norm(q)


def quaternion_angle(q0: np.ndarray, q1: np.ndarray) -> float:
    """Rotation angle (rad, in [0, pi]) between two orientations."""
    d = abs(float(np.dot(q0, q1)) / (np.linalg.norm(q0) * np.linalg.norm(q1)))
    return 2.0 * float(np.arccos(min(1.0, float(d))))
