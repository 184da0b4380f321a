"""The parameter dictionary ready_pose_node's MoveItPy gets (dp_policy_node.moveit_params).

Built as franka_ros2 jazzy's franka_fr3_moveit_config/launch/moveit.launch.py builds its MoveIt
config: URDF from franka_bringup's urdf/franka_arm.urdf.xacro, SRDF from franka_description's
robots/fr3/fr3.srdf.xacro, kinematics/joint limits/OMPL/controllers from franka_fr3_moveit_config,
plus what MoveItPy (moveit_cpp) reads: planning_pipelines.pipeline_names, the pipeline namespace,
plan_request_params, planning_scene_monitor_options. The params file is keyed by the name MoveItPy
is created with. moveit and franka's packages are not installed here: the config files below have
the layout of franka's (fr3_controllers.yaml is franka's content); the launch file's builder runs
the real xacro (PyPI xacro 2.1.1, Jazzy's version) on xacros with franka's arguments and includes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from dp_policy_node import moveit_params as mp

URDF = '<?xml version="1.0"?><robot name="fr3"><link name="fr3_link0"/></robot>'
SRDF = (
    '<?xml version="1.0"?><robot name="fr3"><group name="fr3_arm"/><group_state name="ready" group="fr3_arm"/></robot>'
)
KINEMATICS = {
    "fr3_arm": {
        "kinematics_solver": "kdl_kinematics_plugin/KDLKinematicsPlugin",
        "kinematics_solver_search_resolution": 0.005,
        "kinematics_solver_timeout": 0.05,
    }
}
JOINT_LIMITS = {
    "joint_limits": {f"fr3_joint{i}": {"has_velocity_limits": True, "max_velocity": 2.0} for i in range(1, 8)}
}
OMPL = {
    "planner_configs": {"RRTConnectkConfigDefault": {"type": "geometric::RRTConnect"}},
    "fr3_arm": {"planner_configs": ["RRTConnectkConfigDefault"]},
}
# franka_ros2 jazzy franka_fr3_moveit_config/config/fr3_controllers.yaml
CONTROLLERS = {
    "controller_names": ["fr3_arm_controller", "franka_gripper"],
    "fr3_arm_controller": {
        "action_ns": "follow_joint_trajectory",
        "type": "FollowJointTrajectory",
        "default": True,
        "joints": [f"fr3_joint{i}" for i in range(1, 8)],
    },
    "franka_gripper": {
        "action_ns": "gripper_action",
        "type": "GripperCommand",
        "default": True,
        "joints": ["fr3_finger_joint1", "fr3_finger_joint2"],
    },
}


def _params(**overrides):
    kwargs = dict(
        robot_description=URDF,
        robot_description_semantic=SRDF,
        kinematics=KINEMATICS,
        joint_limits=JOINT_LIMITS,
        ompl_planning=OMPL,
        controllers=CONTROLLERS,
        load_gripper=False,
    )
    return mp.moveit_py_params(**{**kwargs, **overrides})


def test_files_are_the_ones_franka_moveit_launch_reads() -> None:
    files = mp.franka_moveit_files(lambda package: f"/opt/share/{package}")
    assert files.urdf_xacro == Path("/opt/share/franka_bringup/urdf/franka_arm.urdf.xacro")
    assert files.srdf_xacro == Path("/opt/share/franka_description/robots/fr3/fr3.srdf.xacro")
    config = Path("/opt/share/franka_fr3_moveit_config/config")
    assert (files.kinematics, files.joint_limits, files.ompl_planning, files.controllers) == (
        config / "kinematics.yaml",
        config / "fr3_joint_limits.yaml",
        config / "ompl_planning.yaml",
        config / "fr3_controllers.yaml",
    )
    with pytest.raises(ValueError, match="FR3"):
        mp.franka_moveit_files(lambda p: "/x", robot_type="fp3")


@pytest.mark.parametrize("gripper", [True, False])
def test_xacro_arguments_match_franka_and_each_other(gripper: bool) -> None:
    urdf = mp.urdf_xacro_mappings("fr3", "172.16.0.2", gripper, use_fake_hardware=False)
    srdf = mp.srdf_xacro_mappings(gripper)
    assert urdf == {
        "robot_type": "fr3",
        "robot_ip": "172.16.0.2",
        "hand": str(gripper).lower(),
        "ee_id": "franka_hand" if gripper else "none",
        "use_fake_hardware": "false",
        "fake_sensor_commands": "false",
    }
    assert srdf == {"hand": urdf["hand"], "ee_id": urdf["ee_id"]}  # URDF and SRDF describe the same end effector


def test_moveit_py_dictionary() -> None:
    params = _params()
    assert params["robot_description"] == URDF and params["robot_description_semantic"] == SRDF
    assert params["robot_description_kinematics"] == KINEMATICS
    assert params["robot_description_planning"] == JOINT_LIMITS
    assert params["planning_pipelines"] == {"pipeline_names": ["ompl"]}
    ompl = params["ompl"]
    assert ompl["planning_plugins"] == ["ompl_interface/OMPLPlanner"]
    assert "default_planning_request_adapters/CheckStartStateCollision" in ompl["request_adapters"]
    assert "default_planning_response_adapters/AddTimeOptimalParameterization" in ompl["response_adapters"]
    assert ompl["fr3_arm"] == OMPL["fr3_arm"] and ompl["planner_configs"] == OMPL["planner_configs"]
    request = params["plan_request_params"]
    assert request["planning_pipeline"] == "ompl" and request["planning_attempts"] >= 1
    assert request["max_velocity_scaling_factor"] == 0.2 == request["max_acceleration_scaling_factor"]
    assert params["planning_scene_monitor_options"]["robot_description"] == "robot_description"
    assert params["planning_scene_monitor_options"]["joint_state_topic"] == "/joint_states"
    assert params["moveit_controller_manager"] == "moveit_simple_controller_manager/MoveItSimpleControllerManager"
    # without the Hand, MoveIt must not wait for franka_gripper's action server
    controllers = params["moveit_simple_controller_manager"]
    assert controllers["controller_names"] == ["fr3_arm_controller"] and "franka_gripper" not in controllers
    assert controllers["fr3_arm_controller"]["action_ns"] == "follow_joint_trajectory"
    with_hand = _params(load_gripper=True)["moveit_simple_controller_manager"]
    assert with_hand["controller_names"] == ["fr3_arm_controller", "franka_gripper"]
    assert set(mp.REQUIRED_KEYS) <= set(params)


def test_ros_parameters_wrappers_are_unwrapped() -> None:
    wrapped = {"/**": {"ros__parameters": KINEMATICS}}
    assert _params(kinematics=wrapped)["robot_description_kinematics"] == KINEMATICS


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"robot_description": "package://franka_description/fr3.urdf"}, "XML"),
        ({"velocity_scaling": 0.0}, "velocity_scaling"),
        ({"acceleration_scaling": 1.5}, "acceleration_scaling"),
        ({"controllers": {"controller_names": []}}, "controller_names"),
        ({"controllers": {"controller_names": ["fr3_arm_controller"]}}, "not defined"),
    ],
)
def test_bad_inputs_are_refused(overrides: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        _params(**overrides)


def test_params_file_is_keyed_by_the_moveit_node_name(tmp_path: Path) -> None:
    path = tmp_path / "moveit.yaml"
    document = mp.params_document("ready_pose_moveit", _params())
    assert list(document) == ["/ready_pose_moveit"]
    path.write_text(yaml.safe_dump(document))
    assert mp.check_params_file(path, "ready_pose_moveit")["robot_description"] == URDF
    # a file for another node (what launch_ros writes for the node it starts) leaves MoveItPy without a robot
    with pytest.raises(ValueError, match="no block for node /ready_pose_node_moveit"):
        mp.check_params_file(path, "ready_pose_node_moveit")
    path.write_text(yaml.safe_dump(mp.params_document("ready_pose_moveit", {"robot_description": URDF})))
    with pytest.raises(ValueError, match="lacks"):
        mp.check_params_file(path, "ready_pose_moveit")
    with pytest.raises(ValueError, match="No such file"):
        mp.check_params_file(tmp_path / "missing.yaml", "ready_pose_moveit")
    with pytest.raises(ValueError, match="plain node name"):
        mp.params_document("ns/name", {})


def test_ready_pose_node_creates_moveitpy_with_that_name_and_file() -> None:
    """Static: MoveItPy(node_name=<moveit_node_name>, launch_params_filepaths=[<moveit_params_file>])."""
    import ast

    source = Path(mp.__file__).with_name("ready_pose_node.py").read_text()
    calls = [
        n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "MoveItPy"
    ]
    assert len(calls) == 1
    keywords = {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    assert keywords == {"node_name": "v['moveit_node_name']", "launch_params_filepaths": "[v['moveit_params_file']]"}
    assert "check_params_file" in source


# ---- the launch file's builder with real xacro, on packages laid out like franka's ------------------
# franka_bringup/urdf/franka_arm.urdf.xacro includes franka_description's robots/<type>/<type>.urdf.xacro
# and declares robot_ip/use_fake_hardware/fake_sensor_commands; fr3.srdf.xacro declares hand/ee_id
# (franka_ros2 jazzy v3.5.3, franka_description). Minimal bodies, upstream arguments and includes.
FRANKA_ARM_URDF = """<?xml version="1.0"?>
<robot xmlns:xacro="http://www.ros.org/wiki/xacro" name="$(arg robot_type)">
  <xacro:arg name="robot_type" default="fr3"/>
  <xacro:include filename="$(find franka_description)/robots/$(arg robot_type)/$(arg robot_type).urdf.xacro"/>
  <xacro:arg name="robot_ip" default=""/>
  <xacro:arg name="use_fake_hardware" default="false"/>
  <xacro:arg name="fake_sensor_commands" default="false"/>
  <ros2_control name="FrankaHardwareInterface" type="system">
    <hardware>
      <xacro:if value="$(arg use_fake_hardware)"><plugin>mock_components/GenericSystem</plugin></xacro:if>
      <xacro:unless value="$(arg use_fake_hardware)"><plugin>franka_hardware/FrankaHardwareInterface</plugin>
        <param name="robot_ip">$(arg robot_ip)</param></xacro:unless>
    </hardware>
  </ros2_control>
