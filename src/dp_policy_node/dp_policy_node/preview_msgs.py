"""dp_core plan previews → RViz messages (nav_msgs/Path, visualization_msgs/MarkerArray).

Marker layout (namespace ``dp_preview``): per kept chunk slot ``k`` (0: the one before, 1: the
latest) a LINE_STRIP (id ``3k``) and a SPHERE_LIST (id ``3k+1``) of the end-effector positions,
one colour per point from its state (dp_core ``STATE_COLORS``: executed green, pending blue,
discarded faded red), and a TEXT_VIEW_FACING (id ``3k+2``) with the counts. Joint actions have
no positions without a kinematic model: their slots carry only the text; the ghost arm
(robot_state_publisher on the preview joint state) shows where the chunk ends.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point
from nav_msgs.msg import Path
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from dp_core.control.layout import ActionLayout
from dp_core.control.plan_preview import DISCARDED, EXECUTED, PENDING, STATE_COLORS, ChunkPreview, pose_vectors
from dp_policy_node.conversions import duration_from_s, ns_to_time, pose_to_msg

NAMESPACE = "dp_preview"
MARKER_LIFETIME_S = 2.0  # a silent preview node's markers fade out of RViz


def chunk_poses(preview: ChunkPreview, pose_defaults: Sequence[float]) -> np.ndarray | None:
    """(H, 7) end-effector poses of a chunk with Cartesian actions, None for joint actions."""
    layout = ActionLayout.from_names(preview.action_names)
    if not layout.position:
        return None
    return pose_vectors(preview.actions, layout, pose_defaults)


def path_msg(preview: ChunkPreview, poses: np.ndarray, frame_id: str, stamp_ns: int) -> Path:
    msg = Path()
    msg.header.stamp, msg.header.frame_id = ns_to_time(stamp_ns), frame_id
    msg.poses = [pose_to_msg(p, int(t), frame_id) for p, t in zip(poses, preview.times_ns, strict=True)]
    return msg


def _color(state: int) -> ColorRGBA:
    r, g, b, a = STATE_COLORS[state]
    return ColorRGBA(r=r, g=g, b=b, a=a)


def _marker(kind: int, marker_id: int, frame_id: str, stamp_ns: int) -> Marker:
    m = Marker(type=kind, id=marker_id, ns=NAMESPACE, action=Marker.ADD)
    m.header.stamp, m.header.frame_id = ns_to_time(stamp_ns), frame_id
    m.pose.orientation.w = 1.0
    m.lifetime = duration_from_s(MARKER_LIFETIME_S)
    return m


def summary(preview: ChunkPreview) -> str:
    return (
        f"chunk {preview.sequence}: executed {preview.count(EXECUTED)}, pending {preview.count(PENDING)}, "
        f"discarded {preview.count(DISCARDED)}"
    )


def markers_msg(
    previews: Sequence[ChunkPreview], pose_defaults: Sequence[float], frame_id: str, stamp_ns: int
) -> MarkerArray:
    """The kept chunks (oldest first, at most 2 shown) as markers; see the module doc."""
    out = MarkerArray()
    kept = list(previews)[-2:]
    slots: list[ChunkPreview | None] = [None] * (2 - len(kept))
    slots.extend(kept)
    for k, preview in enumerate(slots):
        base = 3 * k
        if preview is None:
            for i in range(3):
                out.markers.append(Marker(ns=NAMESPACE, id=base + i, action=Marker.DELETE))
            continue
        poses = chunk_poses(preview, pose_defaults)
        text = _marker(Marker.TEXT_VIEW_FACING, base + 2, frame_id, stamp_ns)
        text.text, text.scale.z, text.color = summary(preview), 0.03, _color(EXECUTED if k else DISCARDED)
        if poses is None:
            text.pose.position.z = 1.2 + 0.05 * k
            out.markers.append(text)
            continue
        points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in poses]
        colors = [_color(int(s)) for s in preview.states]
        line = _marker(Marker.LINE_STRIP, base, frame_id, stamp_ns)
        line.points, line.colors, line.scale.x = points, colors, 0.004
        spheres = _marker(Marker.SPHERE_LIST, base + 1, frame_id, stamp_ns)
        spheres.points, spheres.colors = points, colors
        spheres.scale.x = spheres.scale.y = spheres.scale.z = 0.012
        text.pose.position = Point(x=points[-1].x, y=points[-1].y, z=points[-1].z + 0.04)
        out.markers += [line, spheres, text]
    return out
