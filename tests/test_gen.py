"""`@gen`: effects written as generators, `x = yield from effect`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from effectpy import Die, Do, Effect, Exit, Failure, gen, run_sync, run_sync_exit


def failing(error: str) -> Effect[int, str]:
    return Effect.fail(error)


def test_yield_from_binds_each_value() -> None:
    @gen
    def program(n: int) -> Do[int, str]:
        a = yield from Effect.succeed(n)
        b = yield from Effect.sync(lambda: a * 2)
        c = yield from Effect.succeed(b).map(lambda x: x + 1)
        return a + b + c

    assert run_sync_exit(program(5)) == Exit.succeed(5 + 10 + 11)


def test_a_gen_effect_can_yield_from_another_gen_effect() -> None:
    @gen
    def inner(n: int) -> Do[int]:
        x = yield from Effect.succeed(n)
        return x + 1

    @gen
    def outer() -> Do[list[int]]:
        a = yield from inner(1)
        b = yield from inner(a)
        return [a, b]

    assert run_sync(outer()) == [2, 3]


def test_a_failure_short_circuits_the_rest_of_the_generator() -> None:
    reached: list[str] = []

    @gen
    def program() -> Do[int, str]:
        reached.append("before")
        x = yield from failing("stop")
        reached.append("after")
        return x

    assert run_sync_exit(program()) == Exit.fail("stop")
    assert reached == ["before"]


def test_the_finally_block_runs_before_run_sync_exit_returns_on_failure() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[int, str]:
        try:
            yield from Effect.sync(lambda: log.append("step"))
            return (yield from failing("stop"))
        finally:
            log.append("finally")

    exit = run_sync_exit(program())  # kept alive: the finally block must not wait for GC
    assert log == ["step", "finally"]
    assert exit == Exit.fail("stop")


def test_the_finally_block_runs_before_run_sync_raises() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[int, ValueError]:
        try:
            return (yield from Effect.fail(ValueError("stop")))
        finally:
            log.append("finally")

    with pytest.raises(ValueError, match="stop"):
        run_sync(cast(Effect[int], program()))
    assert log == ["finally"]


def test_the_finally_block_runs_once_on_success() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[int]:
        try:
            return (yield from Effect.succeed(1))
        finally:
            log.append("finally")

    assert run_sync(program()) == 1
    assert log == ["finally"]


def test_an_exception_raised_in_the_generator_body_is_a_defect() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[int]:
        try:
            x = yield from Effect.succeed(1)
            raise OSError(f"bug after {x}")
        finally:
            log.append("finally")

    exit = run_sync_exit(program())
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, OSError)
    assert str(defect) == "bug after 1"
    assert defect.__traceback__ is not None
    assert log == ["finally"]


def yield_non_effect_first(log: list[str]) -> Callable[[], Effect[int]]:
    @gen
    def program() -> Do[int]:
        try:
            yield cast(Any, 42)
            return 1
        finally:
            log.append("finally")

    return program


def yield_non_effect_later(log: list[str]) -> Callable[[], Effect[int]]:
    @gen
    def program() -> Do[int]:
        try:
            yield from Effect.succeed(0)
            yield cast(Any, 42)
            return 1
        finally:
            log.append("finally")

    return program


@pytest.mark.parametrize(
    "make", [yield_non_effect_first, yield_non_effect_later], ids=["first yield", "later yield"]
)
def test_yielding_a_non_effect_dies_with_a_type_error_and_closes_the_generator(
    make: Callable[[list[str]], Callable[[], Effect[int]]],
) -> None:
    log: list[str] = []
    exit = run_sync_exit(make(log)())
    assert isinstance(exit, Failure)
    assert isinstance(exit.cause, Die)
    assert isinstance(exit.cause.defect, TypeError)
    assert "yield from" in str(exit.cause.defect)
    assert log == ["finally"]


def test_decorating_a_non_generator_function_dies_with_a_type_error() -> None:
    def not_a_generator() -> int:
        return 3

    program: Callable[[], Effect[int]] = gen(cast(Any, not_a_generator))
    exit = run_sync_exit(program())
    assert isinstance(exit, Failure)
    assert isinstance(exit.cause, Die)
    assert isinstance(exit.cause.defect, TypeError)
    assert "generator" in str(exit.cause.defect)


def test_gen_keeps_the_name_and_docstring_of_the_function() -> None:
    def original(n: int) -> Do[int]:
        """Adds one."""
        x = yield from Effect.succeed(n)
        return x + 1

    program = gen(original)
    assert program.__name__ == "original"
    assert program.__qualname__ == original.__qualname__
    assert program.__doc__ == "Adds one."
    assert program.__wrapped__ is original  # type: ignore[attr-defined]


def test_calling_the_function_does_not_run_the_generator() -> None:
    started: list[int] = []

    @gen
    def program() -> Do[int]:
        started.append(1)
        return (yield from Effect.succeed(1))

    effect = program()
    assert started == []
    run_sync(effect)
    assert started == [1]


def test_running_the_same_gen_effect_twice_runs_the_generator_afresh() -> None:
    runs: list[int] = []

    @gen
    def program(n: int) -> Do[int]:
        runs.append(n)
        a = yield from Effect.sync(lambda: len(runs))
        return a * 10 + n

    effect = program(7)
    assert run_sync(effect) == 17
    assert run_sync(effect) == 27
    assert runs == [7, 7]


def test_each_call_gets_its_own_arguments() -> None:
    @gen
    def program(a: int, *, b: int) -> Do[tuple[int, int]]:
        x = yield from Effect.succeed(a)
        return (x, b)

    first, second = program(1, b=2), program(3, b=4)
    assert run_sync(second) == (3, 4)
    assert run_sync(first) == (1, 2)


# -- what the plugin reports in a generator body (docs/typing.md) -------------------------


def test_an_effect_built_and_dropped_in_a_generator_never_runs() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[int]:
        Effect.sync(lambda: log.append("dropped"))  # type: ignore[unused-effect]
        yield from Effect.sync(lambda: log.append("run"))
        return 1

    assert run_sync(program()) == 1
    assert log == ["run"]


def test_yield_from_an_any_effect_fails_past_the_declared_error_type() -> None:
    legacy: Any = Effect.fail(KeyError("k"))

    @gen
    def program() -> Do[int]:
        return cast(int, (yield from legacy))  # type: ignore[arg-type]

    with pytest.raises(KeyError):
        run_sync(program())
