"""Offline evaluation: a policy's chunks at recorded times against the recorded actions.

Closed-loop success needs a robot or a simulator; this needs only recorded episodes. At every
evaluated time the policy sees the window the observation node would have built (targets
``t - (T-1)·dt .. t`` from ``dp_core.timing.alignment.target_times``, each stream's latest sample
not after each target, which is what the converter's fixed-rate rows hold), draws K chunks with
different noise, and each chunk is compared with what the demonstrator did next: chunk index
``h`` is aligned with row ``t_index - (n_obs_steps - 1) + h`` (index ``n_obs_steps - 1`` with the
newest observation, see ``dp_core.spec``). The executed part is the ``n_action_steps`` actions
from that aligned index on. Rows past the episode end have no recorded action: NaN, left out.

Pure numpy (no ROS, no torch): the policy comes in as a ``Predictor`` function.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dp_core.spec import PolicySpec
from dp_core.timing.alignment import dt_to_ns, target_times
from dp_core.timing.observation_window import ObservationWindowData

#: (window, seed) -> (horizon, action_dim) actions in robot units; same seed, same chunk.
Predictor = Callable[[ObservationWindowData, int], np.ndarray]


@dataclass(frozen=True)
class ReplayEpisode:
    """One recorded episode on the policy's timeline, in the policy's observation keys.

    Attributes:
        name: episode name (the bag's), used for file names and seeds.
        ticks_ns: (N,) int64 row times, exactly ``dt_s`` apart (the converter's timeline).
        low_dim: key -> (N, D) float32.
        images: key -> (N, H, W, 3) uint8 RGB.
        actions: (N, action_dim) float32 recorded actions (the dataset's ``action`` rows).
        info: free-form facts copied into the report (source bag, success, task).
        obs_age_s: (N,) age at each row of the oldest "newest sample" of the observation streams
            (row time - that sample's stamp); None if unknown.
    """

    name: str
    ticks_ns: np.ndarray
    low_dim: dict[str, np.ndarray]
    images: dict[str, np.ndarray]
    actions: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    obs_age_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        ticks = np.asarray(self.ticks_ns, dtype=np.int64)
        object.__setattr__(self, "ticks_ns", ticks)
        n = len(ticks)
        if ticks.ndim != 1 or n < 1:
            raise ValueError(f"episode '{self.name}': ticks_ns must be a non-empty 1-D array, got {ticks.shape}")
        arrays = {**self.low_dim, **self.images, "action": self.actions}
        wrong = {key: value.shape for key, value in arrays.items() if len(value) != n}
        if wrong:
            raise ValueError(f"episode '{self.name}': arrays must have {n} rows like ticks_ns, got {wrong}")
        if self.obs_age_s is not None and np.shape(self.obs_age_s) != (n,):
            raise ValueError(f"episode '{self.name}': obs_age_s must have shape ({n},), got {np.shape(self.obs_age_s)}")
        if self.actions.ndim != 2:
            raise ValueError(f"episode '{self.name}': actions must be (N, action_dim), got {self.actions.shape}")

    @property
    def length(self) -> int:
        return len(self.ticks_ns)


@dataclass(frozen=True)
class ReplayConfig:
    """How many chunks to draw where.

    Attributes:
        samples: chunks per window (K), each from its own seeded noise (shows multimodality).
        stride: rows between evaluated windows; None: the policy's n_action_steps (its replanning).
        seed: base seed; a chunk's seed depends on it, the episode name, the row and the sample.
        max_age_s: rows where an observation stream's newest sample is older than this are
            skipped, as the observation node would refuse that window (None: none skipped).
    """

    samples: int = 4
    stride: int | None = None
    seed: int = 0
    max_age_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_age_s is not None and not (np.isfinite(self.max_age_s) and self.max_age_s > 0):
            raise ValueError(f"max_age_s must be a finite number > 0 or None, got {self.max_age_s}")
        if not isinstance(self.samples, int) or self.samples < 1:
            raise ValueError(f"samples must be an int >= 1, got {self.samples!r}")
        if self.stride is not None and (not isinstance(self.stride, int) or self.stride < 1):
            raise ValueError(f"stride must be an int >= 1 or None, got {self.stride!r}")


@dataclass(frozen=True)
class EpisodeEvaluation:
    """The chunks of one episode and the recorded actions they are compared with.

    Attributes:
        episode: the evaluated episode.
        rows: (W,) row index of each window's newest observation.
        seeds: (W, K) seed of each chunk.
        chunks: (W, K, horizon, action_dim) predicted actions.
        recorded: (W, horizon, action_dim) recorded actions at the chunk's rows, NaN past the end.
        stale_rows: rows skipped because a stream was stale (``ReplayConfig.max_age_s``).
    """

    episode: ReplayEpisode
    rows: np.ndarray
    seeds: np.ndarray
    chunks: np.ndarray
    recorded: np.ndarray
    stale_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def stamps_ns(self) -> np.ndarray:
        return self.episode.ticks_ns[self.rows]


def window_rows(length: int, spec: PolicySpec, stride: int) -> np.ndarray:
    """Rows with a full window behind them (``n_obs_steps - 1`` .. ``length - 1``), every ``stride``."""
    return np.arange(spec.n_obs_steps - 1, length, stride, dtype=np.int64)


def evaluated_rows(episode: ReplayEpisode, spec: PolicySpec, config: ReplayConfig) -> tuple[np.ndarray, np.ndarray]:
    """(rows to evaluate, rows skipped as stale): ``window_rows`` every stride, minus stale rows."""
    rows = window_rows(episode.length, spec, config.stride or spec.n_action_steps)
    if config.max_age_s is None or episode.obs_age_s is None:
        return rows, np.zeros(0, dtype=np.int64)
    stale = episode.obs_age_s[rows] > config.max_age_s
    return rows[~stale], rows[stale]


def observation_window(episode: ReplayEpisode, spec: PolicySpec, row: int) -> ObservationWindowData:
    """The window whose newest target is row ``row``'s time (the live rule, on the recorded rows)."""
    first = row - spec.n_obs_steps + 1
    if first < 0 or row >= episode.length:
        raise IndexError(f"row {row}: a window needs rows {first}..{row} of {episode.length}")
    targets = target_times(int(episode.ticks_ns[row]), spec.n_obs_steps, dt_to_ns(spec.dt_s))
    rows = slice(first, row + 1)
    if not np.array_equal(targets, episode.ticks_ns[rows]):
        raise ValueError(
            f"episode '{episode.name}': rows {first}..{row} are not {spec.dt_s} s apart "
            f"(stamps {episode.ticks_ns[rows].tolist()}, window targets {targets.tolist()})"
        )
    return ObservationWindowData(
        stamps_ns=targets,
        low_dim={key: value[rows] for key, value in episode.low_dim.items()},
        images={key: value[rows] for key, value in episode.images.items()},
    )


def recorded_chunk(actions: np.ndarray, spec: PolicySpec, row: int) -> np.ndarray:
    """(horizon, action_dim) recorded actions aligned with a chunk predicted at ``row``; NaN past the end."""
    out = np.full((spec.horizon, actions.shape[1]), np.nan, dtype=np.float32)
    first = row - spec.n_obs_steps + 1
    stop = min(first + spec.horizon, len(actions))
    out[: stop - first] = actions[first:stop]
    return out


def chunk_seed(seed: int, episode_name: str, row: int, sample: int) -> int:
    """A seed per (run seed, episode, row, sample) that does not depend on the order of the bags."""
    entropy = [int(seed) & 0xFFFFFFFF, zlib.crc32(episode_name.encode()), int(row), int(sample)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def evaluate_episode(
    episode: ReplayEpisode,
    spec: PolicySpec,
    predict: Predictor,
    config: ReplayConfig,
    progress: Callable[[int], None] | None = None,
) -> EpisodeEvaluation:
    """Draw ``config.samples`` chunks at each evaluated row; ``progress(1)`` after each window."""
    if episode.actions.shape[1] != spec.action_dim:
        raise ValueError(
            f"episode '{episode.name}': recorded actions have {episode.actions.shape[1]} dimensions, "
            f"the policy predicts {spec.action_dim} ({list(spec.action_names)})"
        )
    rows, stale_rows = evaluated_rows(episode, spec, config)
    shape = (len(rows), config.samples, spec.horizon, spec.action_dim)
    chunks = np.zeros(shape, dtype=np.float32)
    seeds = np.zeros(shape[:2], dtype=np.int64)
    recorded = np.zeros((len(rows), spec.horizon, spec.action_dim), dtype=np.float32)
    for w, row in enumerate(rows):
        window = observation_window(episode, spec, int(row))
        recorded[w] = recorded_chunk(episode.actions, spec, int(row))
        for k in range(config.samples):
            seeds[w, k] = chunk_seed(config.seed, episode.name, int(row), k)
            actions = np.asarray(predict(window, int(seeds[w, k])), dtype=np.float32)
            if actions.shape != shape[2:]:
                raise ValueError(
                    f"predictor returned shape {actions.shape}, expected {shape[2:]} (horizon, action_dim)"
                )
            chunks[w, k] = actions
        if progress is not None:
            progress(1)
    return EpisodeEvaluation(
        episode=episode, rows=rows, seeds=seeds, chunks=chunks, recorded=recorded, stale_rows=stale_rows
    )


def _masked_mean(values: np.ndarray, axis: int | tuple[int, ...] | None) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN where nothing is valid (no warning)."""
    valid = ~np.isnan(values)
    total = np.where(valid, values, 0.0).sum(axis=axis, dtype=np.float64)
    count = valid.sum(axis=axis)
    return np.divide(total, count, out=np.full(np.shape(total), np.nan), where=count > 0)


def chunk_metrics(chunks: np.ndarray, recorded: np.ndarray, spec: PolicySpec) -> dict[str, Any]:
    """Errors of (W, K, H, A) chunks against (W, H, A) recorded actions (NaN rows left out).

    Per action dimension: mean absolute error at each horizon step (``horizon_mae`` (H, A)), over
    the whole horizon and over the executed part (``n_action_steps`` steps from the aligned
    index ``n_obs_steps - 1``), RMSE of the executed part. Per window: the executed error of the
    best of the K chunks and the spread of the K chunks (std over samples, mean over steps and
    dimensions; 0 for a deterministic sampler).
    """
    error = chunks.astype(np.float64) - recorded[:, None].astype(np.float64)
    absolute = np.abs(error)
    executed = slice(spec.n_obs_steps - 1, spec.n_obs_steps - 1 + spec.n_action_steps)
    exec_abs = absolute[:, :, executed]
    per_sample_exec = _masked_mean(exec_abs, axis=(2, 3))  # (W, K)
    spread = chunks.astype(np.float64).std(axis=1).mean(axis=(1, 2)) if len(chunks) else np.zeros(0)
    return {
        "windows": int(chunks.shape[0]),
        "samples": int(chunks.shape[1]),
        "action_names": list(spec.action_names),
        "executed_steps": [executed.start, executed.stop],
        "horizon_mae": _masked_mean(absolute, axis=(0, 1)),  # (H, A)
        "horizon_count": (~np.isnan(recorded)).all(axis=2).sum(axis=0) * chunks.shape[1],  # (H,)
        "mae": _masked_mean(absolute, axis=(0, 1, 2)),  # (A,)
        "executed_mae": _masked_mean(exec_abs, axis=(0, 1, 2)),  # (A,)
        "executed_rmse": np.sqrt(_masked_mean(error[:, :, executed] ** 2, axis=(0, 1, 2))),  # (A,)
        "window_executed_mae": _masked_mean(per_sample_exec, axis=1),  # (W,) mean over the K chunks
        "window_best_executed_mae": np.nanmin(per_sample_exec, axis=1) if per_sample_exec.size else np.zeros(0),
        "window_spread": spread,  # (W,)
    }


def episode_metrics(evaluation: EpisodeEvaluation, spec: PolicySpec) -> dict[str, Any]:
    """``chunk_metrics`` plus the rows, stamps and seeds of each window."""
    metrics = chunk_metrics(evaluation.chunks, evaluation.recorded, spec)
    metrics.update(
        episode=evaluation.episode.name,
        length=evaluation.episode.length,
        rows=evaluation.rows,
        stamps_ns=evaluation.stamps_ns,
        seeds=evaluation.seeds,
        stale_rows=evaluation.stale_rows,
        info=dict(evaluation.episode.info),
    )
    return metrics


def summary_metrics(evaluations: list[EpisodeEvaluation], spec: PolicySpec) -> dict[str, Any]:
    """``chunk_metrics`` over the windows of every episode together."""
    if not evaluations:
        raise ValueError("no evaluated episode to summarize")
    chunks = np.concatenate([e.chunks for e in evaluations])
    recorded = np.concatenate([e.recorded for e in evaluations])
    metrics = chunk_metrics(chunks, recorded, spec)
    metrics["episodes"] = [e.episode.name for e in evaluations]
    return metrics


def jsonable(value: Any) -> Any:
    """Arrays to lists, NaN/inf to None, recursively (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
