"""One evaluation session on a robot, as a pure state machine: N judged episodes with a time limit.

Why pure: the order "bag open before the policy moves the arm, policy off before the bag closes",
the time limit and what counts as an episode decide what an evaluation means; they are tested here
without ROS, and the node (``dp_recorder.robot_eval_node``) only carries the commands out.

Phases of one episode::

    waiting_reset --reset--> ready --start--> starting --(bag open, policy active)--> running
    running --success/failure--> ending          (policy off, then the bag closes with the outcome)
    running --time limit------> ending           (outcome timeout)
    running --stop-----> stopped --success/failure--> ending   (policy off first, verdict after)
    ending --(policy confirmed off, bag closed)--> waiting_reset, or done after N judged episodes

The policy counts as off only once the adapter reports ``deactivated(True)`` (its lifecycle state read
back as inactive or unconfigured). Until then the bag stays open, no reset or start is taken, and a
failed or unanswered deactivate is retried (``Halt`` again) every ``RETRY_NS`` / ``OVERDUE_NS``.

``quit`` ends the session from any phase; an episode it interrupts is kept as ``aborted`` (never
counted). A start that fails before the policy is active returns to ``ready``; if the bag was
already open it is closed as ``aborted``. Times are integer ns on the node's clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

NS_PER_S = 1_000_000_000
RETRY_NS = NS_PER_S  # after a failed deactivate, the next attempt
OVERDUE_NS = 5 * NS_PER_S  # a deactivate unanswered this long is sent again


class Phase(StrEnum):
    WAITING_RESET = "waiting_reset"
    READY = "ready"
    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    ENDING = "ending"
    DONE = "done"


class Event(StrEnum):
    """What the operator can say (a key line or a gamepad button)."""

    RESET_DONE = "reset"
    START = "start"
    STOP = "stop"
    SUCCESS = "success"
    FAILURE = "failure"
    QUIT = "quit"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"
    ABORTED = "aborted"  # interrupted (quit, a failed start): kept as a bag, never counted


JUDGED = (Outcome.SUCCESS, Outcome.FAILURE, Outcome.TIMEOUT)


@dataclass(frozen=True)
class Begin:
    """Open the episode's bag, then activate the policy; report ``started`` or ``start_failed``."""

    episode: int


@dataclass(frozen=True)
class Halt:
    """Make sure the policy is inactive now (deactivate it when active; the executor stops the arm).

    The adapter reports ``deactivated(ok)``; the bag keeps recording meanwhile."""


@dataclass(frozen=True)
class Finish:
    """Close the bag with ``outcome`` (the policy is confirmed off by then); report ``finished``."""

    outcome: Outcome


Command = Begin | Halt | Finish


@dataclass(frozen=True)
class SessionConfig:
    episodes: int = 10
    time_limit_s: float = 60.0  # of policy running time per episode

    def __post_init__(self) -> None:
        if int(self.episodes) != self.episodes or self.episodes < 1:
            raise ValueError(f"episodes must be an integer >= 1, got {self.episodes}")
        if not (math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise ValueError(f"time_limit_s must be finite and > 0, got {self.time_limit_s}")


@dataclass(frozen=True)
class EpisodeRecord:
    index: int  # 1-based, in the order run (aborted ones included)
    outcome: Outcome
    duration_s: float  # policy running time: start to outcome, stop or time limit
    bag_path: str
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "outcome": self.outcome.value,
            "duration_s": round(self.duration_s, 3),
            "bag_path": self.bag_path,
            "note": self.note,
        }


