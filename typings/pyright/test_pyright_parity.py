"""pyright parity (issue 15): narrowing with no plugin, `Effect.all`/`Effect.race` with no
`Unknown`, `zip_with` lambdas. Holds under pyright strict and under mypy (with and
without the plugin: the lines whose types differ there are in test_pyright_only.py
and in typings/plugin/ or typings/no_plugin/)."""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, Tag, pipe
from effectpy import pointfree as pf


class NotFound(Exception): ...


class Invalid(Exception): ...


class Db(Tag[dict[str, int]]): ...


def load() -> Effect[int, NotFound | Invalid, Db]:
    return Effect.fail(NotFound())


def zero(error: Exception) -> Effect[int]:
    return Effect.succeed(0)


# -- pf.catch(cls)(handler) removes cls: here with one class left, where plain mypy does
# too; with more, pyright and the plugin do (test_pyright_only.py,
# typings/plugin/test_catch_curried_plugin.py).

assert_type(pipe(load(), pf.catch(NotFound)(zero)), Effect[int, Invalid, Db])
assert_type(load().pipe(pf.catch(NotFound)(zero)), Effect[int, Invalid, Db])


# -- Effect.all and Effect.race: Never, not Unknown, where nothing can fail or is needed --

assert_type(
    Effect.all(Effect.succeed(1), Effect.succeed("a")), Effect[tuple[int, str], Never, Never]
)
assert_type(
    Effect.all(Effect.succeed(1), Effect.fail(KeyError()), Effect.unit(), concurrency=2),
    Effect[tuple[int, Never, None], KeyError, Never],
)
assert_type(Effect.all(Effect.succeed(1), Db.get()), Effect[tuple[int, dict[str, int]], Never, Db])
assert_type(
    Effect.all(load(), Db.get(), Effect.succeed(1)),
    Effect[tuple[int, dict[str, int], int], NotFound | Invalid, Db],
)
assert_type(Effect.all(), Effect[tuple[()], Never, Never])
assert_type(Effect.race(Effect.succeed(1), Effect.never()), Effect[int, Never, Never])
assert_type(Effect.race(Effect.sleep(1), Effect.fail(KeyError())), Effect[None, KeyError, Never])
assert_type(Effect.race(Effect.succeed(1), Db.get()), Effect[int | dict[str, int], Never, Db])
assert_type(Effect.race(load(), Db.get()), Effect[int | dict[str, int], NotFound | Invalid, Db])
pair = Effect.all(Effect.succeed(1), Effect.succeed(2))  # no partially-unknown variable
raced = Effect.race(Effect.succeed(1), Effect.succeed(2))
