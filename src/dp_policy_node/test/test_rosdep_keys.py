"""Every dependency key of every package.xml resolves on Ubuntu 24.04 / Jazzy the way rosdep would.

Resolved offline against the ros/rosdistro files in ``../shared/data/rosdistro`` (Jazzy
distribution file + rosdep base.yaml/python.yaml; skipped with a reason when absent), by
``rosdep_resolution`` (next to this file). Also: the apt packages docs/robot_bringup.md and
docker/Dockerfile install are released by Jazzy, and the guide's ``rosdep install --skip-keys``
names exactly the keys whose Python packages come from requirements/python.txt instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bringup_workspace import REPO, our_packages
from rosdep_resolution import RosdepDatabase, UnresolvedKey, package_dependencies

ROSDISTRO = REPO.parent / "shared" / "data" / "rosdistro"
GUIDE = REPO / "docs" / "robot_bringup.md"
DOCKERFILE = REPO / "docker" / "Dockerfile"
PACKAGE_XMLS = sorted((REPO / "src").glob("*/package.xml"))
# Installed into the venv by pip (requirements/python.txt) although rosdep could install them:
# apt's python3-torch is an old CPU build, we pin torch (CUDA wheels) in the venv.
PIP_IN_VENV = {"python3-torch": ("torch",)}

pytestmark = pytest.mark.skipif(
    not (ROSDISTRO / "jazzy" / "distribution.yaml").is_file(), reason=f"rosdistro databases not found at {ROSDISTRO}"
)


@pytest.fixture(scope="module")
def db() -> RosdepDatabase:
    return RosdepDatabase(ROSDISTRO, workspace_packages=set(our_packages()))


def _all_dependencies():
    return [d for path in PACKAGE_XMLS for d in package_dependencies(path)]


def test_every_package_xml_key_resolves_for_noble(db: RosdepDatabase) -> None:
    deps = _all_dependencies()
    assert len(PACKAGE_XMLS) == 8 and len(deps) > 60
    unresolved = []
    for dep in deps:
        try:
            resolution = db.resolve(dep.key)
        except UnresolvedKey as err:
            unresolved.append(f"{dep.package} <{dep.tag}>{dep.key}: {err}")
            continue
        if resolution.installer == "apt" and resolution.source == "rosdep":
            assert resolution.packages, f"{dep.key} resolves to no package"
    assert not unresolved, "\n".join(unresolved)


def test_resolution_rules_on_known_keys(db: RosdepDatabase) -> None:
    """Each rule shape of the databases, on keys whose entries we read in the files."""
    assert db.resolve("dp_msgs").source == "workspace"
    joy = db.resolve("joy")
    assert (joy.installer, joy.packages) == ("apt", ("ros-jazzy-joy",)) and "joystick_drivers" in joy.source
    assert db.resolve("moveit_py").packages == ("ros-jazzy-moveit-py",)
    assert db.resolve("python3-numpy").packages == ("python3-numpy",)  # ubuntu: [list]
    assert db.resolve("python3-tqdm").packages == ("python3-tqdm",)  # ubuntu: {'*': [...]}
    assert db.resolve("python3-torch").packages == ("python3-torch",)  # ubuntu: {'*', bionic: null}
    mujoco = db.resolve("python3-mujoco-pip")  # ubuntu: {pip: {packages}}
    assert (mujoco.installer, mujoco.packages) == ("pip", ("mujoco",))
    assert db.resolve("python3-tensorboard-pip").installer == "pip"  # '*': {pip: ...}
    assert db.resolve("franka_bringup").source.startswith("source build")
    assert db.resolve("franka_msgs").source == "source build (franka_ros2)"  # Jazzy releases no franka_msgs
    assert db.resolve("control_msgs").packages == ("ros-jazzy-control-msgs",)  # released (ros2-gbp)


@pytest.mark.parametrize(
    "key",
    [
        "python3-zarr",
        "python3-safetensors",
        "python3-mujoco",
        "python3-tensorboard",  # the old, wrong keys
        "python3-dp-bogus-key",
        "ros_package_that_does_not_exist",
        "",
        "franka_bogus_msgs",
        "franka_ros2_bogus",  # franka-looking names are not source builds unless listed
    ],
)
def test_bogus_keys_do_not_resolve(db: RosdepDatabase, key: str) -> None:
    with pytest.raises(UnresolvedKey):
        db.resolve(key)


def test_a_package_xml_with_a_bogus_key_fails(db: RosdepDatabase, tmp_path: Path) -> None:
    xml = tmp_path / "package.xml"
    xml.write_text(
        '<?xml version="1.0"?>\n<package format="3"><name>bad_pkg</name><version>0.0.0</version>'
        "<description>x</description><maintainer email='a@b.c'>a</maintainer><license>MIT</license>"
        "<exec_depend>rclpy</exec_depend><exec_depend>python3-zarr</exec_depend></package>\n"
    )
    deps = package_dependencies(xml)
    assert [d.key for d in deps] == ["rclpy", "python3-zarr"]
    db.resolve("rclpy")
    with pytest.raises(UnresolvedKey, match="python3-zarr"):
        db.resolve(deps[1].key)


def test_launch_files_exec_depend_what_they_start() -> None:
    """Every external package the launch graph names is an exec_depend of dp_policy_node."""
    from test_bringup_launch_static import EXTERNAL

    declared = {d.key for d in package_dependencies(REPO / "src" / "dp_policy_node" / "package.xml")}
    needed = set(EXTERNAL) | {
        "launch",
        "launch_ros",
        "xacro",
        "moveit_py",
        "franka_fr3_moveit_config",
        "cartesian_motion_controller",
        "joint_trajectory_controller",
        "position_controllers",
    }
    assert not needed - declared, f"dp_policy_node/package.xml misses {sorted(needed - declared)}"


def _apt_ros_packages(text: str) -> set[str]:
    return set(re.findall(r"\bros-jazzy-[a-z0-9-]+[a-z0-9]", text))


@pytest.mark.parametrize("path", [GUIDE, DOCKERFILE], ids=lambda p: p.name)
def test_documented_apt_packages_are_released_by_jazzy(db: RosdepDatabase, path: Path) -> None:
    names = _apt_ros_packages(path.read_text())
    assert names, f"{path.name} installs no ros-jazzy-* package"
    missing = sorted(n for n in names if not db.apt_package_released(n))
    assert not missing, f"{path.name}: Jazzy releases no {missing}"
    assert not any(n.startswith("ros-jazzy-franka") for n in names), "Jazzy releases no franka_ros2"


def test_guide_skips_exactly_the_keys_pip_installs_into_the_venv(db: RosdepDatabase) -> None:
    from rosdep_resolution import skip_keys_in

    pip_keys = {d.key for d in _all_dependencies() if db.resolve(d.key).installer == "pip"}
    assert pip_keys, "no pip keys: then the guide needs no --skip-keys"
    skipped = skip_keys_in(GUIDE.read_text())
    expected = pip_keys | set(PIP_IN_VENV)
    assert skipped == expected, f"robot_bringup.md --skip-keys {sorted(skipped)} != {sorted(expected)}"
    requirements = (REPO / "requirements" / "python.txt").read_text()
    for key in expected:
        for package in PIP_IN_VENV.get(key) or db.resolve(key).packages:
            assert re.search(rf"^{re.escape(package)}\b", requirements, re.M), f"{package} ({key}) not in python.txt"


def _documented_source_packages() -> dict[str, str]:
    """The guide's table between ``<!-- source-packages`` and ``<!-- /source-packages -->``."""
    text = GUIDE.read_text()
    match = re.search(r"<!-- source-packages[^>]*-->(.*?)<!-- /source-packages -->", text, re.S)
    assert match, "robot_bringup.md has no source-packages table"
    return dict(re.findall(r"^\| `([\w-]+)` \| ([\w-]+) \|$", match.group(1), re.M))


