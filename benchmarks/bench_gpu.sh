#!/usr/bin/env bash
# GPU benchmark with the workspace environment: prints one JSON line last; exits 0 without CUDA.
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$ROOT/tools/env.sh"
exec python "$ROOT/benchmarks/bench_gpu.py" "$@"
