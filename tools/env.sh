# Source this (bash) to use the built workspace: `. tools/env.sh`.
# Activates .venv, makes the ROS 2 wheels' prefix visible (wheels mode), sources the overlay,
# points rcl logs into the workspace, and selects the Fast DDS profile with a 16 MB
# shared-memory segment (large images between processes; see README "Transport").
DP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$DP_ROOT/.venv/bin/activate"
if [ "$(cat "$DP_ROOT/.venv/.dp_mode" 2>/dev/null)" = wheels ]; then
  case ":${AMENT_PREFIX_PATH:-}:" in
    *":$VIRTUAL_ENV:"*) ;;
    *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
  esac
fi
export ROS_LOG_DIR="${ROS_LOG_DIR:-$DP_ROOT/log/ros}"
export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$DP_ROOT/config/fastdds_shm.xml}"
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$DP_ROOT/config/fastdds_shm.xml}"
if [ -f "$DP_ROOT/install/setup.bash" ]; then
  . "$DP_ROOT/install/setup.bash"
fi
# Command-line tools (dp-train, dp-convert, ...) without `ros2 run`.
for _dp_pkg in dp_core dp_recorder dp_sim dp_policy_node dp_teleop; do
  case ":$PATH:" in *":$DP_ROOT/install/$_dp_pkg/lib/$_dp_pkg:"*) ;; *) PATH="$DP_ROOT/install/$_dp_pkg/lib/$_dp_pkg:$PATH" ;; esac
done
export PATH
unset _dp_pkg
