"""Offline rosdep key resolution for Ubuntu 24.04 (noble) + ROS 2 Jazzy, as ``rosdep install`` does it.

Not a test module (no ``test_`` prefix). The databases are the files of ros/rosdistro copied to
``../shared/data/rosdistro`` (see its SOURCE.txt): ``jazzy/distribution.yaml`` (REP 143: which ROS
packages Jazzy releases, each as apt ``ros-jazzy-<name with - for _>``) and the rosdep key
databases ``rosdep/base.yaml`` and ``rosdep/python.yaml`` (REP 111/125 format).

A key resolves, in rosdep's order, as
1. a package of the workspace being installed (``rosdep install --from-paths ... --ignore-src``):
   ours under ``src/`` and those of the source workspaces the bring-up guide builds (franka_ros2,
   cartesian_controllers; Jazzy releases neither), or
2. a package released by the Jazzy distribution (its repository has a ``release.version``), or
3. a rosdep key whose ``ubuntu`` entry (else ``'*'``) resolves for ``noble``: a list of apt
   packages, a mapping by release (``noble``, else ``'*'``; a release missing or ``null`` means
   "not available"), and/or by installer (``apt``/``pip``: ``{packages: [...]}`` or a list).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OS_NAME = "ubuntu"
OS_RELEASE = "noble"
ROSDISTRO = "jazzy"
INSTALLERS = ("apt", "pip", "source")
DEPEND_TAGS = (
    "depend",
    "build_depend",
    "build_export_depend",
    "buildtool_depend",
    "exec_depend",
    "test_depend",
    "doc_depend",
)

# Packages that docs/robot_bringup.md builds from source (Jazzy releases no franka_ros2 and no FZI
# cartesian_controllers): {package: source repository}. Package names from franka_ros2 jazzy
# (v3.5.3: franka_bringup/, franka_fr3_moveit_config/, franka_gripper/ ...), its dependency.repos
# (franka_description 2.9.0, libfranka 0.20.5) and fzi-forschungszentrum-informatik/cartesian_controllers
# (ros2 branch: cartesian_motion_controller/package.xml). Explicit and documented: docs/robot_bringup.md's
# source-packages table lists exactly these (test_rosdep_keys.py checks); no other key resolves as a source build.
SOURCE_PACKAGES = {
    "franka_bringup": "franka_ros2",
    "franka_fr3_moveit_config": "franka_ros2",
    "franka_gripper": "franka_ros2",
    "franka_hardware": "franka_ros2",
    "franka_msgs": "franka_ros2",
    "franka_robot_state_broadcaster": "franka_ros2",
    "franka_description": "franka_description",
    "libfranka": "libfranka",
    "cartesian_motion_controller": "cartesian_controllers",
    "cartesian_controller_base": "cartesian_controllers",
}


class UnresolvedKey(KeyError):
    """A key that ``rosdep install`` could not resolve on Ubuntu noble / Jazzy."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass(frozen=True)
class Resolution:
    """How one key is installed: ``source`` is workspace / source-build / jazzy / rosdep."""

    key: str
    source: str
    installer: str  # "" (workspace, source build), "apt" or "pip"
    packages: tuple[str, ...]


@dataclass(frozen=True)
class Dependency:
    """One ``<*depend>`` element of a package.xml."""

    package: str
    tag: str
    key: str


def package_dependencies(package_xml: Path) -> list[Dependency]:
    """Every dependency key of a format-2/3 package.xml (conditions are not used in this workspace)."""
    root = ET.parse(package_xml).getroot()
    name = root.findtext("name", "").strip()
    deps = []
    for element in root:
        if element.tag in DEPEND_TAGS:
            if "condition" in element.attrib:
                raise ValueError(f"{package_xml}: conditional dependencies are not handled: {element.attrib}")
            deps.append(Dependency(name, element.tag, (element.text or "").strip()))
    return deps


def _load_yaml(path: Path) -> Any:
    import yaml

    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


