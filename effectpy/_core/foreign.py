"""The cancellation token that `Effect.blocking` hands to code in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .ids import InterruptReason


class Signal:
    """A cancellation token handed to blocking code: set when its fiber is interrupted.

    Poll `is_set()`, block on `wait(timeout)`, or `add_callback(fn)`; `reason` says
    why the work was stopped.
    """

    __slots__ = ("_callbacks", "_event", "_lock", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason: InterruptReason | None = None

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until set or `timeout` seconds passed; whether it is set."""
        return self._event.wait(timeout)

    def add_callback(self, callback: Callable[[], None]) -> None:
        """Call `callback()` when the signal is set (at once, if it already is)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def set(self, reason: InterruptReason | None) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def __repr__(self) -> str:
        return f"<Signal set={self.is_set()} reason={self.reason}>"
