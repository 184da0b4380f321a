"""The MoveIt parameters ready_pose_node's MoveItPy gets, built as franka_ros2 builds them.

franka_fr3_moveit_config ships no URDF/SRDF (no MoveItConfigsBuilder layout): its
``launch/moveit.launch.py`` (franka_ros2 jazzy, v3.5.3) runs xacro on franka_bringup's
``urdf/franka_arm.urdf.xacro`` (robot_type:=fr3, hand, ee_id, robot_ip, use_fake_hardware,
fake_sensor_commands) and franka_description's ``robots/fr3/fr3.srdf.xacro`` (hand, ee_id), and loads
``config/kinematics.yaml``, ``config/fr3_joint_limits.yaml``, ``config/ompl_planning.yaml`` and
``config/fr3_controllers.yaml`` of franka_fr3_moveit_config. Its OMPL request/response adapters and
trajectory-execution settings are repeated here. MoveItPy (moveit_cpp) then reads
``planning_pipelines.pipeline_names`` + one namespace per pipeline, ``plan_request_params`` and
``planning_scene_monitor_options`` (moveit2 jazzy moveit_cpp.hpp, PlanningComponent::PlanRequestParameters).

Pure functions (no ROS, xacro or MoveIt import), and :func:`write_params_file`, which the launch
file calls: it runs xacro (imported there), reads the YAML files and writes :func:`params_document`
to the file MoveItPy loads, keyed by the node name MoveItPy is created with (parameters in a ROS
params file only reach the node they are keyed by).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MOVEIT_CONFIG_PACKAGE = "franka_fr3_moveit_config"
PIPELINE = "ompl"
OMPL_PLANNER = "ompl_interface/OMPLPlanner"
REQUEST_ADAPTERS = (
    "default_planning_request_adapters/ResolveConstraintFrames",
    "default_planning_request_adapters/ValidateWorkspaceBounds",
    "default_planning_request_adapters/CheckStartStateBounds",
    "default_planning_request_adapters/CheckStartStateCollision",
)
RESPONSE_ADAPTERS = (
    "default_planning_response_adapters/AddTimeOptimalParameterization",
    "default_planning_response_adapters/ValidateSolution",
    "default_planning_response_adapters/DisplayMotionPath",
)
# what MoveItPy cannot plan without
REQUIRED_KEYS = (
    "robot_description",
    "robot_description_semantic",
    "robot_description_kinematics",
    "planning_pipelines",
    PIPELINE,
    "plan_request_params",
    "moveit_simple_controller_manager",
)


@dataclass(frozen=True)
class FrankaMoveItFiles:
    """The files franka's moveit.launch.py reads, as absolute paths."""

    urdf_xacro: Path
    srdf_xacro: Path
    kinematics: Path
    joint_limits: Path
    ompl_planning: Path
    controllers: Path


def franka_moveit_files(share: Callable[[str], str | Path], robot_type: str = "fr3") -> FrankaMoveItFiles:
    """The files for ``robot_type``; ``share(package)`` is the package's share directory."""
    if robot_type != "fr3":
        raise ValueError(f"only the FR3 has a MoveIt config here ({MOVEIT_CONFIG_PACKAGE}), got '{robot_type}'")
    config = Path(share(MOVEIT_CONFIG_PACKAGE)) / "config"
    return FrankaMoveItFiles(
        urdf_xacro=Path(share("franka_bringup")) / "urdf" / "franka_arm.urdf.xacro",
        srdf_xacro=Path(share("franka_description")) / "robots" / robot_type / f"{robot_type}.srdf.xacro",
        kinematics=config / "kinematics.yaml",
        joint_limits=config / f"{robot_type}_joint_limits.yaml",
        ompl_planning=config / "ompl_planning.yaml",
        controllers=config / f"{robot_type}_controllers.yaml",
    )


def end_effector(load_gripper: bool) -> str:
    """franka's ``ee_id``: the Franka Hand when the gripper is loaded, else none (TCP at the flange)."""
    return "franka_hand" if load_gripper else "none"


