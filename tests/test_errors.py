"""Errors: defects keep their traceback, typed errors are handled by the error handlers,
and nothing is swallowed.

Typed errors (`Fail`) are what the error handlers see; defects (`Die`) and
interruptions pass through them. `KeyboardInterrupt` and `SystemExit` are neither: they
stop the program once its finalizers have run.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any, Literal, Never, cast, get_args

import pytest
from conftest import Path, each_path, on_path
from returns.result import Failure as ResultFailure
from returns.result import Success as ResultSuccess

from effectpy import (
    Cause,
    Die,
    Do,
    Effect,
    ExecutionStrategy,
    Exit,
    Fail,
    Failure,
    FiberFailure,
    Interrupt,
    Parallel,
    Runtime,
    Scope,
    Sequential,
    Success,
    gen,
    run_sync,
    run_sync_exit,
)


class Boom(Exception):
    """The defect raised by user code in these tests."""


def boom(*_: object) -> Never:
    raise Boom("boom")


def an_interrupt() -> Interrupt:
    exit = run_sync_exit(Effect.interrupt())
    assert isinstance(exit, Failure)
    [interrupt] = exit.cause.interruptions()
    return interrupt


def the_cause(exit: Exit[Any, Any]) -> Cause[Any]:
    assert isinstance(exit, Failure), f"expected a failure, got {exit!r}"
    return exit.cause


def the_defect(exit: Exit[Any, Any]) -> BaseException:
    cause = the_cause(exit)
    assert isinstance(cause, Die), f"expected a single Die, got {cause!r}"
    return cause.defect


# -- defects in user code ---------------------------------------------------------------

DEFECT_SITES: dict[str, Callable[[], Effect[Any, Any]]] = {
    "sync thunk": lambda: Effect.sync(boom),
    "suspend thunk": lambda: Effect.suspend(boom),
    "map function": lambda: Effect.succeed(1).map(boom),
    "map function after a sync": lambda: Effect.sync(lambda: 1).map(boom),
    "flat_map function": lambda: Effect.succeed(1).flat_map(boom),
    "flat_map function after a sync": lambda: Effect.sync(lambda: 1).flat_map(boom),
    "catch_all handler": lambda: Effect.fail("e").catch_all(boom),
    "catch handler": lambda: Effect.fail(KeyError("k")).catch(KeyError, boom),
    "catch_all_cause handler": lambda: Effect.fail("e").catch_all_cause(boom),
    "map_error function": lambda: Effect.fail("e").map_error(boom),
    "match on_success": lambda: Effect.succeed(1).match(on_failure=str, on_success=boom),
    "match on_failure": lambda: Effect.fail(1).match(on_failure=boom, on_success=str),
    "tap function": lambda: Effect.succeed(1).tap(boom),
    "finalizer of a success": lambda: Effect.succeed(1).ensuring(Effect.sync(boom)),
    "on_exit function of a success": lambda: Effect.succeed(1).on_exit(boom),
}


@pytest.mark.parametrize("make", DEFECT_SITES.values(), ids=DEFECT_SITES.keys())
def test_an_exception_in_user_code_becomes_die_with_its_traceback(
    make: Callable[[], Effect[Any, Any]],
) -> None:
    defect = the_defect(run_sync_exit(make()))
    assert isinstance(defect, Boom)
    assert defect.__traceback__ is not None
    # The traceback reaches the user's frame that raised.
    assert traceback.extract_tb(defect.__traceback__)[-1].name == "boom"


def test_the_pretty_cause_of_a_defect_shows_its_traceback() -> None:
    cause = the_cause(run_sync_exit(Effect.sync(boom)))
    text = cause.pretty()
    assert text.startswith("Die: ")
    assert "Boom: boom" in text
    assert "Traceback (most recent call last)" in text
    assert "in boom" in text


def test_a_defect_is_the_very_exception_user_code_raised() -> None:
    raised: list[BaseException] = []

    def fails() -> int:
        error = Boom("mine")
        raised.append(error)
        raise error

    assert the_defect(run_sync_exit(Effect.sync(fails))) is raised[0]


# -- a failure skips what follows ----------------------------------------------------

FirstStep = Literal["fail", "die", "raising sync", "interrupt"]


@pytest.mark.parametrize("first", ["fail", "die", "raising sync", "interrupt"])
def test_and_then_skips_the_second_effect_when_the_first_fails(first: FirstStep) -> None:
    log: list[str] = []
    firsts: dict[FirstStep, Effect[None, str]] = {
        "fail": Effect.fail("first failed"),
        "die": Effect.die(Boom("boom")),
        "raising sync": Effect.sync(boom),
        "interrupt": Effect.interrupt(),
    }
    exit = run_sync_exit(firsts[first].and_then(Effect.sync(lambda: log.append("second"))))
    assert isinstance(exit, Failure)
    assert log == []


# -- attempt ----------------------------------------------------------------------------


def test_attempt_turns_an_exception_into_a_typed_failure() -> None:
    exit = run_sync_exit(Effect.attempt(lambda: int("x")))
    [error] = the_cause(exit).failures()
    assert isinstance(error, ValueError)
    assert isinstance(the_cause(exit), Fail)


def test_attempt_succeeds_with_the_value_of_the_thunk() -> None:
    assert run_sync_exit(Effect.attempt(lambda: int("42"))) == Exit.succeed(42)


def test_attempt_with_catch_types_only_that_class() -> None:
    typed = run_sync_exit(Effect.attempt(lambda: int("x"), catch=ValueError))
    assert isinstance(the_cause(typed), Fail)
    assert isinstance(the_cause(typed).failures()[0], ValueError)

    def missing_key() -> int:
        return cast("dict[str, int]", {})["k"]

    other = run_sync_exit(Effect.attempt(missing_key, catch=ValueError))
    defect = the_defect(other)
    assert isinstance(defect, KeyError)
    assert defect.__traceback__ is not None


def test_attempt_with_a_tuple_catch_types_each_class() -> None:
    def missing_key() -> int:
        return cast("dict[str, int]", {})["k"]

    for thunk in (lambda: int("x"), missing_key):
        exit = run_sync_exit(Effect.attempt(thunk, catch=(ValueError, KeyError)))
        assert isinstance(the_cause(exit), Fail)


@pytest.mark.parametrize(
    "catch",
    [int, (), "ValueError", ValueError(), (ValueError, 3), KeyboardInterrupt, BaseException],
    ids=repr,
)
def test_attempt_with_a_bad_catch_argument_raises_type_error(catch: object) -> None:
    with pytest.raises(TypeError, match="catch"):
        Effect.attempt(lambda: 1, catch=cast(Any, catch))


# -- KeyboardInterrupt and SystemExit ---------------------------------------------------

FATAL = [KeyboardInterrupt, SystemExit]


@pytest.mark.parametrize("fatal", FATAL)
def test_a_fatal_exception_is_reraised_by_run_sync_after_finalizers_ran(
    fatal: type[BaseException],
) -> None:
    error = fatal()
    ran: list[str] = []

    def raise_it() -> int:
        raise error

    effect = Effect.sync(raise_it).ensuring(Effect.sync(lambda: ran.append("finalizer")))
    with pytest.raises(fatal) as caught:
        run_sync(effect)
    assert caught.value is error
    assert ran == ["finalizer"]


@pytest.mark.parametrize("fatal", FATAL)
def test_a_fatal_exception_is_not_turned_into_an_exit_by_run_sync_exit(
    fatal: type[BaseException],
) -> None:
    error = fatal()

    def raise_it() -> int:
        raise error

    with pytest.raises(fatal) as caught:
        run_sync_exit(Effect.sync(raise_it))
    assert caught.value is error


@pytest.mark.parametrize("fatal", FATAL)
def test_catch_all_and_catch_all_cause_cannot_swallow_a_fatal_exception(
    fatal: type[BaseException],
) -> None:
    error = fatal()
    handled: list[object] = []

    def raise_it() -> int:
        raise error

    def handle(x: object) -> Effect[int]:
        handled.append(x)
        return Effect.succeed(0)

    effect = (
        Effect.sync(raise_it)
        .catch_all(handle)
        .catch_all_cause(handle)
        .either()
        .exit()
        .match_cause(on_failure=handle, on_success=handle)
    )
    with pytest.raises(fatal) as caught:
        run_sync(effect)
    assert caught.value is error
    assert handled == []


@pytest.mark.parametrize("fatal", FATAL)
def test_attempt_does_not_type_a_fatal_exception(fatal: type[BaseException]) -> None:
    error = fatal()

    def raise_it() -> int:
        raise error

    recovered: list[Exception] = []

    def recover(e: Exception) -> Effect[int]:
        recovered.append(e)
        return Effect.succeed(0)

    with pytest.raises(fatal):
        run_sync(Effect.attempt(raise_it).catch_all(recover))
    assert recovered == []


def test_a_fatal_exception_in_a_map_function_still_runs_outer_finalizers() -> None:
    ran: list[str] = []

    def interrupt(_: int) -> int:
        raise KeyboardInterrupt

    effect = (
        Effect.succeed(1)
        .map(interrupt)
        .ensuring(Effect.sync(lambda: ran.append("inner")))
        .ensuring(Effect.sync(lambda: ran.append("outer")))
    )
    with pytest.raises(KeyboardInterrupt):
        run_sync(effect)
    assert ran == ["inner", "outer"]


# -- functions returning a non-Effect ------------------------------------------------


def not_an_effect(*_: object) -> Any:
    return 42


RETURNS_NON_EFFECT: dict[str, Callable[[], Effect[Any, Any]]] = {
    "flat_map": lambda: Effect.succeed(1).flat_map(not_an_effect),
    "flat_map after a sync": lambda: Effect.sync(lambda: 1).flat_map(not_an_effect),
    "and_then": lambda: Effect.succeed(1).and_then(not_an_effect),
    "suspend": lambda: Effect.suspend(not_an_effect),
    "catch_all": lambda: Effect.fail("e").catch_all(not_an_effect),
    "catch": lambda: Effect.fail(KeyError()).catch(KeyError, not_an_effect),
    "catch_all_cause": lambda: Effect.fail("e").catch_all_cause(not_an_effect),
    "tap": lambda: Effect.succeed(1).tap(not_an_effect),
    "match_effect on_success": lambda: Effect.succeed(1).match_effect(
        on_failure=not_an_effect, on_success=not_an_effect
    ),
    "match_effect on_failure": lambda: Effect.fail(1).match_effect(
        on_failure=not_an_effect, on_success=not_an_effect
    ),
    "on_exit": lambda: Effect.succeed(1).on_exit(not_an_effect),
}


@pytest.mark.parametrize("make", RETURNS_NON_EFFECT.values(), ids=RETURNS_NON_EFFECT.keys())
def test_a_function_returning_a_non_effect_dies_with_a_type_error_naming_it(
    make: Callable[[], Effect[Any, Any]],
) -> None:
    defect = the_defect(run_sync_exit(make()))
    assert isinstance(defect, TypeError)
    message = str(defect)
    assert not_an_effect.__qualname__ in message
    assert "int" in message
    assert "Effect" in message


def test_the_type_error_for_a_non_effect_names_a_nested_function_by_qualname() -> None:
    def make_next(n: int) -> Any:
        return n + 1

    defect = the_defect(run_sync_exit(Effect.succeed(1).flat_map(make_next)))  # type: ignore[arg-type]  # an Any on purpose
    assert isinstance(defect, TypeError)
    assert make_next.__qualname__ in str(defect)
    assert "<locals>" in make_next.__qualname__


NOT_EFFECTS: list[tuple[object, str]] = [
    (object(), "expected an Effect"),
    (42, "expected an Effect"),
    ("effect", "expected an Effect"),
    # A scope is something effects work with, not an effect.
    (Scope(ExecutionStrategy.sequential), "is not an Effect"),
]


@pytest.mark.parametrize(("bad", "message"), NOT_EFFECTS, ids=lambda v: type(v).__name__)
def test_running_something_that_is_not_an_effect_is_a_type_error_defect(
    bad: object, message: str
) -> None:
    not_an_effect: Any = bad
    exit = run_sync_exit(Effect.unit().flat_map(lambda _: not_an_effect))  # type: ignore[arg-type]  # an Any on purpose
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, TypeError)
    assert message in str(defect)


def returns_a_str(_: object) -> Any:
    return "not an effect"


@pytest.mark.parametrize("budget", [1, 2, 3, 256, 257])
def test_a_function_returning_a_non_effect_is_named_wherever_the_op_budget_runs_out(
    budget: int,
) -> None:
    # Steps before it shift where the fiber gives way to the others: the non-effect must
    # be refused, naming the function that made it, at every alignment.
    for syncs in range(4):
        effect: Effect[None] = Effect.unit()
        for _ in range(syncs):
            effect = Effect.sync(lambda: None).and_then(effect)
        exit = Runtime(budget=budget).run_sync_exit(effect.flat_map(returns_a_str))  # type: ignore[arg-type]  # an Any on purpose
        assert isinstance(exit, Failure)
        [defect] = exit.cause.defects()
        assert isinstance(defect, TypeError)
        assert f"{returns_a_str.__qualname__} (" in str(defect)
        assert "returned str 'not an effect', expected an Effect" in str(defect)


def builds_around_a_non_effect(*_: object) -> Effect[None]:
    """An effect node whose inner effect is not one (a method called unbound)."""
    return Effect.flat_map(cast(Any, 42), lambda _: Effect.unit())


BUILDS_AROUND_A_NON_EFFECT: dict[str, Callable[[], Effect[Any, Any]]] = {
    "flat_map": lambda: Effect.succeed(1).flat_map(builds_around_a_non_effect),
    "on_exit after a success": lambda: Effect.succeed(1).on_exit(builds_around_a_non_effect),
    "on_exit after a failure": lambda: Effect.fail("e").on_exit(builds_around_a_non_effect),
    "acquire_use_release's release after a failure": lambda: Effect.acquire_use_release(
        Effect.sync(lambda: 1), lambda _: Effect.fail("e"), builds_around_a_non_effect
    ),
}


@pytest.mark.parametrize(
    "make", BUILDS_AROUND_A_NON_EFFECT.values(), ids=BUILDS_AROUND_A_NON_EFFECT.keys()
)
def test_an_effect_built_around_a_non_effect_dies_naming_the_function_that_built_it(
    make: Callable[[], Effect[Any, Any]],
) -> None:
    exit = run_sync_exit(make())
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, TypeError)
    assert str(defect).startswith(f"{builds_around_a_non_effect.__qualname__} (")
    assert "built an effect around int 42 where an Effect was expected" in str(defect)


# A finalizer function that returns something else than an effect: the defect must name
# the function (its qualified name and where it is defined), wherever it ran.


def finalizer_returning_a_number(exit: Exit[Any, Any]) -> Effect[None]:
    return cast(Effect[None], 42)


def release_returning_a_number(resource: str, exit: Exit[Any, Any]) -> Effect[None]:
    return cast(Effect[None], 42)


def where(fn: Any) -> str:
    code = fn.__code__
    return f"{fn.__qualname__} ({code.co_filename}:{code.co_firstlineno})"


FinalizerSite = Literal[
    "on_exit",
    "scoped success, alone",
    "scoped success, with another",
    "scoped failure, alone",
    "close, with another",
    "added to a closed scope",
]
FINALIZER_SITES: list[FinalizerSite] = list(get_args(FinalizerSite))


def run_bad_finalizer(
    site: FinalizerSite, release: bool, log: list[str], path: Path
) -> Exit[Any, Any]:
    """Run a finalizer function that returns 42 at `site`: a release if `release` (of
    `acquire_release`; for "on_exit", of `acquire_use_release`), else an
    `add_finalizer_exit` (for "on_exit", an `on_exit`) function. The acquire, the body
    of `on_exit` and the other finalizer are built along `path`."""
    register: Effect[Any, Never, Scope] = (
        Effect.acquire_release(on_path(path, lambda: "r"), release_returning_a_number)
        if release
        else Effect.add_finalizer(finalizer_returning_a_number)
    )
    other: Effect[None, Never, Scope] = Effect.add_finalizer(
        lambda _: on_path(path, lambda: log.append("other ran"))
    )
    failing: Effect[int, str] = Effect.fail("body failed")
    if site == "on_exit":
        if release:
            return run_sync_exit(
                Effect.acquire_use_release(
                    on_path(path, lambda: "r"), Effect.succeed, release_returning_a_number
                )
            )
        return run_sync_exit(on_path(path, lambda: 1).on_exit(finalizer_returning_a_number))
    if site == "scoped success, alone":
        return run_sync_exit(Effect.scoped(register.as_(1)))
    if site == "scoped success, with another":
        return run_sync_exit(Effect.scoped(other.and_then(register).as_(1)))
    if site == "scoped failure, alone":
        return run_sync_exit(Effect.scoped(register.and_then(failing)))

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        if site == "close, with another":
            yield from scope.extend(other.and_then(register))
            yield from scope.close(Exit.unit())
        else:
            yield from scope.close(Exit.unit())
            yield from scope.extend(register)

    return run_sync_exit(program())


@each_path
@pytest.mark.parametrize("release", [False, True], ids=["add_finalizer_exit or on_exit", "release"])
@pytest.mark.parametrize("site", FINALIZER_SITES)
def test_a_finalizer_function_returning_a_non_effect_is_a_type_error_that_names_it(
    site: FinalizerSite, release: bool, path: Path
) -> None:
    log: list[str] = []
    bad: Any = release_returning_a_number if release else finalizer_returning_a_number

    exit = run_bad_finalizer(site, release, log, path)

    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, TypeError)
    message = str(defect)
    assert message.startswith(where(bad)), message
    assert "returned int 42, expected an Effect" in message
    if "with another" in site:
        assert log == ["other ran"]  # the other finalizer still ran


# -- finalizer failures are kept ------------------------------------------------------


def test_a_finalizer_exception_is_kept_after_the_failure_it_followed() -> None:
    failure = ValueError("effect failed")
    exit = run_sync_exit(Effect.fail(failure).ensuring(Effect.sync(boom)))
    cause = the_cause(exit)
    assert isinstance(cause, Sequential)
    assert cause.left == Fail(failure)
    assert isinstance(cause.right, Die)
    assert isinstance(cause.right.defect, Boom)


def test_a_finalizer_exception_after_a_success_is_the_whole_cause() -> None:
    defect = the_defect(run_sync_exit(Effect.succeed(1).ensuring(Effect.sync(boom))))
    assert isinstance(defect, Boom)


def test_an_exception_raised_by_an_on_exit_function_is_kept_after_the_failure() -> None:
    exit = run_sync_exit(Effect.fail("effect failed").on_exit(boom))
    cause = the_cause(exit)
    assert cause.failures() == ["effect failed"]
    assert [type(d) for d in cause.defects()] == [Boom]
    assert isinstance(cause, Sequential)


def test_a_finalizer_defect_after_a_defect_keeps_both_in_order() -> None:
    first, second = OSError("first"), OSError("second")
    cause = the_cause(run_sync_exit(Effect.die(first).ensuring(Effect.die(second))))
    assert cause == Sequential(Die(first), Die(second))


def test_a_finalizer_sees_the_exit_of_the_effect() -> None:
    seen: list[Exit[Any, Any]] = []

    def record(exit: Exit[Any, Any]) -> Effect[None]:
        return Effect.sync(lambda: seen.append(exit))

    run_sync_exit(Effect.fail("x").on_exit(record))
    run_sync_exit(Effect.succeed(3).on_exit(record))
    assert seen == [Exit.fail("x"), Exit.succeed(3)]


# -- catch_all and defects / interruptions ---------------------------------------------


def test_catch_all_does_not_recover_a_defect() -> None:
    handled: list[object] = []

    def handle(e: object) -> Effect[str]:
        handled.append(e)
        return Effect.succeed("recovered")

    defect = OSError("bug")
    exit = run_sync_exit(Effect.die(defect).catch_all(handle))
    assert the_cause(exit) == Die(defect)
    assert handled == []


def test_catch_all_lets_a_cause_holding_a_defect_pass_through_unchanged() -> None:
    handled: list[object] = []

    def handle(e: object) -> Effect[str]:
        handled.append(e)
        return Effect.succeed("recovered")

    cause: Cause[str] = Cause.sequential(Cause.fail("typed"), Cause.die(OSError("bug")))
    exit = run_sync_exit(Effect.fail_cause(cause).catch_all(handle))
    assert the_cause(exit) is cause
    assert handled == []


def test_catch_all_recovers_a_typed_error_that_sits_beside_interruptions() -> None:
    cause: Cause[str] = Cause.parallel(Cause.fail("typed"), an_interrupt())
    recovered = Effect.fail_cause(cause).catch_all(lambda e: Effect.succeed(f"got {e}"))
    assert run_sync(recovered) == "got typed"


def test_catch_all_cause_sees_the_whole_cause_including_defects() -> None:
    cause: Cause[str] = Cause.sequential(Cause.fail("typed"), Cause.die(OSError("bug")))
    seen: list[Cause[str]] = []

    def handle(c: Cause[str]) -> Effect[int]:
        seen.append(c)
        return Effect.succeed(1)

    assert run_sync(Effect.fail_cause(cause).catch_all_cause(handle)) == 1
    assert seen == [cause]


# -- or_else and defects / interruptions ----------------------------------------------


def test_or_else_runs_the_alternative_on_a_typed_error_beside_interruptions() -> None:
    cause: Cause[str] = Cause.parallel(Cause.fail("typed"), an_interrupt())
    assert run_sync(Effect.fail_cause(cause).or_else(Effect.succeed("fallback"))) == "fallback"


def test_or_else_does_not_recover_a_defect_and_drops_the_interruptions_beside_it() -> None:
    defect = OSError("bug")
    cause: Cause[str] = Cause.parallel(an_interrupt(), Cause.die(defect))
    ran: list[str] = []
    alternative = Effect.sync(lambda: ran.append("alternative"))
    exit = run_sync_exit(Effect.fail_cause(cause).or_else(alternative))
    assert (the_cause(exit), ran) == (Die(defect), [])


def test_or_else_turns_the_typed_errors_beside_a_defect_into_defects() -> None:
    defect, error = OSError("bug"), KeyError("typed")
    cause: Cause[KeyError] = Cause.sequential(Cause.fail(error), Cause.die(defect))
    exit = run_sync_exit(Effect.fail_cause(cause).or_else(Effect.succeed("fallback")))
    assert the_cause(exit) == Cause.sequential(Cause.die(error), Cause.die(defect))


def test_or_else_wraps_a_typed_error_that_is_not_an_exception_when_it_becomes_a_defect() -> None:
    cause: Cause[str] = Cause.parallel(Cause.fail("typed"), Cause.die(OSError("bug")))
    exit = run_sync_exit(Effect.fail_cause(cause).or_else(Effect.succeed("fallback")))
    first = the_cause(exit).defects()[0]
    assert isinstance(first, FiberFailure) and "typed" in str(first)


def test_or_else_lets_an_interruption_alone_pass_through() -> None:
    interrupt = an_interrupt()
    exit = run_sync_exit(Effect.fail_cause(interrupt).or_else(Effect.succeed("fallback")))
    assert the_cause(exit) == interrupt


# -- bad arguments are refused where the effect is built -------------------------------

untyped: Any = Effect  # what mypy would refuse, as code without types would call it


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: untyped.sync(42), "Effect.sync expects a function, got int 42"),
        (lambda: untyped.blocking(42), "Effect.blocking expects a function, got int 42"),
        (lambda: untyped.attempt("x"), "Effect.attempt expects a function, got str 'x'"),
        (lambda: untyped.suspend(None), "Effect.suspend expects a function, got NoneType None"),
        (lambda: untyped.race(Effect.succeed(1), 5), "Effect.race expects an Effect, got int 5"),
        (lambda: untyped.race(5, Effect.succeed(1)), "Effect.race expects an Effect, got int 5"),
        (
            lambda: untyped.race_all([Effect.never(), "x"]),
            "Effect.race_all expects an Effect, got str 'x'",
        ),
    ],
    ids=["sync", "blocking", "attempt", "suspend", "race second", "race first", "race_all"],
)
def test_a_non_function_or_non_effect_argument_is_refused_at_construction(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(TypeError) as raised:
        build()
    assert str(raised.value) == message


def test_a_race_lost_by_a_non_effect_is_still_refused() -> None:
    """The mistake does not vanish because another contender would have won first."""
    with pytest.raises(TypeError, match=r"Effect\.race_all expects an Effect"):
        untyped.race_all([Effect.succeed("winner"), object()])


@pytest.mark.parametrize("concurrency", [None, 1, 2, "unbounded"])
def test_a_for_each_function_returning_a_non_effect_is_named_with_its_place(
    concurrency: int | Literal["unbounded"] | None,
) -> None:
    exit = run_sync_exit(Effect.for_each([1, 2], not_an_effect, concurrency=concurrency))  # type: ignore[arg-type]  # an Any on purpose
    defect = the_cause(exit).defects()[0]
    assert isinstance(defect, TypeError)
    code = not_an_effect.__code__
    assert f"{not_an_effect.__qualname__} ({code.co_filename}:{code.co_firstlineno})" in str(defect)
    assert "returned int" in str(defect)


# -- map_error ----------------------------------------------------------------------------


def test_map_error_maps_the_typed_error() -> None:
    assert run_sync_exit(Effect.fail(404).map_error(str)) == Exit.fail("404")


def test_map_error_leaves_defects_and_interruptions_alone() -> None:
    defect = OSError("bug")
    interrupt = an_interrupt()
    cause: Cause[int] = Cause.parallel(
        Cause.sequential(Cause.fail(1), Cause.die(defect)), interrupt
    )
    exit = run_sync_exit(Effect.fail_cause(cause).map_error(lambda e: e * 10))
    assert the_cause(exit) == Parallel(Sequential(Fail(10), Die(defect)), interrupt)


def test_map_error_does_not_call_the_function_on_success_or_defect() -> None:
    called: list[object] = []

    def record(e: str) -> str:
        called.append(e)
        return e

    ok: Effect[int, str] = Effect.succeed(1)
    assert run_sync_exit(ok.map_error(record)) == Exit.succeed(1)
    defect = OSError("bug")
    dead: Effect[int, str] = Effect.die(defect)
    assert run_sync_exit(dead.map_error(record)) == Exit.die(defect)
    assert called == []


# -- either / exit / match / or_else / catch -----------------------------------------


def test_either_gives_a_result_for_success_and_typed_failure() -> None:
    ok: Effect[int, str] = Effect.succeed(1)
    bad: Effect[int, str] = Effect.fail("no")
    assert run_sync(ok.either()) == ResultSuccess(1)
    assert run_sync(bad.either()) == ResultFailure("no")


def test_either_lets_a_defect_pass_through() -> None:
    defect = OSError("bug")
    assert run_sync_exit(Effect.die(defect).either()) == Exit.die(defect)


def test_exit_captures_success_failure_and_defect() -> None:
    defect = OSError("bug")
    assert run_sync(Effect.succeed(1).exit()) == Success(1)
    assert run_sync(Effect.fail("no").exit()) == Failure(Fail("no"))
    assert run_sync(Effect.die(defect).exit()) == Failure(Die(defect))


def test_match_folds_success_and_typed_failure() -> None:
    def describe(effect: Effect[int, str]) -> Effect[str]:
        return effect.match(on_failure=lambda e: f"failed: {e}", on_success=lambda a: f"ok: {a}")

    assert run_sync(describe(Effect.succeed(1))) == "ok: 1"
    assert run_sync(describe(Effect.fail("no"))) == "failed: no"


def test_match_lets_a_defect_pass_through() -> None:
    defect = OSError("bug")
    effect = Effect.die(defect).match(on_failure=lambda e: "failed", on_success=lambda a: "ok")
    assert run_sync_exit(effect) == Exit.die(defect)


def test_match_effect_continues_with_the_chosen_effect() -> None:
    def then(effect: Effect[int, str]) -> Effect[int, int]:
        return effect.match_effect(
            on_failure=lambda e: Effect.fail(len(e)), on_success=lambda a: Effect.succeed(a * 2)
        )

    assert run_sync_exit(then(Effect.succeed(4))) == Exit.succeed(8)
    assert run_sync_exit(then(Effect.fail("four"))) == Exit.fail(4)
    defect = OSError("bug")
    assert run_sync_exit(then(Effect.die(defect))) == Exit.die(defect)


def test_match_cause_handles_defects_too() -> None:
    defect = OSError("bug")
    effect: Effect[list[BaseException]] = Effect.die(defect).match_cause(
        on_failure=lambda c: c.defects(), on_success=lambda a: []
    )
    assert run_sync(effect) == [defect]
    ok = Effect.succeed(2).match_cause(on_failure=lambda c: -1, on_success=lambda a: a + 1)
    assert run_sync(ok) == 3


def test_match_cause_effect_continues_from_the_whole_cause() -> None:
    defect = OSError("bug")
    effect = Effect.die(defect).match_cause_effect(
        on_failure=lambda c: Effect.succeed(len(c.defects())),
        on_success=lambda a: Effect.succeed(-1),
    )
    assert run_sync(effect) == 1
    ok = Effect.succeed(2).match_cause_effect(
        on_failure=lambda c: Effect.succeed(-1), on_success=lambda a: Effect.succeed(a * 5)
    )
    assert run_sync(ok) == 10


def test_or_else_runs_the_fallback_only_on_a_typed_error() -> None:
    assert run_sync(Effect.fail("no").or_else(Effect.succeed("fallback"))) == "fallback"
    assert run_sync(Effect.succeed("first").or_else(Effect.succeed("fallback"))) == "first"
    defect = OSError("bug")
    assert run_sync_exit(Effect.die(defect).or_else(Effect.succeed(1))) == Exit.die(defect)


def test_catch_recovers_instances_of_the_class_and_its_subclasses() -> None:
    effect: Effect[int, LookupError] = Effect.fail(KeyError("k"))
    assert run_sync_exit(effect.catch(LookupError, lambda e: Effect.succeed(0))) == Exit.succeed(0)
    assert run_sync_exit(effect.catch(KeyError, lambda e: Effect.succeed(1))) == Exit.succeed(1)


def test_catch_lets_other_typed_errors_pass_through() -> None:
    error = ValueError("v")
    effect: Effect[int, ValueError | KeyError] = Effect.fail(error)
    assert run_sync_exit(effect.catch(KeyError, lambda e: Effect.succeed(0))) == Exit.fail(error)
    plain: Effect[int, str] = Effect.fail("not an exception")
    # The mypy plugin rejects a catch that cannot see its class; the runtime is tested.
    caught = plain.catch(Exception, lambda e: Effect.succeed(0))  # type: ignore[arg-type]
    assert run_sync_exit(caught) == Exit.fail("not an exception")


def test_catch_does_not_recover_a_defect_of_the_class() -> None:
    defect = KeyError("bug")
    effect = Effect.die(defect).catch(KeyError, lambda e: Effect.succeed(0))  # type: ignore[arg-type]
    assert run_sync_exit(effect) == Exit.die(defect)


@pytest.mark.parametrize("cls", [int, "KeyError", KeyError("k"), None], ids=repr)
def test_catch_with_a_non_exception_class_raises_type_error(cls: object) -> None:
    with pytest.raises(TypeError, match="exception class"):
        Effect.fail(KeyError()).catch(cast(Any, cls), lambda e: Effect.succeed(0))


# -- bad arguments to constructors --------------------------------------------------


@pytest.mark.parametrize("defect", ["bug", 42, None, OSError], ids=repr)
def test_die_with_a_non_exception_raises_type_error(defect: object) -> None:
    with pytest.raises(TypeError, match="exception"):
        Effect.die(cast(Any, defect))


def test_from_result_turns_a_result_into_an_effect() -> None:
    assert run_sync_exit(Effect.from_result(ResultSuccess(3))) == Exit.succeed(3)
    assert run_sync_exit(Effect.from_result(ResultFailure("no"))) == Exit.fail("no")


@pytest.mark.parametrize("result", [3, None, "Success", Exit.succeed(3)], ids=repr)
def test_from_result_with_a_non_result_raises_type_error(result: object) -> None:
    with pytest.raises(TypeError, match="Result"):
        Effect.from_result(cast(Any, result))
