"""Scopes and resources: what `Effect.scoped`, `acquire_release`,
`acquire_use_release`, `add_finalizer`, `Scope.make`, `scope.extend` and
`scope.close` do, and the frames they push.

    SCOPED            open a sequential scope, make it current, push it (a scope is its
                      own SCOPE_EXIT frame), run the body
    ACQUIRE_RELEASE   acquire uninterruptibly (a sync acquire is one atomic step: it
                      runs at once), then register `(release, resource)` in the scope
    BRACKET           acquire uninterruptibly, then `use` (as interruptible as the
                      fiber was) guarded by a release frame, an ON_EXIT
    ADD_FINALIZER     register in the scope; a closed scope runs it at once
    CLOSE_SCOPE       run the scope's finalizers (a parallel scope: all at once)
    MAKE_SCOPE        a new open scope owned by the fiber (`Scope.make`)
    WITH_SCOPE        make a scope current, restored after (`scope.extend`)

A closing scope runs its finalizers newest first (`finalize_next`): one whose effect is
a `SYNC` node is called at once (a thunk is atomic: nothing to shield it from); at the
first other one the fiber becomes uninterruptible and a FINALIZING frame waits for it,
then runs the rest. Failures of finalizers are kept and joined, in order, after the
cause the scope closed with. A finalizer is decoded in one place, `_core.scope.finalize`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final

from .._core import opcodes as op
from .._core.cause import Cause, Die
from .._core.exit import Exit, Failure, Success
from .._core.scope import NO_SCOPE, Finalizer, begin_close, finalize, init_scope, init_state, keys
from ..scope import CloseableScope, ExecutionStrategy
from .frames import (
    REVERT_TO_INTERRUPTIBLE,
    REVERT_TO_UNINTERRUPTIBLE,
    UNIT_EXIT,
    UNIT_NODE,
    FailNode,
    ResultFrame,
    SucceedNode,
    UninterruptibleNode,
)
from .loop import FiberRuntime, as_defect, expect_effect, handles, on_cause, on_value

_new = object.__new__
_SEQUENTIAL: Final = ExecutionStrategy.sequential
_MISSING: Final = object()


def _maker(finalizer: Finalizer) -> object:
    """The user's function behind `finalizer`, to name in an error."""
    return finalizer[0] if type(finalizer) is tuple else finalizer


class Finalizing:
    """Runs a closing scope's finalizers one by one (sequential strategy), each given
    `exit`; failures are collected in `cause`. Then the fiber goes on as `then` says:
    with its value, or failing with its cause followed by the finalizers' ones."""

    __slots__ = ("cause", "exit", "finalizers", "index", "then")
    _op: Final = op.FINALIZING

    def __init__(
        self, finalizers: list[Finalizer], exit: Exit[Any, Any], then: Exit[Any, Any]
    ) -> None:
        self.finalizers = finalizers
        self.index = 0
        self.exit = exit
        self.then = then
        self.cause: Cause[Any] | None = None


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


@handles(op.SCOPED)
def run_scoped(fiber: FiberRuntime, node: Any) -> Any:
    scope: Any = _new(CloseableScope)
    init_state(scope, _SEQUENTIAL, None, True)
    scope._owner = fiber
    scope._outer = fiber.scope
    fiber.scope = scope
    fiber._stack.append(scope)  # a scope is its own SCOPE_EXIT frame
    return node.effect


@handles(op.ACQUIRE_RELEASE)
def run_acquire_release(fiber: FiberRuntime, node: Any) -> Any:
    scope = fiber.scope
    if scope is None:
        raise LookupError(NO_SCOPE)
    acquire = node.acquire
    if acquire._op is op.SYNC and scope._exit is None:
        # A sync acquire is one atomic step: no region to enter.
        resource = acquire.thunk()
        scope._finalizers[next(keys)] = (node.release, resource)
        return UNIT_NODE if resource is None else SucceedNode(resource)
    if fiber._interruptible:  # the node is its own frame, above the way back
        fiber._stack.append(REVERT_TO_INTERRUPTIBLE)
        fiber._interruptible = False
    fiber._stack.append(node)
    return acquire


@on_value(op.ACQUIRE_RELEASE)
def acquired_release(fiber: FiberRuntime, node: Any, resource: object) -> Any:
    """Acquired: register the release (or, the scope closed meanwhile by another
    fiber, release at once)."""
    scope = fiber.scope
    if scope._exit is None:
        scope._finalizers[next(keys)] = (node.release, resource)
        return None
    fiber._stack.append(ResultFrame(resource))
    return expect_effect(node.release(resource, scope._exit), node.release)


@handles(op.BRACKET)
def run_bracket(fiber: FiberRuntime, node: Any) -> Any:
    acquire = node.acquire
    if acquire._op is op.SYNC:  # one atomic step: no region to enter
        return _use(fiber, node, acquire.thunk())
    stack = fiber._stack
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


