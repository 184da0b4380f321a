"""``dp-dataset-viz DATASET.zarr --episode N --out FILE.mp4|.gif|.png``: look at one episode.

The episode's camera frames with its action and state curves below and a cursor at the current
step; the frame rate comes from the dataset's ``timestamp`` key (dp-convert output), else --fps.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from dp_core.data.episode_video import render_episode, write_video
from dp_core.data.replay_buffer import ReplayBuffer

DEFAULT_FPS = 10.0


def episode_fps(timestamps: np.ndarray | None, fallback: float) -> float:
    """Steps per second from the median timestamp step (dp-convert datasets), else ``fallback``."""
    if timestamps is None or len(timestamps) < 2:
        return fallback
    step = float(np.median(np.diff(np.asarray(timestamps, dtype=np.float64).reshape(-1))))
    return round(1.0 / step, 6) if step > 0 else fallback  # ns ticks in float seconds: 10.0000001 -> 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dp-dataset-viz", description=__doc__)
    parser.add_argument("dataset", type=Path, help="ReplayBuffer (*.zarr directory or .zarr.zip)")
    parser.add_argument("--episode", type=int, default=0, help="episode index (negative counts from the end)")
    parser.add_argument("--out", required=True, type=Path, help="output .mp4, .gif or .png (the middle frame)")
    parser.add_argument("--fps", type=float, help=f"playback rate (default: from 'timestamp', else {DEFAULT_FPS})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        buffer = ReplayBuffer.open(args.dataset)
        n = buffer.n_episodes
        if not -n <= args.episode < n:
            raise ValueError(f"episode {args.episode} out of range: the dataset has {n} episode(s)")
        index = args.episode % n
        episode = buffer.get_episode(index)
        fps = args.fps or episode_fps(episode.get("timestamp"), DEFAULT_FPS)
        if not fps > 0:
            raise ValueError(f"--fps must be > 0, got {fps}")
        count = write_video(render_episode(episode), args.out, fps)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"dp-dataset-viz: {err}", file=sys.stderr)
        return 2
    print(f"episode {index}: {count} frame(s) at {fps:g} fps -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
