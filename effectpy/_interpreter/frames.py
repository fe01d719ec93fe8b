"""The nodes the interpreter makes for itself and the frames it pushes on a fiber's
stack. None of them reaches user code: a frame only ever lives on a continuation stack,
and each frame kind's behaviour is in the module that pushes it (the loop's own in
`loop.py`, with `for_each`'s COLLECT; resources in `resources.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._core import opcodes as op
from .._core.cause import Cause
from .._core.exit import Success
from .._core.refs import FiberRef

if TYPE_CHECKING:
    from .loop import Resume


class FailNode:
    __slots__ = ("cause",)
    _op: Final = op.FAIL

    def __init__(self, cause: Cause[Any]) -> None:
        self.cause = cause


class SucceedNode:
    __slots__ = ("value",)
    _op: Final = op.SUCCEED

    def __init__(self, value: object) -> None:
        self.value = value


class FoldNode:
    __slots__ = ("first", "on_failure", "on_success")
    _op: Final = op.FOLD

    def __init__(
        self,
        first: object,
        on_failure: Callable[[Cause[Any]], object],
        on_success: Callable[[Any], object] | None,
    ) -> None:
        self.first = first
        self.on_failure = on_failure
        self.on_success = on_success


class AsyncNode:
    __slots__ = ("register",)
    _op: Final = op.ASYNC

    def __init__(self, register: Callable[[Resume], object]) -> None:
        self.register = register


class UninterruptibleNode:
    __slots__ = ("effect",)
    _op: Final = op.SET_INTERRUPTIBLE
    flag: Final = False

    def __init__(self, effect: object) -> None:
        self.effect = effect


def succeed_node(value: object) -> Any:
    """An effect node that succeeds with `value` (for the runtime's own use)."""
    return SucceedNode(value)


def fail_node(cause: Cause[Any]) -> Any:
    """An effect node that fails with `cause` (for the runtime's own use)."""
    return FailNode(cause)


def async_node(register: Callable[[Resume], object]) -> Any:
    """An effect node completed by a callback (for the runtime's own use)."""
    return AsyncNode(register)


class RevertInterruptible:
    __slots__ = ("flag",)
    _op: Final = op.REVERT_INTERRUPTIBLE

    def __init__(self, flag: bool) -> None:
        self.flag = flag


class ResultFrame:
    """After a finalizer on the success path: go on with the body's value."""

    __slots__ = ("value",)
    _op: Final = op.RESULT

    def __init__(self, value: object) -> None:
        self.value = value


class RethrowFrame:
    """After a finalizer on the failure path: fail again with the body's cause."""

    __slots__ = ("cause",)
    _op: Final = op.RETHROW

    def __init__(self, cause: Cause[Any]) -> None:
        self.cause = cause


class RestoreRef:
    __slots__ = ("old", "ref")
    _op: Final = op.RESTORE_REF

    def __init__(self, ref: FiberRef | None, old: object) -> None:
        self.ref = ref
        self.old = old


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


REVERT_TO_INTERRUPTIBLE: Final = RevertInterruptible(True)
REVERT_TO_UNINTERRUPTIBLE: Final = RevertInterruptible(False)
UNIT_NODE: Final = SucceedNode(None)
UNIT_EXIT: Final = Success(None)
