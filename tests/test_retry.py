"""Retry and repeat: an effect is tried again (or run again) as its schedule says, every
wait goes through the fiber's clock, and only typed errors are ever retried."""

from __future__ import annotations

import itertools
import time
from typing import Any, Never

import pytest
from conftest import each_seed, run_seeded

from effectpy import (
    Clock,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    Manual,
    Schedule,
    TestClock,
    gen,
    run_sync,
    run_sync_exit,
)


class Flaky:
    """An operation that fails with the scripted errors, then succeeds; it records the
    clock reading at each attempt."""

    def __init__(self, *errors: Exception, value: str = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.attempts: list[float] = []

    def __call__(self) -> Effect[str, Exception]:
        def attempt(now: float) -> Effect[str, Exception]:
            self.attempts.append(now)
            index = len(self.attempts) - 1
            if index < len(self.errors):
                return Effect.fail(self.errors[index])
            return Effect.succeed(self.value)

        return Clock.now().flat_map(attempt)


def always_failing(attempts: list[float], make_error: Any = None) -> Effect[str, Exception]:
    """Fails every time, with a fresh error naming the attempt."""

    def attempt(now: float) -> Effect[str, Exception]:
        attempts.append(now)
        error = (make_error or ConnectionError)(f"attempt {len(attempts)}")
        return Effect.fail(error)

    return Clock.now().flat_map(attempt)


def under_test_clock(effect: Effect[Any, Any], advance: float = 10_000) -> Exit[Any, Any]:
    """Run `effect` in a fiber under a TestClock moved by `advance`; its Exit."""

    @gen
    def program() -> Do[Exit[Any, Any]]:
        fiber = yield from effect.fork()
        yield from TestClock.adjust(advance)
        return (yield from fiber.await_())

    return run_sync(TestClock.provide(program()))


# -- waiting the scheduled delays, on the clock ----------------------------------------


def test_retry_waits_each_scheduled_delay_on_the_test_clock_and_no_real_time() -> None:
    op = Flaky(*(ConnectionError(f"down {i}") for i in range(4)))
    policy = Schedule.exponential(60).intersect(Schedule.recurs(5))
    started = time.perf_counter()
    exit = under_test_clock(Effect.suspend(op).retry(policy))
    elapsed = time.perf_counter() - started
    assert exit == Exit.succeed("ok")
    # Waits of 60, 120, 240 and 480 virtual seconds between the attempts.
    assert op.attempts == [0.0, 60.0, 180.0, 420.0, 900.0]
    assert elapsed < 1.0  # not a benchmark: proof that nothing waited for real


def test_retry_does_not_try_again_before_the_delay_has_passed() -> None:
    attempts: list[float] = []

    @gen
    def program() -> Do[list[int]]:
        fiber = yield from always_failing(attempts).retry(Schedule.spaced(10)).fork()
        counts = []
        for step in (9.999, 0.001, 9.999, 0.001):
            yield from TestClock.adjust(step)
            counts.append(len(attempts))
        yield from fiber.interrupt()
        return counts

    assert run_sync(TestClock.provide(program())) == [1, 2, 2, 3]


def test_retry_stops_trying_as_soon_as_an_attempt_succeeds() -> None:
    op = Flaky(ConnectionError("once"))
    exit = under_test_clock(Effect.suspend(op).retry(Schedule.spaced(1)))
    assert exit == Exit.succeed("ok")
    assert op.attempts == [0.0, 1.0]


def test_each_run_of_a_retried_effect_starts_a_fresh_schedule() -> None:
    attempts: list[float] = []
    retried = always_failing(attempts).retry(Schedule.recurs(2))
    run_sync_exit(retried)
    run_sync_exit(retried)
    assert len(attempts) == 6


@each_seed
def test_concurrent_retries_each_wait_their_own_schedule(seed: int) -> None:
    fast: list[float] = []
    slow: list[float] = []

    @gen
    def program() -> Do[None]:
        a = yield from always_failing(fast).retry(Schedule.spaced(1), times=3).fork()
        b = yield from always_failing(slow).retry(Schedule.spaced(5), times=2).fork()
        yield from TestClock.adjust(100)
        yield from a.await_()
        yield from b.await_()

    run_seeded(TestClock.provide(program()), seed)
    assert fast == [0.0, 1.0, 2.0, 3.0]
    assert slow == [0.0, 5.0, 10.0]


# -- which errors are retried ------------------------------------------------------------


def test_retry_stops_at_a_non_retryable_error_via_while() -> None:
    op = Flaky(ConnectionError("a"), ConnectionError("b"), ValueError("bad request"))
    retried = Effect.suspend(op).retry(
        Schedule.spaced(1), while_=lambda e: isinstance(e, ConnectionError)
    )
    exit = under_test_clock(retried)
    assert exit == Failure(Fail(op.errors[2]))
    assert op.attempts == [0.0, 1.0, 2.0]


def test_retry_stops_at_a_non_retryable_error_via_while_input() -> None:
    op = Flaky(ConnectionError("a"), PermissionError("denied"))
    policy: Schedule[int, Exception] = Schedule.recurs(10)
    retried = Effect.suspend(op).retry(policy.while_input(lambda e: not isinstance(e, OSError)))
    assert run_sync_exit(retried) == Failure(Fail(op.errors[0]))
    assert len(op.attempts) == 1


def test_retry_with_times_makes_that_many_more_attempts_and_fails_with_the_last_error() -> None:
    attempts: list[float] = []
    exit = run_sync_exit(always_failing(attempts).retry(times=3))
    assert len(attempts) == 4
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert str(error) == "attempt 4"


def test_retry_with_times_zero_makes_one_attempt() -> None:
    attempts: list[float] = []
    run_sync_exit(always_failing(attempts).retry(times=0))
    assert len(attempts) == 1


def test_times_bounds_a_schedule_that_would_go_on_forever() -> None:
    attempts: list[float] = []
    exit = under_test_clock(always_failing(attempts).retry(Schedule.spaced(2), times=2))
    assert exit.is_failure()
    assert attempts == [0.0, 2.0, 4.0]


def test_times_and_while_together_stop_at_whichever_comes_first() -> None:
    op = Flaky(*(ConnectionError(str(i)) for i in range(10)))
    run_sync_exit(Effect.suspend(op).retry(times=3, while_=lambda e: True))
    assert len(op.attempts) == 4
    op = Flaky(ConnectionError("0"), KeyError("1"), ConnectionError("2"))
    run_sync_exit(
        Effect.suspend(op).retry(times=5, while_=lambda e: isinstance(e, ConnectionError))
    )
    assert len(op.attempts) == 2


def test_a_defect_is_never_retried() -> None:
    calls: list[int] = []

    def explode() -> str:
        calls.append(1)
        raise ZeroDivisionError("bug")

    exit = run_sync_exit(Effect.sync(explode).retry(times=5))
    assert isinstance(exit, Failure)
    assert isinstance(exit.cause, Die)
    assert isinstance(exit.cause.defect, ZeroDivisionError)
    assert calls == [1]


def test_a_failure_that_carries_a_defect_is_never_retried() -> None:
    calls: list[int] = []
    both: Effect[Never, str] = Effect.fail("typed").ensuring(Effect.die(RuntimeError("finalizer")))
    counted = Effect.sync(lambda: calls.append(1)).and_then(both)
    exit = run_sync_exit(counted.retry(times=5))
    assert exit.is_failure()
    assert calls == [1]


def test_an_interruption_is_never_retried() -> None:
    calls: list[int] = []
    interrupted: Effect[Never, str] = Effect.sync(lambda: calls.append(1)).and_then(
        Effect.interrupt()
    )
    exit = run_sync_exit(interrupted.retry(times=5))
    assert isinstance(exit, Failure)
    assert exit.cause.is_interrupted_only()
    assert calls == [1]


def test_interrupting_a_retry_during_its_wait_stops_it_for_good() -> None:
    attempts: list[float] = []
    released: list[str] = []

    @gen
    def program() -> Do[Exit[str, Exception]]:
        retried = always_failing(attempts).retry(Schedule.spaced(10))
        fiber = yield from retried.ensuring(Effect.sync(lambda: released.append("done"))).fork()
        yield from TestClock.adjust(15)
        exit = yield from fiber.interrupt()
        yield from TestClock.adjust(100)
        return exit

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    assert [i.reason for i in exit.cause.interruptions()] == [Manual()]
    assert attempts == [0.0, 10.0]
    assert released == ["done"]


# -- retry_or_else -----------------------------------------------------------------------


def test_retry_or_else_recovers_with_the_last_error_and_the_schedules_last_output() -> None:
    attempts: list[float] = []
    seen: list[tuple[str, int | None]] = []

    def fallback(error: Exception, tries: int | None) -> Effect[str]:
        seen.append((str(error), tries))
        return Effect.succeed("cached copy")

    retried = always_failing(attempts).retry_or_else(Schedule.recurs(2), fallback)
    assert run_sync(retried) == "cached copy"
    assert seen == [("attempt 3", 2)]


def test_retry_or_else_is_not_called_when_an_attempt_succeeds() -> None:
    op = Flaky(ConnectionError("once"))
    called: list[object] = []
    retried = Effect.suspend(op).retry_or_else(
        Schedule.recurs(3), lambda e, n: Effect.sync(lambda: called.append(e)).as_("fallback")
    )
    assert run_sync(retried) == "ok"
    assert called == []


def test_retry_or_else_waits_the_delays_before_giving_up() -> None:
    attempts: list[float] = []
    retried = always_failing(attempts).retry_or_else(
        Schedule.spaced(3).intersect(Schedule.recurs(2)),
        lambda e, out: Clock.now().map(lambda now: f"gave up at {now:g} after {out}"),
    )
    assert under_test_clock(retried) == Exit.succeed("gave up at 6 after (2, 2)")
    assert attempts == [0.0, 3.0, 6.0]


def test_retry_or_else_can_fail_with_a_new_error() -> None:
    attempts: list[float] = []
    retried = always_failing(attempts).retry_or_else(
        Schedule.recurs(1), lambda e, n: Effect.fail(RuntimeError(f"wrapped {e}"))
    )
    exit = run_sync_exit(retried)
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert str(error) == "wrapped attempt 2"


def test_retry_or_else_does_not_recover_from_a_defect() -> None:
    called: list[object] = []
    retried = Effect.die(ZeroDivisionError()).retry_or_else(
        Schedule.recurs(3), lambda e, n: Effect.sync(lambda: called.append(e))
    )
    exit = run_sync_exit(retried)
    assert isinstance(exit, Failure) and isinstance(exit.cause, Die)
    assert called == []


# -- repeat ------------------------------------------------------------------------------


def test_repeat_succeeds_with_the_schedules_last_output() -> None:
    assert run_sync(Effect.unit().repeat(Schedule.recurs(4))) == 4
    assert run_sync(Effect.unit().repeat(Schedule.recurs(2).map(lambda n: f"{n} repeats"))) == (
        "2 repeats"
    )


def test_repeat_waits_the_scheduled_delays_between_runs() -> None:
    runs: list[float] = []
    tick = Clock.now().flat_map(lambda now: Effect.sync(lambda: runs.append(now)))
    exit = under_test_clock(tick.repeat(Schedule.fibonacci(1).intersect(Schedule.recurs(5))))
    assert exit.is_success()
    assert runs == [0.0, 1.0, 2.0, 4.0, 7.0, 12.0]


def test_repeat_stops_at_the_first_failure_and_fails_with_it() -> None:
    runs: list[int] = []

    def run() -> Effect[int, str]:
        runs.append(1)
        return Effect.fail("broke") if len(runs) == 3 else Effect.succeed(len(runs))

    exit = run_sync_exit(Effect.suspend(run).repeat(Schedule.recurs(10)))
    assert exit == Failure(Fail("broke"))
    assert len(runs) == 3


def test_repeat_feeds_each_value_to_the_schedule() -> None:
    counter = iter(range(100))
    policy: Schedule[int, int] = Schedule.forever()
    repeated = Effect.sync(lambda: next(counter)).repeat(policy.while_input(lambda n: n < 5))
    assert run_sync(repeated) == 5  # the count of decisions: values 0..5 were seen


def test_repeat_does_not_retry_a_defect() -> None:
    runs: list[int] = []

    def run() -> None:
        runs.append(1)
        raise ZeroDivisionError

    assert run_sync_exit(Effect.sync(run).repeat(Schedule.recurs(3))).is_failure()
    assert runs == [1]


# -- exponential_backoff: the ready-made retry policy ------------------------------------


def test_exponential_backoff_without_jitter_doubles_from_the_base_for_max_retries() -> None:
    assert Schedule.exponential_backoff(jitter=False).delays(5) == [0.1, 0.2, 0.4, None, None]
    assert Schedule.exponential_backoff(1, factor=3, max_retries=4, jitter=False).delays(6) == [
        1.0,
        3.0,
        9.0,
        27.0,
        None,
        None,
    ]


def test_exponential_backoff_caps_each_delay_at_max_delay() -> None:
    backoff = Schedule.exponential_backoff(1, max_retries=8, max_delay=5, jitter=False)
    assert backoff.delays(9) == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0, None]
    uncapped = Schedule.exponential_backoff(1, max_retries=8, max_delay=None, jitter=False)
    assert uncapped.delays(8)[-1] == 128.0


