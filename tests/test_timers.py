"""Timers: a cancelled timer lets go of its fiber at once, cancelled timers never pile
up in a heap, and no duration, however long (`math.inf` included), can crash a runner.

Each guarantee is checked on the live clock under `run_sync` (the scheduler's own
timer heap) and `run_async` (the asyncio loop's timers), and on a `TestClock`.
"""

from __future__ import annotations

import asyncio
import gc
import math
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

import pytest

from effectpy import (
    Clock,
    Do,
    Effect,
    Schedule,
    TestClock,
    gen,
    run_async,
    run_sync,
)
from effectpy._core.scheduler import MIN_COMPACTED_HEAP, NEVER_DUE, TimerHeap
from effectpy._interpreter.loop import FiberRuntime
from effectpy.clock import ClockService
from effectpy.effect import _with_fiber

A = TypeVar("A")

HOUR: Final = 3600.0

Runner = Literal["run_sync", "run_async", "TestClock"]
RUNNERS: Final[tuple[Runner, ...]] = ("run_sync", "run_async", "TestClock")
each_runner = pytest.mark.parametrize("runner", RUNNERS)


def run(runner: Runner, effect: Effect[A]) -> A:
    """Run `effect` on the live clock under `run_sync` or `run_async`, or under
    `run_sync` on a fresh `TestClock`."""
    if runner == "run_async":
        return asyncio.run(run_async(effect))
    if runner == "TestClock":
        return run_sync(TestClock.provide(effect))
    return run_sync(effect)


class WatchedClock:
    """A clock that passes every call on to `inner` and keeps a weak reference to
    each callback it is given: a test can see whether anything still holds one."""

    def __init__(self, inner: ClockService) -> None:
        self.inner = inner
        self.callbacks: list[weakref.ref[Callable[[], None]]] = []

    def now(self) -> float:
        return self.inner.now()

    def call_later(self, fiber: FiberRuntime, delay: float, callback: Callable[[], None]) -> Any:
        self.callbacks.append(weakref.ref(callback))
        return self.inner.call_later(fiber, delay, callback)


