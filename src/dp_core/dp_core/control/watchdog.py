"""May the executor move? What it knows of the robot state and the policy, without any ROS.

Rules (each one a reason to stop and hold):
- the policy must be active: its last PolicyStatus says "active" and is younger than
  ``policy_status_timeout_s`` (a policy that goes silent is not active);
- a valid measured state must exist: finite and complete for the configured dimensions;
- it must be fresh: age = the older of (now - stamp) and (now - receipt), at most
  ``max_state_age_s``; a stamp more than ``max_state_future_s`` ahead of now is invalid, so a
  clock that runs ahead cannot keep a state "fresh";
- an invalid state never refreshes freshness, and until a valid one arrives it is itself a
  reason to stop (the robot's report cannot be trusted);
- a measured state outside the joint limits or the workspace box is a reason to stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dp_core.time_units import NS_PER_S


@dataclass(frozen=True)
class WatchdogConfig:
    """Times in seconds. ``require_policy_status=False`` treats a never-heard policy as active (for
    graphs without a policy node); a status once heard still times out."""

    max_state_age_s: float = 0.1
    max_state_future_s: float = 0.01
    policy_status_timeout_s: float = 1.5
    require_policy_status: bool = True

    def __post_init__(self) -> None:
        for attr in ("max_state_age_s", "policy_status_timeout_s"):
            value = getattr(self, attr)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{attr} must be a finite number > 0, got {value}")
        if not (np.isfinite(self.max_state_future_s) and self.max_state_future_s >= 0):
            raise ValueError(f"max_state_future_s must be a finite number >= 0, got {self.max_state_future_s}")


class Watchdog:
    """See the module doc. ``check(now_ns)`` returns "" (may move) or the reason to stop."""

    def __init__(self, config: WatchdogConfig = WatchdogConfig()) -> None:
        self.config = config
        self.measured: np.ndarray | None = None  # the newest valid state (action order)
        self._state_stamp_ns: int | None = None
        self._state_receipt_ns: int | None = None
        self._state_problem = ""  # the newest state was invalid / outside limits: why
        self._policy_state = ""
        self._policy_receipt_ns: int | None = None

    # ---- inputs --------------------------------------------------------------------------------
    def set_state(
        self, values: np.ndarray | None, stamp_ns: int, receipt_ns: int, problem: str = "", outside: str = ""
    ) -> None:
        """A measured state arrived. ``problem``: it is invalid (values ignored, freshness kept);
        ``outside``: valid but outside the limits (fresh, and a reason to stop)."""
        if not problem and stamp_ns > receipt_ns + self.config.max_state_future_s * NS_PER_S:
            problem = (
                f"robot state stamped {(stamp_ns - receipt_ns) / NS_PER_S:.3f} s in the future "
                f"> max_state_future_s {self.config.max_state_future_s:g} (clocks out of sync?)"
            )
        if problem or values is None:
            self._state_problem = problem or "robot state invalid"
            return
        self.measured = np.asarray(values, dtype=np.float64).copy()
        self._state_stamp_ns, self._state_receipt_ns = int(stamp_ns), int(receipt_ns)
        self._state_problem = outside

    def set_policy_state(self, lifecycle_state: str, receipt_ns: int) -> bool:
        """A PolicyStatus arrived; True when it makes the policy active (an activation)."""
        was_active = self.policy_active(receipt_ns)
        self._policy_state, self._policy_receipt_ns = lifecycle_state, int(receipt_ns)
        return not was_active and self.policy_active(receipt_ns)

    # ---- decisions -----------------------------------------------------------------------------
    def policy_active(self, now_ns: int) -> bool:
        if self._policy_receipt_ns is None:
            return not self.config.require_policy_status
        fresh = now_ns - self._policy_receipt_ns <= self.config.policy_status_timeout_s * NS_PER_S
        return fresh and self._policy_state == "active"

    def policy_reason(self, now_ns: int) -> str:
        if self._policy_receipt_ns is None:
            return "" if not self.config.require_policy_status else "no policy status received"
        age_s = (now_ns - self._policy_receipt_ns) / NS_PER_S
        if age_s > self.config.policy_status_timeout_s:
            return f"policy status silent for {age_s:.3f} s > policy_status_timeout_s {self.config.policy_status_timeout_s:g}"
        return "" if self._policy_state == "active" else f"policy {self._policy_state or 'not active'}"

    def state_reason(self, now_ns: int) -> str:
        if self._state_problem:
            return self._state_problem
        if self._state_stamp_ns is None or self._state_receipt_ns is None:
            return "no robot state received"
        age_s = (now_ns - min(self._state_stamp_ns, self._state_receipt_ns)) / NS_PER_S
        if age_s > self.config.max_state_age_s:
            return f"robot state stale: {age_s:.3f} s old > max_state_age_s {self.config.max_state_age_s:g}"
        return ""

    def check(self, now_ns: int) -> str:
        return self.policy_reason(now_ns) or self.state_reason(now_ns)
