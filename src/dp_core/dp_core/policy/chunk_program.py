"""One action chunk as a static-shape tensor program, run eagerly, compiled or as a CUDA graph.

Why: at batch 1 a chunk is 16-100 small denoiser calls of a few hundred kernels each. On a GPU
the eager Python loop spends most of its time launching kernels, not computing; replaying the
whole chunk (image conversion, normalization, encoder once, every denoising step, unnormalization)
as one CUDA graph removes that overhead. A graph needs fixed shapes and fixed memory: the program
reads only its own input buffers and writes its own output buffer, and it never syncs with the
host (no ``.item()``, no data-dependent branch, noise drawn beforehand).

Buffers (batch 1): ``images[key]`` uint8 (1, T, H, W, 3) as they arrive, ``low_dim[key]`` float32
(1, T, D) raw units, ``initial_noise`` (1, H, A), ``step_noise`` (n_steps, 1, H, A) (zeros for
steps that add no noise), output ``actions`` (1, H, A) float32 in robot units.

Capture follows torch/cuda/graphs.py (torch 2.13, ``torch.cuda.graph``/``CUDAGraph``): warm up on
a side stream first, one capture at a time per process, and in the default "global" capture mode
an unsafe CUDA call from any other thread fails the capture, so capture runs in configure, before
the inference thread starts; a failed capture is reported and the eager form kept.

Noise drawn by :func:`draw_chunk_noise` follows ``sample_actions``' order (x_T, then one draw per
stochastic DDPM step), so for the same generator the program's chunk equals
``DiffusionModel.sample`` (cold start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from dp_core.diffusion.schedules import DDIMScheduler, DDPMScheduler
from dp_core.models.unet1d import ConditionalUnet1D
from dp_core.policy.diffusion_model import ACTION_KEY, DiffusionModel
from dp_core.policy.fast_inference import FastUnet1D, convert_denoiser

log = logging.getLogger(__name__)

#: Forms a program can run in; "graph" needs CUDA.
FORMS = ("eager", "compile", "graph")
#: Warm-up runs before a CUDA graph capture (on a side stream, as torch.cuda.graphs requires).
GRAPH_WARMUP_RUNS = 3


@dataclass(frozen=True)
class ChunkNoise:
    """All the randomness of one cold-start chunk.

    Attributes:
        initial: x_T (1, H, A) float32.
        steps: (n_steps, 1, H, A) float32, the noise added after each step (zeros where none is).
    """

    initial: Tensor
    steps: Tensor


def draw_chunk_noise(
    scheduler: DDPMScheduler | DDIMScheduler,
    shape: tuple[int, int, int],
    generator: torch.Generator,
    initial: Tensor | None = None,
) -> ChunkNoise:
    """Noise in ``sample_actions``' draw order; ``scheduler.set_timesteps`` must have been called.

    ``initial``: a given x_T (1, H, A) instead of the first draw (the later DDPM draws then come
    first from ``generator``, as in ``sample_actions`` with its ``noise`` argument).
    """

    def draw() -> Tensor:
        return torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float32)

    if initial is not None and tuple(initial.shape) != shape:
        raise ValueError(f"initial noise must have shape {shape} (B, H, A), got {tuple(initial.shape)}")
    initial = draw() if initial is None else initial.to(generator.device, torch.float32)
    zero = torch.zeros(shape, device=generator.device)
    stochastic = isinstance(scheduler, DDPMScheduler)
    steps = [draw() if stochastic and t > 0 else zero for t in scheduler.timesteps_host]
    return ChunkNoise(initial, torch.stack(steps))


class ChunkProgram:
    """The static-buffer chunk of one policy on one device (see the module docstring)."""

    def __init__(self, model: DiffusionModel, device: torch.device, denoiser: nn.Module | None = None) -> None:
        """``denoiser``: what runs the steps (default ``program_denoiser(model)``), shareable by programs."""
        self.model = model
        self.device = device
        spec = model.spec
        self.n_steps = model.num_inference_steps or model.config.noise.num_train_timesteps
        self.scheduler = model.inference_scheduler
        self.scheduler.set_timesteps(self.n_steps, device=device, dtype=torch.float32)
        self.shape = (1, spec.horizon, spec.action_dim)
        t = spec.n_obs_steps
        self.images = {
            k.name: torch.zeros((1, t, k.shape[1], k.shape[2], 3), dtype=torch.uint8, device=device)
            for k in spec.rgb_keys
        }
        self.low_dim = {k.name: torch.zeros((1, t, k.shape[0]), device=device) for k in spec.low_dim_keys}
        self.initial_noise = torch.zeros(self.shape, device=device)
        self.step_noise = torch.zeros((self.n_steps, *self.shape), device=device)
        self.actions = torch.zeros(self.shape, device=device)
        # A CUDA graph keeps raw pointers: hold every tensor it reads (the scheduler's coefficients
        # would be freed if the policy's scheduler were replaced).
        self._coefficients = self.scheduler._coefficients
        self._condition, self._denoise = _step_functions(
            program_denoiser(model) if denoiser is None else denoiser, self.scheduler, device
        )

    def set_noise(self, noise: ChunkNoise) -> None:
        """Copy a chunk's noise into the input buffers (asynchronous on CUDA)."""
        if tuple(noise.initial.shape) != self.shape or tuple(noise.steps.shape) != (self.n_steps, *self.shape):
            raise ValueError(
                f"noise must be initial {self.shape} and steps {(self.n_steps, *self.shape)}, got "
                f"{tuple(noise.initial.shape)} and {tuple(noise.steps.shape)}"
            )
        self.initial_noise.copy_(noise.initial, non_blocking=True)
        self.step_noise.copy_(noise.steps, non_blocking=True)

    def run(self) -> Tensor:
        """Inputs → ``actions`` (the same buffer every time); pure tensor work, no host sync."""
        obs: dict[str, Tensor] = {k: v.permute(0, 1, 4, 2, 3).float().div(255.0) for k, v in self.images.items()}
        obs.update(self.low_dim)
        condition = self._condition(self.model.encode_observations(obs))  # once per chunk
        x = self.initial_noise
        for index in range(self.n_steps):
            x = self._step(self._denoise(x, index, condition), index, x)
        self.actions.copy_(self.model.normalizer.unnormalize(ACTION_KEY, x))
        return self.actions

    def _step(self, output: Tensor, index: int, x: Tensor) -> Tensor:
        if isinstance(self.scheduler, DDIMScheduler):
            return self.scheduler.step(output, index, x)
        # DDPM with the pre-drawn noise: the scheduler's own coefficients for this step.
        sqrt_ab, sqrt_one_minus_ab, coef_x0, coef_xt, std = self.scheduler._coefficients_at(index)
        if self.scheduler.config.prediction_type == "epsilon":
            x0 = (x - sqrt_one_minus_ab * output) / sqrt_ab
        else:
            x0 = output
        prev = coef_x0 * self.scheduler._clip(x0) + coef_xt * x
        if self.scheduler.timesteps_host[index] > 0:
            prev = prev + std * self.step_noise[index]
        return prev


