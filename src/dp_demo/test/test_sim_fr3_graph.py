"""The FR3 graph on the twin: teleop records through franka's topic names → dp-convert with the FR3
convert config → a tiny dp-train → the FR3 deployment (config/robots/fr3_realsense.yaml plus
config/fr3_twin/deploy.yaml, with the overrides and remappings franka.launch.py gives each node,
from ``dp_policy_node.launch_graph``) drives the twin, the gripper through gripper_bridge_node; no reflex fires.

Each phase is one lockstep process (dp_sim.lockstep): sim time, reproducible, as fast as the
graph computes. Differences from franka.launch.py on the robot, both forced by the composition:
``use_sim_time`` (the twin's clock) and ``inference_thread:=false`` (the chunk must be out before
the next tick).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rclpy.node import Node
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dp_policy_node import launch_graph as graph
from dp_policy_node import launch_profiles as profiles
from dp_policy_node import launch_record as record
from dp_ros_common.params_file import resolve as resolve_params_file
from dp_sim.lockstep import Lockstep

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
PROFILE = REPO / "config/robots/fr3_realsense.yaml"
TWIN = REPO / "config/fr3_twin"
QUIET = ["--ros-args", "--log-level", "warn"]
FAST_TWIN = {
    "physics_timestep_s": 0.002,
    "control_period_s": 0.01,
}  # coarser ticks: CI time (trajectory/Cartesian only)


def process_args(processes) -> list[str]:
    """Each launch process's overrides and remappings as node-scoped --ros-args."""
    args = []
    for p in processes:
        for key, value in p.overrides.items():
            args += ["-p", f"{p.name}:{key}:={json.dumps(value)}"]
        for src, dst in p.remappings:
            args += ["-r", f"{p.name}:{src}:={dst}"]
    return args


def record_episode(bags: Path) -> Path:
    from dp_recorder.recorder_node import RecorderNode
    from dp_teleop.teleop_node import TeleopNode

    processes = record.record_processes(str(PROFILE), simulator="", expert=False, use_sim_time=True)
    assert [p.name for p in processes] == ["teleop", "recorder"]
    args = [
        *QUIET,
        "--params-file",
        resolve_params_file(PROFILE),  # as launch_entities: rcl refuses the profile's aliases
        "--params-file",
        str(TWIN / "sim_node.yaml"),
        "--params-file",
        str(TWIN / "recorder.yaml"),
        *process_args(processes),
    ]
    with Lockstep(args) as ls:
        sim = ls.add_sim(**FAST_TWIN)
        teleop = ls.add(TeleopNode)
        recorder = ls.add(RecorderNode, output_dir=str(bags))
        probe = ls.add(Node, "fr3_operator")
        joy = probe.create_publisher(Joy, "/joy", 10)

        def hold(buttons: list[int], vx: float, seconds: float) -> None:
            start = ls.time_s
            while ls.time_s - start < seconds:
                msg = Joy(axes=[0.0] * 8, buttons=[0] * 11)
                msg.axes[1] = vx
                for b in buttons:
                    msg.buttons[b] = 1
                joy.publish(msg)
                ls.tick()

        ls.run_until(
            lambda: (
                teleop.loop.integrator.ready
                and teleop.episode_clients[next(iter(teleop.episode_clients))].service_is_ready()
            ),
            2.0,
            "teleop's measured pose and the recorder",
        )
        hold([], 0.0, 0.2)
        hold([0], 0.0, 0.05)  # A: start the episode
        hold([], 0.0, 0.2)
        x0 = sim.sim.ee_position()[0]
        hold([4], 0.5, 2.5)  # LB + stick: +x at half the profile's 0.1 m/s
        assert teleop.loop.refused is None
        hold([], 0.0, 0.3)
        moved = sim.sim.ee_position()[0] - x0
        hold([1], 0.0, 0.05)  # B: stop, keep as success
        hold([], 0.0, 1.5)
        assert sim.sim.reflex_count == 0, sim.sim.reflex
        assert sim.rejected_commands == 0
        assert 0.08 < moved < 0.16, moved  # ~0.05 m/s for 2.5 s (teleop integrates on sim time)
        del recorder
    (bag,) = sorted(bags.glob("episode_*"))
    return bag


