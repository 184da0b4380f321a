"""Teleop mapping: Joy → twist/events, deadman, speed limits, workspace box, keyboard hold."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_teleop.keyboard import KeyboardConfig, KeyboardMapper
from dp_teleop.mapping import (
    EpisodeEvent,
    JoyMapper,
    JoyMapping,
    PoseIntegrator,
    TeleopLimits,
    apply_deadzone,
    limit_twist,
)

LIMITS = TeleopLimits(
    max_linear_mps=0.2, max_angular_rps=0.8, workspace_min=(0.3, -0.3, 0.05), workspace_max=(0.7, 0.3, 0.5)
)
AXES, BUTTONS = 8, 11


def joy(axes: dict[int, float] | None = None, buttons: tuple[int, ...] = ()) -> tuple[list[float], list[int]]:
    a = [0.0] * AXES
    for i, v in (axes or {}).items():
        a[i] = v
    return a, [1 if i in buttons else 0 for i in range(BUTTONS)]


def test_scripted_joy_sequence():
    mapper = JoyMapper(JoyMapping(), LIMITS)
    state = mapper.update(*joy({1: 1.0}, buttons=(4,)))  # full forward, deadman held
    np.testing.assert_allclose(state.twist, [0.2, 0, 0, 0, 0, 0])
    state = mapper.update(*joy({1: 1.0}))  # deadman released
    assert not state.deadman and not state.twist.any()
    state = mapper.update(*joy({0: -0.55, 3: 1.0}, buttons=(4, 0)))  # left stick y, yaw; START pressed
    np.testing.assert_allclose(state.twist, [0, -0.1, 0, 0, 0, 0.8])
    assert state.events == [EpisodeEvent.START]
    assert mapper.update(*joy(buttons=(4, 0))).events == []  # held, no repeat
    assert mapper.update(*joy(buttons=(1,))).events == [EpisodeEvent.KEEP_SUCCESS]
    assert mapper.update(*joy(buttons=(2, 3))).events == [EpisodeEvent.KEEP_FAILURE, EpisodeEvent.DISCARD]
    state = mapper.update(*joy({1: 0.05}, buttons=(4,)))  # inside the deadzone
    assert not state.twist.any()
    short = JoyMapper(JoyMapping(), LIMITS).update([1.0], [])  # short Joy message: no crash, no motion
    assert not short.twist.any() and short.events == []


def test_pose_integration_speed_and_workspace():
    integ = PoseIntegrator(LIMITS)
    with pytest.raises(RuntimeError, match="reset"):
        integ.step(np.zeros(6), 0.02)
    integ.reset([0.5, 0.0, 0.2], [0, 0, 0, 1])
    for _ in range(50):  # 1 s at 0.2 m/s along x; a 10 m/s request is limited
        integ.step(np.array([10.0, 0, 0, 0, 0, 0]), 0.02)
    np.testing.assert_allclose(integ.position, [0.7, 0.0, 0.2], atol=1e-9)  # stopped at the box
    assert not integ.step(np.array([0.1, 0, 0, 0, 0, 0]), 0.02).any()  # pushing out: zeroed
    np.testing.assert_allclose(integ.step(np.array([-0.1, 0, 0, 0, 0, 0]), 0.1)[0], -0.1)
    integ.reset([0.5, 0, 0.2], [0, 0, 0, 1])
    for _ in range(10):
        integ.step(np.array([0, 0, 0, 0, 0, 0.5]), 0.1)  # 0.5 rad about z
    np.testing.assert_allclose(integ.rotation.as_rotvec(), [0, 0, 0.5], atol=1e-9)
    assert not integ.step(np.ones(6), 5.0).any()  # a stalled loop never turns into a jump
    with pytest.raises(ValueError, match="finite"):
        integ.reset([np.nan, 0, 0], [0, 0, 0, 1])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=6, max_size=6))
def test_limit_twist_never_exceeds_limits(values):
    out = limit_twist(np.array(values), LIMITS)
    assert np.linalg.norm(out[:3]) <= 0.2 + 1e-9 and np.linalg.norm(out[3:]) <= 0.8 + 1e-9
    assert not limit_twist(np.array([np.nan, 0, 0, 0, 0, 0]), LIMITS).any()


def test_deadzone_and_config_validation():
    assert (
        apply_deadzone(0.05, 0.1) == 0.0
        and apply_deadzone(1.0, 0.1) == 1.0
        and apply_deadzone(-0.55, 0.1) == pytest.approx(-0.5)
    )
    with pytest.raises(ValueError, match="6 entries"):
        JoyMapping(axes=(1, 2))
    with pytest.raises(ValueError, match="scales"):
        JoyMapping(scales=(2.0, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="workspace_min"):
        TeleopLimits(workspace_min=(1, 0, 0), workspace_max=(0, 1, 1))


def test_keyboard_hold_and_events():
    kb = KeyboardMapper(KeyboardConfig(hold_s=0.3, speed_fraction=0.5), LIMITS)
    assert kb.press("w", 10.0) is None
    np.testing.assert_allclose(kb.twist(10.1), [0.1, 0, 0, 0, 0, 0])
    assert not kb.twist(10.5).any()  # released: zero after hold_s
    kb.press("q", 11.0)
    kb.press(" ", 11.05)
    assert not kb.twist(11.1).any()  # space stops at once
    assert kb.press("1", 12.0) is EpisodeEvent.START and kb.press("0", 12.0) is EpisodeEvent.DISCARD


def test_target_guard_refuses_far_positions_and_orientations():
    from scipy.spatial.transform import Rotation

    from dp_teleop.mapping import TargetGuard

    guard = TargetGuard(max_distance_m=0.02, max_angle_rad=0.2)
    here, up = np.array([0.5, 0.0, 0.3]), np.array([0.0, 0.0, 0.0, 1.0])
    assert guard.refusal(here + [0.015, 0, 0], Rotation.identity(), here, up) is None
    assert "m from the measured pose" in guard.refusal(here + [0, 0, 0.05], Rotation.identity(), here, up)
    assert "rad" in guard.refusal(here, Rotation.from_euler("z", 0.3), here, up)
    assert guard.refusal(here, Rotation.identity(), here, np.array([0, 0, 0.0, -1.0])) is None  # q and -q: one rotation
    assert guard.refusal(np.full(3, np.nan), Rotation.identity(), here, up) is not None  # NaN is never close
    with pytest.raises(ValueError):
        TargetGuard(max_distance_m=0.0)
