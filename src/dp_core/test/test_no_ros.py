"""dp_core must work on a training box without ROS: no module of it may import ROS."""

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import dp_core

PACKAGE_DIR = Path(dp_core.__file__).resolve().parent
SOURCE_DIR = Path(__file__).resolve().parents[1]
ROS_MODULES = (
    "rclpy",
    "rcl_interfaces",
    "rosidl_runtime_py",
    "rosidl_parser",
    "builtin_interfaces",
    "std_msgs",
    "sensor_msgs",
    "geometry_msgs",
    "trajectory_msgs",
    "diagnostic_msgs",
    "lifecycle_msgs",
    "dp_msgs",
    "ament_index_python",
    "launch",
    "launch_ros",
    "rosbags",
    "mcap",
)

# Runs in a fresh interpreter where every ROS module is unimportable (as on a box without
# ROS), then imports every dp_core module.
BLOCK_AND_IMPORT = f"""
import importlib, importlib.abc, pkgutil, sys
ROS = {ROS_MODULES!r}
class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ROS:
            raise ImportError('ROS is not installed here: ' + name)
sys.meta_path.insert(0, NoRos())
import dp_core
names = [m.name for m in pkgutil.walk_packages(dp_core.__path__, 'dp_core.')]
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ROS)
assert not loaded, loaded
print(len(names))
"""


def test_every_dp_core_module_imports_without_ros():
    result = subprocess.run([sys.executable, "-c", BLOCK_AND_IMPORT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 2


def test_no_source_file_imports_ros():
    offenders = []
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            offenders += [f"{path.name}:{node.lineno} {r}" for r in roots if r in ROS_MODULES]
    assert not offenders


def test_builds_as_a_plain_pip_wheel(tmp_path):
    # Build from a copy: setuptools writes build/ and egg-info next to the sources.
    source = shutil.copytree(
        SOURCE_DIR, tmp_path / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("dp_core-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dp_core/control/action_chunk.py" in names
    assert not any(n.startswith("test/") for n in names)
