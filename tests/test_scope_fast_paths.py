"""The fiber loop's own handling of scopes and resources keeps their guarantees.

`Effect.scoped`, `acquire_release`, `acquire_use_release`, `add_finalizer` and `close`
are nodes the loop runs itself, with shortcuts: a sync acquire runs inline as one
atomic step, a sync finalizer on the success path runs inline without an
uninterruptible region, a closing sequential scope runs its sync finalizers inline, and
`and_then(effect)` is a node of its own. These tests pin what each shortcut must still
do: release exactly once with the right exit, last acquired first, every finalizer even
when one fails, no failure lost, a defect that names the culprit, constant stack, and
interruption honoured where it used to be.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal, Never, TypeVar, cast

import pytest
from conftest import (
    BODY_DEFECT,
    SEEDS,
    Latch,
    each_seed,
    run_interleaved,
    run_seeded,
    tight_recursion_limit,
    yields,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from effectpy import (
    Cause,
    Clock,
    CloseableScope,
    Deferred,
    Die,
    Do,
    Effect,
    ExecutionStrategy,
    Exit,
    Fail,
    Failure,
    Fiber,
    FiberId,
    Scope,
    Sequential,
    Success,
    TestClock,
    debug_tree,
    gen,
    run_sync,
    run_sync_exit,
)

A = TypeVar("A")

FINALIZER_DEFECT = RuntimeError("defect in a sync finalizer")
OTHER_FINALIZER_DEFECT = RuntimeError("defect in another sync finalizer")


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def raising(
    error: BaseException, log: list[Any] | None = None, entry: object = None
) -> Effect[None]:
    """One `Effect.sync` node (not an `Effect.die`) whose thunk raises `error`, after
    appending `entry` to `log` if there is a log."""

    def run() -> None:
        if log is not None:
            log.append(entry)
        raise error

    return Effect.sync(run)


def recording_release(log: list[Any]) -> Callable[[str, Exit[Any, Any]], Effect[None]]:
    """A release that logs `(resource, exit)` in a sync finalizer."""
    return lambda resource, exit: record(log, (resource, exit))


def logged(log: list[Any], entry: object, value: A) -> A:
    """Append `entry` to `log`; give back `value`."""
    log.append(entry)
    return value


def sync_acquire(log: list[Any], name: str) -> Effect[str]:
    """An `Effect.sync` acquire (the loop's inline path) that logs `acquire <name>`."""

    def run() -> str:
        log.append(f"acquire {name}")
        return name

    return Effect.sync(run)


def only_defect(exit: Exit[Any, Any]) -> BaseException:
    """The one defect of a failed exit (and nothing else in its cause)."""
    assert isinstance(exit, Failure), exit
    [defect] = exit.cause.defects()
    assert exit == Failure(Die(defect))
    return defect


# -- a model of every mix ---------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, database=None)

Registration = Literal["sync acquire", "other acquire", "add_finalizer", "add_finalizer_exit"]
Behaviour = Literal["ok", "slow", "raises", "dies"]
BodyEnd = Literal["success", "failure", "defect"]


class FinalizerDefect(Exception):
    """The defect of the finalizer registered `index`-th."""

    def __init__(self, index: int) -> None:
        super().__init__(f"finalizer {index} failed")
        self.index = index


DEFECTS = [FinalizerDefect(index) for index in range(6)]


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


@each_seed
def test_finalizers_added_to_an_effect_scoped_scope_while_it_closes_each_run_once(
    seed: int,
) -> None:
    ran: list[int] = []

    @gen
    def adder() -> Do[None, Never, Scope]:
        for i in range(12):
            yield from Effect.yield_now()
            yield from Effect.add_finalizer(lambda _, i=i: record(ran, i))  # type: ignore[misc]

    @gen
    def program() -> Do[None]:
        slow = Effect.add_finalizer(lambda _: yields(6))
        fiber = yield from Effect.scoped(slow.and_then(adder().fork()))
        yield from fiber.join()

    run_interleaved(program(), seed)
    assert sorted(ran) == list(range(12))


# -- acquiring into a scope that is closed --------------------------------------------

CLOSED_WITH: list[Exit[Any, Any]] = [Exit.unit(), Exit.fail("closed"), Exit.die(BODY_DEFECT)]
closed_with_each = pytest.mark.parametrize(
    "closed_with", CLOSED_WITH, ids=["success", "failure", "defect"]
)


# -- bad input is refused when the effect is built ------------------------------------

NOT_EFFECTS: list[Any] = [42, None, lambda: "resource", "resource"]
each_not_effect = pytest.mark.parametrize(
    "not_effect", NOT_EFFECTS, ids=["int", "none", "function", "str"]
)


@each_not_effect
def test_add_finalizer_with_a_non_effect_is_a_type_error_when_built(not_effect: Any) -> None:
    scope = CloseableScope(ExecutionStrategy.sequential)
    with pytest.raises(TypeError, match="add_finalizer expects an Effect"):
        scope.add_finalizer(not_effect)
    assert scope.finalizer_count() == 0


# -- failing finalizers ---------------------------------------------------------------

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


@each_close_kind
def test_a_raising_sync_finalizer_does_not_stop_the_others_and_its_die_is_kept(
    how: CloseKind,
) -> None:
    log: list[str] = []
    register = (
        Effect.add_finalizer(lambda _: record(log, "first added"))
        .and_then(Effect.add_finalizer(lambda _: Effect.yield_now().and_then(record(log, "slow"))))
        .and_then(Effect.add_finalizer(lambda _: raising(FINALIZER_DEFECT, log, "raises")))
        .and_then(Effect.add_finalizer(lambda _: record(log, "last added")))
    )

    exit = run_sync_exit(close_with_finalizers(how, register))

    assert log == ["last added", "raises", "slow", "first added"]
    assert exit == after_body(how, Die(FINALIZER_DEFECT))


@each_close_kind
def test_two_raising_sync_finalizers_are_both_kept_in_the_order_they_ran(how: CloseKind) -> None:
    log: list[str] = []
    register = (
        Effect.add_finalizer(lambda _: raising(FINALIZER_DEFECT))
        .and_then(Effect.add_finalizer(lambda _: record(log, "between")))
        .and_then(Effect.add_finalizer(lambda _: raising(OTHER_FINALIZER_DEFECT)))
    )

    exit = run_sync_exit(close_with_finalizers(how, register))

    assert log == ["between"]
    ran_first, ran_last = Die(OTHER_FINALIZER_DEFECT), Die(FINALIZER_DEFECT)
    assert exit == after_body(how, Sequential(ran_first, ran_last))


SingleKind = Literal["add_finalizer", "add_finalizer_exit", "release", "die node"]
SINGLE_KINDS: list[SingleKind] = ["add_finalizer", "add_finalizer_exit", "release", "die node"]


def single_failing_finalizer(kind: SingleKind, log: list[str]) -> Effect[Any, Never, Scope]:
    """Register one finalizer that logs, then fails with `FINALIZER_DEFECT` (a sync
    thunk that raises, except for `die node`: an `Effect.die` after the log)."""
    fails = raising(FINALIZER_DEFECT, log, "finalizer")
    if kind == "add_finalizer":
        return Scope.get().flat_map(lambda scope: scope.add_finalizer(fails))
    if kind == "add_finalizer_exit":
        return Effect.add_finalizer(lambda _: fails)
    if kind == "release":
        return Effect.acquire_release(Effect.sync(lambda: "r"), lambda r, exit: fails)
    return Effect.add_finalizer(
        lambda _: record(log, "finalizer").and_then(Effect.die(FINALIZER_DEFECT))
    )


@pytest.mark.parametrize("kind", SINGLE_KINDS)
@each_close_kind
def test_a_single_failing_finalizer_fails_the_close_with_its_die_after_the_body(
    how: CloseKind, kind: SingleKind
) -> None:
    log: list[str] = []
    program = close_with_finalizers(how, single_failing_finalizer(kind, log))
    exit = run_sync_exit(program.tap(lambda _: record(log, "after")))
    assert log == ["finalizer"]
    assert exit == after_body(how, Die(FINALIZER_DEFECT))


def test_a_single_raising_sync_finalizer_after_a_success_drops_the_value() -> None:
    log: list[str] = []
    program = Effect.scoped(
        Effect.add_finalizer(lambda _: raising(FINALIZER_DEFECT)).as_("value")
    ).catch_all_cause(lambda cause: record(log, "handled").as_(cause))
    assert run_sync(program) == Die(FINALIZER_DEFECT)
    assert log == ["handled"]


# A finalizer function that returns something else than an effect: the defect must name
# the function (its qualified name and where it is defined), whichever path ran it.


def finalizer_returning_a_number(exit: Exit[Any, Any]) -> Effect[None]:
    return cast(Effect[None], 42)


def release_returning_a_number(resource: str, exit: Exit[Any, Any]) -> Effect[None]:
    return cast(Effect[None], 42)


def where(fn: Any) -> str:
    code = fn.__code__
    return f"{fn.__qualname__} ({code.co_filename}:{code.co_firstlineno})"


BadPath = Literal[
    "on_exit",
    "scoped success, alone",
    "scoped success, with another",
    "scoped failure, alone",
    "close, with another",
    "added to a closed scope",
]
BAD_PATHS: list[BadPath] = [
    "on_exit",
    "scoped success, alone",
    "scoped success, with another",
    "scoped failure, alone",
    "close, with another",
    "added to a closed scope",
]


def run_bad_finalizer(path: BadPath, release: bool, log: list[str]) -> Exit[Any, Any]:
    """Run a finalizer function that returns 42 along `path`: a release if `release`
    (of `acquire_release`; for "on_exit", of `acquire_use_release`), else an
    `add_finalizer_exit` (for "on_exit", an `on_exit`) function."""
    register: Effect[Any, Never, Scope] = (
        Effect.acquire_release(Effect.sync(lambda: "r"), release_returning_a_number)
        if release
        else Effect.add_finalizer(finalizer_returning_a_number)
    )
    other: Effect[None, Never, Scope] = Effect.add_finalizer(lambda _: record(log, "other ran"))
    failing: Effect[int, str] = Effect.fail("body failed")
    if path == "on_exit":
        if release:
            return run_sync_exit(
                Effect.acquire_use_release(
                    Effect.sync(lambda: "r"), Effect.succeed, release_returning_a_number
                )
            )
        return run_sync_exit(Effect.succeed(1).on_exit(finalizer_returning_a_number))
    if path == "scoped success, alone":
        return run_sync_exit(Effect.scoped(register.as_(1)))
    if path == "scoped success, with another":
        return run_sync_exit(Effect.scoped(other.and_then(register).as_(1)))
    if path == "scoped failure, alone":
        return run_sync_exit(Effect.scoped(register.and_then(failing)))

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        if path == "close, with another":
            yield from scope.extend(other.and_then(register))
            yield from scope.close(Exit.unit())
        else:
            yield from scope.close(Exit.unit())
            yield from scope.extend(register)

    return run_sync_exit(program())


@pytest.mark.parametrize("release", [False, True], ids=["add_finalizer_exit or on_exit", "release"])
@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_finalizer_function_returning_a_non_effect_is_a_type_error_that_names_it(
    path: BadPath, release: bool
) -> None:
    log: list[str] = []
    bad: Any = release_returning_a_number if release else finalizer_returning_a_number

    exit = run_bad_finalizer(path, release, log)

    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, TypeError)
    message = str(defect)
    assert message.startswith(where(bad)), message
    assert "returned int 42, expected an Effect" in message
    if "with another" in path:
        assert log == ["other ran"]  # the other finalizer still ran


