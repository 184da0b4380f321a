"""Workspace facts for the bring-up tests: the repo root, the launch graph module, console scripts.

Not a test module (no ``test_`` prefix). ``robot_graph`` is loaded from ``launch/`` by path,
exactly as the launch files load it next to themselves.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[3]
LAUNCH_DIR = REPO / "launch"
PROFILE_DIR = REPO / "config" / "robots"
LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
CONTROLLERS_FILE = "fr3_ros2_controllers.yaml"
PROFILES = sorted(p for p in PROFILE_DIR.glob("*.yaml") if p.name != CONTROLLERS_FILE)


def robot_graph() -> ModuleType:
    name = "dp_launch_robot_graph"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, LAUNCH_DIR / "robot_graph.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def our_packages() -> dict[str, Path]:
    """Package name → source directory, for every package.xml under src/."""
    return {p.parent.name: p.parent for p in (REPO / "src").glob("*/package.xml")}


def console_scripts(package: str) -> set[str]:
    """Console script names declared in ``src/<package>/setup.py`` (parsed, not executed)."""
    setup_py = our_packages()[package] / "setup.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(setup_py.read_text())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "console_scripts" and isinstance(value, ast.List):
                    names |= {e.value.split("=")[0].strip() for e in value.elts if isinstance(e, ast.Constant)}
    return names
