"""Scopes: finalizers run last-added first, every one of them, exactly once, with the
exit the scope closed with; failures are combined and none is lost.

The reference is Effect-TS v3 `Scope`: `close` is idempotent, a finalizer added to a
closed scope runs at once, a child scope (`fork`) closes with its parent unless it was
closed first, and `extend`/`use` provide a scope without/with closing it.

The runtime may run a lone `Effect.sync` finalizer (or acquire) on the spot as the
scope closes: the tests that build them run both ways (`each_path`, in conftest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, Never, TypeVar

import pytest
from conftest import (
    BODY_DEFECT,
    Latch,
    Path,
    each_closing_exit,
    each_path,
    each_seed,
    on_path,
    run_interleaved,
    run_seeded,
    yields,
)
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
    Fiber,
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

A = TypeVar("A")

PROPERTY = settings(max_examples=150, deadline=None, database=None)

FINALIZER_DEFECT = RuntimeError("defect in a finalizer")
OTHER_FINALIZER_DEFECT = RuntimeError("defect in another finalizer")


class FinalizerFailed(Exception):
    """The defect a failing finalizer dies with; `index` is its registration index."""

    def __init__(self, index: int) -> None:
        super().__init__(f"finalizer {index} failed")
        self.index = index


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def logged(log: list[Any], entry: object, value: A) -> A:
    """Append `entry` to `log`; give back `value`."""
    log.append(entry)
    return value


def raising(
    error: BaseException, log: list[Any] | None = None, entry: object = None, path: Path = "sync"
) -> Effect[None]:
    """An effect along `path` whose thunk raises `error` (not an `Effect.die`), after
    appending `entry` to `log` if there is a log."""

    def run() -> None:
        if log is not None:
            log.append(entry)
        raise error

    return on_path(path, run)


def recording_release(
    log: list[Any], path: Path = "sync"
) -> Callable[[str, Exit[Any, Any]], Effect[None]]:
    """A release along `path` that logs `(resource, exit)`."""
    return lambda resource, exit: on_path(path, lambda: log.append((resource, exit)))


def only_defect(exit: Exit[Any, Any]) -> BaseException:
    """The one defect of a failed exit (and nothing else in its cause)."""
    assert isinstance(exit, Failure), exit
    [defect] = exit.cause.defects()
    assert exit == Failure(Die(defect))
    return defect


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


CloseKind = Literal["close", "scoped success", "scoped failure", "scoped defect"]
CLOSE_KINDS: list[CloseKind] = ["close", "scoped success", "scoped failure", "scoped defect"]
each_close_kind = pytest.mark.parametrize("how", CLOSE_KINDS)


def close_with_finalizers(how: CloseKind, register: Effect[Any, Never, Scope]) -> Effect[Any, Any]:
    """Register finalizers with `register`, then close the scope as `how` says: with
    `scope.close(Exit.unit())`, or as the end of an `Effect.scoped` body."""
    if how == "close":

        @gen
        def program() -> Do[None]:
            scope = yield from Scope.make()
            yield from scope.extend(register)
            yield from scope.close(Exit.unit())

        return program()
    failing: Effect[int, str] = Effect.fail("body failed")
    ends: dict[CloseKind, Effect[int, str]] = {
        "scoped success": Effect.succeed(1),
        "scoped failure": failing,
        "scoped defect": Effect.die(BODY_DEFECT),
    }
    return Effect.scoped(register.and_then(ends[how]))


def after_body(how: CloseKind, finalizers_cause: Any) -> Exit[Any, Any]:
    """The exit of `close_with_finalizers(how, ...)` when the finalizers fail with
    `finalizers_cause`: their cause after the body's, the body's value dropped."""
    body: dict[CloseKind, Any] = {
        "close": None,
        "scoped success": None,
        "scoped failure": Fail("body failed"),
        "scoped defect": Die(BODY_DEFECT),
    }
    before = body[how]
    return Failure(finalizers_cause if before is None else Sequential(before, finalizers_cause))


@each_path
@each_close_kind
def test_a_finalizer_that_raises_does_not_stop_the_others_and_its_die_is_kept(
    path: Path, how: CloseKind
) -> None:
    log: list[str] = []
    register = (
        Effect.add_finalizer(lambda _: on_path(path, lambda: log.append("first added")))
        .and_then(Effect.add_finalizer(lambda _: Effect.yield_now().and_then(record(log, "slow"))))
        .and_then(Effect.add_finalizer(lambda _: raising(FINALIZER_DEFECT, log, "raises", path)))
        .and_then(Effect.add_finalizer(lambda _: on_path(path, lambda: log.append("last added"))))
    )

    exit = run_sync_exit(close_with_finalizers(how, register))

    assert log == ["last added", "raises", "slow", "first added"]
    assert exit == after_body(how, Die(FINALIZER_DEFECT))


@each_path
@each_close_kind
def test_two_finalizers_that_raise_are_both_kept_in_the_order_they_ran(
    path: Path, how: CloseKind
) -> None:
    log: list[str] = []
    register = (
        Effect.add_finalizer(lambda _: raising(FINALIZER_DEFECT, path=path))
        .and_then(Effect.add_finalizer(lambda _: on_path(path, lambda: log.append("between"))))
        .and_then(Effect.add_finalizer(lambda _: raising(OTHER_FINALIZER_DEFECT, path=path)))
    )

    exit = run_sync_exit(close_with_finalizers(how, register))

    assert log == ["between"]
    ran_first, ran_last = Die(OTHER_FINALIZER_DEFECT), Die(FINALIZER_DEFECT)
    assert exit == after_body(how, Sequential(ran_first, ran_last))


SingleKind = Literal["add_finalizer", "add_finalizer_exit", "release", "die node"]
SINGLE_KINDS: list[SingleKind] = ["add_finalizer", "add_finalizer_exit", "release", "die node"]


def single_failing_finalizer(
    kind: SingleKind, log: list[str], path: Path
) -> Effect[Any, Never, Scope]:
    """Register one finalizer (and its acquire) along `path` that logs, then fails with
    `FINALIZER_DEFECT` (its thunk raises, except for `die node`: an `Effect.die` after
    the log)."""
    fails = raising(FINALIZER_DEFECT, log, "finalizer", path)
    if kind == "add_finalizer":
        return Scope.get().flat_map(lambda scope: scope.add_finalizer(fails))
    if kind == "add_finalizer_exit":
        return Effect.add_finalizer(lambda _: fails)
    if kind == "release":
        return Effect.acquire_release(on_path(path, lambda: "r"), lambda r, exit: fails)
    return Effect.add_finalizer(
        lambda _: on_path(path, lambda: log.append("finalizer")).and_then(
            Effect.die(FINALIZER_DEFECT)
        )
    )


@each_path
@pytest.mark.parametrize("kind", SINGLE_KINDS)
@each_close_kind
def test_a_single_failing_finalizer_fails_the_close_with_its_die_after_the_body(
    path: Path, how: CloseKind, kind: SingleKind
) -> None:
    log: list[str] = []
    program = close_with_finalizers(how, single_failing_finalizer(kind, log, path))
    exit = run_sync_exit(program.tap(lambda _: record(log, "after")))
    assert log == ["finalizer"]
    assert exit == after_body(how, Die(FINALIZER_DEFECT))


@each_path
def test_a_single_finalizer_that_raises_after_a_success_drops_the_value(path: Path) -> None:
    log: list[str] = []
    program = Effect.scoped(
        Effect.add_finalizer(lambda _: raising(FINALIZER_DEFECT, path=path)).as_("value")
    ).catch_all_cause(lambda cause: record(log, "handled").as_(cause))
    assert run_sync(program) == Die(FINALIZER_DEFECT)
    assert log == ["handled"]


# -- Effect.scoped: a model of every mix ----------------------------------------------

Registration = Literal["sync acquire", "other acquire", "add_finalizer", "add_finalizer_exit"]
Behaviour = Literal["ok", "slow", "raises", "dies"]
BodyEnd = Literal["success", "failure", "defect"]

DEFECTS = [FinalizerFailed(index) for index in range(6)]


def model_finalizer(
    log: list[Any], index: int, behaviour: Behaviour, exit: Exit[Any, Any]
) -> Effect[None]:
    """Logs `(index, exit)`, then: nothing more (`ok`), after a yield (`slow`), or
    fails with `DEFECTS[index]` from a sync thunk (`raises`) or a die node (`dies`)."""
    if behaviour == "ok":
        return record(log, (index, exit))
    if behaviour == "slow":
        return Effect.yield_now().and_then(record(log, (index, exit)))
    if behaviour == "raises":
        return raising(DEFECTS[index], log, (index, exit))
    return record(log, (index, exit)).and_then(Effect.die(DEFECTS[index]))


def model_registration(
    log: list[Any], index: int, registration: Registration, behaviour: Behaviour
) -> Effect[Any, Never, Scope]:
    def release(resource: int, exit: Exit[Any, Any]) -> Effect[None]:
        assert resource == index
        return model_finalizer(log, index, behaviour, exit)

    if registration == "sync acquire":
        return Effect.acquire_release(Effect.sync(lambda: index), release)
    if registration == "other acquire":
        return Effect.acquire_release(Effect.yield_now().as_(index), release)
    if registration == "add_finalizer_exit":
        return Effect.add_finalizer(lambda exit: model_finalizer(log, index, behaviour, exit))
    # `add_finalizer` takes an effect: it cannot see the exit, so it logs None for it.
    return Scope.get().flat_map(
        lambda scope: scope.add_finalizer(model_finalizer(log, index, behaviour, Success(None)))
    )


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                ["sync acquire", "other acquire", "add_finalizer", "add_finalizer_exit"]
            ),
            st.sampled_from(["ok", "slow", "raises", "dies"]),
        ),
        max_size=len(DEFECTS),
    ),
    st.sampled_from(["success", "failure", "defect"]),
)
def test_effect_scoped_runs_every_finalizer_last_first_with_its_exit_and_keeps_every_failure(
    finalizers: list[tuple[Registration, Behaviour]], end: BodyEnd
) -> None:
    # Each registration and each finalizer is drawn as a lone `Effect.sync` or as a
    # longer effect, so every mix of the two is run.
    log: list[Any] = []
    body: Effect[Any, str, Scope] = Effect.unit()
    for index, (registration, behaviour) in enumerate(finalizers):
        body = body.and_then(model_registration(log, index, registration, behaviour))
    failing: Effect[str, str] = Effect.fail("body failed")
    ends: dict[BodyEnd, Effect[str, str]] = {
        "success": Effect.succeed("value"),
        "failure": failing,
        "defect": Effect.die(BODY_DEFECT),
    }

    exit = run_sync_exit(Effect.scoped(body.and_then(ends[end])))

    body_exits: dict[BodyEnd, Exit[str, str]] = {
        "success": Success("value"),
        "failure": Failure(Fail("body failed")),
        "defect": Failure(Die(BODY_DEFECT)),
    }
    body_exit = body_exits[end]
    expected_log = []
    finalizers_cause: Cause[Any] = Cause.empty()  # in the order they ran
    for index in reversed(range(len(finalizers))):
        registration, behaviour = finalizers[index]
        seen = Success(None) if registration == "add_finalizer" else body_exit
        expected_log.append((index, seen))
        if behaviour in ("raises", "dies"):
            finalizers_cause = Cause.sequential(finalizers_cause, Die(DEFECTS[index]))
    assert log == expected_log
    if finalizers_cause.is_empty():
        assert exit == body_exit
    else:  # the body's cause first, then the finalizers' (the body's value dropped)
        body_cause = body_exit.cause if isinstance(body_exit, Failure) else Cause.empty()
        assert exit == Failure(Cause.sequential(body_cause, finalizers_cause))


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


@each_path
@each_closing_exit
def test_add_finalizer_exit_on_a_closed_scope_runs_it_at_once_with_the_stored_exit(
    path: Path, closed_with: Exit[Any, Any]
) -> None:
    seen: list[Exit[Any, Any]] = []

    def finalizer(exit: Exit[Any, Any]) -> Effect[str]:
        return on_path(path, lambda: logged(seen, exit, "the finalizer's own value"))

    @gen
    def program() -> Do[tuple[Exit[None, Never], list[Exit[Any, Any]]]]:
        scope = yield from Scope.make()
        yield from scope.close(closed_with)
        exit = yield from scope.add_finalizer_exit(finalizer).exit()
        return exit, list(seen)  # what had run by the time add_finalizer_exit returned

    assert run_sync(program()) == (Success(None), [closed_with])
    assert seen == [closed_with]


@each_path
@each_closing_exit
def test_add_finalizer_on_a_closed_scope_runs_it_at_once_and_gives_none(
    path: Path, closed_with: Exit[Any, Any]
) -> None:
    log: list[str] = []
    finalizer = on_path(path, lambda: logged(log, "ran", "the finalizer's own value"))

    @gen
    def program() -> Do[tuple[Exit[None, Never], list[str]]]:
        scope = yield from Scope.make()
        yield from scope.close(closed_with)
        exit = yield from scope.add_finalizer(finalizer).exit()
        ran_before_next_step = list(log)
        yield from scope.close(Exit.unit())  # closing again runs nothing
        return exit, ran_before_next_step

    assert run_sync(program()) == (Success(None), ["ran"])
    assert log == ["ran"]


@each_path
def test_a_failing_finalizer_added_to_a_closed_scope_fails_that_step(path: Path) -> None:
    log: list[str] = []

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        yield from scope.close(Exit.unit())
        yield from scope.add_finalizer(raising(FINALIZER_DEFECT, path=path))
        yield from record(log, "after")

    assert run_sync_exit(program()) == Failure(Die(FINALIZER_DEFECT))
    assert log == []


@each_seed
def test_a_finalizer_added_to_a_closed_scope_runs_to_its_end_even_if_interrupted(
    seed: int,
) -> None:
    log: list[str] = []
    entered = Latch()
    slow = entered.open().and_then(Effect.sleep(5)).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[tuple[Exit[None, Never], list[str], float]]:
        scope = yield from Scope.make()
        yield from scope.close(Exit.unit())
        adder = yield from scope.add_finalizer(slow).and_then(record(log, "after")).fork()
        yield from entered.wait()
        yield from adder.interrupt_fork()
        yield from TestClock.adjust(4)
        log_before = list(log)
        yield from TestClock.adjust(1)
        exit = yield from adder.await_()
        return exit, log_before, (yield from Clock.now())

    exit, log_before, now = run_seeded(TestClock.provide(program()), seed)
    assert log_before == []
    assert log == ["finalizer done"]  # never "after": interrupted once it ended
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert now == 5.0


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


@each_path
def test_three_nested_effect_scoped_close_innermost_first_each_with_its_own_exit(
    path: Path,
) -> None:
    log: list[Any] = []

    def level(name: str, inner: Effect[Any, Any, Scope]) -> Effect[Any, Any]:
        closing = Effect.add_finalizer(
            lambda exit: on_path(path, lambda: log.append((f"close {name}", exit)))
        )
        slow_closing = Effect.add_finalizer(
            lambda exit: Effect.yield_now().and_then(record(log, (f"slow close {name}", exit)))
        )
        return Effect.scoped(
            closing.and_then(slow_closing).and_then(inner).map(lambda v: f"{name}({v})")
        )

    innermost = level("inner", Effect.succeed("x"))
    program = level("outer", level("middle", innermost))

    assert run_sync(program) == "outer(middle(inner(x)))"  # type: ignore[arg-type]  # an Any on purpose
    assert log == [
        ("slow close inner", Success("inner(x)")),
        ("close inner", Success("inner(x)")),
        ("slow close middle", Success("middle(inner(x))")),
        ("close middle", Success("middle(inner(x))")),
        ("slow close outer", Success("outer(middle(inner(x)))")),
        ("close outer", Success("outer(middle(inner(x)))")),
    ]


@each_path
def test_three_nested_effect_scoped_close_innermost_first_when_the_innermost_fails(
    path: Path,
) -> None:
    log: list[Any] = []
    failing: Effect[None, str] = Effect.fail("inner failed")

    def level(name: str, inner: Effect[Any, Any, Scope]) -> Effect[Any, Any]:
        resource = Effect.acquire_release(on_path(path, lambda: name), recording_release(log, path))
        return Effect.scoped(resource.and_then(inner))

    exit = run_sync_exit(level("outer", level("middle", level("inner", failing))))

    assert exit == Failure(Fail("inner failed"))
    assert log == [("inner", exit), ("middle", exit), ("outer", exit)]


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


# -- the current scope ----------------------------------------------------------------


def test_scope_get_in_each_nested_effect_scoped_is_that_levels_scope() -> None:
    @gen
    def innermost() -> Do[Scope, Never, Scope]:
        return (yield from Scope.get())

    @gen
    def level(inner: Effect[Any, Never]) -> Do[tuple[Any, ...], Never, Scope]:
        mine = yield from Scope.get()
        below = yield from inner
        again = yield from Scope.get()
        return mine, again, below

    inner = Effect.scoped(innermost())
    middle = Effect.scoped(level(inner))
    outer_mine, outer_again, (middle_mine, middle_again, inner_scope) = run_sync(
        Effect.scoped(level(middle))
    )

    scopes = [outer_mine, middle_mine, inner_scope]
    assert len({id(scope) for scope in scopes}) == 3
    assert outer_again is outer_mine  # the outer scope is current again
    assert middle_again is middle_mine
    assert all(scope.is_closed() for scope in scopes)


def test_an_inner_effect_scoped_closes_before_the_outer_one_and_the_outer_stays_open() -> None:
    @gen
    def program() -> Do[tuple[bool, bool, bool], Never, Scope]:
        outer = yield from Scope.get()
        inner = yield from Effect.scoped(Scope.get())
        return inner is not outer, inner.is_closed(), outer.is_closed()

    assert run_sync(Effect.scoped(program())) == (True, True, False)


InnerEnd = Literal["failure", "defect", "raises", "failing release"]


def inner_scoped_that_fails(end: InnerEnd, log: list[Any], path: Path) -> Effect[None, str, Scope]:
    """An `Effect.scoped` that acquires "inner" along `path`, then ends as `end` says:
    a typed failure, a die node, a thunk that raises, or a success whose release fails."""
    resource = Effect.acquire_release(on_path(path, lambda: "inner"), recording_release(log, path))
    failing: Effect[None, str] = Effect.fail("inner failed")
    ends: dict[InnerEnd, Effect[None, str, Scope]] = {
        "failure": failing,
        "defect": Effect.die(BODY_DEFECT),
        "raises": raising(BODY_DEFECT, path=path),
        "failing release": Effect.acquire_release(
            on_path(path, lambda: "x"), lambda r, e: raising(FINALIZER_DEFECT, path=path)
        ).as_unit(),
    }
    return Effect.scoped(resource.and_then(ends[end]))


@each_path
@pytest.mark.parametrize("end", ["failure", "defect", "raises", "failing release"])
def test_the_outer_scope_is_current_again_after_an_inner_effect_scoped_failed(
    path: Path, end: InnerEnd
) -> None:
    log: list[Any] = []

    @gen
    def program() -> Do[tuple[Scope, Scope, Exit[None, str]], Never, Scope]:
        outer = yield from Scope.get()
        exit = yield from inner_scoped_that_fails(end, log, path).exit()
        yield from Effect.acquire_release(
            on_path(path, lambda: "outer"), recording_release(log, path)
        )
        return outer, (yield from Scope.get()), exit

    outer, current, inner_exit = run_sync(Effect.scoped(program()))

    assert current is outer
    assert isinstance(inner_exit, Failure)
    # The inner resource went with the inner scope (closed with the inner body's exit:
    # a success when only a release failed); the one acquired after it went to the
    # outer scope, released when that one closed.
    inner_body_exit = Success(None) if end == "failing release" else inner_exit
    assert log == [("inner", inner_body_exit), ("outer", Success((outer, current, inner_exit)))]


def test_no_scope_is_current_after_a_top_level_effect_scoped_failed() -> None:
    failing: Effect[None, str] = Effect.fail("failed")
    program = Effect.scoped(failing).exit().and_then(Scope.get())
    defect = only_defect(run_sync_exit(program))  # type: ignore[arg-type]
    assert isinstance(defect, LookupError)


@each_path
@each_seed
def test_a_forked_child_inherits_the_current_scope_and_acquires_into_it(
    path: Path, seed: int
) -> None:
    log: list[Any] = []
    resource = Effect.acquire_release(
        on_path(path, lambda: logged(log, "acquire child's", "child's")),
        recording_release(log, path),
    )

    @gen
    def child() -> Do[Scope, Never, Scope]:
        yield from resource
        return (yield from Scope.get())

    @gen
    def body() -> Do[tuple[bool, list[Any]], Never, Scope]:
        mine = yield from Scope.get()
        theirs = yield from (yield from child().fork()).join()
        return theirs is mine, list(log)

    same, log_in_body = run_seeded(Effect.scoped(body()), seed)
    assert same
    assert log_in_body == ["acquire child's"]  # not released when the child ended
    assert log == ["acquire child's", ("child's", Success((True, ["acquire child's"])))]


@each_path
@each_seed
def test_a_child_acquiring_after_its_parents_effect_scoped_ended_releases_at_once(
    path: Path, seed: int
) -> None:
    # The child was forked inside the scope, so that scope is its current one; it
    # acquires only after the scope closed (with the body's value: the child's fiber).
    released: list[tuple[str, Exit[Any, Any]]] = []
    resource = Effect.acquire_release(
        on_path(path, lambda: "late"), recording_release(released, path)
    )
    gate = Latch()

    @gen
    def program() -> Do[tuple[str, list[tuple[str, Exit[Any, Any]]], Fiber[str, Never]]]:
        fiber = yield from Effect.scoped(gate.wait().and_then(resource).fork())
        yield from gate.open()
        value = yield from fiber.join()
        return value, list(released), fiber

    value, released_when_joined, fiber = run_seeded(program(), seed)
    assert value == "late"
    assert released_when_joined == [("late", Success(fiber))]
    assert released == released_when_joined


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


@each_path
@each_seed
def test_finalizers_added_to_an_effect_scoped_scope_while_it_closes_each_run_once(
    path: Path, seed: int
) -> None:
    ran: list[int] = []

    def finalizer(i: int) -> Effect[None]:
        return on_path(path, lambda: ran.append(i))

    @gen
    def adder() -> Do[None, Never, Scope]:
        for i in range(12):
            yield from Effect.yield_now()
            yield from Effect.add_finalizer(lambda _, i=i: finalizer(i))  # type: ignore[misc]

    @gen
    def program() -> Do[None]:
        slow = Effect.add_finalizer(lambda _: yields(6))
        fiber = yield from Effect.scoped(slow.and_then(adder().fork()))
        yield from fiber.join()

    run_interleaved(program(), seed)
    assert sorted(ran) == list(range(12))


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


@pytest.mark.parametrize(
    "not_effect",
    [42, None, lambda: "finalizer", "finalizer"],
    ids=["int", "none", "function", "str"],
)
def test_add_finalizer_with_a_non_effect_is_a_type_error_when_built(not_effect: Any) -> None:
    scope = CloseableScope(ExecutionStrategy.sequential)
    with pytest.raises(TypeError, match="add_finalizer expects an Effect"):
        scope.add_finalizer(not_effect)
    assert scope.finalizer_count() == 0


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