# -- add_finalizer on a closed scope --------------------------------------------------


@closed_with_each
def test_add_finalizer_of_a_sync_effect_on_a_closed_scope_runs_it_at_once_and_gives_none(
    closed_with: Exit[Any, Any],
) -> None:
    log: list[str] = []
    finalizer = Effect.sync(lambda: logged(log, "ran", "the finalizer's own value"))

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


@closed_with_each
def test_add_finalizer_exit_on_a_closed_scope_gives_the_stored_exit_and_none(
    closed_with: Exit[Any, Any],
) -> None:
    seen: list[Exit[Any, Any]] = []

    def finalizer(exit: Exit[Any, Any]) -> Effect[str]:
        return Effect.yield_now().and_then(Effect.sync(lambda: logged(seen, exit, "ignored")))

    @gen
    def program() -> Do[tuple[Exit[None, Never], list[Exit[Any, Any]]]]:
        scope = yield from Scope.make()
        yield from scope.close(closed_with)
        exit = yield from scope.add_finalizer_exit(finalizer).exit()
        return exit, list(seen)

    assert run_sync(program()) == (Success(None), [closed_with])


def test_a_failing_finalizer_added_to_a_closed_scope_fails_that_step() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        yield from scope.close(Exit.unit())
        yield from scope.add_finalizer(raising(FINALIZER_DEFECT))
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


