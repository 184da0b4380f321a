"""Static checks of launch/*.launch.py (no launch import: launch is not installable here).

Each launch file is read with ``ast``: arguments declared with descriptions, every argument it
reads declared, every package / launch file / executable it names exists (ours under src/ with a
console script; external ones in the table below, checked against their public repositories).
The node processes come from launch/robot_graph.py, which is evaluated for every profile,
controller and simulator: packages, executables, parameter files, overrides and remappings.
A name the checks cannot read (not a literal) fails instead of being skipped, and
``test_reference_check_sees_each_reference_and_can_fail`` shows a wrong name is caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from bringup_workspace import LAUNCH_DIR, LAUNCH_FILES, PROFILES, REPO, console_scripts, our_packages, robot_graph

# External packages the launch files use: {package: {launch files or executables}}. Not in this
# workspace (apt on a real Jazzy install); names checked against franka_ros2, realsense-ros,
# ros_gz and ros2_control sources.
EXTERNAL = {
    "franka_bringup": {"launch/franka.launch.py"},
    "franka_description": {"robots/fr3/fr3.urdf.xacro"},
    "realsense2_camera": {"realsense2_camera_node"},
    "joy": {"joy_node"},  # joystick_drivers joy (ros2): /joy
    "spacenav": {"spacenav_node"},  # joystick_drivers spacenav: rclcpp_components EXECUTABLE spacenav_node
    "controller_manager": {"spawner", "ros2_control_node"},
    "robot_state_publisher": {"robot_state_publisher"},
    "ros_gz_sim": {"launch/gz_sim.launch.py", "create"},
    "ros_gz_bridge": {"parameter_bridge"},
}
LAUNCH_NAMES = {p.name for p in LAUNCH_FILES}


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and (getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)
    ]


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _arguments(tree: ast.Module) -> list[tuple[str, str, str]]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            return [tuple(ast.literal_eval(e)) for e in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError("no ARGUMENTS table")


def test_expected_launch_files_exist() -> None:
    assert {"franka.launch.py", "sim.launch.py", "record.launch.py"} <= LAUNCH_NAMES


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_arguments_and_references(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    arguments = _arguments(tree)
    names = [a[0] for a in arguments]
    assert len(set(names)) == len(names), f"duplicate arguments in {path.name}"
    for name, default, description in arguments:
        assert isinstance(default, str), f"{name}: default must be a string"
        assert len(description) > 15, f"argument {name} needs a description"
    # ARGUMENTS is declared by robot_graph.launch_description (test_arguments_are_declared_with_descriptions)
    assert any(c.args and getattr(c.args[0], "id", "") == "ARGUMENTS" for c in _calls(tree, "launch_description")), (
        f"{path.name} does not declare its ARGUMENTS through robot_graph.launch_description"
    )
    # every argument read as arg["..."] is declared (a typo would be a KeyError at launch time)
    used = {
        n.slice.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Subscript) and getattr(n.value, "id", "") == "arg" and isinstance(n.slice, ast.Constant)
    }
    assert used <= set(names), f"{path.name} reads undeclared arguments {sorted(used - set(names))}"
    assert set(names) <= used, f"{path.name} declares unused arguments {sorted(set(names) - used)}"
    problems, _ = _reference_problems(tree)
    assert not problems, f"{path.name}: {problems}"


def _reference_problems(tree: ast.Module) -> tuple[list[str], int]:
    """Unknown packages, files and executables named in a launch file, and how many were checked.

    A name that is not a literal cannot be checked and is a problem too (never skipped silently).
    """
    packages, problems, checked = our_packages(), [], 0
    for call in _calls(tree, "PathJoinSubstitution"):
        parts = call.args[0].elts if call.args and isinstance(call.args[0], ast.List) else []
        if not parts or not _calls(parts[0], "FindPackageShare"):
            continue  # not a package path
        package = _calls(parts[0], "FindPackageShare")[0].args[0]
        if not isinstance(package, ast.Constant) or not all(isinstance(p, ast.Constant) for p in parts[1:]):
            problems.append(f"line {call.lineno}: package path is not literal")
            continue
        checked += 1
        rest = "/".join(p.value for p in parts[1:])
        if package.value in packages:
            continue  # our share files: checked through robot_graph below
        if rest not in EXTERNAL.get(package.value, set()):
            problems.append(f"{package.value}/{rest} is not known")
    for call in _calls(tree, "Node"):
        package, executable = _kw(call, "package"), _kw(call, "executable")
        if not (isinstance(package, ast.Constant) and isinstance(executable, ast.Constant)):
            problems.append(f"line {call.lineno}: Node package/executable is not literal")
            continue
        checked += 1
        known = console_scripts(package.value) if package.value in packages else EXTERNAL.get(package.value, set())
        if executable.value not in known:
            problems.append(f"{package.value} has no executable {executable.value}")
    return problems, checked


def test_reference_check_sees_each_reference_and_can_fail() -> None:
    """sim.launch.py's Gazebo entities are all checked; a wrong name in any of them is reported."""
    source = (LAUNCH_DIR / "sim.launch.py").read_text()
    problems, checked = _reference_problems(ast.parse(source))
    assert problems == [] and checked == 6  # 2 package paths (URDF, gz_sim launch) + 4 Nodes
    for good, bad in [
        ('"parameter_bridge"', '"parameter_bridg"'),
        ('"fr3.urdf.xacro"', '"fr3.xacro"'),
        ('FindPackageShare("ros_gz_sim")', 'FindPackageShare("ros_gz")'),
        ('executable="spawner"', 'executable=spawner_name'),
    ]:
        assert good in source, good
        mutated, _ = _reference_problems(ast.parse(source.replace(good, bad, 1)))
        assert mutated, f"replacing {good} by {bad} went unnoticed"


