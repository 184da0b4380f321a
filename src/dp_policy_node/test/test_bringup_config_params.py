"""Every parameter in a config file is declared by the node that reads it, and vice versa.

Each ROS parameter file of the workspace (robot profiles in config/robots/, each package's
config/*.yaml) is given to a real rclpy context as ``--params-file``; every node block's class
(dp_policy_node, dp_sim, dp_recorder, dp_teleop, from dp_policy_node.launch_graph) is instantiated in
that context, and the names it declares are compared with the block's keys. ``use_sim_time``
(declared by rclpy itself) may appear in a block. RealSense blocks are checked against the
realsense2_camera parameters we use. Profile lines must document each value in a comment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bringup_workspace import PROFILES, REPO

from dp_policy_node import launch_graph as graph
from dp_policy_node import launch_profiles as profiles
from dp_policy_node import realsense_models

PACKAGE_CONFIGS = sorted(p for p in (REPO / "src").glob("*/config/*.yaml") if "ros__parameters" in p.read_text())
PARAM_FILES = [*PROFILES, *PACKAGE_CONFIGS]
# realsense2_camera (realsense-ros 4.5x, ROS 2 Jazzy) parameters the profiles may set
REALSENSE_PARAMS = {
    "serial_no",
    "device_type",
    "camera_name",
    "enable_color",
    "enable_depth",
    "enable_infra1",
    "enable_infra2",
    "rgb_camera.color_profile",
    "rgb_camera.color_format",
    "rgb_camera.enable_auto_exposure",
    "depth_module.depth_profile",
    "depth_module.color_profile",
    "depth_module.color_format",
    "depth_module.enable_auto_exposure",
    "align_depth.enable",
    "enable_sync",
    "initial_reset",
    "publish_tf",
}
AUTOMATIC = {"use_sim_time", "start_type_description_service"}  # declared by rclpy itself


def _blocks() -> list[tuple[Path, str]]:
    return [(path, fqn) for path in PARAM_FILES for fqn in profiles.load_profile(path)]


def test_there_are_param_files_with_blocks() -> None:
    names = {p.name for p in PARAM_FILES}
    assert {"fr3_realsense.yaml", "sim.yaml", "dp_policy.yaml"} <= names
    assert len(_blocks()) >= 12


def _declared(spec, path: Path, tmp_path: Path) -> set[str]:
    """Instantiate the node class in a fresh context whose arguments carry ``path``; its declared names."""
    import os

    import rclpy
    from rclpy.context import Context

    from dp_ros_common.params_file import resolve as resolve_params_file  # profiles use aliases

    ctx = Context()
    rclpy.init(
        args=["--ros-args", "--params-file", resolve_params_file(path), "-p", f"output_dir:={tmp_path / 'episodes'}"],
        context=ctx,
        domain_id=int(os.environ["ROS_DOMAIN_ID"]),
    )
    node = None
    try:
        node = spec.node_class()(context=ctx)
        return set(node._parameters)
    finally:
        if node is not None:
            if hasattr(node, "stop"):
                node.stop()  # sim_node's physics thread
            node.destroy_node()
        rclpy.shutdown(context=ctx)


@pytest.mark.ros
@pytest.mark.parametrize(("path", "fqn"), _blocks(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_block_matches_declared_parameters(path: Path, fqn: str, tmp_path: Path, monkeypatch) -> None:
    block = profiles.load_profile(path)[fqn]
    if fqn.startswith(f"/{realsense_models.CAMERA_NAMESPACE}/"):
        unknown = set(block) - REALSENSE_PARAMS
        assert not unknown, f"{path.name} {fqn}: not realsense2_camera parameters we know: {sorted(unknown)}"
        return
    specs = {s.name: s for s in graph.all_node_specs()}
    name = fqn.lstrip("/")
    assert name in specs, f"{path.name}: block {fqn} is no node of ours ({sorted(specs)})"
    monkeypatch.chdir(tmp_path)  # nodes that create directories do it here
    declared = _declared(specs[name], path, tmp_path) - AUTOMATIC
    in_file = set(block) - AUTOMATIC
    assert not in_file - declared, f"{path.name} {fqn}: set but never declared: {sorted(in_file - declared)}"
    assert not declared - in_file, f"{path.name} {fqn}: declared but not in the file: {sorted(declared - in_file)}"


_LEAF = re.compile(r"^\s+[\w.]+:\s+[^#\s]")  # "  name: value" (a mapping opener has nothing after the colon)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_profile_values_have_units_and_defaults_in_comments(path: Path) -> None:
    undocumented = [
        line.strip()
        for line in path.read_text().splitlines()
        if _LEAF.match(line) and "ros__parameters" not in line and "(default" not in line.split("#", 1)[-1]
    ]
    assert not undocumented, f"{path.name}: values without '# ... (default ...)': {undocumented}"