# -- ensuring / on_exit with a sync finalizer after a success -------------------------


def test_ensuring_a_sync_finalizer_that_raises_after_a_success_fails_with_its_die() -> None:
    log: list[str] = []
    program = Effect.sync(lambda: "value").ensuring(raising(FINALIZER_DEFECT))
    exit = run_sync_exit(program.tap(lambda _: record(log, "after")))
    assert exit == Failure(Die(FINALIZER_DEFECT))
    assert log == []


def test_on_exit_a_sync_finalizer_that_raises_after_a_success_fails_with_its_die() -> None:
    seen: list[Exit[Any, Any]] = []

    def finalizer(exit: Exit[str, Never]) -> Effect[None]:
        return record(seen, exit).and_then(raising(FINALIZER_DEFECT))

    # `record(...).and_then(raising(...))` is not a sync node; a lone sync one is:
    def lone(exit: Exit[str, Never]) -> Effect[None]:
        def run() -> None:
            seen.append(exit)
            raise FINALIZER_DEFECT

        return Effect.sync(run)

    assert run_sync_exit(Effect.succeed("v").on_exit(finalizer)) == Failure(Die(FINALIZER_DEFECT))
    assert run_sync_exit(Effect.succeed("v").on_exit(lone)) == Failure(Die(FINALIZER_DEFECT))
    assert seen == [Success("v"), Success("v")]