@dataclass
class RobotSession:
    """Feed it operator events, clock ticks and the adapter's reports; it returns commands to carry out."""

    config: SessionConfig
    phase: Phase = Phase.WAITING_RESET
    records: list[EpisodeRecord] = field(default_factory=list)
    refused: str = ""  # why the last event was not taken ("" when it was)
    _t0_ns: int = 0
    _end_ns: int = 0
    _outcome: Outcome | None = None
    _quit: bool = False
    policy_off: bool = True  # confirmed inactive (the adapter starts the session with it so)
    alarm: str = ""  # why the policy is not confirmed off after a deactivate ("" when none failed)
    _halting: bool = False  # a Halt is wanted until deactivated(True)
    _retry_ns: int = 0  # when the tick sends the Halt again
    _close_waiting: bool = False  # ending: Finish once the policy is confirmed off

    @property
    def judged(self) -> int:
        return sum(r.outcome in JUDGED for r in self.records)

    @property
    def episode(self) -> int:
        """1-based number of the current (or next) judged episode."""
        return min(self.judged + 1, self.config.episodes)

    def prompt(self) -> str:
        k, n = self.episode, self.config.episodes
        prompt = {
            Phase.WAITING_RESET: f"episode {k}/{n}: reset the scene, then 'r' (or the reset button)",
            Phase.READY: f"episode {k}/{n}: 's' (or the start button) starts the policy",
            Phase.STARTING: f"episode {k}/{n}: starting (bag, then policy)",
            Phase.RUNNING: (
                f"episode {k}/{n} running (limit {self.config.time_limit_s:g} s): "
                "'y' success, 'n' failure, 'x' stop (judge after)"
            ),
            Phase.STOPPED: f"episode {k}/{n} stopped: 'y' success or 'n' failure",
            Phase.ENDING: f"episode {k}/{n}: closing the bag",
            Phase.DONE: f"done: {self.judged} episodes",
        }[self.phase]
        if self.alarm:  # loud, in every prompt until the policy is confirmed off
            return f"POLICY NOT CONFIRMED OFF ({self.alarm}), retrying: STOP THE ARM BY HAND. {prompt}"
        return prompt

    # ---- operator ----------------------------------------------------------------------------
    def handle(self, events: Event | Sequence[Event], now_ns: int) -> list[Command]:
        """The first of ``events`` this phase accepts (a button may mean reset or start, by phase).

        A verdict after the time limit, before the next tick, is too late: the episode is a timeout.
        """
        candidates = [events] if isinstance(events, Event) else list(events)
        was_running = self.phase is Phase.RUNNING
        expired = self.tick(now_ns)
        if was_running and self.phase is not Phase.RUNNING:
            self._quit = self._quit or Event.QUIT in candidates
            names = "/".join(e.value for e in candidates)
            self.refused = f"{names} came after the time limit: the episode is a timeout"
            return expired
        for event in candidates:  # (``expired`` here is at most a due Halt retry)
            commands = self._accept(event, int(now_ns))
            if commands is not None:
                self.refused = ""
                return expired + [c for c in commands if c not in expired]
        names = "/".join(e.value for e in candidates) or "nothing"
        self.refused = f"{names} ignored while {self.phase.value}"
        return expired

    def _accept(self, event: Event, now_ns: int) -> list[Command] | None:
        p = self.phase
        if event is Event.QUIT:
            return self._quit_now(now_ns)
        if p in (Phase.WAITING_RESET, Phase.READY) and not self.policy_off:
            return None  # never reached by this machine's own commands: a guard
        if p is Phase.WAITING_RESET and event is Event.RESET_DONE:
            self.phase = Phase.READY
            return []
        if p is Phase.READY and event is Event.START:
            self.phase, self.policy_off = Phase.STARTING, False  # activate may take effect from now on
            return [Begin(self.episode)]
        if p is Phase.RUNNING and event is Event.STOP:
            self.phase, self._end_ns = Phase.STOPPED, now_ns
            return self._halt(now_ns)
        if p in (Phase.RUNNING, Phase.STOPPED) and event in (Event.SUCCESS, Event.FAILURE):
            return self._end(Outcome(event.value), now_ns)
        return None

    def _quit_now(self, now_ns: int) -> list[Command]:
        self._quit = True
        if self.phase in (Phase.RUNNING, Phase.STOPPED):
            return self._end(Outcome.ABORTED, now_ns)
        if self.phase in (Phase.WAITING_RESET, Phase.READY):
            self.phase = Phase.DONE
        return []  # starting / ending: done once the adapter reports

    def _end(self, outcome: Outcome, now_ns: int) -> list[Command]:
        """Policy off (confirmed), then the bag closed: Finish now or once ``deactivated(True)`` comes."""
        was_running = self.phase is Phase.RUNNING
        if was_running:
            self._end_ns = now_ns
        self.phase, self._outcome = Phase.ENDING, outcome
        if self.policy_off:
            return [Finish(outcome)]
        self._close_waiting = True
        return self._halt(now_ns) if was_running or not self._halting else []  # stopped: its Halt is out

    def _halt(self, now_ns: int) -> list[Command]:
        self._halting, self._retry_ns = True, now_ns + OVERDUE_NS
        return [Halt()]

    # ---- clock -------------------------------------------------------------------------------
    def tick(self, now_ns: int) -> list[Command]:
        """Ends a running episode as ``timeout`` once its time limit has passed."""
        limit_ns = round(self.config.time_limit_s * NS_PER_S)
        if self.phase is Phase.RUNNING and int(now_ns) - self._t0_ns >= limit_ns:
            return self._end(Outcome.TIMEOUT, int(now_ns))
        if self._halting and int(now_ns) >= self._retry_ns:
            return self._halt(int(now_ns))  # failed or unanswered: again
        return []

    # ---- adapter reports ---------------------------------------------------------------------
    def started(self, now_ns: int) -> list[Command]:
        """The bag is open and the policy active: the time limit starts now."""
        self._expect(Phase.STARTING, "started")
        self.phase, self._t0_ns = Phase.RUNNING, int(now_ns)
        return self._end(Outcome.ABORTED, int(now_ns)) if self._quit else []

    def start_failed(self, reason: str, bag_open: bool, now_ns: int) -> list[Command]:
        """Back to ready, or (bag open) the episode ends as aborted.

        With the bag open the activate was sent: whatever its reply, the policy may be active (refused
        because it still was, a lost reply), so it is made inactive before the bag closes."""
        self._expect(Phase.STARTING, "start_failed")
        self.refused = f"start failed: {reason}"
        if bag_open:
            self._t0_ns = self._end_ns = int(now_ns)
            self.phase, self._outcome, self._close_waiting = Phase.ENDING, Outcome.ABORTED, True
            return self._halt(int(now_ns))
        self.policy_off = True  # no activate was sent
        self.phase = Phase.DONE if self._quit else Phase.READY
        return []

    def deactivated(self, ok: bool, reason: str, now_ns: int) -> list[Command]:
        """The adapter's answer to a Halt: ``ok`` when the policy's state was read back as inactive."""
        if not self._halting:
            return []  # a late answer to an attempt already confirmed
        if not ok:
            self.alarm, self._retry_ns = reason or "deactivate failed", int(now_ns) + RETRY_NS
            return []
        self.policy_off, self._halting, self.alarm = True, False, ""
        if self._close_waiting:
            self._close_waiting = False
            assert self._outcome is not None
            return [Finish(self._outcome)]
        return []

    def finished(self, bag_path: str, note: str = "") -> EpisodeRecord:
        """The bag is closed (``bag_path`` "" when closing failed, ``note`` says why)."""
        self._expect(Phase.ENDING, "finished")
        assert self._outcome is not None
        record = EpisodeRecord(
            index=len(self.records) + 1,
            outcome=self._outcome,
            duration_s=max(0, self._end_ns - self._t0_ns) / NS_PER_S,
            bag_path=bag_path,
            note=note,
        )
        self.records.append(record)
        self._outcome = None
        self.phase = Phase.DONE if self._quit or self.judged >= self.config.episodes else Phase.WAITING_RESET
        return record

    def _expect(self, phase: Phase, report: str) -> None:
        if self.phase is not phase:
            raise RuntimeError(f"'{report}' reported while {self.phase.value} (expected {phase.value})")
