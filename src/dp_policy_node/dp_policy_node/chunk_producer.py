"""The ROS-free part of the policy node: load and check a checkpoint, turn windows into chunks.

``ChunkProducer.load`` raises ``ValueError`` with a message that says what is wrong (missing or
corrupt file, a device that is not there, observation keys/shapes or action names that differ
from the configuration); the node turns that into a lifecycle FAILURE. Loading also does all the
slow preparation (precision check, chunk program compile/capture, thread-count timing), so that
activate only starts the worker. ``ChunkProducer.infer`` runs on the inference thread;
``release`` (cleanup) frees the model and the captured program.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dp_core.control.action_chunk import ActionChunkData
from dp_core.policy.window_gate import GateConfig, WindowGate
from dp_core.policy.window_input import CheckedWindow
from dp_core.spec import ObsKeySpec, PolicySpec, parse_obs_specs, spec_mismatch

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "int8", "bf16")
#: "off" runs ``Policy.predict`` (the eager reference) without a chunk program.
CHUNK_FORMS = ("auto", "eager", "compile", "graph", "off")


@dataclass(frozen=True)
class ChunkProducerConfig:
    """Configuration of the policy node (built from its ROS parameters).

    Attributes:
        checkpoint_path: checkpoint file or directory written by dp-train.
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        precision: denoiser precision: "fp32" (default, reproducible), "int8" (CPU U-Net) or
            "bf16" explicitly, or "auto" (the first reduced precision the machine supports whose
            chunk is within 1e-2 of fp32; never chosen by timing).
        num_inference_steps: DDIM steps; 0 keeps the checkpoint's setting.
        warm_start: start each chunk's denoising from the previous chunk's remainder.
        seed: base seed for the sampling noise; -1 leaves it random.
        expected_obs: observation keys/shapes the observation node produces (empty: the checkpoint's;
            every window is checked against the spec anyway).
        action_names: names the executor expects (empty: take the checkpoint's).
        min_replan_period_s: minimum seconds between two inference starts (0: on every window).
        max_window_age_s: windows whose newest stamp is older than this on arrival are rejected.
        chunk_form: how a chunk runs: "auto" (CUDA graph when it checks out and is faster, else
            eager), "eager", "compile" (torch.compile), "graph" (CUDA only) or "off" (reference path).
        torch_threads: intra-op CPU threads; 0 = the fastest of 1, 2, 4, .. cores, timed at configure.
    """

    checkpoint_path: str
    device: str = "auto"
    precision: str = "fp32"
    num_inference_steps: int = 0
    warm_start: bool = False
    seed: int = -1
    expected_obs: tuple[ObsKeySpec, ...] = ()
    action_names: tuple[str, ...] = ()
    min_replan_period_s: float = 0.0
    max_window_age_s: float = 0.5
    chunk_form: str = "auto"
    torch_threads: int = 0

    def __post_init__(self) -> None:
        if not self.checkpoint_path:
            raise ValueError("checkpoint_path is empty: set it to a checkpoint written by dp-train")
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            raise ValueError(f"device must be one of {DEVICES} or 'cuda:N', got '{self.device}'")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got '{self.precision}'")
        if self.num_inference_steps < 0:
            raise ValueError(
                f"num_inference_steps must be >= 0 (0: checkpoint default), got {self.num_inference_steps}"
            )
        GateConfig(self.max_window_age_s, self.min_replan_period_s)  # raises on bad values
        if self.chunk_form not in CHUNK_FORMS:
            raise ValueError(f"chunk_form must be one of {CHUNK_FORMS}, got '{self.chunk_form}'")
        if self.torch_threads < 0:
            raise ValueError(f"torch_threads must be >= 0 (0: choose by timing at configure), got {self.torch_threads}")

    @property
    def gate(self) -> GateConfig:
        return GateConfig(max_window_age_s=self.max_window_age_s, min_replan_period_s=self.min_replan_period_s)

    @classmethod
    def from_params(cls, v: dict) -> ChunkProducerConfig:
        """From the node's parameter values (names as declared by the policy node)."""
        return cls(
            checkpoint_path=v["checkpoint_path"],
            device=v["device"],
            precision=v["precision"],
            num_inference_steps=v["num_inference_steps"],
            warm_start=v["warm_start"],
            seed=v["seed"],
            expected_obs=parse_obs_specs(v["expected_obs_keys"], v["expected_obs_shapes"]),
            action_names=tuple(v["action_names"]),
            min_replan_period_s=v["min_replan_period_s"],
            max_window_age_s=v["max_window_age_s"],
            chunk_form=v["chunk_form"],
            torch_threads=v["torch_threads"],
        )


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
    def p99_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 99)) if self.latencies_ms else 0.0

    @property
    def rate_hz(self) -> float:
        """Chunks per second over the recent window (0 with fewer than two, or after a 5 s pause)."""
        if len(self.times_s) < 2 or time.monotonic() - self.times_s[-1] > 5.0:
            return 0.0
        return (len(self.times_s) - 1) / max(self.times_s[-1] - self.times_s[0], 1e-9)