def test_nested_sync_and_non_sync_finalizers_after_a_success_run_inside_out_and_keep_it() -> None:
    log: list[str] = []
    program = (
        Effect.sync(lambda: "value")
        .ensuring(record(log, "inner sync"))
        .ensuring(Effect.yield_now().and_then(record(log, "middle")))
        .on_exit(lambda exit: record(log, f"outer sync saw {exit}"))
    )
    assert run_sync(program) == "value"
    assert log == ["inner sync", "middle", "outer sync saw Success(value='value')"]


Guarded = Literal[
    "ensuring", "on_exit", "scoped, one finalizer", "scoped, two finalizers", "bracket release"
]
GUARDED: list[Guarded] = [
    "ensuring",
    "on_exit",
    "scoped, one finalizer",
    "scoped, two finalizers",
    "bracket release",
]


def guarded_success(how: Guarded, slow: Effect[None], log: list[str]) -> Effect[int]:
    """An effect that succeeds with 1, then runs the non-sync finalizer `slow`."""
    body: Effect[int] = Effect.sync(lambda: 1)
    if how == "ensuring":
        return body.ensuring(slow)
    if how == "on_exit":
        return body.on_exit(lambda _: slow)
    if how == "scoped, one finalizer":
        return Effect.scoped(Effect.add_finalizer(lambda _: slow).and_then(body))
    if how == "scoped, two finalizers":
        first = Effect.add_finalizer(lambda _: record(log, "other finalizer"))
        return Effect.scoped(first.and_then(Effect.add_finalizer(lambda _: slow)).and_then(body))
    return Effect.acquire_use_release(Effect.sync(lambda: "r"), lambda _: body, lambda r, e: slow)


@pytest.mark.parametrize("how", GUARDED)
@pytest.mark.parametrize("seed", SEEDS[:10])
def test_a_non_sync_finalizer_after_a_success_is_not_stopped_by_an_interrupt(
    how: Guarded, seed: int
) -> None:
    log: list[str] = []
    entered = Latch()
    slow = entered.open().and_then(Effect.sleep(5)).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[tuple[Exit[int, Never] | None, list[str], Exit[int, Never], float]]:
        fiber = yield from guarded_success(how, slow, log).fork()
        yield from entered.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(4)
        during = yield from fiber.poll()
        log_during = list(log)
        yield from TestClock.adjust(1)
        exit = yield from fiber.await_()
        return during, log_during, exit, (yield from Clock.now())

    during, log_during, exit, now = run_seeded(TestClock.provide(program()), seed)
    assert during is None
    assert log_during == []
    expected = ["finalizer done", "other finalizer"] if "two" in how else ["finalizer done"]
    assert log == expected
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert now == 5.0


