"""Schedulers: where ready fibers wait for their turn, and where timers live.

A scheduler owns a ready queue that it drains in batches on one thread (the scheduler
thread). Two drivers share that core:

* `SyncScheduler` is driven by `run_sync`: a minimal loop of its own (ready queue, timer
  heap, a thread-safe inbox that wakes it up), so pure and timer-based programs never
  pay for asyncio.
* `AsyncioScheduler` is driven by a running asyncio loop (`run_async`): draining happens
  in a `call_soon` callback, timers are the loop's own `call_later`.

Foreign threads never touch a fiber directly: they post a callback with
`call_threadsafe`, which runs on the scheduler thread.

With a `seed`, the ready queue is shuffled before each batch: a deterministic way to run
concurrency tests under many interleavings.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import queue
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, Protocol

from .refs import NEW

if TYPE_CHECKING:
    from .._interpreter.loop import FiberRuntime

DEFAULT_BUDGET = 2048
"""Ops a fiber runs before it yields to the others."""

IDLE_WARNING_SECONDS = 5.0
"""How long a sync driver waits with nothing to run, while an idle hint has something
to say (a `TestClock` with sleepers that nothing adjusts), before it logs the hint."""


_schedulers: weakref.WeakSet[Scheduler] = weakref.WeakSet()
_schedulers_lock = threading.Lock()


def live_fiber_count() -> int:
    """Fibers not yet done, over every scheduler in the process (for tests and
    diagnostics: after `run_sync` returns, its fibers are all done)."""
    with _schedulers_lock:
        schedulers = list(_schedulers)
    return sum(scheduler.live_fiber_count() for scheduler in schedulers)


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler:
    """The shared core: a ready queue of fibers and the fiber loop's settings."""

    __slots__ = (
        "__weakref__",
        "_idle_hints",
        "_rng",
        "budget",
        "daemons",
        "drain_pending",
        "escape",
        "fatal",
        "on_fatal",
        "ready",
        "rounds_and_ticks",
        "thread_id",
    )

    def __init__(self, *, budget: int = DEFAULT_BUDGET, seed: int | None = None) -> None:
        if budget < 1:
            raise ValueError(f"budget must be a positive number of ops, got {budget}")
        self.ready: deque[FiberRuntime] = deque()
        self.budget = budget
        rounds, ticks = divmod(budget - 1, 256)
        self.rounds_and_ticks = (rounds, ticks + 1)
        """`budget` as the fiber loop counts it (see `FiberRuntime.run`): 1 to 256 ops,
        then `rounds` more of 256. (A budget of 2048 is 256 ops and 7 rounds, so a
        fiber that ends in fewer than 256 ops never refills its count.)"""
        self.daemons: dict[FiberRuntime, None] = {}
        """Running fibers that have no parent (the roots and `fork_daemon` fibers).
        Every other running fiber is in the `children` of a running parent (a parent
        ends after its children), so these are the roots of every live fiber: none is
        live when this is empty."""
        self.thread_id = threading.get_ident()
        self._rng = None if seed is None else random.Random(seed)
        self.fatal: BaseException | None = None
        self.on_fatal: Callable[[], None] | None = None
        """Called when `fatal` is first set: a runner that does not watch `fatal`
        between steps (`run_async`) interrupts its root from there."""
        self.escape: BaseException | None = None
        """The exception of a second Ctrl-C during a teardown (see `runtime.py`): not
        remembered like `fatal`, it leaves the scheduler at once, wherever it lands."""
        self._idle_hints: list[Callable[[], str | None]] = []
        self.drain_pending = True
        """Whether a drain of the ready queue is arranged already. Always, for a driver
        that drains in a loop; `schedule` is then just an append, which the hottest
        callers (`new_fiber`) make themselves."""
        with _schedulers_lock:
            _schedulers.add(self)

    def fibers(self) -> list[FiberRuntime]:
        """Every fiber of this scheduler that is not done: the trees under `daemons`
        (roots first), started or not yet. Safe from another thread: each dict is
        copied in one step, under the GIL."""
        found: list[FiberRuntime] = []
        pending = list(self.daemons)
        while pending:
            fiber = pending.pop()
            found.append(fiber)
            children = fiber.children
            if children:
                pending.extend(list(children))
        return found

    def live_fiber_count(self) -> int:
        """How many fibers are started and not done. (A walk, for tests and
        diagnostics: counting on every fork and end would cost the hot path two int
        updates per fiber.)"""

        return sum(1 for fiber in self.fibers() if fiber._state != NEW)

    def add_idle_hint(self, hint: Callable[[], str | None]) -> None:
        """Register `hint` (once): if the driver ever waits with nothing to run and only
        another thread able to wake it, `hint()` may explain why (None: nothing to say).
        A `TestClock` registers one when a fiber of this scheduler sleeps on it."""
        if hint not in self._idle_hints:
            self._idle_hints.append(hint)

    def _idle_warning(self) -> str | None:
        """What the idle hints say, as one message (None if none has anything)."""
        said = [text for hint in self._idle_hints if (text := hint()) is not None]
        return " ".join(said) if said else None

    def fatal_error(self, exc: BaseException) -> None:
        """Remember a `KeyboardInterrupt`/`SystemExit` raised inside a fiber; the
        runner tears everything down and then re-raises the first one. The `escape`
        exception is raised again at once: the user asked not to wait any more."""
        if exc is self.escape:
            raise exc
        if self.fatal is None:
            self.fatal = exc
            if self.on_fatal is not None:
                self.on_fatal()

    def schedule(self, fiber: FiberRuntime) -> None:
        """Put `fiber` at the back of the ready queue (scheduler thread only)."""
        self.ready.append(fiber)
        if not self.drain_pending:
            self.arrange_drain()

    def arrange_drain(self) -> None:
        """See that the ready queue is drained soon (`drain_pending` is False)."""

    def drain(self) -> None:
        """Run one batch: the fibers that are ready now (not those they wake up).

        Drivers call this in a loop and look at timers and other threads in between,
        so a busy fiber (which re-queues itself every `budget` ops) starves nothing.
        """
        ready = self.ready
        count = len(ready)
        if self._rng is not None and count > 1:
            batch = list(ready)
            self._rng.shuffle(batch)
            ready.clear()
            ready.extend(batch)
        popleft = ready.popleft
        for _ in range(count):
            popleft().run()

    def on_scheduler_thread(self) -> bool:
        return threading.get_ident() == self.thread_id

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        raise NotImplementedError

    def call_threadsafe(self, callback: Callable[[], None]) -> None:
        raise NotImplementedError

    def start_coroutine(
        self, awaitable: Awaitable[Any], on_done: Callable[[asyncio.Future[Any]], None]
    ) -> TaskHandle:
        """Run `awaitable` as an asyncio task; call `on_done(task)` on this scheduler's
        thread once it has finished (also after a cancel)."""
        raise NotImplementedError

    def close(self, *, wait: bool = True) -> None:
        """Release what the scheduler started (a helper event loop thread); without
        `wait`, only ask it to stop (a run abandoned by a second Ctrl-C)."""


