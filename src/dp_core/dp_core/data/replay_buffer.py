"""Episodes stored in the original Diffusion Policy ReplayBuffer zarr layout.

Layout (zarr v2, unchanged from the original so that its datasets load as they are)::

    /data/<key>         arrays concatenated over time, first dim = total steps
    /meta/episode_ends  int64 cumulative episode ends, strictly increasing

A buffer lives in a directory store (``*.zarr``), a ``.zip`` store (read-only here: zip
entries cannot be rewritten, so write a directory or in-memory buffer and ``copy_to`` a .zip),
or in memory.

Interrupted appends: ``add_episode`` writes data first and extends ``episode_ends`` last, so an
interruption leaves data steps past ``episode_ends[-1]`` (and, at worst, one trailing 0 entry in
``episode_ends`` from a resize whose value write never happened). Opening such a buffer keeps
every complete episode: in mode "r" the extra steps/entries are ignored with a warning, in mode
"a" they are truncated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numcodecs
import numpy as np
import zarr

logger = logging.getLogger(__name__)

OpenMode = Literal["r", "a"]

#: Target uncompressed bytes per chunk of a low-dim array (chunked along time).
LOW_DIM_CHUNK_BYTES = 1 << 18
MAX_LOW_DIM_CHUNK_STEPS = 8192
EPISODE_ENDS_CHUNK = 1024
#: Bytes per block when copying arrays between stores (bounds memory for image arrays).
COPY_BLOCK_BYTES = 64 << 20


def default_compressor() -> numcodecs.abc.Codec:
    """Lossless Blosc/zstd, the codec of the original datasets (fast decode, good ratio)."""
    return numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE)


def is_image_array(shape: tuple[int, ...]) -> bool:
    """(N, H, W, C) with C in 1/3/4: stored one frame per chunk so a window decodes few frames."""
    return len(shape) == 4 and shape[-1] in (1, 3, 4)


def default_chunks(shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """Per-frame chunks for images, ~256 KiB time chunks for low-dim arrays."""
    trailing = tuple(int(s) for s in shape[1:])
    if is_image_array(tuple(shape)):
        return (1, *trailing)
    step_bytes = max(1, int(np.prod(trailing, dtype=np.int64)) * np.dtype(dtype).itemsize)
    steps = int(np.clip(LOW_DIM_CHUNK_BYTES // step_bytes, 1, MAX_LOW_DIM_CHUNK_STEPS))
    return (steps, *trailing)


class ReplayBuffer:
    """Read/append episodes of a ReplayBuffer zarr group. Build with ``open``/``create``."""

    def __init__(self, root: zarr.Group, writable: bool, location: str) -> None:
        """Wrap an opened root group; prefer the classmethod constructors."""
        self._root = root
        self._writable = writable
        self._location = location
        self._episode_ends = self._validated_episode_ends()
        self._check_data_lengths()

    # ----------------------------------------------------------------- constructors
    @classmethod
    def open(cls, path: str | Path, mode: OpenMode = "r") -> ReplayBuffer:
        """Open an existing buffer: a directory store or a ``.zip`` store (read-only)."""
        path = Path(path)
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' or 'a', got {mode!r}")
        if not path.exists():
            raise FileNotFoundError(f"no replay buffer at '{path}' (expected a *.zarr directory or a .zip store)")
        if path.suffix == ".zip":
            if mode != "r":
                raise ValueError(
                    f"'{path}': zip stores are read-only here (zip entries cannot be rewritten); "
                    "append to a directory store and copy_to() a .zip afterwards"
                )
            store: Any = zarr.ZipStore(str(path), mode="r")
        else:
            if not path.is_dir():
                raise ValueError(f"'{path}' is neither a zarr directory store nor a .zip store")
            store = zarr.DirectoryStore(str(path))
        try:
            root = zarr.open_group(store=store, mode=mode)
        except zarr.errors.GroupNotFoundError as err:
            raise ValueError(f"'{path}' is not a zarr group (no .zgroup); is it a ReplayBuffer store?") from err
        return cls(root, writable=mode == "a", location=str(path))

    @classmethod
    def create(cls, path: str | Path) -> ReplayBuffer:
        """Create an empty, writable buffer in a new directory store."""
        path = Path(path)
        if path.suffix == ".zip":
            raise ValueError(
                f"'{path}': cannot append to a zip store; create a directory store (or create_in_memory()) "
                "and copy_to() the .zip"
            )
        if path.exists():
            raise FileExistsError(f"'{path}' already exists; open it with ReplayBuffer.open(path, 'a') or remove it")
        root = zarr.group(store=zarr.DirectoryStore(str(path)))
        return cls._init_empty(root, str(path))

    @classmethod
    def create_in_memory(cls) -> ReplayBuffer:
        """Create an empty, writable buffer held in RAM (tests, conversion staging)."""
        return cls._init_empty(zarr.group(store=zarr.MemoryStore()), "<memory>")

    @classmethod
    def _init_empty(cls, root: zarr.Group, location: str) -> ReplayBuffer:
        root.require_group("data")
        meta = root.require_group("meta")
        meta.zeros("episode_ends", shape=(0,), dtype=np.int64, chunks=(EPISODE_ENDS_CHUNK,), compressor=None)
        return cls(root, writable=True, location=location)

    # ----------------------------------------------------------------- validation on open
    def _validated_episode_ends(self) -> np.ndarray:
        if "meta" not in self._root or "episode_ends" not in self._root["meta"]:
            raise ValueError(
                f"'{self._location}' has no meta/episode_ends; a ReplayBuffer store holds data/<key> arrays "
                "and meta/episode_ends (int64 cumulative episode ends)"
            )
        if "data" not in self._root:
            raise ValueError(f"'{self._location}' has no 'data' group; a ReplayBuffer store holds data/<key> arrays")
        stored = self._root["meta/episode_ends"]
        ends = np.asarray(stored[:])
        if ends.ndim != 1 or not np.issubdtype(ends.dtype, np.integer):
            raise ValueError(
                f"'{self._location}': meta/episode_ends must be a 1-D integer array, got shape {ends.shape} "
                f"dtype {ends.dtype}"
            )
        ends = ends.astype(np.int64)
        n_valid = _increasing_prefix(ends)
        if n_valid < len(ends):
            if n_valid != len(ends) - 1 or ends[-1] != 0:
                raise ValueError(
                    f"'{self._location}': meta/episode_ends must be strictly increasing and > 0, but entry "
                    f"{n_valid} is {ends[n_valid]} after {ends[n_valid - 1] if n_valid else 0}"
                )
            # A resize whose value write never happened (interrupted add_episode): drop it.
            logger.warning("%s: ignoring a trailing unwritten episode_ends entry (interrupted append)", self._location)
            ends = ends[:n_valid]
            if self._writable:
                stored.resize(n_valid)
        return ends

    def _check_data_lengths(self) -> None:
        n_steps = self.n_steps
        for key, arr in self._root["data"].arrays():
            if arr.ndim == 0:
                raise ValueError(f"'{self._location}': data/{key} is a scalar; data arrays need a time axis")
            if arr.shape[0] < n_steps:
                raise ValueError(
                    f"'{self._location}': data/{key} has {arr.shape[0]} steps but meta/episode_ends ends at "
                    f"{n_steps}; the store is incomplete or corrupt"
                )
            if arr.shape[0] > n_steps:
                extra = arr.shape[0] - n_steps
                if self._writable:
                    logger.warning(
                        "%s: truncating %d steps of data/%s past the last episode (interrupted append)",
                        self._location,
                        extra,
                        key,
                    )
                    arr.resize(n_steps, *arr.shape[1:])
                else:
                    logger.warning(
                        "%s: ignoring %d steps of data/%s past the last episode (interrupted append)",
                        self._location,
                        extra,
                        key,
                    )

    # ----------------------------------------------------------------- queries
    @property
    def root(self) -> zarr.Group:
        return self._root

    @property
    def location(self) -> str:
        return self._location

    @property
    def writable(self) -> bool:
        return self._writable

    @property
    def episode_ends(self) -> np.ndarray:
        """int64 (n_episodes,) cumulative ends (read-only view)."""
        view = self._episode_ends.view()
        view.flags.writeable = False
        return view

    @property
    def n_episodes(self) -> int:
        return len(self._episode_ends)

    @property
    def n_steps(self) -> int:
        return int(self._episode_ends[-1]) if len(self._episode_ends) else 0

    @property
    def episode_lengths(self) -> np.ndarray:
        return np.diff(self._episode_ends, prepend=0)

    def keys(self) -> list[str]:
        return sorted(self._root["data"].array_keys())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.keys()

    def __getitem__(self, key: str) -> zarr.Array:
        """The zarr array data/<key> (may hold ignored steps past ``n_steps`` when opened "r")."""
        # A direct lookup, not a listing: listing a zip store walks every chunk entry.
        try:
            arr = self._root["data"][key]
        except KeyError:
            arr = None
        if not isinstance(arr, zarr.Array):
            raise KeyError(f"no data key '{key}' in '{self._location}' (have {self.keys()})")
        return arr

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def episode_slice(self, index: int) -> slice:
        """Steps of episode ``index`` (negative counts from the end)."""
        n = self.n_episodes
        if not -n <= index < n:
            raise IndexError(f"episode {index} out of range for {n} episodes")
        index %= n
        start = int(self._episode_ends[index - 1]) if index > 0 else 0
        return slice(start, int(self._episode_ends[index]))

    def get_episode(self, index: int, keys: list[str] | None = None) -> dict[str, np.ndarray]:
        """All steps of one episode as numpy arrays."""
        steps = self.episode_slice(index)
        return {key: self[key][steps] for key in (self.keys() if keys is None else keys)}

    def __repr__(self) -> str:
        return (
            f"ReplayBuffer('{self._location}', n_episodes={self.n_episodes}, n_steps={self.n_steps}, "
            f"keys={self.keys()})"
        )

    # ----------------------------------------------------------------- writing
    def add_episode(
        self,
        data: Mapping[str, np.ndarray],
        chunks: Mapping[str, tuple[int, ...]] | None = None,
        compressors: Mapping[str, numcodecs.abc.Codec | None] | None = None,
    ) -> None:
        """Append one episode (every key, equal lengths); data first, episode_ends last."""
        if not self._writable:
            raise PermissionError(f"'{self._location}' is opened read-only; open it with mode='a' to append")
        episode = self._validated_episode(data)
        start = self.n_steps
        length = len(next(iter(episode.values())))
        for key, values in episode.items():
            arr = self._require_array(key, values, (chunks or {}).get(key), (compressors or {}).get(key, "default"))
            arr.resize(start + length, *arr.shape[1:])
            arr[start : start + length] = values
        self._root["meta/episode_ends"].append(np.array([start + length], dtype=np.int64))
        self._episode_ends = np.append(self._episode_ends, np.int64(start + length))

    def _validated_episode(self, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not data:
            raise ValueError("an episode needs at least one key")
        episode = {str(k): np.asarray(v) for k, v in data.items()}
        lengths = {k: (v.shape[0] if v.ndim else None) for k, v in episode.items()}
        if None in lengths.values() or len(set(lengths.values())) != 1:
            raise ValueError(f"all keys of an episode need the same number of steps (first dim), got {lengths}")
        if next(iter(lengths.values())) == 0:
            raise ValueError("an episode needs at least one step")
        existing = self.keys()
        if existing:
            missing, extra = sorted(set(existing) - set(episode)), sorted(set(episode) - set(existing))
            if missing or extra:
                raise ValueError(
                    f"episode keys must match the buffer's {existing}: missing {missing}, unexpected {extra}"
                )
        for key, values in episode.items():
            if key in existing:
                episode[key] = self._cast_like(key, values, self._root["data"][key])
        return episode

    @staticmethod
    def _cast_like(key: str, values: np.ndarray, arr: zarr.Array) -> np.ndarray:
        if values.shape[1:] != arr.shape[1:]:
            raise ValueError(
                f"key '{key}': per-step shape {values.shape[1:]} does not match the stored {arr.shape[1:]}"
            )
        if values.dtype != arr.dtype:
            if not np.can_cast(values.dtype, arr.dtype, casting="safe"):
                raise ValueError(
                    f"key '{key}': dtype {values.dtype} cannot be stored safely as the stored {arr.dtype}; "
                    f"convert it with .astype({arr.dtype}) if that is intended"
                )
            values = values.astype(arr.dtype)
        return values

    def _require_array(
        self, key: str, values: np.ndarray, chunks: tuple[int, ...] | None, compressor: Any
    ) -> zarr.Array:
        group = self._root["data"]
        if key in group:
            return group[key]
        if "/" in key or not key:
            raise ValueError(f"invalid data key {key!r}: use a non-empty name without '/'")
        chunks = tuple(chunks) if chunks is not None else default_chunks(values.shape, values.dtype)
        if len(chunks) != values.ndim:
            raise ValueError(f"key '{key}': chunks {chunks} need {values.ndim} dims for shape {values.shape}")
        compressor = default_compressor() if compressor == "default" else compressor
        return group.zeros(key, shape=(0, *values.shape[1:]), chunks=chunks, dtype=values.dtype, compressor=compressor)

    # ----------------------------------------------------------------- copies
    def copy_to(self, path: str | Path) -> ReplayBuffer:
        """Write the complete episodes to a new directory store or ``.zip``; returns it opened "r"."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"'{path}' already exists; remove it or choose another path")
        if path.suffix == ".zip":
            store: Any = zarr.ZipStore(str(path), mode="w")
            try:
                self._copy_into(zarr.group(store=store))
            finally:
                store.close()
        else:
            self._copy_into(zarr.group(store=zarr.DirectoryStore(str(path))))
        return ReplayBuffer.open(path, "r")

    def to_memory(self) -> ReplayBuffer:
        """A writable in-memory copy (fast random access; the original's copy_from_path)."""
        root = zarr.group(store=zarr.MemoryStore())
        self._copy_into(root)
        return ReplayBuffer(root, writable=True, location=f"<memory copy of {self._location}>")

    def _copy_into(self, dst: zarr.Group) -> None:
        """Each key is written once, in chunk-aligned blocks (zip stores cannot rewrite entries)."""
        dst.attrs.update(self._root.attrs.asdict())
        data = dst.require_group("data")
        n_steps = self.n_steps
        for key in self.keys():
            src = self[key]
            out = data.create(
                key,
                shape=(n_steps, *src.shape[1:]),
                chunks=src.chunks,
                dtype=src.dtype,
                compressor=src.compressor,
                filters=src.filters,
                fill_value=src.fill_value,
            )
            out.attrs.update(src.attrs.asdict())
            step_bytes = max(1, int(np.prod(src.shape[1:], dtype=np.int64)) * src.dtype.itemsize)
            block = max(1, COPY_BLOCK_BYTES // (step_bytes * src.chunks[0])) * src.chunks[0]
            for begin in range(0, n_steps, block):
                out[begin : begin + block] = src[begin : min(begin + block, n_steps)]
        src_ends = self._root["meta/episode_ends"]
        meta = dst.require_group("meta")
        meta.array(
            "episode_ends", self._episode_ends, chunks=src_ends.chunks, dtype=np.int64, compressor=src_ends.compressor
        )

    # ----------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Release a zip store's file handle (no-op for directory and memory stores)."""
        close = getattr(self._root.store, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> ReplayBuffer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _increasing_prefix(ends: np.ndarray) -> int:
    """Length of the longest prefix that is > 0 and strictly increasing."""
    ok = np.diff(ends, prepend=0) > 0
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if len(bad) else len(ends)
