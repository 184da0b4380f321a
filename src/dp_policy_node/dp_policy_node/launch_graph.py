"""The bring-up graphs of ``franka.launch.py`` and ``sim.launch.py`` as data: our nodes, the processes.

Pure Python (no ``launch`` import), so the tests can evaluate what the launch files start: which
package/executable, node name and namespace, which parameter file, which parameter overrides and
remappings, and which argument combinations are refused. The launch files list their nodes
literally (``Node(...)`` per node, as ros2_control_demos' launch files do) and use this table
only for what depends on the profile's contents (one camera node per block, the gripper bridge),
which ``launch_actions`` turns into launch entities; ``test_bringup_launch_static`` compares their
``Node(...)`` calls with the processes here. The policy part comes from
``dp_policy_node.graph.GRAPH``, the same description the composed entry point (``dp_bringup``)
instantiates. Beside it: the ``controller:=`` table (``launch_controllers``), the profiles' YAML
(``launch_profiles``) and record.launch.py's graph (``launch_record``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dp_policy_node.graph import GRAPH, PACKAGE, NodeEntry
from dp_policy_node.gripper_wiring import bridge_command_topic
from dp_policy_node.launch_controllers import CONTROLLERS
from dp_policy_node.realsense_models import CAMERA_NAMESPACE, camera_blocks, camera_model

REALSENSE_PACKAGE = "realsense2_camera"
REALSENSE_EXECUTABLE = "realsense2_camera_node"
MOVEIT_NODE_NAME = "ready_pose_moveit"  # ready_pose_node's MoveItPy node; its params file is keyed by it
SIMULATORS = ("mujoco", "gazebo")

# Our nodes outside the policy graph, described like it (dp_policy_node.graph.NodeEntry).
SIM_NODE = NodeEntry("sim_node", "sim_node", "dp_sim.sim_node", "SimNode", package="dp_sim")
EXPERT_NODE = NodeEntry("expert_node", "expert_node", "dp_sim.expert_node", "ExpertNode", package="dp_sim")
RECORDER_NODE = NodeEntry(
    "recorder", "recorder_node", "dp_recorder.recorder_node", "RecorderNode", package="dp_recorder"
)
TELEOP_NODE = NodeEntry("teleop", "teleop_node", "dp_teleop.teleop_node", "TeleopNode", package="dp_teleop")
READY_POSE_NODE = NodeEntry("ready_pose_node", "ready_pose_node", f"{PACKAGE}.ready_pose_node", "ReadyPoseNode")
PLAN_PREVIEW_NODE = NodeEntry(
    "plan_preview_node", "plan_preview_node", f"{PACKAGE}.plan_preview_node", "PlanPreviewNode"
)
GRIPPER_BRIDGE_NODE = NodeEntry(
    "gripper_bridge_node", "gripper_bridge_node", f"{PACKAGE}.gripper_bridge_node", "GripperBridgeNode"
)


def policy_nodes() -> tuple[NodeEntry, ...]:
    """observation → policy → executor: ``dp_policy_node.graph.GRAPH`` (the composed bring-up's list)."""
    return GRAPH


def all_node_specs() -> tuple[NodeEntry, ...]:
    """Every node of ours that a launch file may start (the config test checks all their blocks)."""
    return (
        *policy_nodes(),
        SIM_NODE,
        EXPERT_NODE,
        RECORDER_NODE,
        TELEOP_NODE,
        READY_POSE_NODE,
        GRIPPER_BRIDGE_NODE,
        PLAN_PREVIEW_NODE,
    )


@dataclass(frozen=True)
class Process:
    """One node process a launch file starts."""

    package: str
    executable: str
    name: str
    namespace: str = ""
    params_file: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    lifecycle: bool = False
    arguments: tuple[str, ...] = ()

    @property
    def fqn(self) -> str:
        return "/" + "/".join(p for p in (self.namespace.strip("/"), self.name) if p)


def camera_processes(profile_path: str, profile: Mapping[str, Mapping[str, Any]]) -> list[Process]:
    """One realsense2_camera node per ``/camera/<name>`` block (serial, model, resolution, fps in the block)."""
    processes = []
    for name, block in camera_blocks(profile).items():
        camera_model(name, block)  # refuses blocks realsense2_camera would misread
        processes.append(Process(REALSENSE_PACKAGE, REALSENSE_EXECUTABLE, name, CAMERA_NAMESPACE, profile_path))
    return processes


def our_process(spec: NodeEntry, profile_path: str, use_sim_time: bool, **kwargs: Any) -> Process:
    """A node of ours: the whole profile as its parameter file, then ``use_sim_time`` and ``overrides``."""
    overrides = {"use_sim_time": use_sim_time, **kwargs.pop("overrides", {})}
    return Process(
        spec.package, spec.executable, spec.name, "", profile_path, overrides, lifecycle=spec.lifecycle, **kwargs
    )


def rollout_processes(
    profile_path: str,
    controller: str,
    simulator: str = "",
    use_sim_time: bool = False,
    checkpoint: str = "",
    shadow: bool = False,
) -> list[Process]:
    """observation, policy (lifecycle) and executor; the executor's output fits ``controller``.

    ``checkpoint`` (non-empty) overrides the profile's ``policy_node.checkpoint_path``; ``shadow``
    sends the executor's commands to dp/shadow/* (the controller hears nothing).

    ``simulator`` is "" for the robot, "mujoco" (dp_sim: the executor's default topics are its
    inputs) or "gazebo" (gz_ros2_control: the robot's controller topics).
    """
    if controller not in CONTROLLERS:
        raise ValueError(f"controller '{controller}' is not one of {sorted(CONTROLLERS)}")
    if simulator not in ("", *SIMULATORS):
        raise ValueError(f"simulator '{simulator}' is not one of {SIMULATORS}")
    ctrl = CONTROLLERS[controller]
    processes = []
    for spec in policy_nodes():
        extra: dict[str, Any] = {}
        if spec.lifecycle and checkpoint:
            extra["overrides"] = {"checkpoint_path": checkpoint}
        if spec.name == "chunk_executor_node":
            extra["overrides"] = {"output_mode": ctrl.output_mode, "command_topic": "", "shadow": shadow}
            if simulator != "mujoco" and ctrl.robot_topic != ctrl.executor_topic:
                extra["remappings"] = ((ctrl.executor_topic, ctrl.robot_topic),)
        processes.append(our_process(spec, profile_path, use_sim_time, **extra))
    return processes


def gripper_bridge_processes(
    profile_path: str,
    profile: Mapping[str, Mapping[str, Any]],
    use_sim_time: bool = False,
    load_gripper: bool | None = None,
) -> list[Process]:
    """gripper_bridge_node when the executor sends gripper dimensions (its ``gripper_topic``; see
    ``dp_policy_node.gripper_wiring``), listening on exactly that topic; none otherwise.

    ``load_gripper`` (the robot: franka_bringup's argument) False with a bridge is refused: franka
    starts franka_gripper, whose actions the bridge drives, only with load_gripper:=true.
    """
    topic = bridge_command_topic(profile.get("/chunk_executor_node", {}))
    if not topic:
        return []
    if load_gripper is False:
        raise ValueError(
            f"chunk_executor_node.gripper_topic is '{topic}' (the policy drives the Hand), but "
            "load_gripper:=false: franka_bringup then starts no franka_gripper. Pass load_gripper:=true."
        )
    return [our_process(GRIPPER_BRIDGE_NODE, profile_path, use_sim_time, overrides={"command_topic": topic})]


def simulator_processes(profile_path: str, simulator: str) -> list[Process]:
    """dp_sim's sim_node for "mujoco"; Gazebo is started by includes in sim.launch.py (no process here)."""
    if simulator == "mujoco":
        return [our_process(SIM_NODE, profile_path, True)]
    return []


# rviz:=true. The ghost arm: a second robot_state_publisher (namespace preview: its robot_description
# topic is /preview/robot_description) with frame_prefix "preview/" on plan_preview_node's joint state
# (robot_state_publisher README: frame_prefix, joint_states), rooted at the arm's base by an identity
# transform: franka_description robots/common/franka_robot.xacro makes ${arm_id}_link0 the root
# without Gazebo. RViz shows it with TF Prefix "preview" (config/rviz/dp_preview.rviz).
PREVIEW_NAMESPACE = "preview"
PREVIEW_FRAME_PREFIX = "preview/"
PREVIEW_JOINT_STATES = "/dp/preview/joint_states"
RVIZ_CONFIG = "config/rviz/dp_preview.rviz"


def preview_processes(profile_path: str, use_sim_time: bool, arm_id: str = "fr3") -> list[Process]:
    """plan_preview_node, the ghost arm's robot_state_publisher and root transform, rviz2 (the
    launch file adds the ghost's ``robot_description``, a xacro run)."""
    sim = {"use_sim_time": use_sim_time}
    root = f"{arm_id}_link0"
    return [
        our_process(PLAN_PREVIEW_NODE, profile_path, use_sim_time),
        Process(
            "robot_state_publisher",
            "robot_state_publisher",
            "robot_state_publisher",
            PREVIEW_NAMESPACE,
            overrides={"frame_prefix": PREVIEW_FRAME_PREFIX, **sim},
            remappings=(("joint_states", PREVIEW_JOINT_STATES),),
        ),
        Process(
            "tf2_ros",
            "static_transform_publisher",
            "preview_root",
            overrides=sim,
            arguments=("--frame-id", root, "--child-frame-id", PREVIEW_FRAME_PREFIX + root),
        ),
        Process("rviz2", "rviz2", "rviz2", overrides=sim, arguments=("-d", RVIZ_CONFIG)),
    ]


def ready_pose_process(
    profile_path: str, controller: str, use_sim_time: bool = False, moveit_params_file: str = ""
) -> Process:
    """ready_pose_node; it switches the streaming controller off while MoveIt uses the trajectory one.

    ``moveit_params_file`` (written by :func:`write_moveit_params`) is keyed by
    :data:`MOVEIT_NODE_NAME`, the name ready_pose_node creates its MoveItPy with.
    """
    ctrl = CONTROLLERS[controller]
    streaming = "" if ctrl.output_mode == "trajectory" else ctrl.ros2_control_name
    return our_process(
        READY_POSE_NODE,
        profile_path,
        use_sim_time,
        overrides={
            "streaming_controller": streaming,
            "trajectory_controller": CONTROLLERS["joint_trajectory"].ros2_control_name,
            "moveit_node_name": MOVEIT_NODE_NAME,
            "moveit_params_file": moveit_params_file,
        },
    )


def controller_spawners(controller: str, ready_pose: bool, param_file: str = "") -> list[Process]:
    """``controller_manager spawner``: the chosen controller active; the trajectory controller
    loaded inactive too when the ready pose needs it (MoveIt executes through it).

    ``param_file`` (Gazebo: the controllers are not in gz_ros2_control's file) goes to ``--param-file``.
    """
    extra = ("--param-file", param_file) if param_file else ()
    chosen = CONTROLLERS[controller].ros2_control_name
    trajectory = CONTROLLERS["joint_trajectory"].ros2_control_name
    names: list[tuple[str, tuple[str, ...]]] = [(chosen, ())]
    if ready_pose and chosen != trajectory:
        names.append((trajectory, ("--inactive",)))
    return [
        Process(
            "controller_manager",
            "spawner",
            f"spawner_{name}",
            arguments=(name, "--controller-manager", "/controller_manager", *extra, *flags),
        )
        for name, flags in names
    ]
