"""Scopes: finalizers run last-added first, every one of them, exactly once, with the
exit the scope closed with; failures are combined and none is lost.

The reference is Effect-TS v3 `Scope`: `close` is idempotent, a finalizer added to a
closed scope runs at once, a child scope (`fork`) closes with its parent unless it was
closed first, and `extend`/`use` provide a scope without/with closing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from conftest import Latch, each_seed, run_seeded, yields
from hypothesis import given, settings
from hypothesis import strategies as st

from effectpy import (
    Cause,
    Clock,
    CloseableScope,
    Die,
    Do,
    Effect,
    ExecutionStrategy,
    Exit,
    Fail,
    Failure,
    Parallel,
    Runtime,
    Scope,
    Sequential,
    Success,
    TestClock,
    gen,
    run_sync,
    run_sync_exit,
)

PROPERTY = settings(max_examples=150, deadline=None, database=None)


class FinalizerFailed(Exception):
    """The defect a failing finalizer dies with; `index` is its registration index."""

    def __init__(self, index: int) -> None:
        super().__init__(f"finalizer {index} failed")
        self.index = index


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def recording_finalizer(log: list[int], index: int, error: BaseException | None) -> Effect[None]:
    """Appends `index` to `log`, then dies with `error` if there is one."""
    ran = record(log, index)
    return ran if error is None else ran.and_then(Effect.die(error))


def close_after_adding(
    strategy: ExecutionStrategy, finalizers: Sequence[Effect[None]], exit: Exit[Any, Any]
) -> Effect[None]:
    """A new scope with `finalizers` added in order, closed with `exit`."""

    def program(scope: CloseableScope) -> Effect[None]:
        adds = Effect.for_each(finalizers, scope.add_finalizer)
        return adds.and_then(scope.close(exit))

    return Scope.make(strategy).flat_map(program)


def is_made_of(cause: Cause[Any], node: type[Sequential[Any]] | type[Parallel[Any]]) -> bool:
    """Whether every combination node in `cause` is of the class `node`."""
    stack = [cause]
    while stack:
        current = stack.pop()
        if isinstance(current, Sequential | Parallel):
            if not isinstance(current, node):
                return False
            stack.extend([current.left, current.right])
    return True


# -- order and failures (sequential) --------------------------------------------------


@PROPERTY
@given(st.lists(st.booleans(), max_size=12))
def test_sequential_close_runs_every_finalizer_last_added_first_and_keeps_every_failure(
    fails: list[bool],
) -> None:
    log: list[int] = []
    errors = [FinalizerFailed(i) if fail else None for i, fail in enumerate(fails)]
    finalizers = [recording_finalizer(log, i, error) for i, error in enumerate(errors)]

    exit = run_sync_exit(close_after_adding(ExecutionStrategy.sequential, finalizers, Exit.unit()))

    assert log == list(reversed(range(len(fails))))
    expected: Cause[Any] = Cause.empty()
    for error in reversed(errors):
        if error is not None:
            expected = Cause.sequential(expected, Die(error))
    assert exit == (Success(None) if expected.is_empty() else Failure(expected))


def test_sequential_close_combines_two_failures_in_run_order() -> None:
    first_added, last_added = FinalizerFailed(0), FinalizerFailed(1)
    finalizers = [Effect.die(first_added), Effect.die(last_added)]
    exit = run_sync_exit(close_after_adding(ExecutionStrategy.sequential, finalizers, Exit.unit()))
    assert exit == Failure(Sequential(Die(last_added), Die(first_added)))


def test_a_failing_finalizer_does_not_stop_the_ones_after_it() -> None:
    log: list[int] = []
    finalizers = [
        recording_finalizer(log, 0, None),
        recording_finalizer(log, 1, FinalizerFailed(1)),
        recording_finalizer(log, 2, None),
    ]
    exit = run_sync_exit(close_after_adding(ExecutionStrategy.sequential, finalizers, Exit.unit()))
    assert log == [2, 1, 0]
    assert exit.is_failure()


def test_finalizers_receive_the_exit_the_scope_closed_with() -> None:
    seen: list[Exit[Any, Any]] = []

    def program(scope: CloseableScope) -> Effect[None]:
        def report(exit: Exit[Any, Any]) -> Effect[None]:
            return Effect.sync(lambda: seen.append(exit))

        return (
            scope.add_finalizer_exit(report)
            .and_then(scope.add_finalizer_exit(report))
            .and_then(scope.close(Exit.fail("closed with this")))
        )

    run_sync(Scope.make().flat_map(program))
    assert seen == [Failure(Fail("closed with this"))] * 2


# -- the parallel strategies ----------------------------------------------------------


@PROPERTY
@given(st.lists(st.booleans(), min_size=1, max_size=10), st.integers(min_value=0, max_value=10_000))
def test_parallel_close_runs_every_finalizer_once_and_combines_failures_in_parallel(
    fails: list[bool], seed: int
) -> None:
    log: list[int] = []
    errors = [FinalizerFailed(i) if fail else None for i, fail in enumerate(fails)]
    finalizers = [
        yields(i % 3).and_then(recording_finalizer(log, i, error)) for i, error in enumerate(errors)
    ]

    exit = Runtime(seed=seed).run_sync_exit(
        close_after_adding(ExecutionStrategy.parallel, finalizers, Exit.unit())
    )

    assert sorted(log) == list(range(len(fails)))
    expected_defects = {id(error) for error in errors if error is not None}
    if not expected_defects:
        assert exit == Success(None)
        return
    assert isinstance(exit, Failure)
    defects = exit.cause.defects()
    assert len(defects) == len(expected_defects)
    assert {id(defect) for defect in defects} == expected_defects
    assert is_made_of(exit.cause, Parallel)
    if len(expected_defects) > 1:
        assert isinstance(exit.cause, Parallel)


@pytest.mark.timeout(10)  # a close that never ends must fail here, not hang the run
@pytest.mark.parametrize(
    "strategy",
    [ExecutionStrategy.sequential, ExecutionStrategy.parallel, ExecutionStrategy.parallel_n(2)],
    ids=["sequential", "parallel", "parallel_n(2)"],
)
def test_closing_a_scope_with_no_finalizer_succeeds_under_every_strategy(
    strategy: ExecutionStrategy,
) -> None:
    # Kept out of the property above: a close that hangs would hang its shrinking too.
    assert run_sync_exit(close_after_adding(strategy, [], Exit.unit())) == Success(None)


@each_seed
def test_parallel_close_really_runs_finalizers_at_the_same_time(seed: int) -> None:
    # Each finalizer opens its own latch, then waits for the other's: run one at a
    # time, the first would wait forever.
    first, second = Latch(), Latch()
    log: list[str] = []

    @gen
    def program() -> Do[bool]:
        scope = yield from Scope.make(ExecutionStrategy.parallel)
        yield from scope.add_finalizer(
            first.open().and_then(second.wait()).and_then(record(log, "first"))
        )
        yield from scope.add_finalizer(
            second.open().and_then(first.wait()).and_then(record(log, "second"))
        )
        closing = yield from scope.close(Exit.unit()).fork()
        yield from yields(100)
        finished = (yield from closing.poll()) is not None
        # Unblock a sequential run, so a failure of this test reports instead of hanging.
        yield from first.open().and_then(second.open())
        yield from closing.join()
        return finished

    assert run_seeded(program(), seed), "the parallel finalizers did not run concurrently"
    assert sorted(log) == ["first", "second"]


@pytest.mark.parametrize(
    ("strategy", "most_at_once", "finish_times"),
    [
        (ExecutionStrategy.sequential, 1, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        (ExecutionStrategy.parallel_n(2), 2, [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]),
        (ExecutionStrategy.parallel_n(4), 4, [1.0, 1.0, 1.0, 1.0, 2.0, 2.0]),
        (ExecutionStrategy.parallel, 6, [1.0] * 6),
    ],
    ids=["sequential", "parallel_n(2)", "parallel_n(4)", "parallel"],
)
@each_seed
def test_a_strategy_bounds_how_many_finalizers_run_at_once(
    strategy: ExecutionStrategy, most_at_once: int, finish_times: list[float], seed: int
) -> None:
    running = 0
    most = 0
    finished: list[float] = []

    def enter() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)

    def leave(now: float) -> None:
        nonlocal running
        running -= 1
        finished.append(now)

    finalizer = (
        Effect.sync(enter)
        .and_then(Effect.sleep(1))
        .and_then(Clock.now())
        .flat_map(lambda now: Effect.sync(lambda: leave(now)))
    )

    @gen
    def program() -> Do[None]:
        closing = yield from close_after_adding(strategy, [finalizer] * 6, Exit.unit()).fork()
        yield from TestClock.adjust(10)
        yield from closing.join()

    run_seeded(TestClock.provide(program()), seed)
    assert most == most_at_once
    assert sorted(finished) == finish_times


# -- idempotence and closed scopes ----------------------------------------------------


def test_close_is_idempotent_and_a_second_close_runs_nothing() -> None:
    log: list[int] = []
    seen: list[Exit[Any, Any]] = []

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        yield from scope.add_finalizer(record(log, 1))
        yield from scope.add_finalizer_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
        yield from scope.close(Exit.unit())
        yield from scope.close(Exit.fail("second close"))
        yield from scope.close(Exit.die(RuntimeError("third close")))
        # The scope keeps the exit of the first close: a late finalizer sees it.
        yield from scope.add_finalizer_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))

    run_sync(program())
    assert log == [1]
    assert seen == [Success(None), Success(None)]


def test_a_second_close_does_not_fail_again_with_the_finalizers_failures() -> None:
    error = FinalizerFailed(0)

    @gen
    def program() -> Do[tuple[Exit[None, Any], Exit[None, Any]]]:
        scope = yield from Scope.make()
        yield from scope.add_finalizer(Effect.die(error))
        first = yield from scope.close(Exit.unit()).exit()
        second = yield from scope.close(Exit.unit()).exit()
        return first, second

    assert run_sync(program()) == (Failure(Die(error)), Success(None))


def test_a_closed_scope_says_so_and_holds_no_finalizer() -> None:
    @gen
    def program() -> Do[tuple[bool, int, bool, int]]:
        scope = yield from Scope.make()
        yield from scope.add_finalizer(Effect.unit())
        before = scope.is_closed(), scope.finalizer_count()
        yield from scope.close(Exit.unit())
        return (*before, scope.is_closed(), scope.finalizer_count())

    assert run_sync(program()) == (False, 1, True, 0)


@pytest.mark.parametrize(
    "closed_with",
    [Exit.unit(), Exit.fail("failed"), Exit.die(RuntimeError("died"))],
    ids=["success", "failure", "defect"],
)
def test_add_finalizer_exit_on_a_closed_scope_runs_it_at_once_with_the_stored_exit(
    closed_with: Exit[Any, Any],
) -> None:
    seen: list[Exit[Any, Any]] = []

    @gen
    def program() -> Do[list[Exit[Any, Any]]]:
        scope = yield from Scope.make()
        yield from scope.close(closed_with)
        yield from scope.add_finalizer_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
        return list(seen)  # what had run by the time add_finalizer_exit returned

    assert run_sync(program()) == [closed_with]
    assert seen == [closed_with]


def test_add_finalizer_on_a_closed_scope_runs_it_at_once() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[list[str]]:
        scope = yield from Scope.make()
        yield from scope.close(Exit.unit())
        yield from scope.add_finalizer(record(log, "ran at once"))
        return list(log)

    assert run_sync(program()) == ["ran at once"]
    assert log == ["ran at once"]


# -- child scopes ---------------------------------------------------------------------


def test_a_child_scope_closes_when_its_parent_closes_with_the_parents_exit() -> None:
    seen: list[Exit[Any, Any]] = []

    @gen
    def program() -> Do[bool]:
        parent = yield from Scope.make()
        child = yield from parent.fork(ExecutionStrategy.parallel)
        yield from child.add_finalizer_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
        yield from parent.close(Exit.fail("parent failed"))
        return child.is_closed()

    assert run_sync(program()) is True
    assert seen == [Failure(Fail("parent failed"))]


def test_a_child_scope_keeps_its_own_strategy() -> None:
    @gen
    def program() -> Do[ExecutionStrategy]:
        parent = yield from Scope.make()
        child = yield from parent.fork(ExecutionStrategy.parallel_n(3))
        return child.strategy

    assert run_sync(program()) == ExecutionStrategy.parallel_n(3)


def test_a_child_closed_first_unregisters_from_its_parent() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[tuple[int, int, int]]:
        parent = yield from Scope.make()
        empty = parent.finalizer_count()
        child = yield from parent.fork()
        with_child = parent.finalizer_count()
        yield from child.add_finalizer(record(log, "child finalizer"))
        yield from child.close(Exit.unit())
        after_child = parent.finalizer_count()
        yield from parent.close(Exit.unit())
        return empty, with_child, after_child

    assert run_sync(program()) == (0, 1, 0)
    assert log == ["child finalizer"]


def test_a_child_scope_closes_in_its_place_in_the_parents_lifo_order() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[None]:
        parent = yield from Scope.make()
        yield from parent.add_finalizer(record(log, "parent, added first"))
        child = yield from parent.fork()
        yield from child.add_finalizer(record(log, "child, added first"))
        yield from child.add_finalizer(record(log, "child, added last"))
        yield from parent.add_finalizer(record(log, "parent, added last"))
        yield from parent.close(Exit.unit())

    run_sync(program())
    assert log == [
        "parent, added last",
        "child, added last",
        "child, added first",
        "parent, added first",
    ]


def test_forking_a_closed_scope_gives_a_closed_child() -> None:
    @gen
    def program() -> Do[tuple[bool, int]]:
        parent = yield from Scope.make()
        yield from parent.close(Exit.unit())
        child = yield from parent.fork()
        return child.is_closed(), parent.finalizer_count()

    assert run_sync(program()) == (True, 0)


def test_a_child_scopes_failing_finalizer_fails_the_parents_close() -> None:
    error = FinalizerFailed(0)

    @gen
    def program() -> Do[Exit[None, Any]]:
        parent = yield from Scope.make()
        child = yield from parent.fork()
        yield from child.add_finalizer(Effect.die(error))
        return (yield from parent.close(Exit.unit()).exit())

    assert run_sync(program()) == Failure(Die(error))


# -- nesting, extend, use -------------------------------------------------------------


def test_nested_scopes_close_inner_before_outer() -> None:
    log: list[str] = []
    inner = Effect.scoped(
        Effect.add_finalizer(lambda _: record(log, "inner closed")).and_then(
            record(log, "inner body")
        )
    )
    outer = Effect.scoped(
        Effect.add_finalizer(lambda _: record(log, "outer closed"))
        .and_then(inner)
        .and_then(record(log, "outer body"))
    )
    run_sync(outer)
    assert log == ["inner body", "inner closed", "outer body", "outer closed"]


def test_nested_scopes_close_inner_before_outer_when_the_inner_body_fails() -> None:
    log: list[str] = []
    failing: Effect[None, str] = Effect.fail("inner failed")
    inner = Effect.scoped(
        Effect.add_finalizer(lambda _: record(log, "inner closed")).and_then(failing)
    )
    outer = Effect.scoped(
        Effect.add_finalizer(lambda _: record(log, "outer closed")).and_then(inner)
    )
    assert run_sync_exit(outer) == Failure(Fail("inner failed"))
    assert log == ["inner closed", "outer closed"]


def test_extend_keeps_the_scope_open_after_the_effect() -> None:
    log: list[str] = []
    resource = Effect.add_finalizer(lambda _: record(log, "released"))

    @gen
    def program() -> Do[tuple[bool, int, list[str]]]:
        scope = yield from Scope.make()
        yield from scope.extend(resource)
        state = scope.is_closed(), scope.finalizer_count(), list(log)
        yield from scope.close(Exit.unit())
        return state

    assert run_sync(program()) == (False, 1, [])
    assert log == ["released"]


def test_extend_keeps_the_scope_open_when_the_effect_fails() -> None:
    log: list[str] = []
    failing: Effect[None, str] = Effect.fail("no")
    resource = Effect.add_finalizer(lambda _: record(log, "released")).and_then(failing)

    @gen
    def program() -> Do[tuple[Exit[None, str], bool]]:
        scope = yield from Scope.make()
        exit = yield from scope.extend(resource).exit()
        return exit, scope.is_closed()

    assert run_sync(program()) == (Failure(Fail("no")), False)
    assert log == []


def test_scope_get_inside_extend_is_that_scope() -> None:
    @gen
    def program() -> Do[bool]:
        scope = yield from Scope.make()
        seen = yield from scope.extend(Scope.get())
        return seen is scope

    assert run_sync(program())


def use_and_report(effect: Effect[Any, Any, Scope]) -> Effect[tuple[Exit[Any, Any], list[Any]]]:
    """Run `effect` in `scope.use`; give its exit and the exits the finalizer saw."""
    seen: list[Exit[Any, Any]] = []
    report = Effect.add_finalizer(lambda exit: Effect.sync(lambda: seen.append(exit)))

    @gen
    def program() -> Do[tuple[Exit[Any, Any], list[Any]]]:
        scope = yield from Scope.make()
        exit = yield from scope.use(report.and_then(effect)).exit()
        assert scope.is_closed()
        return exit, seen

    return program()


def test_use_closes_the_scope_with_the_effects_success() -> None:
    exit, seen = run_sync(use_and_report(Effect.succeed(7)))
    assert exit == Success(7)
    assert seen == [Success(7)]


def test_use_closes_the_scope_with_the_effects_failure() -> None:
    exit, seen = run_sync(use_and_report(Effect.fail("no")))
    assert exit == Failure(Fail("no"))
    assert seen == [Failure(Fail("no"))]


def test_use_closes_the_scope_with_the_effects_defect() -> None:
    defect = RuntimeError("bug")
    exit, seen = run_sync(use_and_report(Effect.die(defect)))
    assert exit == Failure(Die(defect))
    assert seen == [Failure(Die(defect))]


@each_seed
def test_use_closes_the_scope_with_the_effects_interruption(seed: int) -> None:
    seen: list[Exit[Any, Any]] = []
    started = Latch()
    report = Effect.add_finalizer(lambda exit: Effect.sync(lambda: seen.append(exit)))

    @gen
    def program() -> Do[tuple[Exit[Any, Any], bool]]:
        scope = yield from Scope.make()
        fiber = yield from scope.use(
            report.and_then(started.open()).and_then(Effect.never())
        ).fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()
        return exit, scope.is_closed()

    exit, closed = run_seeded(program(), seed)
    assert closed
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert seen == [exit]


def test_use_fails_with_the_finalizers_failure_after_the_effects() -> None:
    error = FinalizerFailed(0)
    failing: Effect[None, str] = Effect.fail("body failed")

    @gen
    def program() -> Do[Exit[None, str]]:
        scope = yield from Scope.make()
        body = Effect.add_finalizer(lambda _: Effect.die(error)).and_then(failing)
        return (yield from scope.use(body).exit())

    assert run_sync(program()) == Failure(Sequential(Fail("body failed"), Die(error)))


# -- one scope, many fibers -----------------------------------------------------------


@each_seed
def test_a_scope_shared_by_many_fibers_runs_each_finalizer_exactly_once(seed: int) -> None:
    ran: list[tuple[int, int]] = []

    def adder(scope: Scope, fiber: int) -> Effect[None]:
        return Effect.for_each(
            range(5),
            lambda k: Effect.yield_now().and_then(scope.add_finalizer(record(ran, (fiber, k)))),
        ).as_unit()

    @gen
    def program() -> Do[int]:
        scope = yield from Scope.make()
        yield from Effect.for_each(range(20), lambda i: adder(scope, i), concurrency="unbounded")
        count = scope.finalizer_count()
        yield from scope.close(Exit.unit())
        return count

    assert run_seeded(program(), seed) == 100
    assert sorted(ran) == [(i, k) for i in range(20) for k in range(5)]


@each_seed
def test_finalizers_added_while_the_scope_closes_each_run_exactly_once(seed: int) -> None:
    added: list[tuple[int, int]] = []
    ran: list[tuple[int, int]] = []

    def adder(scope: Scope, fiber: int) -> Effect[None]:
        def add(k: int) -> Effect[None]:
            return (
                Effect.yield_now()
                .and_then(scope.add_finalizer(yields(k % 2).and_then(record(ran, (fiber, k)))))
                .and_then(record(added, (fiber, k)))
            )

        return Effect.for_each(range(6), add).as_unit()

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        adders = yield from Effect.for_each(range(8), lambda i: adder(scope, i).fork())
        yield from yields(seed % 7)
        yield from scope.close(Exit.unit())
        yield from Effect.for_each(adders, lambda fiber: fiber.join())

    run_seeded(program(), seed)
    assert len(ran) == len(set(ran)) == 48
    assert sorted(ran) == sorted(added)


# -- bad input ------------------------------------------------------------------------


def test_scope_get_outside_any_scope_is_a_defect_that_says_what_to_do() -> None:
    exit = run_sync_exit(Scope.get())  # type: ignore[arg-type]
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, LookupError)
    assert "no Scope" in str(defect)
    assert "Effect.scoped" in str(defect)


def test_add_finalizer_outside_any_scope_is_a_defect() -> None:
    effect = Effect.add_finalizer(lambda _: Effect.unit())
    with pytest.raises(LookupError, match="no Scope"):
        run_sync(effect)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [0, -1, True, 2.0, "2"])
def test_parallel_n_rejects_anything_but_a_positive_int(n: Any) -> None:
    with pytest.raises(ValueError, match="parallel_n needs a positive int"):
        ExecutionStrategy.parallel_n(n)


def test_parallel_n_of_one_is_allowed() -> None:
    assert ExecutionStrategy.parallel_n(1) == ExecutionStrategy("parallel", 1)


@pytest.mark.parametrize("strategy", ["parallel", None, 3])
def test_a_scope_with_a_strategy_that_is_not_an_execution_strategy_is_a_type_error(
    strategy: Any,
) -> None:
    with pytest.raises(TypeError, match="needs an ExecutionStrategy"):
        run_sync(Scope.make(strategy))


@pytest.mark.parametrize("strategy", ["parallel", None, 3])
def test_scope_make_rejects_a_bad_strategy_when_called_not_when_run(strategy: Any) -> None:
    # Like Effect.sleep(-1): bad input is an error at the call, not a defect later.
    with pytest.raises(TypeError, match="needs an ExecutionStrategy"):
        Scope.make(strategy)


@pytest.mark.parametrize("strategy", ["parallel", None])
def test_scope_fork_rejects_a_bad_strategy_when_called_not_when_run(strategy: Any) -> None:
    parent = run_sync(Scope.make())
    with pytest.raises(TypeError, match="needs an ExecutionStrategy"):
        parent.fork(strategy)
