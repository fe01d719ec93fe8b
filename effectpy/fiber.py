"""Fibers: handles on running effects.

`effect.fork()` starts a child fiber and gives its `Fiber[A, E]`: `join()` waits for
its value (re-raising its failure), `await_()` for its `Exit`, `interrupt()` stops it
and waits until it has fully terminated, finalizers included.

>>> from effectpy import Effect, run_sync
>>> def program() -> Effect[int]:
...     return Effect.succeed(20).fork().flat_map(lambda fiber: fiber.join()).map(lambda n: n * 2)
>>> run_sync(program())
40
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

from ._core.exit import Exit, Failure, Success
from ._core.ids import FiberId, Manual
from .effect import Effect, _Join
from .effect import _with_fiber as with_fiber

if TYPE_CHECKING:
    from ._interpreter.loop import FiberRuntime

A_co = TypeVar("A_co", covariant=True)
E_co = TypeVar("E_co", covariant=True)
A = TypeVar("A")
E = TypeVar("E")

__all__ = ["Fiber", "FiberId"]


def _on_fiber_thread(target: FiberRuntime, action: Callable[[], None]) -> None:
    """Run `action` on `target`'s scheduler thread (at once if that is this thread)."""
    if target.scheduler.on_scheduler_thread():
        action()
    else:
        target.scheduler.call_threadsafe(action)


@final
class Fiber(Generic[A_co, E_co]):
    """A running (or finished) effect that succeeds with `A` or fails with `E`."""

    __slots__ = ("_runtime",)
    _runtime: FiberRuntime
    # No `__init__`: the loop makes one per `fork` with a bare class call (the cheapest
    # way to make an object); elsewhere, `Fiber.of(runtime)`.

    @staticmethod
    def of(runtime: FiberRuntime) -> Fiber[Any, Any]:
        """The handle on the fiber `runtime` runs (for the library's own use)."""
        fiber: Fiber[Any, Any] = Fiber()
        fiber._runtime = runtime
        return fiber

    @property
    def id(self) -> FiberId:
        """The fiber's id (its name shows too, if it was `named`)."""
        return self._runtime.id

    @property
    def runtime(self) -> FiberRuntime:
        """The interpreter's fiber behind this handle (what `debug_nodes` and scopes
        look at)."""
        return self._runtime

    def await_(self) -> Effect[Exit[A_co, E_co]]:
        """Wait for the fiber to end; succeed with its `Exit`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail("x").fork().flat_map(lambda f: f.await_()))
        Failure(cause=Fail(error='x'))
        """
        return Effect.suspend(self._await_now)

    def _await_now(self) -> Effect[Exit[A_co, E_co]]:
        exit: Exit[A_co, E_co] | None = self._runtime.exit
        if exit is not None:  # already over: no need to park
            return Effect.succeed(exit)
        return Effect.async_(_Awaiter(self._runtime).register)

    def join(self) -> Effect[A_co, E_co]:
        """Wait for the fiber; succeed with its value or fail with its cause.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed("done").fork().flat_map(lambda f: f.join()))
        'done'
        """
        node = _Join()
        node.fiber = self
        node.runtime = self._runtime
        return node

    def _join_now(self) -> Effect[A_co, E_co]:
        exit: Exit[A_co, E_co] | None = self._runtime.exit
        if exit is not None:
            return _from_exit(exit)
        return Effect.async_(_Awaiter(self._runtime).register).flat_map(_from_exit)

    def interrupt(self) -> Effect[Exit[A_co, E_co]]:
        """Interrupt the fiber (reason `Manual`) and wait until it has terminated,
        finalizers included; succeed with its `Exit`.

        >>> from effectpy import Effect, run_sync
        >>> exit = run_sync(Effect.never().fork().flat_map(lambda f: f.interrupt()))
        >>> exit.cause.interruptions()[0].reason
        Manual()
        """
        return self.interrupt_fork().and_then(self.await_())

    def interrupt_fork(self) -> Effect[None]:
        """Ask the fiber to stop (reason `Manual`) without waiting for it.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.never().fork().flat_map(lambda f: f.interrupt_fork()))
        """
        runtime = self._runtime

        def send(me: FiberRuntime) -> Effect[None]:
            interruptor = me.id
            _on_fiber_thread(runtime, lambda: runtime.interrupt_as(interruptor, Manual()))
            return Effect.unit()

        return with_fiber(send)

    def poll(self) -> Effect[Exit[A_co, E_co] | None]:
        """The fiber's `Exit` if it has ended, else None (does not wait).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.never().fork().flat_map(lambda f: f.poll())) is None
        True
        """
        runtime = self._runtime
        return Effect.sync(lambda: runtime.exit)

    def children(self) -> Effect[list[Fiber[Any, Any]]]:
        """The fiber's children that are still running.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.never().fork().flat_map(lambda f: f.children()))
        []
        """
        runtime = self._runtime
        return Effect.sync(lambda: [Fiber.of(child) for child in runtime.children or ()])

    @staticmethod
    def await_all(fibers: Iterable[Fiber[A, E]]) -> Effect[list[Exit[A, E]]]:
        """Wait for every fiber; succeed with their exits in order.

        >>> from effectpy import Effect, Fiber, run_sync
        >>> forks = Effect.all(Effect.succeed(1).fork(), Effect.fail("x").fork())
        >>> exits = run_sync(forks.flat_map(lambda fs: Fiber.await_all(fs)))
        >>> [e.is_success() for e in exits]
        [True, False]
        """
        return Effect.for_each(list(fibers), lambda fiber: fiber.await_())

    def __repr__(self) -> str:
        return f"Fiber({self._runtime.id})"


class _Awaiter:
    """Parks a fiber until another fiber (maybe on another thread) ends."""

    __slots__ = ("_resume", "_target")

    def __init__(self, target: FiberRuntime) -> None:
        self._target = target
        self._resume: Callable[[Effect[Exit[Any, Any]]], None] | None = None

    def register(self, resume: Callable[[Effect[Exit[Any, Any]]], None]) -> Effect[None]:
        self._resume = resume
        self._target.add_observer_from_any_thread(self._ended)
        return Effect.sync(self._forget)

    def _ended(self, exit: Exit[Any, Any]) -> None:
        assert self._resume is not None
        self._resume(Effect.succeed(exit))

    def _forget(self) -> None:
        target = self._target
        _on_fiber_thread(target, lambda: target.remove_observer(self._ended))


def _from_exit(exit: Exit[A, E]) -> Effect[A, E]:
    if isinstance(exit, Success):
        return Effect.succeed(exit.value)
    assert isinstance(exit, Failure)
    return Effect.fail_cause(exit.cause)
