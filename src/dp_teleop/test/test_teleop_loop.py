"""TeleopLoop: teleop's decisions without ROS (freshness, deadman, target restart, refusal)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp_teleop.keyboard import KeyboardConfig, KeyboardMapper
from dp_teleop.mapping import TargetGuard, TeleopLimits
from dp_teleop.teleop_loop import TeleopLoop, TeleopLoopConfig

LIMITS = TeleopLimits(0.2, 0.8, (0.25, -0.45, 0.02), (0.75, 0.45, 0.65))
HOME = (np.array([0.5, 0.0, 0.3]), np.array([0.0, 0.0, 0.0, 1.0]))
VX = np.array([0.1, 0, 0, 0, 0, 0], float)


def make_loop(**kwargs) -> TeleopLoop:
    return TeleopLoop(TeleopLoopConfig(**kwargs), LIMITS, TargetGuard(0.02, 0.2))


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="input_timeout_s"):
        TeleopLoopConfig(input_timeout_s=0.0)


def test_an_engaged_input_moves_the_target_from_the_measured_pose() -> None:
    loop = make_loop()
    loop.set_measured(*HOME, now=0.0)
    assert loop.tick(0.0).target is not None  # not engaged: the target holds the measured pose
    loop.set_input("joy", 0.0, VX, deadman=True)
    out = None
    for k in range(1, 6):
        loop.set_input("joy", k * 0.02, VX, deadman=True)
        out = loop.tick(k * 0.02)
    assert out is not None and out.refusal is None and out.target is not None
    np.testing.assert_allclose(out.twist, VX)
    # five ticks of 0.02 s at 0.1 m/s; the engaging tick restarts at the measured pose, then moves too
    np.testing.assert_allclose(out.target[0], HOME[0] + [0.01, 0, 0], atol=1e-12)


def test_stale_or_released_inputs_give_a_zero_twist() -> None:
    loop = make_loop(input_timeout_s=0.5)
    loop.set_measured(*HOME, now=0.0)
    loop.set_input("joy", 0.0, VX, deadman=True)
    assert loop.current_twist(0.4)[1] and not loop.current_twist(0.6)[1]
    loop.set_input("joy", 1.0, VX, deadman=False)
    twist, engaged = loop.current_twist(1.0)
    assert not engaged and not twist.any()


def test_a_target_far_from_the_robot_is_refused_until_the_deadman_is_pressed_again() -> None:
    loop = make_loop(max_pose_age_s=0.5)
    outside = (np.array([0.9, 0.0, 0.3]), HOME[1])  # beyond workspace_max x: the target is clamped 0.15 m away
    loop.set_measured(*outside, now=0.0)
    loop.set_input("joy", 0.01, VX, deadman=True)
    out = loop.tick(0.01)
    assert out.refusal is not None and "from the measured pose" in out.refusal
    assert out.target is None and not out.twist.any()
    loop.set_input("joy", 0.02, VX, deadman=True)
    out = loop.tick(0.02)
    assert out.refusal is None and loop.refused is not None and out.target is None  # logged once, still withheld
    loop.set_input("joy", 0.03, VX, deadman=False)
    loop.tick(0.03)
    loop.set_measured(*HOME, now=0.04)  # the arm is back inside the box
    loop.set_input("joy", 0.04, VX, deadman=True)  # pressed again: restarts at the measured pose
    out = loop.tick(0.04)
    assert out.refusal is None and out.target is not None and loop.refused is None


def test_engaging_without_a_fresh_measured_pose_is_refused() -> None:
    loop = make_loop(max_pose_age_s=0.5)
    loop.set_measured(*HOME, now=0.0)
    loop.tick(0.0)
    loop.set_input("joy", 1.0, VX, deadman=True)
    out = loop.tick(1.0)
    assert out.refusal == "no current_pose within 0.5 s" and out.target is None


def test_keyboard_keys_are_ignored_without_a_keyboard_and_mapped_with_one() -> None:
    assert make_loop().key_pressed("1", 0.0) is None
    loop = TeleopLoop(TeleopLoopConfig(), LIMITS, TargetGuard(), KeyboardMapper(KeyboardConfig(), LIMITS))
    assert loop.key_pressed("1", 0.0) is not None  # start episode
    loop.key_pressed("w", 0.0)
    assert loop.current_twist(0.01)[1]


@given(st.lists(st.floats(-1.0, 1.0), min_size=6, max_size=6), st.integers(1, 40))
def test_the_target_never_leaves_the_workspace(values: list[float], ticks: int) -> None:
    loop = make_loop()
    loop.set_measured(*HOME, now=0.0)
    twist = np.array(values) * 5.0  # beyond the speed limits too
    for k in range(ticks + 1):
        loop.set_input("spacenav", k * 0.1, twist, deadman=True)
        out = loop.tick(k * 0.1)
        if out.target is not None:
            assert np.all(out.target[0] >= LIMITS.workspace_min) and np.all(out.target[0] <= LIMITS.workspace_max)
        assert np.linalg.norm(out.twist[:3]) <= LIMITS.max_linear_mps + 1e-9