def test_arguments_are_declared_with_descriptions() -> None:
    """robot_graph.launch_description declares the launch files' ARGUMENTS rows, descriptions included."""
    tree = ast.parse((LAUNCH_DIR / "robot_graph.py").read_text())
    declared = _calls(tree, "DeclareLaunchArgument")
    assert declared and all(_kw(c, "description") is not None for c in declared)


def _check_process(g, process) -> None:
    packages = our_packages()
    if process.package in packages:
        scripts = console_scripts(process.package)
        assert process.executable in scripts, (
            f"{process.package} has no console script '{process.executable}' (have {sorted(scripts)})"
        )
        profile = g.load_profile(process.params_file)
        assert process.fqn in profile, f"{Path(process.params_file).name} has no block for {process.fqn}"
        unknown = set(process.overrides) - set(profile[process.fqn]) - {"use_sim_time"}
        assert not unknown, f"overrides {sorted(unknown)} are not parameters of {process.fqn}"
    else:
        assert process.executable in EXTERNAL.get(process.package, set()), f"{process.package}/{process.executable}"
    assert process.params_file == "" or Path(process.params_file).is_file()


@pytest.mark.parametrize("controller", ["joint_trajectory", "joint_position", "cartesian"])
@pytest.mark.parametrize("simulator", ["", "mujoco", "gazebo"])
def test_rollout_graph_is_the_composed_graph(controller: str, simulator: str) -> None:
    from dp_policy_node.executor_config import DEFAULT_TOPICS
    from dp_policy_node.graph import GRAPH

    g = robot_graph()
    profile = str(REPO / (g.SIM_PROFILE if simulator else g.ROBOT_PROFILE))
    processes = g.rollout_processes(
        profile, controller, simulator=simulator, use_sim_time=bool(simulator), checkpoint="/ckpt"
    )
    policy = next(p for p in processes if p.lifecycle)
    assert policy.overrides["checkpoint_path"] == "/ckpt"
    assert [(p.name, p.executable, p.lifecycle) for p in processes] == [
        (e.name, e.executable, e.lifecycle) for e in GRAPH
    ]
    ctrl = g.CONTROLLERS[controller]
    executor = next(p for p in processes if p.name == "chunk_executor_node")
    assert executor.overrides["output_mode"] == ctrl.output_mode
    assert ctrl.executor_topic == DEFAULT_TOPICS[ctrl.output_mode]  # what the remapping rewrites
    expected = (
        ()
        if simulator == "mujoco" or ctrl.robot_topic == ctrl.executor_topic
        else ((ctrl.executor_topic, ctrl.robot_topic),)
    )
    assert executor.remappings == expected
    for process in [
        *processes,
        *g.simulator_processes(profile, simulator or "none"),
        *g.controller_spawners(controller, ready_pose=True),
    ]:
        _check_process(g, process)


