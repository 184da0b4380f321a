"""Each robot profile states the FR3's joint list and limits once, and no two blocks disagree.

Within a profile (config/robots/*.yaml) the arm's joints are one YAML anchor that the node blocks
refer to; this test reads the profiles (and the package's dp_policy.yaml, an FR3 example that
cannot alias: it is handed to rcl as is) and fails when the observation's joint list, the policy's
and the executor's action names, the ready pose's joints, the executor's limit vectors or the
recorded camera topics disagree, and when an FR3 file's limits differ from the FR3 profile's or
leave franka_description's ``robots/fr3/joint_limits.yaml`` (frankaemika/franka_description).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from bringup_workspace import PROFILES, REPO

FR3_ARM = [f"fr3_joint{i}" for i in range(1, 8)]
# franka_description robots/fr3/joint_limits.yaml: lower, upper (rad), velocity (rad/s)
FR3_POSITION_MIN = [-2.7437, -1.7837, -2.9007, -3.0421, -2.8065, 0.5445, -3.0159]
FR3_POSITION_MAX = [2.7437, 1.7837, 2.9007, -0.1518, 2.8065, 4.5169, 3.0159]
POSITION_MARGIN_RAD = 0.05  # the profiles' executor position limits stay this far inside
FR3_VELOCITY_MAX = [2.62, 2.62, 2.62, 2.62, 5.26, 4.18, 5.26]
FR3_FILES = [REPO / "config/robots/fr3_realsense.yaml", REPO / "config/robots/sim.yaml"]
DP_POLICY = REPO / "src/dp_policy_node/config/dp_policy.yaml"


def _params(profile: dict[str, Any], node: str) -> dict[str, Any]:
    return (profile.get(node) or {}).get("ros__parameters") or {}


def disagreements(profile: dict[str, Any]) -> list[str]:
    """What two blocks of one profile (node name → block) state differently."""
    problems = []
    obs = _params(profile, "observation_node")
    lists = {
        "observation_node.joint_state.joint_names": (obs.get("joint_state") or {}).get("joint_names"),
        "policy_node.action_names": _params(profile, "policy_node").get("action_names"),
        "chunk_executor_node.action_names": _params(profile, "chunk_executor_node").get("action_names"),
        "ready_pose_node.joint_names": _params(profile, "ready_pose_node").get("joint_names"),
    }
    arm = {k: v for k, v in lists.items() if v and all(str(n).startswith("fr3_joint") for n in v)}
    if len({tuple(v) for v in arm.values()}) > 1:
        problems.append(f"joint lists differ: {arm}")
    executor = _params(profile, "chunk_executor_node")
    limits = executor.get("joint_limits") or {}
    joints = [n for n in (limits.get("names") or executor.get("action_names") or []) if "finger" not in str(n)]
    for key in ("position_min", "position_max", "velocity_max", "acceleration_max"):
        values = limits.get(key) or []
        if values and len(values) != len(joints):
            problems.append(f"joint_limits.{key} has {len(values)} values for {len(joints)} joints {joints}")
    recorded = set(_params(profile, "recorder").get("topics") or [])
    if recorded:
        observed = {c.get("topic") for c in (obs.get("cameras") or {}).values()}
        missing = sorted(t for t in observed - recorded if t)
        if missing:
            problems.append(f"the observation node's camera topics {missing} are not recorded")
    return problems


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_no_two_blocks_of_a_profile_disagree(path: Path) -> None:
    profile = _load(path)
    assert not disagreements(profile), f"{path.name}: {disagreements(profile)}"


@pytest.mark.parametrize("path", FR3_FILES, ids=lambda p: p.name)
def test_the_fr3_joint_list_is_written_once(path: Path) -> None:
    text = path.read_text()
    assert text.count("fr3_joint1, fr3_joint2, fr3_joint3") == 1, "define the joint list once (&fr3_joints)"
    assert text.count("*fr3_joints") >= 2


def test_the_check_fails_on_a_disagreeing_block() -> None:
    profile = _load(FR3_FILES[0])
    broken = copy.deepcopy(profile)
    broken["chunk_executor_node"]["ros__parameters"]["action_names"] = FR3_ARM[:6]  # an independent copy
    assert any("joint lists differ" in p for p in disagreements(broken))
    broken = copy.deepcopy(profile)
    broken["chunk_executor_node"]["ros__parameters"]["joint_limits"]["velocity_max"] = [1.0] * 6
    assert any("velocity_max has 6 values" in p for p in disagreements(broken))
    broken = copy.deepcopy(profile)
    broken["observation_node"]["ros__parameters"]["cameras"]["front"]["topic"] = "/camera/front/other"
    assert any("not recorded" in p for p in disagreements(broken))


@pytest.mark.parametrize("path", [*FR3_FILES, DP_POLICY], ids=lambda p: p.name)
def test_fr3_limits_agree_across_files_and_stay_within_franka_description(path: Path) -> None:
    reference = _params(_load(FR3_FILES[0]), "chunk_executor_node")["joint_limits"]
    limits = _params(_load(path), "chunk_executor_node")["joint_limits"]
    for key in ("position_min", "position_max", "velocity_max", "acceleration_max"):
        assert limits[key] == reference[key], f"{path.name}: joint_limits.{key} differs from fr3_realsense.yaml"
    # inside the hard limits by a margin: the arm tracks the executor's targets with some error, and
    # libfranka aborts (joint_position_limits_violation) the moment a joint reaches a hard limit
    margin = [lo - hard for lo, hard in zip(reference["position_min"], FR3_POSITION_MIN, strict=True)]
    margin += [hard - hi for hi, hard in zip(reference["position_max"], FR3_POSITION_MAX, strict=True)]
    assert min(margin) >= POSITION_MARGIN_RAD - 1e-9, f"position limits {margin} rad inside franka_description's"
    assert all(0 < v <= vmax for v, vmax in zip(reference["velocity_max"], FR3_VELOCITY_MAX, strict=True))
    actions = _params(_load(path), "policy_node")["action_names"]
    assert actions == FR3_ARM, f"{path.name}: policy actions {actions}"
