"""Aligned episodes → a LeRobot v3.0 dataset directory (pyarrow Parquet, PyAV MP4).

Takes the same episode arrays ``dp-convert`` puts in the zarr ReplayBuffer and lays them out as
LeRobot >= 0.4 reads them (see ``lerobot_format`` for the upstream files the layout follows):
the low-dim obs keys, concatenated in config order, become ``observation.state``, ``action``
stays ``action``, each camera key becomes the video ``observation.images.<key>``; episodes are
appended to one Parquet file and one MP4 per camera, whose frame ``i`` of an episode sits at
``from_timestamp + i / fps``, the row's ``timestamp`` (time since the episode's first tick).
Files roll over to the next ``file-NNN`` at LeRobot's size limits.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from dp_recorder import lerobot_format as fmt
from dp_recorder.convert_config import ConvertConfig

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise (1 = errors)
import av
import pyarrow as pa
import pyarrow.parquet as pq

#: LeRobot's default encoder settings (video_utils.encode_video_frames).
VIDEO_CODECS = ("libsvtav1", "h264", "hevc")
VIDEO_OPTIONS = {"g": "2", "crf": "30"}


@dataclass
class _Rolling:
    """The open file of one stream (data table or one camera) and where it is in the chunk layout."""

    number: int = 0  # file number over the whole stream
    frames: int = 0  # frames already in the open file
    handle: Any = None
    stream: Any = None
    path: Path | None = None

    @property
    def chunk_file(self) -> tuple[int, int]:
        return fmt.chunk_file(self.number)

    def size_mb(self) -> float:
        """Bytes written so far (an encoder still holding its first packets has written none)."""
        return self.path.stat().st_size / 2**20 if self.path is not None and self.path.exists() else 0.0


@dataclass
class _Layout:
    """Feature layout fixed by the first episode; later ones must match it."""

    state_keys: list[str]
    image_keys: list[str]
    features: dict[str, dict] = field(default_factory=dict)


class LeRobotWriter:
    """Streams episodes into ``root`` (must not exist); ``close()`` writes the metadata."""

    def __init__(
        self,
        root: Path,
        config: ConvertConfig,
        *,
        robot_type: str | None = None,
        default_task: str = "",
        vcodec: str = "libsvtav1",
        data_files_size_in_mb: float = fmt.DATA_FILES_SIZE_IN_MB,
        video_files_size_in_mb: float = fmt.VIDEO_FILES_SIZE_IN_MB,
    ) -> None:
        fps = round(config.rate_hz)
        if abs(config.rate_hz - fps) > 1e-9 or fps < 1:
            raise ValueError(f"LeRobot datasets need an integer fps; rate_hz is {config.rate_hz}")
        if vcodec not in VIDEO_CODECS:
            raise ValueError(f"vcodec must be one of {VIDEO_CODECS} (LeRobot decodes these), got {vcodec!r}")
        self.root, self.config, self.fps = Path(root), config, fps
        self.robot_type, self.default_task, self.vcodec = robot_type, default_task or "dp_ros2 episode", vcodec
        if not (data_files_size_in_mb > 0 and video_files_size_in_mb > 0):
            raise ValueError("file size limits must be > 0 MB")
        self.data_mb, self.video_mb = data_files_size_in_mb, video_files_size_in_mb
        self.root.mkdir(parents=True)
        self._layout: _Layout | None = None
        self._data = _Rolling()
        self._videos: dict[str, _Rolling] = {}
        self._tasks: dict[str, int] = {}
        self._episodes: list[dict[str, Any]] = []
        self._stats: list[dict[str, dict[str, np.ndarray]]] = []
        self.n_steps = 0

    @property
    def n_episodes(self) -> int:
        return len(self._episodes)

    def _make_layout(self, data: Mapping[str, np.ndarray]) -> _Layout:
        specs = {s.key: s for s in self.config.obs}
        state_keys = [s.key for s in self.config.obs if not s.is_image]
        image_keys = [s.key for s in self.config.obs if s.is_image]
        features: dict[str, dict] = {}
        if state_keys:
            names = [n for k in state_keys for n in fmt.dim_names(specs[k], k, data[k].shape[1])]
            features[fmt.STATE_KEY] = fmt.vector_feature(names)
        features[fmt.ACTION_KEY] = fmt.vector_feature(
            fmt.dim_names(self.config.action.stream, "action", data["action"].shape[1])
        )
        for key in image_keys:
            h, w = data[key].shape[1:3]
            if h % 2 or w % 2:
                raise ValueError(
                    f"'{key}': {h}x{w} images; yuv420p video needs an even height and width "
                    "(set an even image: [H, W] in the converter config)"
                )
            features[fmt.IMAGE_PREFIX + key] = fmt.video_feature(h, w)
        return _Layout(state_keys, image_keys, {**features, **fmt.DEFAULT_FEATURES})

    def _check(self, data: Mapping[str, np.ndarray]) -> _Layout:
        layout = self._layout or self._make_layout(data)
        want = set(layout.state_keys) | set(layout.image_keys) | {"action", "timestamp"}
        if set(data) != want:
            raise ValueError(f"episode keys {sorted(data)} differ from the dataset's {sorted(want)}")
        got = {fmt.ACTION_KEY: data["action"].shape[1:]}
        if layout.state_keys:
            got[fmt.STATE_KEY] = (sum(data[k].shape[1] for k in layout.state_keys),)
        got.update({fmt.IMAGE_PREFIX + k: (*data[k].shape[1:3], 3) for k in layout.image_keys})
        for key, shape in got.items():
            if tuple(layout.features[key]["shape"]) != tuple(shape):
                raise ValueError(f"'{key}' has shape {tuple(shape)}, the dataset has {layout.features[key]['shape']}")
        return layout

    def add_episode(self, data: Mapping[str, np.ndarray], task: str = "") -> None:
        """Append one aligned episode (keys as in the zarr output); all or nothing per check."""
        layout = self._check(data)
        self._layout = layout
        n = len(data["action"])
        task = task or self.default_task
        task_index = self._tasks.setdefault(task, len(self._tasks))
        episode_index = self.n_episodes
        stamps = np.asarray(data["timestamp"], dtype=np.float64)
        columns: dict[str, np.ndarray] = {}
        if layout.state_keys:
            columns[fmt.STATE_KEY] = np.concatenate([data[k] for k in layout.state_keys], axis=1).astype(np.float32)
        columns[fmt.ACTION_KEY] = np.asarray(data["action"], dtype=np.float32)
        columns.update(
            {
                "timestamp": (stamps - stamps[0]).astype(np.float32),
                "frame_index": np.arange(n, dtype=np.int64),
                "episode_index": np.full(n, episode_index, dtype=np.int64),
                "index": np.arange(self.n_steps, self.n_steps + n, dtype=np.int64),
                "task_index": np.full(n, task_index, dtype=np.int64),
            }
        )
        meta: dict[str, Any] = {"episode_index": episode_index, "tasks": [task], "length": n}
        meta.update(self._write_data(columns, n))
        stats = {k: fmt.feature_stats(v) for k, v in columns.items()}
        for key in layout.image_keys:
            meta.update(self._write_video(fmt.IMAGE_PREFIX + key, np.asarray(data[key], dtype=np.uint8)))
            stats[fmt.IMAGE_PREFIX + key] = fmt.feature_stats(data[key], image=True)
        meta["meta/episodes/chunk_index"], meta["meta/episodes/file_index"] = 0, 0
        for key, s in stats.items():
            meta.update({f"stats/{key}/{name}": v.tolist() for name, v in s.items()})
        self._episodes.append(meta)
        self._stats.append(stats)
        self.n_steps += n

    def _write_data(self, columns: Mapping[str, np.ndarray], n: int) -> dict[str, Any]:
        arrays = {}
        for key, values in columns.items():
            if values.ndim == 2:  # fixed-size lists, as datasets.Sequence(length=D) stores them
                arrays[key] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
            else:
                arrays[key] = pa.array(values)
        table = pa.table(arrays)
        out = self._data
        if out.handle is not None and out.size_mb() >= self.data_mb:
            out.handle.close()
            out.handle, out.number, out.frames = None, out.number + 1, 0
        if out.handle is None:
            chunk, file = out.chunk_file
            out.path = self.root / fmt.DATA_PATH.format(chunk_index=chunk, file_index=file)
            out.path.parent.mkdir(parents=True, exist_ok=True)
            out.handle = pq.ParquetWriter(out.path, table.schema, compression="snappy")
        out.handle.write_table(table)
        chunk, file = out.chunk_file
        return {
            "data/chunk_index": chunk,
            "data/file_index": file,
            "dataset_from_index": self.n_steps,
            "dataset_to_index": self.n_steps + n,
        }

    def _write_video(self, key: str, frames: np.ndarray) -> dict[str, Any]:
        out = self._videos.setdefault(key, _Rolling())
        if out.handle is not None and out.size_mb() >= self.video_mb:
            self._close_video(out)
            out.number, out.frames = out.number + 1, 0
        if out.handle is None:
            chunk, file = out.chunk_file
            out.path = self.root / fmt.VIDEO_PATH.format(video_key=key, chunk_index=chunk, file_index=file)
            out.path.parent.mkdir(parents=True, exist_ok=True)
            out.handle = av.open(str(out.path), "w")
            out.stream = out.handle.add_stream(self.vcodec, self.fps, options=dict(VIDEO_OPTIONS))
            out.stream.pix_fmt = "yuv420p"
            out.stream.height, out.stream.width = frames.shape[1:3]
        start = out.frames
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = start + i, Fraction(1, self.fps)
            out.handle.mux(out.stream.encode(frame))
        out.frames += len(frames)
        chunk, file = out.chunk_file
        return {
            f"videos/{key}/chunk_index": chunk,
            f"videos/{key}/file_index": file,
            f"videos/{key}/from_timestamp": start / self.fps,
            f"videos/{key}/to_timestamp": out.frames / self.fps,
        }

    @staticmethod
    def _close_video(out: _Rolling) -> None:
        out.handle.mux(out.stream.encode(None))
        out.handle.close()
        out.handle = out.stream = None

    def close(self) -> None:
        """Finish the files and write meta/ (info, stats, tasks, episodes); needs >= 1 episode."""
        if self._data.handle is not None:
            self._data.handle.close()
            self._data.handle = None
        for out in self._videos.values():
            if out.handle is not None:
                self._close_video(out)
        if not self._episodes:
            raise ValueError("no episode to write: a LeRobot dataset needs at least one")
        meta = self.root / "meta"
        meta.mkdir(exist_ok=True)
        # LeRobot reads tasks with pandas and looks tasks up by the index (the task text).
        tasks = pa.table(
            {
                "task_index": pa.array(list(self._tasks.values()), pa.int64()),
                "task": pa.array(list(self._tasks), pa.string()),
            }
        )
        pq.write_table(
            tasks.replace_schema_metadata({b"pandas": json.dumps(_pandas_index("task", tasks)).encode()}),
            self.root / fmt.TASKS_PATH,
        )
        path = self.root / fmt.EPISODES_PATH.format(chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(self._episodes), path, compression="snappy")
        (self.root / fmt.STATS_PATH).write_text(
            json.dumps(fmt.stats_to_json(fmt.aggregate_stats(self._stats)), indent=4)
        )
        (self.root / fmt.INFO_PATH).write_text(json.dumps(self._info(), indent=4))

    def _info(self) -> dict[str, Any]:
        assert self._layout is not None
        features = json.loads(json.dumps(self._layout.features))
        for key in self._layout.image_keys:
            first = self.root / fmt.VIDEO_PATH.format(video_key=fmt.IMAGE_PREFIX + key, chunk_index=0, file_index=0)
            features[fmt.IMAGE_PREFIX + key]["info"] = video_info(first)
        return {
            "codebase_version": fmt.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": self.n_episodes,
            "total_frames": self.n_steps,
            "total_tasks": len(self._tasks),
            "chunks_size": fmt.CHUNKS_SIZE,
            "data_files_size_in_mb": self.data_mb,
            "video_files_size_in_mb": self.video_mb,
            "fps": self.fps,
            "splits": {"train": f"0:{self.n_episodes}"},
            "data_path": fmt.DATA_PATH,
            "video_path": fmt.VIDEO_PATH if self._layout.image_keys else None,
            "features": features,
        }


def video_info(path: Path) -> dict[str, Any]:
    """The ``info`` of a video feature, read back from the file (video_utils.get_video_info)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return {
            "video.height": stream.height,
            "video.width": stream.width,
            "video.codec": stream.codec.canonical_name,
            "video.pix_fmt": stream.pix_fmt,
            "video.is_depth_map": False,
            "video.fps": int(stream.base_rate or 0),
            "video.channels": 3,
            "has_audio": len(container.streams.audio) > 0,
        }


def _pandas_index(name: str, table: pa.Table) -> dict[str, Any]:
    """pandas' schema metadata naming ``name`` as the DataFrame index (what DataFrame.to_parquet writes)."""
    kinds = {pa.int64(): ("int64", "int64"), pa.string(): ("unicode", "object")}
    return {
        "index_columns": [name],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": f.name,
                "field_name": f.name,
                "pandas_type": kinds[f.type][0],
                "numpy_type": kinds[f.type][1],
                "metadata": None,
            }
            for f in table.schema
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
