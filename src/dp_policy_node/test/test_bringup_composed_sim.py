"""The composed bring-up runs sim.launch.py's node graph from the same robot profile against dp_sim.

One process, one MultiThreadedExecutor: dp_sim's ``sim_node`` and the nodes of
``dp_policy_node.graph.GRAPH`` made by ``bringup.create_nodes``, all with their parameters from
``config/robots/sim.yaml`` (aliases expanded by ``dp_ros_common.params_file.resolve``, as the launch files do) through the context's ``--ros-args --params-file``, then
the overrides ``sim.launch.py`` gives its processes (``launch_graph.simulator_processes`` and
``rollout_processes`` for ``simulator:=mujoco``: use_sim_time, the checkpoint, the executor's
output mode and topic) as ``-p <node>:<name>:=<value>`` after the file (later wins, as with
launch_ros' ``parameters=[file, dict]``). The policy is a tiny real checkpoint whose inputs and
outputs are the profile's: cameras ``top`` and ``wrist`` 3x96x96 and ``joint_pos``
(fr3_joint1..7) → 7 joint actions, with the profile's n_obs_steps and dt_s.

Checked: the nodes are the launch file's processes and their parameters are the profile's plus
the launch overrides; every topic connects the expected nodes (cameras and /joint_states →
observation_node, dp/observation_window → policy_node, dp/action_chunk → chunk_executor_node,
the controller's command topic → sim_node, /clock → every node: sim time); the policy goes
active through the bring-up's autostart; chunks flow; the executor executes them and commands
the sim (a trajectory per chunk, or for controller:=joint_position a position every control tick
with ExecutorStatus.commands_published growing), whose commanded and measured joint positions
move; after a deactivate through the real lifecycle service the chunks and commands stop and the
executor goes idle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rclpy
from bringup_workspace import REPO
from lifecycle_msgs.msg import Transition
from rclpy.context import Context
from rclpy.exceptions import ParameterUninitializedException
from rclpy.executors import MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

from dp_msgs.msg import ActionChunk, ExecutorStatus, ObservationStatus, PolicyStatus
from dp_policy_node import launch_controllers as controllers
from dp_policy_node import launch_graph as graph
from dp_policy_node import launch_profiles as profiles
from dp_policy_node.bringup import autostart, create_nodes
from dp_policy_node.graph import GRAPH
from dp_policy_node.tiny_policy import make_tiny_checkpoint, tiny_spec
from dp_ros_common.params_file import resolve as resolve_params_file
from dp_ros_common.testing import LifecycleClient, spin_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SIMULATOR = "mujoco"
# sim.launch.py's default controller:= (the profile's output_mode: the executor sends the retimed
# rest of each chunk). "joint_position" (a position command every control tick) passes too; it is
# left out because each bring-up costs 25-35 s on a busy 2-core machine (mostly loading the policy).
CONTROLLERS = ("joint_trajectory",)
COMMAND_TYPES = {
    "trajectory_msgs/msg/JointTrajectory": JointTrajectory,
    "std_msgs/msg/Float64MultiArray": Float64MultiArray,
}
MOVED_RAD = 1e-3  # a joint position that changed by more than this has moved


def profile_path() -> Path:
    return REPO / profiles.SIM_PROFILE


@pytest.fixture(scope="module")
def sim_checkpoint(tmp_path_factory) -> Path:
    """A tiny checkpoint trained on data shaped like the profile's observation and policy blocks."""
    profile = profiles.load_profile(profile_path())
    obs, policy = profile["/observation_node"], profile["/policy_node"]
    cameras = {
        name: (int(obs[f"cameras.{name}.height"]), int(obs[f"cameras.{name}.width"])) for name in obs["camera_names"]
    }
    spec = tiny_spec(
        cameras=cameras,
        joint_names=tuple(obs["joint_state.joint_names"]),
        joint_key=obs["joint_state.key"],
        n_obs_steps=int(obs["n_obs_steps"]),
        dt_s=float(obs["dt_s"]),
    )
    # the profile's policy block must accept it as it is
    assert [k.name for k in spec.obs] == list(policy["expected_obs_keys"])
    assert ["x".join(map(str, k.shape)) for k in spec.obs] == list(policy["expected_obs_shapes"])
    assert list(spec.action_names) == list(policy["action_names"])
    return make_tiny_checkpoint(tmp_path_factory.mktemp("sim_policy"), spec, steps=1, seed=0)


def launch_args(checkpoint: Path, controller: str) -> tuple[list[str], list]:
    """``--ros-args`` of sim.launch.py's processes in one context: the profile, then each process's
    overrides as ``-p <node>:<name>:=<value>`` (later wins, as launch_ros' ``parameters=[file, dict]``)."""
    profile = str(profile_path())
    processes = [
        *graph.simulator_processes(profile, SIMULATOR),
        *graph.rollout_processes(
            profile, controller, simulator=SIMULATOR, use_sim_time=True, checkpoint=str(checkpoint)
        ),
    ]
    args = ["--ros-args", "--params-file", resolve_params_file(profile)]  # as launch_entities (aliases)
    for p in processes:
        # no namespaces or remappings with dp_sim: the nodes below are exactly these processes
        assert p.params_file == profile and p.namespace == "" and p.remappings == (), p
        for name, value in p.overrides.items():
            args += ["-p", f"{p.name}:{name}:={json.dumps(value)}"]  # JSON is YAML
    return args, processes