def test_source_build_keys_are_exactly_the_documented_ones(db: RosdepDatabase) -> None:
    """A key resolves as a source build only if the guide lists it (built in its franka_ros2 workspace)."""
    from rosdep_resolution import SOURCE_PACKAGES

    documented = _documented_source_packages()
    assert documented == SOURCE_PACKAGES, f"robot_bringup.md table {documented} != SOURCE_PACKAGES {SOURCE_PACKAGES}"
    used = {d.key for d in _all_dependencies() if db.resolve(d.key).source.startswith("source build")}
    assert {"franka_bringup", "franka_msgs", "cartesian_motion_controller"} <= used <= set(documented)
    assert not set(documented) & set(db.released), "a documented source build is released by Jazzy: use apt"
    without = RosdepDatabase(ROSDISTRO, workspace_packages=set(our_packages()), source_packages={})
    with pytest.raises(UnresolvedKey, match="franka_msgs"):  # not resolvable without the source workspace
        without.resolve("franka_msgs")
    for xml in ("dp_policy_node", "dp_sim"):  # the gripper bridge and the twin's franka_gripper
        keys = {d.key for d in package_dependencies(REPO / "src" / xml / "package.xml")}
        assert "franka_msgs" in keys, xml
    assert "control_msgs" in {d.key for d in package_dependencies(REPO / "src" / "dp_sim" / "package.xml")}
