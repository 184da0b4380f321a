"""The bring-up graphs of ``franka.launch.py``, ``sim.launch.py`` and ``record.launch.py``, as data.

Pure Python (no ``launch`` import), so the tests can evaluate what the launch files start: which
package/executable, node name and namespace, which parameter file, which parameter overrides and
remappings, and which argument combinations are refused. The launch files list their nodes
literally (``Node(...)`` per node, as ros2_control_demos' launch files do) and call this module
only for the checks and for what depends on the profile's contents (one camera node per block, the
gripper bridge); ``test_bringup_launch_static`` compares their ``Node(...)`` calls with the
processes here. The policy part comes from ``dp_policy_node.graph.GRAPH``, the same description
the composed entry point (``dp_bringup``) instantiates.

Robot profiles (``config/robots/*.yaml``) are ordinary ROS parameter files: one block per node
(``<node>: ros__parameters: ...``), with namespaces as nesting (``camera: front:
ros__parameters:`` is the node ``/camera/front``). Every node of a graph gets the whole profile
as its ``--params-file`` and picks its own block by fully qualified name. Blocks under
``/camera/`` are RealSense cameras (one ``realsense2_camera_node`` each, model by ``device_type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dp_policy_node.graph import GRAPH, PACKAGE, NodeEntry
from dp_policy_node.gripper_wiring import bridge_command_topic
from dp_policy_node.realsense_models import CAMERA_NAMESPACE, camera_blocks, camera_model

REALSENSE_PACKAGE = "realsense2_camera"
REALSENSE_EXECUTABLE = "realsense2_camera_node"
MOVEIT_NODE_NAME = "ready_pose_moveit"  # ready_pose_node's MoveItPy node; its params file is keyed by it
POSITION_INTERFACE_RATE_HZ = 1000.0  # the FR3's joint position interface (libfranka, 1 kHz)
SIMULATORS = ("mujoco", "gazebo")
ROBOT_PROFILE = "config/robots/fr3_realsense.yaml"  # relative to the share directory (and the repo root)
SIM_PROFILE = "config/robots/sim.yaml"
FR3_CONTROLLERS = "config/robots/fr3_ros2_controllers.yaml"  # ros2_control controllers for franka_bringup
# The Franka Hand's TCP frame: franka_description end_effectors/common/franka_hand.xacro names it
# ${arm_id}_hand_tcp (0.1034 m along the flange, the hand turned -45 deg: robots/fr3/fr3.urdf.xacro);
# robots/common/franka_robot.xacro adds it only with hand:=true (franka_bringup: load_gripper).
HAND_TCP_LINK = "fr3_hand_tcp"


# MoveIt Servo's twist input: moveit_servo's servo_node (config: cartesian_command_in_topic ~/delta_twist_cmds)
SERVO_TWIST_TOPIC = "/servo_node/delta_twist_cmds"

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
class Controller:
    """One ``controller:=`` choice: the ros2_control controller and how the executor feeds it.

    ``executor_topic`` is the executor's default topic for ``output_mode`` (dp_sim listens there);
    on the robot (and in Gazebo) it is remapped to ``robot_topic``, the controller's input.
    """

    key: str
    ros2_control_name: str
    output_mode: str
    executor_topic: str
    robot_topic: str
    message_type: str
    description: str


CONTROLLERS: dict[str, Controller] = {
    c.key: c
    for c in (
        Controller(
            "joint_trajectory",
            "fr3_arm_controller",
            "trajectory",
            "/joint_trajectory_controller/joint_trajectory",
            "/fr3_arm_controller/joint_trajectory",
            "trajectory_msgs/msg/JointTrajectory",
            "joint_trajectory_controller/JointTrajectoryController (effort + PD gains, as franka's MoveIt "
            "config); the executor sends the retimed rest of each chunk",
        ),
        Controller(
            "joint_position",
            "forward_position_controller",
            "position",
            "/forward_position_controller/commands",
            "/forward_position_controller/commands",
            "std_msgs/msg/Float64MultiArray",
            "position_controllers/JointGroupPositionController; the executor streams positions at control_rate_hz",
        ),
        Controller(
            "cartesian",
            "cartesian_motion_controller",
            "pose",
            "/cartesian_target",
            "/cartesian_motion_controller/target_frame",
            "geometry_msgs/msg/PoseStamped",
            "cartesian_motion_controller/CartesianMotionController (FZI cartesian_controllers); "
            "needs actions x y z qx qy qz qw",
        ),
    )
}


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


# ---- profiles ---------------------------------------------------------------------------------
def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML parameters → dotted names (``joint_limits: {names: []}`` → ``joint_limits.names``)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def node_blocks(document: Mapping[str, Any], namespace: str = "") -> dict[str, dict[str, Any]]:
    """A ROS parameter YAML document → ``{fully qualified node name: {dotted param: value}}``."""
    blocks: dict[str, dict[str, Any]] = {}
    for key, value in document.items():
        if not isinstance(value, Mapping):
            raise ValueError(f"'{namespace}/{key}' is not a node block or a namespace (a mapping)")
        fqn = f"{namespace}/{key}"
        if "ros__parameters" in value:
            extra = set(value) - {"ros__parameters"}
            if extra:
                raise ValueError(f"node block {fqn} has keys besides ros__parameters: {sorted(extra)}")
            blocks[fqn] = flatten(value["ros__parameters"] or {})
        else:
            blocks.update(node_blocks(value, fqn))
    return blocks


def load_profile(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a robot profile / parameter file (see :func:`node_blocks`)."""
    import yaml

    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    return node_blocks(document)


