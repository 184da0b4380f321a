"""PushTSim: resets, command semantics, trajectory tracking, rejection, cameras, speed."""

import time

import numpy as np
import pytest

from dp_sim import fr3
from dp_sim.env import PushTSim, PushTSimConfig
from dp_sim.joint_trajectory import ActiveTrajectory, TrajectoryPoints, TrajectoryRejected

TRACKING_BOUND_RAD = 0.02  # max |q - q_ref| while a linear trajectory moves (corners included)
SETTLED_BOUND_RAD = 1e-3  # after the last point


@pytest.fixture(scope="module")
def sim() -> PushTSim:
    return PushTSim()


def test_reset_is_seeded_and_in_region(sim):
    poses = []
    for seed in (1, 2, 1):
        sim.reset(seed)
        poses.append(sim.block_pose())
        np.testing.assert_allclose(sim.joint_positions(), sim.ready_q)
        assert sim.episode_time_s == 0.0 and not sim.success
    np.testing.assert_allclose(poses[0], poses[2])
    assert not np.allclose(poses[0], poses[1])
    offset = poses[1] - sim.target_pose
    cfg = sim.config
    assert cfg.block_dx_range[0] <= offset[0] <= cfg.block_dx_range[1]
    assert cfg.block_dy_range[0] <= offset[1] <= cfg.block_dy_range[1]
    assert cfg.block_yaw_range[0] <= offset[2] <= cfg.block_yaw_range[1]


def test_sim_time_runs_on_across_resets(sim):
    sim.reset(0)
    sim.step(10)
    t = sim.time_ns
    sim.reset(1)
    assert sim.time_ns == t and sim.episode_time_s == 0.0


def test_block_rests_and_arm_holds_without_commands(sim):
    sim.reset(3)
    pose = sim.block_pose()
    sim.step(250)
    np.testing.assert_allclose(sim.block_pose(), pose, atol=1e-3)
    np.testing.assert_allclose(sim.joint_positions(), sim.ready_q, atol=1e-4)


def test_linear_trajectory_tracking_within_bound(sim):
    sim.reset(0)
    q0 = sim.ready_q
    q1 = q0 + np.array([0.3, 0.2, -0.2, 0.3, 0.4, -0.3, 0.5])
    q2 = q0 + np.array([-0.2, 0.1, 0.2, 0.1, -0.3, 0.2, -0.4])
    points = TrajectoryPoints(np.array([0.8, 1.6, 2.4]), np.array([q1, q2, q0]))
    start = sim.time_ns + 100_000_000
    reference = ActiveTrajectory(points, start, sim.time_ns, q0)
    sim.set_joint_trajectory(points, start)
    errors = []
    for _ in range(260):
        sim.step(5)
        errors.append(np.abs(sim.joint_positions() - reference.sample(sim.time_ns)[0]).max())
    assert max(errors) < TRACKING_BOUND_RAD
    assert errors[-1] < SETTLED_BOUND_RAD


def test_new_trajectory_replaces_old_from_now(sim):
    sim.reset(0)
    q_far = sim.ready_q + 0.3 * np.sign(fr3.Q_MAX - sim.ready_q - 0.5)
    sim.set_joint_trajectory(TrajectoryPoints(np.array([2.0]), q_far[None]), 0)
    sim.step(250)  # halfway
    mid = sim.commanded_positions()
    sim.set_joint_trajectory(TrajectoryPoints(np.array([0.5]), sim.ready_q[None]), 0)
    sim.step(1)
    assert np.abs(sim.commanded_positions() - mid).max() < 0.01  # continues from where it was
    sim.step(400)
    np.testing.assert_allclose(sim.joint_positions(), sim.ready_q, atol=SETTLED_BOUND_RAD)


@pytest.mark.parametrize(
    "times, positions, message",
    [
        ([1.0], [[0.0] * 6], "7 positions"),
        ([1.0], [[np.nan] * 7], "NaN"),
        ([1.0, 0.5], [list(fr3.FRANKA_READY_Q)] * 2, "increasing"),
        ([1.0], [[3.0, 0, 0, -1.0, 0, 1.0, 0]], "limits"),
    ],
)
def test_bad_trajectories_are_rejected(times, positions, message):
    with pytest.raises(TrajectoryRejected, match=message):
        TrajectoryPoints(np.array(times), np.array(positions))


def test_trajectory_in_the_past_is_rejected_and_arm_holds(sim):
    sim.reset(0)
    sim.step(500)
    points = TrajectoryPoints(np.array([0.1]), (sim.ready_q + 0.1)[None])
    with pytest.raises(TrajectoryRejected, match="past"):
        sim.set_joint_trajectory(points, sim.time_ns - 500_000_000)
    sim.step(100)
    np.testing.assert_allclose(sim.joint_positions(), sim.ready_q, atol=1e-4)


def test_bad_joint_targets_are_rejected_and_arm_holds(sim):
    sim.reset(0)
    for bad in ([0.0] * 6, [np.nan] * 7, fr3.Q_MAX + 0.1):
        with pytest.raises(ValueError):
            sim.set_joint_targets(np.array(bad))
    with pytest.raises(ValueError):
        sim.set_pusher_target(np.array([2.0, 0.0]))
    sim.step(100)
    np.testing.assert_allclose(sim.joint_positions(), sim.ready_q, atol=1e-4)


def test_cartesian_target_reached_at_constant_height(sim):
    sim.reset(0)
    heights = []
    for x in np.linspace(0.35, 0.45, 11):
        sim.set_pusher_target(np.array([x, 0.15 * (x - 0.35) / 0.1]))
        sim.step(50)
        heights.append(sim.ee_position()[2])
    sim.step(250)
    np.testing.assert_allclose(sim.ee_position(), [0.45, 0.15, sim.config.tip_height_m], atol=1e-3)
    assert np.ptp(heights) < 2e-3


def test_faster_than_real_time(sim):
    sim.reset(0)
    sim.set_pusher_target(np.array([0.4, 0.1]))
    start = time.perf_counter()
    sim.step(500)  # 1 s of sim time
    assert time.perf_counter() - start < 1.0


def test_config_validation():
    with pytest.raises(ValueError, match="success_coverage"):
        PushTSimConfig(success_coverage=1.5)
    with pytest.raises(ValueError, match="block_dx_range"):
        PushTSimConfig(block_dx_range=(0.2, 0.1))


def test_render_cameras(sim):
    sim.reset(0)
    try:
        top = sim.render("top", 64, 80)
    except RuntimeError as err:  # no headless GL on this machine: say which package
        pytest.skip(str(err))
    wrist = sim.render("wrist", 48, 48)
    assert top.shape == (64, 80, 3) and top.dtype == np.uint8 and wrist.shape == (48, 48, 3)
    assert top.std() > 5 and wrist.std() > 1  # a real picture, not a blank buffer
    sim.set_pusher_target(np.array([0.45, 0.2]))
    sim.step(300)
    assert np.abs(sim.render("top", 64, 80).astype(int) - top).mean() > 0.1  # the arm moved
    with pytest.raises(ValueError, match="unknown camera"):
        sim.render("nope", 8, 8)
