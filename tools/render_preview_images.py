"""Render the README pictures of the plan preview and of shadow mode from a real run (no RViz here).

    . tools/env.sh && python tools/render_preview_images.py   # writes docs/images/plan_preview.png, shadow_report.png

Both come from dp_sim's FR3 twin composed in lockstep with chunk_executor_node and plan_preview_node
(the pose graph is dp_demo.preview_graph, which test_node_plan_preview_shadow.py checks): what is drawn is what dp/preview/* and dp/shadow/*
carried, as matplotlib draws it instead of RViz.

1. Pose mode: chunk 1 (along +x) is superseded after 0.5 s by chunk 2 (along +y); the picture is the
   last MarkerArray (points coloured executed / pending / discarded) over the arm's measured path.
2. Shadow mode, joint position stream: the arm stands still while the executor "moves" joint 1;
   the shadow commands, the measured joint and each chunk's dp/shadow/report.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from visualization_msgs.msg import Marker, MarkerArray

from dp_core.control.action_chunk import ActionChunkData
from dp_core.control.plan_preview import STATE_COLORS, STATE_NAMES
from dp_demo.preview_graph import POSE_NAMES, add_pose_preview
from dp_msgs.msg import ActionChunk, PolicyStatus, ShadowReport
from dp_policy_node.chunk_executor_node import ChunkExecutorNode
from dp_policy_node.conversions import chunk_to_msg
from dp_sim import fr3
from dp_sim.interfaces import FRANKA
from dp_sim.lockstep import Lockstep

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
POSE = list(POSE_NAMES)
JOINTS = list(fr3.JOINT_NAMES)


def run(ls: Lockstep, status, ticks: int, active: bool = True) -> None:
    for k in range(ticks):
        if k % 100 == 0:
            status.publish(PolicyStatus(lifecycle_state="active" if active else "inactive"))
        ls.tick()


def send(ls: Lockstep, node: Node, pub, seq: int, names: list[str], actions: np.ndarray) -> None:
    now = node.get_clock().now().nanoseconds
    pub.publish(chunk_to_msg(ActionChunkData(now, now, 0.1, names, actions.astype(np.float32), len(actions), seq)))
    ls.settle()


def preview_picture(path: Path) -> None:
    with Lockstep() as ls:
        add_pose_preview(ls)
        node = ls.add(Node, "picture_probe")
        poses: list[PoseStamped] = []
        markers: list[MarkerArray] = []
        best_effort = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(PoseStamped, FRANKA.ee_pose, poses.append, best_effort)
        node.create_subscription(MarkerArray, "dp/preview/markers", markers.append, 10)
        chunks = node.create_publisher(ActionChunk, "dp/action_chunk", 10)
        status = node.create_publisher(PolicyStatus, "dp/policy_status", 10)
        run(ls, status, 50)
        p = poses[-1].pose
        start = np.array([p.position.x, p.position.y, p.position.z, *(getattr(p.orientation, a) for a in "xyzw")])
        t = np.arange(12) * 0.1
        first = np.tile(start, (12, 1))
        first[:, 0] += 0.06 * t
        send(ls, node, chunks, 1, POSE, first)
        n0 = len(poses)
        run(ls, status, 500)
        p = poses[-1].pose
        second = np.tile([p.position.x + 0.01, p.position.y, *start[2:]], (12, 1))
        second[:, 1] += 0.06 * t
        send(ls, node, chunks, 2, POSE, second)
        run(ls, status, 600)
        measured = np.array([[m.pose.position.x, m.pose.position.y] for m in poses[n0:]])
        last = markers[-1]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    ax.plot(measured[:, 0], measured[:, 1], color="0.25", lw=1.2, label="measured end effector (/ee_pose)")
    for m in last.markers:
        if m.type == Marker.SPHERE_LIST and m.points:
            xy = np.array([[q.x, q.y] for q in m.points])
            colors = [(c.r, c.g, c.b, c.a) for c in m.colors]
            ax.plot(xy[:, 0], xy[:, 1], color="0.7", lw=0.8, zorder=1)
            ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=36, zorder=2, edgecolors="none")
    texts = [m.text for m in last.markers if m.type == Marker.TEXT_VIEW_FACING and m.text]
    ax.text(0.98, 0.5, "\n".join(texts), transform=ax.transAxes, ha="right", va="center", fontsize=7)
    for state, name in enumerate(STATE_NAMES):
        ax.scatter([], [], color=STATE_COLORS[state], s=36, label=f"chunk action: {name}")
    ax.set(
        xlabel="x in fr3_link0 (m)", ylabel="y (m)", title="dp/preview/markers: chunk 2 superseded chunk 1 after 0.5 s"
    )
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.85))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def shadow_picture(path: Path) -> None:
    with Lockstep() as ls:
        ls.add_sim(interface="franka", physics_timestep_s=0.001, control_period_s=0.001)
        ls.add(
            ChunkExecutorNode,
            action_names=JOINTS,
            output_mode="position",
            shadow=True,
            command_topic=FRANKA.positions,
            control_rate_hz=250.0,
            **{
                "joint_limits.position_min": fr3.Q_MIN.tolist(),
                "joint_limits.position_max": fr3.Q_MAX.tolist(),
                "joint_limits.velocity_max": [1.0] * 7,
                "joint_limits.acceleration_max": [5.0] * 7,
            },
        )
        node = ls.add(Node, "picture_probe")
        q: list[tuple[float, np.ndarray]] = []
        shadow: list[tuple[float, float]] = []
        reports: list[tuple[float, ShadowReport]] = []
        node.create_subscription(
            JointState, FRANKA.joint_states, lambda m: q.append((ls.time_s, np.array(m.position[:7]))), 50
        )
        node.create_subscription(
            Float64MultiArray, "dp/shadow/commands", lambda m: shadow.append((ls.time_s, m.data[0])), 10
        )
        node.create_subscription(ShadowReport, "dp/shadow/report", lambda m: reports.append((ls.time_s, m)), 10)
        chunks = node.create_publisher(ActionChunk, "dp/action_chunk", 10)
        status = node.create_publisher(PolicyStatus, "dp/policy_status", 10)
        run(ls, status, 50)
        start = q[-1][1]
        t = np.arange(16)[:, None] * 0.1
        send(ls, node, chunks, 1, JOINTS, start + 0.4 * t * np.eye(7)[0])
        run(ls, status, 400)
        send(ls, node, chunks, 2, JOINTS, start + (0.16 - 0.3 * t) * np.eye(7)[0])
        run(ls, status, 500)
        run(ls, status, 400, active=False)
    qa, sa = np.array([(t_q, v[0]) for t_q, v in q]), np.array(shadow)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    ax.plot(sa[:, 0], sa[:, 1], color=STATE_COLORS[1], lw=1.5, label="dp/shadow/commands (joint 1)")
    ax.plot(qa[:, 0], qa[:, 1], color="0.25", lw=1.2, label="measured joint 1 (/joint_states): the arm stands still")
    lines = []
    for t_r, r in reports:
        ax.axvline(t_r, color="0.6", lw=0.8, ls="--")
        lines.append(
            f"dp/shadow/report at {t_r:.2f} s, chunk {r.sequence}: max {r.max_distance:.3f} {r.unit}, "
            f"mean {r.mean_distance:.3f} {r.unit}, {r.samples} ticks"
        )
    ax.text(0.02, 0.97, "\n".join(lines), transform=ax.transAxes, ha="left", va="top", fontsize=7)
    ax.set_ylim(top=float(sa[:, 1].max()) * 1.35)
    ax.set(xlabel="sim time (s)", ylabel="fr3_joint1 (rad)", title="shadow:=true: what the executor would have sent")
    ax.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    preview_picture(OUT / "plan_preview.png")
    shadow_picture(OUT / "shadow_report.png")
    print(f"wrote {OUT / 'plan_preview.png'} and {OUT / 'shadow_report.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
