"""What pyright infers and mypy does not (issue 15), hence the `# mypy: ignore-errors`
below, which keeps mypy off this file.

* `@gen` without a `Do[...]` annotation, pyright's way: it infers `Effect[A, E, R]` from
  the `yield from`s of the body (mypy needs `-> Do[A, E, R]`).
* `@gen` functions generic in `E` or `R` (plain mypy turns those into `Never`; mypy with
  the plugin is exact: typings/plugin/test_gen_generic_plugin.py).
* `zip_with` with a lambda (plain mypy may infer it too early).
* `pf.catch(cls)(handler)` removing `cls` from a union of three or more, step after step,
  in a pipe or applied by hand (plain mypy joins the rest to a base class; the plugin
  subtracts in a pipe: typings/plugin/test_catch_curried_plugin.py).

In strict mode pyright reports an unannotated generator at its definition
(reportUnknownParameterType: the send type of the inferred `Generator` is unknown). The
`# pyright: ignore[...]` comments below keep that to the definition line; a file of
such generators can turn the check off in its first lines instead, with
`# pyright: reportUnknownParameterType=false`. Every use of the effects stays exact.
"""

# mypy: ignore-errors

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, Tag, gen, pipe, run_sync
from effectpy import pointfree as pf

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R")


class Db(Tag[dict[str, int]]): ...


class NotFound(Exception): ...


class Invalid(Exception): ...


class Other(Exception): ...


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


# -- pf.catch(cls)(handler) narrows E with no plugin -------------------------------------


def load() -> Effect[int, NotFound | Invalid | Other, Db]:
    return Effect.fail(NotFound("k"))


def zero(error: Exception) -> Effect[int]:
    return Effect.succeed(0)


assert_type(pipe(load(), pf.catch(NotFound)(zero)), Effect[int, Invalid | Other, Db])
assert_type(pf.catch(NotFound)(zero)(load()), Effect[int, Invalid | Other, Db])
assert_type(load().pipe(pf.catch(Invalid)(zero)), Effect[int, NotFound | Other, Db])
# Step after step: pyright narrows at the first catch step of a `pipe(...)` only (the
# next keep E, soundly). Chain `.pipe(step)` calls, or apply the steps, to narrow at each.
assert_type(
    pipe(load(), pf.catch(NotFound)(zero), pf.catch(Invalid)(zero)),
    Effect[int, Invalid | Other, Db],
)
handled = (
    load().pipe(pf.catch(NotFound)(zero)).pipe(pf.catch(Invalid)(zero)).pipe(pf.catch(Other)(zero))
)
assert_type(handled, Effect[int, Never, Db])
assert_type(run_sync(handled.provide(Db.of({}))), int)
# A base class removes its subclasses; a subclass leaves its base.
assert_type(pipe(load(), pf.catch(Exception)(zero)), Effect[int, Never, Db])
assert_type(
    pipe(Effect.fail(LookupError()), pf.catch(KeyError)(zero)), Effect[int, LookupError, Never]
)
# The handler's lambda is given the class.
assert_type(
    pipe(load(), pf.catch(NotFound)(lambda e: Effect.fail(ValueError(str(e))))),
    Effect[int, Invalid | Other | ValueError, Db],
)
# The method and the two-argument form keep E whole in pyright (the plugin narrows them).
assert_type(load().catch(NotFound, zero), Effect[int, NotFound | Invalid | Other, Db])


# -- zip_with infers its lambda with both values (plain mypy may not; the plugin does) ----

assert_type(
    Effect.succeed(2).zip_with(Effect.succeed("ab"), lambda n, s: s * n), Effect[str, Never, Never]
)
assert_type(
    Effect.succeed(2).zip_with(parse("1"), lambda n, m: str(n + m)), Effect[str, Invalid, Never]
)
