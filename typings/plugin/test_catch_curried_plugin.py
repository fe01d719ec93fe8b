"""`pf.catch(cls)(handler)` as a step of a pipe, with the plugin: `cls` is removed from
`E`, as for `pf.catch(cls, handler)`, so the same code narrows in mypy and in pyright
(typings/pyright/test_pyright_parity.py)."""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, pipe, run_sync
from effectpy import pointfree as pf


class NotFound(Exception): ...


class Invalid(Exception): ...


class Other(Exception): ...


def load() -> Effect[int, NotFound | Invalid | Other]:
    return Effect.fail(NotFound())


def zero(error: Exception) -> Effect[int]:
    return Effect.succeed(0)


assert_type(pipe(load(), pf.catch(NotFound)(zero)), Effect[int, Invalid | Other, Never])
assert_type(load().pipe(pf.catch(NotFound)(zero)), Effect[int, Invalid | Other, Never])
assert_type(
    pipe(load(), pf.catch(NotFound)(zero), pf.catch(Invalid)(zero), pf.catch(Other)(zero)),
    Effect[int, Never, Never],
)
assert_type(
    run_sync(
        pipe(load(), pf.catch(NotFound)(zero), pf.catch(Invalid)(zero), pf.catch(Other)(zero))
    ),
    int,
)
run_sync(pipe(load(), pf.catch(NotFound)(zero), pf.catch(Invalid)(zero)))  # type: ignore[arg-type]
pipe(load(), pf.catch(KeyError)(zero))  # type: ignore[arg-type]

# A base class removes its subclasses; a `type[C]` value may hold a subclass: E is kept.
assert_type(pipe(load(), pf.catch(Exception)(zero)), Effect[int, Never, Never])


def some_class() -> type[NotFound]:
    return NotFound


assert_type(
    pipe(load(), pf.catch(some_class())(zero)), Effect[int, NotFound | Invalid | Other, Never]
)

# The spelling that narrows step by step in pyright too: one `.pipe(step)` per catch.
handled = (
    load().pipe(pf.catch(NotFound)(zero)).pipe(pf.catch(Invalid)(zero)).pipe(pf.catch(Other)(zero))
)
assert_type(handled, Effect[int, Never, Never])
