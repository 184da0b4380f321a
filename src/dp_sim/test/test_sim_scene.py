"""Scene and geometry: the MJCF loads, the arm is the FR3, the T and its coverage are right."""

import mujoco
import numpy as np
import pytest

from dp_sim import fr3
from dp_sim.scene import SceneConfig, build_mjcf
from dp_sim.tshape import CoverageMeter, TShape


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_string(build_mjcf(SceneConfig()))


def test_arm_has_seven_fr3_joints_with_published_limits(model):
    for i, name in enumerate(fr3.JOINT_NAMES):
        joint = model.joint(name)
        assert joint.type[0] == mujoco.mjtJoint.mjJNT_HINGE
        np.testing.assert_allclose(joint.range, [fr3.Q_MIN[i], fr3.Q_MAX[i]])
        assert model.jnt_limited[joint.id]
    assert model.nu == 14  # 7 position servos + 7 velocity feed-forward
    for cam in ("top", "wrist"):
        assert model.camera(cam).id >= 0


def test_forward_kinematics_matches_franka_ready_pose(model):
    # Franka's documented flange pose at the ready configuration: (0.307, 0, 0.590), z down.
    data = mujoco.MjData(model)
    data.qpos[:7] = fr3.FRANKA_READY_Q
    mujoco.mj_kinematics(model, data)
    flange = data.body("fr3_flange")
    np.testing.assert_allclose(flange.xpos, [0.3069, 0.0, 0.5903], atol=1e-3)
    np.testing.assert_allclose(flange.xmat.reshape(3, 3)[:, 2], [0, 0, -1], atol=1e-6)


def test_scene_config_rejects_bad_values():
    with pytest.raises(ValueError, match="pusher_length_m"):
        SceneConfig(pusher_length_m=0.0)
    with pytest.raises(ValueError, match="target_pose"):
        SceneConfig(target_pose=(0.4, float("nan"), 0.0))
    with pytest.raises(ValueError, match="bar_width"):
        TShape(bar_width=-1.0)


def test_tshape_centroid_is_origin():
    shape = TShape()
    pts = shape.grid(0.001)
    np.testing.assert_allclose(pts.mean(axis=0), [0.0, 0.0], atol=1e-3)
    assert len(pts) * 1e-6 == pytest.approx(shape.area, rel=0.02)


def test_coverage_identity_shift_and_far():
    shape = TShape()
    meter = CoverageMeter(shape, np.array([0.45, 0.0, 0.0]))
    assert meter(np.array([0.45, 0.0, 0.0])) == pytest.approx(1.0)
    assert meter(np.array([1.0, 1.0, 0.0])) == 0.0
    # A shift along x uncovers the edge length facing that way (the bar's back, 0.16 m) times dx.
    dx = 0.005
    expected = 1 - shape.bar_length * dx / shape.area
    assert meter(np.array([0.45 - dx, 0.0, 0.0])) == pytest.approx(expected, abs=1e-9)
    # Rotating by pi maps the T onto a different region: far from full coverage.
    assert meter(np.array([0.45, 0.0, np.pi])) < 0.6


def test_exact_coverage_matches_rasterised_cross_check():
    shape = TShape()
    target = np.array([0.45, 0.0, 0.0])
    meter = CoverageMeter(shape, target)
    grid = shape.grid(0.0005)
    rng = np.random.default_rng(0)
    for pose in target + rng.uniform([-0.05, -0.05, -0.6], [0.05, 0.05, 0.6], size=(8, 3)):
        # grid points of the target T, expressed in the block frame
        world = grid + target[:2]
        d = world - pose[:2]
        local = np.stack(
            [
                np.cos(pose[2]) * d[:, 0] + np.sin(pose[2]) * d[:, 1],
                -np.sin(pose[2]) * d[:, 0] + np.cos(pose[2]) * d[:, 1],
            ],
            -1,
        )
        assert meter(pose) == pytest.approx(np.mean(shape.contains(local)), abs=0.01), pose