def test_robot_profile_cameras_and_ready_pose() -> None:
    g = robot_graph()
    profile_path = str(REPO / g.ROBOT_PROFILE)
    profile = g.load_profile(profile_path)
    cameras = g.camera_processes(profile_path, profile)
    assert [c.name for c in cameras] == ["front", "wrist"]
    observed = set(profile["/observation_node"]["camera_names"])
    topics = g.camera_topics(profile)
    # the D405 (wrist) streams colour from its depth module, as image_rect_raw; the D435 from rgb_camera
    assert topics["wrist"]["image"] == "/camera/wrist/color/image_rect_raw"
    assert topics["front"]["image"] == "/camera/front/color/image_raw"
    recorded = set(profile["/recorder"]["topics"])
    for camera in cameras:
        block = profile[camera.fqn]
        model = g.camera_model(camera.name, block)
        assert camera.name in observed
        assert profile["/observation_node"][f"cameras.{camera.name}.topic"] == topics[camera.name]["image"]
        width, height, fps = (int(v) for v in block[model.profile_param].split(","))
        assert width > 0 and height > 0 and fps > 0
        assert {topics[camera.name]["image"], topics[camera.name]["camera_info"]} <= recorded
        assert block.get("publish_tf", True)
        _check_process(g, camera)
    assert "/tf_static" in recorded
    for controller in g.CONTROLLERS:
        _check_process(g, g.ready_pose_process(profile_path, controller, moveit_params_file="/tmp/m.yaml"))


@pytest.mark.parametrize(
    ("device", "block", "error"),
    [
        ("d405", {"rgb_camera.color_profile": "640,480,30"}, "depth_module.color_profile"),
        ("d405", {"depth_module.color_profile": "640,480,30", "rgb_camera.enable_auto_exposure": True}, "ignored"),
        ("d435", {"depth_module.color_profile": "640,480,30"}, "rgb_camera.color_profile"),
        ("", {"rgb_camera.color_profile": "640,480,30"}, "device_type"),
    ],
)
def test_camera_blocks_of_the_wrong_model_are_refused(device: str, block: dict, error: str) -> None:
    g = robot_graph()
    profile = {"/camera/cam": {**({"device_type": device} if device else {}), **block}}
    with pytest.raises(ValueError, match=error):
        g.camera_processes("p.yaml", profile)


#: robot_graph functions that build launch entities (a refusal must come before all of them).
BUILDERS = {
    "franka_bringup_entities",
    "controller_spawners",
    "camera_processes",
    "rollout_processes",
    "gripper_bridge_processes",
    "ready_pose_process",
    "record_processes",
    "teleop_device_processes",
    "simulator_processes",
    "launch_entities",
    "write_moveit_params",
}


