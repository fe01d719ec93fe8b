"""Data-last versions of the combinators, for `pipe(...)`.

`pipe(value, f, g)` is `g(f(value))`, typed for up to 20 steps. Each function here takes
the arguments of the method of the same name and returns a function of the effect:

>>> from effectpy import Effect, pipe, run_sync
>>> from effectpy import pointfree as pf
>>> run_sync(pipe(Effect.succeed(1), pf.map(lambda n: n + 1)))
2
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, overload

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


@overload
def pipe(value: _P0, /) -> _P0: ...


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
