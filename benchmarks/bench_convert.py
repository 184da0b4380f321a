"""Bag → zarr conversion throughput: two 640x480 rgb8 cameras at 30 Hz + joint states at 500 Hz,
converted to 96x96 images at 30 Hz (every camera frame decoded and resized).

Writes the input bags into a temporary directory first (not timed). The last line printed is
one JSON object: frames_per_s (camera frames converted per wall-clock second), workers, ...
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from dp_core.data.replay_buffer import ReplayBuffer
from dp_recorder.convert import convert_bags
from dp_recorder.convert_config import config_from_dict
from dp_recorder.synthetic import StreamRates, write_synthetic_bag

CAMERAS = ("/camera/top/image_raw", "/camera/wrist/image_raw")
RATES = StreamRates(joint_hz=500.0, camera_hz=30.0, command_hz=30.0, width=640, height=480, cameras=CAMERAS)
CONFIG = {
    "rate_hz": 30.0,
    "obs": {
        "joint_pos": {"topic": "/joint_states", "field": "position"},
        "top_image": {"topic": CAMERAS[0], "image": [96, 96]},
        "wrist_image": {"topic": CAMERAS[1], "image": [96, 96]},
    },
    "action": {"topic": "/cartesian_target", "field": "pose.position", "components": ["x", "y"]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print only the JSON result line")
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each episode")
    # 1 by default: on the shared 2-core test machine, 2 spawned workers measured slower (59.7 vs 118.8 frames/s)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_convert_") as tmp:
        bags = []
        t0 = time.monotonic()
        for i in range(args.episodes):
            bags.append(Path(tmp) / f"episode_{i:04d}")
            write_synthetic_bag(bags[-1], 10**12 + i * 10**11, args.seconds, RATES, seed=i)
        write_s = time.monotonic() - t0
        bag_bytes = sum(f.stat().st_size for b in bags for f in b.iterdir())
        t0 = time.monotonic()
        summary = convert_bags(bags, config_from_dict(CONFIG), Path(tmp) / "out.zarr", workers=args.workers)
        seconds = time.monotonic() - t0
        assert not summary.failed, summary.failed
        steps = ReplayBuffer.open(Path(tmp) / "out.zarr").n_steps
    frames = args.episodes * int(args.seconds * RATES.camera_hz) * len(CAMERAS)
    result = {
        "frames_per_s": round(frames / seconds, 1),
        "workers": args.workers,
        "camera_frames": frames,
        "dataset_steps": steps,
        "convert_s": round(seconds, 2),
        "bag_mb": round(bag_bytes / 1e6, 1),
        "bag_mb_per_s": round(bag_bytes / 1e6 / seconds, 1),
        "write_bags_s": round(write_s, 2),
        "cpus": os.cpu_count(),
    }
    if not args.json:
        print("\n".join(summary.lines()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
