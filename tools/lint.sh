#!/usr/bin/env bash
# Lint and type check, run by `make test` before the tests: ruff (format + lint + import order,
# ruff.toml) over the whole tree, mypy (mypy.ini) over dp_core and the node packages, and
# tools/check_architecture.py (docs/architecture.md names every module, and only files that exist).
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck disable=SC1091
. tools/env.sh
ruff format --check --quiet . || { echo "ruff format: run 'ruff format .' (see the files above)"; exit 1; }
ruff check --quiet .
mypy --no-error-summary || { echo "mypy: see the errors above (mypy.ini)"; exit 1; }
python tools/check_architecture.py || { echo "architecture.md: out of date with the source tree, see the lines above (tools/check_architecture.py)"; exit 1; }
echo "lint: ruff and mypy clean"
