"""Generic `@gen` functions whose `E` or `R` is a type variable, under plain mypy: those
type variables become `Never` (a false reject, never a hole). mypy infers a generic
result only when no type variable of `gen` is solved to `Never`, so `gen`'s overloads
give a function generic in `E` the first one that fits with `E = Never`. Workaround
(typings/test_gen_generic_types.py, `retried`): build the generator inside a generic
function, where `E` and `R` are fixed types. The plugin is exact
(typings/plugin/test_gen_generic_plugin.py)."""

from __future__ import annotations

from typing import Never, TypeVar, assert_type

from effectpy import Do, Effect, gen

T = TypeVar("T")
E = TypeVar("E")
R = TypeVar("R")


@gen
def twice(effect: Effect[T, E, R]) -> Do[tuple[T, T], E, R]:
    first = yield from effect
    second = yield from effect
    return (first, second)


assert_type(twice(Effect.succeed("a")), Effect[tuple[str, str], Never, Never])
twice(Effect.fail(KeyError("k")))  # type: ignore[arg-type]
