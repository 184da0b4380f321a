"""benchmarks/bench_training.py runs (tiny sizes) and reports both loops in one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_training.py"


def test_bench_training_reports_ours_and_the_original_like_loop() -> None:
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT} not in this checkout (installed package only)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--steps", "1", "--batch", "32", "--down-dims", "8,16", "--no-bf16"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["batch"] == 32 and result["original_like_samples_per_s"] > 0 and result["ours_samples_per_s"] > 0
    assert result["ratio_ours_vs_original_like"] > 0