class Probe:
    """Records the graph's traffic: chunks, commands, statuses, joint states."""

    def __init__(self, context: Context, command_type: type, command_topic: str) -> None:
        self.node = Node("composed_sim_probe", context=context, use_global_arguments=False)
        self.chunks: list[ActionChunk] = []
        self.commands: list = []
        self.joints: list[JointState] = []
        self.status: dict[str, list] = {"obs": [], "policy": [], "executor": []}
        sub = self.node.create_subscription
        sub(ActionChunk, "/dp/action_chunk", self.chunks.append, 50)
        sub(command_type, command_topic, self.commands.append, 100)
        sub(JointState, "/joint_states", self.joints.append, 50)
        for key, msg_type, topic in (
            ("obs", ObservationStatus, "/dp/observation_status"),
            ("policy", PolicyStatus, "/dp/policy_status"),
            ("executor", ExecutorStatus, "/dp/executor_status"),
        ):
            sub(msg_type, topic, self.status[key].append, 50)

    def last(self, key: str):
        return self.status[key][-1] if self.status[key] else None

    def endpoints(self, topic: str) -> tuple[set[str], set[str]]:
        """(publisher node names, subscriber node names) of a topic, from the ROS graph."""
        pubs = {i.node_name for i in self.node.get_publishers_info_by_topic(topic)}
        subs = {i.node_name for i in self.node.get_subscriptions_info_by_topic(topic)}
        return pubs, subs