def _use(fiber: FiberRuntime, node: Any, resource: object) -> Any:
    fiber._stack.append(release_frame(node.release, resource))
    return expect_effect(node.use(resource), node.use)


@handles(op.ADD_FINALIZER)
def run_add_finalizer(fiber: FiberRuntime, node: Any) -> Any:
    scope = node.scope
    if scope._exit is None:
        scope._finalizers[next(keys)] = node.entry
        return UNIT_NODE
    entry = node.entry  # a closed scope: run it now
    effect = expect_effect(finalize(entry, scope._exit), _maker(entry))
    fiber.enter_finalizer(ResultFrame(None))
    return effect


@handles(op.CLOSE_SCOPE)
def run_close_scope(fiber: FiberRuntime, node: Any) -> Any:
    scope = node.scope
    exit = node.scope_exit
    finalizers = begin_close(scope, exit)
    if not finalizers:
        return UNIT_NODE
    if not scope._sequential:
        return UninterruptibleNode(scope.run_in_parallel(finalizers, exit))
    return finalize_resume(fiber, Finalizing(finalizers, exit, UNIT_EXIT))


@handles(op.MAKE_SCOPE)
def run_make_scope(fiber: FiberRuntime, node: Any) -> Any:
    scope = _new(node.scope_class)
    init_scope(scope, node.strategy, node.name, node.sequential)
    scope._owner = fiber
    return SucceedNode(scope)


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


# -- closing scopes ----------------------------------------------------------------------


@on_value(op.SCOPE_EXIT)
def scope_succeeded(fiber: FiberRuntime, scope: Any, value: object) -> Any:
    """The body of `Effect.scoped` succeeded: close its scope, then go on with `value`
    (None: go on at once)."""
    fiber.scope = scope._outer
    exit = Success(value)
    registered = scope._finalizers
    if len(registered) == 1 and scope._exit is None:  # the common case: one finalizer
        scope._exit = exit
        entry = registered.popitem()[1]
        effect = expect_effect(finalize(entry, exit), _maker(entry))
        if effect._op is op.SYNC:  # atomic: no region to enter
            effect.thunk()
            return None
        fiber.enter_finalizer(ResultFrame(value))
        return effect
    finalizers = begin_close(scope, exit)
    if not finalizers:
        return None
    effect = finalize_next(fiber, Finalizing(finalizers, exit, exit))
    return effect


@on_cause(op.SCOPE_EXIT)
def scope_failed(fiber: FiberRuntime, scope: Any, cause: Cause[Any]) -> Any:
    fiber.scope = scope._outer
    exit = Failure(cause)
    finalizers = begin_close(scope, exit)
    if not finalizers:
        return None
    return finalize_resume(fiber, Finalizing(finalizers, exit, exit))


@on_value(op.FINALIZING)
def finalizer_done(fiber: FiberRuntime, frame: Finalizing, value: object) -> Any:
    return finalize_resume(fiber, frame)


@on_cause(op.FINALIZING)
def finalizer_failed(fiber: FiberRuntime, frame: Finalizing, cause: Cause[Any]) -> Any:
    before = frame.cause
    frame.cause = cause if before is None else Cause.sequential(before, cause)
    return finalize_resume(fiber, frame)


def finalize_next(fiber: FiberRuntime, frame: Finalizing) -> Any:
    """Run the next finalizers of a closing scope. A sync one runs at once; any other
    is the effect to evaluate next, with the frame back on the stack and the fiber
    uninterruptible until the last has run. When all have run: None to go on with the
    value of `frame.then` (a success, no finalizer failed), else the effect that fails."""
    finalizers = frame.finalizers
    exit = frame.exit
    count = len(finalizers)
    for index in range(frame.index, count):
        finalizer = finalizers[index]
        effect: Any = _MISSING
        try:
            effect = finalize(finalizer, exit)
            if effect._op is not op.SYNC:
                frame.index = index + 1
                fiber.enter_finalizer(frame)
                return effect
            effect.thunk()
        except (KeyboardInterrupt, SystemExit):
            frame.index = index + 1  # the others still run, as the fiber unwinds
            fiber.enter_finalizer(frame)
            raise
        except BaseException as exc:
            named = _maker(finalizer)
            failed = Die(exc if effect is _MISSING else as_defect(exc, effect, named))
            before = frame.cause
            frame.cause = failed if before is None else Cause.sequential(before, failed)
    frame.index = count
    then = frame.then
    cause = frame.cause
    if cause is None:
        if type(then) is Success:
            return None
        return FailNode(then.cause)  # type: ignore[attr-defined]  # a Failure
    if type(then) is Failure:
        cause = Cause.sequential(then.cause, cause)
    return FailNode(cause)


def finalize_resume(fiber: FiberRuntime, frame: Finalizing) -> Any:
    """`finalize_next`, as an effect to evaluate in every case."""
    effect = finalize_next(fiber, frame)
    if effect is None:
        value = frame.then.value  # type: ignore[attr-defined]  # a Success
        return UNIT_NODE if value is None else SucceedNode(value)
    return effect