def test_a_non_sync_finalizer_waiting_on_a_deferred_after_a_success_is_not_stopped() -> None:
    log: list[str] = []
    entered = Latch()

    @gen
    def program() -> Do[tuple[Exit[str, Never] | None, Exit[str, Never]]]:
        go_on = yield from Deferred[None].make()
        cleanup = entered.open().and_then(go_on.await_()).and_then(record(log, "cleaned"))
        fiber = yield from Effect.scoped(
            Effect.add_finalizer(lambda _: cleanup).and_then(Effect.sync(lambda: "v"))
        ).fork()
        yield from entered.wait()
        yield from fiber.interrupt_fork()
        yield from Effect.yield_now().and_then(Effect.yield_now())
        during = yield from fiber.poll()
        yield from go_on.succeed(None)
        return during, (yield from fiber.await_())

    during, exit = run_sync(program())
    assert during is None
    assert log == ["cleaned"]
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()


# -- and_then(effect) -----------------------------------------------------------------

HUNDRED_THOUSAND = 100_000


def counting_steps(count: int, log: list[int], *, right: bool) -> Effect[None]:
    """`count` sync steps (each logs its index) joined by `and_then(effect)`, nested
    on the left (`((s0 >> s1) >> s2) ...`) or on the right (`s0 >> (s1 >> ...)`)."""
    steps = [Effect.sync(lambda i=i: log.append(i)) for i in range(count)]  # type: ignore[misc]
    if right:
        chain = steps[-1]
        for step in reversed(steps[:-1]):
            chain = step.and_then(chain)
        return chain
    chain = steps[0]
    for step in steps[1:]:
        chain = chain.and_then(step)
    return chain


@pytest.mark.parametrize("right", [False, True], ids=["left-nested", "right-nested"])
def test_a_hundred_thousand_and_thens_run_in_order_in_constant_stack(right: bool) -> None:
    log: list[int] = []
    chain = counting_steps(HUNDRED_THOUSAND, log, right=right).and_then(Effect.succeed("end"))
    with tight_recursion_limit():
        assert run_sync(chain) == "end"
    assert log == list(range(HUNDRED_THOUSAND))


@pytest.mark.parametrize("right", [False, True], ids=["left-nested", "right-nested"])
def test_a_hundred_thousand_and_thens_of_plain_values_run_in_constant_stack(right: bool) -> None:
    steps = [Effect.succeed(i) for i in range(HUNDRED_THOUSAND)]
    chain = steps[-1] if right else steps[0]
    for step in reversed(steps[:-1]) if right else steps[1:]:
        chain = step.and_then(chain) if right else chain.and_then(step)
    with tight_recursion_limit():
        assert run_sync(chain) == HUNDRED_THOUSAND - 1


@pytest.mark.parametrize("right", [False, True], ids=["left-nested", "right-nested"])
def test_a_failure_in_a_long_and_then_chain_skips_the_rest_in_constant_stack(right: bool) -> None:
    log: list[int] = []
    half = HUNDRED_THOUSAND // 2
    failing: Effect[None, str] = Effect.fail("stop")
    first, second = counting_steps(half, log, right=right), counting_steps(half, [], right=right)
    chain = (
        first.and_then(failing).and_then(second)
        if not right
        else first.and_then(failing.and_then(second))
    )
    with tight_recursion_limit():
        exit = run_sync_exit(chain)
    assert exit == Failure(Fail("stop"))
    assert log == list(range(half))


FirstStep = Literal["fail", "die", "raising sync", "interrupt"]


@pytest.mark.parametrize("first", ["fail", "die", "raising sync", "interrupt"])
def test_a_failed_first_step_skips_the_second(first: FirstStep) -> None:
    log: list[str] = []
    firsts: dict[FirstStep, Effect[None, str]] = {
        "fail": Effect.fail("first failed"),
        "die": Effect.die(BODY_DEFECT),
        "raising sync": raising(BODY_DEFECT),
        "interrupt": Effect.interrupt(),
    }
    exit = run_sync_exit(firsts[first].and_then(record(log, "second")))
    assert isinstance(exit, Failure)
    assert log == []


@each_seed
def test_an_interrupt_while_parked_between_and_then_steps_stops_the_chain(seed: int) -> None:
    log: list[str] = []
    started, gate = Latch(), Latch()
    chain = (
        record(log, "first")
        .and_then(started.open())
        .and_then(gate.wait())
        .and_then(record(log, "second"))
    )

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from chain.fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()
        yield from gate.open()
        return exit

    exit = run_seeded(program(), seed)
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert log == ["first"]


