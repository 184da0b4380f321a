"""When the executor must hold instead of commanding: the decision, without any ROS.

The node feeds it what it knows each tick (policy active?, plan state, age of the last robot
state) and publishes the hold/ok reason in its status; holding means repeating the last safe
command, never moving on stale data.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class WatchdogConfig:
    """``state_timeout_s``: the robot state must be newer than this; ``require_state``: no state at
    all also holds (False for setups without state feedback, e.g. open-loop sim tests)."""

    state_timeout_s: float = 0.1
    require_state: bool = True

    def __post_init__(self) -> None:
        if not self.state_timeout_s > 0:
            raise ValueError(f"state_timeout_s must be > 0, got {self.state_timeout_s}")


@dataclass(frozen=True)
class WatchdogDecision:
    hold: bool
    reason: str

    @property
    def ok(self) -> bool:
        return not self.hold


class Watchdog:
    """Pure hold/ok decision; ``changed`` tells whether the reason differs from the previous check
    (so the node logs transitions once instead of every tick)."""

    def __init__(self, config: WatchdogConfig = WatchdogConfig()) -> None:
        self.config = config
        self.last: WatchdogDecision | None = None
        self.changed = False

    def check(
        self,
        now_ns: int,
        *,
        policy_active: bool,
        plan_exhausted: bool,
        last_state_ns: int | None,
    ) -> WatchdogDecision:
        decision = self._decide(now_ns, policy_active, plan_exhausted, last_state_ns)
        self.changed = self.last is None or self.last.reason != decision.reason
        self.last = decision
        return decision

    def _decide(self, now_ns: int, policy_active: bool, plan_exhausted: bool, last_state_ns: int | None) -> WatchdogDecision:
        if not policy_active:
            return WatchdogDecision(True, "policy inactive")
        if last_state_ns is None:
            if self.config.require_state:
                return WatchdogDecision(True, "no robot state received")
        else:
            age_s = (now_ns - last_state_ns) / NS_PER_S
            if age_s > self.config.state_timeout_s:
                return WatchdogDecision(
                    True, f"robot state stale: {age_s:.3f} s old > state_timeout_s {self.config.state_timeout_s:g}"
                )
        if plan_exhausted:
            return WatchdogDecision(True, "plan exhausted (no new chunk)")
        return WatchdogDecision(False, "ok")