def program_denoiser(model: DiffusionModel) -> nn.Module:
    """The policy's denoiser as a program runs it: a float32 ``ConditionalUnet1D`` becomes its fp32
    ``FastUnet1D`` form (same weights, step FiLM table); anything else as it is."""
    if isinstance(model.denoiser, ConditionalUnet1D):
        return convert_denoiser(model.denoiser, "fp32", model.config.noise.num_train_timesteps)
    return model.denoiser


def _step_functions(
    denoiser: nn.Module,
    scheduler: DDPMScheduler | DDIMScheduler,
    device: torch.device,
) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor, int, Tensor], Tensor]]:
    """(condition(features), denoise(x, step index, condition)) for ``denoiser``.

    U-Net: the step part of the FiLM is a table row per inference step (``FastUnet1D.step_film``)
    and the observation part is encoded once per chunk, so a step is only ``run_levels``. Other
    denoisers (the transformer) are called with the observation features.
    """
    if isinstance(denoiser, FastUnet1D):
        index = torch.tensor(scheduler.timesteps_host, device=device)
        film_table = torch.as_tensor(denoiser.step_film).to(device)[index]  # (n_steps, film channels) float32
        dtype = denoiser.compute_dtype
        unet = denoiser.unet

        def denoise_unet(x: Tensor, step: int, cond_cache: Tensor) -> Tensor:
            film = (film_table[step : step + 1] + cond_cache).to(dtype).unsqueeze(-1)
            return unet.run_levels(x.to(dtype), film).float()

        return denoiser.encode_condition, denoise_unet
    dtype = getattr(denoiser, "input_dtype", None) or next(denoiser.parameters()).dtype
    timesteps = scheduler.timesteps

    def denoise_any(x: Tensor, step: int, features: Tensor) -> Tensor:
        return denoiser(x.to(dtype), timesteps[step : step + 1], features).float()

    return (lambda features: features.to(dtype)), denoise_any


