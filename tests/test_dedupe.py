"""Deduplication: concurrent runs under one key share one execution and its result, a
failure included; a caller that leaves stops only its own wait, and the execution
stops when nobody waits for it any more."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import SEEDS, Latch, each_seed, run_seeded

from effectpy import (
    Clock,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    Interrupt,
    Manual,
    Runtime,
    Singleflight,
    Success,
    TestClock,
    gen,
    run_sync,
)


class Counted:
    """An effect that counts its executions, takes `seconds` (on the clock) and then
    succeeds with `value` or fails with `error`; it records how it was interrupted."""

    def __init__(self, seconds: float = 1.0, value: str = "profile", error: Any = None) -> None:
        self.seconds = seconds
        self.value = value
        self.error = error
        self.executions = 0
        self.interruptions: list[Interrupt] = []
        self.finalized = 0

    def effect(self) -> Effect[str, Any]:
        def start() -> Effect[str, Any]:
            self.executions += 1
            outcome: Effect[str, Any] = (
                Effect.succeed(self.value) if self.error is None else Effect.fail(self.error)
            )
            return Effect.sleep(self.seconds).and_then(outcome)

        return (
            Effect.suspend(start)
            .on_interrupt(lambda stops: Effect.sync(lambda: self.interruptions.extend(stops)))
            .ensuring(Effect.sync(self._finalize))
        )

    def _finalize(self) -> None:
        self.finalized += 1


def callers(count: int, run: Effect[str, Any]) -> Effect[list[Exit[str, Any]]]:
    return Effect.all(*[run.exit() for _ in range(count)], concurrency="unbounded").map(list)


# -- sharing one execution ---------------------------------------------------------------


@each_seed
def test_a_hundred_concurrent_callers_share_one_execution(seed: int) -> None:
    work = Counted()

    @gen
    def program() -> Do[list[Exit[str, Any]]]:
        fiber = yield from callers(100, Effect.dedupe("user:1", work.effect())).fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.join())

    exits = run_seeded(TestClock.provide(program()), seed)
    assert exits == [Success("profile")] * 100
    assert work.executions == 1


@each_seed
def test_a_shared_failure_reaches_every_caller_once_executed(seed: int) -> None:
    error = ConnectionError("user service down")
    work = Counted(error=error)

    @gen
    def program() -> Do[list[Exit[str, Any]]]:
        fiber = yield from callers(100, Effect.dedupe("user:1", work.effect())).fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.join())

    exits = run_seeded(TestClock.provide(program()), seed)
    assert work.executions == 1
    for exit in exits:
        assert isinstance(exit, Failure)
        [failure] = exit.cause.failures()
        assert failure is error


def test_a_shared_defect_reaches_every_caller() -> None:
    executions: list[int] = []
    defect = ZeroDivisionError("bug")

    def explode() -> str:
        executions.append(1)
        raise defect

    shared = Effect.dedupe("k", Effect.sleep(0.001).and_then(Effect.sync(explode)))
    exits = run_sync(callers(10, shared))
    assert exits == [Failure(Die(defect))] * 10
    assert executions == [1]


def test_a_caller_arriving_later_joins_the_execution_in_flight() -> None:
    work = Counted(seconds=10)
    flights = Singleflight()

    @gen
    def program() -> Do[tuple[float, float, str, str]]:
        first = yield from flights.run("k", work.effect()).fork()
        yield from TestClock.adjust(6)
        late = yield from flights.run("k", work.effect()).zip(Clock.now()).fork()
        yield from TestClock.adjust(4)
        value, finished_at = yield from late.join()  # type: ignore[arg-type]  # an Any on purpose
        return 6.0, finished_at, value, (yield from first.join())  # type: ignore[arg-type]  # an Any on purpose

    joined_at, finished_at, late_value, first_value = run_sync(TestClock.provide(program()))
    assert (joined_at, finished_at) == (6.0, 10.0)  # it waited 4s, not 10s
    assert late_value == first_value == "profile"
    assert work.executions == 1


def test_runs_after_the_execution_ended_execute_again() -> None:
    work = Counted(seconds=0)
    shared = Effect.dedupe("k", work.effect())
    assert run_sync(shared.and_then(shared).and_then(shared)) == "profile"  # type: ignore[arg-type]  # an Any on purpose
    assert work.executions == 3  # dedupe shares a run in flight; it is not a cache


@each_seed
def test_different_keys_run_separately_and_concurrently(seed: int) -> None:
    flights = Singleflight()
    one, two = Counted(value="one"), Counted(value="two")

    @gen
    def program() -> Do[tuple[list[str], int]]:
        runs = [flights.run("user:1", one.effect()) for _ in range(5)]
        runs += [flights.run("user:2", two.effect()) for _ in range(5)]
        fiber = yield from Effect.all(*runs, concurrency="unbounded").fork()  # type: ignore[arg-type]  # an Any on purpose
        yield from TestClock.adjust(0.5)  # every caller has joined, none has finished
        in_flight = flights.in_flight()
        yield from TestClock.adjust(0.5)
        return list((yield from fiber.join())), in_flight  # type: ignore[arg-type]  # an Any on purpose

    values, in_flight = run_seeded(TestClock.provide(program()), seed)
    assert values == ["one"] * 5 + ["two"] * 5
    assert in_flight == 2
    assert (one.executions, two.executions) == (1, 1)


def test_separate_singleflights_do_not_share() -> None:
    work = Counted(seconds=0.001)
    a, b = Singleflight(), Singleflight()
    run_sync(Effect.all(a.run("k", work.effect()), b.run("k", work.effect()), concurrency=2))  # type: ignore[arg-type]  # an Any on purpose
    assert work.executions == 2


# -- callers that leave ------------------------------------------------------------------


@each_seed
def test_an_interrupted_caller_does_not_interrupt_the_others(seed: int) -> None:
    work = Counted()
    flights = Singleflight()

    @gen
    def program() -> Do[tuple[Exit[str, Any], list[str]]]:
        leaving = yield from flights.run("k", work.effect()).fork()
        staying = yield from Effect.all(*[flights.run("k", work.effect()).fork()] * 3)
        yield from Effect.yield_now()
        left = yield from leaving.interrupt()
        yield from TestClock.adjust(1)
        return left, list((yield from Effect.all(*[f.join() for f in staying])))  # type: ignore[arg-type]  # an Any on purpose

    left, values = run_seeded(TestClock.provide(program()), seed)
    assert isinstance(left, Failure) and left.cause.is_interrupted_only()
    assert values == ["profile"] * 3
    assert work.executions == 1
    assert work.interruptions == []


@each_seed
def test_when_every_caller_has_left_the_shared_execution_is_interrupted(seed: int) -> None:
    work = Counted()
    flights = Singleflight()

    @gen
    def program() -> Do[tuple[int, int, int]]:
        fibers = yield from Effect.all(*[flights.run("k", work.effect()).fork()] * 3)
        yield from Effect.yield_now()
        for fiber in fibers[:-1]:
            yield from fiber.interrupt()
        still_running = len(work.interruptions)
        yield from fibers[-1].interrupt()
        # The last caller's interrupt returns after the execution's finalizers ran.
        return still_running, work.finalized, flights.in_flight()

    still_running, finalized, in_flight = run_seeded(TestClock.provide(program()), seed)
    assert still_running == 0
    assert finalized == 1
    assert in_flight == 0
    assert work.executions == 1
    assert [i.reason for i in work.interruptions] == [Manual()]


def test_a_new_caller_after_everyone_left_starts_a_new_execution() -> None:
    work = Counted()
    flights = Singleflight()

    @gen
    def program() -> Do[str]:
        gone = yield from flights.run("k", work.effect()).fork()
        yield from Effect.yield_now()
        yield from gone.interrupt()
        fresh = yield from flights.run("k", work.effect()).fork()
        yield from TestClock.adjust(1)
        return (yield from fresh.join())  # type: ignore[arg-type]  # an Any on purpose

    assert run_sync(TestClock.provide(program())) == "profile"
    assert work.executions == 2


def test_a_caller_waiting_on_a_latch_held_run_can_time_out_alone() -> None:
    gate = Latch()
    executions: list[int] = []
    shared = Effect.sync(lambda: executions.append(1)).and_then(gate.wait()).as_("opened")
    flights = Singleflight()

    @gen
    def program() -> Do[tuple[Exit[str, TimeoutError], str]]:
        patient = yield from flights.run("k", shared).fork()
        impatient = yield from flights.run("k", shared).timeout(5).exit().fork()
        yield from TestClock.adjust(5)
        timed_out = yield from impatient.join()
        yield from gate.open()
        return timed_out, (yield from patient.join())

    timed_out, value = run_sync(TestClock.provide(program()))
    assert isinstance(timed_out, Failure)
    assert isinstance(timed_out.cause, Fail) and isinstance(timed_out.cause.error, TimeoutError)
    assert value == "opened"
    assert executions == [1]


# -- the registry ------------------------------------------------------------------------


def test_in_flight_counts_running_keys_and_returns_to_zero() -> None:
    flights = Singleflight()
    ok, failing = Counted(), Counted(error=KeyError("gone"))

    @gen
    def program() -> Do[list[int]]:
        counts = [flights.in_flight()]
        a = yield from flights.run("ok", ok.effect()).fork()
        b = yield from flights.run("failing", failing.effect()).exit().fork()
        yield from Effect.yield_now()
        counts.append(flights.in_flight())
        yield from TestClock.adjust(1)
        yield from a.join()  # type: ignore[arg-type]  # an Any on purpose
        yield from b.join()
        counts.append(flights.in_flight())
        return counts

    assert run_sync(TestClock.provide(program())) == [0, 2, 0]


@pytest.mark.parametrize("budget", [1, 2])
def test_a_caller_interrupted_right_after_joining_does_not_leave_the_execution_running(
    budget: int,
) -> None:
    # A small op budget makes the caller yield between any two steps, and a few leading
    # steps shift where the interrupt lands: under each scheduler order it reaches the
    # caller at every point of `Singleflight.run`.
    def in_flight_after_the_only_caller_left(seed: int, steps_before: int) -> int:
        flights = Singleflight()
        caller_effect: Effect[None] = Effect.unit()
        for _ in range(steps_before):
            caller_effect = caller_effect.and_then(Effect.unit())

        @gen
        def program() -> Do[int]:
            caller = yield from caller_effect.and_then(flights.run("k", Effect.never())).fork()
            yield from caller.interrupt()
            return flights.in_flight()

        return Runtime(budget=budget, seed=seed).run_sync(program())

    left_running = [
        (seed, steps)
        for seed in SEEDS
        for steps in range(4)
        if in_flight_after_the_only_caller_left(seed, steps) != 0
    ]
    assert left_running == [], f"execution left running with no caller: {left_running[:5]}"
