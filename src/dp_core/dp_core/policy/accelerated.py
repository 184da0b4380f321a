"""The deployment path: a loaded ``Policy`` behind a prepared chunk program (CUDA graph on a GPU).

What it adds to ``Policy.predict`` (which stays the reference):
- observations staged in pinned host buffers and copied to the device asynchronously
  (``non_blocking``), images as uint8 (converted on the device, inside the program);
- the whole cold-start chunk as one :class:`ChunkRunner` in the fastest form that passes a check:
  each candidate form is prepared (compiled / captured), its chunk compared with the eager
  program's for the same noise (``FORM_TOLERANCE``), timed, and the fastest kept;
- the precision stays the one ``Policy`` chose (fp32 by default; never by timing); nothing here
  changes it.

The form is chosen by timing here (a CUDA graph or a compiled program only when faster),
and it cannot move the numerics beyond its check: a form is kept only if its chunk is within
``FORM_TOLERANCE`` (1e-3 relative) of the eager program's for the same inputs and noise (a graph
replays eager's kernels, difference 0). On a CPU "auto" runs eager without timing anything.

All of this happens in ``prepare()`` (lifecycle configure); ``release()`` (cleanup) frees it.
Warm-started chunks (a different start step) run ``Policy.predict`` eagerly.
"""

from __future__ import annotations

import itertools
import logging
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dp_core.control.action_chunk import ActionChunkData
from dp_core.policy.chunk_program import ChunkNoise, ChunkProgram, ChunkRunner, draw_chunk_noise, program_denoiser
from dp_core.policy.inference import Policy, make_chunk
from dp_core.policy.window_input import checked_window
from dp_core.spec import PolicySpec

log = logging.getLogger(__name__)

#: Max relative chunk difference of a compiled/captured form vs the eager program, same noise
#: (max |a - a_eager| / max |a_eager|, normalized actions). A graph replays the eager kernels
#: (difference 0); torch.compile may fuse and reorder float operations.
FORM_TOLERANCE = 1e-3
#: Forms tried by "auto": on CUDA the graph against eager; on a CPU eager only (torch.compile
#: costs a minute or more per policy there for a few percent, see README "GPU").
AUTO_FORMS = {"cuda": ("eager", "graph"), "cpu": ("eager",)}
#: torch.compile modes measured for form "compile".
COMPILE_MODES = {"cuda": ("default", "max-autotune-no-cudagraphs"), "cpu": ("default",)}
FORM_CHOICES = ("auto", "eager", "compile", "graph")
_serial = itertools.count(1)


