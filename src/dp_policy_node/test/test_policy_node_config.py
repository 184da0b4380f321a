"""The shipped YAML: every parameter is declared by its node and vice versa; bad values fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.context import Context

from dp_core.spec import parse_obs_specs, spec_mismatch
from dp_policy_node.bringup import create_nodes
from dp_policy_node.graph import GRAPH, PARAMS_FILE
from dp_policy_node.tiny_policy import tiny_spec

pytestmark = pytest.mark.ros
YAML = Path(__file__).resolve().parents[1] / PARAMS_FILE


def flatten(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            keys |= flatten(value, f"{prefix}{key}.")
        else:
            keys.add(prefix + key)
    return keys


@pytest.fixture
def yaml_context():
    import os

    ctx = Context()
    rclpy.init(
        context=ctx, args=["test", "--ros-args", "--params-file", str(YAML)], domain_id=int(os.environ["ROS_DOMAIN_ID"])
    )
    yield ctx
    rclpy.shutdown(context=ctx)


def test_yaml_and_declared_parameters_agree(yaml_context):
    tree = yaml.safe_load(YAML.read_text())
    assert set(tree) == {e.name for e in GRAPH}
    nodes = create_nodes(yaml_context)
    try:
        for node in nodes:
            in_yaml = flatten(tree[node.get_name()]["ros__parameters"])
            declared = set(node._parameters) - {"use_sim_time", "start_type_description_service"}
            assert in_yaml == declared, (
                f"{node.get_name()}: only in YAML {in_yaml - declared}, only declared {declared - in_yaml}"
            )
    finally:
        for node in nodes:
            node.destroy_node()


def test_invalid_executor_parameters_name_the_value(ros_context):
    from rclpy.parameter import Parameter

    from dp_policy_node.chunk_executor_node import ChunkExecutorNode

    with pytest.raises(ValueError, match="output_mode must be one of"):
        ChunkExecutorNode(
            context=ros_context,
            parameter_overrides=[Parameter("action_names", value=["j1"]), Parameter("output_mode", value="teleport")],
        )


def test_spec_mismatch_says_what_differs():
    spec = tiny_spec(cameras={"front": (48, 64)})
    assert spec_mismatch(spec, parse_obs_specs(["front", "joint_pos"], ["3x48x64", "3"]), ("j1", "j2", "j3")) == []
    problems = spec_mismatch(spec, parse_obs_specs(["wrist", "joint_pos"], ["3x48x64", "7"]), ("a", "b", "c"))
    text = "\n".join(problems)
    assert "checkpoint needs observation 'front'" in text and "'wrist' is not an input" in text
    assert "observation 'joint_pos': checkpoint low_dim (3,), configured low_dim (7,)" in text
    assert "action names" in text
    with pytest.raises(ValueError, match="shape 'big' is not like"):
        parse_obs_specs(["front"], ["big"])


def _values_of(tree: object, name: str) -> list[object]:
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == name] + [x for v in tree.values() for x in _values_of(v, name)]
    return []


def test_precision_is_fp32_by_default_everywhere():
    """Reproducible numerics by default: the node, its config class and every shipped profile say fp32."""
    from dp_policy_node.chunk_producer import ChunkProducerConfig
    from dp_policy_node.policy_node import PARAMS

    assert {p.name: p.default for p in PARAMS}["precision"] == "fp32"
    assert ChunkProducerConfig(checkpoint_path="x").precision == "fp32"
    root = Path(__file__).resolve().parents[3]
    files = [YAML, *sorted((root / "config").glob("*/*.yaml"))]
    found = {f.relative_to(root).as_posix(): _values_of(yaml.safe_load(f.read_text()), "precision") for f in files}
    assert sum(len(v) for v in found.values()) >= 5, found  # dp_policy, two robot and two demo profiles
    assert all(v == ["fp32"] for v in found.values() if v), found