def collected(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


def coroutine_done() -> Effect[str]:
    """An effect that ends when a coroutine does: under `run_sync` the runner then
    waits for another thread (the helper event loop) with its timers as they are."""

    async def nothing() -> str:
        await asyncio.sleep(0)
        return "woken"

    return Effect.promise(nothing)


def timer_heap_size(runner: Runner) -> Effect[int]:
    """How many entries the heap the sleeps go to holds, cancelled ones included."""
    if runner == "TestClock":
        return TestClock.get().map(lambda clock: len(clock._timers))
    return _with_fiber(lambda fiber: Effect.succeed(len(fiber.scheduler.timers)))  # type: ignore[attr-defined]


# -- a cancelled timer lets go of its fiber --------------------------------------------


@each_runner
def test_an_interrupted_sleeper_is_freed_before_its_deadline(runner: Runner) -> None:
    clock = WatchedClock(TestClock() if runner == "TestClock" else Clock.live())

    @gen
    def program() -> Do[tuple[bool, bool]]:
        # `early` sleeps on the top of the heap: the heap holds the other sleeper's
        # timer until `early` wakes (in an hour), unless cancelling frees it.
        early = yield from Effect.sleep(HOUR).fork()
        sleeper = yield from Effect.sleep(10 * HOUR).fork()
        yield from Effect.yield_now()
        assert len(clock.callbacks) == 2  # both asleep
        yield from sleeper.interrupt()
        freed = collected(clock.callbacks[1])
        early_still_asleep = (yield from early.poll()) is None
        yield from early.interrupt()
        return freed, early_still_asleep

    # (A `TestClock` is not provided but watched: `run_sync` runs the program on it.)
    effect = Clock.with_clock(clock, program())
    runs = asyncio.run(run_async(effect)) if runner == "run_async" else run_sync(effect)
    assert runs == (True, True)


@pytest.mark.parametrize("runner", ["run_sync", "TestClock"])
def test_timeouts_that_finish_in_time_leave_the_timer_heap_small(runner: Runner) -> None:
    @gen
    def program() -> Do[int]:
        early = yield from Effect.sleep(HOUR).fork()
        yield from Effect.yield_now()
        for i in range(5_000):
            yield from Effect.succeed(i).timeout(2 * HOUR).either()
        size = yield from timer_heap_size(runner)
        yield from early.interrupt()
        return size

    # Without compaction the heap would hold 5,001 entries, the cancelled ones until
    # their deadline, an hour after the sleeper on its top.
    assert run(runner, program()) <= MIN_COMPACTED_HEAP


@each_runner
def test_a_finished_timeout_retains_no_memory_while_a_long_sleeper_waits(
    runner: Runner,
) -> None:
    count = 10_000
    grown: list[int] = []

    def traced() -> int:
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    @gen
    def program() -> Do[None]:
        early = yield from Effect.sleep(HOUR).fork()
        yield from Effect.yield_now()
        before = traced()
        for i in range(count):
            yield from Effect.succeed(i).timeout(2 * HOUR).either()
        grown.append(traced() - before)
        yield from early.interrupt()

    tracemalloc.start()
    try:
        run(runner, program())
    finally:
        tracemalloc.stop()
    # Before cancelling freed the fiber, each retained about 800 bytes.
    assert grown[0] / count < 32


# -- the timer heap ---------------------------------------------------------------------


def test_a_timer_heap_more_than_half_cancelled_is_rebuilt_without_them() -> None:
    heap = TimerHeap()
    fired: list[int] = []

    def firing(i: int) -> Callable[[], None]:
        return lambda: fired.append(i)

    timers = [heap.call_at(float(i), firing(i)) for i in range(1_000)]
    for timer in timers[1::2]:
        timer.cancel()
    assert len(heap) == 1_000  # half cancelled: not more than half
    timers[0].cancel()
    assert len(heap) == 499  # more than half: rebuilt with the live ones
    heap.run_due(math.inf)
    assert fired == list(range(2, 1_000, 2))  # the live ones, in deadline order
    assert len(heap) == 0


def test_a_cancelled_timer_at_the_top_of_a_small_heap_is_dropped_when_it_is_due() -> None:
    heap = TimerHeap()
    fired: list[str] = []
    heap.call_at(1.0, lambda: fired.append("first")).cancel()
    heap.call_at(2.0, lambda: fired.append("second"))
    assert heap.next_deadline() == 2.0
    assert len(heap) == 1
    heap.run_due(2.0)
    assert fired == ["second"]


def test_cancelling_a_timer_that_fired_changes_nothing() -> None:
    heap = TimerHeap()
    fired: list[str] = []
    timer = heap.call_at(1.0, lambda: fired.append("fired"))
    heap.call_at(5.0, lambda: fired.append("later"))
    heap.run_due(1.0)
    timer.cancel()
    timer.cancel()
    assert heap.cancelled == 0
    assert heap.deadlines() == [5.0]
    assert fired == ["fired"]


def test_a_timer_at_an_infinite_deadline_is_not_kept() -> None:
    heap = TimerHeap()
    assert heap.call_at(math.inf, lambda: None) is NEVER_DUE
    assert len(heap) == 0
    NEVER_DUE.cancel()  # harmless
    assert heap.next_deadline() is None


# -- durations that never end -----------------------------------------------------------


@each_runner
def test_an_infinite_sleep_waits_until_interrupted(runner: Runner) -> None:
    log: list[str] = []
    sleeper = Effect.sleep(math.inf).ensuring(Effect.sync(lambda: log.append("finalized")))
    assert run(runner, Effect.race(sleeper.as_("slept"), coroutine_done())) == "woken"
    assert log == ["finalized"]


@each_runner
@pytest.mark.parametrize("seconds", [1e10, 1e300, 10**400], ids=["1e10", "1e300", "10**400"])
def test_a_huge_sleep_does_not_crash_the_runner_and_its_finalizer_runs(
    runner: Runner, seconds: float
) -> None:
    log: list[str] = []
    sleeper = Effect.sleep(seconds).ensuring(Effect.sync(lambda: log.append("finalized")))
    assert run(runner, Effect.race(sleeper.as_("slept"), coroutine_done())) == "woken"
    assert log == ["finalized"]


@each_runner
def test_a_timeout_of_inf_never_fires(runner: Runner) -> None:
    assert run(runner, coroutine_done().timeout(math.inf).either()).unwrap() == "woken"


def test_an_infinite_sleep_on_a_test_clock_sleeps_through_any_adjust() -> None:
    @gen
    def program() -> Do[tuple[list[float], bool, bool]]:
        sleeper = yield from Effect.sleep(math.inf).fork()
        timed = yield from Effect.never().timeout(math.inf).fork()
        yield from Effect.yield_now()
        pending = (yield from TestClock.get()).pending()
        yield from TestClock.adjust(1e300)
        asleep = (yield from sleeper.poll()) is None
        waiting = (yield from timed.poll()) is None
        yield from sleeper.interrupt()
        yield from timed.interrupt()
        return pending, asleep, waiting

    assert run_sync(TestClock.provide(program())) == ([], True, True)


def test_a_huge_but_finite_sleep_on_a_test_clock_wakes_at_its_deadline() -> None:
    @gen
    def program() -> Do[float]:
        sleeper = yield from Effect.sleep(1e300).fork()
        yield from TestClock.adjust(1e300)
        yield from sleeper.join()
        return (yield from Clock.now())

    assert run_sync(TestClock.provide(program())) == 1e300


@each_runner
def test_a_schedule_with_huge_delays_waits_until_interrupted(runner: Runner) -> None:
    repeating = Effect.unit().repeat(Schedule.spaced(1e300)).as_("repeated")
    assert run(runner, Effect.race(repeating, coroutine_done())) == "woken"


def test_an_exponential_schedule_past_the_largest_float_waits_for_ever() -> None:
    attempts: list[float] = []

    @gen
    def program() -> Do[tuple[int, list[float]]]:
        failing = Clock.now().flat_map(lambda now: Effect.sync(lambda: attempts.append(now)))
        retried = failing.and_then(Effect.fail("again")).retry(Schedule.exponential(1.0, 1e200))
        fiber = yield from retried.fork()
        yield from TestClock.adjust(1)  # the second attempt
        yield from TestClock.adjust(1e200)  # the third; the next delay is past 1.8e308
        pending = (yield from TestClock.get()).pending()
        yield from fiber.interrupt()
        return len(attempts), pending

    assert run_sync(TestClock.provide(program())) == (3, [])


@pytest.mark.parametrize(
    ("move", "what"),
    [(TestClock.adjust, "TestClock.adjust"), (TestClock.set_time, "TestClock.set_time")],
)
def test_moving_a_test_clock_to_infinity_is_refused_at_construction(
    move: Callable[[float], Effect[None]], what: str
) -> None:
    with pytest.raises(ValueError, match=rf"{what}: time moves by a finite number"):
        move(math.inf)
