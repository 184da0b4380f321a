"""Robot profiles (``config/robots/*.yaml``) read as the launch files and the tests see them.

Pure Python (no ``launch`` import), so the tests can check a profile's blocks against what each
node declares and what the launch files override. Robot profiles are ordinary ROS parameter
files: one block per node (``<node>: ros__parameters: ...``), with namespaces as nesting
(``camera: front: ros__parameters:`` is the node ``/camera/front``). Every node of a graph gets
the whole profile as its ``--params-file`` and picks its own block by fully qualified name.
Blocks under ``/camera/`` are RealSense cameras (one ``realsense2_camera_node`` each, model by
``device_type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dp_policy_node.realsense_models import CAMERA_NAMESPACE, camera_blocks, camera_model

ROBOT_PROFILE = "config/robots/fr3_realsense.yaml"  # relative to the share directory (and the repo root)
SIM_PROFILE = "config/robots/sim.yaml"


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested YAML parameters → dotted names (``joint_limits: {names: []}`` → ``joint_limits.names``)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def node_blocks(document: Mapping[str, Any], namespace: str = "") -> dict[str, dict[str, Any]]:
    """A ROS parameter YAML document → ``{fully qualified node name: {dotted param: value}}``."""
    blocks: dict[str, dict[str, Any]] = {}
    for key, value in document.items():
        if not isinstance(value, Mapping):
            raise ValueError(f"'{namespace}/{key}' is not a node block or a namespace (a mapping)")
        fqn = f"{namespace}/{key}"
        if "ros__parameters" in value:
            extra = set(value) - {"ros__parameters"}
            if extra:
                raise ValueError(f"node block {fqn} has keys besides ros__parameters: {sorted(extra)}")
            blocks[fqn] = flatten(value["ros__parameters"] or {})
        else:
            blocks.update(node_blocks(value, fqn))
    return blocks


def load_profile(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a robot profile / parameter file (see :func:`node_blocks`)."""
    import yaml

    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f) or {}
    return node_blocks(document)


def camera_topics(profile: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """``{camera name: {"image": topic, "camera_info": topic}}`` as realsense2_camera publishes them."""
    topics = {}
    for name, block in camera_blocks(profile).items():
        base = f"/{CAMERA_NAMESPACE}/{name}"
        topics[name] = {
            "image": f"{base}/{camera_model(name, block).image_topic}",
            "camera_info": f"{base}/color/camera_info",
        }
    return topics