class TaskHandle(Protocol):
    def cancel(self) -> Any: ...


MAX_WAIT_SECONDS = 86_400.0
"""The longest a sync driver blocks in one wait for its next timer; it then looks
again. (A deadline years away, or past what a thread wait accepts, is still kept.)"""

MAX_LOOP_DELAY_SECONDS = 100 * 365 * 86_400.0
"""The longest delay handed to an asyncio loop's `call_later`: about a century, as
uvloop clamps it, since a loop may not accept a larger one."""

MIN_COMPACTED_HEAP = 100
"""A timer heap is rebuilt without its cancelled entries once more than half of them
are cancelled and it holds at least this many (asyncio's rule)."""


class Timer:
    """A callback due at a deadline, waiting in a `TimerHeap` (or spent).

    `cancel()` drops the callback at once, and with it everything the callback holds
    (typically a parked fiber): a cancelled timer that waits in its heap for its
    deadline is a small empty shell, and the heap drops those in bulk (see
    `TimerHeap`). Firing drops the callback too, so a late `cancel()` is a no-op.
    """

    __slots__ = ("callback", "heap")

    def __init__(self, heap: TimerHeap | None, callback: Callable[[], None] | None) -> None:
        self.heap = heap
        self.callback = callback

    def cancel(self) -> None:
        if self.callback is None:
            return  # fired, cancelled already, or never due
        self.callback = None
        heap = self.heap
        if heap is not None:
            heap.cancelled += 1
            if heap.cancelled * 2 > len(heap.entries) >= MIN_COMPACTED_HEAP:
                heap.compact()


