"""Racing and concurrent collections: `race`, `race_all`, and `all` / `for_each` with
`concurrency`. Losers and siblings are interrupted with a reason and awaited."""

from __future__ import annotations

from typing import Any, Never, cast

import pytest
from conftest import Latch, each_seed, run_interleaved, yields

from effectpy import (
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Interrupt,
    Parallel,
    RaceLost,
    SiblingFailed,
    Success,
    TestClock,
    gen,
    run_sync,
    run_sync_exit,
)


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def watched(seen: list[Interrupt], effect: Effect[Any, Any]) -> Effect[Any, Any]:
    return effect.on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))


class Gauge:
    """Counts effects running at once, and the most there ever were."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.started: list[int] = []

    def enter(self, index: int) -> None:
        self.started.append(index)
        self.running += 1
        self.most = max(self.most, self.running)

    def leave(self) -> None:
        self.running -= 1

    def task(self, index: int, seconds: float) -> Effect[int]:
        body = Effect.sync(lambda: self.enter(index)).and_then(Effect.sleep(seconds))
        return body.ensuring(Effect.sync(self.leave)).as_(index)


def under_test_clock(effect: Effect[Any, Any], seconds: float) -> Effect[Exit[Any, Any]]:
    """Run `effect` in a fiber under a `TestClock`, move time by `seconds`, give its exit."""

    @gen
    def program() -> Do[Exit[Any, Any]]:
        fiber = yield from effect.fork()
        yield from TestClock.adjust(seconds)
        return (yield from fiber.await_())

    return TestClock.provide(program())


# -- race -----------------------------------------------------------------------------


@each_seed
def test_race_returns_the_first_success_and_interrupts_the_loser(seed: int) -> None:
    seen: list[Interrupt] = []
    log: list[str] = []
    loser = watched(seen, Effect.never()).ensuring(yields(10).and_then(record(log, "loser done")))
    winner = yields(3).and_then(Effect.fiber_id())

    @gen
    def program() -> Do[tuple[FiberId, FiberId]]:
        winner_id = yield from Effect.race(loser, winner)  # type: ignore[arg-type]  # an Any on purpose
        yield from record(log, "race returned")
        return (yield from Effect.fiber_id()), winner_id

    me, winner_id = run_interleaved(program(), seed)
    assert log == ["loser done", "race returned"]
    assert seen == [Interrupt(me, RaceLost(winner_id))]


def test_race_waits_for_the_losers_finalizer_even_when_it_sleeps() -> None:
    log: list[str] = []
    loser = Effect.never().ensuring(Effect.sleep(10).and_then(record(log, "loser done")))

    @gen
    def program() -> Do[None]:
        racing = yield from Effect.race(loser, Effect.succeed("won")).fork()
        yield from TestClock.adjust(9)
        assert (yield from racing.poll()) is None
        yield from TestClock.adjust(1)
        assert (yield from racing.join()) == "won"
        return None

    run_sync(TestClock.provide(program()))
    assert log == ["loser done"]


def test_race_the_faster_of_two_sleepers_wins() -> None:
    race = Effect.race(Effect.sleep(2).as_("slow"), Effect.sleep(1).as_("fast"))
    assert run_sync(under_test_clock(race, 5)).get_or_raise() == "fast"


@each_seed
def test_race_where_one_fails_returns_the_others_success(seed: int) -> None:
    failing: Effect[str, str] = Effect.fail("lost")
    slow_success = yields(5).as_("won")
    assert run_interleaved(Effect.race(failing, slow_success).either(), seed).unwrap() == "won"
    assert run_interleaved(Effect.race(slow_success, failing).either(), seed).unwrap() == "won"


@each_seed
def test_race_where_both_fail_fails_with_both_causes_in_parallel(seed: int) -> None:
    left: Effect[str, str] = Effect.fail("left")
    right: Effect[str, str] = yields(2).and_then(Effect.fail("right"))
    exit = run_interleaved(Effect.race(left, right).exit(), seed)
    assert isinstance(exit, Failure)
    cause = exit.cause
    assert isinstance(cause, Parallel)
    assert sorted(cause.failures()) == ["left", "right"]
    assert not cause.is_interrupted()


def test_race_of_two_defects_keeps_both_defects() -> None:
    first, second = RuntimeError("one"), RuntimeError("two")
    exit = run_sync_exit(Effect.race(Effect.die(first), Effect.die(second)))
    assert isinstance(exit, Failure)
    assert set(map(id, exit.cause.defects())) == {id(first), id(second)}


def test_a_race_that_is_interrupted_interrupts_both_contenders() -> None:
    seen: list[Interrupt] = []

    @gen
    def program() -> Do[Exit[Any, Never]]:
        started = Latch()
        racing = yield from Effect.race(  # type: ignore[arg-type]  # an Any on purpose
            watched(seen, started.open().and_then(Effect.never())),
            watched(seen, Effect.never()),
        ).fork()
        yield from started.wait()
        yield from yields(3)
        return (yield from racing.interrupt())

    assert run_sync(program()).is_interrupted()
    assert len(seen) == 2


# -- race_all -------------------------------------------------------------------------


@each_seed
def test_race_all_returns_the_first_success_and_interrupts_all_the_losers(seed: int) -> None:
    seen: list[Interrupt] = []
    log: list[str] = []

    def loser(name: str) -> Effect[FiberId]:
        return watched(seen, Effect.never()).ensuring(yields(5).and_then(record(log, name)))

    @gen
    def program() -> Do[tuple[FiberId, FiberId]]:
        winner_id = yield from Effect.race_all(
            [loser("a"), loser("b"), yields(2).and_then(Effect.fiber_id()), loser("c")]
        )
        yield from record(log, "race returned")
        return (yield from Effect.fiber_id()), winner_id

    me, winner_id = run_interleaved(program(), seed)
    assert sorted(log[:3]) == ["a", "b", "c"]
    assert log[3:] == ["race returned"]
    assert seen == [Interrupt(me, RaceLost(winner_id))] * 3


def test_race_all_of_failures_fails_with_every_cause() -> None:
    racers: list[Effect[int, str]] = [Effect.fail("a"), Effect.fail("b"), Effect.fail("c")]
    exit = run_sync_exit(Effect.race_all(racers))
    assert isinstance(exit, Failure)
    assert sorted(exit.cause.failures()) == ["a", "b", "c"]


def test_race_all_of_one_effect_is_that_effect() -> None:
    assert run_sync(Effect.race_all([Effect.succeed("only")])) == "only"


def test_race_all_of_nothing_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Effect.race_all([])


# -- all / for_each with concurrency --------------------------------------------------


@each_seed
def test_concurrent_all_gives_results_in_order_whatever_order_they_finish(seed: int) -> None:
    effects = [Effect.sleep(5 - n).as_(n) for n in range(5)]
    exit = run_interleaved(under_test_clock(Effect.all(*effects, concurrency="unbounded"), 5), seed)
    assert exit.get_or_raise() == (0, 1, 2, 3, 4)


@each_seed
def test_concurrent_for_each_gives_results_in_order(seed: int) -> None:
    def task(n: int) -> Effect[int]:
        return yields(10 - n).as_(n * n)

    assert run_interleaved(Effect.for_each(range(10), task, concurrency=3), seed) == [
        n * n for n in range(10)
    ]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_for_each_runs_at_most_concurrency_effects_at_once(limit: int) -> None:
    gauge = Gauge()
    work = Effect.for_each(range(10), lambda n: gauge.task(n, 1), concurrency=limit)
    exit = run_sync(under_test_clock(work, 10))
    assert exit.get_or_raise() == list(range(10))
    assert gauge.most == limit
    assert gauge.running == 0


def test_all_runs_at_most_concurrency_effects_at_once() -> None:
    gauge = Gauge()
    work = Effect.all(*(gauge.task(n, n % 3 + 1) for n in range(8)), concurrency=3)
    exit = run_sync(under_test_clock(work, 20))
    assert exit.get_or_raise() == tuple(range(8))
    assert gauge.most == 3


def test_unbounded_concurrency_runs_everything_at_once() -> None:
    gauge = Gauge()
    work = Effect.for_each(range(10), lambda n: gauge.task(n, 1), concurrency="unbounded")
    exit = run_sync(under_test_clock(work, 1))
    assert exit.get_or_raise() == list(range(10))
    assert gauge.most == 10


def test_limited_concurrency_takes_the_expected_virtual_time() -> None:
    gauge = Gauge()
    work = Effect.for_each(range(6), lambda n: gauge.task(n, 1), concurrency=2)

    @gen
    def program() -> Do[tuple[Exit[list[int], Never] | None, list[int]]]:
        fiber = yield from work.fork()
        yield from TestClock.adjust(2.5)
        early = yield from fiber.poll()
        yield from TestClock.adjust(0.5)
        return early, (yield from fiber.join())

    early, results = run_sync(TestClock.provide(program()))
    assert early is None
    assert results == list(range(6))


@each_seed
def test_the_first_failure_interrupts_the_siblings_with_reason_sibling_failed(seed: int) -> None:
    seen: list[Interrupt] = []
    log: list[str] = []

    def sibling(name: str) -> Effect[FiberId, str]:
        return watched(seen, Effect.never()).ensuring(yields(5).and_then(record(log, name)))

    failing: Effect[FiberId, str] = (
        yields(2)
        .and_then(Effect.fiber_id())
        .tap(lambda me: Effect.sync(lambda: log.append(f"{me}")))
    ).flat_map(lambda _: Effect.fail("boom"))

    @gen
    def program() -> Do[tuple[FiberId, Exit[Any, str]]]:
        exit = yield from Effect.all(
            sibling("a"), failing, sibling("b"), concurrency="unbounded"
        ).exit()
        yield from record(log, "all returned")
        return (yield from Effect.fiber_id()), exit

    me, exit = run_interleaved(program(), seed)
    failed_id = log[0]
    assert sorted(log[1:3]) == ["a", "b"]
    assert log[3] == "all returned"
    assert all(stop.fiber_id == me for stop in seen)
    assert [str(cast(SiblingFailed, stop.reason).sibling) for stop in seen] == [failed_id] * 2
    assert isinstance(exit, Failure)
    cause = exit.cause
    assert cause.failures() == ["boom"]
    assert sorted(cause.interruptions(), key=str) == sorted(seen, key=str)
    assert all(isinstance(stop.reason, SiblingFailed) for stop in cause.interruptions())


def test_the_cause_of_a_concurrent_failure_is_the_failure_beside_the_interruptions() -> None:
    failing: Effect[int, str] = yields(2).and_then(Effect.fail("boom"))

    @gen
    def program() -> Do[tuple[FiberId, Exit[Any, str]]]:
        exit = yield from Effect.all(Effect.never(), failing, concurrency=2).exit()
        return (yield from Effect.fiber_id()), exit

    me, exit = run_sync(program())
    assert isinstance(exit, Failure)
    cause = exit.cause
    assert isinstance(cause, Parallel)
    assert cause.left == Fail("boom")
    assert isinstance(cause.right, Interrupt)
    assert cause.right.fiber_id == me
    assert isinstance(cause.right.reason, SiblingFailed)


@each_seed
def test_effects_not_yet_started_never_start_after_a_failure(seed: int) -> None:
    started: list[int] = []

    def task(n: int) -> Effect[int, str]:
        body = Effect.sync(lambda: started.append(n))
        if n == 0:
            return body.and_then(Effect.fail("first task failed"))
        return body.and_then(Effect.never())

    exit = run_interleaved(Effect.for_each(range(10), task, concurrency=2).exit(), seed)
    assert isinstance(exit, Failure)
    assert exit.cause.failures() == ["first task failed"]
    assert 0 in started
    assert set(started) <= {0, 1}


def test_run_sync_raises_the_users_own_exception_for_a_concurrent_failure() -> None:
    error = ValueError("item 3 is bad")

    def task(n: int) -> Effect[int, ValueError]:
        if n == 3:
            return yields(1).and_then(Effect.fail(error))
        return Effect.never()

    work = Effect.for_each(range(6), task, concurrency="unbounded")
    with pytest.raises(ValueError) as caught:
        run_sync(cast(Effect[list[int]], work))
    assert caught.value is error


def test_a_defect_in_a_concurrent_effect_interrupts_the_siblings_too() -> None:
    seen: list[Interrupt] = []
    defect = RuntimeError("bug")
    exit = run_sync_exit(
        Effect.all(watched(seen, Effect.never()), Effect.die(defect), concurrency=2),  # type: ignore[arg-type]  # an Any on purpose
    )
    assert isinstance(exit, Failure)
    assert exit.cause.defects() == [defect]
    assert [type(stop.reason) for stop in seen] == [SiblingFailed]


def test_an_interrupted_concurrent_all_interrupts_every_running_effect() -> None:
    seen: list[Interrupt] = []
    log: list[str] = []

    def task(n: int) -> Effect[None]:
        return watched(seen, Effect.never()).ensuring(yields(3).and_then(record(log, f"{n}")))

    @gen
    def program() -> Do[Exit[list[None], Never]]:
        fiber = yield from Effect.for_each(range(4), task, concurrency=4).fork()
        yield from yields(5)
        return (yield from fiber.interrupt())

    assert run_sync(program()).is_interrupted()
    assert sorted(log) == ["0", "1", "2", "3"]
    assert len(seen) == 4


def test_an_interrupted_concurrent_for_each_starts_no_more_effects() -> None:
    gauge = Gauge()
    work = Effect.for_each(range(10), lambda n: gauge.task(n, 1), concurrency=2)

    @gen
    def program() -> Do[Exit[list[int], Never]]:
        fiber = yield from work.fork()
        yield from TestClock.adjust(0.5)
        exit = yield from fiber.interrupt()
        yield from TestClock.adjust(10)
        return exit

    assert run_sync(TestClock.provide(program())).is_interrupted()
    assert gauge.started == [0, 1]
    assert gauge.running == 0


# An empty group used to park forever; the live `timeout(1)` is only a safety net so
# that a regression fails fast with a TimeoutError instead of hanging the suite.


def test_concurrent_all_of_nothing_is_an_empty_tuple() -> None:
    assert run_sync_exit(Effect.all(concurrency=3).timeout(1)) == Success(())


def test_concurrent_for_each_of_nothing_is_an_empty_list() -> None:
    empty: list[int] = []
    work = Effect.for_each(empty, Effect.succeed, concurrency="unbounded")
    assert run_sync_exit(work.timeout(1)) == Success([])


def test_concurrent_for_each_can_run_again_with_fresh_results() -> None:
    work = Effect.for_each(range(3), lambda n: Effect.succeed(n), concurrency=2)
    assert run_sync(work.zip(work)) == ([0, 1, 2], [0, 1, 2])


# -- sequential all / for_each --------------------------------------------------------


def test_sequential_all_runs_the_effects_one_after_the_other_in_order() -> None:
    log: list[str] = []

    def step(name: str) -> Effect[str]:
        return (
            record(log, f"{name} start")
            .and_then(yields(2))
            .and_then(record(log, f"{name} end"))
            .as_(name)
        )

    assert run_sync(Effect.all(step("a"), step("b"), step("c"))) == ("a", "b", "c")
    assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]


def test_sequential_for_each_runs_in_order_and_stops_at_the_first_failure() -> None:
    log: list[int] = []

    def step(n: int) -> Effect[int, str]:
        logged = Effect.sync(lambda: log.append(n))
        return logged.and_then(Effect.fail(f"{n} failed")) if n == 2 else logged.as_(n)

    assert run_sync_exit(Effect.for_each(range(5), step)) == run_sync_exit(Effect.fail("2 failed"))
    assert log == [0, 1, 2]


def test_sequential_for_each_does_not_fork() -> None:
    ids = run_sync(Effect.for_each(range(3), lambda _: Effect.fiber_id()))
    me = run_sync(Effect.fiber_id())
    assert len(set(ids)) == 1
    assert ids[0] != me  # a fresh run, a fresh root fiber


def test_concurrent_for_each_runs_each_effect_in_a_child_fiber() -> None:
    @gen
    def program() -> Do[tuple[FiberId, list[FiberId]]]:
        ids = yield from Effect.for_each(range(3), lambda _: Effect.fiber_id(), concurrency=3)
        return (yield from Effect.fiber_id()), ids

    me, ids = run_sync(program())
    assert me not in ids
    assert len(set(ids)) == 3


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [0, -1, "x", True, False, 1.5])
def test_bad_concurrency_values_raise_value_error(concurrency: object) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Effect.all(Effect.unit(), concurrency=cast(Any, concurrency))
    with pytest.raises(ValueError, match="concurrency"):
        Effect.for_each([1], Effect.succeed, concurrency=cast(Any, concurrency))


def test_all_of_a_non_effect_raises_type_error() -> None:
    with pytest.raises(TypeError, match=r"Effect\.all"):
        Effect.all(cast(Any, 42), concurrency=2)
