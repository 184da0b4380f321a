"""benchmarks/bench_gpu.py: without CUDA it says so in one JSON line and exits 0; --smoke runs its
whole measuring code on tiny CPU models (the GPU-only forms are left out there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_gpu.py"
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason=f"{SCRIPT} not in this checkout (installed package)")


def run(*args: str) -> tuple[int, dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-2000:]
    return done.returncode, json.loads(lines[-1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA answer")
def test_without_cuda_it_says_so_and_exits_0() -> None:
    code, result = run()
    assert code == 0
    assert result["cuda"] is False and "no CUDA" in result["reason"] and result["torch"] == torch.__version__


def test_smoke_run_measures_every_cpu_form() -> None:
    code, result = run("--smoke", "--presets", "pusht_lowdim")
    assert code == 0 and result["smoke"] is True
    entry = result["pusht_lowdim"]
    for label in ("ddim16", "ddpm100"):
        chunk = entry[label]
        for path in ("baseline", "fp32_eager", "bf16_eager"):
            stats = chunk[path]
            assert 0 < stats["min"] <= stats["median"] <= stats["p99"], (label, path, stats)
        assert isinstance(chunk["bf16_accepted"], bool) and chunk["bf16_rel_diff"] >= 0
        assert chunk["best"] in chunk and chunk["speedup_vs_baseline"] > 0
    assert "skipped" in entry["ddim16"]["fp32_compile"]  # torch.compile only on CUDA, last, within the budget
    assert entry["train_b8_amp_samples_per_s"] > 0
