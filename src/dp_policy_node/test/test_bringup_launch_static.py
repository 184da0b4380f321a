"""Static checks of launch/*.launch.py (no launch import: launch is not installable here).

Each launch file is read with ``ast``. It lists its nodes literally (``Node(...)`` per node, inside
``GroupAction`` s with conditions, as ros2_control_demos' launch files do); every one is read with
its package, executable, name, namespace, parameter overrides, remappings, arguments and the
conditions it runs under (``_is("controller", "cartesian")``, ``IfCondition(LaunchConfiguration
("rviz"))``, enclosing groups). Checked against the nodes' declared parameters (their blocks in
the default robot profiles, which ``test_bringup_config_params`` compares with what each node
declares) and against ``dp_policy_node.launch_graph``, ``launch_controllers`` and ``launch_record``
(the tables the composed bring-up and these tests evaluate): per ``controller:=`` the executor's
output mode, topic remapping, ``shadow`` and spawned controller; per ``rviz:=true`` the preview
node, ghost arm and RViz; per record mode the teleop remappings and input drivers. Arguments are declared with descriptions, every argument read
is declared and used, every package / file / executable named exists. A value the checks cannot
read (not a literal) fails instead of being skipped; ``test_checks_see_a_wrong_launch_file`` shows
that a wrong entry is caught.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bringup_workspace import LAUNCH_DIR, LAUNCH_FILES, PROFILES, REPO, console_scripts, our_packages

from dp_policy_node import launch_actions as actions
from dp_policy_node import launch_controllers as controllers
from dp_policy_node import launch_graph as graph
from dp_policy_node import launch_profiles as profiles
from dp_policy_node import launch_record as record
from dp_policy_node import realsense_models

# External packages the launch files use: {package: {launch files, share files or executables}}. Not in
# this workspace (apt on a real Jazzy install); names checked against franka_ros2, franka_description,
# realsense-ros, ros_gz, ros2_control, robot_state_publisher, geometry2 (tf2_ros) and rviz sources.
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
    "tf2_ros": {"static_transform_publisher"},
    "rviz2": {"rviz2"},
}
LAUNCH_NAMES = {p.name for p in LAUNCH_FILES}
USE_SIM_TIME = {"franka.launch.py": False, "sim.launch.py": True}


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and (getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)
    ]


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _literal(node: ast.expr | None) -> Any:
    """A literal's value; anything else as ``<source>`` (never silently equal to a literal)."""
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return f"<{ast.unparse(node)}>"


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def _arguments(tree: ast.Module) -> list[tuple[str, Any, str]]:
    """``(name, default, description)`` of every ``DeclareLaunchArgument`` in the ARGUMENTS list."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ARGUMENTS":
            rows = []
            for call in node.value.elts:  # type: ignore[attr-defined]
                assert getattr(call.func, "id", "") == "DeclareLaunchArgument", ast.unparse(call)
                rows.append(
                    (_literal(call.args[0]), _literal(_kw(call, "default_value")), _literal(_kw(call, "description")))
                )
            return rows
    raise AssertionError("no ARGUMENTS table")


@dataclass
class NodeCall:
    """One ``Node(...)`` (or ``SetRemap``) of a launch file and the conditions it runs under."""

    package: Any
    executable: Any
    name: Any = ""
    namespace: Any = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    files: list[Any] = field(default_factory=list)
    remappings: list[Any] = field(default_factory=list)
    arguments: Any = None
    conditions: tuple[tuple[str, str], ...] = ()
    line: int = 0

    @property
    def fqn(self) -> str:
        return "/" + "/".join(p for p in (str(self.namespace).strip("/"), str(self.name)) if p)


class LaunchFile:
    """A launch file's nodes, read from ``generate_launch_description`` (names resolved through its
    assignments)."""

    def __init__(self, source: str) -> None:
        self.tree = ast.parse(source)
        self.fn = _function(self.tree, "generate_launch_description")
        self.names: dict[str, ast.expr] = {}
        for stmt in self.fn.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                self.names[stmt.targets[0].id] = stmt.value
        self.nodes: list[NodeCall] = []
        self.remaps: list[NodeCall] = []
        self.entities = self._resolve(self.names["nodes"])
        self._visit(self.entities, ())

    def _resolve(self, node: ast.expr) -> ast.expr:
        while isinstance(node, ast.Name) and node.id in self.names:
            node = self.names[node.id]
        return node

    def condition(self, node: ast.expr | None) -> tuple[tuple[str, str], ...]:
        if node is None or (isinstance(node, ast.Constant) and node.value is None):
            return ()
        node = self._resolve(node)
        assert isinstance(node, ast.Call), f"line {node.lineno}: condition {ast.unparse(node)} not readable"
        kind = getattr(node.func, "id", "")
        if kind == "_is":
            return ((_literal(node.args[0]), _literal(node.args[1])),)
        inner = self._resolve(node.args[0])
        if kind in ("IfCondition", "UnlessCondition") and getattr(inner.func, "id", "") == "LaunchConfiguration":
            return ((_literal(inner.args[0]), "true" if kind == "IfCondition" else "false"),)
        raise AssertionError(f"line {node.lineno}: condition {ast.unparse(node)} not readable")

    def _visit(self, node: ast.expr, conds: tuple[tuple[str, str], ...]) -> None:
        node = self._resolve(node)
        if isinstance(node, ast.List):
            for elt in node.elts:
                self._visit(elt, conds)
        elif isinstance(node, ast.BinOp):  # a list + a list
            self._visit(node.left, conds)
            self._visit(node.right, conds)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "GroupAction":
            self._visit(_kw(node, "actions"), conds + self.condition(_kw(node, "condition")))  # type: ignore[arg-type]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "SetRemap":
            remap = (_literal(_kw(node, "src")), _literal(_kw(node, "dst")))
            self.remaps.append(NodeCall("", "", remappings=[remap], conditions=conds, line=node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Node":
            self.nodes.append(self._node(node, conds))

    def _node(self, call: ast.Call, conds: tuple[tuple[str, str], ...]) -> NodeCall:
        out = NodeCall(
            _literal(_kw(call, "package")),
            _literal(_kw(call, "executable")),
            _literal(_kw(call, "name")) or "",
            _literal(_kw(call, "namespace")) or "",
            conditions=conds + self.condition(_kw(call, "condition")),
            line=call.lineno,
        )
        params = self._resolve(_kw(call, "parameters") or ast.List(elts=[]))
        assert isinstance(params, ast.List), f"line {call.lineno}: parameters not a list"
        for entry in params.elts:
            elt = self._resolve(entry.value if isinstance(entry, ast.Starred) else entry)
            items = elt.elts if isinstance(elt, ast.List) else [elt]
            for item in map(self._resolve, items):
                if isinstance(item, ast.Dict):
                    for k, v in zip(item.keys, item.values, strict=True):
                        out.overrides[_literal(k)] = _literal(self._resolve(v))
                else:
                    out.files.append(_literal(item))
        remaps = _kw(call, "remappings")
        out.remappings = [tuple(_literal(e)) for e in remaps.elts] if isinstance(remaps, ast.List) else []
        arguments = _kw(call, "arguments")
        out.arguments = (
            [_literal(e) for e in arguments.elts] if isinstance(arguments, ast.List) else _literal(arguments)
        )
        return out

    def ours(self) -> list[NodeCall]:
        return [n for n in self.nodes if n.package in our_packages()]

    def find(self, executable: str, **conds: str) -> list[NodeCall]:
        want = set(conds.items())
        return [n for n in self.nodes if n.executable == executable and want <= set(n.conditions)]


def _read(name: str, source: str | None = None) -> LaunchFile:
    return LaunchFile(source if source is not None else (LAUNCH_DIR / name).read_text())


def test_expected_launch_files_exist() -> None:
    assert {"franka.launch.py", "sim.launch.py", "record.launch.py"} <= LAUNCH_NAMES
    assert not (LAUNCH_DIR / "robot_graph.py").exists()  # no loader module next to the launch files
    for path in LAUNCH_FILES:
        assert "spec_from_file_location" not in path.read_text(), path.name


def _argument_problems(source: str) -> list[str]:
    tree = ast.parse(source)
    problems = []
    arguments = _arguments(tree)
    names = [a[0] for a in arguments]
    if len(set(names)) != len(names):
        problems.append("duplicate arguments")
    for name, default, description in arguments:
        if not isinstance(default, str):
            problems.append(f"{name}: default is not readable")
        if not (isinstance(description, str) and len(description) > 15):
            problems.append(f"argument {name} needs a description")
    # every argument read is declared (a typo would be a KeyError or an empty value at launch time)
    used = {_literal(c.args[0]) for c in _calls(tree, "LaunchConfiguration") if isinstance(c.args[0], ast.Constant)}
    used |= {_literal(c.args[0]) for c in _calls(tree, "_is")}
    used |= {
        n.slice.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Subscript) and getattr(n.value, "id", "") == "arg" and isinstance(n.slice, ast.Constant)
    }
    used -= {"profile"}  # record.launch.py's resolved profile (SetLaunchConfiguration in _profile_nodes)
    if not used <= set(names):
        problems.append(f"reads undeclared arguments {sorted(used - set(names))}")
    if not set(names) <= used:
        problems.append(f"declares unused arguments {sorted(set(names) - used)}")
    return problems


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_arguments_and_references(path: Path) -> None:
    source = path.read_text()
    assert not _argument_problems(source), f"{path.name}: {_argument_problems(source)}"
    problems, checked = _reference_problems(ast.parse(source))
    assert not problems, f"{path.name}: {problems}"
    assert checked >= 5


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
            if not (REPO / rest).is_file():  # our share files: config/ and launch/ of the repository
                problems.append(f"{package.value}/{rest} is not a file of this repository")
        elif rest not in EXTERNAL.get(package.value, set()):
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


def _profiles_for(file: str, node: NodeCall) -> list[str]:
    conds = dict(node.conditions)
    if file == "franka.launch.py" or conds.get("mode") == "robot":
        return [profiles.ROBOT_PROFILE]
    if file == "sim.launch.py" or conds.get("mode") == "sim":
        return [profiles.SIM_PROFILE]
    return [profiles.ROBOT_PROFILE, profiles.SIM_PROFILE]


def _parameter_problems(file: str, source: str) -> list[str]:
    """Each node of ours reads the profile first; its block exists in the default profile(s); every
    override is a parameter of that block (= declared by the node); use_sim_time as the file runs."""
    problems = []
    launch = _read(file, source)
    for node in launch.ours():
        if node.files[:1] not in (
            ["<AliasFreeParamsFile(LaunchConfiguration('robot_profile'))>"],  # rcl refuses the profiles' YAML aliases
            ["<LaunchConfiguration('profile')>"],
        ):
            problems.append(f"line {node.line}: {node.executable} does not read the robot profile first")
        expected_sim_time = USE_SIM_TIME.get(file, dict(node.conditions).get("mode") == "sim")
        if node.overrides.get("use_sim_time", False) != expected_sim_time:
            problems.append(f"line {node.line}: {node.executable} use_sim_time is not {expected_sim_time}")
        for rel in _profiles_for(file, node):
            block = profiles.load_profile(REPO / rel).get(node.fqn)
            if block is None:
                problems.append(f"{rel} has no block for {node.fqn} (line {node.line})")
                continue
            unknown = set(node.overrides) - set(block) - {"use_sim_time"}
            if unknown:
                problems.append(f"line {node.line}: {sorted(unknown)} are not parameters of {node.fqn} ({rel})")
    return problems


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_nodes_of_ours_get_their_profile_block_and_declared_parameters(path: Path) -> None:
    assert _read(path.name).ours(), path.name
    problems = _parameter_problems(path.name, path.read_text())
    assert not problems, problems


def _executor_problems(file: str, source: str) -> list[str]:
    """Per controller:= one executor with the table's output mode, topic remapping and shadow flag,
    and one spawner of the table's controller."""
    problems = []
    launch = _read(file, source)
    simulator = "" if file == "franka.launch.py" else "mujoco"
    profile = str(REPO / (profiles.ROBOT_PROFILE if file == "franka.launch.py" else profiles.SIM_PROFILE))
    for key, ctrl in controllers.CONTROLLERS.items():
        (table,) = [
            p for p in graph.rollout_processes(profile, key, simulator=simulator) if p.name == "chunk_executor_node"
        ]
        executors = launch.find("chunk_executor_node", controller=key)
        if len(executors) != 1:
            problems.append(f"controller:={key}: {len(executors)} executors")
            continue
        (node,) = executors
        for name in ("output_mode", "command_topic"):
            if node.overrides.get(name) != table.overrides[name]:
                problems.append(f"controller:={key}: {name} {node.overrides.get(name)!r} != {table.overrides[name]!r}")
        if node.overrides.get("shadow") != "<LaunchConfiguration('shadow')>":
            problems.append(f"controller:={key}: the executor's shadow is not the shadow:= argument")
        if list(table.remappings) != node.remappings:
            problems.append(f"controller:={key}: remappings {node.remappings} != {list(table.remappings)}")
        spawners = [n for n in launch.find("spawner", controller=key)]
        names = [n.arguments[0] for n in spawners if isinstance(n.arguments, list)]
        if names != [ctrl.ros2_control_name]:
            problems.append(f"controller:={key}: spawns {names}, not {ctrl.ros2_control_name}")
        if file == "sim.launch.py" and not all("--param-file" in n.arguments for n in spawners):
            problems.append(f"controller:={key}: a Gazebo spawner without our --param-file")
        if file == "sim.launch.py":  # Gazebo: the remappings of the table come from SetRemap in its group
            gazebo = next(p for p in graph.rollout_processes(profile, key, simulator="gazebo") if p.name == table.name)
            remaps = [r.remappings[0] for r in launch.remaps if ("simulator", "gazebo") in r.conditions]
            if not set(gazebo.remappings) <= set(remaps):
                problems.append(f"gazebo controller:={key}: {gazebo.remappings} not among SetRemap {remaps}")
    return problems