def test_fr3_graph_record_convert_train_deploy_on_the_twin(tmp_path):
    from dp_core.training.checkpoint import resolve_checkpoint_dir
    from dp_core.training.cli import main as train_main
    from dp_policy_node.bringup import autostart
    from dp_policy_node.graph import GRAPH
    from dp_policy_node.gripper_bridge_node import GripperBridgeNode
    from dp_recorder.convert_cli import main as convert_main

    # 1. record: teleop drives the twin through franka's topic names
    bag = record_episode(tmp_path / "bags")
    assert list(bag.glob("*.mcap"))

    # 2. convert with the FR3 convert config
    zarr = tmp_path / "fr3.zarr"
    assert convert_main([str(tmp_path / "bags"), "--config", str(TWIN / "convert.yaml"), "--out", str(zarr)]) == 0
    import zarr as zarr_lib

    root = zarr_lib.open(str(zarr), mode="r")
    assert root["data/front"].shape[1:] == (96, 96, 3) or root["data/front"].shape[1:] == (3, 96, 96)
    assert root["data/joint_pos"].shape[1] == 9 and root["data/action"].shape[1] == 9
    assert np.allclose(root["data/joint_pos"][:, 7:], 0.04)  # an open Hand: each finger at width / 2
    assert np.ptp(root["data/joint_pos"][:, :7], axis=0).max() > 0.01  # the arm moved

    # 3. a tiny train with the FR3 train config
    run = tmp_path / "train"
    tiny = [
        "policy.unet.down_dims=[32, 64]",
        "policy.unet.diffusion_step_embed_dim=32",
        "policy.encoder.crop_shape=null",
        "policy.encoder.num_keypoints=8",
        "policy.encoder.feature_dim_per_camera=16",
        "policy.num_inference_steps=4",
        "train.max_steps=2",
        "train.batch_size=4",
        "train.warmup_steps=0",
        "train.val_every=0",
        "train.device=cpu",
        "train.ema=false",
        "data.val_ratio=0.0",
        "data.cache_images=false",
        f"data.path={zarr}",
        f"train.output_dir={run}",
    ]
    assert train_main([str(TWIN / "train.yaml"), *tiny, "--log-level", "WARNING"]) == 0
    checkpoint = resolve_checkpoint_dir(run)

    # 4. deploy: the launch file's processes for controller:=joint_trajectory on the robot (simulator "")
    processes = graph.rollout_processes(
        str(PROFILE), "joint_trajectory", simulator="", use_sim_time=True, checkpoint=str(checkpoint)
    )
    assert [p.name for p in processes] == [e.name for e in GRAPH]
    executor_remaps = dict(next(p for p in processes if p.name == "chunk_executor_node").remappings)
    assert executor_remaps == {"/joint_trajectory_controller/joint_trajectory": "/fr3_arm_controller/joint_trajectory"}
    deployed = profiles.load_profile(PROFILE)  # what the nodes read: the profile with deploy.yaml on top
    for fqn, block in profiles.load_profile(TWIN / "deploy.yaml").items():
        deployed[fqn] = {**deployed.get(fqn, {}), **block}
    bridge_processes = graph.gripper_bridge_processes(str(PROFILE), deployed, use_sim_time=True, load_gripper=True)
    assert [p.name for p in bridge_processes] == ["gripper_bridge_node"]  # franka.launch.py starts it too
    processes += bridge_processes
    args = [
        *QUIET,
        "--params-file",
        resolve_params_file(PROFILE),
        "--params-file",
        str(TWIN / "sim_node.yaml"),
        "--params-file",
        str(TWIN / "deploy.yaml"),
        *process_args(processes),
    ]
    with Lockstep(args) as ls:
        sim = ls.add_sim(**FAST_TWIN)
        nodes = [ls.add(e.node_class(), e.name, **({"inference_thread": False} if e.lifecycle else {})) for e in GRAPH]
        bridge = ls.add(GripperBridgeNode)
        probe = ls.add(Node, "fr3_deploy_probe")
        trajectories: list[JointTrajectory] = []
        probe.create_subscription(JointTrajectory, "/fr3_arm_controller/joint_trajectory", trajectories.append, 100)
        grip: list[Float64MultiArray] = []
        probe.create_subscription(Float64MultiArray, "/dp/gripper_command", grip.append, 100)
        ls.run_until(bridge.gripper_clients["move"].server_is_ready, 1.0, "franka_gripper on the twin")
        ls.run_until(lambda: not ls.time_s < 0.5, 1.0, "observation windows")
        q0 = sim.sim.commanded_positions()
        assert autostart(nodes)
        ls.run_until(lambda: sum(len(t.points) > 1 for t in trajectories) >= 3, 5.0, "three chunk trajectories")
        ls.run_until(lambda: not ls.time_s < 3.0, 3.5, "a few more seconds of execution")
        # the executor streams the finger targets; the bridge turns them into franka_gripper goals
        assert grip and all(len(m.data) == 2 for m in grip)
        assert bridge.goals_sent >= 1 and bridge.rejected == 0, (len(grip), bridge.hysteresis.state)
        assert sim.hand.task is not None  # the twin's Hand got them
        assert all(list(t.joint_names) == [f"fr3_joint{i}" for i in range(1, 8)] for t in trajectories)
        assert np.abs(sim.sim.commanded_positions() - q0).max() > 1e-4  # the twin executes them
        assert sim.rejected_commands == 0
        assert sim.sim.reflex_count == 0, sim.sim.reflex  # the FR3 would not have stopped
