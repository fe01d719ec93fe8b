"""Data-last versions of the combinators, for `pipe(...)`.

`pipe(value, f, g)` is `g(f(value))`, typed for up to 20 steps. Each function here takes
the arguments of the `Effect` method of the same name and returns a function of the
effect, so a pipeline reads top to bottom:

>>> from effectpy import Effect, pipe, run_sync
>>> from effectpy import pointfree as pf
>>> def double(n: int) -> int:
...     return n * 2
>>> run_sync(pipe(Effect.succeed(1), pf.map(double), pf.map(str)))
'2'

Known mypy holes (measured with mypy 2.4; `typings/` holds them as cases). With the
effectpy mypy plugin (`effectpy.mypy_plugin`, docs/typing.md), a `pipe` is inferred one
step at a time, like a chain of method calls, and `pf.catch` narrows the error type
there. What is left:

* A lambda given to a function of this module inside `pipe` is checked before the
  effect's types are known: `pf.map(lambda n: n + 1)` is an error (`Unsupported operand
  types for + ("A" and "int")`: `n` has the type of an unsolved type variable). The
  result type is still right. Pyright infers it.
* `catch` applied by hand outside a pipe keeps the error type whole (see `catch`).

Without the plugin, mypy solves the steps of a `pipe` all at once, and there are more:

* Two lambdas in a row inside `pipe` (`pipe(eff, lambda e: ..., lambda e: ...)`) make
  the result `Any`, silently: no error, and the rest of the pipeline goes unchecked.
* A step whose result joins the incoming types with new ones (`flat_map`, `and_then`,
  `tap` or `zip` adding an error type, `catch_all`, `or_else` adding a value type...)
  is typically rejected when another step follows it (`arg-type`, the step expected to
  return `Never`), although the code is correct. As the last step it is inferred.
* A lambda that returns an effect can make its step `Never` (`pf.tap(lambda n: ...)`
  is rejected) or leave the value type `Any` (`pf.flat_map(lambda n: ...)`).
* A callback typed for a wider input widens the step: `pf.on_error(f)` with
  `f: Callable[[Cause[object]], ...]` gives the error type `object`.
* `catch` keeps the error type whole, in a pipe or not.

Use named functions in a pipeline, and, without the plugin, the methods
(`eff.flat_map(f).map(g)`), which mypy infers one call at a time, where steps widen
the types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Never, Protocol, TypeVar, overload

from returns.result import Result

from .cause import Cause
from .effect import Effect
from .exit import Exit

__all__ = [
    "CatchStep",
    "Catching",
    "ProvideStep",
    "and_then",
    "as_",
    "as_unit",
    "catch",
    "catch_all",
    "catch_all_cause",
    "either",
    "ensuring",
    "exit",
    "flat_map",
    "interruptible",
    "map",
    "map_error",
    "match",
    "match_cause",
    "match_cause_effect",
    "match_effect",
    "on_error",
    "on_exit",
    "or_else",
    "pipe",
    "provide_service",
    "tap",
    "uninterruptible",
    "zip",
    "zip_with",
]

# --- BEGIN GENERATED: type variables (tools/gen_typing.py) ---
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
E = TypeVar("E")
E2 = TypeVar("E2")
E3 = TypeVar("E3")
R = TypeVar("R")
R2 = TypeVar("R2")
R3 = TypeVar("R3")

_P0 = TypeVar("_P0")
_P1 = TypeVar("_P1")
_P2 = TypeVar("_P2")
_P3 = TypeVar("_P3")
_P4 = TypeVar("_P4")
_P5 = TypeVar("_P5")
_P6 = TypeVar("_P6")
_P7 = TypeVar("_P7")
_P8 = TypeVar("_P8")
_P9 = TypeVar("_P9")
_P10 = TypeVar("_P10")
_P11 = TypeVar("_P11")
_P12 = TypeVar("_P12")
_P13 = TypeVar("_P13")
_P14 = TypeVar("_P14")
_P15 = TypeVar("_P15")
_P16 = TypeVar("_P16")
_P17 = TypeVar("_P17")
_P18 = TypeVar("_P18")
_P19 = TypeVar("_P19")
_P20 = TypeVar("_P20")
# --- END GENERATED: type variables ---


# --- BEGIN GENERATED: pipe overloads (tools/gen_typing.py) ---
@overload
def pipe(value: _P0, f1: Callable[[_P0], _P1], /) -> _P1: ...
@overload
def pipe(value: _P0, f1: Callable[[_P0], _P1], f2: Callable[[_P1], _P2], /) -> _P2: ...
@overload
def pipe(
    value: _P0, f1: Callable[[_P0], _P1], f2: Callable[[_P1], _P2], f3: Callable[[_P2], _P3], /
) -> _P3: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    /,
) -> _P4: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    /,
) -> _P5: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    /,
) -> _P6: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    /,
) -> _P7: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    /,
) -> _P8: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    /,
) -> _P9: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    /,
) -> _P10: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    /,
) -> _P11: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    /,
) -> _P12: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    /,
) -> _P13: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    /,
) -> _P14: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    f15: Callable[[_P14], _P15],
    /,
) -> _P15: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    f15: Callable[[_P14], _P15],
    f16: Callable[[_P15], _P16],
    /,
) -> _P16: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    f15: Callable[[_P14], _P15],
    f16: Callable[[_P15], _P16],
    f17: Callable[[_P16], _P17],
    /,
) -> _P17: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    f15: Callable[[_P14], _P15],
    f16: Callable[[_P15], _P16],
    f17: Callable[[_P16], _P17],
    f18: Callable[[_P17], _P18],
    /,
) -> _P18: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    f15: Callable[[_P14], _P15],
    f16: Callable[[_P15], _P16],
    f17: Callable[[_P16], _P17],
    f18: Callable[[_P17], _P18],
    f19: Callable[[_P18], _P19],
    /,
) -> _P19: ...
@overload
def pipe(
    value: _P0,
    f1: Callable[[_P0], _P1],
    f2: Callable[[_P1], _P2],
    f3: Callable[[_P2], _P3],
    f4: Callable[[_P3], _P4],
    f5: Callable[[_P4], _P5],
    f6: Callable[[_P5], _P6],
    f7: Callable[[_P6], _P7],
    f8: Callable[[_P7], _P8],
    f9: Callable[[_P8], _P9],
    f10: Callable[[_P9], _P10],
    f11: Callable[[_P10], _P11],
    f12: Callable[[_P11], _P12],
    f13: Callable[[_P12], _P13],
    f14: Callable[[_P13], _P14],
    f15: Callable[[_P14], _P15],
    f16: Callable[[_P15], _P16],
    f17: Callable[[_P16], _P17],
    f18: Callable[[_P17], _P18],
    f19: Callable[[_P18], _P19],
    f20: Callable[[_P19], _P20],
    /,
) -> _P20: ...
@overload
def pipe(value: _P0, /, *steps: Callable[[_P0 | _P1], _P1]) -> _P0 | _P1: ...
# --- END GENERATED: pipe overloads ---
def pipe(value: Any, /, *fns: Callable[[Any], Any]) -> Any:
    """Apply functions left to right: `pipe(x, f, g)` is `g(f(x))`.

    >>> from effectpy import pipe
    >>> pipe(3, lambda n: n + 1, str)
    '4'
    """
    result = value
    for fn in fns:
        result = fn(result)
    return result


# The functions below mirror methods of `Effect`: tools/gen_typing.py (`make gen-typing`)
# writes their signatures from the methods' in effect.py, and keeps their docstrings.
# --- BEGIN GENERATED: data-last functions (tools/gen_typing.py) ---
# -- sequencing -----------------------------------------------------------------------


def map(f: Callable[[A], B]) -> Callable[[Effect[A, E, R]], Effect[B, E, R]]:
    """Transform the success value (`Effect.map`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(2), pf.map(str)))
    '2'
    """
    return lambda effect: effect.map(f)


def flat_map(
    f: Callable[[A], Effect[B, E2, R2]],
) -> Callable[[Effect[A, E, R]], Effect[B, E | E2, R | R2]]:
    """Continue with the effect `f` makes from the value (`Effect.flat_map`).

    >>> from effectpy import Effect, pipe, run_sync_exit
    >>> from effectpy import pointfree as pf
    >>> def half(n: int) -> Effect[int, ValueError]:
    ...     return Effect.fail(ValueError(n)) if n % 2 else Effect.succeed(n // 2)
    >>> run_sync_exit(pipe(Effect.succeed(8), pf.flat_map(half)))
    Success(value=4)
    """
    return lambda effect: effect.flat_map(f)


@overload
def and_then(
    that: Effect[B, E2, R2],
) -> Callable[[Effect[object, E, R]], Effect[B, E | E2, R | R2]]: ...
@overload
def and_then(
    that: Callable[[A], Effect[B, E2, R2]],
) -> Callable[[Effect[A, E, R]], Effect[B, E | E2, R | R2]]: ...
def and_then(
    that: Effect[Any, Any, Any] | Callable[[Any], Effect[Any, Any, Any]],
) -> Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]:
    """Run `that` next: an effect, or a function of the value (`Effect.and_then`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(1), pf.and_then(Effect.succeed("next"))))
    'next'
    """
    return lambda effect: effect.and_then(that)


def tap(
    f: Callable[[A], Effect[Any, E2, R2]],
) -> Callable[[Effect[A, E, R]], Effect[A, E | E2, R | R2]]:
    """Run the effect `f` makes from the value; keep the value (`Effect.tap`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> def show(n: int) -> Effect[None]:
    ...     return Effect.sync(lambda: print("saw", n))
    >>> run_sync(pipe(Effect.succeed(5), pf.tap(show)))
    saw 5
    5
    """
    return lambda effect: effect.tap(f)


def zip(
    that: Effect[B, E2, R2],
) -> Callable[[Effect[A, E, R]], Effect[tuple[A, B], E | E2, R | R2]]:
    """Run the effect, then `that`; succeed with both values (`Effect.zip`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(1), pf.zip(Effect.succeed("a"))))
    (1, 'a')
    """
    return lambda effect: effect.zip(that)


def zip_with(
    that: Effect[B, E2, R2], f: Callable[[A, B], C]
) -> Callable[[Effect[A, E, R]], Effect[C, E | E2, R | R2]]:
    """Run the effect, then `that`; combine the values with `f` (`Effect.zip_with`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> def times(a: int, b: int) -> int:
    ...     return a * b
    >>> run_sync(pipe(Effect.succeed(2), pf.zip_with(Effect.succeed(3), times)))
    6
    """
    return lambda effect: effect.zip_with(that, f)


def as_(value: B) -> Callable[[Effect[object, E, R]], Effect[B, E, R]]:
    """Replace the success value with `value` (`Effect.as_`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(1), pf.as_("done")))
    'done'
    """
    return lambda effect: effect.as_(value)


def as_unit() -> Callable[[Effect[object, E, R]], Effect[None, E, R]]:
    """Drop the success value (`Effect.as_unit`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> print(run_sync(pipe(Effect.succeed(1), pf.as_unit())))
    None
    """
    return lambda effect: effect.as_unit()


# -- errors ---------------------------------------------------------------------------


def map_error(f: Callable[[E], E2]) -> Callable[[Effect[A, E, R]], Effect[A, E2, R]]:
    """Transform the typed error (`Effect.map_error`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.fail(404), pf.map_error(str), pf.either()))
    <Failure: 404>
    """
    return lambda effect: effect.map_error(f)


def catch_all(
    f: Callable[[E], Effect[B, E2, R2]],
) -> Callable[[Effect[A, E, R]], Effect[A | B, E2, R | R2]]:
    """Recover from the typed error with the effect `f` makes from it (`Effect.catch_all`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.fail("boom"), pf.catch_all(lambda e: Effect.succeed(f"handled {e}"))))
    'handled boom'
    """
    return lambda effect: effect.catch_all(f)


def catch_all_cause(
    f: Callable[[Cause[E]], Effect[B, E2, R2]],
) -> Callable[[Effect[A, E, R]], Effect[A | B, E2, R | R2]]:
    """Recover from any failure, defects included, given its `Cause` (`Effect.catch_all_cause`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.die(ValueError("x")), pf.catch_all_cause(lambda c: Effect.succeed(len(c.defects())))))
    1
    """
    return lambda effect: effect.catch_all_cause(f)


def or_else(that: Effect[B, E2, R2]) -> Callable[[Effect[A, object, R]], Effect[A | B, E2, R | R2]]:
    """On a typed error, run `that` instead (`Effect.or_else`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.fail("no"), pf.or_else(Effect.succeed("fallback"))))
    'fallback'
    """
    return lambda effect: effect.or_else(that)


def either() -> Callable[[Effect[A, E, R]], Effect[Result[A, E], Never, R]]:
    """Succeed with a `returns` `Result` of the outcome (`Effect.either`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.fail("no"), pf.either()))
    <Failure: no>
    """
    return lambda effect: effect.either()


def exit() -> Callable[[Effect[A, E, R]], Effect[Exit[A, E], Never, R]]:
    """Succeed with how the effect ended, as an `Exit` (`Effect.exit`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(1), pf.exit()))
    Success(value=1)
    """
    return lambda effect: effect.exit()


def match(
    *, on_failure: Callable[[E], B], on_success: Callable[[A], C]
) -> Callable[[Effect[A, E, R]], Effect[B | C, Never, R]]:
    """Handle both outcomes with plain functions (`Effect.match`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.fail(1), pf.match(on_failure=lambda e: "bad", on_success=lambda a: "ok")))
    'bad'
    """
    return lambda effect: effect.match(on_failure=on_failure, on_success=on_success)


def match_effect(
    *, on_failure: Callable[[E], Effect[B, E2, R2]], on_success: Callable[[A], Effect[C, E3, R3]]
) -> Callable[[Effect[A, E, R]], Effect[B | C, E2 | E3, R | R2 | R3]]:
    """Continue with an effect for either outcome (`Effect.match_effect`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(2), pf.match_effect(
    ...     on_failure=lambda e: Effect.succeed(0), on_success=lambda a: Effect.succeed(a * 2))))
    4
    """
    return lambda effect: effect.match_effect(on_failure=on_failure, on_success=on_success)


def match_cause(
    *, on_failure: Callable[[Cause[E]], B], on_success: Callable[[A], C]
) -> Callable[[Effect[A, E, R]], Effect[B | C, Never, R]]:
    """Handle both outcomes, given the whole `Cause` on failure (`Effect.match_cause`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.die(OSError()), pf.match_cause(on_failure=lambda c: "died", on_success=str)))
    'died'
    """
    return lambda effect: effect.match_cause(on_failure=on_failure, on_success=on_success)


def match_cause_effect(
    *,
    on_failure: Callable[[Cause[E]], Effect[B, E2, R2]],
    on_success: Callable[[A], Effect[C, E3, R3]],
) -> Callable[[Effect[A, E, R]], Effect[B | C, E2 | E3, R | R2 | R3]]:
    """Continue with an effect for either outcome, given the `Cause` on failure
    (`Effect.match_cause_effect`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> from effectpy import Cause
    >>> def count(cause: Cause[int]) -> Effect[int]:
    ...     return Effect.succeed(len(cause.failures()))
    >>> run_sync(pipe(Effect.fail(7), pf.match_cause_effect(on_failure=count, on_success=Effect.succeed)))
    1
    """
    return lambda effect: effect.match_cause_effect(on_failure=on_failure, on_success=on_success)


# -- finalization ---------------------------------------------------------------------


def on_exit(
    f: Callable[[Exit[A, E]], Effect[Any, Never, R2]],
) -> Callable[[Effect[A, E, R]], Effect[A, E, R | R2]]:
    """Run the finalizer `f(exit)` after the effect, however it ended (`Effect.on_exit`).

    >>> from typing import Never
    >>> from effectpy import Effect, Exit, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> def log(exit: Exit[int, Never]) -> Effect[None]:
    ...     return Effect.sync(lambda: print(exit))
    >>> run_sync(pipe(Effect.succeed(1), pf.on_exit(log)))
    Success(value=1)
    1
    """
    return lambda effect: effect.on_exit(f)


def ensuring(
    finalizer: Effect[Any, Never, R2],
) -> Callable[[Effect[A, E, R]], Effect[A, E, R | R2]]:
    """Run `finalizer` after the effect, however it ended (`Effect.ensuring`).

    >>> from effectpy import Effect, pipe, run_sync_exit
    >>> from effectpy import pointfree as pf
    >>> _ = run_sync_exit(pipe(Effect.fail("x"), pf.ensuring(Effect.sync(lambda: print("cleanup")))))
    cleanup
    """
    return lambda effect: effect.ensuring(finalizer)


def on_error(
    f: Callable[[Cause[E]], Effect[Any, Never, R2]],
) -> Callable[[Effect[A, E, R]], Effect[A, E, R | R2]]:
    """Run `f(cause)` if the effect fails; keep the failure (`Effect.on_error`).

    >>> from effectpy import Cause, Effect, pipe, run_sync_exit
    >>> from effectpy import pointfree as pf
    >>> def report(cause: Cause[str]) -> Effect[None]:
    ...     return Effect.sync(lambda: print(cause.failures()))
    >>> _ = run_sync_exit(pipe(Effect.fail("x"), pf.on_error(report)))
    ['x']
    """
    return lambda effect: effect.on_error(f)


# -- interruption ---------------------------------------------------------------------


def interruptible() -> Callable[[Effect[A, E, R]], Effect[A, E, R]]:
    """The effect, interruptible even inside an uninterruptible region
    (`Effect.interruptible`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(1), pf.uninterruptible(), pf.interruptible()))
    1
    """
    return lambda effect: effect.interruptible()


def uninterruptible() -> Callable[[Effect[A, E, R]], Effect[A, E, R]]:
    """The effect, shielded from interruption (`Effect.uninterruptible`).

    >>> from effectpy import Effect, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> run_sync(pipe(Effect.succeed(1), pf.uninterruptible()))
    1
    """
    return lambda effect: effect.uninterruptible()


# --- END GENERATED: data-last functions ---


# -- catch, written by hand (tools/gen_typing.py leaves it out) -------------------------
#
# `catch(cls)(handler)` returns a step with two overloads, one for an effect that fails
# with `cls` alone and one for `cls` among others. Applied to an effect, pyright solves
# `_ER` of the second as the rest of the union: the step removes `cls` from `E` with no
# plugin. mypy joins `_ER` to a base class instead (sound, not exact); its plugin removes
# `cls` in a `pipe(...)`, as it does for `catch(cls, handler)`.

_A = TypeVar("_A")
_R = TypeVar("_R")
_ER = TypeVar("_ER")
_B = TypeVar("_B")
_E2 = TypeVar("_E2")
_R2 = TypeVar("_R2")
_X = TypeVar("_X", bound=Exception)
X = TypeVar("X", bound=Exception)
_X_contra = TypeVar("_X_contra", bound=Exception, contravariant=True)
_B_co = TypeVar("_B_co", covariant=True)
_E2_co = TypeVar("_E2_co", covariant=True)
_R2_co = TypeVar("_R2_co", covariant=True)


class CatchStep(Protocol[_X_contra, _B_co, _E2_co, _R2_co]):
    """What `catch(cls)(handler)` returns: a step that recovers from the errors that are
    instances of `cls` (`_X_contra`) with `handler`, which succeeds with `_B_co`, fails
    with `_E2_co` and needs `_R2_co`."""

    @overload
    def __call__(
        self, effect: Effect[_A, _X_contra, _R], /
    ) -> Effect[_A | _B_co, _E2_co, _R | _R2_co]: ...
    @overload
    def __call__(
        self, effect: Effect[_A, _X_contra | _ER, _R], /
    ) -> Effect[_A | _B_co, _ER | _E2_co, _R | _R2_co]: ...


class Catching(Protocol[_X]):
    """What `catch(cls)` returns: give it the handler of the errors of class `cls`."""

    def __call__(
        self, handler: Callable[[_X], Effect[_B, _E2, _R2]], /
    ) -> CatchStep[_X, _B, _E2, _R2]: ...


@overload
def catch(cls: type[X], /) -> Catching[X]: ...
@overload
def catch(
    cls: type[X], handler: Callable[[X], Effect[B, E2, R2]]
) -> Callable[[Effect[A, E, R]], Effect[A | B, E | E2, R | R2]]: ...
def catch(cls: type[X], handler: Callable[[X], Effect[B, E2, R2]] | None = None) -> Any:
    """Recover from typed errors that are instances of `cls` (`Effect.catch`), written
    `catch(cls)(handler)` or `catch(cls, handler)`.

    Which one narrows the error type, removing `cls` and its subclasses from it:

    * `catch(cls)(handler)`: in pyright, in a `pipe(...)` or applied by hand; with the
      effectpy mypy plugin, as a step of `pipe(...)` or `effect.pipe(...)`. Plain mypy
      keeps the error type (a sound over-approximation, joined to a base class).
    * `catch(cls, handler)`: with the plugin, as a step of a pipe. Elsewhere `E` is kept
      whole.

    The handler's parameter has the type `cls` in both checkers, a lambda too. Pass the
    class itself: a `type[C]` variable may hold a subclass of `C`, which catches less
    (the plugin then keeps `E` whole; pyright cannot tell).

    >>> from effectpy import Effect, pipe, run_sync_exit
    >>> from effectpy import pointfree as pf
    >>> def missing(e: KeyError) -> Effect[int]:
    ...     return Effect.succeed(0)
    >>> run_sync_exit(pipe(Effect.fail(KeyError("k")), pf.catch(KeyError)(missing)))
    Success(value=0)
    >>> run_sync_exit(pipe(Effect.fail(KeyError("k")), pf.catch(KeyError, missing)))
    Success(value=0)
    """
    if handler is None:
        return lambda handler: lambda effect: effect.catch(cls, handler)
    return lambda effect: effect.catch(cls, handler)


_E3 = TypeVar("_E3")
_S = TypeVar("_S")
_T = TypeVar("_T")
_T_contra = TypeVar("_T_contra", contravariant=True)


class ProvideStep(Protocol[_T_contra]):
    """What `provide_service(tag, service)` returns: a step that gives an effect the
    service of `tag` (`_T_contra`) and removes the tag from its requirements."""

    @overload
    def __call__(self, effect: Effect[_A, _E3, _T_contra], /) -> Effect[_A, _E3, Never]: ...
    @overload
    def __call__(self, effect: Effect[_A, _E3, _T_contra | _R], /) -> Effect[_A, _E3, _R]: ...


def provide_service(tag: Callable[[_S], _T], service: _S) -> ProvideStep[_T]:
    """Provide one service (`Effect.provide_service`), as a step: the tag is removed
    from `R` in pyright and in mypy alike, without the plugin (tags are exact keys, so
    the subtraction is what the run time does).

    >>> from effectpy import Tag, pipe, run_sync
    >>> from effectpy import pointfree as pf
    >>> class Port(Tag[int]): ...
    >>> run_sync(pipe(Port.get().map(lambda p: p + 1), pf.provide_service(Port, 8080)))
    8081
    """
    return lambda effect: effect.provide_service(tag, service)