class AcceleratedPolicy:
    """``Policy`` with a prepared chunk program; the same ``predict`` signature and chunk."""

    def __init__(
        self,
        policy: Policy,
        form: str = "auto",
        timing_runs: int = 5,
        compile_modes: tuple[str, ...] | None = None,
    ) -> None:
        """``compile_modes``: torch.compile modes tried for form "compile" (default ``COMPILE_MODES``)."""
        if form not in FORM_CHOICES:
            raise ValueError(f"form must be one of {FORM_CHOICES}, got {form!r}")
        if form == "graph" and policy.device.type != "cuda":
            raise ValueError(
                f"form 'graph' (CUDA graph) needs device cuda, the policy is on {policy.device}; "
                "use form 'auto' or 'eager'"
            )
        if timing_runs < 1:
            raise ValueError(f"timing_runs must be >= 1, got {timing_runs}")
        self.policy = policy
        self.requested_form = form
        self.timing_runs = timing_runs
        self.compile_modes = compile_modes or COMPILE_MODES[policy.device.type]
        self.runner: ChunkRunner | None = None
        #: Per candidate form: {"ms": median chunk ms, "rel_diff": vs eager} or {"error": ...}.
        self.form_check: dict[str, dict[str, Any]] = {}
        self.serial = 0  # which preparation this is (process-wide), to tell a re-created program apart
        self._host: dict[str, Tensor] = {}

    # ---- what the node reports ----

    @property
    def spec(self) -> PolicySpec:
        return self.policy.spec

    @property
    def policy_id(self) -> str:
        return self.policy.policy_id

    @property
    def device(self) -> torch.device:
        return self.policy.device

    @property
    def precision(self) -> str:
        return self.policy.precision

    @property
    def form(self) -> str:
        return self.runner.name if self.runner is not None else "released"

    # ---- configure / cleanup ----

    def prepare(self) -> None:
        """Build, check and time the candidate forms; keep the fastest that matches eager.

        Timing picks only among forms that passed the ``FORM_TOLERANCE`` check against eager, so a
        loaded machine can change the speed of a chunk, never its numbers beyond 1e-3.
        """
        self.release()
        device = self.device
        denoiser = program_denoiser(self.policy.model)  # converted once, shared by every candidate
        eager = ChunkRunner(ChunkProgram(self.policy.model, device, denoiser), "eager")
        self._host = {
            name: torch.zeros(buffer.shape, dtype=buffer.dtype, pin_memory=device.type == "cuda")
            for name, buffer in _inputs(eager.program).items()
        }
        assert eager.program is not None  # just built
        reference_obs, noise = self._reference_inputs(eager.program)
        start = time.perf_counter()
        reference = self._checked_run(eager, reference_obs, noise)
        candidates = self._candidates()
        # Timing eager only pays when there is something to compare it with (a CPU has nothing:
        # five 65 M-parameter chunks would add seconds to configure for no decision).
        eager_ms = self._median_ms(eager) if candidates else round(1e3 * (time.perf_counter() - start), 3)
        self.form_check = {"eager": {"ms": eager_ms, "rel_diff": 0.0}}
        # A requested form wins over eager whenever it passes the check; "auto" only when faster.
        best, best_ms = eager, eager_ms if self.requested_form == "auto" else float("inf")
        for form, mode in candidates:
            runner = ChunkRunner(ChunkProgram(self.policy.model, device, denoiser), form, mode)
            try:
                start = time.perf_counter()
                runner.prepare()
                prepare_s = time.perf_counter() - start
                difference = _relative_difference(self._checked_run(runner, reference_obs, noise), reference)
            except Exception as error:
                log.warning("chunk form %s unavailable: %s: %s", runner.name, type(error).__name__, error)
                self.form_check[runner.name] = {"error": f"{type(error).__name__}: {error}"[:200]}
                runner.release()
                continue
            ms = self._median_ms(runner)
            self.form_check[runner.name] = {"ms": ms, "rel_diff": difference, "prepare_s": round(prepare_s, 2)}
            log.info(
                "chunk form %s: %.2f ms (eager %.2f ms), differs from eager by %.1e, prepared in %.1f s",
                runner.name,
                ms,
                eager_ms,
                difference,
                prepare_s,
            )
            if difference <= FORM_TOLERANCE and ms < best_ms:
                if best is not eager:
                    best.release()
                best, best_ms = runner, ms
            else:
                runner.release()
        if best is not eager:
            eager.release()
        else:
            best_ms = eager_ms
            if self.requested_form not in ("auto", "eager"):
                log.warning(
                    "form %s requested but unavailable or off by more than %.0e; running eager",
                    self.requested_form,
                    FORM_TOLERANCE,
                )
        self.runner = best
        self.serial = next(_serial)
        log.info("chunk program #%d: %s, %s on %s, %.2f ms", self.serial, best.name, self.precision, device, best_ms)

    def release(self) -> None:
        """Free the chunk program (graph pool, compiled code, buffers); ``prepare`` re-creates it."""
        if self.runner is not None:
            self.runner.release()
        self.runner = None
        self._host = {}
        if self.device.type == "cuda":
            torch.cuda.empty_cache()  # give the graph's memory back to the driver, not only to torch's cache

    def warmup(self, runs: int = 2) -> None:
        """Prepare when not prepared yet, then run a few reference chunks (what ``Policy`` offers)."""
        if self.runner is None:
            self.prepare()
        for _ in range(runs):
            self._chunk()

    # ---- prediction ----

    def predict(
        self,
        observation: Any,
        seed: int | None = None,
        warm_start: ActionChunkData | None = None,
        executed_steps: int = 0,
        noise: np.ndarray | Tensor | None = None,
        sequence: int = 0,
    ) -> ActionChunkData:
        """Observation window → chunk; the same chunk as ``Policy.predict`` for the same seed.

        ``noise``: the initial noise x_T (horizon, action_dim), normalized, instead of a seeded
        draw (DDIM is then a deterministic function of it; DDPM's later draws still use the seed).
        The chunk's ``inference_ms`` includes drawing the noise.
        """
        start = time.perf_counter()
        if warm_start is not None or self.runner is None:
            extra = {} if noise is None else {"noise": noise}  # Policy.predict's noise argument
            return self.policy.predict(
                observation, seed=seed, warm_start=warm_start, executed_steps=executed_steps, sequence=sequence, **extra
            )
        if seed is None:
            seed = int(self.policy._rng.integers(0, 2**63 - 1))
        generator = torch.Generator(self.device).manual_seed(int(seed))
        program = self.runner.program
        if program is None:
            raise RuntimeError("the chunk program was released; call prepare() first")
        initial = None if noise is None else _initial_noise(noise, program.shape)
        noise_draw = draw_chunk_noise(program.scheduler, program.shape, generator, initial)
        return self.predict_with_noise(observation, noise_draw, sequence, started=start)

    def predict_with_noise(
        self, observation: Any, noise: ChunkNoise, sequence: int = 0, started: float | None = None
    ) -> ActionChunkData:
        """Cold-start chunk from the given noise (``draw_chunk_noise``): the fixed-noise entry point.

        ``started``: ``time.perf_counter()`` when the prediction began (``inference_ms`` counts from it).
        """
        start = time.perf_counter() if started is None else started
        window = checked_window(self.spec, observation)
        if self.runner is None:
            raise RuntimeError("the chunk program was released; call prepare() first")
        self._stage(self.runner.program, window.arrays)  # type: ignore[arg-type]
        self.runner.program.set_noise(noise)  # type: ignore[union-attr]
        # A copy, never a view of the program's output buffer (on a CPU .cpu() would return that buffer);
        # on CUDA the copy back waits for the chunk.
        actions = self._chunk()[0].to("cpu", copy=True).numpy()
        ms = 1e3 * (time.perf_counter() - start)
        return make_chunk(self.spec, actions, window.stamp_ns, ms, sequence, self.policy_id)

    def _stage(self, program: ChunkProgram, arrays: dict[str, np.ndarray]) -> None:
        """numpy → pinned host buffer → device buffer (asynchronous on CUDA; CPU: one copy)."""
        buffers = _inputs(program)
        with torch.inference_mode():
            for name, value in arrays.items():
                tensor = torch.from_numpy(value)[None]
                if self.device.type == "cuda":
                    host = self._host[name]
                    host.copy_(tensor)
                    buffers[name].copy_(host, non_blocking=True)
                else:
                    buffers[name].copy_(tensor)

    def _chunk(self) -> Tensor:
        return self.runner()  # type: ignore[misc]

    # ---- self-check helpers ----

    def _candidates(self) -> list[tuple[str, str]]:
        kind = self.device.type
        if self.requested_form == "auto":
            forms = [f for f in AUTO_FORMS[kind] if f != "eager"]
        elif self.requested_form == "eager":
            forms = []
        else:
            forms = [self.requested_form]
        out = []
        for form in forms:
            modes = self.compile_modes if form == "compile" else ("default",)
            out += [(form, mode) for mode in modes]
        return out

    def _reference_inputs(self, program: ChunkProgram) -> tuple[dict[str, np.ndarray], ChunkNoise]:
        """Mid-range observation (normalized zero, grey images) and seed-0 noise."""
        spec = self.spec
        zero = {k.name: torch.zeros((spec.n_obs_steps, k.shape[0])) for k in spec.low_dim_keys}
        normalizer = self.policy.model.normalizer
        obs = {k: normalizer.unnormalize(k, v.to(self.device)).cpu().numpy() for k, v in zero.items()}
        obs |= {k.name: np.full((spec.n_obs_steps, k.shape[1], k.shape[2], 3), 128, np.uint8) for k in spec.rgb_keys}
        generator = torch.Generator(self.device).manual_seed(0)
        return obs, draw_chunk_noise(program.scheduler, program.shape, generator)

    def _checked_run(self, runner: ChunkRunner, obs: dict[str, np.ndarray], noise: ChunkNoise) -> Tensor:
        self._stage(runner.program, obs)  # type: ignore[arg-type]
        runner.program.set_noise(noise)  # type: ignore[union-attr]
        actions = runner().clone()
        return self.policy.model.normalizer.normalize("action", actions)

    def _median_ms(self, runner: ChunkRunner) -> float:
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        times = []
        for _ in range(self.timing_runs):
            sync()
            start = time.perf_counter()
            runner()
            sync()
            times.append(1e3 * (time.perf_counter() - start))
        return round(statistics.median(times), 3)


def _inputs(program: ChunkProgram | None) -> dict[str, Tensor]:
    assert program is not None, "runner without a program"
    return {**program.images, **program.low_dim}


def _initial_noise(noise: np.ndarray | Tensor, shape: tuple[int, int, int]) -> Tensor:
    tensor = torch.as_tensor(noise, dtype=torch.float32)
    if tuple(tensor.shape) != shape[1:] or not bool(torch.isfinite(tensor).all()):
        raise ValueError(
            f"noise must be finite with shape {shape[1:]} (horizon, action_dim), got shape {tuple(tensor.shape)}"
        )
    return tensor[None]


def _relative_difference(a: Tensor, reference: Tensor) -> float:
    return float((a - reference).abs().max() / reference.abs().max().clamp(min=1e-6))
