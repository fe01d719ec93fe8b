"""Memoization: `Effect.cached` computes once and gives the same exit ever after,
`Effect.cached_with_ttl` until a time-to-live passes on the fiber's clock, and
`cached_function` memoizes per key (successes only)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import each_seed, run_seeded

from effectpy import (
    Clock,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    Success,
    TestClock,
    cached_function,
    gen,
    run_sync,
    run_sync_exit,
)


class Computation:
    """An effect that counts its executions; each takes `seconds` on the clock and
    succeeds with the execution number (or fails with it, while `failing`)."""

    def __init__(self, seconds: float = 0.0, failing: bool = False) -> None:
        self.seconds = seconds
        self.failing = failing
        self.executions = 0

    def effect(self) -> Effect[int, str]:
        def start() -> Effect[int, str]:
            self.executions += 1
            n = self.executions
            outcome: Effect[int, str] = (
                Effect.fail(f"failure {n}") if self.failing else Effect.succeed(n)
            )
            return outcome if self.seconds == 0 else Effect.sleep(self.seconds).and_then(outcome)

        return Effect.suspend(start)


# -- cached --------------------------------------------------------------------------------


def test_cached_computes_once_and_gives_the_same_value_after() -> None:
    work = Computation()

    @gen
    def program() -> Do[list[int], str]:
        once = yield from Effect.cached(work.effect())
        return [(yield from once), (yield from once), (yield from once)]

    assert run_sync_exit(program()) == Exit.succeed([1, 1, 1])
    assert work.executions == 1


def test_making_the_cached_effect_does_not_compute() -> None:
    work = Computation()
    run_sync(Effect.cached(work.effect()))
    assert work.executions == 0


@each_seed
def test_concurrent_first_runs_of_a_cached_effect_share_one_computation(seed: int) -> None:
    work = Computation(seconds=1)

    @gen
    def program() -> Do[list[Exit[int, str]]]:
        once = yield from Effect.cached(work.effect())
        fiber = yield from Effect.all(*[once.exit()] * 50, concurrency="unbounded").fork()
        yield from TestClock.adjust(1)
        return list((yield from fiber.join()))

    assert run_seeded(TestClock.provide(program()), seed) == [Success(1)] * 50
    assert work.executions == 1


def test_cached_keeps_a_failure() -> None:
    work = Computation(failing=True)

    @gen
    def program() -> Do[list[Exit[int, str]]]:
        once = yield from Effect.cached(work.effect())
        return [(yield from once.exit()), (yield from once.exit())]

    assert run_sync(program()) == [Failure(Fail("failure 1"))] * 2
    assert work.executions == 1


def test_each_run_of_cached_makes_a_memo_of_its_own() -> None:
    work = Computation()
    make = Effect.cached(work.effect())
    first = run_sync(make.flat_map(lambda once: once.zip(once)).either())
    second = run_sync(make.flat_map(lambda once: once.zip(once)).either())
    assert (first.unwrap(), second.unwrap()) == ((1, 1), (2, 2))


def test_an_interrupted_first_computation_is_not_kept() -> None:
    work = Computation(seconds=10)

    @gen
    def program() -> Do[Exit[int, str]]:
        once = yield from Effect.cached(work.effect())
        first = yield from once.fork()
        yield from TestClock.adjust(1)
        yield from first.interrupt()
        second = yield from once.exit().fork()
        yield from TestClock.adjust(10)
        return (yield from second.join())

    assert run_sync(TestClock.provide(program())) == Success(2)
    assert work.executions == 2


# -- cached_with_ttl -----------------------------------------------------------------------


def test_cached_with_ttl_gives_the_kept_value_until_the_ttl_passes_then_recomputes() -> None:
    work = Computation()

    @gen
    def program() -> Do[list[tuple[float, int]], str]:
        fresh = yield from Effect.cached_with_ttl(work.effect(), 60)
        seen = []
        for time in (0, 30, 59.999, 60, 119.999, 120):
            yield from TestClock.set_time(time)
            seen.append(((yield from Clock.now()), (yield from fresh)))
        return seen

    assert run_sync_exit(TestClock.provide(program())) == Exit.succeed(
        [(0.0, 1), (30.0, 1), (59.999, 1), (60.0, 2), (119.999, 2), (120.0, 3)]
    )
    assert work.executions == 3


def test_the_ttl_counts_from_when_the_computation_finished() -> None:
    work = Computation(seconds=5)

    @gen
    def program() -> Do[list[int]]:
        fresh = yield from Effect.cached_with_ttl(work.effect(), 10)
        first = yield from fresh.exit().fork()
        yield from TestClock.adjust(5)  # computed at t=5: kept until t=15
        yield from first.join()
        yield from TestClock.adjust(9.5)
        kept = yield from fresh.exit()
        return [work.executions, 1 if kept == Success(1) else 0]

    assert run_sync(TestClock.provide(program())) == [1, 1]


def test_cached_with_ttl_keeps_a_failure_for_the_ttl() -> None:
    work = Computation(failing=True)

    @gen
    def program() -> Do[list[Exit[int, str]]]:
        fresh = yield from Effect.cached_with_ttl(work.effect(), 10)
        first = yield from fresh.exit()
        yield from TestClock.adjust(5)
        kept = yield from fresh.exit()
        yield from TestClock.adjust(5)
        return [first, kept, (yield from fresh.exit())]

    assert run_sync(TestClock.provide(program())) == [
        Failure(Fail("failure 1")),
        Failure(Fail("failure 1")),
        Failure(Fail("failure 2")),
    ]


@each_seed
def test_concurrent_runs_after_expiry_share_one_recomputation(seed: int) -> None:
    work = Computation(seconds=1)

    @gen
    def program() -> Do[list[Exit[int, str]]]:
        fresh = yield from Effect.cached_with_ttl(work.effect(), 10)
        first = yield from fresh.exit().fork()
        yield from TestClock.adjust(1)
        yield from first.join()
        yield from TestClock.adjust(10)
        many = yield from Effect.all(*[fresh.exit()] * 20, concurrency="unbounded").fork()
        yield from TestClock.adjust(1)
        return list((yield from many.join()))

    assert run_seeded(TestClock.provide(program()), seed) == [Success(2)] * 20
    assert work.executions == 2


def test_a_zero_ttl_keeps_nothing() -> None:
    work = Computation()
    program = Effect.cached_with_ttl(work.effect(), 0).flat_map(lambda fresh: fresh.zip(fresh))
    assert run_sync_exit(TestClock.provide(program)) == Exit.succeed((1, 2))


@pytest.mark.parametrize("ttl", [-1.0, float("nan")])
def test_cached_with_ttl_refuses_a_bad_ttl(ttl: float) -> None:
    with pytest.raises(ValueError, match="cached_with_ttl"):
        Effect.cached_with_ttl(Effect.succeed(1), ttl)


# -- cached_function -----------------------------------------------------------------------


class Loader:
    """A function of user ids returning effects; it records every real call."""

    def __init__(self, seconds: float = 0.0, fail_first: bool = False) -> None:
        self.calls: list[Any] = []
        self.seconds = seconds
        self.fail_first = fail_first

    def __call__(self, user_id: int, *, verbose: bool = False) -> Effect[str, LookupError]:
        def start() -> Effect[str, LookupError]:
            self.calls.append((user_id, verbose))
            if self.fail_first and len(self.calls) == 1:
                return Effect.fail(LookupError(f"user {user_id} not found"))
            value = f"user {user_id}" + (" (verbose)" if verbose else "")
            result: Effect[str, LookupError] = Effect.succeed(value)
            return result if self.seconds == 0 else Effect.sleep(self.seconds).and_then(result)

        return Effect.suspend(start)


def test_cached_function_memoizes_per_argument() -> None:
    loader = Loader()
    load = cached_function(loader)
    program = Effect.all(load(1), load(2), load(1), load(2), load(1))
    assert run_sync(program.either()).unwrap() == ("user 1", "user 2", "user 1", "user 2", "user 1")
    assert loader.calls == [(1, False), (2, False)]


def test_cached_function_keys_on_keyword_arguments_too() -> None:
    loader = Loader()
    load = cached_function(loader)
    program = Effect.all(load(1), load(1, verbose=True), load(1, verbose=True))
    assert run_sync(program.either()).unwrap() == (
        "user 1",
        "user 1 (verbose)",
        "user 1 (verbose)",
    )
    assert loader.calls == [(1, False), (1, True)]


def test_calling_the_cached_function_does_not_run_anything() -> None:
    loader = Loader()
    cached_function(loader)(1)
    assert loader.calls == []


@each_seed
def test_concurrent_calls_with_one_key_share_one_run(seed: int) -> None:
    loader = Loader(seconds=1)
    load = cached_function(loader)

    @gen
    def program() -> Do[list[str], LookupError]:
        runs = [load(n % 3) for n in range(30)]
        fiber = yield from Effect.all(*runs, concurrency="unbounded").fork()
        yield from TestClock.adjust(1)
        return list((yield from fiber.join()))

    exit = run_seeded(TestClock.provide(program()).exit(), seed)
    assert exit == Exit.succeed([f"user {n % 3}" for n in range(30)])
    assert sorted(loader.calls) == [(0, False), (1, False), (2, False)]


def test_cached_function_does_not_keep_failures() -> None:
    loader = Loader(fail_first=True)
    load = cached_function(loader)
    program = Effect.all(load(7).exit(), load(7).exit(), load(7).exit())
    first, second, third = run_sync(program)
    assert isinstance(first, Failure)
    assert second == third == Success("user 7")
    assert len(loader.calls) == 2


def test_cached_function_with_ttl_recomputes_after_it_expires() -> None:
    loader = Loader()
    load = cached_function(loader, ttl=30)

    @gen
    def program() -> Do[list[str], LookupError]:
        values = [(yield from load(1))]
        yield from TestClock.adjust(29)
        values.append((yield from load(1)))
        yield from TestClock.adjust(1)
        values.append((yield from load(1)))
        return values

    assert run_sync_exit(TestClock.provide(program())) == Exit.succeed(["user 1"] * 3)
    assert loader.calls == [(1, False), (1, False)]


def test_cached_function_with_a_custom_key_shares_between_arguments_with_one_key() -> None:
    loader = Loader()

    def by_last_digit(user_id: int, *, verbose: bool = False) -> int:
        return user_id % 10

    load = cached_function(loader, key=by_last_digit)
    program = Effect.all(load(3), load(13), load(4), load(23, verbose=True))
    assert run_sync(program.either()).unwrap() == ("user 3", "user 3", "user 4", "user 3")
    assert loader.calls == [(3, False), (4, False)]


def test_cached_function_refuses_a_negative_ttl() -> None:
    with pytest.raises(ValueError, match="cached_function"):
        cached_function(Loader(), ttl=-5)
