"""The interpreter of every installed node executable imports torch and dp_core.

colcon writes the interpreter it runs under into the shebang of each console script
(``setup.py develop`` for --symlink-install); tools/bootstrap.sh runs colcon with the venv's
python in both modes, so ``ros2 launch`` starts nodes that see the venv's torch, mujoco and zarr.
A shebang naming the system python (the apt colcon's) would fail here on a machine whose system
python has no torch. Skipped when the workspace is not built (no install/).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from bringup_workspace import REPO, our_packages

INSTALL = REPO / "install"
PYTHON_PACKAGES = sorted(p for p in our_packages() if (REPO / "src" / p / "setup.py").is_file())


def _executables() -> list[Path]:
    return sorted(
        p
        for pkg in PYTHON_PACKAGES
        for p in (INSTALL / pkg / "lib" / pkg).glob("*")
        if p.is_file() and os.access(p, os.X_OK)
    )


def _interpreter(script: Path) -> list[str]:
    first = script.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("#!"), f"{script} has no shebang"
    return shlex.split(first[2:])


pytestmark = pytest.mark.skipif(not (INSTALL / "setup.bash").is_file(), reason="workspace not built (no install/)")


def test_every_python_package_installs_its_node_executables() -> None:
    names = {p.name for p in _executables()}
    assert {
        "policy_node",
        "chunk_executor_node",
        "observation_node",
        "sim_node",
        "recorder_node",
        "teleop_node",
        "ready_pose_node",
    } <= names


def test_each_executable_interpreter_imports_torch_and_dp_core() -> None:
    interpreters: dict[tuple[str, ...], list[str]] = {}
    for script in _executables():
        interpreters.setdefault(tuple(_interpreter(script)), []).append(script.name)
    assert interpreters
    for command, scripts in interpreters.items():
        assert "/usr/bin/python3" not in command, f"{scripts}: system python {command}, not the venv's"
        result = subprocess.run(
            [*command, "-c", "import torch, dp_core; print(torch.__version__)"],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )
        assert result.returncode == 0, (
            f"{' '.join(command)} (shebang of {scripts}) cannot import torch/dp_core:\n{result.stderr[-2000:]}"
        )
