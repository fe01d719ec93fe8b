"""`pipe` and the data-last functions of `effectpy.pointfree`.

Named functions and pointfree steps infer through `pipe`, with and without the effectpy
mypy plugin. The pipe holes that only plain mypy has (the plugin infers a pipe one step
at a time) are in `typings/no_plugin/test_pipe_holes.py`; the one both have is kept
here. When mypy closes a hole, its case fails (an unused ignore, or an `Any` that
became a real type) and the docs need updating.
"""

from __future__ import annotations

from typing import Never, assert_type

from returns.result import Result

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


def recover(error: KeyError) -> Effect[str]:
    return Effect.succeed(str(error))


def log_cause(cause: Cause[object]) -> Effect[None]:
    return Effect.unit()


def show(n: int) -> Effect[None]:
    return Effect.unit()


def add(a: int, b: int) -> int:
    return a + b


# -- pipe with named functions ------------------------------------------------------------

assert_type(pipe(1), int)
assert_type(pipe(1, inc, str, len), int)
assert_type(pipe(" 1 ", str.strip, parse), Effect[int, ValueError, Never])


# -- pointfree steps keep or widen E and R, as the methods do -----------------------------

assert_type(pipe(load_user(1), pf.map(len)), Effect[int, KeyError, Database])
assert_type(pipe(pure_count(), pf.map(inc), pf.map(str)), Effect[str, Never, Never])
assert_type(pipe(load_user(1), pf.flat_map(parse)), Effect[int, KeyError | ValueError, Database])
assert_type(
    pipe(load_user(1), pf.map(len), pf.flat_map(half)), Effect[int, KeyError | ValueError, Database]
)
assert_type(pipe(pure_count(), pf.flat_map(half)), Effect[int, ValueError, Never])
assert_type(pipe(load_user(1), pf.and_then(pure_count())), Effect[int, KeyError, Database])
assert_type(pipe(load_user(1), pf.and_then(parse)), Effect[int, KeyError | ValueError, Database])
assert_type(pipe(pure_count(), pf.tap(show)), Effect[int, Never, Never])
assert_type(
    pipe(load_user(1), pf.zip(half(2))), Effect[tuple[str, int], KeyError | ValueError, Database]
)
assert_type(pipe(pure_count(), pf.zip_with(pure_count(), add)), Effect[int, Never, Never])
assert_type(pipe(load_user(1), pf.as_(0)), Effect[int, KeyError, Database])
assert_type(pipe(load_user(1), pf.as_unit()), Effect[None, KeyError, Database])
assert_type(pipe(load_user(1), pf.map_error(str)), Effect[str, str, Database])
assert_type(pipe(load_user(1), pf.catch_all(recover)), Effect[str, Never, Database])
assert_type(pipe(load_user(1), pf.or_else(pure_count())), Effect[str | int, Never, Database])
assert_type(pipe(load_user(1), pf.either()), Effect[Result[str, KeyError], Never, Database])
assert_type(pipe(load_user(1), pf.exit()), Effect[Exit[str, KeyError], Never, Database])
assert_type(
    pipe(load_user(1), pf.match(on_failure=str, on_success=len)), Effect[str | int, Never, Database]
)
assert_type(pipe(load_user(1), pf.ensuring(Effect.unit())), Effect[str, KeyError, Database])
assert_type(pipe(load_user(1), pf.uninterruptible(), pf.map(len)), Effect[int, KeyError, Database])
assert_type(load_user(1).pipe(pf.map(len), pf.map(inc)), Effect[int, KeyError, Database])

# Steps that keep the types chain freely, and the result runs once it is pure.
assert_type(run_sync(pipe(pure_count(), pf.map(inc), pf.tap(show), pf.exit())), Exit[int, Never])
run_sync(pipe(load_user(1), pf.map(len)))  # type: ignore[arg-type]
pipe(load_user(1), pf.map(inc))  # type: ignore[arg-type]

assert_type(load_user(1).on_error(log_cause), Effect[str, KeyError, Database])


# -- a known hole, with or without the plugin (see the `effectpy.pointfree` docstring) ----

# A lambda inside a pointfree step is first inferred before the effect's type is known
# (mypy does so to choose among the `pipe` overloads): its parameter has the type of an
# unsolved type variable. Workaround: a named function, `pf.map(inc)`, or the method.
pipe(pure_count(), pf.map(lambda n: n + 1))  # type: ignore[operator]
assert_type(pipe(pure_count(), pf.map(inc)), Effect[int, Never, Never])
assert_type(pure_count().map(lambda n: n + 1), Effect[int, Never, Never])
