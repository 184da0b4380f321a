"""The ROS-free part of the policy node: load and check a checkpoint, turn windows into chunks.

``PolicyRunner.load`` raises ``ValueError`` with a message that says what is wrong (missing or
corrupt file, observation keys/shapes or action names that differ from the configuration); the
node turns that into a lifecycle FAILURE. ``PolicyRunner.infer`` runs on the inference thread.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp_core.control.action_chunk import NS_PER_S, ActionChunkData
from dp_core.spec import ObsKeySpec, PolicySpec
from dp_core.timing.alignment import ObservationWindow
from dp_policy_node.streams import spec_mismatch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "int8", "bf16")


@dataclass(frozen=True)
class PolicyNodeConfig:
    """Configuration of the policy node (built from its ROS parameters).

    Attributes:
        checkpoint_path: checkpoint file or directory written by dp-train.
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        precision: denoiser precision: "auto" (a reduced precision when it is accurate enough
            and faster, chosen by timing at load), "fp32", "int8" (CPU U-Net) or "bf16".
        num_inference_steps: DDIM steps; 0 keeps the checkpoint's setting.
        warm_start: start each chunk's denoising from the previous chunk's remainder.
        seed: base seed for the sampling noise; -1 leaves it random.
        expected_obs: observation keys/shapes the observation node produces.
        action_names: names the executor expects (empty: take the checkpoint's).
        min_replan_period_s: minimum seconds between two inference starts (0: on every window).
        max_window_age_s: windows whose newest stamp is older than this on arrival are rejected.
    """

    checkpoint_path: str
    device: str = "auto"
    precision: str = "auto"
    num_inference_steps: int = 0
    warm_start: bool = False
    seed: int = -1
    expected_obs: tuple[ObsKeySpec, ...] = ()
    action_names: tuple[str, ...] = ()
    min_replan_period_s: float = 0.0
    max_window_age_s: float = 0.5

    def __post_init__(self) -> None:
        if not self.checkpoint_path:
            raise ValueError("checkpoint_path is empty: set it to a checkpoint written by dp-train")
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got '{self.device}'")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got '{self.precision}'")
        if self.num_inference_steps < 0:
            raise ValueError(f"num_inference_steps must be >= 0 (0: checkpoint default), got {self.num_inference_steps}")
        if not self.min_replan_period_s >= 0:
            raise ValueError(f"min_replan_period_s must be >= 0, got {self.min_replan_period_s}")
        if not self.max_window_age_s > 0:
            raise ValueError(f"max_window_age_s must be > 0, got {self.max_window_age_s}")


class RateStats:
    """Recent inference latencies and chunk times (for status and diagnostics)."""

    def __init__(self, size: int = 50) -> None:
        self.latencies_ms: deque[float] = deque(maxlen=size)
        self.times_s: deque[float] = deque(maxlen=size)

    def add(self, latency_ms: float) -> None:
        self.latencies_ms.append(latency_ms)
        self.times_s.append(time.monotonic())

    @property
    def last_ms(self) -> float:
        return self.latencies_ms[-1] if self.latencies_ms else 0.0

    @property
    def median_ms(self) -> float:
        return float(np.median(self.latencies_ms)) if self.latencies_ms else 0.0

    @property
    def rate_hz(self) -> float:
        """Chunks per second over the recent window (0 with fewer than two, or after a 5 s pause)."""
        if len(self.times_s) < 2 or time.monotonic() - self.times_s[-1] > 5.0:
            return 0.0
        return (len(self.times_s) - 1) / max(self.times_s[-1] - self.times_s[0], 1e-9)


class PolicyRunner:
    """A loaded policy plus what the node needs around it (sequence numbers, warm start, stats)."""

    def __init__(self, policy: object, config: PolicyNodeConfig) -> None:
        self.policy = policy
        self.config = config
        self.spec: PolicySpec = policy.spec  # type: ignore[attr-defined]
        self.policy_id: str = policy.policy_id  # type: ignore[attr-defined]
        self.device = str(getattr(policy, "device", "cpu"))
        self.sequence = 0
        self.stats = RateStats()
        self._previous_plan: object | None = None

    @classmethod
    def load(cls, config: PolicyNodeConfig) -> PolicyRunner:
        """Load, check against the configuration and warm up (ValueError says what is wrong)."""
        from dp_core.policy.inference import Policy  # torch is imported only when a policy is loaded

        path = Path(config.checkpoint_path).expanduser()
        if not path.exists():
            raise ValueError(f"checkpoint '{path}' does not exist")
        try:
            policy = Policy.from_checkpoint(
                path, device=config.device, num_inference_steps=config.num_inference_steps or None,
                precision=config.precision,  # type: ignore[arg-type]
            )
        except Exception as exc:  # noqa: BLE001 - corrupt files raise anything; report, do not crash
            raise ValueError(f"cannot load checkpoint '{path}': {type(exc).__name__}: {exc}") from exc
        problems = spec_mismatch(policy.spec, config.expected_obs, config.action_names)
        if problems:
            raise ValueError(f"checkpoint '{path.name}' does not match the configuration: " + "; ".join(problems))
        policy.warmup()
        return cls(policy, config)

    def reset(self) -> None:
        """New activation: sequence numbers restart, no warm start from an older plan."""
        self.sequence = 0
        self._previous_plan = None

    def check_window(self, window: ObservationWindow) -> None:
        """Raise ValueError when a window does not fit the policy's inputs."""
        spec = self.spec
        if window.n_obs_steps != spec.n_obs_steps:
            raise ValueError(f"window has {window.n_obs_steps} frames, policy needs {spec.n_obs_steps}")
        for key in spec.obs:
            arrays = window.images if key.kind == "rgb" else window.low_dim
            if key.name not in arrays:
                raise ValueError(f"window lacks {key.kind} key '{key.name}'")
            got = arrays[key.name].shape[1:]
            want = (key.shape[1], key.shape[2], 3) if key.kind == "rgb" else key.shape
            if tuple(got) != tuple(want):
                raise ValueError(f"'{key.name}' has shape {tuple(got)} per frame, policy needs {want}")
            if key.kind == "low_dim" and not np.all(np.isfinite(arrays[key.name])):
                raise ValueError(f"'{key.name}' has non-finite values")

    def infer(self, window: ObservationWindow) -> ActionChunkData:
        """One chunk from the newest window; the chunk's clock is the window's."""
        seed = None if self.config.seed < 0 else self.config.seed + self.sequence
        warm = self._previous_plan if self.config.warm_start else None
        plan = self.policy.predict(  # type: ignore[attr-defined]
            window, seed=seed, warm_start=warm, executed_steps=_executed_steps(warm)
        )
        self._previous_plan = plan
        self.stats.add(float(plan.inference_ms))
        self.sequence += 1
        stamp_ns = int(window.stamps_ns[-1])
        start_ns = stamp_ns - round(plan.aligned_index * plan.dt_s * NS_PER_S)
        return ActionChunkData(
            stamp_ns=stamp_ns,
            start_ns=max(start_ns, 0),
            dt_s=float(plan.dt_s),
            action_names=tuple(plan.action_names),
            actions=np.asarray(plan.actions, dtype=np.float32),
            execute_steps=int(plan.execute_steps),
            sequence=self.sequence,
            policy_id=self.policy_id,
        )


def _executed_steps(previous_plan: object | None) -> int:
    return 0 if previous_plan is None else int(previous_plan.execute_steps)  # type: ignore[attr-defined]