NEVER_DUE: Final = Timer(None, None)
"""The handle of a timer with an infinite delay: it never fires, so nothing is kept."""


class TimerHeap:
    """Timers by deadline: a heap of `(deadline, seq, timer)` entries, which compare
    in C (`seq` breaks ties in the order timers were set and never lets two timers be
    compared). Scheduler timers and the test clock share it.

    A cancelled entry stays in the heap, emptied (`Timer.cancel`), until it reaches
    the top, where it is popped, or until more than half of the heap is cancelled:
    then `compact` rebuilds the heap without them, so cancelled entries never outnumber
    live ones (beyond `MIN_COMPACTED_HEAP`) however far off their deadlines are.
    """

    __slots__ = ("cancelled", "entries", "seq")

    def __init__(self) -> None:
        self.entries: list[tuple[float, int, Timer]] = []
        self.cancelled = 0
        """How many entries are cancelled (their timer's callback is None)."""
        self.seq = itertools.count()

    def __len__(self) -> int:
        """How many entries the heap holds, cancelled ones included."""
        return len(self.entries)

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        """Call `callback` once `deadline` has passed; an infinite deadline never
        passes, so such a timer is not even kept."""
        if deadline == _INF:
            return NEVER_DUE
        timer = Timer(self, callback)
        heapq.heappush(self.entries, (deadline, next(self.seq), timer))
        return timer

    def next_deadline(self) -> float | None:
        """The deadline of the earliest timer that is not cancelled (None: none).
        Cancelled entries at the top are popped on the way."""
        entries = self.entries
        while entries:
            entry = entries[0]
            if entry[2].callback is not None:
                return entry[0]
            heapq.heappop(entries)
            self.cancelled -= 1
        return None

    def pop_due(self, now: float) -> tuple[float, Callable[[], None]] | None:
        """Take the earliest timer due at `now` (its deadline and callback, which the
        caller calls; the timer counts as fired), or None if none is due."""
        entries = self.entries
        while entries:
            deadline, _, timer = entries[0]
            callback = timer.callback
            if callback is None:
                heapq.heappop(entries)
                self.cancelled -= 1
            elif deadline <= now:
                heapq.heappop(entries)
                timer.callback = None
                return deadline, callback
            else:
                return None
        return None

    def run_due(self, now: float) -> None:
        """Fire, in deadline order, every timer due at `now`. (Timers their callbacks
        set are due later than `now`: they wait for the next call.)"""
        entries = self.entries
        heappop = heapq.heappop
        while entries:
            deadline, _, timer = entries[0]
            callback = timer.callback
            if callback is None:
                heappop(entries)
                self.cancelled -= 1
            elif deadline <= now:
                heappop(entries)
                timer.callback = None
                callback()
            else:
                return

    def compact(self) -> None:
        """Rebuild the heap without its cancelled entries (in place: a caller may be
        popping from it)."""
        entries = self.entries
        entries[:] = [entry for entry in entries if entry[2].callback is not None]
        heapq.heapify(entries)
        self.cancelled = 0

    def deadlines(self) -> list[float]:
        """The deadlines of the timers not cancelled, earliest first."""
        return sorted(entry[0] for entry in self.entries if entry[2].callback is not None)