@pytest.mark.parametrize("right", [False, True], ids=["left-nested", "right-nested"])
@pytest.mark.parametrize("seed", SEEDS[:8])
def test_an_interrupt_stops_a_long_and_then_chain_of_sync_steps_midway(
    right: bool, seed: int
) -> None:
    # No step parks: the interrupt lands when the chain's fiber gives way at the end of
    # its op budget, which `and_then` steps must use up like any other op.
    log: list[int] = []
    started = Latch()
    chain = started.open().and_then(counting_steps(HUNDRED_THOUSAND, log, right=right))

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from chain.fork()
        yield from started.wait()
        return (yield from fiber.interrupt())

    exit = run_interleaved(program(), seed)
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert len(log) < HUNDRED_THOUSAND
    assert log == list(range(len(log)))


@pytest.mark.parametrize("seed", SEEDS[:8])
def test_an_interrupt_stops_a_long_chain_of_and_thens_after_plain_values(seed: int) -> None:
    # `succeed(x).and_then(rest)` goes straight on to `rest`: that shortcut too must
    # count against the op budget, or such a chain would never give way.
    log: list[str] = []
    started = Latch()
    chain: Effect[None] = record(log, "end")
    for i in range(HUNDRED_THOUSAND):
        chain = Effect.succeed(i).and_then(chain)

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from started.open().and_then(chain).fork()
        yield from started.wait()
        return (yield from fiber.interrupt())

    exit = run_interleaved(program(), seed)
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert log == []


# -- nested Effect.scoped and the current scope ---------------------------------------


def test_three_nested_effect_scoped_close_innermost_first_each_with_its_own_exit() -> None:
    log: list[Any] = []

    def level(name: str, inner: Effect[Any, Any, Scope]) -> Effect[Any, Any]:
        closing = Effect.add_finalizer(lambda exit: record(log, (f"close {name}", exit)))
        slow_closing = Effect.add_finalizer(
            lambda exit: Effect.yield_now().and_then(record(log, (f"slow close {name}", exit)))
        )
        return Effect.scoped(
            closing.and_then(slow_closing).and_then(inner).map(lambda v: f"{name}({v})")
        )

    innermost = level("inner", Effect.succeed("x"))
    program = level("outer", level("middle", innermost))

    assert run_sync(program) == "outer(middle(inner(x)))"
    assert log == [
        ("slow close inner", Success("inner(x)")),
        ("close inner", Success("inner(x)")),
        ("slow close middle", Success("middle(inner(x))")),
        ("close middle", Success("middle(inner(x))")),
        ("slow close outer", Success("outer(middle(inner(x)))")),
        ("close outer", Success("outer(middle(inner(x)))")),
    ]


def test_three_nested_effect_scoped_close_innermost_first_when_the_innermost_fails() -> None:
    log: list[Any] = []
    failing: Effect[None, str] = Effect.fail("inner failed")

    def level(name: str, inner: Effect[Any, Any, Scope]) -> Effect[Any, Any]:
        resource = Effect.acquire_release(
            Effect.sync(lambda: name), lambda r, exit: record(log, (r, exit))
        )
        return Effect.scoped(resource.and_then(inner))

    exit = run_sync_exit(level("outer", level("middle", level("inner", failing))))

    assert exit == Failure(Fail("inner failed"))
    assert log == [("inner", exit), ("middle", exit), ("outer", exit)]


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


InnerEnd = Literal["failure", "defect", "raising sync", "failing release"]


def inner_scoped_that_fails(end: InnerEnd, log: list[Any]) -> Effect[None, str, Scope]:
    resource = Effect.acquire_release(Effect.sync(lambda: "inner"), recording_release(log))
    failing: Effect[None, str] = Effect.fail("inner failed")
    ends: dict[InnerEnd, Effect[None, str, Scope]] = {
        "failure": failing,
        "defect": Effect.die(BODY_DEFECT),
        "raising sync": raising(BODY_DEFECT),
        "failing release": Effect.acquire_release(
            Effect.sync(lambda: "x"), lambda r, e: raising(FINALIZER_DEFECT)
        ).as_unit(),
    }
    return Effect.scoped(resource.and_then(ends[end]))