@pytest.mark.parametrize("file", ["franka.launch.py", "sim.launch.py"])
def test_executor_and_controller_per_choice_match_the_graph_table(file: str) -> None:
    problems = _executor_problems(file, (LAUNCH_DIR / file).read_text())
    assert not problems, problems


def _preview_problems(file: str, source: str) -> list[str]:
    """rviz:=true starts exactly the table's preview processes: plan_preview_node, the ghost
    robot_state_publisher (namespace, frame_prefix, joint_states remapping, a robot_description), its
    root transform and rviz2 with the installed config."""
    problems = []
    launch = _read(file, source)
    table = graph.preview_processes(str(REPO / profiles.SIM_PROFILE), USE_SIM_TIME[file])
    shown = [
        n for n in launch.nodes if ("rviz", "true") in n.conditions and ("simulator", "mujoco") not in n.conditions
    ]
    if len(shown) != len(table):
        problems.append(f"rviz:=true starts {len(shown)} nodes, the table {len(table)}")
    for p in table:
        match = [
            n
            for n in shown
            if (n.package, n.executable, n.name, n.namespace) == (p.package, p.executable, p.name, p.namespace)
        ]
        if len(match) != 1:
            problems.append(f"rviz:=true: no single {p.package}/{p.executable} {p.fqn}")
            continue
        (node,) = match
        for key, value in p.overrides.items():
            if node.overrides.get(key) != value:
                problems.append(f"{p.fqn}: {key} {node.overrides.get(key)!r} != {value!r}")
        if node.remappings != list(p.remappings):
            problems.append(f"{p.fqn}: remappings {node.remappings} != {list(p.remappings)}")
        if p.executable == "robot_state_publisher" and "robot_description" not in node.overrides:
            problems.append("the ghost robot_state_publisher has no robot_description")
        if p.executable == "rviz2":
            rviz_ok = node.arguments[:1] == ["-d"] and f"'{p.arguments[1]}'" in str(node.arguments[1:])
            if not rviz_ok or not (REPO / p.arguments[1]).is_file():
                problems.append(f"rviz2 arguments {node.arguments} do not load {p.arguments[1]}")
        elif p.arguments and node.arguments != list(p.arguments):
            problems.append(f"{p.fqn}: arguments {node.arguments} != {list(p.arguments)}")
    return problems


