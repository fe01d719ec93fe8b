"""Generic `@gen` functions under pyright (issue 15): the cases of
typings/test_gen_generic_types.py. Those that hold in pyright only are in
test_pyright_only.py."""

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, Tag, gen, run_sync

T = TypeVar("T")
U = TypeVar("U")
E = TypeVar("E")
R = TypeVar("R")


class Db(Tag[dict[str, int]]): ...


class NotFound(Exception): ...


class Invalid(Exception): ...


def fetch(key: str) -> Effect[int, NotFound, Db]:
    return Effect.fail(NotFound(key))


def parse(text: str) -> Effect[int, Invalid]:
    return Effect.fail(Invalid(text))


# -- generic generator functions keep their type variables ------------------------------
#
# Generic in E or R too (test_pyright_only.py): plain mypy turns those into Never.


@gen
def echo(value: T) -> Do[T]:
    return (yield from Effect.succeed(value))


@gen
def reserved(item: T) -> Do[T, NotFound, Db]:
    stock = yield from Db.get()
    if not stock.get(str(item)):
        yield from Effect.fail(NotFound(str(item)))
    return item


assert_type(echo(1), Effect[int, Never, Never])
assert_type(reserved(3), Effect[int, NotFound, Db])


@gen
def pair(first: T, second: U) -> Do[tuple[T, U]]:
    a = yield from Effect.succeed(first)
    b = yield from Effect.succeed(second)
    return (a, b)


@gen
def look_up(key: str, default: T) -> Do[int | T, NotFound]:
    if not key:
        return (yield from fetch(key).provide(Db.of({})))
    return default


assert_type(pair(1, "a"), Effect[tuple[int, str], Never, Never])
assert_type(look_up("k", None), Effect[int | None, NotFound, Never])
assert_type(run_sync(echo(b"x")), bytes)


# A generic function that builds its generator inside: there T, E and R are fixed types.
def retried(effect: Effect[T, E, R], times: int) -> Effect[list[T], E, R]:
    @gen
    def run() -> Do[list[T], E, R]:
        values: list[T] = []
        for _ in range(times):
            values.append((yield from effect))
        return values

    return run()


assert_type(retried(look_up("k", 0), 2), Effect[list[int], NotFound, Never])
assert_type(retried(reserved("x"), 2), Effect[list[str], NotFound, Db])
assert_type(retried(parse("1"), 2), Effect[list[int], Invalid, Never])
