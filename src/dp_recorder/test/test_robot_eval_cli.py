"""``dp-eval-robot`` as its own process: terminal lines on stdin drive it, Ctrl-C mid-episode aborts safely.

The CLI runs as a separate OS process (its stdin a pipe, as a terminal over ssh would be) against a
real recorder and a real lifecycle policy node (tiny checkpoint) in this process, over DDS. Typing
``r`` and ``s`` starts an episode (bag open, policy active); SIGINT then must deactivate the policy,
keep the bag as ``aborted`` and write the results before the process exits; so must SIGHUP (the ssh
connection dropped), and a second Ctrl-C or hang-up while it ends must not cut that end short (it
exits 0 only with the policy read back as inactive). The full session against
the FR3 twin is ``dp_sim/test/test_sim_fr3_robot_eval.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from rclpy.executors import SingleThreadedExecutor

from dp_policy_node.policy_node import PolicyNode
from dp_policy_node.tiny_policy import make_tiny_checkpoint, tiny_spec
from dp_recorder.episode_metadata import read_metadata
from dp_recorder.recorder_node import RecorderNode

pytestmark = pytest.mark.ros


def spin_while(executor: SingleThreadedExecutor, busy, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while busy():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout_s:g} s")
        executor.spin_once(timeout_sec=0.02)


@pytest.mark.parametrize(
    "signals",
    [[signal.SIGINT], [signal.SIGHUP], [signal.SIGINT, signal.SIGINT], [signal.SIGHUP, signal.SIGINT]],
    ids=["ctrl_c", "ssh_hangup", "ctrl_c_twice", "hangup_then_ctrl_c"],
)
def test_stdin_lines_start_an_episode_and_a_signal_aborts_it(ros_context, tmp_path, signals):
    sig = signals[0]
    run = make_tiny_checkpoint(tmp_path / "policy", tiny_spec(), steps=1, seed=0)
    executor = SingleThreadedExecutor(context=ros_context)
    recorder = RecorderNode(
        context=ros_context,
        parameter_overrides=_params(
            output_dir=str(tmp_path / "bags"),
            topics=["/joint_states"],
            topic_types=["sensor_msgs/msg/JointState"],
            min_free_disk_gb=0.1,
        ),
    )
    policy = PolicyNode(
        "policy_node",
        context=ros_context,
        parameter_overrides=_params(
            checkpoint_path=str(run),
            device="cpu",
            torch_threads=1,
            expected_obs_keys=["joint_pos"],
            expected_obs_shapes=["3"],
        ),
    )
    for node in (recorder, policy):
        executor.add_node(node)
    log = open(tmp_path / "cli.log", "w")  # noqa: SIM115 - closed below
    cli = subprocess.Popen(
        [sys.executable, "-m", "dp_recorder.robot_eval_cli", "--episodes", "3", "--time-limit", "60"]
        + ["--out", str(tmp_path / "eval"), "--label", "cli"],
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        spin_while(executor, lambda: policy.state_label != "inactive", 60.0, "configure through the CLI")
        cli.stdin.write("hello\nr\ns\n")  # an unknown line is answered with the keys, then reset, start
        cli.stdin.flush()
        running = lambda: "episode 1/3 running" in (tmp_path / "cli.log").read_text()  # noqa: E731
        spin_while(executor, lambda: not running(), 20.0, "the episode running (policy active through the CLI)")
        assert recorder.recorder.recording and policy.state_label == "active"
        for s in signals:  # not spinning the policy node meanwhile: a second signal lands while the CLI ends
            cli.send_signal(s)
            time.sleep(0.4)
        spin_while(executor, lambda: cli.poll() is None, 20.0, "the CLI to end")
    finally:
        if cli.poll() is None:
            cli.kill()
        cli.wait(timeout=10)
        log.close()
        executor.shutdown()
        for node in (recorder, policy):
            node.destroy_node()
    output = (tmp_path / "cli.log").read_text()
    assert cli.returncode == 0, output
    assert policy.state_label == "inactive" and not recorder.recorder.recording
    assert "unknown input 'hello'" in output, output
    if sig == signal.SIGINT:  # after a hang-up nothing is printed any more
        assert "episode 1: aborted" in output, output
    (bag,) = sorted((tmp_path / "bags").glob("episode_*"))
    meta = read_metadata(bag)
    assert meta.outcome == "aborted" and meta.success is False and "outcome: aborted" in meta.note
    results = json.loads((tmp_path / "eval/results.json").read_text())
    assert results["counts"] == {"success": 0, "failure": 0, "timeout": 0, "aborted": 1}
    assert results["episodes"] == 0 and results["success_rate"] is None
    assert results["records"][0]["bag_path"] == str(bag)


def _params(**values):
    from rclpy.parameter import Parameter

    return [Parameter(k, value=v) for k, v in values.items()]
