"""Running a closing scope's finalizers (the FINALIZING frame).

A closing scope runs its finalizers newest first (`finalize_next`): one whose effect is
a `SYNC` node is called at once (a thunk is atomic: nothing to shield it from); at the
first other one the fiber becomes uninterruptible and a FINALIZING frame waits for it,
then runs the rest. Failures of finalizers are kept and joined, in order, after the
cause the scope closed with. A finalizer is decoded by `_core.scope.finalize`, and,
inline, by the two hot paths: `finalize_next` here (the call costs 3% of ScopeOpenClose)
and the loop's scope with one finalizer (3% of AcquireRelease).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._core import opcodes as op
from .._core.cause import Cause, Die
from .._core.exit import Exit, Failure, Success, failure_of
from .._core.scope import Finalizer, begin_close
from .defects import as_defect
from .frames import UNIT_NODE, FailNode, SucceedNode

if TYPE_CHECKING:
    from .loop import FiberRuntime

_MISSING: Final = object()
_SYNC: Final = op.SYNC


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


def close_scope(fiber: FiberRuntime, scope: Any, exit: Exit[Any, Any]) -> Any:
    """Close `scope` with `exit` (unless closed already) and run its finalizers: None
    when all ran and none failed (go on as `exit` says), else the effect to evaluate."""
    finalizers = begin_close(scope, exit)
    if not finalizers:
        return None if type(exit) is Success else FailNode(exit.cause)  # type: ignore[attr-defined]
    return finalize_next(fiber, Finalizing(finalizers, exit, exit))


def scope_failed(fiber: FiberRuntime, scope: Any, cause: Cause[Any]) -> Any:
    """A failure unwinds through `Effect.scoped`'s scope: close it with it. The effect
    to evaluate next, or None to go on unwinding."""
    fiber.scope = scope._outer
    exit = failure_of(cause)
    finalizers = begin_close(scope, exit)
    if not finalizers:
        return None
    return finalize_resume(fiber, Finalizing(finalizers, exit, exit))


def finalizer_failed(fiber: FiberRuntime, frame: Finalizing, cause: Cause[Any]) -> Any:
    """A finalizer run as an effect failed: keep its cause, run the next ones."""
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
            if type(finalizer) is tuple:  # `finalize`, inline: 3% of ScopeOpenClose
                release = finalizer[0]
                effect = finalizer[1] if release is None else release(finalizer[1], exit)
            else:
                effect = finalizer(exit)  # type: ignore[operator]  # not a tuple: the callable
            if effect._op is not _SYNC:
                frame.index = index + 1
                fiber.enter_finalizer(frame, finalizer)
                return effect
            effect.thunk()
        except (KeyboardInterrupt, SystemExit):
            frame.index = index + 1  # the others still run, as the fiber unwinds
            fiber.enter_finalizer(frame)
            raise
        except BaseException as exc:
            named = finalizer
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
