#!/usr/bin/env bash
# Idempotent set-up of the workspace; every make target runs it first.
#  - With a sourced apt ROS 2 Jazzy (ROS_DISTRO=jazzy, rclpy importable): a venv that sees the
#    system site packages, plus our pinned Python dependencies.
#  - Otherwise: .venv with the pinned ROS 2 Jazzy wheels, the CMake path rewrite and build tools.
# Then `colcon build`, run by the venv's interpreter in both modes: colcon runs each setup.py with
# its own sys.executable (colcon_core/task/python/build.py), and `setup.py develop` (the
# --symlink-install build) writes that interpreter into the node executables' shebangs. With the
# system colcon (/usr/bin/python3) `ros2 launch` would start nodes that cannot import torch or
# dp_core from .venv. Each step is skipped when its inputs did not change, so a second run takes
# seconds. `--deps-only` stops after step 1 (the Dockerfile caches that layer).
set -eo pipefail
DEPS_ONLY=false
case "${1:-}" in
  --deps-only) DEPS_ONLY=true ;;
  "") ;;
  *) echo "usage: $0 [--deps-only]" >&2; exit 2 ;;
esac
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
if [ "$DEPS_ONLY" = true ]; then
  exit 0
fi

# 2. colcon build (stamp = tools/source_state.sh: paths, mtimes and sizes of the build inputs; needs no .git)
# shellcheck disable=SC1091
. "$VENV/bin/activate"
if [ "$MODE" = wheels ]; then
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
# Interface packages the FR3 twin and the gripper bridge need that may be missing here (vendor/:
# franka_msgs is not released for Jazzy, control_msgs has no wheel): built only when no such
# package is installed outside this workspace, so they never shadow a user's franka_ros2 build.
VENDOR_ARGS=()
for pkg in franka_msgs control_msgs; do
  real=""
  IFS=: read -ra _prefixes <<< "${AMENT_PREFIX_PATH:-}"
  for _prefix in "${_prefixes[@]}"; do
    case "$_prefix" in "$ROOT"/install*|"") continue ;; esac
    [ -f "$_prefix/share/$pkg/package.xml" ] && real=$_prefix
  done
  if [ -z "$real" ]; then
    VENDOR_ARGS+=("vendor/$pkg")
  elif [ -d "install/$pkg" ]; then
    log "$pkg found in $real: removing the vendored stand-in"
    rm -rf "install/$pkg" "build/$pkg"
  fi
done
[ ${#VENDOR_ARGS[@]} -eq 0 ] || VENDOR_ARGS=(--base-paths . "${VENDOR_ARGS[@]}")
src_state="$(bash "$ROOT/tools/source_state.sh" "$ROOT") ${VENDOR_ARGS[*]}"
if [ "$(cat build/.dp_build_stamp 2>/dev/null)" != "$src_state" ] || [ ! -f install/setup.bash ]; then
  log "colcon build"
  export ROS_LOG_DIR="$ROOT/log/ros"
  # the venv's python imports colcon from .venv (wheels) or from the system (apt mode, system site packages)
  "$VENV/bin/python" -c 'import sys; from colcon_core.command import main; sys.argv[0] = "colcon"; sys.exit(main())' \
    --log-base log/colcon build "${VENDOR_ARGS[@]}" --symlink-install --event-handlers console_cohesion- summary+ \
    2>&1 | grep -vE "doesn't contain any 'local_setup|^$" || { log "colcon build failed"; exit 1; }
  [ -f install/setup.bash ] || { log "colcon build produced no install/setup.bash"; exit 1; }
  echo "$src_state" > build/.dp_build_stamp
else
  log "workspace build up to date"
fi
