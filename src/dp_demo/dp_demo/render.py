"""Step 5 outputs: a top-down animation of one rollout (GIF) and a plot of all evaluation paths (PNG).

Drawn with matplotlib from the poses logged during evaluation (``/task_status`` block pose,
``/ee_pose`` pusher), so no OpenGL is needed. Table frame: x away from the robot, y to its left;
the plots put x up, like a camera above the table looking down with the robot at the bottom.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Circle, Polygon

from dp_demo.ros_client import Trajectory
from dp_sim.scene import SceneConfig
from dp_sim.tshape import TShape, from_frame

PUSHER_RADIUS_M = 0.015


def t_outline(shape: TShape, pose: np.ndarray) -> np.ndarray:
    """(8, 2) world xy corners of the T at planar pose (x, y, yaw), counter-clockwise."""
    (sx0, sx1, sy0, sy1), (_bx0, bx1, by0, by1) = shape.rectangles
    local = np.array([[sx0, sy0], [sx1, sy0], [sx1, by0], [bx1, by0], [bx1, by1], [sx1, by1], [sx1, sy1], [sx0, sy1]])
    return from_frame(local, pose)


def _view(xy: np.ndarray) -> np.ndarray:
    """Table (x, y) → plot (horizontal = -y, vertical = x): the robot at the bottom."""
    return np.stack([-xy[..., 1], xy[..., 0]], axis=-1)


def _axes(ax: plt.Axes, scene: SceneConfig) -> None:
    ax.add_patch(
        Polygon(
            _view(t_outline(scene.tshape, np.array(scene.target_pose))),
            closed=True,
            facecolor="#cfe8cf",
            edgecolor="#2e7d32",
            lw=1.5,
            ls="--",
            label="target",
        )
    )
    ax.set_aspect("equal")
    ax.set_xlim(-0.25, 0.25)
    ax.set_ylim(0.3, 0.72)
    ax.set_xlabel("-y (m)")
    ax.set_ylabel("x (m)")


def plot_trajectories(trajectories: list[Trajectory], successes: list[bool], path: Path, title: str) -> Path:
    """Pusher paths of every evaluation episode (green: success, red: failure) and final block poses."""
    scene = SceneConfig()
    fig, ax = plt.subplots(figsize=(6, 5.5), dpi=100)
    _axes(ax, scene)
    for traj, ok in zip(trajectories, successes, strict=True):
        a = traj.arrays()
        if not len(a["time_s"]):
            continue
        color = "#2e7d32" if ok else "#c62828"
        p = _view(a["pusher"])
        ax.plot(p[:, 0], p[:, 1], color=color, lw=1.0, alpha=0.7)
        ax.add_patch(
            Polygon(
                _view(t_outline(scene.tshape, a["block"][0])),
                closed=True,
                fill=False,
                edgecolor="#9e9e9e",
                lw=0.6,
                alpha=0.6,
            )
        )
        ax.add_patch(
            Polygon(
                _view(t_outline(scene.tshape, a["block"][-1])),
                closed=True,
                fill=False,
                edgecolor=color,
                lw=0.9,
                alpha=0.8,
            )
        )
    ax.plot([], [], color="#2e7d32", label="pusher path, success")
    ax.plot([], [], color="#c62828", label="pusher path, failure")
    ax.plot([], [], color="#9e9e9e", label="block start")
    ax.legend(loc="lower left", fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def animate(trajectory: Trajectory, success: bool, path: Path, fps: float = 10.0, max_frames: int = 200) -> Path:
    """GIF of one rollout at ``fps`` frames per sim second (real-time playback), at most ``max_frames``."""
    scene = SceneConfig()
    a = trajectory.arrays()
    if not len(a["time_s"]):
        raise ValueError(f"episode seed {trajectory.seed} logged no poses; nothing to animate")
    times = np.arange(a["time_s"][0], a["time_s"][-1] + 1e-9, 1.0 / fps)[:max_frames]
    idx = np.clip(np.searchsorted(a["time_s"], times, side="right") - 1, 0, len(a["time_s"]) - 1)
    fig, ax = plt.subplots(figsize=(4, 3.8), dpi=80)
    frames = []
    for k, i in enumerate(idx):
        ax.clear()
        _axes(ax, scene)
        trail = _view(a["pusher"][: i + 1])
        ax.plot(trail[:, 0], trail[:, 1], color="#1565c0", lw=1.0, alpha=0.6)
        ax.add_patch(
            Polygon(
                _view(t_outline(scene.tshape, a["block"][i])),
                closed=True,
                facecolor="#78909c",
                edgecolor="#37474f",
                alpha=0.9,
            )
        )
        ax.add_patch(Circle(tuple(_view(a["pusher"][i])), PUSHER_RADIUS_M, color="#1565c0"))
        done = " - success" if success and k == len(idx) - 1 else ""
        ax.set_title(
            f"seed {trajectory.seed}  t={a['time_s'][i]:4.1f} s  coverage {a['coverage'][i]:.2f}{done}", fontsize=8
        )
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())  # type: ignore[attr-defined]  # Agg
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, frames, duration=1.0 / fps, loop=0)  # type: ignore[arg-type]  # uint8 frames
    return path
