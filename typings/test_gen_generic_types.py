"""Generic `@gen` functions (issue 15): type variables in the parameters and in `A`.

They used to collapse to `Never` (`def f(x: T) -> Do[T]` became `def (x: Never)`), so
no call type-checked. `gen` has one overload per `Never` of the annotation, before the
general one: with and without the plugin, a function generic in its values keeps its
type variables, whatever its `E` and `R`. A function generic in `E` or `R` is exact
with the plugin (typings/plugin/test_gen_generic_plugin.py); plain mypy turns those
into `Never` (typings/no_plugin/test_gen_generic_no_plugin.py, with the workaround).
"""

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, Tag, gen, run_sync

T = TypeVar("T")
U = TypeVar("U")
E = TypeVar("E")
R = TypeVar("R")


class Db(Tag[dict[str, int]]): ...


class NotFound(Exception): ...


@gen
def echo(value: T) -> Do[T]:
    return (yield from Effect.succeed(value))


@gen
def pair(first: T, second: U) -> Do[tuple[T, U]]:
    a = yield from Effect.succeed(first)
    b = yield from Effect.succeed(second)
    return (a, b)


@gen
def look_up(key: str, default: T) -> Do[int | T, NotFound]:
    if not key:
        return (yield from Effect.fail(NotFound(key)))
    return default


@gen
def stocked(item: T) -> Do[list[T], Never, Db]:
    stock = yield from Db.get()
    return [item] * stock.get(str(item), 0)


@gen
def reserved(item: T) -> Do[T, NotFound, Db]:
    stock = yield from Db.get()
    if not stock.get(str(item)):
        yield from Effect.fail(NotFound(str(item)))
    return item


assert_type(echo(1), Effect[int, Never, Never])
assert_type(echo("a"), Effect[str, Never, Never])
assert_type(run_sync(echo(b"x")), bytes)
assert_type(pair(1, "a"), Effect[tuple[int, str], Never, Never])
assert_type(look_up("k", None), Effect[int | None, NotFound, Never])
assert_type(stocked("book"), Effect[list[str], Never, Db])
assert_type(reserved(3), Effect[int, NotFound, Db])
run_sync(look_up("k", None))  # type: ignore[arg-type]
run_sync(stocked("book"))  # type: ignore[arg-type]
echo(1).map(len)  # type: ignore[arg-type]


# A generic function may build its generator inside: there `T`, `E` and `R` are fixed
# types, so this holds for any of them, with or without the plugin.
def retried(effect: Effect[T, E, R], times: int) -> Effect[list[T], E, R]:
    @gen
    def run() -> Do[list[T], E, R]:
        values = []
        for _ in range(times):
            values.append((yield from effect))
        return values

    return run()


assert_type(retried(look_up("k", 0), 2), Effect[list[int], NotFound, Never])
assert_type(retried(reserved("x"), 2), Effect[list[str], NotFound, Db])
