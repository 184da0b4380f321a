#!/usr/bin/env bash
# Run every package's tests with pytest (one summary line at the end). Extra args go to pytest.
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck disable=SC1091
. tools/env.sh
mkdir -p "$ROS_LOG_DIR"
exec python -m pytest "$@"