class ChunkRunner:
    """A :class:`ChunkProgram` in one form: ``eager``, ``compile`` (torch.compile) or ``graph``.

    ``prepare()`` does the expensive part (compilation, warm-up, capture) and belongs in the
    lifecycle configure; ``__call__`` then replays. ``release()`` drops the graph, its memory pool
    and the buffers.
    """

    def __init__(self, program: ChunkProgram, form: str, compile_mode: str = "default") -> None:
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        if form == "graph" and program.device.type != "cuda":
            raise ValueError(f"form 'graph' (a CUDA graph) needs a CUDA device, the program is on {program.device}")
        self.program: ChunkProgram | None = program
        self.form = form
        self.compile_mode = compile_mode if form == "compile" else ""
        self._graph: torch.cuda.CUDAGraph | None = None
        self._compiled: Callable[[], Tensor] | None = None

    @property
    def name(self) -> str:
        return f"compile:{self.compile_mode}" if self.form == "compile" else self.form

    @torch.inference_mode()
    def prepare(self) -> None:
        """Compile or capture now (minutes for torch.compile, about a second for a graph)."""
        program = self._program()
        if self.form == "compile":
            self._compiled = torch.compile(program.run, mode=self.compile_mode, dynamic=False)
            self._compiled()  # compiles
        elif self.form == "graph":
            # torch.cuda.graphs: warm up on a side stream (lazy init, cuDNN autotuning), then capture.
            side = torch.cuda.Stream(device=program.device)
            side.wait_stream(torch.cuda.current_stream(program.device))
            with torch.cuda.stream(side):
                for _ in range(GRAPH_WARMUP_RUNS):
                    program.run()
            torch.cuda.current_stream(program.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                program.run()
            self._graph = graph
        else:
            program.run()

    @torch.inference_mode()
    def __call__(self) -> Tensor:
        """One chunk from the current input buffers → the program's ``actions`` buffer."""
        program = self._program()
        if self._graph is not None:
            self._graph.replay()
            return program.actions
        if self._compiled is not None:
            return self._compiled()
        if self.form != "eager":
            raise RuntimeError(f"form {self.form!r} was not prepared; call prepare() first")
        return program.run()

    def release(self) -> None:
        """Free the graph (and its private memory pool), the compiled code and the buffers."""
        self._graph = self._compiled = self.program = None
        if self.form == "compile":
            torch._dynamo.reset()  # drop the compiled frames that hold the buffers

    def _program(self) -> ChunkProgram:
        if self.program is None:
            raise RuntimeError("this chunk runner was released")
        return self.program