def camera_topics(profile: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """``{camera name: {"image": topic, "camera_info": topic}}`` as realsense2_camera publishes them."""
    topics = {}
    for name, block in camera_blocks(profile).items():
        base = f"/{CAMERA_NAMESPACE}/{name}"
        topics[name] = {
            "image": f"{base}/{camera_model(name, block).image_topic}",
            "camera_info": f"{base}/color/camera_info",
        }
    return topics


def camera_processes(profile_path: str, profile: Mapping[str, Mapping[str, Any]]) -> list[Process]:
    """One realsense2_camera node per ``/camera/<name>`` block (serial, model, resolution, fps in the block)."""
    processes = []
    for name, block in camera_blocks(profile).items():
        camera_model(name, block)  # refuses blocks realsense2_camera would misread
        processes.append(Process(REALSENSE_PACKAGE, REALSENSE_EXECUTABLE, name, CAMERA_NAMESPACE, profile_path))
    return processes


def check_streaming_rate(controller: str, use_fake_hardware: bool, profile: Mapping[str, Mapping[str, Any]]) -> None:
    """Refuse streaming joint positions to the real FR3 unless they are generated at its 1 kHz.

    The FR3's position interface runs at 1 kHz without a rate limiter by default; positions
    streamed at 250 Hz step every 4 ms and trip libfranka's discontinuity reflexes. Trajectory
    mode (fr3_arm_controller interpolates at 1 kHz) is the FR3 default.
    """
    if CONTROLLERS[controller].output_mode != "position" or use_fake_hardware:
        return
    rate = float(profile.get("/chunk_executor_node", {}).get("control_rate_hz", 0.0))
    if rate < POSITION_INTERFACE_RATE_HZ:
        raise ValueError(
            f"controller:={controller} streams positions into the FR3's {POSITION_INTERFACE_RATE_HZ:.0f} Hz "
            f"interface, but chunk_executor_node.control_rate_hz is {rate:g}: each step would trip libfranka's "
            f"discontinuity reflex. Use controller:=joint_trajectory (the FR3 default) or set control_rate_hz "
            f">= {POSITION_INTERFACE_RATE_HZ:.0f} in the profile (use_fake_hardware:=true skips this check)."
        )


def _ours(spec: NodeEntry, profile_path: str, use_sim_time: bool, **kwargs: Any) -> Process:
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
        processes.append(_ours(spec, profile_path, use_sim_time, **extra))
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
    return [_ours(GRIPPER_BRIDGE_NODE, profile_path, use_sim_time, overrides={"command_topic": topic})]


def check_cartesian_end_effector(controller: str, load_gripper: bool, controllers_yaml: str | Path) -> None:
    """Refuse a Cartesian controller whose end effector is the Hand's TCP when the URDF has no Hand.

    franka's ``current_pose`` is O_T_EE, the end effector set in Desk (with the Hand: its TCP), so
    the Cartesian controller must control :data:`HAND_TCP_LINK`; that link exists only with
    load_gripper:=true. An arm without the Hand needs a controllers file with ``fr3_link8`` (and
    Desk's end effector set to none).
    """
    if CONTROLLERS[controller].output_mode != "pose" or load_gripper:
        return
    import yaml

    with open(controllers_yaml, encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    name = CONTROLLERS[controller].ros2_control_name
    params = (document.get("/**", document).get(name) or {}).get("ros__parameters") or {}
    link = str(params.get("end_effector_link", ""))
    if link.endswith("_hand_tcp"):
        raise ValueError(
            f"{name}.end_effector_link is {link} (the Franka Hand's TCP, as O_T_EE of current_pose with the Hand), "
            "but load_gripper:=false builds the URDF without the Hand. Pass load_gripper:=true, or, for an arm "
            "without the Hand, a controllers_yaml:= whose end_effector_link is fr3_link8."
        )


def simulator_processes(profile_path: str, simulator: str) -> list[Process]:
    """dp_sim's sim_node for "mujoco"; Gazebo is started by includes in sim.launch.py (no process here)."""
    if simulator == "mujoco":
        return [_ours(SIM_NODE, profile_path, True)]
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
        _ours(PLAN_PREVIEW_NODE, profile_path, use_sim_time),
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


# teleop's relative topics: the measured pose it starts from (on the FR3 franka_robot_state_broadcaster's
# current_pose, O_T_EE, best effort depth 1: teleop subscribes best effort), and where its target goes
TELEOP_REMAPS_SIM = (("current_pose", "/ee_pose"), ("cartesian_target", "/cartesian_target"))
TELEOP_REMAPS_ROBOT = (
    ("current_pose", "/franka_robot_state_broadcaster/current_pose"),
    ("cartesian_target", "/cartesian_motion_controller/target_frame"),
)


def record_processes(
    profile_path: str, simulator: str, expert: bool, use_sim_time: bool, servo_twist_topic: str = ""
) -> list[Process]:
    """Teleop (or dp_sim's scripted expert) and the episode recorder.

    ``servo_twist_topic`` (non-empty): teleop also publishes its TwistStamped there, for MoveIt Servo.
    """
    driver = EXPERT_NODE if expert else TELEOP_NODE
    if expert and simulator != "mujoco":
        raise ValueError("expert:=true needs simulator:=mujoco (the scripted expert drives dp_sim)")
    if expert and servo_twist_topic:
        raise ValueError("servo_twist_topic is a teleop output; expert:=true starts no teleop")
    remaps: tuple[tuple[str, str], ...] = ()
    overrides: dict[str, Any] = {}
    if not expert:
        remaps = TELEOP_REMAPS_SIM if simulator == "mujoco" else TELEOP_REMAPS_ROBOT
        if servo_twist_topic:
            overrides["servo_twist_topic"] = servo_twist_topic
    return [
        _ours(driver, profile_path, use_sim_time, remappings=remaps, overrides=overrides),
        _ours(RECORDER_NODE, profile_path, use_sim_time),
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
    return _ours(
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


# Teleop input drivers (joystick_drivers, ros2 branch): joy's joy_node publishes sensor_msgs/Joy on
# /joy; spacenav's spacenav_node (node "spacenav", needs the spacenavd daemon) publishes
# /spacenav/twist, /spacenav/joy. dp_teleop subscribes to joy and spacenav/twist.
TELEOP_DEVICES: dict[str, Process | None] = {
    "gamepad": Process("joy", "joy_node", "joy_node", overrides={"device_id": 0, "autorepeat_rate": 20.0}),
    "spacemouse": Process(
        "spacenav", "spacenav_node", "spacenav", overrides={"zero_when_static": True, "static_count_threshold": 30}
    ),
    "none": None,  # keyboard (teleop use_keyboard: true) or a driver started elsewhere
}


def teleop_device_processes(device: str) -> list[Process]:
    """The input driver of ``teleop_device:=``; ``none`` starts nothing."""
    if device not in TELEOP_DEVICES:
        raise ValueError(f"teleop_device:={device} is not one of {sorted(TELEOP_DEVICES)}")
    process = TELEOP_DEVICES[device]
    return [process] if process else []


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


# ---- launch arguments ------------------------------------------------------------------------
def truthy(text: str) -> bool:
    """A launch argument as a boolean ("true"/"false", "1"/"0"); anything else is a ValueError."""
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got '{text}'")


def launch_node(process: Process) -> Any:
    """A launch_ros ``Node`` for one of the profile-dependent processes (cameras, gripper bridge,
    ready pose) that a launch file cannot list literally."""
    from launch_ros.actions import Node

    from dp_ros_common.params_file import resolve

    parameters: list[Any] = [resolve(process.params_file)] if process.params_file else []  # rcl: no aliases
    if process.overrides:
        parameters.append(dict(process.overrides))
    return Node(
        package=process.package,
        executable=process.executable,
        name=process.name,
        namespace=process.namespace,
        parameters=parameters,
        remappings=list(process.remappings),
        arguments=list(process.arguments),
        output="screen",
    )


def policy_node_actions(profile_path: str, use_sim_time: bool, checkpoint: str, autostart: bool) -> list[Any]:
    """policy_node (a launch_ros ``LifecycleNode``; ``checkpoint`` non-empty overrides the profile's
    ``checkpoint_path``) and, with ``autostart``, its configure at launch and activate once inactive
    (launch_ros lifecycle events). Without autostart it stays unconfigured for an operator."""
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch.events import matches_action
    from launch_ros.actions import LifecycleNode
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    from dp_ros_common.params_file import resolve

    spec = next(e for e in policy_nodes() if e.lifecycle)
    overrides = {"use_sim_time": use_sim_time, **({"checkpoint_path": checkpoint} if checkpoint else {})}
    node = LifecycleNode(
        package=spec.package,
        executable=spec.executable,
        name=spec.name,
        namespace="",
        parameters=[resolve(profile_path), overrides],  # rcl refuses the profile's aliases
        output="screen",
    )
    if not autostart:
        return [node]

    def change(transition: int) -> Any:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))

    activate = OnStateTransition(
        target_lifecycle_node=node, goal_state="inactive", entities=[change(Transition.TRANSITION_ACTIVATE)]
    )
    return [node, RegisterEventHandler(activate), change(Transition.TRANSITION_CONFIGURE)]


FAKE_HARDWARE_NOTE = (
    "[dp_ros2] use_fake_hardware:=true: franka_bringup skips franka_robot_state_broadcaster, so "
    "/franka_robot_state_broadcaster/current_pose is never published: teleop (which starts from the "
    "measured pose) sends no targets and profiles observing ee_pose go stale; joint states, "
    "controllers and the policy graph work. See docs/robot_bringup.md."
)


def write_moveit_params(
    robot_ip: str,
    arm_id: str,
    fake: bool,
    load_gripper: bool,
    profile: Mapping[str, Mapping[str, Any]],
    directory: str | Path,
) -> Path:
    """The MoveIt params file of ready_pose_node's MoveItPy (keyed by :data:`MOVEIT_NODE_NAME`),
    built from franka's files as franka_fr3_moveit_config's moveit.launch.py builds them."""
    from ament_index_python.packages import get_package_share_directory

    from dp_policy_node.moveit_params import write_params_file

    ready = profile.get(f"/{READY_POSE_NODE.name}", {})
    return write_params_file(
        get_package_share_directory,
        MOVEIT_NODE_NAME,
        Path(directory) / f"{MOVEIT_NODE_NAME}_params.yaml",
        robot_type=arm_id,
        robot_ip=robot_ip,
        use_fake_hardware=fake,
        load_gripper=load_gripper,
        velocity_scaling=float(ready.get("velocity_scaling", 0.2)),
        acceleration_scaling=float(ready.get("acceleration_scaling", 0.2)),
    )
