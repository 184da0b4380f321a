"""IK reaches workspace targets with the pusher pointing down, inside the FR3 limits."""

import numpy as np
import pytest

from dp_sim import fr3
from dp_sim.env import PushTSim
from dp_sim.ik import IkConfig

IK_TOLERANCE_M = 1e-3  # stated bound for targets inside the task region


@pytest.fixture(scope="module")
def sim() -> PushTSim:
    return PushTSim()


def test_ready_pose_is_at_working_height(sim):
    p, r = sim.ik.forward(sim.ready_q)
    np.testing.assert_allclose(p, [*sim.config.ready_xy, sim.config.tip_height_m], atol=IK_TOLERANCE_M)
    np.testing.assert_allclose(r[:, 2], [0, 0, -1], atol=1e-3)  # tip z axis points down
    assert fr3.within_limits(sim.ready_q)


def test_ik_reaches_task_region_targets(sim):
    rng = np.random.default_rng(0)
    for xy in rng.uniform([0.3, -0.25], [0.72, 0.25], size=(25, 2)):
        q = sim.solve_pusher_target(xy)
        p, r = sim.ik.forward(q)
        assert np.linalg.norm(p - [xy[0], xy[1], sim.config.tip_height_m]) < IK_TOLERANCE_M, xy
        np.testing.assert_allclose(r[:, 2], [0, 0, -1], atol=5e-3)
        assert fr3.within_limits(q)


def test_ik_rejects_outside_workspace_and_nan(sim):
    with pytest.raises(ValueError, match="outside the workspace"):
        sim.solve_pusher_target(np.array([1.5, 0.0]))
    with pytest.raises(ValueError, match="finite"):
        sim.solve_pusher_target(np.array([np.nan, 0.0]))


def test_ik_config_validation():
    with pytest.raises(ValueError, match="damping"):
        IkConfig(damping=0.0)