@pytest.mark.parametrize("file", ["franka.launch.py", "sim.launch.py"])
def test_rviz_starts_the_preview_and_the_ghost_arm_of_the_table(file: str) -> None:
    problems = _preview_problems(file, (LAUNCH_DIR / file).read_text())
    assert not problems, problems


def test_checks_see_a_wrong_launch_file() -> None:
    """Each check passes on the launch files and reports a wrong name, value, remapping or condition."""
    franka, sim = (LAUNCH_DIR / "franka.launch.py").read_text(), (LAUNCH_DIR / "sim.launch.py").read_text()
    cases = [
        (_executor_problems, "franka.launch.py", franka, '"output_mode": "pose"', '"output_mode": "position"'),
        (_executor_problems, "franka.launch.py", franka, '"shadow": shadow', '"shadow": False'),
        (_executor_problems, "franka.launch.py", franka, '"/cartesian_motion_controller/target_frame")', '"/x")'),
        (
            _executor_problems,
            "franka.launch.py",
            franka,
            '["cartesian_motion_controller", "--',
            '["fr3_arm_controller", "--',
        ),
        (_executor_problems, "sim.launch.py", sim, 'SetRemap(src="/cartesian_target"', 'SetRemap(src="/cartesian"'),
        (_parameter_problems, "franka.launch.py", franka, '"command_topic": ""', '"command_topics": ""'),
        (
            _parameter_problems,
            "sim.launch.py",
            sim,
            '"use_sim_time": True, "output_mode": "pose"',
            '"use_sim_time": False, "output_mode": "pose"',
        ),
        (_preview_problems, "franka.launch.py", franka, '"frame_prefix": "preview/"', '"frame_prefix": "ghost/"'),
        (
            _preview_problems,
            "sim.launch.py",
            sim,
            '("joint_states", "/dp/preview/joint_states")',
            '("joint_states", "/joint_states")',
        ),
        (
            _preview_problems,
            "franka.launch.py",
            franka,
            'name="plan_preview_node",\n            parameters=[profile, {"use_sim_time": False}],\n            condition=rviz',
            'name="plan_preview_node",\n            parameters=[profile, {"use_sim_time": False}],\n            condition=None',
        ),
    ]
    for check, file, source, good, bad in cases:
        assert check(file, source) == [], (check.__name__, file)
        assert good in source, good
        assert check(file, source.replace(good, bad, 1)), f"{check.__name__}: replacing {good} by {bad} went unnoticed"
    assert _argument_problems(franka.replace('LaunchConfiguration("shadow")', 'LaunchConfiguration("shadows")', 1))
    problems, checked = _reference_problems(ast.parse(sim))
    assert problems == [] and checked >= 20
    for good, bad in [
        ('"parameter_bridge"', '"parameter_bridg"'),
        ('"robots/fr3/fr3.urdf.xacro"', '"robots/fr3/fr3.xacro"'),
        ('FindPackageShare("ros_gz_sim")', 'FindPackageShare("ros_gz")'),
        ('"config/rviz/dp_preview.rviz"', '"config/rviz/preview.rviz"'),
        ('executable="create"', "executable=create_name"),
    ]:
        assert good in sim, good
        mutated, _ = _reference_problems(ast.parse(sim.replace(good, bad, 1)))
        assert mutated, f"replacing {good} by {bad} went unnoticed"


