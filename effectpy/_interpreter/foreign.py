"""Foreign work a fiber waits for: coroutines (asyncio) and blocking functions (threads).

Both are `Supervised` runs (`supervise.py`): starting parks the fiber; the work's
completion resumes it on the scheduler thread. If the fiber is interrupted meanwhile,
the work is asked to stop (the asyncio task is cancelled; the thread's `Signal` is set
with the interruption's reason, and a call still queued in the pool is cancelled so it
never starts) and waited for, so nothing outlives the fiber that started it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from .._core import opcodes as op
from .._core.cause import Cause
from .._core.foreign import Signal
from .._core.scheduler import FatalInCoroutine
from .loop import FiberRuntime, async_node, fail_node, handles, succeed_node
from .supervise import UNIT, Supervised

Catch = type[BaseException] | tuple[type[BaseException], ...] | None

FATAL: Final = (KeyboardInterrupt, SystemExit)
"""What foreign work may raise that is not a defect: it shuts the runtime down, as
when `Effect.sync` raises it (`FiberRuntime._shutdown`), and the runner re-raises it."""


class _Raise:
    """A SYNC node whose thunk raises `error`: the fiber meets it as if its own code
    had raised it, on its own thread."""

    __slots__ = ("error",)
    _op: Final = op.SYNC

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def thunk(self) -> Any:
        raise self.error


def _fatal(supervised: Supervised, error: BaseException | None) -> bool:
    """If `error` is a Ctrl-C or `SystemExit` (maybe carried out of a coroutine),
    hand it to the fiber (or, if the fiber is being interrupted, straight to the
    scheduler) and say so."""
    if isinstance(error, FatalInCoroutine):
        error = error.error
    if not isinstance(error, FATAL):
        return False
    supervised.fiber.scheduler.fatal_error(error)  # even if `finish` drops the outcome
    supervised.finish(_Raise(error))
    return True


def _outcome(error: BaseException | None, value: object, catch: Catch) -> Any:
    if error is None:
        return succeed_node(value)
    if catch is not None and isinstance(error, catch):
        return fail_node(Cause.fail(error))
    return fail_node(Cause.die(error))


class CoroutineRun(Supervised):
    """`Effect.promise` / `try_promise`: await a coroutine made by `make()`."""

    __slots__ = ("_catch", "_handle", "_make")

    def __init__(
        self, fiber: FiberRuntime, make: Callable[[], Awaitable[Any]], catch: Catch
    ) -> None:
        super().__init__(fiber)
        self._make = make
        self._catch = catch
        self._handle: Any = None

    def start(self) -> None:
        awaitable = self._make()
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"Effect.promise expects a function returning a coroutine, "
                f"it returned {type(awaitable).__name__}"
            )
        self._handle = self.fiber.scheduler.start_coroutine(awaitable, self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            if self.stopping:
                self.finish(UNIT)
                return
            error: BaseException | None = asyncio.CancelledError(
                "the coroutine was cancelled by someone other than effectpy"
            )
            self.finish(_outcome(error, None, None))
            return
        error = task.exception()
        if _fatal(self, error):
            return
        self.finish(_outcome(error, None if error else task.result(), self._catch))

    def stop(self) -> None:
        self._handle.cancel()


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


class BlockingRun(Supervised):
    """`Effect.blocking`: run `fn(signal)` in the thread pool."""

    __slots__ = ("_catch", "_fn", "_future", "_signal")

    def __init__(self, fiber: FiberRuntime, fn: Callable[[Signal], Any], catch: Catch) -> None:
        super().__init__(fiber)
        self._fn = fn
        self._catch = catch
        self._signal = Signal()
        self._future: Future[Any] | None = None

    def start(self) -> None:
        future = self._future = blocking_executor().submit(self._fn, self._signal)
        scheduler = self.fiber.scheduler
        future.add_done_callback(lambda f: scheduler.call_threadsafe(lambda: self._done(f)))

    def _done(self, future: Future[Any]) -> None:
        if future.cancelled():  # it never started: `stop` cancelled it, or the pool did
            if self.stopping:
                self.finish(UNIT)
            else:
                cancelled = RuntimeError("the thread pool cancelled the call before it started")
                self.finish(_outcome(cancelled, None, None))
            return
        error = future.exception()
        if _fatal(self, error):
            return
        self.finish(_outcome(error, None if error else future.result(), self._catch))

    def stop(self) -> None:
        interrupted = self.fiber._interrupt_cause
        reason = None
        if interrupted is not None:
            first = interrupted.interruptions()
            reason = first[0].reason if first else None
        self._signal.set(reason)
        assert self._future is not None
        self._future.cancel()  # still queued: it never starts (its callback finishes)


@handles(op.PROMISE)
def run_promise(fiber: FiberRuntime, node: Any) -> Any:
    return async_node(CoroutineRun(fiber, node.make, node.catch).register)


@handles(op.BLOCKING)
def run_blocking(fiber: FiberRuntime, node: Any) -> Any:
    return async_node(BlockingRun(fiber, node.fn, node.catch).register)
