"""`pf.catch(cls)(handler)`, the curried data-last catch (issue 15): what holds with and
without the plugin. It narrows `E` in pyright (typings/pyright/test_pyright_parity.py)
and with the plugin in a pipe (typings/plugin/test_catch_curried_plugin.py); plain mypy
keeps `E` (joined to a base class: typings/no_plugin/test_catch_curried_no_plugin.py).
"""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, pipe
from effectpy import pointfree as pf


class NotFound(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class Database:
    """A service marker for `R`."""


def find(key: str) -> Effect[int, NotFound, Database]:
    return Effect.fail(NotFound(key))


def fallback(error: NotFound) -> Effect[int, TimeoutError]:
    return Effect.succeed(len(error.key))


# An effect that fails with the caught class alone: the handler's errors replace it.
assert_type(pf.catch(NotFound)(fallback)(find("k")), Effect[int, TimeoutError, Database])
assert_type(pipe(find("k"), pf.catch(NotFound)(fallback)), Effect[int, TimeoutError, Database])
assert_type(find("k").pipe(pf.catch(NotFound)(fallback)), Effect[int, TimeoutError, Database])

# The handler, a lambda too, is given the class: no `Any`, in both checkers.
assert_type(
    pf.catch(NotFound)(lambda e: Effect.succeed(e.key))(find("k")),
    Effect[int | str, Never, Database],
)
pf.catch(NotFound)(lambda e: Effect.succeed(e.kee))  # type: ignore[attr-defined]

# Not an exception class, or a handler for another class: rejected.
pf.catch(int)  # type: ignore[type-var]
pf.catch(KeyError)(fallback)  # type: ignore[arg-type]