_INF: Final = math.inf
_new = object.__new__


class SyncScheduler(Scheduler):
    """Driven by `run_until`: ready queue, timer heap, a thread-safe inbox."""

    __slots__ = ("_aio_loop", "_aio_thread", "_inbox", "timers", "wake_every")

    def __init__(self, *, budget: int = DEFAULT_BUDGET, seed: int | None = None) -> None:
        super().__init__(budget=budget, seed=seed)
        self.timers = TimerHeap()
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._aio_loop: asyncio.AbstractEventLoop | None = None
        self._aio_thread: threading.Thread | None = None
        self.wake_every: float | None = None
        """The longest the driver waits for its inbox in one go (None: no limit). A
        runner that installs a signal handler sets it: Python runs a handler between
        bytecodes, and a signal that lands just before a lock wait begins does not
        interrupt the wait, so a bounded wait is what makes the handler run promptly
        (it posts to the inbox: `SimpleQueue.put` is safe in a signal handler)."""

    def start_coroutine(
        self, awaitable: Awaitable[Any], on_done: Callable[[asyncio.Future[Any]], None]
    ) -> TaskHandle:
        # No asyncio loop runs on this thread: coroutines run on a helper loop in a
        # thread of its own, started the first time one is needed.
        loop = self._aio_loop
        if loop is None:
            loop = self._aio_loop = asyncio.new_event_loop()
            self._aio_thread = threading.Thread(
                target=loop.run_forever, name="effectpy-asyncio", daemon=True
            )
            self._aio_thread.start()
        handle = _ForeignTask(loop)

        def create() -> None:
            task = _create_task(loop, awaitable)
            task.add_done_callback(lambda t: self.call_threadsafe(lambda: on_done(t)))
            handle.attach(task)

        loop.call_soon_threadsafe(create)
        return handle

    def close(self, *, wait: bool = True) -> None:
        loop, thread = self._aio_loop, self._aio_thread
        if loop is None or thread is None:
            return
        self._aio_loop = self._aio_thread = None
        loop.call_soon_threadsafe(loop.stop)
        if not wait:
            return
        thread.join()
        loop.close()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        # `TimerHeap.call_at`, inlined: every sleep and timeout comes through here.
        deadline = time.monotonic() + delay if delay > 0.0 else time.monotonic()
        if deadline == _INF:
            return NEVER_DUE
        timers = self.timers
        timer = _new(Timer)
        timer.heap = timers
        timer.callback = callback
        heapq.heappush(timers.entries, (deadline, next(timers.seq), timer))
        return timer

    def call_threadsafe(self, callback: Callable[[], None]) -> None:
        self._inbox.put(callback)

    def run_until(self, done: Callable[[], bool]) -> None:
        """Drive fibers, timers and the inbox until `done()` holds."""
        self.thread_id = threading.get_ident()
        inbox = self._inbox
        timers = self.timers
        while True:
            if self.ready:
                self.drain()
            if done():
                return
            while not inbox.empty():
                inbox.get_nowait()()
            if timers.entries:
                timers.run_due(time.monotonic())
            if self.ready:
                continue
            deadline = timers.next_deadline()
            if deadline is not None:
                # However far off the deadline (years, or past what a thread wait
                # accepts), wait at most a day at a time (`_receive` bounds it more).
                wait = min(max(deadline - time.monotonic(), 0.0), MAX_WAIT_SECONDS)
                callback = self._receive(wait)
                if callback is not None:
                    callback()
            else:
                # Nothing ready, no timer: only another thread can wake us now.
                self._wait_for_another_thread()

    def _receive(self, timeout: float | None) -> Callable[[], None] | None:
        """The next callback another thread posted, waiting at most `timeout` seconds
        (None: as long as it takes) and at most `wake_every`; None if none came."""
        bound = self.wake_every
        if bound is not None and (timeout is None or timeout > bound):
            timeout = bound
        if timeout is not None and timeout > threading.TIMEOUT_MAX:
            timeout = threading.TIMEOUT_MAX
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def _wait_for_another_thread(self) -> None:
        """Wait for a callback from another thread. If one does not come soon and an
        idle hint explains the wait (a fiber asleep on a `TestClock` nothing adjusts),
        log it once as a warning, then go on waiting: a program that would otherwise
        hang in silence says why."""
        warn_at = time.monotonic() + IDLE_WARNING_SECONDS if self._idle_hints else None
        while True:
            timeout = None if warn_at is None else max(warn_at - time.monotonic(), 0.0)
            callback = self._receive(timeout)
            if callback is not None:
                callback()
                return
            if warn_at is not None and time.monotonic() >= warn_at:
                warn_at = None
                warning = self._idle_warning()
                if warning is not None:
                    _logger.warning(
                        "effectpy: nothing has run for %gs. %s", IDLE_WARNING_SECONDS, warning
                    )


