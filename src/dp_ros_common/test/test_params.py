"""dp_ros_common.params: declared with descriptors, overrides win, empty lists need a type."""

import pytest
from rclpy.node import Node
from rclpy.parameter import Parameter

from dp_ros_common.params import Param, declare, declare_all

pytestmark = pytest.mark.ros

PARAMS = (
    Param("rate_hz", 10.0, "rate, Hz"),
    Param("names", ["a", "b"], "names"),
    Param("topics", [], "topics", array_type=Parameter.Type.STRING_ARRAY),
    Param("fixed", 3, "read-only", read_only=True),
)


def test_defaults_overrides_and_descriptors(ros_context) -> None:
    node = Node(
        "params_probe",
        context=ros_context,
        parameter_overrides=[Parameter("rate_hz", value=20.0), Parameter("topics", value=["/x"])],
    )
    try:
        values = declare_all(node, PARAMS)
        assert values == {"rate_hz": 20.0, "names": ["a", "b"], "topics": ["/x"], "fixed": 3}
        assert node.describe_parameter("rate_hz").description == "rate, Hz"
        assert node.describe_parameter("fixed").read_only
        assert declare(node, PARAMS[0]) == 20.0  # idempotent: a second declaration reads the value
        assert not node.set_parameters([Parameter("fixed", value=4)])[0].successful
    finally:
        node.destroy_node()


def test_an_empty_list_default_needs_its_element_type(ros_context) -> None:
    node = Node("params_probe_empty", context=ros_context)
    try:
        with pytest.raises(ValueError, match="array_type"):
            declare(node, Param("topics", [], "topics"))
        assert declare(node, PARAMS[2]) == []
    finally:
        node.destroy_node()
