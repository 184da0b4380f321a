"""Operator input of a robot evaluation: terminal lines and gamepad buttons → session events.

Lines, not raw keys: a line from stdin works over ssh, in tmux and from a script alike.
Buttons follow sensor_msgs/Joy as joystick_drivers' ``joy_node`` publishes it (joy/src/joy.cpp,
game_controller.cpp): ``buttons`` is an int array, 1 while held; the whole state is republished at
``autorepeat_rate`` (20 Hz by default) and shrinks to [] when the pad is unplugged. So an event is
a rising edge (0 → 1) of its button, never a held state. With joy's ``sticky_buttons`` a press
toggles the value and only every other press is an edge: keep it off. A, B, X, Y are buttons 0-3
in both joy_node (SDL joystick, Xbox pads) and game_controller_node (SDL_CONTROLLER_BUTTON_*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dp_core.evaluation.robot_session import Event

KEYWORDS: dict[str, Event] = {
    "r": Event.RESET_DONE,
    "reset": Event.RESET_DONE,
    "s": Event.START,
    "start": Event.START,
    "x": Event.STOP,
    "stop": Event.STOP,
    "y": Event.SUCCESS,
    "success": Event.SUCCESS,
    "n": Event.FAILURE,
    "f": Event.FAILURE,
    "failure": Event.FAILURE,
    "q": Event.QUIT,
    "quit": Event.QUIT,
}


def parse_line(line: str) -> Event | None:
    """One terminal line → event; None for an empty or unknown line (the caller re-prompts)."""
    return KEYWORDS.get(line.strip().lower())


@dataclass(frozen=True)
class OperatorButtons:
    """Joy button index per event, -1 for none. One button may serve several events (by default A
    confirms the reset and then starts): the session takes the one its phase accepts."""

    reset: int = 0  # A
    start: int = 0  # A
    stop: int = 2  # X
    success: int = 1  # B
    failure: int = 3  # Y
    quit: int = -1

    def __post_init__(self) -> None:
        for name, index in self.by_event().items():
            if int(index) != index or index < -1:
                raise ValueError(f"button for {name.value} must be an index >= 0 or -1 (none), got {index}")
        judged = [b for b in (self.stop, self.success, self.failure) if b >= 0]
        if len(judged) != len(set(judged)):
            raise ValueError(f"stop, success and failure need different buttons, got {judged}")

    def by_event(self) -> dict[Event, int]:
        return {
            Event.RESET_DONE: self.reset,
            Event.START: self.start,
            Event.STOP: self.stop,
            Event.SUCCESS: self.success,
            Event.FAILURE: self.failure,
            Event.QUIT: self.quit,
        }


class ButtonEdges:
    """Joy button arrays in arrival order → the events whose button went 0 → 1."""

    def __init__(self, buttons: OperatorButtons) -> None:
        self.buttons = buttons
        self._previous: tuple[int, ...] = ()

    def update(self, state: Sequence[int]) -> list[Event]:
        current = tuple(int(b) for b in state)
        events = [
            event
            for event, index in self.buttons.by_event().items()
            if index >= 0 and _held(current, index) and not _held(self._previous, index)
        ]
        self._previous = current
        return events


def _held(state: Sequence[int], index: int) -> bool:
    return index < len(state) and state[index] != 0