#: launch_graph / launch_record / launch_actions functions that build processes or entities (a refusal must come before all of them).
BUILDERS = {
    "camera_processes",
    "gripper_bridge_processes",
    "ready_pose_process",
    "record_processes",
    "controller_spawners",
    "launch_node",
    "write_moveit_params",
}


def _assert_checked_on_the_launch_path(launch_file: str, check: str, before_building: bool = False) -> None:
    """``check`` is called in the file's ``_profile_nodes``, the first entity of its launch
    description (a refusal stops the launch before any node starts); with ``before_building``,
    before the first call that builds a process."""
    launch = _read(launch_file)
    first = launch.entities.elts[0]  # type: ignore[attr-defined]
    assert getattr(first.func, "id", "") == "OpaqueFunction" and _literal(_kw(first, "function")) == "<_profile_nodes>"
    fn = _function(launch.tree, "_profile_nodes")
    checks = [c.lineno for c in _calls(fn, check)]
    builds = [c.lineno for name in BUILDERS for c in _calls(fn, name)]
    assert checks and builds, f"{launch_file}: {check} at lines {checks}, builders at {builds}"
    if before_building:
        assert min(checks) < min(builds), (
            f"{launch_file}: {check} (line {min(checks)}) after building (line {min(builds)})"
        )


