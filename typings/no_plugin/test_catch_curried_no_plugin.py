"""`pf.catch(cls)(handler)` under plain mypy: the step's second overload,
`Effect[A, X | ER, R]`, solves `ER` as what is left of `E` when one class is left, and
joins two or more to their base class (sound, wider). pyright subtracts in every case,
and so does the plugin in a pipe.

A hole shared with pyright: a `type[C]` value that holds a subclass of `C` takes the
overload for an effect failing with `C` alone, and `E` becomes the handler's, although
the subclass catches less. Pass the class itself (the plugin keeps `E` whole there)."""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, pipe
from effectpy import pointfree as pf


class NotFound(Exception): ...


class Invalid(Exception): ...


class Other(Exception): ...


class Gone(NotFound): ...


def load() -> Effect[int, NotFound | Invalid]:
    return Effect.fail(NotFound())


def many() -> Effect[int, NotFound | Invalid | Other]:
    return Effect.fail(NotFound())


def only() -> Effect[int, NotFound]:
    return Effect.fail(NotFound())


def zero(error: Exception) -> Effect[int]:
    return Effect.succeed(0)


assert_type(pipe(load(), pf.catch(NotFound)(zero)), Effect[int, Invalid, Never])
assert_type(pf.catch(NotFound)(zero)(load()), Effect[int, Invalid, Never])
assert_type(pipe(many(), pf.catch(NotFound)(zero)), Effect[int, Exception, Never])
assert_type(pf.catch(NotFound)(zero)(many()), Effect[int, Exception, Never])


def some_class() -> type[NotFound]:
    return Gone


assert_type(pipe(only(), pf.catch(some_class())(zero)), Effect[int, Never, Never])  # the hole
