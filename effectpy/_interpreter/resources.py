"""Resources and scopes other than those the loop runs itself (`Effect.scoped`,
`acquire_release` and `add_finalizer` are in `loop.py`; running a closing scope's
finalizers is `finalizers.py`):

    BRACKET           `acquire_use_release`: acquire uninterruptibly, then `use` (as
                      interruptible as the fiber was) guarded by a release frame, an
                      ON_EXIT
    CLOSE_SCOPE       `scope.close(exit)`: run the scope's finalizers (a parallel
                      scope: all at once)
    MAKE_SCOPE        `Scope.make`: a new open scope owned by the fiber
    WITH_SCOPE        `scope.extend`: make a scope current, restored after
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final

from .._core import opcodes as op
from .._core.exit import Exit
from .._core.exit import _set_value as _set_value
from .._core.scope import begin_close, init_scope
from ..scope import ExecutionStrategy
from .finalizers import Finalizing, finalize_next
from .frames import (
    REVERT_TO_INTERRUPTIBLE,
    REVERT_TO_UNINTERRUPTIBLE,
    UNIT_EXIT,
    UninterruptibleNode,
)
from .loop import GIVES_VALUE, FiberRuntime, expect_effect, handles, on_cause, on_value

_new = object.__new__
_SEQUENTIAL: Final = ExecutionStrategy.sequential
_SYNC: Final = op.SYNC
_MISSING: Final = object()


class Release:
    """An `ON_EXIT` frame for `acquire_use_release`: `f(exit)` is `release(resource,
    exit)`, a `partial` (no Python frame of its own). Made by `release_frame`."""

    __slots__ = ("f",)
    _op: Final = op.ON_EXIT
    f: Callable[[Exit[Any, Any]], Any]


def release_frame(release: Callable[[Any, Exit[Any, Any]], Any], resource: object) -> Release:
    frame = Release()
    frame.f = partial(release, resource)
    return frame


# -- nodes ------------------------------------------------------------------------------


@handles(op.BRACKET)
def run_bracket(fiber: FiberRuntime, node: Any) -> Any:
    acquire = node.acquire
    stack = fiber._stack
    if acquire._op is _SYNC:  # one atomic step: no region to enter
        resource = acquire.thunk()
        guard = Release()
        guard.f = partial(node.release, resource)
        stack.append(guard)
        use = node.use(resource)
        if not hasattr(type(use), "_op"):
            expect_effect(use, node.use)  # raises, naming `use`
        return use
    if fiber._interruptible:  # the node is its own frame, above the way back
        stack.append(REVERT_TO_INTERRUPTIBLE)
        fiber._interruptible = False
    else:
        stack.append(REVERT_TO_UNINTERRUPTIBLE)
    stack.append(node)
    return acquire


@on_value(op.BRACKET)
def bracket_acquired(fiber: FiberRuntime, node: Any, resource: object) -> Any:
    """`acquire_use_release` acquired `resource`: leave the acquire's region (the
    revert frame below says how interruptible the fiber was), then `use` it."""
    stack = fiber._stack
    outer = stack.pop().flag
    stack.append(release_frame(node.release, resource))
    interrupted = fiber._revert(outer)
    if interrupted is not None:
        return interrupted
    return expect_effect(node.use(resource), node.use)


@handles(op.CLOSE_SCOPE)
def run_close_scope(fiber: FiberRuntime, node: Any) -> Any:
    scope = node.scope
    exit = node.scope_exit
    finalizers = begin_close(scope, exit)
    if not finalizers:
        fiber._cur = None  # the value: see `GIVES_VALUE`
        return GIVES_VALUE
    if not scope._sequential:
        return UninterruptibleNode(scope.run_in_parallel(finalizers, exit))
    effect = finalize_next(fiber, Finalizing(finalizers, exit, UNIT_EXIT))
    if effect is None:  # all ran, none failed (their usual end: sync finalizers)
        fiber._cur = None  # the value: see `GIVES_VALUE`
        return GIVES_VALUE
    return effect


@handles(op.MAKE_SCOPE)
def run_make_scope(fiber: FiberRuntime, node: Any) -> Any:
    scope = _new(node.scope_class)
    init_scope(scope, node.strategy, node.name, node.sequential)
    scope._owner = fiber
    fiber._cur = scope  # the value: see `GIVES_VALUE`
    return GIVES_VALUE


@handles(op.WITH_SCOPE)
def run_with_scope(fiber: FiberRuntime, node: Any) -> Any:
    fiber._stack.append(RestoreScope(fiber.scope))
    fiber.scope = node.scope
    return node.effect


class RestoreScope:
    """After `scope.extend(effect)`: the scope that was current before."""

    __slots__ = ("old",)
    _op: Final = op.RESTORE_SCOPE

    def __init__(self, old: object) -> None:
        self.old = old


@on_value(op.RESTORE_SCOPE)
def restore_scope(fiber: FiberRuntime, frame: RestoreScope, value: object) -> None:
    fiber.scope = frame.old


@on_cause(op.RESTORE_SCOPE)
def restore_scope_failing(fiber: FiberRuntime, frame: RestoreScope, cause: object) -> None:
    fiber.scope = frame.old