@pytest.mark.parametrize("controller", ["joint_trajectory", "joint_position", "cartesian"])
@pytest.mark.parametrize("simulator", ["", "mujoco", "gazebo"])
def test_rollout_graph_is_the_composed_graph(controller: str, simulator: str) -> None:
    from dp_policy_node.executor_config import DEFAULT_TOPICS
    from dp_policy_node.graph import GRAPH

    profile = str(REPO / (profiles.SIM_PROFILE if simulator else profiles.ROBOT_PROFILE))
    processes = graph.rollout_processes(
        profile, controller, simulator=simulator, use_sim_time=bool(simulator), checkpoint="/ckpt", shadow=True
    )
    policy = next(p for p in processes if p.lifecycle)
    assert policy.overrides["checkpoint_path"] == "/ckpt"
    assert [(p.name, p.executable, p.lifecycle) for p in processes] == [
        (e.name, e.executable, e.lifecycle) for e in GRAPH
    ]
    ctrl = controllers.CONTROLLERS[controller]
    executor = next(p for p in processes if p.name == "chunk_executor_node")
    assert executor.overrides["output_mode"] == ctrl.output_mode and executor.overrides["shadow"] is True
    assert ctrl.executor_topic == DEFAULT_TOPICS[ctrl.output_mode]  # what the remapping rewrites
    expected = (
        ()
        if simulator == "mujoco" or ctrl.robot_topic == ctrl.executor_topic
        else ((ctrl.executor_topic, ctrl.robot_topic),)
    )
    assert executor.remappings == expected
    for process in [
        *processes,
        *graph.simulator_processes(profile, simulator or "none"),
        *graph.controller_spawners(controller, ready_pose=True),
        *graph.preview_processes(profile, bool(simulator)),
    ]:
        _check_process(process)


def _check_process(process) -> None:
    packages = our_packages()
    if process.package in packages:
        scripts = console_scripts(process.package)
        assert process.executable in scripts, (
            f"{process.package} has no console script '{process.executable}' (have {sorted(scripts)})"
        )
        profile = profiles.load_profile(process.params_file)
        assert process.fqn in profile, f"{Path(process.params_file).name} has no block for {process.fqn}"
        unknown = set(process.overrides) - set(profile[process.fqn]) - {"use_sim_time"}
        assert not unknown, f"overrides {sorted(unknown)} are not parameters of {process.fqn}"
    else:
        assert process.executable in EXTERNAL.get(process.package, set()), f"{process.package}/{process.executable}"
    assert process.params_file == "" or Path(process.params_file).is_file()


def test_record_teleop_and_drivers_match_the_graph_table() -> None:
    launch = _read("record.launch.py")
    (robot_teleop,) = launch.find("teleop_node", mode="robot")
    (sim_teleop,) = launch.find("teleop_node", mode="sim", expert="false")
    assert robot_teleop.remappings == list(record.TELEOP_REMAPS_ROBOT)
    assert sim_teleop.remappings == list(record.TELEOP_REMAPS_SIM)
    assert launch.find("expert_node", mode="sim", expert="true") and not launch.find("expert_node", mode="robot")
    assert launch.find("sim_node", mode="sim") and not launch.find("sim_node", mode="robot")
    (spawner,) = launch.find("spawner", mode="robot", servo_twist_topic="")
    assert spawner.arguments[0] == controllers.CONTROLLERS["cartesian"].ros2_control_name
    for device, process in record.TELEOP_DEVICES.items():
        nodes = launch.find(process.executable if process else "-", teleop_device=device, expert="false")
        if process is None:
            assert not nodes
            continue
        (node,) = nodes
        assert (node.package, node.name, node.overrides) == (process.package, process.name, dict(process.overrides))
    _assert_checked_on_the_launch_path("record.launch.py", "record_processes")


