"""The kinematic Franka Hand: franka_gripper's move / grasp / homing outcomes."""

from __future__ import annotations

import pytest

from dp_sim.hand import MAX_WIDTH_M, SimulatedHand


def run(hand: SimulatedHand, seconds: float = 3.0) -> None:
    for _ in range(int(seconds / 0.001)):
        hand.step(0.001)


def test_move_reaches_the_width_at_the_speed():
    hand = SimulatedHand()
    task = hand.move(0.03, 0.05)
    hand.step(0.5)
    assert hand.width_m == pytest.approx(MAX_WIDTH_M - 0.025) and not task.done
    run(hand)
    assert task.done and task.success and hand.width_m == pytest.approx(0.03)
    assert hand.finger_positions == (0.015, 0.015)


def test_grasp_succeeds_only_inside_the_epsilon_band():
    hand = SimulatedHand(object_width_m=0.04)
    ok = hand.grasp(0.041, 0.1, 20.0, 0.005, 0.005)
    run(hand)
    assert ok.success and hand.width_m == pytest.approx(0.04)  # stopped at the object
    hand.move(0.08, 0.1)
    run(hand)
    missed = hand.grasp(0.02, 0.1, 20.0, 0.005, 0.005)  # expects a thinner object: stops at 0.04
    run(hand)
    assert missed.done and not missed.success and "outside" in missed.error


def test_homing_ends_open_and_a_new_goal_preempts():
    hand = SimulatedHand(0.05)
    first = hand.move(0.0, 0.01)
    homing = hand.homing()
    assert first.done and not first.success and "preempted" in first.error
    run(hand)
    assert homing.success and hand.width_m == pytest.approx(MAX_WIDTH_M)


@pytest.mark.parametrize("width, speed", [(-0.01, 0.05), (0.09, 0.05), (0.04, 0.0), (0.04, 0.5)])
def test_out_of_range_goals_are_refused(width, speed):
    hand = SimulatedHand()
    with pytest.raises(ValueError, match="outside"):
        hand.move(width, speed)
    assert hand.task is None and hand.width_m == MAX_WIDTH_M
