"""Foreign work a fiber waits for: coroutines (asyncio) and blocking functions (threads).

Both follow the same shape: `register` starts the work and parks the fiber; the work's
completion resumes it on the scheduler thread. If the fiber is interrupted meanwhile,
the canceller asks the work to stop (the asyncio task is cancelled; the thread's
`Signal` is set with the interruption's reason) and waits until it really has stopped,
so nothing outlives the fiber that started it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .cause import Cause
from .fiber_runtime import FiberRuntime, Resume, async_node, fail_node, succeed_node
from .ids import InterruptReason

Catch = type[BaseException] | tuple[type[BaseException], ...] | None


def _outcome(error: BaseException | None, value: object, catch: Catch) -> Any:
    if error is None:
        return succeed_node(value)
    if catch is not None and isinstance(error, catch):
        return fail_node(Cause.fail(error))
    return fail_node(Cause.die(error))


class CoroutineRun:
    """`Effect.promise` / `try_promise`: await a coroutine made by `make()`."""

    __slots__ = ("_catch", "_fiber", "_handle", "_make", "_on_stopped", "_resume")

    def __init__(
        self, fiber: FiberRuntime, make: Callable[[], Awaitable[Any]], catch: Catch
    ) -> None:
        self._fiber = fiber
        self._make = make
        self._catch = catch
        self._handle: Any = None
        self._resume: Resume | None = None
        self._on_stopped: Resume | None = None

    def register(self, resume: Resume) -> object:
        awaitable = self._make()
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"Effect.promise expects a function returning a coroutine, "
                f"it returned {type(awaitable).__name__}"
            )
        self._resume = resume
        self._handle = self._fiber.scheduler.start_coroutine(awaitable, self._done)
        return async_node(self._cancel)

    def _done(self, task: asyncio.Future[Any]) -> None:
        if self._on_stopped is not None:
            self._on_stopped(succeed_node(None))
            return
        assert self._resume is not None
        if task.cancelled():
            error: BaseException | None = asyncio.CancelledError(
                "the coroutine was cancelled by someone other than effectpy"
            )
            self._resume(_outcome(error, None, None))
            return
        error = task.exception()
        self._resume(_outcome(error, None if error else task.result(), self._catch))

    def _cancel(self, resume: Resume) -> None:
        self._on_stopped = resume
        self._handle.cancel()


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


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def blocking_executor() -> ThreadPoolExecutor:
    """The shared pool for `Effect.blocking` (created on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=min(64, (os.cpu_count() or 1) + 16),
                thread_name_prefix="effectpy-blocking",
            )
        return _executor


class BlockingRun:
    """`Effect.blocking`: run `fn(signal)` in the thread pool."""

    __slots__ = ("_catch", "_fiber", "_fn", "_on_stopped", "_resume", "_signal")

    def __init__(self, fiber: FiberRuntime, fn: Callable[[Signal], Any], catch: Catch) -> None:
        self._fiber = fiber
        self._fn = fn
        self._catch = catch
        self._signal = Signal()
        self._resume: Resume | None = None
        self._on_stopped: Resume | None = None

    def register(self, resume: Resume) -> object:
        self._resume = resume
        future = blocking_executor().submit(self._fn, self._signal)
        scheduler = self._fiber.scheduler
        future.add_done_callback(lambda f: scheduler.call_threadsafe(lambda: self._done(f)))
        return async_node(self._cancel)

    def _done(self, future: Future[Any]) -> None:
        if self._on_stopped is not None:
            self._on_stopped(succeed_node(None))
            return
        assert self._resume is not None
        error = future.exception()
        self._resume(_outcome(error, None if error else future.result(), self._catch))

    def _cancel(self, resume: Resume) -> None:
        self._on_stopped = resume
        interrupted = self._fiber._interrupt_cause
        reason = None
        if interrupted is not None:
            first = interrupted.interruptions()
            reason = first[0].reason if first else None
        self._signal.set(reason)