@pytest.mark.parametrize("controller", CONTROLLERS)
def test_composed_bringup_runs_the_sim_launch_graph(sim_checkpoint, controller):
    ros_args, processes = launch_args(sim_checkpoint, controller)
    graph_names = [e.name for e in GRAPH]
    sim_spec = graph.SIM_NODE
    assert [p.name for p in processes] == [sim_spec.name, *graph_names]  # the launch file starts this graph
    ctrl = controllers.CONTROLLERS[controller]
    command_topic, command_type = ctrl.executor_topic, COMMAND_TYPES[ctrl.message_type]
    trajectory = ctrl.output_mode == "trajectory"

    context = Context()
    rclpy.init(args=["dp_bringup", *ros_args], context=context, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    nodes: list[Node] = []
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    probe = None
    try:
        nodes = [sim_spec.node_class()(context=context), *create_nodes(context)]  # sim_node + the bring-up's nodes
        sim = nodes[0]
        rejected: list[tuple[str, str]] = []  # the commands sim_node refused: (what, why)
        reject = sim._reject
        sim._reject = lambda what, err: (rejected.append((what, str(err))), reject(what, err))
        probe = Probe(context, command_type, command_topic)
        for node in (*nodes, probe.node):
            executor.add_node(node)

        # the parameters are the profile's plus the launch file's overrides
        assert [n.get_name() for n in nodes] == [p.name for p in processes]
        profile = profiles.load_profile(profile_path())
        for node, proc in zip(nodes, processes):
            values = {**profile[f"/{proc.name}"], **proc.overrides}
            for name, value in values.items():
                try:
                    got = node.get_parameter(name).value
                except ParameterUninitializedException:  # an empty list (no element type), read as []
                    got = []
                assert (list(got) if isinstance(value, list) else got) == value, (proc.name, name, got, value)
        assert sim.params["publish_images"] and sim.params["cameras"] == ["top", "wrist"]

        def sim_q() -> tuple[np.ndarray, np.ndarray]:
            with sim._lock:
                return sim.sim.commanded_positions().copy(), sim.sim.joint_positions().copy()

        # the sim runs and the observation node builds windows before the policy is started
        assert spin_until(executor, lambda: (s := probe.last("obs")) is not None and s.windows_published >= 2, 60.0), (
            f"no observation windows: {probe.last('obs')}"
        )
        assert spin_until(executor, lambda: len(probe.joints) > 0, 10.0)
        commanded0, measured0 = sim_q()
        joints0 = np.asarray(probe.joints[-1].position)

        # the composed bring-up's autostart: configure (loads the checkpoint) + activate
        assert autostart(nodes)
        lifecycle = LifecycleClient(probe.node, executor, "/policy_node")
        assert lifecycle.state() == "active"

        expected = {  # topic: (publisher, subscribers)
            "/camera/top/image_raw": ("sim_node", {"observation_node"}),
            "/camera/wrist/image_raw": ("sim_node", {"observation_node"}),
            "/joint_states": ("sim_node", {"observation_node", "chunk_executor_node"}),
            "/dp/observation_window": ("observation_node", {"policy_node"}),
            "/dp/action_chunk": ("policy_node", {"chunk_executor_node"}),
            "/dp/policy_status": ("policy_node", {"chunk_executor_node"}),
            command_topic: ("chunk_executor_node", {"sim_node"}),
            "/clock": ("sim_node", {"sim_node", *graph_names}),  # use_sim_time everywhere
        }

        def connected() -> bool:
            for topic, (pub, subs) in expected.items():
                pubs, got_subs = probe.endpoints(topic)
                if pub not in pubs or not subs <= got_subs:
                    return False
            return True

        assert spin_until(executor, connected, 30.0), {t: probe.endpoints(t) for t in expected}

        # chunks flow, the executor executes them and feeds the sim, the arm moves
        # a streaming controller gets a command every control tick; the trajectory controller one
        # trajectory per accepted chunk (and a one-point trajectory when the executor starts holding)
        min_commands = 25 if not trajectory else 2

        def sent() -> int:  # commands that carry a plan: a chunk's trajectory, or a streamed position
            return sum(len(c.points) > 1 for c in probe.commands) if trajectory else len(probe.commands)

        def flowing() -> bool:
            ex, pol = probe.last("executor"), probe.last("policy")
            return (
                len(probe.chunks) >= 2
                and sent() >= min_commands
                and ex is not None
                and ex.chunks_accepted >= 2
                and (trajectory or ex.commands_published >= min_commands)
                and pol is not None
                and pol.lifecycle_state == "active"
            )

        assert spin_until(executor, flowing, 60.0), (
            f"chunks {len(probe.chunks)}, commands {len(probe.commands)}, "
            f"executor {probe.last('executor')}, policy {probe.last('policy')}"
        )
        chunk = probe.chunks[-1]
        assert list(chunk.action_names) == [f"fr3_joint{i}" for i in range(1, 8)] and chunk.action_dim == 7
        # statuses come at their own rates (2 and 10 Hz): wait for them to report it
        assert spin_until(executor, lambda: probe.last("policy").chunks_published >= 1, 10.0), probe.last("policy")
        assert spin_until(executor, lambda: any(s.mode == "executing" for s in probe.status["executor"]), 10.0), [
            s.mode for s in probe.status["executor"]
        ]
        if trajectory:
            assert all(list(c.joint_names) == list(chunk.action_names) for c in probe.commands)
        else:
            assert all(len(c.data) == 7 for c in probe.commands)

        def moved() -> bool:
            commanded, measured = sim_q()
            return np.abs(commanded - commanded0).max() > MOVED_RAD and np.abs(measured - measured0).max() > MOVED_RAD

        assert spin_until(executor, moved, 30.0), (sim_q(), commanded0, measured0)
        # /joint_states shows it too
        assert spin_until(
            executor, lambda: np.abs(np.asarray(probe.joints[-1].position) - joints0).max() > MOVED_RAD, 10.0
        ), (probe.joints[-1].position, joints0)
        # The sim takes every command, the one-point hold trajectory included (stamped 0 = on receipt).
        assert rejected == [], rejected
        # and none of the executor's commands made the arm reflex (dp_sim.reflexes: FR3 limits)
        assert sim.sim.reflex_count == 0, sim.sim.reflex

        # deactivate through the real lifecycle service: chunks stop, the executor goes idle
        assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.state() == "inactive"
        # wall-clock budget: the sim, three nodes and a torch model share one Python process here, so sim
        # time can run several times slower than real time on a loaded 2-core machine
        assert spin_until(executor, lambda: (s := probe.last("executor")) is not None and s.mode == "idle", 30.0), (
            probe.last("executor")
        )
        idle_at = len(probe.status["executor"])
        assert probe.last("executor").hold_reason == "policy inactive"
        # (two more statuses, so that no command sent before the idle status is still on its way)
        assert spin_until(executor, lambda: len(probe.status["executor"]) >= idle_at + 2, 30.0)
        chunks, commands, statuses = len(probe.chunks), len(probe.commands), len(probe.status["executor"])
        # half a second of sim time (5 executor statuses at 10 Hz) without a chunk or a command, while
        # an active policy would have sent a chunk per inference (~0.1-1 s here)
        assert spin_until(executor, lambda: len(probe.status["executor"]) >= statuses + 5, 20.0)
        assert len(probe.chunks) == chunks and len(probe.commands) == commands
        assert all(s.mode == "idle" for s in probe.status["executor"][idle_at - 1 :])
        assert probe.last("policy").lifecycle_state == "inactive"
    finally:
        for node in nodes:
            if node.get_name() == "sim_node":
                node.stop()  # the physics thread: no more messages
        executor.shutdown(timeout_sec=5.0)
        # rclpy's shutdown does not wait for callbacks already handed to the thread pool: let them
        # finish before their nodes go
        pool = getattr(executor, "_executor", None)
        if pool is not None:
            pool.shutdown(wait=True)
        for node in nodes:
            if isinstance(node, LifecycleNode) and getattr(node, "worker", None) is not None:
                node.worker.stop(timeout_s=5.0)
            node.destroy_node()
        if probe is not None:
            probe.node.destroy_node()
        rclpy.try_shutdown(context=context)
