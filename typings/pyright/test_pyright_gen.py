"""Generic `@gen` functions under pyright (issue 15): the cases of
typings/test_gen_generic_types.py. Those that hold in pyright only are in
test_pyright_only.py."""

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, Tag, gen

T = TypeVar("T")
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
