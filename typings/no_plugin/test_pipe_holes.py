"""The `pipe` holes of plain mypy (no plugin), kept as cases that document them.

mypy solves the type variables of all the steps of a `pipe` overload at once. Three
things go wrong (see the `effectpy.pointfree` docstring and docs/typing.md, which shows
the workarounds): two lambdas in a row make the pipeline `Any`, silently; a step that
widens the types cannot be followed by another; a callback typed for a wider input
widens the step. The effectpy plugin infers a pipe one step at a time and closes them
(tests/typesafety/test_pipe.yml); checked here with typings/mypy-no-plugin.ini.
"""

from __future__ import annotations

from typing import Any, Never, assert_type

from effectpy import Cause, Effect, Exit, pipe, run_sync
from effectpy import pointfree as pf


class Database:
    """A service marker for `R`."""


def load_user(user_id: int) -> Effect[str, KeyError, Database]:
    return Effect.fail(KeyError(user_id))


def pure_count() -> Effect[int]:
    return Effect.succeed(1)


def half(n: int) -> Effect[int, ValueError]:
    return Effect.fail(ValueError(n)) if n % 2 else Effect.succeed(n // 2)


def parse(text: str) -> Effect[int, ValueError]:
    return Effect.attempt(lambda: int(text), ValueError)


def inc(n: int) -> int:
    return n + 1


def fallback(error: KeyError) -> Effect[int]:
    return Effect.succeed(0)


def log_exit(exit: Exit[object, object]) -> Effect[None]:
    return Effect.unit()


def log_cause(cause: Cause[object]) -> Effect[None]:
    return Effect.unit()


def title(e: Effect[int]) -> Effect[int]:
    return e.map(inc)


def show(e: Effect[int]) -> Effect[str]:
    return e.map(str)


# Two lambdas in a row: the whole pipeline is `Any`, silently, so even an unhandled
# error reaches `run_sync` unnoticed.
assert_type(pipe(pure_count(), lambda e: e.map(inc), lambda e: e.map(str)), Any)
run_sync(pipe(half(2), lambda e: e.map(inc), lambda e: e.map(str)))
# Workaround: named steps.
assert_type(pipe(pure_count(), title, show), Effect[str, Never, Never])

# A step that joins the incoming types with new ones cannot be followed by another step.
pipe(load_user(1), pf.flat_map(parse), pf.map(inc))  # type: ignore[arg-type]
pipe(pure_count(), pf.flat_map(half), pf.either())  # type: ignore[arg-type]
pipe(load_user(1), pf.zip(half(2)), pf.map(str))  # type: ignore[arg-type]
pipe(load_user(1), pf.catch_all(fallback), pf.either())  # type: ignore[arg-type]
# Workaround: the methods, which mypy infers one call at a time.
assert_type(load_user(1).flat_map(parse).map(inc), Effect[int, KeyError | ValueError, Database])

# A callback typed for a wider input widens the step: `log_cause` takes `Cause[object]`,
# so the error type of the result is `object`. (The methods keep `E` here.)
assert_type(pipe(load_user(1), pf.on_error(log_cause)), Effect[str, object, Database])
assert_type(pipe(load_user(1), pf.on_exit(log_exit)), Effect[object, object, Database])

# A step that does not fit is reported against `pipe` as a whole.
pipe(1, inc, len)  # type: ignore[misc]
