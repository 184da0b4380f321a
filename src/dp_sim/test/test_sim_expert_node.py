"""sim_node + expert_node as separate processes over DDS: the expert solves an episode on sim time."""

import subprocess
import sys

import pytest
from ament_index_python.packages import get_package_share_directory

pytestmark = pytest.mark.ros


def test_expert_node_solves_episode_through_ros(ros_process):
    params = f"{get_package_share_directory('dp_sim')}/config/sim.yaml"
    sim = ros_process(
        "-m", "dp_sim.sim_node", "--ros-args", "--params-file", params, "-p", "seed:=4", "-p", "real_time_factor:=2.0"
    )
    expert = subprocess.run(
        [
            sys.executable,
            "-m",
            "dp_sim.expert_node",
            "--ros-args",
            "--params-file",
            params,
            "-p",
            "use_sim_time:=true",
            "-p",
            "exit_on_done:=true",
            "-p",
            "timeout_s:=25.0",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    output = expert.stdout + expert.stderr
    assert sim.proc.poll() is None, sim.stop()
    assert expert.returncode == 0, output
    assert "episode seed 4: success" in output, output
