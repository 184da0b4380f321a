"""The demo's settings and drawings, without ROS: held-out seeds, GIF and PNG from logged poses."""

import numpy as np
import pytest

from dp_demo.render import animate, plot_trajectories, t_outline
from dp_demo.ros_client import Trajectory
from dp_demo.settings import DemoSettings
from dp_sim.tshape import TShape


def _trajectory(seed: int, n: int = 30) -> Trajectory:
    traj = Trajectory(seed)
    for i in range(n):
        traj.time_s.append(0.1 * i)
        traj.pusher.append(np.array([0.35 + 0.005 * i, 0.01 * np.sin(i / 5)]))
        traj.block.append(np.array([0.58 - 0.003 * i, 0.0, 0.3 - 0.01 * i]))
        traj.coverage.append(i / n)
    return traj


def test_evaluation_seeds_are_held_out_and_seeded():
    a, b = DemoSettings(episodes=500, eval_episodes=100), DemoSettings(episodes=500, eval_episodes=100, seed=1)
    assert not set(a.record_seeds) & set(a.eval_seeds)
    assert a.eval_seeds == DemoSettings(episodes=500, eval_episodes=100).eval_seeds
    assert a.eval_seeds != b.eval_seeds and not set(b.record_seeds) & set(b.eval_seeds)
    with pytest.raises(ValueError, match="eval_episodes"):
        DemoSettings(eval_episodes=0)


def test_t_outline_matches_the_shape_area():
    shape = TShape()
    xy = t_outline(shape, np.array([0.4, 0.1, 0.7]))
    area = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], 1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], 1)))
    assert area == pytest.approx(shape.area)


def test_animation_and_plot_are_written(tmp_path):
    trajs = [_trajectory(1), _trajectory(2, 12)]
    gif = animate(trajs[0], True, tmp_path / "rollout.gif", fps=10)
    png = plot_trajectories(trajs, [True, False], tmp_path / "plot.png", "test")
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no poses"):
        animate(Trajectory(3), False, tmp_path / "empty.gif")
