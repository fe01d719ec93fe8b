"""`@gen` generators annotated with `Do[A, E, R]`: what mypy infers and what it rejects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Never, assert_type

from effectpy import Do, Effect, gen, run_sync


class Database:
    """A service marker for `R`."""


def fetch(key: str) -> Effect[int, KeyError]:
    return Effect.fail(KeyError(key))


def parse(text: str) -> Effect[int, ValueError]:
    return Effect.attempt(lambda: int(text), ValueError)


def query() -> Effect[int, Never, Database]:
    return Effect.succeed(1)


@gen
def pure(n: int, /) -> Do[int]:
    a = yield from Effect.succeed(n)
    b = yield from Effect.succeed(str(a))
    assert_type(b, str)
    return a + len(b)


@gen
def parsed(text: str, /) -> Do[int, ValueError]:
    value = yield from parse(text)
    assert_type(value, int)
    return value * 2


@gen
def both(key: str) -> Do[str, KeyError | ValueError]:
    a = yield from fetch(key)
    b = yield from parse(key)
    return f"{a}{b}"


@gen
def with_service() -> Do[int, Never, Database]:
    return (yield from query())


# The decorated function keeps its parameters (positional-only here, so that the type
# equals a plain `Callable`) and returns the effect.
assert_type(pure, Callable[[int], Effect[int, Never, Never]])
assert_type(parsed, Callable[[str], Effect[int, ValueError, Never]])
assert_type(parsed("1"), Effect[int, ValueError, Never])
assert_type(both("k"), Effect[str, KeyError | ValueError, Never])
assert_type(with_service(), Effect[int, Never, Database])

# A pure generator runs; one with an error or a service must be handled first.
assert_type(run_sync(pure(1)), int)
run_sync(parsed("1"))  # type: ignore[arg-type]
run_sync(with_service())  # type: ignore[arg-type]
assert_type(run_sync(parsed("1").catch_all(lambda e: Effect.succeed(0))), int)


# `yield from` an effect whose error or service the annotation does not list is rejected.
@gen
def forgets_error(key: str) -> Do[int, ValueError]:
    a = yield from fetch(key)  # type: ignore[misc]
    return a


@gen
def forgets_everything(key: str) -> Do[int]:
    a = yield from parse(key)  # type: ignore[misc]
    return a


@gen
def forgets_service() -> Do[int]:
    a = yield from query()  # type: ignore[misc]
    return a


# The returned value must match `A`.
@gen
def wrong_value() -> Do[int]:
    yield from Effect.unit()
    return "text"  # type: ignore[return-value]
