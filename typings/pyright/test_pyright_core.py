"""The typing contract under pyright (strict), without any plugin: what it must infer.

Only accepted programs live here; the rejections are checked with mypy in `typings/`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Never, assert_type

from returns.result import Result

from effectpy import Do, Effect, Exit, gen, pipe, run_sync
from effectpy import pointfree as pf


class Database:
    """A service marker for `R`."""


class Mailer:
    """A second service marker."""


def load_user(user_id: int) -> Effect[str, KeyError, Database]:
    return Effect.fail(KeyError(user_id))


def parse_age(text: str) -> Effect[int, ValueError, Mailer]:
    return Effect.fail(ValueError(text))


def pure_count() -> Effect[int]:
    return Effect.succeed(1)


def failing() -> Effect[int, ValueError]:
    return Effect.fail(ValueError("bad"))


def recover(error: KeyError) -> Effect[str, ValueError]:
    return Effect.fail(ValueError(str(error)))


def inc(n: int) -> int:
    return n + 1


def half(n: int) -> Effect[int, ValueError]:
    return Effect.fail(ValueError(n)) if n % 2 else Effect.succeed(n // 2)


# -- constructors and defaults ------------------------------------------------------------

assert_type(Effect.succeed(1), Effect[int, Never, Never])
assert_type(Effect.fail(KeyError("k")), Effect[Never, KeyError, Never])
assert_type(pure_count(), Effect[int, Never, Never])
assert_type(Effect.attempt(lambda: int("1")), Effect[int, Exception, Never])
assert_type(Effect.attempt(lambda: int("1"), ValueError), Effect[int, ValueError, Never])
assert_type(
    Effect.attempt(lambda: int("1"), (ValueError, KeyError)),
    Effect[int, ValueError | KeyError, Never],
)


# -- methods --------------------------------------------------------------------------------

assert_type(load_user(1).map(len), Effect[int, KeyError, Database])
assert_type(load_user(1).flat_map(parse_age), Effect[int, KeyError | ValueError, Database | Mailer])
assert_type(
    load_user(1).zip(parse_age("7")),
    Effect[tuple[str, int], KeyError | ValueError, Database | Mailer],
)
assert_type(pure_count().flat_map(lambda n: failing()), Effect[int, ValueError, Never])
assert_type(load_user(1).catch_all(recover), Effect[str, ValueError, Database])
assert_type(load_user(1).map_error(str), Effect[str, str, Database])
assert_type(load_user(1).either(), Effect[Result[str, KeyError], Never, Database])
assert_type(load_user(1).exit(), Effect[Exit[str, KeyError], Never, Database])


# -- runners ----------------------------------------------------------------------------------

assert_type(run_sync(pure_count()), int)
assert_type(run_sync(failing().either()), Result[int, ValueError])


# -- generators -------------------------------------------------------------------------------


@gen
def parsed(text: str, /) -> Do[int, ValueError]:
    value = yield from half(len(text))
    assert_type(value, int)
    return value * 2


@gen
def pure(n: int, /) -> Do[int]:
    a = yield from Effect.succeed(n)
    return a + 1


assert_type(parsed, Callable[[str], Effect[int, ValueError, Never]])
assert_type(pure, Callable[[int], Effect[int, Never, Never]])
assert_type(run_sync(pure(1)), int)


# -- pipe and pointfree -----------------------------------------------------------------------
# Pyright also infers the pipelines that are mypy holes (a lambda inside a step, a
# widening step followed by another); this file is checked by mypy too, so they are not
# repeated here. It has a hole of its own: when both sides of a widened `E | E2` or
# `R | R2` are `Never` (a pure effect through `pf.zip`, `pf.tap`, ...), the result is
# `Unknown` instead of `Never`.

assert_type(pipe(1, inc, str, len), int)
assert_type(pipe(load_user(1), pf.map(len), pf.map(inc)), Effect[int, KeyError, Database])
assert_type(
    pipe(load_user(1), pf.map(len), pf.flat_map(half)),
    Effect[int, KeyError | ValueError, Database],
)
assert_type(
    pipe(load_user(1), pf.flat_map(parse_age)),
    Effect[int, KeyError | ValueError, Database | Mailer],
)
assert_type(pipe(load_user(1), pf.catch_all(recover)), Effect[str, ValueError, Database])
assert_type(pipe(load_user(1), pf.either()), Effect[Result[str, KeyError], Never, Database])
assert_type(pipe(pure_count(), pf.map(inc), pf.exit()), Effect[Exit[int, Never], Never, Never])
assert_type(load_user(1).pipe(pf.map(len), pf.exit()), Effect[Exit[int, KeyError], Never, Database])
