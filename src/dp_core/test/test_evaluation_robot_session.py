"""The robot evaluation session (pure): phases, time limit, operator input, results JSON and plot."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dp_core.evaluation.operator_input import ButtonEdges, OperatorButtons, parse_line
from dp_core.evaluation.robot_results import summarize, wilson_interval, write_results
from dp_core.evaluation.robot_session import (
    NS_PER_S,
    OVERDUE_NS,
    RETRY_NS,
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
    assert session.handle(Event.SUCCESS, 4 * S) == [Halt()]
    assert session.deactivated(True, "", 4 * S) == [Finish(Outcome.SUCCESS)]
    record = session.finished("/bags/episode_0000")
    assert (record.index, record.outcome, record.duration_s) == (1, Outcome.SUCCESS, 3.0)
    assert session.phase is Phase.WAITING_RESET and session.episode == 2


def test_stop_halts_the_policy_and_the_verdict_follows_without_a_second_deactivation():
    session = RobotSession(SessionConfig(episodes=1, time_limit_s=10.0))
    running(session, 0)
    assert session.handle(Event.STOP, 2 * S) == [Halt()]
    assert session.deactivated(True, "", 2 * S) == []
    assert session.tick(60 * S) == []  # stopped: the time limit no longer runs
    assert session.handle(Event.FAILURE, 30 * S) == [Finish(Outcome.FAILURE)]
    assert session.finished("b").duration_s == 2.0  # running time ends at the stop
    assert session.phase is Phase.DONE


def test_the_time_limit_ends_the_episode_as_timeout():
    session = RobotSession(SessionConfig(episodes=3, time_limit_s=1.5))
    running(session, 10 * S)
    assert session.tick(10 * S + int(1.5 * S) - 1) == []
    assert session.tick(10 * S + int(1.5 * S)) == [Halt()]
    assert session.deactivated(True, "", 12 * S) == [Finish(Outcome.TIMEOUT)]
    assert session.finished("b").outcome is Outcome.TIMEOUT


def test_a_verdict_after_the_limit_but_before_the_tick_is_a_timeout():
    session = RobotSession(SessionConfig(episodes=3, time_limit_s=1.0))
    running(session, 0)
    assert session.handle(Event.SUCCESS, 2 * S) == [Halt()]
    assert "time limit" in session.refused
    assert session.deactivated(True, "", 2 * S) == [Finish(Outcome.TIMEOUT)]


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
    assert session.start_failed("activate refused", bag_open=True, now_ns=0) == [Halt()]  # may be active
    assert session.deactivated(True, "", 0) == [Finish(Outcome.ABORTED)]
    session.finished("b")
    assert session.judged == 0 and session.phase is Phase.WAITING_RESET  # aborted: not counted


def test_quit_ends_a_running_episode_as_aborted_then_the_session():
    session = RobotSession(SessionConfig(episodes=5, time_limit_s=10.0))
    running(session, 0)
    assert session.handle(Event.QUIT, S) == [Halt()]
    assert session.deactivated(True, "", S) == [Finish(Outcome.ABORTED)]
    session.finished("b")
    assert session.phase is Phase.DONE
    starting = RobotSession(SessionConfig(episodes=5, time_limit_s=10.0))
    starting.handle(Event.RESET_DONE, 0)
    starting.handle(Event.START, 0)
    assert starting.handle(Event.QUIT, 0) == []  # the adapter is mid-start: end once it is running
    assert starting.started(S) == [Halt()]


def test_a_failed_deactivate_keeps_the_bag_open_is_shown_and_retried_until_confirmed():
    session = RobotSession(SessionConfig(episodes=2, time_limit_s=10.0))
    running(session, 0)
    assert session.handle(Event.STOP, S) == [Halt()]
    assert session.deactivated(False, "/policy_node is active", S) == []
    assert "POLICY NOT CONFIRMED OFF (/policy_node is active)" in session.prompt()
    assert session.handle(Event.SUCCESS, S + 1) == []  # judged, but the bag waits for the policy to be off
    assert session.phase is Phase.ENDING
    assert session.tick(S + RETRY_NS - 1) == [] and session.tick(S + RETRY_NS) == [Halt()]
    assert session.tick(S + RETRY_NS + 1) == []  # that one is in flight: unanswered, again after OVERDUE_NS
    assert session.tick(S + RETRY_NS + OVERDUE_NS) == [Halt()]
    assert session.handle(Event.RESET_DONE, 8 * S) == [] and session.phase is Phase.ENDING
    assert session.deactivated(True, "", 9 * S) == [Finish(Outcome.SUCCESS)]
    assert session.deactivated(True, "", 9 * S) == []  # a late answer to an earlier attempt
    assert session.alarm == "" and "NOT CONFIRMED" not in session.prompt()
    session.finished("b")
    assert session.phase is Phase.WAITING_RESET and session.policy_off


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
        assert commands == [Halt()] and session.deactivated(True, "", 2 * S) == [Finish(outcome)]
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
# the adapter's next result; a "lost" activate took effect but its reply failed; a failed deactivate leaves it on
RESULT = st.sampled_from(["ok"] * 4 + ["bag_fails", "activate_fails", "activate_lost", "deactivate_fails"])
STEP = st.one_of(  # (what, value, the adapter's next result, whether it reports at once)
    st.tuples(st.just("event"), st.sampled_from(OPERATOR), RESULT, st.booleans()),
    st.tuples(st.just("tick"), st.integers(0, S), RESULT, st.booleans()),
    st.tuples(st.just("report"), st.none(), RESULT, st.just(True)),
)
IDLE = (Phase.WAITING_RESET, Phase.READY, Phase.DONE)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 4), st.floats(0.5, 5.0), st.lists(STEP, min_size=10, max_size=120))
def test_property_policy_off_before_any_reset_start_or_bag_close_and_limits_hold(episodes, limit_s, steps):
    """Any operator input, clock and adapter result (activates lost, deactivates failed or answered late):
    the policy (a fake lifecycle state) is never active while waiting for a reset, ready or done, nor when an
    episode begins or its bag closes; while it may be active out of running a Halt is out or due; it is
    active while running, only with an open bag; no episode runs past its limit at a tick; each record has
    the outcome that ended it; the session is done exactly after N judged episodes or a quit."""
    session = RobotSession(SessionConfig(episodes=episodes, time_limit_s=limit_s))
    m = {"now": 0, "t0": 0, "active": False, "bag": False, "begin": False, "halts": 0, "finish": False}
    m.update(quit=False, outcome=None)

    def apply(commands):
        for c in commands:
            if isinstance(c, Begin):
                assert not m["bag"] and not m["active"] and not m["begin"] and not m["finish"]
                m["begin"] = True
            elif isinstance(c, Halt):
                m["halts"] += 1
            elif isinstance(c, Finish):
                assert m["bag"] and not m["active"] and not m["finish"], (c, m)  # policy off before the bag closes
                m["finish"], m["outcome"] = True, c.outcome

    def report(result):
        now = m["now"]
        if m["begin"]:
            m["begin"] = False
            if result == "bag_fails":
                return apply(session.start_failed("disk", bag_open=False, now_ns=now))
            m["bag"] = True
            if result in ("activate_fails", "activate_lost"):
                m["active"] = result == "activate_lost"
                return apply(session.start_failed("refused", bag_open=True, now_ns=now))
            m["active"], m["t0"] = True, now
            return apply(session.started(now))
        if m["halts"]:
            m["halts"] -= 1
            ok = result != "deactivate_fails"
            m["active"] = m["active"] and not ok
            return apply(session.deactivated(not m["active"], "" if ok else "refused", now))
        if m["finish"]:
            m["bag"], m["finish"] = False, False
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
                assert session._outcome in (Outcome(value.value), Outcome.TIMEOUT)
            apply(commands)
        elif kind == "tick":
            m["now"] += value
            apply(session.tick(m["now"]))
            if session.phase is Phase.RUNNING:
                assert m["now"] - m["t0"] < round(limit_s * S)
        if at_once:
            report(result)
        assert not (m["active"] and session.phase in IDLE), (session.phase, m)
        assert session.phase is not Phase.RUNNING or m["active"]
        assert not m["active"] or m["bag"]
        if m["active"] and session.phase not in (Phase.RUNNING, Phase.STARTING) and not m["halts"]:
            assert Halt() in copy.deepcopy(session).tick(m["now"] + OVERDUE_NS), "a failed deactivate is not retried"
        assert session.judged <= episodes
        summary = summarize(session.records, session.config)
        assert sum(summary["counts"].values()) == len(session.records)
        assert summary["episodes"] == session.judged
        if not (m["begin"] or m["finish"] or m["bag"]):
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