def test_fake_hardware_warns_about_the_missing_robot_state_broadcaster() -> None:
    assert (
        "franka_robot_state_broadcaster" in actions.FAKE_HARDWARE_NOTE and "current_pose" in actions.FAKE_HARDWARE_NOTE
    )
    for file in ("franka.launch.py", "record.launch.py"):
        fn = _function(_read(file).tree, "_profile_nodes")
        (log,) = _calls(fn, "LogInfo")
        assert ast.unparse(_kw(log, "msg")) == "actions.FAKE_HARDWARE_NOTE"
        guarded = [n for n in ast.walk(fn) if isinstance(n, (ast.IfExp, ast.If)) and "fake" in ast.unparse(n.test)]
        assert any(log in ast.walk(n) for n in guarded), f"{file}: the note must be logged only with fake hardware"


def test_policy_node_overrides_are_parameters_of_its_block() -> None:
    """policy_node comes from launch_actions.policy_node_actions (a LifecycleNode with autostart events):
    its override names are parameters of the profiles' policy_node block."""
    tree = ast.parse(Path(actions.__file__).read_text())
    fn = _function(tree, "policy_node_actions")
    keys = {k.value for d in ast.walk(fn) if isinstance(d, ast.Dict) for k in d.keys if isinstance(k, ast.Constant)}
    assert keys == {"use_sim_time", "checkpoint_path"}
    for rel in (profiles.ROBOT_PROFILE, profiles.SIM_PROFILE):
        assert keys - {"use_sim_time"} <= set(profiles.load_profile(REPO / rel)["/policy_node"])
    for file in ("franka.launch.py", "sim.launch.py"):
        launch = _read(file)
        calls = _calls(_function(launch.tree, "_policy_node"), "policy_node_actions")
        assert len(calls) == 1 and _literal(calls[0].args[1]) is USE_SIM_TIME[file], file
        assert "<_policy_node>" in [_literal(_kw(c, "function")) for c in _calls(launch.tree, "OpaqueFunction")]


def test_robot_profile_cameras_and_ready_pose() -> None:
    profile_path = str(REPO / profiles.ROBOT_PROFILE)
    profile = profiles.load_profile(profile_path)
    cameras = graph.camera_processes(profile_path, profile)
    assert [c.name for c in cameras] == ["front", "wrist"]
    observed = set(profile["/observation_node"]["camera_names"])
    topics = profiles.camera_topics(profile)
    # the D405 (wrist) streams colour from its depth module, as image_rect_raw; the D435 from rgb_camera
    assert topics["wrist"]["image"] == "/camera/wrist/color/image_rect_raw"
    assert topics["front"]["image"] == "/camera/front/color/image_raw"
    recorded = set(profile["/recorder"]["topics"])
    for camera in cameras:
        block = profile[camera.fqn]
        model = realsense_models.camera_model(camera.name, block)
        assert camera.name in observed
        assert profile["/observation_node"][f"cameras.{camera.name}.topic"] == topics[camera.name]["image"]
        width, height, fps = (int(v) for v in block[model.profile_param].split(","))
        assert width > 0 and height > 0 and fps > 0
        assert {topics[camera.name]["image"], topics[camera.name]["camera_info"]} <= recorded
        assert block.get("publish_tf", True)
        _check_process(camera)
    assert "/tf_static" in recorded
    for controller in controllers.CONTROLLERS:
        _check_process(graph.ready_pose_process(profile_path, controller, moveit_params_file="/tmp/m.yaml"))


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
    profile = {"/camera/cam": {**({"device_type": device} if device else {}), **block}}
    with pytest.raises(ValueError, match=error):
        graph.camera_processes("p.yaml", profile)


def test_streaming_position_mode_is_refused_on_hardware_below_1khz() -> None:
    profile = profiles.load_profile(REPO / profiles.ROBOT_PROFILE)
    # the FR3 default: trajectory mode (launch default and profile)
    franka_args = dict((a[0], a[1]) for a in _arguments(ast.parse((LAUNCH_DIR / "franka.launch.py").read_text())))
    assert franka_args["controller"] == "joint_trajectory"
    assert profile["/chunk_executor_node"]["output_mode"] == "trajectory"
    assert profile["/chunk_executor_node"]["control_rate_hz"] < 1000  # so joint_position must be refused
    with pytest.raises(ValueError, match="1000"):
        controllers.check_streaming_rate("joint_position", False, profile)
    controllers.check_streaming_rate("joint_position", True, profile)  # mock hardware: allowed
    for controller in ("joint_trajectory", "cartesian"):
        controllers.check_streaming_rate(controller, False, profile)
    fast = {**profile, "/chunk_executor_node": {**profile["/chunk_executor_node"], "control_rate_hz": 1000.0}}
    controllers.check_streaming_rate("joint_position", False, fast)
    # franka.launch.py calls the check before it builds anything
    _assert_checked_on_the_launch_path("franka.launch.py", "check_streaming_rate", before_building=True)