def _assert_checked_on_the_launch_path(launch_file: str, check: str, before_building: bool = False) -> None:
    """``check`` is called in the file's ``_graph_actions`` (what the launch runs, not a stray helper);
    with ``before_building``, before the first call that builds an entity."""
    tree = ast.parse((LAUNCH_DIR / launch_file).read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_graph_actions")
    checks = [c.lineno for c in _calls(fn, check)]
    builds = [c.lineno for name in BUILDERS for c in _calls(fn, name)]
    assert checks and builds, f"{launch_file}: {check} at lines {checks}, builders at {builds}"
    if before_building:
        assert min(checks) < min(builds), (
            f"{launch_file}: {check} (line {min(checks)}) after building (line {min(builds)})"
        )


def test_streaming_position_mode_is_refused_on_hardware_below_1khz() -> None:
    g = robot_graph()
    profile = g.load_profile(REPO / g.ROBOT_PROFILE)
    # the FR3 default: trajectory mode (launch default and profile)
    franka_args = dict((a[0], a[1]) for a in _arguments(ast.parse((LAUNCH_DIR / "franka.launch.py").read_text())))
    assert franka_args["controller"] == "joint_trajectory"
    assert profile["/chunk_executor_node"]["output_mode"] == "trajectory"
    assert profile["/chunk_executor_node"]["control_rate_hz"] < 1000  # so joint_position must be refused
    with pytest.raises(ValueError, match="1000"):
        g.check_streaming_rate("joint_position", False, profile)
    g.check_streaming_rate("joint_position", True, profile)  # mock hardware: allowed
    for controller in ("joint_trajectory", "cartesian"):
        g.check_streaming_rate(controller, False, profile)
    fast = {**profile, "/chunk_executor_node": {**profile["/chunk_executor_node"], "control_rate_hz": 1000.0}}
    g.check_streaming_rate("joint_position", False, fast)
    # franka.launch.py calls the check before it builds anything
    _assert_checked_on_the_launch_path("franka.launch.py", "check_streaming_rate", before_building=True)


@pytest.mark.parametrize(
    ("device", "expected"),
    [("gamepad", ("joy", "joy_node")), ("spacemouse", ("spacenav", "spacenav_node")), ("none", None)],
)
def test_record_starts_the_teleop_input_driver(device: str, expected) -> None:
    g = robot_graph()
    processes = g.teleop_device_processes(device)
    assert [(p.package, p.executable) for p in processes] == ([expected] if expected else [])
    for process in processes:
        _check_process(g, process)
    with pytest.raises(ValueError, match="teleop_device"):
        g.teleop_device_processes("wiimote")
    # teleop listens where the drivers publish: test_teleop_subscribes_where_the_drivers_publish
    _assert_checked_on_the_launch_path("record.launch.py", "teleop_device_processes")


@pytest.mark.ros
def test_teleop_subscribes_where_the_drivers_publish(ros_context) -> None:
    """joy_node publishes "joy", spacenav_node "spacenav/twist" (relative names; joystick_drivers
    joy/src/joy_node.cpp, spacenav/src/spacenav.cpp), so /joy and /spacenav/twist next to the
    root-namespace teleop node; franka_robot_state_broadcaster's current_pose is best effort, and a
    reliable subscription would never match it. Read from the real node's subscriptions."""
    from rclpy.qos import QoSReliabilityPolicy

    from dp_teleop.teleop_node import TeleopNode

    node = TeleopNode(context=ros_context)
    try:
        qos = {sub.topic_name: sub.qos_profile for sub in node.subscriptions}
    finally:
        node.destroy_node()
    assert {"/joy", "/spacenav/twist", "/current_pose"} <= set(qos), sorted(qos)
    assert qos["/current_pose"].reliability == QoSReliabilityPolicy.BEST_EFFORT


def test_fake_hardware_warns_about_the_missing_robot_state_broadcaster() -> None:
    g = robot_graph()
    assert "franka_robot_state_broadcaster" in g.FAKE_HARDWARE_NOTE and "current_pose" in g.FAKE_HARDWARE_NOTE
    tree = ast.parse((LAUNCH_DIR / "robot_graph.py").read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "franka_bringup_entities")
    (log,) = _calls(fn, "LogInfo")
    assert getattr(_kw(log, "msg"), "id", None) == "FAKE_HARDWARE_NOTE"
    conditional = [n for n in ast.walk(fn) if isinstance(n, ast.IfExp) and getattr(n.test, "id", None) == "fake"]
    assert any(log in ast.walk(n.body) for n in conditional), "the note must be logged only with fake hardware"


def test_ready_pose_gets_the_moveit_params_file_keyed_by_its_moveit_node() -> None:
    g = robot_graph()
    process = g.ready_pose_process(str(REPO / g.ROBOT_PROFILE), "joint_position", moveit_params_file="/x.yaml")
    assert process.overrides["moveit_params_file"] == "/x.yaml"
    assert process.overrides["moveit_node_name"] == g.MOVEIT_NODE_NAME
    from dp_policy_node.ready_pose_node import PARAMS

    defaults = {p.name: p.default for p in PARAMS}
    assert defaults["moveit_node_name"] == g.MOVEIT_NODE_NAME
    # no MoveItConfigsBuilder: franka_fr3_moveit_config has no URDF/SRDF for it
    assert "MoveItConfigsBuilder" not in (LAUNCH_DIR / "franka.launch.py").read_text()
    _assert_checked_on_the_launch_path("franka.launch.py", "write_moveit_params")


@pytest.mark.parametrize("mode", ["robot", "sim", "expert"])
def test_record_graph(mode: str) -> None:
    g = robot_graph()
    profile = str(REPO / (g.ROBOT_PROFILE if mode == "robot" else g.SIM_PROFILE))
    simulator = "" if mode == "robot" else "mujoco"
    processes = g.record_processes(profile, simulator, expert=mode == "expert", use_sim_time=mode != "robot")
    assert {p.name for p in processes} == {"recorder", "expert_node" if mode == "expert" else "teleop"}
    for process in processes:
        _check_process(g, process)
    with pytest.raises(ValueError, match="mujoco"):
        g.record_processes(profile, "", expert=True, use_sim_time=False)


def test_sim_profile_topics_match_the_simulator() -> None:
    """The sim profile's camera topics are the ones sim_node publishes (/camera/<name>/image_raw)."""
    g = robot_graph()
    profile = g.load_profile(REPO / g.SIM_PROFILE)
    sim, obs = profile["/sim_node"], profile["/observation_node"]
    assert set(obs["camera_names"]) <= set(sim["cameras"])
    for name in obs["camera_names"]:
        assert obs[f"cameras.{name}.topic"] == f"/camera/{name}/image_raw"


def test_controllers_file_defines_every_controller() -> None:
    import yaml

    g = robot_graph()
    document = yaml.safe_load((REPO / g.FR3_CONTROLLERS).read_text())["/**"]
    manager = document["controller_manager"]["ros__parameters"]
    for ctrl in g.CONTROLLERS.values():
        assert "type" in manager[ctrl.ros2_control_name], ctrl.ros2_control_name
        params = document[ctrl.ros2_control_name]["ros__parameters"]
        assert params["type"] == manager[ctrl.ros2_control_name]["type"]
        assert params["joints"] == [f"fr3_joint{i}" for i in range(1, 8)]
    for broadcaster in ("joint_state_broadcaster", "franka_robot_state_broadcaster"):
        assert "type" in manager[broadcaster]


def test_profiles_are_installed_paths() -> None:
    g = robot_graph()
    for rel in (g.ROBOT_PROFILE, g.SIM_PROFILE, g.FR3_CONTROLLERS):
        assert (REPO / rel).is_file(), rel
    assert {p.name for p in PROFILES} >= {"fr3_realsense.yaml", "sim.yaml"}
    with pytest.raises(ValueError):
        g.rollout_processes(str(REPO / g.SIM_PROFILE), "velocity")
    assert g.truthy("True") and not g.truthy("0")
    with pytest.raises(ValueError):
        g.truthy("maybe")


def _with_twin_deploy(g) -> dict:
    """The robot profile with config/fr3_twin/deploy.yaml on top (a policy that commands the fingers)."""
    profile = g.load_profile(REPO / g.ROBOT_PROFILE)
    for fqn, block in g.load_profile(REPO / "config" / "fr3_twin" / "deploy.yaml").items():
        profile[fqn] = {**profile.get(fqn, {}), **block}
    return profile


def test_gripper_bridge_starts_only_with_a_gripper_topic() -> None:
    g = robot_graph()
    path = str(REPO / g.ROBOT_PROFILE)
    profile = g.load_profile(path)
    assert profile["/chunk_executor_node"]["gripper_topic"] == "" and g.gripper_bridge_processes(path, profile) == []
    assert g.gripper_bridge_processes(str(REPO / g.SIM_PROFILE), g.load_profile(REPO / g.SIM_PROFILE)) == []
    fingers = _with_twin_deploy(g)
    (bridge,) = g.gripper_bridge_processes(path, fingers, load_gripper=True)
    assert (bridge.package, bridge.executable, bridge.name) == (
        "dp_policy_node",
        "gripper_bridge_node",
        "gripper_bridge_node",
    )
    assert (
        bridge.overrides["command_topic"] == fingers["/chunk_executor_node"]["gripper_topic"] == "/dp/gripper_command"
    )
    _check_process(g, bridge)  # the profile's gripper_bridge_node block declares what the launch overrides
    with pytest.raises(ValueError, match="load_gripper"):
        g.gripper_bridge_processes(path, fingers, load_gripper=False)
    executor = fingers["/chunk_executor_node"]
    with pytest.raises(ValueError, match="gripper_topic is empty"):  # finger values would go to fr3_arm_controller
        g.gripper_bridge_processes(path, {"/chunk_executor_node": {**executor, "gripper_topic": ""}})
    with pytest.raises(ValueError, match="no action"):  # the executor would publish empty arrays
        g.gripper_bridge_processes(
            path, {"/chunk_executor_node": {**profile["/chunk_executor_node"], "gripper_topic": "/dp/gripper_command"}}
        )
    for name in ("franka.launch.py", "sim.launch.py"):
        _assert_checked_on_the_launch_path(name, "gripper_bridge_processes")


def test_cartesian_end_effector_is_the_hand_tcp(tmp_path: Path) -> None:
    """current_pose is O_T_EE (with the Hand: its TCP); the Cartesian controller controls that frame,
    which franka_description's URDF has only with the Hand (load_gripper:=true)."""
    import yaml

    g = robot_graph()
    controllers = REPO / g.FR3_CONTROLLERS
    params = yaml.safe_load(controllers.read_text())["/**"]["cartesian_motion_controller"]["ros__parameters"]
    assert params["end_effector_link"] == g.HAND_TCP_LINK == "fr3_hand_tcp"
    g.check_cartesian_end_effector("cartesian", True, controllers)
    with pytest.raises(ValueError, match="load_gripper"):
        g.check_cartesian_end_effector("cartesian", False, controllers)
    for controller in ("joint_trajectory", "joint_position"):
        g.check_cartesian_end_effector(controller, False, controllers)
    no_hand = tmp_path / "no_hand.yaml"  # an arm without the Hand: the flange
    no_hand.write_text(
        controllers.read_text().replace("end_effector_link: fr3_hand_tcp", "end_effector_link: fr3_link8")
    )
    g.check_cartesian_end_effector("cartesian", False, no_hand)
    for name in ("franka.launch.py", "record.launch.py", "sim.launch.py"):
        _assert_checked_on_the_launch_path(name, "check_cartesian_end_effector")
    record_args = dict((a[0], a[1]) for a in _arguments(ast.parse((LAUNCH_DIR / "record.launch.py").read_text())))
    assert record_args["load_gripper"] == "true"  # recording drives the Cartesian controller by default


def test_teleop_on_the_robot_reads_current_pose_and_can_feed_moveit_servo() -> None:
    g = robot_graph()
    profile = str(REPO / g.ROBOT_PROFILE)
    teleop, _ = g.record_processes(profile, "", expert=False, use_sim_time=False)
    assert dict(teleop.remappings)["current_pose"] == "/franka_robot_state_broadcaster/current_pose"
    assert "servo_twist_topic" not in teleop.overrides  # the profile's "" = off
    teleop, _ = g.record_processes(profile, "", expert=False, use_sim_time=False, servo_twist_topic=g.SERVO_TWIST_TOPIC)
    assert teleop.overrides["servo_twist_topic"] == "/servo_node/delta_twist_cmds"
    _check_process(g, teleop)
    with pytest.raises(ValueError, match="teleop"):
        g.record_processes(str(REPO / g.SIM_PROFILE), "mujoco", expert=True, use_sim_time=True, servo_twist_topic="/s")
    record_args = dict((a[0], a[1]) for a in _arguments(ast.parse((LAUNCH_DIR / "record.launch.py").read_text())))
    assert record_args["servo_twist_topic"] == ""  # off by default
    # current_pose best effort: test_teleop_subscribes_where_the_drivers_publish
