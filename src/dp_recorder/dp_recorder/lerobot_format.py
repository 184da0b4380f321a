"""The LeRobot dataset format v3.0 (LeRobot >= 0.4): paths, feature descriptions, statistics.

Facts taken from LeRobot's own dataset code (huggingface/lerobot):
``src/lerobot/datasets/utils.py`` (paths, DEFAULT_FEATURES, ``create_empty_dataset_info``, the
chunk/file size defaults), ``lerobot_dataset.py`` (CODEBASE_VERSION "v3.0", the episodes-metadata
columns, tasks indexed by their text), ``compute_stats.py`` (per-feature min/max/mean/std/count
and the q01..q99 quantiles; images per channel in [0, 1], shape (3, 1, 1); aggregation weighted
by count) and ``video_utils.py`` (the ``info`` block of a video feature). Pure numpy; no ROS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dp_recorder.convert_config import StreamSpec

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk directory
DATA_FILES_SIZE_IN_MB = 100
VIDEO_FILES_SIZE_IN_MB = 500

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"

STATE_KEY = "observation.state"
ACTION_KEY = "action"
IMAGE_PREFIX = "observation.images."
#: Columns LeRobot adds to every dataset (utils.DEFAULT_FEATURES), in its order.
DEFAULT_FEATURES: dict[str, dict] = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
QUANTILE_KEYS = tuple(f"q{int(round(q * 100)):02d}" for q in QUANTILES)


def chunk_file(file_number: int) -> tuple[int, int]:
    """(chunk_index, file_index) of the n-th file of a stream (CHUNKS_SIZE files per chunk)."""
    return file_number // CHUNKS_SIZE, file_number % CHUNKS_SIZE


def dim_names(spec: StreamSpec | None, key: str, dim: int) -> list[str]:
    """Per-dimension names of a low-dim key: the config's names/components, else key.i."""
    picked = list((spec.names or spec.components) if spec is not None else ())
    if not picked and spec is not None and spec.indices:
        picked = [f"{spec.field}[{i}]" for i in spec.indices]
    if len(picked) != dim:
        return [f"{key}.{i}" for i in range(dim)]
    return [f"{key}.{name}" for name in picked]


def vector_feature(names: Sequence[str]) -> dict:
    return {"dtype": "float32", "shape": [len(names)], "names": list(names)}


def video_feature(height: int, width: int) -> dict:
    return {"dtype": "video", "shape": [height, width, 3], "names": ["height", "width", "channels"]}


def feature_stats(values: np.ndarray, image: bool = False) -> dict[str, np.ndarray]:
    """LeRobot's per-episode statistics of one feature.

    Vectors (N, D): per dimension, shape (D,); scalars (N,): shape (1,); images (N, H, W, 3)
    uint8: per channel in [0, 1], shape (3, 1, 1). ``count`` is N. Quantiles are exact here
    (LeRobot estimates them from histograms; the meaning is the same).
    """
    if image:
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64) / 255.0
        shape: tuple[int, ...] = (values.shape[-1], 1, 1)
    else:
        flat = values.reshape(len(values), -1).astype(np.float64)
        shape = (flat.shape[1],)
    stats = {
        "min": flat.min(axis=0),
        "max": flat.max(axis=0),
        "mean": flat.mean(axis=0),
        "std": flat.std(axis=0),
    }
    for name, q in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        stats[name] = np.quantile(flat, q, axis=0)
    out = {k: v.reshape(shape) for k, v in stats.items()}
    out["count"] = np.array([len(values)], dtype=np.int64)
    return out


def aggregate_stats(per_episode: Sequence[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Dataset statistics from per-episode ones, as compute_stats.aggregate_feature_stats does."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for key in per_episode[0]:
        parts = [ep[key] for ep in per_episode]
        counts = np.array([p["count"][0] for p in parts], dtype=np.float64)
        total = counts.sum()
        w = counts.reshape(-1, *([1] * parts[0]["mean"].ndim))
        means = np.stack([p["mean"] for p in parts])
        mean = (means * w).sum(axis=0) / total
        var = ((np.stack([p["std"] for p in parts]) ** 2 + (means - mean) ** 2) * w).sum(axis=0) / total
        agg = {
            "min": np.min([p["min"] for p in parts], axis=0),
            "max": np.max([p["max"] for p in parts], axis=0),
            "mean": mean,
            "std": np.sqrt(var),
            "count": np.array([int(total)], dtype=np.int64),
        }
        for name in QUANTILE_KEYS:
            agg[name] = (np.stack([p[name] for p in parts]) * w).sum(axis=0) / total
        out[key] = agg
    return out


def stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    return {key: {name: np.asarray(v).tolist() for name, v in s.items()} for key, s in stats.items()}