@pytest.mark.parametrize(
    ("device", "expected"),
    [("gamepad", ("joy", "joy_node")), ("spacemouse", ("spacenav", "spacenav_node")), ("none", None)],
)
def test_record_starts_the_teleop_input_driver(device: str, expected) -> None:
    processes = record.teleop_device_processes(device)
    assert [(p.package, p.executable) for p in processes] == ([expected] if expected else [])
    for process in processes:
        _check_process(process)
    with pytest.raises(ValueError, match="teleop_device"):
        record.teleop_device_processes("wiimote")
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


def test_ready_pose_gets_the_moveit_params_file_keyed_by_its_moveit_node() -> None:
    process = graph.ready_pose_process(
        str(REPO / profiles.ROBOT_PROFILE), "joint_position", moveit_params_file="/x.yaml"
    )
    assert process.overrides["moveit_params_file"] == "/x.yaml"
    assert process.overrides["moveit_node_name"] == graph.MOVEIT_NODE_NAME
    from dp_policy_node.ready_pose_node import PARAMS

    defaults = {p.name: p.default for p in PARAMS}
    assert defaults["moveit_node_name"] == graph.MOVEIT_NODE_NAME
    # no MoveItConfigsBuilder: franka_fr3_moveit_config has no URDF/SRDF for it
    assert "MoveItConfigsBuilder" not in (LAUNCH_DIR / "franka.launch.py").read_text()
    _assert_checked_on_the_launch_path("franka.launch.py", "write_moveit_params")


@pytest.mark.parametrize("mode", ["robot", "sim", "expert"])
def test_record_graph(mode: str) -> None:
    profile = str(REPO / (profiles.ROBOT_PROFILE if mode == "robot" else profiles.SIM_PROFILE))
    simulator = "" if mode == "robot" else "mujoco"
    processes = record.record_processes(profile, simulator, expert=mode == "expert", use_sim_time=mode != "robot")
    assert {p.name for p in processes} == {"recorder", "expert_node" if mode == "expert" else "teleop"}
    for process in processes:
        _check_process(process)
    with pytest.raises(ValueError, match="mujoco"):
        record.record_processes(profile, "", expert=True, use_sim_time=False)


def test_sim_profile_topics_match_the_simulator() -> None:
    """The sim profile's camera topics are the ones sim_node publishes (/camera/<name>/image_raw)."""
    profile = profiles.load_profile(REPO / profiles.SIM_PROFILE)
    sim, obs = profile["/sim_node"], profile["/observation_node"]
    assert set(obs["camera_names"]) <= set(sim["cameras"])
    for name in obs["camera_names"]:
        assert obs[f"cameras.{name}.topic"] == f"/camera/{name}/image_raw"


def test_controllers_file_defines_every_controller() -> None:
    import yaml

    document = yaml.safe_load((REPO / controllers.FR3_CONTROLLERS).read_text())["/**"]
    manager = document["controller_manager"]["ros__parameters"]
    for ctrl in controllers.CONTROLLERS.values():
        assert "type" in manager[ctrl.ros2_control_name], ctrl.ros2_control_name
        params = document[ctrl.ros2_control_name]["ros__parameters"]
        assert params["type"] == manager[ctrl.ros2_control_name]["type"]
        assert params["joints"] == [f"fr3_joint{i}" for i in range(1, 8)]
    for broadcaster in ("joint_state_broadcaster", "franka_robot_state_broadcaster"):
        assert "type" in manager[broadcaster]


def test_profiles_are_installed_paths() -> None:
    for rel in (profiles.ROBOT_PROFILE, profiles.SIM_PROFILE, controllers.FR3_CONTROLLERS):
        assert (REPO / rel).is_file(), rel
    assert {p.name for p in PROFILES} >= {"fr3_realsense.yaml", "sim.yaml"}
    with pytest.raises(ValueError):
        graph.rollout_processes(str(REPO / profiles.SIM_PROFILE), "velocity")
    assert actions.truthy("True") and not actions.truthy("0")
    with pytest.raises(ValueError):
        actions.truthy("maybe")


def _with_twin_deploy() -> dict:
    """The robot profile with config/fr3_twin/deploy.yaml on top (a policy that commands the fingers)."""
    profile = profiles.load_profile(REPO / profiles.ROBOT_PROFILE)
    for fqn, block in profiles.load_profile(REPO / "config" / "fr3_twin" / "deploy.yaml").items():
        profile[fqn] = {**profile.get(fqn, {}), **block}
    return profile


