"""Profiles with anchors: rcl refuses aliases (a real rcl context), resolve() gives a file it loads."""

import os
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy._rclpy_pybind11 import RCLError
from rclpy.context import Context
from rclpy.node import Node

from dp_ros_common.params_file import has_aliases, main, resolve

pytestmark = pytest.mark.ros

PROFILE = """
first:
  ros__parameters:
    names: &joints [j1, j2]
    axis: "y"            # a string that YAML 1.1 (rcl) reads as a boolean when unquoted
    serial: "0001"
    empty: [""]
probe:
  ros__parameters:
    names: *joints
    rate_hz: 2.5
    nested:
      names: *joints
"""


def _probe_parameters(params_file: str) -> dict:
    ctx = Context()
    rclpy.init(
        args=["--ros-args", "--params-file", params_file], context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"])
    )
    try:
        node = Node("probe", context=ctx, automatically_declare_parameters_from_overrides=True)
        values = {name: p.value for name, p in node.get_parameters_by_prefix("").items()}
        node.destroy_node()
        return values
    finally:
        rclpy.shutdown(context=ctx)


def test_rcl_refuses_aliases_so_profiles_go_through_resolve(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE)
    with pytest.raises(RCLError, match="aliasing"):
        _probe_parameters(str(path))
    resolved = resolve(path, cache_dir=tmp_path / "cache")
    assert resolved != str(path) and not has_aliases(Path(resolved).read_text())
    values = _probe_parameters(resolved)
    assert values["names"] == ["j1", "j2"] and values["nested.names"] == ["j1", "j2"] and values["rate_hz"] == 2.5
    # same blocks and values as the source (quoted strings stay strings for rcl)
    assert yaml.safe_load(Path(resolved).read_text()) == yaml.safe_load(PROFILE)
    first = yaml.safe_load(Path(resolved).read_text())["first"]["ros__parameters"]
    assert first["axis"] == "y" and first["serial"] == "0001" and first["empty"] == [""]
    assert resolve(path, cache_dir=tmp_path / "cache") == resolved  # content-addressed: stable


def test_a_file_without_aliases_is_passed_unchanged(tmp_path: Path, capsys) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("probe:\n  ros__parameters:\n    names: &unused [a]\n")  # an anchor alone is fine for rcl
    assert resolve(path, cache_dir=tmp_path / "cache") == str(path)
    assert not (tmp_path / "cache").exists()
    assert main([str(path)]) == 0 and capsys.readouterr().out.strip() == str(path)
    assert main([]) == 2


def test_a_tampered_cache_copy_is_rewritten_and_a_shared_cache_dir_refused(tmp_path: Path) -> None:
    source = tmp_path / "profile.yaml"
    source.write_text(PROFILE)
    cache = tmp_path / "cache"
    first = Path(resolve(source, cache))
    expected = first.read_text()
    first.write_text(expected.replace("j2", "j9"))  # another process planted other joint names
    assert Path(resolve(source, cache)) == first and first.read_text() == expected
    assert cache.stat().st_mode & 0o777 == 0o700
    os.chmod(cache, 0o777)  # a directory others can write: limits read from it cannot be trusted
    with pytest.raises(PermissionError, match="writable"):
        resolve(source, cache)
