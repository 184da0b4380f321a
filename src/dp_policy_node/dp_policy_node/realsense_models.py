"""RealSense models as realsense2_camera (realsense-ros 4.5x, ROS 2 Jazzy) configures and names them.

Pure Python (no ROS): the launch graph (dp_policy_node.launch_graph), the profile reader
(dp_policy_node.launch_profiles) and the profile tests use it.
Upstream facts (realsenseai/realsense-ros, realsense2_camera): ``launch/rs_launch.py`` declares
``rgb_camera.color_profile`` ("color stream profile") and ``depth_module.color_profile`` ("Depth
module color stream profile for d405"); ``src/rs_node_setup.cpp`` (startPublishers) names a
stream's image ``~/<stream>/image_rect_raw`` when its sensor is a depth sensor, else
``~/<stream>/image_raw``, and its camera_info ``~/<stream>/camera_info``; ``device_type`` selects the
device whose name matches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CAMERA_NAMESPACE = "camera"


@dataclass(frozen=True)
class RealSenseModel:
    """What a RealSense model's colour stream is called (realsense-ros 4.5x, realsense2_camera).

    The D405 has no RGB module: its colour stream comes from the depth module
    (``depth_module.color_profile``), and realsense-ros names images of depth-module streams
    ``image_rect_raw`` (rs_node_setup.cpp startPublishers: rectified when the sensor is a depth
    sensor); D435/D455 colour comes from ``rgb_camera`` as ``color/image_raw``. camera_info is
    ``<node>/color/camera_info`` for both.
    """

    profile_param: str
    foreign_prefixes: tuple[str, ...]  # parameters this model ignores silently (another module's colour)
    image_topic: str


REALSENSE_MODELS = {
    "d405": RealSenseModel("depth_module.color_profile", ("rgb_camera.",), "color/image_rect_raw"),
    "d435": RealSenseModel("rgb_camera.color_profile", ("depth_module.color_",), "color/image_raw"),
    "d435i": RealSenseModel("rgb_camera.color_profile", ("depth_module.color_",), "color/image_raw"),
    "d455": RealSenseModel("rgb_camera.color_profile", ("depth_module.color_",), "color/image_raw"),
}


def camera_blocks(
    profile: Mapping[str, Mapping[str, Any]], namespace: str = CAMERA_NAMESPACE
) -> dict[str, Mapping[str, Any]]:
    """``{camera name: block}`` of the ``/<namespace>/<name>`` blocks of a profile."""
    prefix = f"/{namespace}/"
    return {
        fqn[len(prefix) :]: block
        for fqn, block in sorted(profile.items())
        if fqn.startswith(prefix) and fqn.count("/") == 2
    }


def camera_model(name: str, block: Mapping[str, Any]) -> RealSenseModel:
    """The model of camera ``name`` (its ``device_type``); a block setting another model's
    colour parameters is an error (realsense2_camera would ignore them silently)."""
    device = str(block.get("device_type", "")).lower()
    if device not in REALSENSE_MODELS:
        raise ValueError(
            f"camera {name}: device_type '{device}' is not one of {sorted(REALSENSE_MODELS)} "
            "(the colour stream's parameters and topic depend on the model)"
        )
    model = REALSENSE_MODELS[device]
    if model.profile_param not in block:
        raise ValueError(f"camera {name} ({device}): set {model.profile_param} (\"width,height,fps\")")
    wrong = sorted(k for k in block if k.startswith(model.foreign_prefixes))
    if wrong:
        raise ValueError(
            f"camera {name} ({device}) takes its colour from {model.profile_param.split('.')[0]}: "
            f"{wrong} would be ignored silently"
        )
    return model