def test_exponential_backoff_jitter_stays_within_20_percent_and_the_cap() -> None:
    for _ in range(50):
        delays = Schedule.exponential_backoff(1, max_retries=6, max_delay=10).delays(7)
        assert delays[-1] is None
        for n, delay in enumerate(delays[:-1]):
            assert delay is not None
            assert min(0.8 * 2**n, 10) <= delay <= min(1.2 * 2**n, 10)


def test_exponential_backoff_outputs_the_delay() -> None:
    seen: list[float] = []
    attempts: list[float] = []
    policy = Schedule.exponential_backoff(0.5, jitter=False).tap_output(
        lambda d: Effect.sync(lambda: seen.append(d))
    )
    under_test_clock(always_failing(attempts).retry(policy))
    assert seen == [0.5, 1.0, 2.0, 4.0]  # the stopping decision taps its output too
    assert attempts == [0.0, 0.5, 1.5, 3.5]


def test_retry_with_exponential_backoff_makes_max_retries_more_attempts() -> None:
    attempts: list[float] = []
    exit = under_test_clock(always_failing(attempts).retry(Schedule.exponential_backoff()))
    assert exit.is_failure()
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for gap, nominal in zip(gaps, [0.1, 0.2, 0.4], strict=True):
        assert 0.8 * nominal - 1e-9 <= gap <= 1.2 * nominal + 1e-9


# -- bad input ---------------------------------------------------------------------------


def test_retry_without_a_schedule_or_times_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Schedule or times"):
        Effect.fail("x").retry()


def test_retry_with_something_other_than_a_schedule_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Schedule"):
        Effect.fail("x").retry(3)  # type: ignore[arg-type]


def test_retry_with_negative_times_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="-1"):
        Effect.fail("x").retry(times=-1)