_logger = logging.getLogger("effectpy")


class AsyncioScheduler(Scheduler):
    """Driven by a running asyncio loop: draining is a `call_soon` callback."""

    __slots__ = ("loop",)

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        budget: int = DEFAULT_BUDGET,
        seed: int | None = None,
    ) -> None:
        super().__init__(budget=budget, seed=seed)
        self.loop = loop
        self.drain_pending = False

    def arrange_drain(self) -> None:
        self.drain_pending = True
        self.loop.call_soon(self._drain_soon)

    def _drain_soon(self) -> None:
        self.drain_pending = False
        self.drain()
        if self.ready and not self.drain_pending:
            # More work: give the asyncio loop a turn first, then continue.
            self.arrange_drain()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        if delay < MAX_LOOP_DELAY_SECONDS:
            return self.loop.call_later(delay, callback)  # (a delay < 0 is due at once)
        if delay == _INF:
            return NEVER_DUE
        return self.loop.call_later(MAX_LOOP_DELAY_SECONDS, callback)

    def call_threadsafe(self, callback: Callable[[], None]) -> None:
        self.loop.call_soon_threadsafe(callback)

    def start_coroutine(
        self, awaitable: Awaitable[Any], on_done: Callable[[asyncio.Future[Any]], None]
    ) -> TaskHandle:
        task = _create_task(self.loop, awaitable)
        task.add_done_callback(on_done)
        return task


class _ForeignTask:
    """A task on the helper loop; `cancel` may be called before the task exists."""

    __slots__ = ("_cancelled", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    def attach(self, task: asyncio.Task[Any]) -> None:  # on the helper loop's thread
        self._task = task
        if self._cancelled:
            task.cancel()

    def cancel(self) -> None:
        def cancel_on_loop() -> None:
            self._cancelled = True
            if self._task is not None:
                self._task.cancel()

        self._loop.call_soon_threadsafe(cancel_on_loop)


class FatalInCoroutine(Exception):
    """A coroutine raised `KeyboardInterrupt` or `SystemExit` (`error`). asyncio would
    let it stop the event loop (a helper loop's thread would die, and the fiber
    waiting for the coroutine with it); carried as an ordinary exception, it reaches
    the fiber, which treats it as one raised by `Effect.sync`."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except (KeyboardInterrupt, SystemExit) as exc:
        raise FatalInCoroutine(exc) from None


def _create_task(loop: asyncio.AbstractEventLoop, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
    """A task awaiting `awaitable`. A task cancelled before its first step never awaits
    it: a coroutine is then closed, so that it is not reported as never awaited."""
    task = loop.create_task(_as_coroutine(awaitable))
    if isinstance(awaitable, Coroutine):
        task.add_done_callback(lambda _: awaitable.close())
    return task
