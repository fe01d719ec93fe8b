"""A sequential `Effect.for_each`: `f(item)` for each item in turn, the values in a
list (a fresh one per run). `f` is called only when its item's turn comes, and the
items are walked by one COLLECT frame, not a chain of binds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .._core import opcodes as op
from .frames import SucceedNode
from .loop import FiberRuntime, expect_effect, handles, on_value


class Collect:
    """A sequential `for_each` in progress: `f(items[index])` is next, the values so
    far are in `results`."""

    __slots__ = ("f", "index", "items", "results")
    _op: Final = op.COLLECT

    def __init__(self, items: tuple[Any, ...], f: Callable[[Any], Any]) -> None:
        self.items = items
        self.f = f
        self.index = 1
        self.results: list[Any] = []


@handles(op.FOR_EACH)
def run_for_each(fiber: FiberRuntime, node: Any) -> Any:
    items = node.items
    if not items:
        return SucceedNode([])
    fiber._stack.append(Collect(items, node.f))
    return expect_effect(node.f(items[0]), node.f)


@on_value(op.COLLECT)
def collect(fiber: FiberRuntime, frame: Collect, value: object) -> Any:
    """The value of one item: keep it; then the next item, or the list."""
    frame.results.append(value)
    index = frame.index
    items = frame.items
    if index < len(items):
        frame.index = index + 1
        fiber._stack.append(frame)
        return expect_effect(frame.f(items[index]), frame.f)
    return SucceedNode(frame.results)