def test_gripper_bridge_starts_only_with_a_gripper_topic() -> None:
    path = str(REPO / profiles.ROBOT_PROFILE)
    profile = profiles.load_profile(path)
    assert (
        profile["/chunk_executor_node"]["gripper_topic"] == "" and graph.gripper_bridge_processes(path, profile) == []
    )
    assert (
        graph.gripper_bridge_processes(
            str(REPO / profiles.SIM_PROFILE), profiles.load_profile(REPO / profiles.SIM_PROFILE)
        )
        == []
    )
    fingers = _with_twin_deploy()
    (bridge,) = graph.gripper_bridge_processes(path, fingers, load_gripper=True)
    assert (bridge.package, bridge.executable, bridge.name) == (
        "dp_policy_node",
        "gripper_bridge_node",
        "gripper_bridge_node",
    )
    assert (
        bridge.overrides["command_topic"] == fingers["/chunk_executor_node"]["gripper_topic"] == "/dp/gripper_command"
    )
    _check_process(bridge)  # the profile's gripper_bridge_node block declares what the launch overrides
    with pytest.raises(ValueError, match="load_gripper"):
        graph.gripper_bridge_processes(path, fingers, load_gripper=False)
    executor = fingers["/chunk_executor_node"]
    with pytest.raises(ValueError, match="gripper_topic is empty"):  # finger values would go to fr3_arm_controller
        graph.gripper_bridge_processes(path, {"/chunk_executor_node": {**executor, "gripper_topic": ""}})
    with pytest.raises(ValueError, match="no action"):  # the executor would publish empty arrays
        graph.gripper_bridge_processes(
            path, {"/chunk_executor_node": {**profile["/chunk_executor_node"], "gripper_topic": "/dp/gripper_command"}}
        )
    for name in ("franka.launch.py", "sim.launch.py"):
        _assert_checked_on_the_launch_path(name, "gripper_bridge_processes")


def test_cartesian_end_effector_is_the_hand_tcp(tmp_path: Path) -> None:
    """current_pose is O_T_EE (with the Hand: its TCP); the Cartesian controller controls that frame,
    which franka_description's URDF has only with the Hand (load_gripper:=true)."""
    import yaml

    controllers_yaml = REPO / controllers.FR3_CONTROLLERS
    params = yaml.safe_load(controllers_yaml.read_text())["/**"]["cartesian_motion_controller"]["ros__parameters"]
    assert params["end_effector_link"] == controllers.HAND_TCP_LINK == "fr3_hand_tcp"
    controllers.check_cartesian_end_effector("cartesian", True, controllers_yaml)
    with pytest.raises(ValueError, match="load_gripper"):
        controllers.check_cartesian_end_effector("cartesian", False, controllers_yaml)
    for controller in ("joint_trajectory", "joint_position"):
        controllers.check_cartesian_end_effector(controller, False, controllers_yaml)
    no_hand = tmp_path / "no_hand.yaml"  # an arm without the Hand: the flange
    no_hand.write_text(
        controllers_yaml.read_text().replace("end_effector_link: fr3_hand_tcp", "end_effector_link: fr3_link8")
    )
    controllers.check_cartesian_end_effector("cartesian", False, no_hand)
    for name in ("franka.launch.py", "record.launch.py", "sim.launch.py"):
        _assert_checked_on_the_launch_path(name, "check_cartesian_end_effector")
    record_args = dict((a[0], a[1]) for a in _arguments(ast.parse((LAUNCH_DIR / "record.launch.py").read_text())))
    assert record_args["load_gripper"] == "true"  # recording drives the Cartesian controller by default


def test_teleop_on_the_robot_reads_current_pose_and_can_feed_moveit_servo() -> None:
    profile = str(REPO / profiles.ROBOT_PROFILE)
    teleop, _ = record.record_processes(profile, "", expert=False, use_sim_time=False)
    assert dict(teleop.remappings)["current_pose"] == "/franka_robot_state_broadcaster/current_pose"
    assert "servo_twist_topic" not in teleop.overrides  # the profile's "" = off
    teleop, _ = record.record_processes(
        profile, "", expert=False, use_sim_time=False, servo_twist_topic=record.SERVO_TWIST_TOPIC
    )
    assert teleop.overrides["servo_twist_topic"] == "/servo_node/delta_twist_cmds"
    _check_process(teleop)
    with pytest.raises(ValueError, match="teleop"):
        record.record_processes(
            str(REPO / profiles.SIM_PROFILE), "mujoco", expert=True, use_sim_time=True, servo_twist_topic="/s"
        )
    record_args = dict((a[0], a[1]) for a in _arguments(ast.parse((LAUNCH_DIR / "record.launch.py").read_text())))
    assert record_args["servo_twist_topic"] == ""  # off by default
    # current_pose best effort: test_teleop_subscribes_where_the_drivers_publish


def test_record_launch_hands_its_nodes_the_alias_free_profile() -> None:
    """record.launch.py's nodes read LaunchConfiguration("profile"), set in _profile_nodes: it must be
    the resolved copy (rcl refuses the profiles' YAML aliases)."""
    source = (REPO / "launch/record.launch.py").read_text()
    fn = _function(ast.parse(source), "_profile_nodes")
    calls = [
        n for n in ast.walk(fn) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "SetLaunchConfiguration"
    ]
    assert calls and all(
        _literal(c.args[0]) == "profile" and ast.unparse(c.args[1]).startswith("resolve_params_file(") for c in calls
    ), [ast.unparse(c) for c in calls]
