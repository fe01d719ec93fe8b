"""Errors in user code that the interpreter explains: a function that returned
something other than an effect is named, with its file and line."""

from __future__ import annotations

from functools import partial
from typing import Any

from .._core.scope import call_with_exit


def already_made(maker: object, effect: object, _: object) -> object:
    """`effect`, which `maker` made: the function `_unwind` hands the loop when it has
    called a finalizer's function itself (`partial`ed; `describe_function` names
    `maker`)."""
    return effect


def expect_effect(effect: Any, fn: object) -> Any:
    """`effect`, made by `fn`; a TypeError naming `fn` if it is not an effect."""
    if not hasattr(type(effect), "_op"):
        raise TypeError(
            f"{describe_function(fn)} returned {type(effect).__name__} {short(effect)}, "
            f"expected an Effect"
        )
    return effect


def describe_function(fn: object) -> str:
    if type(fn) is tuple:  # a scope's finalizer (see `Finalizer`): the user's function
        fn = fn[1] if fn[0] is call_with_exit else fn[0]
    while isinstance(fn, partial):  # a release (see `Release`), or `already_made`
        fn = fn.args[0] if fn.func is already_made else fn.func
    name = getattr(fn, "__qualname__", None) or repr(fn)
    code = getattr(fn, "__code__", None)
    if code is not None:
        return f"{name} ({code.co_filename}:{code.co_firstlineno})"
    return name


def short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def as_defect(exc: BaseException, cur: object, fn: object) -> BaseException:
    """The defect for an error in the loop; explains a function that returned a non-Effect."""
    inner = getattr(cur, "first", None)
    if (
        isinstance(exc, AttributeError)
        and hasattr(type(cur), "_op")
        and inner is not None
        and not hasattr(type(inner), "_op")
    ):
        where = "an effect" if fn is None else describe_function(fn)
        return TypeError(
            f"{where} built an effect around {type(inner).__name__} {short(inner)} "
            f"where an Effect was expected"
        )
    if isinstance(exc, AttributeError) and not hasattr(type(cur), "_op"):
        where = "the effect to run" if fn is None else describe_function(fn)
        shown = repr(cur)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        error = TypeError(f"{where} returned {type(cur).__name__} {shown}, expected an Effect")
        error.__cause__ = None
        return error
    return exc


def checked(effect: Any, fn: object) -> Any:
    """`effect`, which `fn` made, if it is an effect whose first step is one too; else
    the TypeError `as_defect` would give later, raised now (for a handler of the loop
    that returns the effect without the loop seeing `fn`)."""
    if not hasattr(type(effect), "_op"):
        raise as_defect(AttributeError("_op"), effect, fn)
    inner = getattr(effect, "first", None)
    if inner is not None and not hasattr(type(inner), "_op"):
        raise as_defect(AttributeError("_op"), effect, fn)
    return effect