def urdf_xacro_mappings(
    robot_type: str, robot_ip: str, load_gripper: bool, use_fake_hardware: bool, fake_sensor_commands: bool = False
) -> dict[str, str]:
    """xacro arguments of franka_arm.urdf.xacro, as franka's moveit.launch.py passes them."""
    return {
        "robot_type": robot_type,
        "robot_ip": robot_ip,
        "hand": _flag(load_gripper),
        "ee_id": end_effector(load_gripper),
        "use_fake_hardware": _flag(use_fake_hardware),
        "fake_sensor_commands": _flag(fake_sensor_commands),
    }


def srdf_xacro_mappings(load_gripper: bool) -> dict[str, str]:
    """xacro arguments of fr3.srdf.xacro (hand, ee_id), consistent with the URDF's."""
    return {"hand": _flag(load_gripper), "ee_id": end_effector(load_gripper)}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def unwrap_ros_parameters(document: Any) -> dict[str, Any]:
    """A YAML config as parameters: ``{'/**': {'ros__parameters': {...}}}`` wrappers are removed."""
    if not isinstance(document, Mapping):
        raise ValueError(f"expected a mapping of parameters, got {type(document).__name__}")
    if len(document) == 1:
        (only,) = document.values()
        if isinstance(only, Mapping) and set(only) == {"ros__parameters"}:
            return dict(only["ros__parameters"])
    return dict(document)


def moveit_controllers(controllers: Mapping[str, Any], load_gripper: bool) -> dict[str, Any]:
    """fr3_controllers.yaml for moveit_simple_controller_manager; without the Hand its gripper
    controller is left out (MoveIt would wait for an action server that never comes)."""
    names = list(controllers.get("controller_names", []))
    if not names:
        raise ValueError("the MoveIt controllers file lists no controller_names")
    keep = [
        n for n in names if load_gripper or not any("finger" in j for j in controllers.get(n, {}).get("joints", []))
    ]
    missing = [n for n in keep if n not in controllers]
    if missing:
        raise ValueError(f"controllers {missing} are listed but not defined")
    return {"controller_names": keep, **{n: dict(controllers[n]) for n in keep}}


def moveit_py_params(
    *,
    robot_description: str,
    robot_description_semantic: str,
    kinematics: Mapping[str, Any],
    joint_limits: Mapping[str, Any],
    ompl_planning: Mapping[str, Any],
    controllers: Mapping[str, Any],
    load_gripper: bool,
    velocity_scaling: float = 0.2,
    acceleration_scaling: float = 0.2,
    planning_time_s: float = 5.0,
    planning_attempts: int = 5,
    joint_state_topic: str = "/joint_states",
) -> dict[str, Any]:
    """The parameter dictionary of the MoveItPy node."""
    if not robot_description.lstrip().startswith("<") or not robot_description_semantic.lstrip().startswith("<"):
        raise ValueError("robot_description and robot_description_semantic must be xacro's XML output")
    for name, value in (("velocity_scaling", velocity_scaling), ("acceleration_scaling", acceleration_scaling)):
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{name} must be in (0, 1], got {value}")
    if planning_time_s <= 0 or planning_attempts < 1:
        raise ValueError("planning_time_s must be > 0 and planning_attempts >= 1")
    return {
        "robot_description": robot_description,
        "robot_description_semantic": robot_description_semantic,
        "robot_description_kinematics": unwrap_ros_parameters(kinematics),
        "robot_description_planning": unwrap_ros_parameters(joint_limits),
        "planning_pipelines": {"pipeline_names": [PIPELINE]},
        PIPELINE: {
            "planning_plugins": [OMPL_PLANNER],
            "request_adapters": list(REQUEST_ADAPTERS),
            "response_adapters": list(RESPONSE_ADAPTERS),
            "start_state_max_bounds_error": 0.1,
            **unwrap_ros_parameters(ompl_planning),
        },
        "plan_request_params": {
            "planning_pipeline": PIPELINE,
            "planner_id": "",
            "planning_attempts": planning_attempts,
            "planning_time": planning_time_s,
            "max_velocity_scaling_factor": velocity_scaling,
            "max_acceleration_scaling_factor": acceleration_scaling,
        },
        "planning_scene_monitor_options": {
            "name": "planning_scene_monitor",
            "robot_description": "robot_description",
            "joint_state_topic": joint_state_topic,
            "wait_for_initial_state_timeout": 10.0,
        },
        "moveit_controller_manager": "moveit_simple_controller_manager/MoveItSimpleControllerManager",
        "moveit_simple_controller_manager": moveit_controllers(unwrap_ros_parameters(controllers), load_gripper),
        "moveit_manage_controllers": True,
        "trajectory_execution": {
            "allowed_execution_duration_scaling": 1.2,
            "allowed_goal_duration_margin": 0.5,
            "allowed_start_tolerance": 0.01,
        },
        "publish_planning_scene": True,
        "publish_geometry_updates": True,
        "publish_state_updates": True,
        "publish_transforms_updates": True,
    }


