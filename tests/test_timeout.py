"""Time: `sleep`, `delay` and `timeout` on the fiber's clock, and `TestClock`, which moves
only when a test says so, so hour-long waits take no real time."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Never, cast

import pytest
from conftest import Collect, Latch, each_seed, run_interleaved

from effectpy import (
    Clock,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Interrupt,
    ParentDone,
    Success,
    TestClock,
    Timeout,
    gen,
    run_sync,
    run_sync_exit,
)
from effectpy._core import scheduler as scheduler_module

HOUR = 3600.0


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def pending_timers() -> Effect[list[float]]:
    return TestClock.get().map(lambda clock: clock.pending())


# -- timeout --------------------------------------------------------------------------


def test_a_one_hour_timeout_under_test_clock_takes_no_real_time() -> None:
    seen: list[Interrupt] = []
    slow = Effect.never().on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))

    @gen
    def program() -> Do[tuple[FiberId, Exit[Never, TimeoutError]]]:
        fiber = yield from slow.timeout(HOUR).fork()
        yield from TestClock.adjust(HOUR)
        return (yield from Effect.fiber_id()), (yield from fiber.await_())

    started = time.perf_counter()
    me, exit = run_sync(TestClock.provide(program()))
    elapsed = time.perf_counter() - started
    # Not a performance claim: proof that nothing waited for the real hour.
    assert elapsed < 1.0
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert isinstance(error, TimeoutError)
    assert str(error) == "timed out after 3600s"
    assert not exit.cause.is_interrupted()
    [stop] = seen
    assert stop.reason == Timeout(HOUR)
    assert isinstance(stop.fiber_id, FiberId)
    assert stop.fiber_id != me  # the fiber that ran `timeout`, here the forked one


def test_a_timeout_does_not_fire_before_its_deadline() -> None:
    @gen
    def program() -> Do[tuple[Exit[Never, TimeoutError] | None, Exit[Never, TimeoutError]]]:
        fiber = yield from Effect.never().timeout(10).fork()
        yield from TestClock.adjust(9.999)
        before = yield from fiber.poll()
        yield from TestClock.adjust(0.001)
        return before, (yield from fiber.await_())

    before, after = run_sync(TestClock.provide(program()))
    assert before is None
    assert isinstance(after, Failure)
    assert isinstance(after.cause.failures()[0], TimeoutError)


def test_the_timed_out_effect_is_interrupted_by_the_fiber_running_timeout() -> None:
    seen: list[Interrupt] = []
    slow = Effect.never().on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))

    @gen
    def program() -> Do[FiberId]:
        me = yield from Effect.fiber_id()
        fiber = yield from slow.timeout(1).either().fork()
        yield from TestClock.adjust(1)
        yield from fiber.join()
        # The `timeout` ran in `fiber`, whose id is the interrupter.
        assert seen[0].fiber_id == fiber.id
        return me

    run_sync(TestClock.provide(program()))
    assert [stop.reason for stop in seen] == [Timeout(1.0)]


def test_timeout_waits_for_the_interrupted_effects_finalizers() -> None:
    log: list[str] = []
    slow = Effect.never().ensuring(Effect.sleep(5).and_then(record(log, "finalizer done")))

    @gen
    def program() -> Do[None]:
        fiber = yield from slow.timeout(1).either().fork()
        yield from TestClock.adjust(1)
        assert (yield from fiber.poll()) is None
        yield from TestClock.adjust(5)
        result = yield from fiber.join()
        yield from record(log, f"timeout returned {type(result.failure()).__name__}")
        return None

    run_sync(TestClock.provide(program()))
    assert log == ["finalizer done", "timeout returned TimeoutError"]


def test_a_fast_effect_keeps_its_value_and_the_timer_is_cancelled() -> None:
    @gen
    def program() -> Do[tuple[int, list[float]], TimeoutError]:
        value = yield from Effect.succeed(42).timeout(HOUR)
        return value, (yield from pending_timers())

    value, pending = run_sync_exit(TestClock.provide(program())).get_or_raise()
    assert value == 42
    assert pending == []


def test_an_effect_that_finishes_before_the_deadline_keeps_its_value() -> None:
    @gen
    def program() -> Do[tuple[str, list[float]], TimeoutError]:
        fiber = yield from Effect.sleep(2).as_("in time").timeout(3).fork()
        yield from TestClock.adjust(2)
        value = yield from fiber.join()
        return value, (yield from pending_timers())

    value, pending = run_sync_exit(TestClock.provide(program())).get_or_raise()
    assert value == "in time"
    assert pending == []


def test_a_timeout_keeps_the_effects_own_failure() -> None:
    failing: Effect[int, str] = Effect.fail("own failure")
    assert run_sync_exit(failing.timeout(HOUR)) == Failure(Fail("own failure"))


def test_timeout_waits_for_an_uninterruptible_effect_then_fails_with_timeout_error() -> None:
    log: list[str] = []
    stubborn = Effect.sleep(2).and_then(record(log, "finished")).uninterruptible()

    @gen
    def program() -> Do[tuple[Exit[None, TimeoutError] | None, Exit[None, TimeoutError]]]:
        fiber = yield from stubborn.timeout(1).fork()
        yield from TestClock.adjust(1)
        at_deadline = yield from fiber.poll()
        yield from TestClock.adjust(1)
        return at_deadline, (yield from fiber.await_())

    at_deadline, exit = run_sync(TestClock.provide(program()))
    assert at_deadline is None
    assert log == ["finished"]
    assert isinstance(exit, Failure)
    assert [type(e) for e in exit.cause.failures()] == [TimeoutError]


def test_interrupting_a_fiber_in_timeout_stops_the_effect_and_cancels_the_timer() -> None:
    seen: list[Interrupt] = []

    @gen
    def program() -> Do[tuple[list[float], list[float]]]:
        started = Latch()
        slow = started.open().and_then(Effect.never())
        watched = slow.on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
        fiber = yield from watched.timeout(10).fork()
        yield from started.wait()
        during = yield from pending_timers()
        yield from fiber.interrupt()
        return during, (yield from pending_timers())

    assert run_sync(TestClock.provide(program())) == ([10.0], [])
    assert [type(stop.reason) for stop in seen] == [ParentDone]


@pytest.mark.parametrize(("inner", "outer"), [(5.0, 1.0), (1.0, 5.0)])
def test_of_nested_timeouts_the_shorter_fires_and_no_timer_is_left(
    inner: float, outer: float
) -> None:
    @gen
    def program() -> Do[tuple[Exit[Never, TimeoutError], list[float]]]:
        fiber = yield from Effect.never().timeout(inner).timeout(outer).fork()
        yield from TestClock.adjust(1)
        exit = yield from fiber.await_()
        return exit, (yield from pending_timers())

    exit, pending = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    assert [str(e) for e in exit.cause.failures()] == ["timed out after 1s"]
    assert pending == []


def test_timeout_waits_for_work_in_an_uninterruptible_region() -> None:
    # The timed child inherits the region: the deadline cannot stop it, so the work
    # runs to its end and its value is kept (Effect-TS and ZIO do the same).
    @gen
    def program() -> Do[Exit[str, TimeoutError]]:
        fiber = yield from Effect.sleep(2).as_("done").timeout(1).uninterruptible().exit().fork()
        yield from TestClock.adjust(1)
        assert (yield from fiber.poll()) is None  # not stopped at the deadline
        yield from TestClock.adjust(1)
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert exit == Exit.succeed("done")


def test_timeout_interrupts_an_interruptible_part_of_an_uninterruptible_region() -> None:
    @gen
    def program() -> Do[Exit[Never, TimeoutError]]:
        work = Effect.never().interruptible().timeout(1).uninterruptible()
        fiber = yield from work.exit().fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    assert [type(e) for e in exit.cause.failures()] == [TimeoutError]


def test_timeout_with_the_live_clock_fails_with_timeout_error() -> None:
    exit = run_sync_exit(Effect.never().timeout(0.01))
    assert isinstance(exit, Failure)
    assert isinstance(exit.cause.failures()[0], TimeoutError)


@each_seed
def test_a_timeout_racing_its_effect_to_the_same_deadline_gives_one_or_the_other(
    seed: int,
) -> None:
    @gen
    def program() -> Do[Exit[str, TimeoutError]]:
        fiber = yield from Effect.sleep(1).as_("value").timeout(1).fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.await_())

    exit = run_interleaved(TestClock.provide(program()), seed)
    if isinstance(exit, Failure):
        assert [type(e) for e in exit.cause.failures()] == [TimeoutError]
    else:
        assert exit == Success("value")


# -- sleep and delay ------------------------------------------------------------------


def test_sleep_under_test_clock_waits_for_adjust() -> None:
    @gen
    def program() -> Do[tuple[Exit[float, Never] | None, float]]:
        fiber = yield from Effect.sleep(10).and_then(Clock.now()).fork()
        yield from TestClock.adjust(9)
        before = yield from fiber.poll()
        yield from TestClock.adjust(1)
        return before, (yield from fiber.join())

    assert run_sync(TestClock.provide(program())) == (None, 10.0)


def test_sleep_zero_under_test_clock_needs_no_adjust() -> None:
    assert run_sync(TestClock.provide(Effect.sleep(0).as_("at once"))) == "at once"


def test_delay_runs_the_effect_after_the_delay() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[str]:
        fiber = yield from record(log, "ran").as_("later").delay(5).fork()
        yield from TestClock.adjust(4.9)
        assert log == []
        yield from TestClock.adjust(0.1)
        assert log == ["ran"]
        return (yield from fiber.join())

    assert run_sync(TestClock.provide(program())) == "later"


def test_test_clock_starts_at_zero_and_adjust_moves_now() -> None:
    @gen
    def program() -> Do[tuple[float, float]]:
        start = yield from Clock.now()
        yield from TestClock.adjust(HOUR)
        return start, (yield from Clock.now())

    assert run_sync(TestClock.provide(program())) == (0.0, HOUR)


def test_adjust_wakes_sleepers_in_deadline_order_each_at_its_own_deadline() -> None:
    woke: list[tuple[str, float]] = []

    def sleeper(name: str, seconds: float) -> Effect[None]:
        return Effect.sleep(seconds).and_then(Clock.now().map(lambda now: woke.append((name, now))))

    @gen
    def program() -> Do[float]:
        for name, seconds in [("c", 3.0), ("a", 1.0), ("b", 2.0), ("late", 10.0)]:
            yield from sleeper(name, seconds).fork()
        yield from TestClock.adjust(5)
        return (yield from Clock.now())

    assert run_sync(TestClock.provide(program())) == 5.0
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]


def test_a_sleeper_that_sleeps_again_within_the_window_wakes_again() -> None:
    ticks: list[float] = []

    def ticker() -> Effect[None]:
        tick = Effect.sleep(1).and_then(Clock.now().map(ticks.append))
        return tick.and_then(lambda _: ticker())

    @gen
    def program() -> Do[list[float]]:
        fiber = yield from ticker().fork()
        yield from TestClock.adjust(3.5)
        seen = list(ticks)
        yield from fiber.interrupt()
        return seen

    assert run_sync(TestClock.provide(program())) == [1.0, 2.0, 3.0]


def test_repeating_sleepers_of_several_fibers_wake_in_time_order() -> None:
    woke: list[tuple[float, str]] = []

    def every(name: str, seconds: float, times: int) -> Effect[None]:
        step = Effect.sleep(seconds).and_then(Clock.now().map(lambda t: woke.append((t, name))))
        effect = Effect.unit()
        for _ in range(times):
            effect = effect.and_then(step)
        return effect

    @gen
    def program() -> Do[None]:
        yield from every("two", 2, 3).fork()
        yield from every("three", 3, 2).fork()
        yield from TestClock.adjust(6)
        return None

    run_sync(TestClock.provide(program()))
    times = [t for t, _ in woke]
    assert times == sorted(times)
    assert sorted(woke) == [(2, "two"), (3, "three"), (4, "two"), (6, "three"), (6, "two")]


def test_set_time_moves_the_clock_to_a_time_and_wakes_the_sleepers() -> None:
    woke: list[float] = []

    @gen
    def program() -> Do[float]:
        yield from Effect.sleep(5).and_then(Clock.now().map(woke.append)).fork()
        yield from Effect.sleep(50).and_then(Clock.now().map(woke.append)).fork()
        yield from TestClock.set_time(10)
        return (yield from Clock.now())

    assert run_sync(TestClock.provide(program())) == 10.0
    assert woke == [5.0]


def test_set_time_backwards_is_a_defect() -> None:
    exit = run_sync_exit(TestClock.provide(TestClock.set_time(5).and_then(TestClock.set_time(1))))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, ValueError)
    assert "forward" in str(defect)


def test_each_test_clock_provide_starts_a_fresh_clock() -> None:
    advanced = TestClock.provide(TestClock.adjust(7).and_then(Clock.now()))
    assert run_sync(advanced) == 7.0
    assert run_sync(advanced) == 7.0


def test_forked_fibers_share_the_test_clock() -> None:
    @gen
    def program() -> Do[float]:
        fiber = yield from TestClock.adjust(3).fork()
        yield from fiber.join()
        return (yield from Clock.now())

    assert run_sync(TestClock.provide(program())) == 3.0


def test_a_sleep_that_is_interrupted_cancels_its_timer() -> None:
    @gen
    def program() -> Do[tuple[list[float], list[float]]]:
        started = Latch()
        fiber = yield from started.open().and_then(Effect.sleep(HOUR)).fork()
        yield from started.wait()
        during = yield from pending_timers()
        yield from fiber.interrupt()
        return during, (yield from pending_timers())

    assert run_sync(TestClock.provide(program())) == ([HOUR], [])


# -- bad durations --------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [-1, -0.001, math.nan, -math.inf])
def test_a_negative_or_nan_duration_is_a_value_error_at_construction(seconds: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        Effect.sleep(seconds)
    with pytest.raises(ValueError, match="duration"):
        Effect.unit().delay(seconds)
    with pytest.raises(ValueError, match="duration"):
        Effect.unit().timeout(seconds)
    with pytest.raises(ValueError, match="duration"):
        TestClock.adjust(seconds)
    with pytest.raises(ValueError, match=r"TestClock\.set_time"):
        TestClock.set_time(seconds)


@pytest.mark.parametrize("seconds", ["1", None, True, b"1", [1]])
def test_a_duration_that_is_not_a_number_is_a_type_error_at_construction(seconds: object) -> None:
    bad = cast(Any, seconds)
    with pytest.raises(TypeError, match="number"):
        Effect.sleep(bad)
    with pytest.raises(TypeError, match="number"):
        Effect.unit().delay(bad)
    with pytest.raises(TypeError, match="number"):
        Effect.unit().timeout(bad)
    with pytest.raises(TypeError, match="number"):
        TestClock.adjust(bad)
    with pytest.raises(TypeError, match="number"):
        TestClock.set_time(bad)


def test_the_error_for_a_bad_duration_names_the_operation() -> None:
    with pytest.raises(ValueError, match=r"Effect\.sleep"):
        Effect.sleep(-1)
    with pytest.raises(ValueError, match="timeout"):
        Effect.unit().timeout(-1)


# -- TestClock outside TestClock.provide ----------------------------------------------


def test_adjust_outside_test_clock_provide_is_a_defect_with_a_clear_message() -> None:
    exit = run_sync_exit(TestClock.adjust(1))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, RuntimeError)
    assert "TestClock.provide" in str(defect)
    assert isinstance(exit.cause, Die)


def test_test_clock_get_outside_provide_is_a_defect() -> None:
    exit = run_sync_exit(TestClock.get())
    assert isinstance(exit, Failure)
    assert "TestClock.provide" in str(exit.cause.defects()[0])


# -- a program that waits on a TestClock nothing adjusts ------------------------------


@pytest.fixture
def effectpy_log(monkeypatch: pytest.MonkeyPatch, effectpy_logs: Collect) -> Collect:
    """The `effectpy` logger's records (see conftest), with the idle warning due after
    50 ms."""
    monkeypatch.setattr(scheduler_module, "IDLE_WARNING_SECONDS", 0.05)
    return effectpy_logs


def woken_by_a_thread_after(event: threading.Event) -> Effect[str]:
    """Park until another thread resumes the fiber, once `event` is set (or 10 s)."""

    def register(resume: Callable[[Effect[str]], None]) -> None:
        def wake() -> None:
            event.wait(10)
            resume(Effect.succeed("woken"))

        threading.Thread(target=wake, daemon=True).start()

    return Effect.async_(register)


def test_a_run_that_waits_on_a_test_clock_nothing_adjusts_says_so(effectpy_log: Collect) -> None:
    # The sleeper waits for an adjust that never comes, and the root for a thread: the
    # driver has nothing to run. It logs why once, and goes on waiting.
    sleeper = Effect.sleep(30).fork()
    program = TestClock.provide(sleeper.and_then(woken_by_a_thread_after(effectpy_log.came)))
    assert run_sync(program) == "woken"
    [record] = effectpy_log.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("effectpy: nothing has run for 0.05s. 1 fiber sleeps on a ")
    assert "TestClock at t=0 (the next wakes at t=30)" in message
    assert "the program waits for ever" in message


def test_a_run_that_waits_for_a_thread_alone_says_nothing(effectpy_log: Collect) -> None:
    # The test clock's one sleeper has woken: waiting for another thread is ordinary,
    # however long it takes.
    done = threading.Event()
    threading.Timer(0.2, done.set).start()
    slept = Effect.sleep(1).fork().flat_map(lambda f: TestClock.adjust(1).and_then(f.join()))
    program = TestClock.provide(slept.and_then(woken_by_a_thread_after(done)))
    assert run_sync(program) == "woken"
    assert effectpy_log.records == []


# -- the live clock -------------------------------------------------------------------


def test_sleep_with_the_live_clock_for_a_tiny_duration_works() -> None:
    started = time.perf_counter()
    assert run_sync(Effect.sleep(0.002).as_("rested")) == "rested"
    assert time.perf_counter() - started >= 0.002


def test_live_clock_now_is_wall_clock_time() -> None:
    before = time.time()
    now = run_sync(Clock.now())
    assert before <= now <= time.time()


def test_delay_with_the_live_clock_for_a_tiny_duration_works() -> None:
    assert run_sync(Effect.succeed("later").delay(0.001)) == "later"