</robot>
"""
FR3_URDF = """<?xml version="1.0"?>
<robot xmlns:xacro="http://www.ros.org/wiki/xacro">
  <xacro:arg name="hand" default="true"/>
  <xacro:arg name="ee_id" default="franka_hand"/>
  <link name="fr3_link0"/><link name="fr3_link8"/>
  <xacro:if value="$(arg hand)"><link name="fr3_hand"/><link name="fr3_hand_tcp"/></xacro:if>
</robot>
"""
FR3_SRDF = """<?xml version="1.0"?>
<robot xmlns:xacro="http://www.ros.org/wiki/xacro" name="fr3">
  <xacro:arg name="hand" default="true"/>
  <xacro:arg name="ee_id" default="franka_hand"/>
  <group name="fr3_arm"><chain base_link="fr3_link0" tip_link="fr3_link8"/></group>
  <xacro:if value="$(arg hand)"><group name="hand"><link name="fr3_hand"/></group></xacro:if>
</robot>
"""


def _franka_prefix(root: Path) -> Path:
    prefix = root / "franka_install"
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True)
    files = {
        "franka_bringup/urdf/franka_arm.urdf.xacro": FRANKA_ARM_URDF,
        "franka_description/robots/fr3/fr3.urdf.xacro": FR3_URDF,
        "franka_description/robots/fr3/fr3.srdf.xacro": FR3_SRDF,
        "franka_fr3_moveit_config/config/kinematics.yaml": yaml.safe_dump(KINEMATICS),
        "franka_fr3_moveit_config/config/fr3_joint_limits.yaml": yaml.safe_dump(JOINT_LIMITS),
        "franka_fr3_moveit_config/config/ompl_planning.yaml": yaml.safe_dump(OMPL),
        "franka_fr3_moveit_config/config/fr3_controllers.yaml": yaml.safe_dump(CONTROLLERS),
    }
    for rel, text in files.items():
        path = prefix / "share" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        (index / rel.split("/")[0]).write_text("")
    return prefix


@pytest.mark.parametrize(("fake", "gripper"), [(False, False), (True, True)])
def test_launch_builder_runs_xacro_and_writes_the_file_moveitpy_loads(
    tmp_path: Path, monkeypatch, fake: bool, gripper: bool
) -> None:
    pytest.importorskip("xacro", reason="xacro (requirements/python.txt) is not installed")
    from bringup_workspace import REPO

    from dp_policy_node import launch_actions as actions
    from dp_policy_node import launch_graph as graph
    from dp_policy_node import launch_profiles as profiles

    monkeypatch.setenv("AMENT_PREFIX_PATH", f"{_franka_prefix(tmp_path)}:{os.environ.get('AMENT_PREFIX_PATH', '')}")
    profile = profiles.load_profile(REPO / profiles.ROBOT_PROFILE)
    path = actions.write_moveit_params("172.16.0.2", "fr3", fake, gripper, profile, tmp_path / "out")
    params = mp.check_params_file(path, graph.MOVEIT_NODE_NAME)  # keyed by the node MoveItPy is created as
    urdf, srdf = params["robot_description"], params["robot_description_semantic"]
    assert '<link name="fr3_link8"/>' in urdf and ("fr3_hand_tcp" in urdf) == gripper
    assert ("mock_components/GenericSystem" in urdf) == fake
    assert ("172.16.0.2" in urdf) == (not fake)
    assert '<group name="fr3_arm">' in srdf and ('<group name="hand">' in srdf) == gripper
    assert params["robot_description_kinematics"] == KINEMATICS
    assert (
        params["plan_request_params"]["max_velocity_scaling_factor"] == profile["/ready_pose_node"]["velocity_scaling"]
    )
    names = params["moveit_simple_controller_manager"]["controller_names"]
    assert names == (["fr3_arm_controller", "franka_gripper"] if gripper else ["fr3_arm_controller"])
