"""observation_node as its own process, on each executor its ``main`` can run (events by default, single).

Why a process: the executor is chosen in ``main`` (``dp_ros_common.node_main``), which the
in-process tests never reach. The window path (subscriptions) and the status timer must both run,
and SIGINT must end the process cleanly.
"""

from __future__ import annotations

import os

import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from dp_msgs.msg import ObservationStatus
from dp_msgs.msg import ObservationWindow as ObservationWindowMsg
from dp_policy_node.conversions import window_arrays_from_msg
from dp_policy_node.synthetic_sensors import SyntheticCamera, SyntheticSensors
from dp_ros_common.node_main import EXECUTOR_ENV
from dp_ros_common.testing import spin_until

pytestmark = pytest.mark.ros
JOINTS = ["j1", "j2", "j3"]


@pytest.mark.parametrize("executor", ["events", "single"])
def test_the_process_publishes_windows_and_status_and_stops_on_sigint(ros_context, ros_process, executor: str):
    params = [
        "rate_hz:=20.0",
        "n_obs_steps:=2",
        "dt_s:=0.1",
        "camera_names:=[front]",
        f"joint_state.joint_names:=[{','.join(JOINTS)}]",
        "cameras.front.topic:=/proc_cam/front",
        "cameras.front.height:=24",
        "cameras.front.width:=32",
    ]
    args = ["-m", "dp_policy_node.observation_node", "--ros-args"]
    for p in params:
        args += ["-p", p]
    env = {EXECUTOR_ENV: executor, "ROS_DOMAIN_ID": os.environ["ROS_DOMAIN_ID"]}
    proc = ros_process(*args, env=env)

    probe = Node("obs_process_probe", context=ros_context)
    windows: list[ObservationWindowMsg] = []
    status: list[ObservationStatus] = []
    probe.create_subscription(ObservationWindowMsg, "dp/observation_window", windows.append, 50)
    probe.create_subscription(ObservationStatus, "dp/observation_status", status.append, 50)
    spinner = SingleThreadedExecutor(context=ros_context)
    spinner.add_node(probe)
    sensors = SyntheticSensors(probe, [SyntheticCamera("/proc_cam/front", "rgb8", rate_hz=15)], JOINTS, seed=0)
    try:
        assert spin_until(spinner, lambda: len(status) >= 3, 60.0), "no ObservationStatus: the timer did not run"
        sensors.start()
        assert spin_until(spinner, lambda: len(windows) >= 5 and status[-1].windows_published >= 5, 30.0), (
            f"{len(windows)} windows, last status: {status[-1]}"
        )
    finally:
        sensors.stop()
        spinner.shutdown()
        probe.destroy_node()
    stamps, low_dim, images = window_arrays_from_msg(windows[-1])
    assert stamps[1] - stamps[0] == 100_000_000
    assert low_dim["joint_pos"].shape == (2, 3) and images["front"].shape == (2, 24, 32, 3)
    assert status[-1].messages_rejected == 0
    output = proc.stop()
    assert proc.proc.returncode == 0, output
    assert "Traceback" not in output
    # the node says when it runs another executor than it asked for (events)
    assert ("executor: single (asked for events)" in output) == (executor == "single"), output
