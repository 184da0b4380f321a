"""Chunk interpolation: knots hit exactly, linear/cubic joints, SLERP poses, linear gripper."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from dp_core.control.interpolation import (
    ChunkInterpolator,
    InterpolationConfig,
    blend_values,
    continuous_quaternions,
    quaternion_angle,
)
from dp_core.control.layout import ActionLayout

MS = 1_000_000
POSE = ("x", "y", "z", "qx", "qy", "qz", "qw", "gripper")


def test_layout_classifies_names():
    lay = ActionLayout.from_names(POSE)
    assert lay.position == (0, 1, 2) and lay.quaternion == (3, 4, 5, 6) and lay.grippers == (7,) and lay.joints == ()
    lay = ActionLayout.from_names(["j1", "j2", "finger_width"])
    assert lay.joints == (0, 1) and lay.grippers == (2,) and not lay.is_cartesian
    assert ActionLayout.from_names(["j1", "hand"], gripper_names=["hand"]).grippers == (1,)
    with pytest.raises(ValueError, match="missing \\['y'\\]"):
        ActionLayout.from_names(["x", "z"])
    with pytest.raises(ValueError, match="missing \\['y', 'z'\\]"):
        ActionLayout.from_names(["x", "j1"])
    with pytest.raises(ValueError, match="missing \\['qw'\\]"):
        ActionLayout.from_names(["x", "y", "qx", "qy", "qz"])
    assert ActionLayout.from_names(POSE).position_axes == (0, 1, 2) and not ActionLayout.from_names(POSE).is_planar


def test_planar_layout_is_x_y_without_z():
    lay = ActionLayout.from_names(["y", "x", "gripper"])  # indices follow x, y order whatever the action order
    assert lay.position == (1, 0) and lay.position_axes == (0, 1) and lay.is_planar and lay.is_cartesian
    assert lay.quaternion == () and lay.joints == () and lay.grippers == (2,)
    interp = ChunkInterpolator(np.array([0, 100 * MS]), np.array([[0.0, 1.0, 0.0], [0.2, 0.0, 1.0]]), lay)
    assert np.allclose(interp(50 * MS), [0.1, 0.5, 0.5])
    with pytest.raises(ValueError, match="not action names"):
        ActionLayout.from_names(["j1"], gripper_names=["g"])


@pytest.mark.parametrize("method,bc", [("linear", "natural"), ("cubic", "natural"), ("cubic", "clamped")])
def test_joint_knots_exact_and_holds_outside(method, bc):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(6, 3)) * 2
    times = 1_000 * MS + np.arange(6) * 100 * MS
    interp = ChunkInterpolator(times, values, ActionLayout.from_names(["a", "b", "c"]), InterpolationConfig(method, bc))
    np.testing.assert_array_equal(interp(times), values)
    np.testing.assert_array_equal(interp(0), values[0])
    np.testing.assert_array_equal(interp(times[-1] + 10**12), values[-1])
    assert interp(int(times[2])).shape == (3,)


def test_linear_midpoint_and_cubic_properties():
    times = np.arange(4) * 100 * MS
    values = np.array([[0.0], [1.0], [0.0], [1.0]])
    lay = ActionLayout.from_names(["j"])
    assert ChunkInterpolator(times, values, lay)(50 * MS)[0] == pytest.approx(0.5)
    clamped = ChunkInterpolator(times, values, lay, InterpolationConfig("cubic", "clamped"))
    eps = 1 * MS  # zero slope at the ends
    assert abs(clamped(eps)[0] - clamped(0)[0]) < 1e-3
    natural = ChunkInterpolator(times, values, lay, InterpolationConfig("cubic", "natural"))
    assert abs(natural(eps)[0] - natural(0)[0]) > 1e-3


def test_gripper_stays_linear_under_cubic():
    times = np.arange(4) * 100 * MS
    values = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    interp = ChunkInterpolator(times, values, ActionLayout.from_names(["j", "gripper"]), InterpolationConfig("cubic"))
    dense = interp(np.arange(0, 300 * MS, 5 * MS))
    assert dense[:, 1].min() >= 0.0 and dense[:, 1].max() <= 1.0  # no overshoot on the gripper
    assert dense[:, 0].min() < -1e-3 or dense[:, 0].max() > 1 + 1e-3  # the joint's cubic does overshoot


def test_slerp_matches_scipy_and_keeps_sign_continuity():
    rots = Rotation.from_euler("z", [[0], [60], [120]], degrees=True).as_quat()
    rots[1] *= -1  # same rotation, flipped sign
    values = np.concatenate([np.zeros((3, 3)), rots, np.zeros((3, 1))], axis=1)
    times = np.arange(3) * 100 * MS
    interp = ChunkInterpolator(times, values, ActionLayout.from_names(POSE))
    q = interp(np.array([25 * MS, 50 * MS, 150 * MS]))[:, 3:7]
    angles = Rotation.from_quat(q).as_euler("zyx", degrees=True)[:, 0]
    np.testing.assert_allclose(angles, [15, 30, 90], atol=1e-9)
    dense = interp(np.arange(0, 200 * MS + 1, 5 * MS))[:, 3:7]
    assert np.all(np.sum(dense[1:] * dense[:-1], axis=1) > 0)  # no sign flips along the way


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 8),
    method=st.sampled_from(["linear", "cubic"]),
)
def test_pose_interpolation_unit_norm_and_knots(seed, n, method):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 4))
    values = np.concatenate([rng.normal(size=(n, 3)), q, rng.uniform(size=(n, 1))], axis=1)
    times = np.cumsum(rng.integers(1 * MS, 200 * MS, size=n))
    interp = ChunkInterpolator(times, values, ActionLayout.from_names(POSE), InterpolationConfig(method))
    out = interp(np.linspace(times[0] - MS, times[-1] + MS, 50).astype(np.int64))
    np.testing.assert_allclose(np.linalg.norm(out[:, 3:7], axis=1), 1.0, atol=1e-12)
    knots = interp(times)
    np.testing.assert_array_equal(knots[:, :3], values[:, :3])
    expected_q = continuous_quaternions(q)
    np.testing.assert_array_equal(knots[:, 3:7], expected_q)


def test_errors_and_blend():
    lay = ActionLayout.from_names(["j"])
    with pytest.raises(ValueError, match="strictly increasing"):
        ChunkInterpolator([0, 0], np.zeros((2, 1)), lay)
    with pytest.raises(ValueError, match="need times"):
        ChunkInterpolator([0, 1], np.zeros((3, 1)), lay)
    with pytest.raises(ValueError, match="norm"):
        continuous_quaternions(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="interpolation"):
        InterpolationConfig("quintic")
    pose = ActionLayout.from_names(POSE)
    a = np.array([0, 0, 0, 0, 0, 0, 1, 0.0])
    b = np.concatenate([[1, 2, 3], Rotation.from_euler("x", 90, degrees=True).as_quat(), [1.0]])
    mid = blend_values(a, b, 0.5, pose)
    np.testing.assert_allclose(mid[:3], [0.5, 1, 1.5])
    assert quaternion_angle(a[3:7], mid[3:7]) == pytest.approx(np.pi / 4)
    np.testing.assert_array_equal(blend_values(a, b, 1.0, pose), b)
