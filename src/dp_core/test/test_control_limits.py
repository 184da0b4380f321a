"""Limits: validation, named violations, and a limiter that never outputs a violating command."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from dp_core.control.interpolation import quaternion_angle
from dp_core.control.layout import ActionLayout
from dp_core.control.limits import (
    CartesianLimits,
    JointLimits,
    LimitSet,
    check_trajectory,
)
from dp_core.control.motion_limiter import MotionLimiter, limit_trajectory

NAMES = ("j1", "j2", "gripper")
PERIOD = 0.004


def joint_limits(acc=(20.0, 20.0, 50.0)) -> JointLimits:
    return JointLimits(NAMES, [-2.0, -1.0, 0.0], [2.0, 1.0, 0.08], [1.0, 2.0, 0.2], acc)


def limit_set(**kw) -> LimitSet:
    return LimitSet(ActionLayout.from_names(NAMES), joint_limits(**kw), max_step_from_measured=0.1)


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match="position_min must be < position_max"):
        JointLimits(("a",), [1.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="velocity_max"):
        JointLimits(("a",), [0.0], [1.0], [np.inf])
    with pytest.raises(ValueError, match="velocity_max must be 2 numbers"):
        JointLimits(("a", "b"), [0.0], [1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="box_min must be < box_max"):
        CartesianLimits([0, 0, 0], [1, 1, 0], 0.5, 1.0)
    with pytest.raises(ValueError, match="max_angular_speed"):
        CartesianLimits([0, 0, 0], [1, 1, 1], 0.5, 0.0)
    with pytest.raises(ValueError, match="joint limits missing for joints \\['j3'\\]"):
        LimitSet(ActionLayout.from_names(["j1", "j3"]), joint_limits())
    # one number broadcasts to all joints; the subset follows the action order
    lim = JointLimits(("a", "b"), -1.0, 1.0, [1.0, 2.0]).subset(["b", "a"])
    assert lim.names == ("b", "a") and lim.velocity_max.tolist() == [2.0, 1.0]


def test_feasible_trajectory_passes_unchanged():
    t = np.arange(200) * PERIOD
    traj = np.stack([0.5 * np.sin(t), 0.3 * np.cos(2 * t) - 0.3, 0.04 + 0.01 * np.sin(t)], axis=1)
    limits = limit_set()
    assert check_trajectory(limits, traj, PERIOD) == []
    v0 = (traj[1] - traj[0]) / PERIOD  # moving already: starting from rest would break the acceleration limit
    np.testing.assert_allclose(
        limit_trajectory(limits, traj[1:], PERIOD, start=traj[0], start_velocity=v0), traj[1:], atol=1e-12
    )


def test_violations_are_named():
    limits = limit_set()
    traj = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [2.5, 0.0, 0.0]])
    found = check_trajectory(limits, traj, PERIOD, measured=np.array([0.5, 0.0, 0.0]))
    kinds = {(v.kind, v.name) for v in found}
    assert ("position above maximum", "j1") in kinds
    assert ("velocity", "j1") in kinds and ("acceleration", "j1") in kinds
    assert ("step from measured state", "j1") in kinds
    assert all(v.name != "j2" for v in found)
    assert "exceeds" in str(found[0])


def test_step_to_far_target_is_rate_limited_and_stops_at_bounds():
    limits = limit_set()
    target = np.tile([5.0, -5.0, 1.0], (1500, 1))  # far outside the position limits
    out = limit_trajectory(limits, target, PERIOD, start=np.zeros(3))
    assert check_trajectory(limits, out, PERIOD, start=np.zeros(3), start_velocity=np.zeros(3)) == []
    np.testing.assert_allclose(out[-1], [2.0, -1.0, 0.08], atol=1e-9)


def test_no_overshoot_when_catching_up_with_a_target():
    limits = limit_set()
    target = np.tile([1.0, 0.0, 0.0], (800, 1))
    out = limit_trajectory(limits, target, PERIOD, start=np.zeros(3))
    assert out[:, 0].max() <= 1.0 + 1e-9
    assert out[-1, 0] == pytest.approx(1.0)


def cart_set() -> LimitSet:
    lay = ActionLayout.from_names(("x", "y", "z", "qx", "qy", "qz", "qw"))
    return LimitSet(lay, cartesian=CartesianLimits([-0.5, -0.5, 0.0], [0.5, 0.5, 0.8], 0.25, 1.0))


def test_cartesian_box_and_speeds():
    limits = cart_set()
    start = np.array([0, 0, 0.4, 0, 0, 0, 1.0])
    far = np.concatenate([[3.0, 0.0, 0.4], Rotation.from_euler("z", 170, degrees=True).as_quat()])
    out = limit_trajectory(limits, np.tile(far, (2000, 1)), PERIOD, start=start)
    steps = np.linalg.norm(np.diff(np.vstack([start, out])[:, :3], axis=0), axis=1)
    assert steps.max() <= 0.25 * PERIOD + 1e-12
    assert out[:, 0].max() <= 0.5 + 1e-12
    angles = [quaternion_angle(a[3:], b[3:]) for a, b in zip(np.vstack([start, out])[:-1], out, strict=True)]
    assert max(angles) <= 1.0 * PERIOD + 1e-9
    assert quaternion_angle(out[-1, 3:], far[3:]) < 1e-6
    assert check_trajectory(limits, out, PERIOD, start=start) == []
    kinds = {v.kind for v in check_trajectory(limits, np.tile(far, (2, 1)), PERIOD, start=start)}
    assert {"workspace above box_max", "linear speed", "angular speed"} <= kinds


def test_planar_cartesian_limits_use_the_box_x_and_y():
    limits = LimitSet(
        ActionLayout.from_names(("x", "y")), cartesian=CartesianLimits([0.25, -0.3, 0.0], [0.75, 0.3, 0.1], 0.25, 1.0)
    )
    start = np.array([0.5, 0.0])
    far = np.array([2.0, -2.0])
    out = limit_trajectory(limits, np.tile(far, (2000, 1)), PERIOD, start=start)
    steps = np.linalg.norm(np.diff(np.vstack([start, out]), axis=0), axis=1)
    assert steps.max() <= 0.25 * PERIOD + 1e-12
    assert np.allclose(out[-1], [0.75, -0.3])  # the corner of the x, y box (z = 0..0.1 plays no part)
    assert check_trajectory(limits, out, PERIOD, start=start) == []
    found = check_trajectory(limits, np.tile(far, (2, 1)), PERIOD, start=start)
    assert {(v.kind, v.name) for v in found} >= {
        ("workspace above box_max", "x"),
        ("workspace below box_min", "y"),
        ("linear speed", "xyz"),
    }
    assert MotionLimiter(limits, PERIOD).step(np.array([0.0, 0.0]), PERIOD).tolist() == [
        0.25,
        0.0,
    ]  # first target clamped


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 100_000),
    scale=st.sampled_from([0.01, 1.0, 100.0, 1e30]),
    n=st.integers(1, 60),
    infinite_acc=st.booleans(),
)
def test_limiter_output_never_violates(seed, scale, n, infinite_acc):
    rng = np.random.default_rng(seed)
    limits = limit_set(acc=None if infinite_acc else (20.0, 20.0, 50.0))
    start = rng.uniform([-2, -1, 0], [2, 1, 0.08])
    targets = rng.normal(size=(n, 3)) * scale
    out = limit_trajectory(limits, targets, PERIOD, start=start)
    assert np.all(np.isfinite(out))
    assert check_trajectory(limits, out, PERIOD, start=start, start_velocity=np.zeros(3)) == []


def test_limiter_without_start_takes_first_target_clamped():
    limiter = MotionLimiter(limit_set(), PERIOD)
    first = limiter.step(np.array([9.0, 0.0, 0.0]), PERIOD)
    assert first.tolist() == [2.0, 0.0, 0.0]
    second = limiter.step(np.array([0.0, 0.0, 0.0]), PERIOD)
    assert abs(second[0] - first[0]) <= 20.0 * PERIOD * PERIOD + 1e-12  # from rest: a·dt per step