class RosdepDatabase:
    """The Jazzy distribution file and the rosdep yaml databases under ``root`` (the rosdistro copy)."""

    def __init__(
        self, root: Path, workspace_packages: set[str] = frozenset(), source_packages: dict[str, str] | None = None
    ) -> None:
        self.root = Path(root)
        distribution = _load_yaml(self.root / ROSDISTRO / "distribution.yaml")
        self.released: dict[str, str] = {}  # package → repository
        for repo, entry in distribution["repositories"].items():
            release = entry.get("release") or {}
            if release.get("version"):  # a release entry without a version is not released
                for package in release.get("packages", [repo]):
                    self.released[package] = repo
        self.rules: dict[str, Any] = {}
        # rosdep's default sources list (20-default.list) has base.yaml before python.yaml; for a key
        # defined in both, the first source wins
        for name in ("base.yaml", "python.yaml"):
            for key, rule in (_load_yaml(self.root / "rosdep" / name) or {}).items():
                self.rules.setdefault(key, rule)
        self.workspace = set(workspace_packages)
        self.source = dict(SOURCE_PACKAGES if source_packages is None else source_packages)

    def resolve(self, key: str) -> Resolution:
        """The installation of ``key`` on Ubuntu noble / Jazzy; :class:`UnresolvedKey` when there is none."""
        if not key:
            raise UnresolvedKey("empty dependency key")
        if key in self.workspace:
            return Resolution(key, "workspace", "", ())
        if key in self.source:
            return Resolution(key, f"source build ({self.source[key]})", "", ())
        if key in self.released:
            return Resolution(key, f"jazzy ({self.released[key]})", "apt", (apt_name(key),))
        if key not in self.rules:
            raise UnresolvedKey(f"'{key}' is neither a Jazzy package nor a rosdep key")
        installer, packages = _resolve_rule(key, self.rules[key])
        return Resolution(key, "rosdep", installer, packages)

    def apt_package_released(self, apt_package: str) -> bool:
        """Whether ``ros-jazzy-<name>`` is an apt package Jazzy releases."""
        return apt_package in {apt_name(p) for p in self.released}


def apt_name(package: str) -> str:
    """The apt package of a released ROS package (REP 143/bloom: ``ros-<distro>-`` + dashes)."""
    return f"ros-{ROSDISTRO}-{package.replace('_', '-')}"


def _resolve_rule(key: str, rule: Any) -> tuple[str, tuple[str, ...]]:
    if not isinstance(rule, dict):
        raise UnresolvedKey(f"rosdep key '{key}' has a malformed rule: {rule!r}")
    if OS_NAME in rule:
        value = rule[OS_NAME]
    elif "*" in rule:
        value = rule["*"]
    else:
        raise UnresolvedKey(f"rosdep key '{key}' has no rule for {OS_NAME} (only {sorted(rule)})")
    return _resolve_os_value(key, value, allow_release=True)


def _resolve_os_value(key: str, value: Any, allow_release: bool) -> tuple[str, tuple[str, ...]]:
    where = f"rosdep key '{key}' on {OS_NAME} {OS_RELEASE}"
    if value is None:
        raise UnresolvedKey(f"{where}: explicitly unavailable (null)")
    if isinstance(value, list):
        return "apt", tuple(str(p) for p in value)
    if isinstance(value, str):
        return "apt", tuple(value.split())
    if not isinstance(value, dict):
        raise UnresolvedKey(f"{where}: malformed entry {value!r}")
    installers = [k for k in value if k in INSTALLERS]
    if installers:
        if len(installers) != len(value):
            raise UnresolvedKey(f"{where}: installers mixed with other keys: {sorted(value)}")
        installer = installers[0]
        spec = value[installer]
        packages = spec.get("packages", []) if isinstance(spec, dict) else spec
        if installer == "source" or packages is None:
            raise UnresolvedKey(f"{where}: needs the {installer} installer ({spec!r})")
        return installer, tuple(str(p) for p in packages)
    if not allow_release:
        raise UnresolvedKey(f"{where}: nested release mapping {sorted(value)}")
    if OS_RELEASE in value:
        return _resolve_os_value(key, value[OS_RELEASE], allow_release=False)
    if "*" in value:
        return _resolve_os_value(key, value["*"], allow_release=False)
    raise UnresolvedKey(f"{where}: no entry for {OS_RELEASE} (only {sorted(value)})")


def skip_keys_in(text: str) -> set[str]:
    """The keys of every ``--skip-keys "a b c"`` in ``text`` (a shell command in the docs)."""
    keys: set[str] = set()
    for match in re.finditer(r"--skip-keys[= ]\"([^\"]*)\"", text):
        keys |= set(match.group(1).split())
    return keys
