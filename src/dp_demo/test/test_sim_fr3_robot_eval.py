"""``dp-eval-robot``'s node against the FR3 twin, with a scripted operator pressing the buttons.

One lockstep process (dp_sim.lockstep): the twin (sim_node interface:=franka, the FR3 profile and
config/fr3_twin), observation → policy (lifecycle, unconfigured at the start) → chunk executor
(trajectory mode on fr3_arm_controller), the recorder, the evaluation node and an operator that
publishes sensor_msgs/Joy presses (and terminal lines on ~/command) and resets the twin between
episodes. Three episodes: success (B), stop (X) then failure (Y), and one nobody judges, which the
time limit ends as a timeout. Checked: one bag per episode with its outcome in episode.yaml, the
results JSON counts what was pressed, and after the timeout the policy is inactive, the executor
idle and the arm at rest. A tiny real checkpoint (joint positions → joint targets around the twin's
ready pose) keeps it fast; cameras are off (images are not what this checks).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from dp_msgs.srv import ResetSim
from dp_ros_common import params_file
from dp_sim import fr3
from dp_sim.interfaces import FRANKA
from dp_sim.lockstep import Lockstep

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
PROFILE = REPO / "config/robots/fr3_realsense.yaml"
TWIN = REPO / "config/fr3_twin"
LIMIT_S = 1.5
A, B, X, Y = 0, 1, 2, 3  # joy_node's Xbox layout (OperatorButtons' defaults)

# what the test changes in the profile: no cameras, a joint-only policy in lockstep (the profile is
# rewritten rather than overridden: neither rcl's YAML nor rclpy's overrides can replace a list with [])
OVERRIDES = {
    "sim_node": {"publish_images": False},
    "observation_node": {"camera_names": []},
    "policy_node": {
        "expected_obs_keys": ["joint_pos"],
        "expected_obs_shapes": ["7"],
        "device": "cpu",
        "num_inference_steps": 0,
        "inference_thread": False,
        "torch_threads": 1,
    },
    "chunk_executor_node": {"command_topic": FRANKA.trajectory},  # franka.launch.py's remapping
}


def joint_only_profile(path: Path) -> Path:
    """The FR3 profile with OVERRIDES applied (the cameras' blocks dropped), then the twin's sim_node block."""
    profile = yaml.safe_load(PROFILE.read_text())
    profile["observation_node"]["ros__parameters"].pop("cameras")
    for name, block in (("sim_node", yaml.safe_load((TWIN / "sim_node.yaml").read_text())["sim_node"]),):
        profile[name] = block
    for name, values in OVERRIDES.items():
        profile.setdefault(name, {"ros__parameters": {}})["ros__parameters"].update(values)
    path.write_text(yaml.safe_dump(profile))
    return Path(params_file.resolve(path))  # rcl refuses YAML aliases (the profile's shared joint list)


class Operator:
    """Presses gamepad buttons (a press, then the release), types lines, resets the twin."""

    def __init__(self, ls: Lockstep) -> None:
        self.ls = ls
        self.node = ls.add(Node, "scripted_operator")
        self.joy = self.node.create_publisher(Joy, "/joy", 10)
        self.keys = self.node.create_publisher(String, "/robot_eval/command", 10)
        self.reset_client = self.node.create_client(ResetSim, "/sim_node/reset")
        self.trajectories: list[JointTrajectory] = []
        self.node.create_subscription(JointTrajectory, FRANKA.trajectory, self.trajectories.append, 100)
        self.pressed: list[int] = []

    def press(self, button: int) -> None:
        self.pressed.append(button)
        for held in (1, 0):
            msg = Joy(axes=[0.0] * 8, buttons=[0] * 11)
            msg.buttons[button] = held
            for _ in range(3):  # joy_node repeats the state at its autorepeat rate
                self.joy.publish(msg)
                self.ls.tick()

    def type(self, line: str) -> None:
        self.keys.publish(String(data=line))
        self.ls.tick()

    def reset_scene(self, seed: int) -> None:
        assert self.ls.call(self.reset_client, ResetSim.Request(seed=seed)).success

    def wait(self, seconds: float) -> None:
        start = self.ls.time_s
        while self.ls.time_s - start < seconds - 1e-9:
            self.ls.tick()


def test_robot_evaluation_on_the_fr3_twin(tmp_path):
    from dp_policy_node.graph import GRAPH
    from dp_policy_node.tiny_policy import make_tiny_checkpoint, tiny_spec
    from dp_recorder.episode_metadata import read_metadata
    from dp_recorder.recorder_node import RecorderNode
    from dp_recorder.robot_eval_node import RobotEvalNode

    args = ["--ros-args", "--log-level", "warn"]
    for f in (joint_only_profile(tmp_path / "profile.yaml"), TWIN / "recorder.yaml"):
        args += ["--params-file", str(f)]
    bags, out = tmp_path / "bags", tmp_path / "eval"
    with Lockstep(args) as ls:
        sim = ls.add_sim(physics_timestep_s=0.002, control_period_s=0.01)  # coarser ticks: CI time
        spec = tiny_spec(joint_names=tuple(fr3.JOINT_NAMES), horizon=8, n_obs_steps=2, n_action_steps=4, dt_s=0.1)
        run = make_tiny_checkpoint(tmp_path / "policy", spec, steps=2, seed=0, center=sim.sim.ready_q)
        nodes = {}
        for e in GRAPH:
            params = {"checkpoint_path": str(run)} if e.lifecycle else {}
            nodes[e.name] = ls.add(e.node_class(), e.name, **params)
        policy, executor = nodes["policy_node"], nodes["chunk_executor_node"]
        ls.add(RecorderNode, output_dir=str(bags))
        evaluator = ls.add(
            RobotEvalNode,
            episodes=3,
            time_limit_s=LIMIT_S,
            output_dir=str(out),
            use_stdin=False,
            label="tiny",
            task="twin_eval",
        )
        op = Operator(ls)
        assert policy.state_label == "unconfigured"
        ls.run_until(lambda: evaluator.connected, 5.0, "the evaluation node configuring the policy")
        assert policy.state_label == "inactive"
        phase = lambda: evaluator.session.phase.value  # noqa: E731

        # 1: reset, A (reset done), B too early (ignored), A (start), run, B (success)
        op.reset_scene(1)
        op.press(A)
        op.press(B)
        assert phase() == "ready" and "ignored" in evaluator.session.refused
        op.press(A)
        assert phase() == "running" and policy.state_label == "active"
        q0 = sim.sim.commanded_positions()
        ls.run_until(lambda: len(op.trajectories) >= 3, 1.0, "the executor's trajectories")
        op.wait(0.5)
        assert np.abs(sim.sim.commanded_positions() - q0).max() > 1e-3, "the policy did not move the arm"
        op.press(B)
        assert phase() == "waiting_reset" and policy.state_label == "inactive"
        at_rest = lambda: executor.core.mode == "idle"  # noqa: E731
        ls.run_until(at_rest, 1.0, "the arm at rest")  # the operator resets the scene once the arm stopped

        # 2: terminal lines for reset and start, X (stop: policy off at once), then Y (failure)
        op.reset_scene(2)
        op.type("r")
        op.type("s")
        assert phase() == "running"
        op.wait(0.5)
        op.press(X)
        assert phase() == "stopped" and policy.state_label == "inactive"
        op.wait(0.3)
        op.press(Y)
        assert phase() == "waiting_reset"
        ls.run_until(at_rest, 1.0, "the arm at rest")

        # 3: nobody judges: the time limit ends it as a timeout and the arm stops
        op.reset_scene(3)
        op.press(A)
        op.press(A)
        assert phase() == "running"
        ls.run_until(lambda: evaluator.done, LIMIT_S + 0.5, "the time limit")
        assert policy.state_label == "inactive"
        op.wait(1.0)  # the executor decelerates within its limits
        assert executor.core.mode == "idle"
        still = []
        for _ in range(20):
            ls.tick()
            still.append(sim.sim.commanded_positions())
        assert np.abs(np.diff(still, axis=0)).max() < 1e-6, "the arm is not at rest after the timeout"
        assert sim.sim.reflex_count == 0 and sim.rejected_commands == 0

    # one bag per episode, its outcome in episode.yaml (and in its note)
    episodes = sorted(bags.glob("episode_*"))
    assert len(episodes) == 3
    metas = [read_metadata(e) for e in episodes]
    assert [m.outcome for m in metas] == ["success", "failure", "timeout"]
    assert [m.success for m in metas] == [True, False, False]
    assert all(m.status == "kept" and m.task == "twin_eval" and f"outcome: {m.outcome}" in m.note for m in metas)
    assert all(
        m.message_counts.get("/joint_states", 0) > 10 and list(e.glob("*.mcap"))
        for m, e in zip(metas, episodes, strict=True)
    )

    # the results count what the operator pressed; the timeout ran its limit
    results = json.loads((out / "results.json").read_text())
    assert results["counts"] == {"success": 1, "failure": 1, "timeout": 1, "aborted": 0}
    assert results["episodes"] == 3 and results["success_rate"] == pytest.approx(1 / 3, abs=1e-4)
    records = results["records"]
    assert [r["bag_path"] for r in records] == [str(e) for e in episodes]
    assert 0.45 <= records[1]["duration_s"] <= 0.6  # running time ends at the stop (X), not at the verdict
    assert LIMIT_S <= records[2]["duration_s"] <= LIMIT_S + 0.1
    assert (out / "results.png").stat().st_size > 1000
    assert op.pressed == [A, B, A, B, X, Y, A, A]
