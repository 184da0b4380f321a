#!/usr/bin/env bash
# Print a hash of the build inputs (paths, mtimes, sizes of the source files under src/, colcon.meta,
# launch/, config/robots/, vendor/) of the workspace at $1 (default: this repository). tools/bootstrap.sh
# rebuilds when it changes. In a git work tree the files are the ones git sees (tracked + untracked,
# not ignored); without git (a Docker build context excludes .git, a source tarball) a find-based
# listing with the same exclusions as .gitignore's build outputs.
set -eo pipefail
ROOT=$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
cd "$ROOT"
INPUTS=(src colcon.meta launch config/robots vendor)  # vendor/: interface stand-ins, when present

list_inputs() {
  if command -v git >/dev/null 2>&1 && [ "$(git rev-parse --is-inside-work-tree 2>/dev/null)" = true ] \
      && [ "$(git rev-parse --show-toplevel)" = "$ROOT" ]; then
    git ls-files -co --exclude-standard -z -- "${INPUTS[@]}" | LC_ALL=C sort -z
  else
    local present=()
    for p in "${INPUTS[@]}"; do [ -e "$p" ] && present+=("$p"); done
    [ ${#present[@]} -gt 0 ] || return 0
    find "${present[@]}" \( -name __pycache__ -o -name '*.egg-info' -o -name .pytest_cache \) -prune \
      -o -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z
  fi
}

list_inputs | { xargs -0 -r stat -c '%n %Y %s'; } | sha256sum | cut -d' ' -f1
