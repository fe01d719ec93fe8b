"""The cases of typings/test_constructor_types.py under pyright (its rejections are
checked with mypy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Never, assert_type

from effectpy import Effect, run_sync
from effectpy.concurrent import Ref


def read() -> int:
    return 1


async def fetch() -> str:
    return "body"


def work(signal: object) -> bytes:
    return b""


# -- attempt / try_promise / blocking: up to six classes are kept apart ------------------

assert_type(
    Effect.attempt(read, (KeyError, ValueError, TypeError, OSError)),
    Effect[int, KeyError | ValueError | TypeError | OSError, Never],
)
assert_type(
    Effect.attempt(read, (KeyError, ValueError, TypeError, OSError, IndexError, EOFError)),
    Effect[int, KeyError | ValueError | TypeError | OSError | IndexError | EOFError, Never],
)
assert_type(
    Effect.try_promise(fetch, (KeyError, ValueError, TimeoutError)),
    Effect[str, KeyError | ValueError | TimeoutError, Never],
)
assert_type(
    Effect.try_promise(fetch, (KeyError, ValueError, TimeoutError, OSError, EOFError, TypeError)),
    Effect[str, KeyError | ValueError | TimeoutError | OSError | EOFError | TypeError, Never],
)
assert_type(
    Effect.blocking(work, (OSError, TimeoutError, ValueError)),
    Effect[bytes, OSError | TimeoutError | ValueError, Never],
)
assert_type(Effect.blocking(work, (OSError,)), Effect[bytes, OSError, Never])
assert_type(Effect.try_promise(fetch, (OSError,)), Effect[str, OSError, Never])


# -- Ref[T].make(value) takes the type it names ------------------------------------------

assert_type(Ref[list[int]].make([]), Effect[Ref[list[int]], Never, Never])
assert_type(Ref[dict[str, int]].make({}), Effect[Ref[dict[str, int]], Never, Never])
assert_type(Ref[float].make(1), Effect[Ref[float], Never, Never])
assert_type(Ref.make(1), Effect[Ref[int], Never, Never])
assert_type(Ref.make([1.5]), Effect[Ref[list[float]], Never, Never])


# -- Effect.async_: `resume`'s annotation gives the types --------------------------------


def register(resume: Callable[[Effect[str, TimeoutError]], None]) -> None:
    resume(Effect.succeed("called back"))


assert_type(Effect.async_(register), Effect[str, TimeoutError, Never])
assert_type(run_sync(Effect.async_(register).catch_all(lambda e: Effect.succeed(""))), str)
