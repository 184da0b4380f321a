"""Declaring ROS parameters with descriptors in one place per node.

Each node lists its parameters as ``Param`` rows (name, default, description with units) and
reads them all with ``declare_all``; the values then build a dataclass config whose
``ValueError`` the node reports (a lifecycle FAILURE, or a clean exit).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter


@dataclass(frozen=True)
class Param:
    """One parameter: ``name``, ``default`` (its type is the parameter's type) and ``description``.

    Empty lists need ``array_type`` (``Parameter.Type.STRING_ARRAY`` etc.) since their element
    type cannot be inferred.
    """

    name: str
    default: Any
    description: str
    array_type: Parameter.Type | None = None
    read_only: bool = False


def declare(node: Node, param: Param) -> Any:
    """Declare one parameter (idempotent) and return its value (override or default)."""
    descriptor = ParameterDescriptor(description=param.description, read_only=param.read_only)
    if not node.has_parameter(param.name):
        if isinstance(param.default, (list, tuple)) and not param.default:
            if param.array_type is None:
                raise ValueError(f"parameter '{param.name}' has an empty list default: give array_type")
            node.declare_parameter(param.name, param.array_type, descriptor)
        else:
            node.declare_parameter(param.name, param.default, descriptor)
    try:
        value = node.get_parameter(param.name).value
    except ParameterUninitializedException:
        return type(param.default)()
    if isinstance(param.default, (list, tuple)):
        return list(value)
    return value


def declare_all(node: Node, params: Iterable[Param]) -> dict[str, Any]:
    """Declare every row and return ``{name: value}``."""
    return {p.name: declare(node, p) for p in params}
