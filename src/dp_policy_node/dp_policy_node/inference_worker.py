"""A dedicated thread that runs inference off the ROS executor ("the GPU executor").

ROS callbacks only ``submit()`` the newest input and return at once. The worker holds a single
pending slot: a newer input replaces a pending one (counted as dropped), so at most one inference
is in flight and the model always works on the newest observation. Which items are worth
inferring (staleness, replanning period) is decided before ``submit`` (``dp_core.policy.window_gate``).
No ROS imports: the policy node wires the callbacks to publishers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger(__name__)


class InferenceWorker(Generic[Item, Result]):
    """Runs ``infer(item)`` on its own thread for the newest submitted item.

    Args:
        infer: the long computation (model inference); may raise.
        on_result: called on the worker thread with (item, result) after each success.
        on_error: called on the worker thread with (item, exception) when ``infer`` raises.
        name: thread name (shows up in debuggers and logs).
    """

    def __init__(
        self,
        infer: Callable[[Item], Result],
        on_result: Callable[[Item, Result], None],
        on_error: Callable[[Item, BaseException], None],
        name: str = "inference",
    ) -> None:
        self._infer, self._on_result, self._on_error = infer, on_result, on_error
        self._name = name
        self._cond = threading.Condition()
        self._pending: Item | None = None
        self._has_pending = False
        self._running = False
        self._busy = False
        self._thread: threading.Thread | None = None
        self.submitted = 0
        self.dropped = 0
        self.completed = 0
        self.failed = 0

    @property
    def running(self) -> bool:
        return self._running

    @property
    def busy(self) -> bool:
        """True while an inference is in flight."""
        return self._busy

    def start(self) -> None:
        """Start the thread (no-op when it already runs)."""
        with self._cond:
            if self._running:
                return
            self._running = True
            self._has_pending, self._pending = False, None
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> bool:
        """Offer the newest input; never blocks on the model. Returns True when it replaced a pending one."""
        with self._cond:
            if not self._running:
                return False
            replaced = self._has_pending
            self._pending, self._has_pending = item, True
            self.submitted += 1
            self.dropped += int(replaced)
            self._cond.notify()
            return replaced

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Stop taking items and wait up to ``timeout_s`` for a running inference; True when stopped."""
        with self._cond:
            self._running = False
            self._has_pending, self._pending = False, None
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout=timeout_s)
        if thread.is_alive():
            log.warning("inference thread did not stop within %.1f s (inference still running)", timeout_s)
            return False
        return True

    def _next_item(self) -> tuple[bool, Item | None]:
        with self._cond:
            while self._running and not self._has_pending:
                self._cond.wait(timeout=0.5)
            if not self._running:
                return False, None
            item, self._pending, self._has_pending = self._pending, None, False
            self._busy = True
            return True, item

    def _loop(self) -> None:
        while True:
            ok, item = self._next_item()
            if not ok:
                return
            try:
                result = self._infer(item)  # type: ignore[arg-type]
            except Exception as exc:
                self.failed += 1
                self._busy = False
                self._report(self._on_error, item, exc)
                continue
            self.completed += 1
            self._busy = False
            if self._running:
                self._report(self._on_result, item, result)

    @staticmethod
    def _report(callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("inference worker callback %s failed", getattr(callback, "__name__", callback))
