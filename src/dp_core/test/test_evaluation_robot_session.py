"""The robot evaluation session (pure): phases, time limit, operator input, results JSON and plot."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.evaluation.operator_input import ButtonEdges, OperatorButtons, parse_line
from dp_core.evaluation.robot_results import summarize, wilson_interval, write_results
from dp_core.evaluation.robot_session import (
    NS_PER_S,
    Begin,
    Event,
    Finish,
    Halt,
    Outcome,
    Phase,
    RobotSession,
    SessionConfig,
)

S = NS_PER_S


def running(session: RobotSession, t0: int) -> None:
    """From waiting_reset to running at t0 (a faithful adapter)."""
    assert session.handle(Event.RESET_DONE, t0) == []
    assert session.handle(Event.START, t0) == [Begin(session.episode)]
    assert session.started(t0) == []
    assert session.phase is Phase.RUNNING


def test_an_episode_ends_on_the_verdict_policy_off_first():
    session = RobotSession(SessionConfig(episodes=2, time_limit_s=10.0))
    running(session, 1 * S)
    assert session.tick(5 * S) == []
    assert session.handle(Event.SUCCESS, 4 * S) == [Finish(Outcome.SUCCESS, deactivate=True)]
    record = session.finished("/bags/episode_0000")
    assert (record.index, record.outcome, record.duration_s) == (1, Outcome.SUCCESS, 3.0)
    assert session.phase is Phase.WAITING_RESET and session.episode == 2


def test_stop_halts_the_policy_and_the_verdict_follows_without_a_second_deactivation():
    session = RobotSession(SessionConfig(episodes=1, time_limit_s=10.0))
    running(session, 0)
    assert session.handle(Event.STOP, 2 * S) == [Halt()]
    assert session.tick(60 * S) == []  # stopped: the time limit no longer runs
    assert session.handle(Event.FAILURE, 30 * S) == [Finish(Outcome.FAILURE, deactivate=False)]
    assert session.finished("b").duration_s == 2.0  # running time ends at the stop
    assert session.phase is Phase.DONE


def test_the_time_limit_ends_the_episode_as_timeout():
    session = RobotSession(SessionConfig(episodes=3, time_limit_s=1.5))
    running(session, 10 * S)
    assert session.tick(10 * S + int(1.5 * S) - 1) == []
    assert session.tick(10 * S + int(1.5 * S)) == [Finish(Outcome.TIMEOUT, deactivate=True)]
    assert session.finished("b").outcome is Outcome.TIMEOUT


def test_a_verdict_after_the_limit_but_before_the_tick_is_a_timeout():
    session = RobotSession(SessionConfig(episodes=3, time_limit_s=1.0))
    running(session, 0)
    assert session.handle(Event.SUCCESS, 2 * S) == [Finish(Outcome.TIMEOUT, deactivate=True)]
    assert "time limit" in session.refused


def test_events_out_of_phase_are_refused_with_a_reason():
    session = RobotSession(SessionConfig(episodes=1, time_limit_s=1.0))
    assert session.handle(Event.START, 0) == []
    assert session.phase is Phase.WAITING_RESET and "start ignored while waiting_reset" in session.refused
    with pytest.raises(RuntimeError, match="started"):
        session.started(0)


def test_a_failed_start_returns_to_ready_and_an_open_bag_is_closed_as_aborted():
    session = RobotSession(SessionConfig(episodes=1, time_limit_s=1.0))
    session.handle(Event.RESET_DONE, 0)
    session.handle(Event.START, 0)
    assert session.start_failed("low disk", bag_open=False, now_ns=0) == []
    assert session.phase is Phase.READY and "low disk" in session.refused
    session.handle(Event.START, 0)
    assert session.start_failed("activate refused", bag_open=True, now_ns=0) == [Finish(Outcome.ABORTED, False)]
    session.finished("b")
    assert session.judged == 0 and session.phase is Phase.WAITING_RESET  # aborted: not counted


def test_quit_ends_a_running_episode_as_aborted_then_the_session():
    session = RobotSession(SessionConfig(episodes=5, time_limit_s=10.0))
    running(session, 0)
    assert session.handle(Event.QUIT, S) == [Finish(Outcome.ABORTED, deactivate=True)]
    session.finished("b")
    assert session.phase is Phase.DONE
    starting = RobotSession(SessionConfig(episodes=5, time_limit_s=10.0))
    starting.handle(Event.RESET_DONE, 0)
    starting.handle(Event.START, 0)
    assert starting.handle(Event.QUIT, 0) == []  # the adapter is mid-start: end once it is running
    assert starting.started(S) == [Finish(Outcome.ABORTED, deactivate=True)]


def test_config_is_validated():
    for bad in ({"episodes": 0}, {"episodes": 1.5}, {"time_limit_s": 0.0}, {"time_limit_s": float("inf")}):
        with pytest.raises(ValueError):
            SessionConfig(**bad)
    with pytest.raises(ValueError, match="different buttons"):
        OperatorButtons(success=1, failure=1)
    with pytest.raises(ValueError):
        OperatorButtons(stop=-2)


def test_lines_and_buttons_become_events():
    assert parse_line(" Y\n") is Event.SUCCESS and parse_line("stop") is Event.STOP and parse_line("") is None
    assert parse_line("maybe") is None
    edges = ButtonEdges(OperatorButtons())
    assert edges.update([1, 0, 0, 0]) == [Event.RESET_DONE, Event.START]  # A: whichever the phase takes
    assert edges.update([1, 0, 0, 0]) == []  # joy_node's autorepeat of a held button is no new press
    assert edges.update([0, 1, 0, 0]) == [Event.SUCCESS]
    assert edges.update([]) == []  # unplugged: all released
    assert edges.update([0, 0, 0]) == []  # fewer buttons than the failure index: never pressed
    assert edges.update([0, 0, 1, 1, 0]) == [Event.STOP, Event.FAILURE]


def test_one_button_resets_then_starts_by_phase():
    session, edges = RobotSession(SessionConfig(episodes=1, time_limit_s=1.0)), ButtonEdges(OperatorButtons())
    assert session.handle(edges.update([1]), 0) == [] and session.phase is Phase.READY
    edges.update([0])
    assert session.handle(edges.update([1]), 0) == [Begin(1)]


def test_results_json_and_plot(tmp_path):
    session = RobotSession(SessionConfig(episodes=3, time_limit_s=2.0))
    for outcome, event in ((Outcome.SUCCESS, Event.SUCCESS), (Outcome.FAILURE, Event.FAILURE), (Outcome.TIMEOUT, None)):
        running(session, 0)
        commands = session.handle(event, S) if event else session.tick(2 * S)
        assert commands == [Finish(outcome, True)]
        session.finished(f"/bags/{outcome.value}")
    summary = write_results(session.records, session.config, tmp_path / "out", label="tiny")
    data = json.loads((tmp_path / "out/results.json").read_text())
    assert data == summary
    assert data["counts"] == {"success": 1, "failure": 1, "timeout": 1, "aborted": 0}
    assert data["episodes"] == 3 and data["success_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert [r["outcome"] for r in data["records"]] == ["success", "failure", "timeout"]
    assert (tmp_path / "out/results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_wilson_interval():
    low, high = wilson_interval(7, 10)
    assert low == pytest.approx(0.3968, abs=1e-4) and high == pytest.approx(0.8922, abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


OPERATOR = [Event.RESET_DONE, Event.START, Event.STOP, Event.SUCCESS, Event.FAILURE] * 4 + [Event.QUIT]
RESULT = st.sampled_from(["ok"] * 4 + ["bag_fails", "activate_fails"])
STEP = st.one_of(  # (what, value, the adapter's next result, whether it reports at once)
    st.tuples(st.just("event"), st.sampled_from(OPERATOR), RESULT, st.booleans()),
    st.tuples(st.just("tick"), st.integers(0, S), RESULT, st.booleans()),
    st.tuples(st.just("report"), st.none(), RESULT, st.just(True)),
)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 4), st.floats(0.5, 5.0), st.lists(STEP, min_size=10, max_size=120))
def test_property_policy_runs_only_in_running_bag_open_around_it_and_limits_hold(episodes, limit_s, steps):
    """Any operator input, clock and adapter result, reported at once or later: the policy is active exactly
    while running, only with an open bag; a Finish deactivates exactly when the policy is active; no episode
    runs past its limit at a tick; each record has the outcome that ended it; the session is done exactly
    after N judged episodes or a quit (with nothing pending)."""
    session = RobotSession(SessionConfig(episodes=episodes, time_limit_s=limit_s))
    m = {"now": 0, "t0": 0, "active": False, "bag": False, "pending": None, "quit": False, "outcome": None}

    def apply(commands):
        for c in commands:
            if isinstance(c, Begin):
                assert not m["bag"] and not m["active"] and m["pending"] is None
                m["pending"] = "begin"
            elif isinstance(c, Halt):
                assert m["active"]
                m["active"] = False
            elif isinstance(c, Finish):
                assert c.deactivate == m["active"], (c, m)
                assert m["bag"]
                m["active"], m["pending"], m["outcome"] = False, "finish", c.outcome

    def report(result):
        now = m["now"]
        if m["pending"] == "begin":
            m["pending"] = None
            if result == "bag_fails":
                return apply(session.start_failed("disk", bag_open=False, now_ns=now))
            m["bag"] = True
            if result == "activate_fails":
                return apply(session.start_failed("refused", bag_open=True, now_ns=now))
            m["active"], m["t0"] = True, now
            return apply(session.started(now))
        if m["pending"] == "finish":
            m["bag"], m["pending"] = False, None
            record = session.finished("b")
            assert record.outcome is m["outcome"]
            if record.outcome in (Outcome.SUCCESS, Outcome.FAILURE):
                assert record.duration_s <= limit_s + 1e-9
        return None

    for kind, value, result, at_once in steps:
        if kind == "event":
            m["quit"] |= value is Event.QUIT
            before = session.phase
            commands = session.handle(value, m["now"])
            if before is Phase.RUNNING and value in (Event.SUCCESS, Event.FAILURE) and commands:
                assert commands[0].outcome in (Outcome(value.value), Outcome.TIMEOUT)
            apply(commands)
        elif kind == "tick":
            m["now"] += value
            apply(session.tick(m["now"]))
            if session.phase is Phase.RUNNING:
                assert m["now"] - m["t0"] < round(limit_s * S)
        if at_once:
            report(result)
        assert m["active"] == (session.phase is Phase.RUNNING)
        assert not m["active"] or m["bag"]
        assert session.judged <= episodes
        summary = summarize(session.records, session.config)
        assert sum(summary["counts"].values()) == len(session.records)
        assert summary["episodes"] == session.judged
        if m["pending"] is None and not m["bag"]:
            assert (session.phase is Phase.DONE) == (session.judged == episodes or m["quit"]), (session.phase, m)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 1), max_size=6), max_size=40))
def test_property_each_event_is_a_press_never_a_held_button(states):
    """Any stream of Joy button arrays (autorepeats, short arrays, unplugging): each event's count is the
    number of 0 -> 1 changes of its button (missing = released)."""
    buttons = OperatorButtons()
    edges = ButtonEdges(buttons)
    seen = {e: 0 for e in Event}
    for state in states:
        for event in edges.update(state):
            seen[event] += 1
    for event, index in buttons.by_event().items():
        held = [bool(index >= 0 and index < len(s) and s[index]) for s in states]
        presses = sum(now and not before for before, now in zip([False, *held], held, strict=False))
        assert seen[event] == presses, (event, states)
