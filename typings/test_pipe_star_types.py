"""`pipe(value, *steps)` and `effect.pipe(*steps)`: steps of a length the checker does not
know (issue 15).

A `*steps` argument may hold no step or many, so its overload asks each step to take the
value or what a step returns, and types the result as either. It used to pick the
overload of no step (`pipe(v, *steps)` was `v`'s type, whatever the steps returned) or,
for the method, of one step (`effect.pipe(*[])` was typed as if a step had run). Holds
with and without the plugin; the same lines are in typings/pyright/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Never, assert_type

from effectpy import Effect, pipe, run_sync


class Database:
    """A service marker for `R`."""


def load_user(user_id: int) -> Effect[str, KeyError, Database]:
    return Effect.fail(KeyError(user_id))


def recovered(effect: Effect[str, KeyError, Database]) -> Effect[str, Never, Database]:
    return effect.catch_all(lambda error: Effect.succeed(str(error)))


def logged(effect: Effect[str, KeyError, Database]) -> Effect[str, KeyError, Database]:
    return effect


def shown(effect: Effect[str, KeyError, Database]) -> Effect[int, KeyError, Database]:
    return effect.map(len)


recoveries: list[Callable[[Effect[str, KeyError, Database]], Effect[str, Never, Database]]] = [
    recovered
]
loggers = [logged, logged]
no_steps: list[Callable[[Effect[str, KeyError, Database]], Effect[str, KeyError, Database]]] = []

# The steps may not run at all: the error they handle stays in the type.
assert_type(pipe(load_user(1), *recoveries), Effect[str, KeyError, Database])
assert_type(load_user(1).pipe(*recoveries), Effect[str, KeyError, Database])
run_sync(pipe(load_user(1), *recoveries).provide_service(Database, Database()))  # type: ignore[arg-type]

# Steps that keep the type give it back exactly, however many run.
assert_type(pipe(load_user(1), *loggers), Effect[str, KeyError, Database])
assert_type(load_user(1).pipe(*loggers), Effect[str, KeyError, Database])
assert_type(load_user(1).pipe(*no_steps), Effect[str, KeyError, Database])

# No step: the value itself (the method used to be typed as if one step had run).
assert_type(pipe(load_user(1)), Effect[str, KeyError, Database])
assert_type(load_user(1).pipe(*[]), Effect[str, KeyError, Database])

# A tuple has a known length: each step is checked in turn, exactly.
assert_type(pipe(load_user(1), *(logged, shown)), Effect[int, KeyError, Database])
assert_type(load_user(1).pipe(*(recovered,)), Effect[str, Never, Database])

# Steps typed with `Any` give `Any` (pyright: `... | Any`), never a precise type they did
# not earn.
anything: list[Callable[[Any], Any]] = []
assert_type(pipe(load_user(1), *anything), Any)
