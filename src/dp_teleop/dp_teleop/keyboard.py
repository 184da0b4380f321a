"""Keyboard teleoperation from a terminal (raw mode; works over ssh).

Terminals report key presses, not releases: a key drives its direction for ``hold_s`` after
its last (auto-repeated) press, then the command returns to zero, so releasing a key stops
the robot within ``hold_s``. Keys: w/s ±x, a/d ±y, r/f ±z, q/e ±yaw, 1 start episode,
2 keep (success), 3 keep (failure), 0 discard, space stop now.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from dataclasses import dataclass

import numpy as np

from dp_teleop.mapping import ZERO_TWIST, EpisodeEvent, TeleopLimits, normalized_to_twist

MOTION_KEYS: dict[str, tuple[int, float]] = {
    "w": (0, 1.0),
    "s": (0, -1.0),
    "a": (1, 1.0),
    "d": (1, -1.0),
    "r": (2, 1.0),
    "f": (2, -1.0),
    "q": (5, 1.0),
    "e": (5, -1.0),
}
EVENT_KEYS = {
    "1": EpisodeEvent.START,
    "2": EpisodeEvent.KEEP_SUCCESS,
    "3": EpisodeEvent.KEEP_FAILURE,
    "0": EpisodeEvent.DISCARD,
}


@dataclass(frozen=True)
class KeyboardConfig:
    hold_s: float = 0.3
    speed_fraction: float = 0.5  # of the speed limits

    def __post_init__(self) -> None:
        if not 0 < self.hold_s <= 2.0:
            raise ValueError(f"hold_s must be in (0, 2] s, got {self.hold_s}")
        if not 0 < self.speed_fraction <= 1:
            raise ValueError(f"speed_fraction must be in (0, 1], got {self.speed_fraction}")


class KeyboardMapper:
    """Key presses (with their time) → current twist and episode events."""

    def __init__(self, config: KeyboardConfig, limits: TeleopLimits) -> None:
        self.config, self.limits = config, limits
        self._last_press: dict[int, tuple[float, float]] = {}  # component -> (time, sign)

    def press(self, key: str, now_s: float) -> EpisodeEvent | None:
        key = key.lower()
        if key == " ":
            self._last_press.clear()
        elif key in MOTION_KEYS:
            component, sign = MOTION_KEYS[key]
            self._last_press[component] = (now_s, sign)
        return EVENT_KEYS.get(key)

    def twist(self, now_s: float) -> np.ndarray:
        normalized = np.zeros(6)
        for component, (t, sign) in self._last_press.items():
            if now_s - t <= self.config.hold_s:
                normalized[component] = sign * self.config.speed_fraction
        return normalized_to_twist(normalized, self.limits) if normalized.any() else ZERO_TWIST.copy()


class RawTerminal:
    """Context manager: stdin in cbreak mode (no echo, no line buffering), restored on exit."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._saved: list | None = None

    def __enter__(self) -> RawTerminal:
        if not os.isatty(self.fd):
            raise RuntimeError("keyboard teleop needs an interactive terminal (stdin is not a tty)")
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        return self

    def read_keys(self, timeout_s: float) -> str:
        """Keys typed within ``timeout_s`` ('' when none)."""
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        return os.read(self.fd, 64).decode(errors="ignore") if ready else ""

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
