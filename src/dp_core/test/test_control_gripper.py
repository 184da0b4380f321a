"""Gripper hysteresis: a goal only when the open/closed decision changes; no chatter in the band."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dp_core.control.gripper import GripperConfig, GripperHysteresis, GripperState


def test_close_is_a_grasp_open_is_a_move():
    g = GripperHysteresis(GripperConfig(close_below_m=0.03, open_above_m=0.05))
    goal = g.update(0.01)
    assert goal.action == "grasp" and goal.width_m == 0.0 and goal.force_n > 0 and g.state is GripperState.CLOSED
    assert g.update(0.0) is None  # already closing: nothing new
    assert g.update(0.04) is None  # in the band: keep
    goal = g.update(0.07)
    assert goal.action == "move" and goal.width_m == 0.08 and g.state is GripperState.OPEN
    with pytest.raises(ValueError, match="finite"):
        g.update(math.nan)
    assert g.state is GripperState.OPEN  # bad input changes nothing


@given(st.lists(st.floats(0.0, 0.08), min_size=1, max_size=200))
def test_goals_alternate_and_only_past_a_threshold(widths):
    cfg = GripperConfig()
    g = GripperHysteresis(cfg)
    goals = [(w, goal) for w in widths if (goal := g.update(w)) is not None]
    for (_, a), (_, b) in itertools.pairwise(goals):
        assert a.action != b.action  # never the same goal twice in a row
    for w, goal in goals:
        assert (w < cfg.close_below_m) if goal.action == "grasp" else (w > cfg.open_above_m)


@given(st.lists(st.floats(0.031, 0.049), min_size=1, max_size=100))
def test_noise_inside_the_band_sends_nothing(widths):
    g = GripperHysteresis()
    assert g.update(0.08).action == "move"
    assert all(g.update(w) is None for w in widths)


def test_config_is_validated():
    with pytest.raises(ValueError, match="hysteresis"):
        GripperConfig(close_below_m=0.05, open_above_m=0.05)
    with pytest.raises(ValueError, match="speed"):
        GripperConfig(speed_mps=0.5)
