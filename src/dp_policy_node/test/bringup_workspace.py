"""Workspace facts for the bring-up tests: the repo root, launch files, profiles, our packages, console scripts.

Not a test module (no ``test_`` prefix). The table of what the launch files start is
``dp_policy_node.launch_graph`` (with ``launch_controllers``, ``launch_profiles``, ``launch_record``
and ``launch_actions``); the tests import those modules directly.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LAUNCH_DIR = REPO / "launch"
PROFILE_DIR = REPO / "config" / "robots"
LAUNCH_FILES = sorted(LAUNCH_DIR.glob("*.launch.py"))
CONTROLLERS_FILE = "fr3_ros2_controllers.yaml"
PROFILES = sorted(p for p in PROFILE_DIR.glob("*.yaml") if p.name != CONTROLLERS_FILE)


def our_packages() -> dict[str, Path]:
    """Package name → source directory, for every package.xml under src/."""
    return {p.parent.name: p.parent for p in (REPO / "src").glob("*/package.xml")}


def console_scripts(package: str) -> set[str]:
    """Console script names declared in ``src/<package>/setup.py`` (parsed, not executed)."""
    setup_py = our_packages()[package] / "setup.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(setup_py.read_text())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "console_scripts" and isinstance(value, ast.List):
                    names |= {e.value.split("=")[0].strip() for e in value.elts if isinstance(e, ast.Constant)}
    return names
