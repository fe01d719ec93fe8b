"""`Deferred[A, E]`: a value that is set once and awaited by any number of fibers.

A deferred starts empty. `await_()` waits until it is completed; the first completion
(`succeed`, `fail`, `done`, `complete`...) wins and wakes every waiter, later ones
return False and change nothing. A waiter that is interrupted leaves the waiter list.

The type arguments say what it will hold: `Deferred[int, str].make()` makes one that
succeeds with an `int` or fails with a `str`; `Deferred[int].make()` cannot fail.

>>> from effectpy import Do, Effect, gen, run_sync
>>> from effectpy.concurrent import Deferred
>>> @gen
... def handshake() -> Do[str]:
...     ready = yield from Deferred[str].make()
...     waiter = yield from ready.await_().map(lambda msg: f"got {msg}").fork()
...     yield from ready.succeed("hello")
...     return (yield from waiter.join())
>>> run_sync(handshake())
'got hello'
"""

from __future__ import annotations

from typing import Generic, Never, final

from typing_extensions import TypeVar

from .._core.cause import Cause
from .._core.exit import Exit, Failure, Success
from ..effect import Effect, Restore
from ._waiting import Resume

A = TypeVar("A")
E = TypeVar("E", default=Never)
R = TypeVar("R")

__all__ = ["Deferred"]


@final
class Deferred(Generic[A, E]):
    """A one-shot cell: empty until completed with an `Exit`, then fixed forever.

    Operations are atomic: fibers of one runtime run one at a time on one thread. (A
    `Deferred` belongs to the fibers of one runtime.)
    """

    __slots__ = ("_exit", "_waiters")

    def __init__(self) -> None:
        self._exit: Exit[A, E] | None = None
        self._waiters: dict[object, Resume[A, E]] = {}

    def __repr__(self) -> str:
        if self._exit is not None:
            return f"Deferred(done={self._exit!r})"
        return f"Deferred(pending, waiters={len(self._waiters)})"

    @classmethod
    def make(cls) -> Effect[Deferred[A, E]]:
        """An effect that makes a new, empty deferred. Give the types:
        `Deferred[int, str].make()`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[int, str].make())
        Deferred(pending, waiters=0)
        """
        return Effect.sync(cls)

    # -- completing ----------------------------------------------------------------

    def succeed(self, value: A) -> Effect[bool]:
        """Complete with `value`; False if it was already completed.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[int].make().flat_map(lambda d: d.succeed(1).zip(d.succeed(2))))
        (True, False)
        """
        return self.done(Success(value))

    def fail(self, error: E) -> Effect[bool]:
        """Complete with the typed error `error`; False if it was already completed.

        >>> from effectpy import run_sync_exit
        >>> from effectpy.concurrent import Deferred
        >>> run_sync_exit(Deferred[int, str].make().flat_map(
        ...     lambda d: d.fail("no").and_then(d.await_())))
        Failure(cause=Fail(error='no'))
        """
        return self.done(Failure(Cause.fail(error)))

    def fail_cause(self, cause: Cause[E]) -> Effect[bool]:
        """Complete with the failure `cause`; False if it was already completed.

        >>> from effectpy import Cause, run_sync_exit
        >>> from effectpy.concurrent import Deferred
        >>> boom = Cause.die(RuntimeError("boom"))
        >>> run_sync_exit(Deferred[int].make().flat_map(
        ...     lambda d: d.fail_cause(boom).and_then(d.await_())))
        Failure(cause=Die(defect=RuntimeError('boom')))
        """
        return self.done(Failure(cause))

    def done(self, exit: Exit[A, E]) -> Effect[bool]:
        """Complete with `exit`, waking every waiter; False if already completed.

        >>> from effectpy import Exit, run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[int].make().flat_map(
        ...     lambda d: d.done(Exit.succeed(3)).and_then(d.await_())))
        3
        """
        if not isinstance(exit, Exit):
            raise TypeError(f"Deferred.done expects an Exit, got {type(exit).__name__}")
        return Effect.sync(lambda: self._complete(exit))

    def complete(self, effect: Effect[A, E, R]) -> Effect[bool, Never, R]:
        """Run `effect` and complete with its exit (an interruption of `effect` too);
        False if the deferred was completed meanwhile.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[int].make().flat_map(
        ...     lambda d: d.complete(Effect.succeed(6).map(lambda n: n * 7)).and_then(d.await_())))
        42
        """

        def run(restore: Restore) -> Effect[bool, Never, R]:
            return restore(effect).exit().map(self._complete)

        return Effect.uninterruptible_mask(run)

    # -- reading -------------------------------------------------------------------

    def await_(self) -> Effect[A, E]:
        """Wait until completed; succeed with the value or fail with the error.
        Interruptible: an interrupted waiter is removed from the waiter list.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[str].make().flat_map(
        ...     lambda d: d.succeed("ready").fork().and_then(d.await_())))
        'ready'
        """
        return Effect.async_(self._register)

    def poll(self) -> Effect[Exit[A, E] | None]:
        """The `Exit` it was completed with, or None if it is still empty (no waiting).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[int].make().flat_map(lambda d: d.poll()))
        """
        return Effect.sync(lambda: self._exit)

    def is_done(self) -> Effect[bool]:
        """Whether it has been completed.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Deferred
        >>> run_sync(Deferred[int].make().flat_map(lambda d: d.succeed(1).and_then(d.is_done())))
        True
        """
        return Effect.sync(lambda: self._exit is not None)

    # -- from plain code --------------------------------------------------------------

    def unsafe_done(self, exit: Exit[A, E]) -> bool:
        """Complete it now with `exit`, outside any effect (from a callback of the
        same runtime, say); False if it was already done. Waiting fibers resume.

        >>> from effectpy import Exit
        >>> from effectpy.concurrent import Deferred
        >>> cell = Deferred[int, str]()
        >>> cell.unsafe_done(Exit.succeed(1)), cell.unsafe_done(Exit.succeed(2))
        (True, False)
        >>> cell.unsafe_poll()
        Success(value=1)
        """
        return self._complete(exit)

    def unsafe_poll(self) -> Exit[A, E] | None:
        """Its `Exit` now if it is done, else None (what `poll()` gives, outside an effect)."""
        return self._exit

    @property
    def waiting(self) -> int:
        """How many fibers wait for it now."""
        return len(self._waiters)

    # -- machinery -----------------------------------------------------------------

    def _complete(self, exit: Exit[A, E]) -> bool:
        if self._exit is not None:
            return False
        self._exit = exit
        effect = _from_exit(exit)
        waiters = self._waiters
        self._waiters = {}
        for resume in waiters.values():
            resume(effect)
        return True

    def _register(self, resume: Resume[A, E]) -> Effect[None] | None:
        if self._exit is not None:
            resume(_from_exit(self._exit))
            return None
        key = object()
        self._waiters[key] = resume
        return Effect.sync(lambda: self._remove(key))

    def _remove(self, key: object) -> None:
        self._waiters.pop(key, None)


def _from_exit(exit: Exit[A, E]) -> Effect[A, E]:
    if isinstance(exit, Success):
        return Effect.succeed(exit.value)
    assert isinstance(exit, Failure)
    return Effect.fail_cause(exit.cause)
