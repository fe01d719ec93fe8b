"""What pyright infers and mypy does not (issue 15), hence the `# mypy: ignore-errors`
below, which keeps mypy off this file.

* `@gen` without a `Do[...]` annotation, pyright's way: it infers `Effect[A, E, R]` from
  the `yield from`s of the body (mypy needs `-> Do[A, E, R]`).
* `@gen` functions generic in `E` or `R` (plain mypy turns those into `Never`; mypy with
  the plugin is exact: typings/plugin/test_gen_generic_plugin.py).

In strict mode pyright reports an unannotated generator at its definition
(reportUnknownParameterType: the send type of the inferred `Generator` is unknown). The
`# pyright: ignore[...]` comments below keep that to the definition line; a file of
such generators can turn the check off in its first lines instead, with
`# pyright: reportUnknownParameterType=false`. Every use of the effects stays exact.
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, Tag, gen, run_sync
from effectpy import pointfree as pf

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


# -- no annotation ---------------------------------------------------------------------


@gen
def checkout(key: str, text: str):  # pyright: ignore[reportUnknownParameterType]
    stock = yield from fetch(key)
    amount = yield from parse(text)
    return stock + amount


@gen
def nothing_to_fail():  # pyright: ignore[reportUnknownParameterType]
    return (yield from Effect.succeed("ok"))


@gen
def nested(key: str):  # pyright: ignore[reportUnknownParameterType]
    total = yield from checkout(key, "1")
    yield from Effect.fail(KeyError(key))
    return str(total)


assert_type(checkout("k", "1"), Effect[int, NotFound | Invalid, Db])
assert_type(nothing_to_fail(), Effect[str, Never, Never])
assert_type(nested("k"), Effect[str, NotFound | Invalid | KeyError, Db])
assert_type(run_sync(nothing_to_fail()), str)
assert_type(checkout("k", "1").catch_all(lambda e: Effect.succeed(0)), Effect[int, Never, Db])
assert_type(
    checkout("k", "1").pipe(pf.catch_all(lambda e: Effect.succeed(0))), Effect[int, Never, Db]
)


# -- generic in E and R --------------------------------------------------------------------


@gen
def twice(effect: Effect[T, E, R]) -> Do[tuple[T, T], E, R]:
    first = yield from effect
    second = yield from effect
    return (first, second)


@gen
def with_stock(effect: Effect[T, E]) -> Do[T, E, Db]:
    yield from Db.get()
    return (yield from effect)


assert_type(twice(fetch("k")), Effect[tuple[int, int], NotFound, Db])
assert_type(twice(Effect.succeed("a")), Effect[tuple[str, str], Never, Never])
assert_type(with_stock(parse("1")), Effect[int, Invalid, Db])