def params_document(node_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A ROS params file for the node ``node_name`` (no namespace) holding ``params``."""
    name = node_name.strip("/")
    if not name or "/" in name:
        raise ValueError(f"'{node_name}' is not a plain node name")
    return {f"/{name}": {"ros__parameters": dict(params)}}


def check_params_file(path: str | Path, node_name: str) -> dict[str, Any]:
    """The MoveIt parameters in the params file ``path``, which must be keyed by ``node_name``."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f) or {}
    except OSError as err:
        raise ValueError(f"MoveIt params file {path}: {err}") from None
    (key,) = params_document(node_name, {})
    block = document.get(key) if isinstance(document, Mapping) else None
    if not isinstance(block, Mapping) or not isinstance(block.get("ros__parameters"), Mapping):
        found = sorted(document) if isinstance(document, Mapping) else type(document).__name__
        raise ValueError(
            f"MoveIt params file {path} has no block for node {key} (has {found}): "
            "MoveItPy would start without a robot description"
        )
    params = dict(block["ros__parameters"])
    missing = [k for k in REQUIRED_KEYS if k not in params]
    if missing:
        raise ValueError(f"MoveIt params file {path}: {key} lacks {missing}")
    return params


def write_params_file(
    share: Callable[[str], str | Path],
    node_name: str,
    path: str | Path,
    *,
    robot_type: str,
    robot_ip: str,
    use_fake_hardware: bool,
    load_gripper: bool,
    velocity_scaling: float = 0.2,
    acceleration_scaling: float = 0.2,
) -> Path:
    """Run franka's xacros, read its MoveIt configs, write the params file for ``node_name``; its path."""
    import xacro  # apt: ros-jazzy-xacro (PyPI xacro in the wheels venv)
    import yaml

    files = franka_moveit_files(share, robot_type)
    urdf = xacro.process_file(
        str(files.urdf_xacro),
        mappings=urdf_xacro_mappings(
            robot_type, robot_ip, load_gripper, use_fake_hardware, fake_sensor_commands=use_fake_hardware
        ),
    ).toxml()
    srdf = xacro.process_file(str(files.srdf_xacro), mappings=srdf_xacro_mappings(load_gripper)).toxml()

    def load(config: Path) -> Any:
        with open(config, encoding="utf-8") as f:
            return yaml.safe_load(f) or {}

    params = moveit_py_params(
        robot_description=urdf,
        robot_description_semantic=srdf,
        kinematics=load(files.kinematics),
        joint_limits=load(files.joint_limits),
        ompl_planning=load(files.ompl_planning),
        controllers=load(files.controllers),
        load_gripper=load_gripper,
        velocity_scaling=velocity_scaling,
        acceleration_scaling=acceleration_scaling,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(params_document(node_name, params), sort_keys=False))
    return path
