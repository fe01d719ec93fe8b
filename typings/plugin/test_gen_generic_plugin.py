"""Generic `@gen` functions whose `E` or `R` is a type variable: exact with the plugin,
which reads the decorated function's own signature (plain mypy turns those type
variables into `Never`: typings/no_plugin/test_gen_generic_no_plugin.py)."""

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, Tag, gen

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R")


class Db(Tag[dict[str, int]]): ...


class NotFound(Exception): ...


def fetch(key: str) -> Effect[int, NotFound, Db]:
    return Effect.fail(NotFound(key))


@gen
def twice(effect: Effect[T, E, R]) -> Do[tuple[T, T], E, R]:
    first = yield from effect
    second = yield from effect
    return (first, second)


@gen
def with_stock(effect: Effect[T, E]) -> Do[T, E, Db]:
    yield from Db.get()
    return (yield from effect)


@gen
def needing(effect: Effect[T, Never, R]) -> Do[T, KeyError, R]:
    value = yield from effect
    if value is None:
        yield from Effect.fail(KeyError("none"))
    return value


assert_type(twice(fetch("k")), Effect[tuple[int, int], NotFound, Db])
assert_type(twice(Effect.succeed("a")), Effect[tuple[str, str], Never, Never])
assert_type(with_stock(Effect.fail(ValueError())), Effect[Never, ValueError, Db])
assert_type(needing(Db.get()), Effect[dict[str, int], KeyError, Db])
needing(fetch("k"))  # type: ignore[arg-type]