@pytest.mark.parametrize("end", ["failure", "defect", "raising sync", "failing release"])
def test_the_outer_scope_is_current_again_after_an_inner_effect_scoped_failed(
    end: InnerEnd,
) -> None:
    log: list[Any] = []

    @gen
    def program() -> Do[tuple[Scope, Scope, Exit[None, str]], Never, Scope]:
        outer = yield from Scope.get()
        exit = yield from inner_scoped_that_fails(end, log).exit()
        yield from Effect.acquire_release(Effect.sync(lambda: "outer"), recording_release(log))
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


@each_seed
def test_a_forked_child_inherits_the_current_scope_and_acquires_into_it(seed: int) -> None:
    log: list[Any] = []
    resource = Effect.acquire_release(sync_acquire(log, "child's"), recording_release(log))

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


@each_seed
def test_a_child_acquiring_after_its_parents_effect_scoped_ended_releases_at_once(
    seed: int,
) -> None:
    # The child was forked inside the scope, so that scope is its current one; it
    # acquires only after the scope closed (with the body's value: the child's fiber).
    released: list[tuple[str, Exit[Any, Any]]] = []
    resource = Effect.acquire_release(Effect.sync(lambda: "late"), recording_release(released))
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


# -- debug_tree -----------------------------------------------------------------------


def strip_guides(line: str) -> str:
    return re.sub(r"^[│├└─ ]*", "", line)


def settle() -> Effect[None]:
    return Effect.yield_now().and_then(Effect.yield_now()).and_then(Effect.yield_now())


def test_debug_tree_shows_a_parked_fibers_effect_scoped_scopes_until_they_close() -> None:
    @gen
    def program() -> Do[tuple[str, str, str, FiberId]]:
        inside = yield from Deferred[None].make()
        after = yield from Deferred[None].make()
        resource = Effect.acquire_release(Effect.sync(lambda: "r"), lambda r, e: Effect.unit())
        extra = Effect.add_finalizer(lambda _: Effect.unit())
        nested = Effect.scoped(extra.and_then(inside.await_()))
        worker = (
            Effect.scoped(resource.and_then(extra).and_then(extra).and_then(nested))
            .and_then(after.await_())
            .named("worker")
        )
        fiber = yield from worker.fork()
        yield from settle()
        parked = yield from debug_tree()
        yield from inside.succeed(None)
        yield from settle()
        closed = yield from debug_tree()
        yield from after.succeed(None)
        yield from fiber.join()
        done = yield from debug_tree()
        return parked, closed, done, fiber.id

    parked, closed, done, worker = run_sync(program())
    assert [strip_guides(line) for line in parked.splitlines()[1:]] == [
        f"fiber {worker} suspended",
        "scope sequential, 3 finalizers",
        "scope sequential, 1 finalizer",
    ]
    assert [strip_guides(line) for line in closed.splitlines()[1:]] == [f"fiber {worker} suspended"]
    assert len(done.splitlines()) == 1


def test_debug_tree_shows_the_effect_scoped_scope_of_the_fiber_that_draws_it() -> None:
    resource = Effect.acquire_release(Effect.sync(lambda: "r"), lambda r, e: Effect.unit())
    inside = run_sync(Effect.scoped(resource.and_then(debug_tree())))
    after = run_sync(Effect.scoped(resource).and_then(debug_tree()))
    assert [strip_guides(line) for line in inside.splitlines()[1:]] == [
        "scope sequential, 1 finalizer"
    ]
    assert len(after.splitlines()) == 1


# -- the registry of user-made scopes (for debug_tree) ---------------------------------


def test_scopes_user_code_drops_or_closes_do_not_pile_up_in_the_registry() -> None:
    from effectpy._core import scope as core  # internal: the weak registry

    def make_and_drop(left: int) -> Effect[None]:
        if left == 0:
            return Effect.unit()
        closed_or_dropped = Scope.make().flat_map(
            lambda scope: scope.close(Exit.unit()) if left % 2 else Effect.unit()
        )
        return closed_or_dropped.and_then(Effect.suspend(lambda: make_and_drop(left - 1)))

    run_sync(make_and_drop(5_000))
    # Pruned as the list doubles: bounded by the scopes still open (none), not by 5,000.
    assert len(core._user_scopes) < 200


def test_an_open_user_scope_stays_in_the_registry_through_pruning() -> None:
    from effectpy._core import scope as core  # internal: the weak registry

    kept = run_sync(Scope.make(name="kept"))
    run_sync(Effect.for_each(range(1_000), lambda _: Scope.make().as_unit()))
    assert any(ref() is kept for ref in core._user_scopes)