class ChunkProducer:
    """A loaded policy plus what the node needs around it (sequence numbers, warm start, stats)."""

    def __init__(self, policy: object, config: ChunkProducerConfig) -> None:
        self.policy = policy
        self.config = config
        self.spec: PolicySpec = policy.spec  # type: ignore[attr-defined]
        self.policy_id: str = policy.policy_id  # type: ignore[attr-defined]
        self.device = str(getattr(policy, "device", "cpu"))
        self.precision = str(getattr(policy, "precision", "fp32"))
        self.form = str(getattr(policy, "form", "off"))
        self.threads = 0  # torch intra-op threads in use (0: not set by this producer)
        self.sequence = 0
        self.gate = WindowGate(self.spec, config.gate)  # staleness, rate/shape check, replanning
        self.stats = RateStats()
        self._previous_chunk: object | None = None

    @classmethod
    def load(cls, config: ChunkProducerConfig) -> ChunkProducer:
        """Load, check against the configuration, prepare and warm up (ValueError says what is wrong).

        Order: device (a clear error before any loading), precision (``Policy``'s accuracy check),
        chunk program (form by check and timing), then the thread count, which changes neither.
        """
        # torch is imported only when a policy is loaded
        from dp_core.policy.accelerated import AcceleratedPolicy
        from dp_core.policy.device import resolve_device
        from dp_core.policy.inference import Policy

        device = resolve_device(config.device)
        path = Path(config.checkpoint_path).expanduser()
        if not path.exists():
            raise ValueError(f"checkpoint '{path}' does not exist")
        try:
            policy = Policy.from_checkpoint(
                path,
                device=str(device),
                num_inference_steps=config.num_inference_steps or None,
                precision=config.precision,  # type: ignore[arg-type]
            )
        except Exception as exc:
            raise ValueError(f"cannot load checkpoint '{path}': {type(exc).__name__}: {exc}") from exc
        problems = spec_mismatch(policy.spec, config.expected_obs or policy.spec.obs, config.action_names)
        if problems:
            raise ValueError(f"checkpoint '{path.name}' does not match the configuration: " + "; ".join(problems))
        loaded: object = policy
        if config.chunk_form != "off":
            loaded = AcceleratedPolicy(policy, form=config.chunk_form)
            loaded.prepare()  # compile / capture now, never in activate
        producer = cls(loaded, config)
        producer.threads = producer._set_threads(config.torch_threads)
        loaded.warmup()  # type: ignore[attr-defined]
        return producer

    def _set_threads(self, requested: int) -> int:
        from dp_core.policy.cpu_threads import choose_thread_count, set_thread_count

        if requested > 0:
            return set_thread_count(requested)
        window = _reference_window(self.spec)
        return choose_thread_count(lambda: self.policy.predict(window, seed=0))[0]  # type: ignore[attr-defined]

    def release(self) -> None:
        """Free the chunk program (CUDA graph pool) and the model; the producer is unusable after."""
        release = getattr(self.policy, "release", None)
        if release is not None:
            release()
        self.form = "released"
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()  # give the GPU memory back, not just to torch's cache

    @property
    def summary(self) -> str:
        """One line for the status note and the log: what runs where, how."""
        return (
            f"{self.policy_id} on {self.device}: {self.precision}, chunk form {self.form}, {self.threads} torch threads"
        )

    def fill_status(self, msg: object, dropped: int) -> None:
        """Set a ``dp_msgs/PolicyStatus``'s policy fields (duck-typed: no ROS import here)."""
        values = {
            "policy_id": self.policy_id,
            "device": self.device,
            "last_inference_ms": self.stats.last_ms,
            "median_inference_ms": self.stats.median_ms,
            "chunk_rate_hz": self.stats.rate_hz,
            "chunks_published": self.sequence,
            "observations_dropped": dropped + self.gate.skipped,
        }
        for field, value in values.items():
            setattr(msg, field, value)

    def status_values(self) -> dict[str, str]:
        """What /diagnostics reports beyond PolicyStatus: precision, chunk form, threads, latency."""
        serial = getattr(self.policy, "serial", 0)
        return {
            "device": self.device,
            "precision": self.precision,
            "chunk_form": self.form,
            "chunk_program": str(serial),
            "torch_threads": str(self.threads),
            "chunk_ms_last": f"{self.stats.last_ms:.2f}",
            "chunk_ms_median": f"{self.stats.median_ms:.2f}",
            "chunk_ms_p99": f"{self.stats.p99_ms:.2f}",
        }

    def reset(self) -> None:
        """New activation: sequence numbers restart, no warm start from an older chunk, the next window is due."""
        self.sequence = 0
        self._previous_chunk = None
        self.gate.reset()

    def infer(self, window: CheckedWindow) -> ActionChunkData:
        """One chunk from a window the gate checked and admitted; the chunk's clock is the window's."""
        self.gate.started(window.stamp_ns)
        seed = None if self.config.seed < 0 else self.config.seed + self.sequence
        warm = self._previous_chunk if self.config.warm_start else None
        chunk = self.policy.predict(  # type: ignore[attr-defined]
            window, seed=seed, warm_start=warm, executed_steps=_executed_steps(warm), sequence=self.sequence + 1
        )
        self._previous_chunk = chunk
        self.stats.add(float(chunk.inference_ms))
        self.sequence += 1
        return chunk


def _reference_window(spec: PolicySpec) -> dict[str, dict[str, np.ndarray]]:
    """A valid window for timing: zeros and grey images (values do not change the work done)."""
    n = spec.n_obs_steps
    return {
        "low_dim": {k.name: np.zeros((n, k.shape[0]), np.float32) for k in spec.low_dim_keys},
        "images": {k.name: np.full((n, k.shape[1], k.shape[2], 3), 128, np.uint8) for k in spec.rgb_keys},
    }


def _executed_steps(previous_chunk: object | None) -> int:
    return 0 if previous_chunk is None else int(previous_chunk.execute_steps)  # type: ignore[attr-defined]
