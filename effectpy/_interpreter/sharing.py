"""Sharing work (`Effect.dedupe`, `Effect.cached`): the DEDUPE and CACHED nodes.

Deduplication: concurrent runs under one key share one execution, in a daemon fiber of
its own (interruptible, whatever the region of the fiber that started it), so a caller
that is interrupted stops waiting without stopping it for the others; when the last
caller leaves, it is interrupted and waited for. Memoization keeps the exit (for ever,
or until a time-to-live has passed on the fiber's clock).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from .._core import opcodes as op
from .._core.clock import ClockService, clock_of
from .._core.exit import Exit, Failure, Success
from .._core.ids import Manual
from .._core.scheduler import Scheduler
from ..effect import Effect, Restore
from ..effect import _with_fiber as with_fiber
from ..fiber import Fiber
from .loop import FiberRuntime, handles, succeed_node

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")


class _Flight:
    __slots__ = ("runtime", "waiters")

    def __init__(self, runtime: FiberRuntime) -> None:
        self.runtime = runtime
        self.waiters = 0


class Flights:
    """A registry of in-flight executions, by key (`effectpy.Singleflight`)."""

    __slots__ = ("__weakref__", "_flights")

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight] = {}

    def in_flight(self) -> int:
        """How many keys have an execution running now."""
        return len(self._flights)

    def run(self, key: Hashable, effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """Run `effect`, or join the execution already running under `key`."""

        def join(restore: Restore, fiber: FiberRuntime) -> Effect[A, E, R]:
            flight = self._flights.get(key)
            if flight is None:
                runtime = fiber.fork_child(effect, daemon=True, interruptible=True)
                flight = _Flight(runtime)
                self._flights[key] = flight
                runtime.add_observer(self._on_landed(key, flight))
            flight.waiters += 1
            handle: Fiber[A, E] = Fiber.of(flight.runtime)
            # Counted and released in one uninterruptible step: only the wait itself
            # can be interrupted, and then `leave` gives the count back.
            return restore(handle.join()).on_exit(self._on_leave(fiber, flight))

        return Effect.uninterruptible_mask(
            lambda restore: with_fiber(lambda fiber: join(restore, fiber))
        )

    def _on_landed(self, key: Hashable, flight: _Flight) -> Callable[[Exit[Any, Any]], None]:
        def landed(_exit: Exit[Any, Any]) -> None:
            if self._flights.get(key) is flight:
                del self._flights[key]

        return landed

    def _on_leave(
        self, waiter: FiberRuntime, flight: _Flight
    ) -> Callable[[Exit[Any, Any]], Effect[None]]:
        def leave(_exit: Exit[Any, Any]) -> Effect[None]:
            flight.waiters -= 1
            if flight.waiters == 0 and flight.runtime.exit is None:
                # Nobody waits any more: stop the shared execution and wait for it.
                flight.runtime.interrupt_as(waiter.id, Manual())
                return Fiber.of(flight.runtime).await_().as_unit()
            return Effect.unit()

        return leave


class Memo(Generic[A, E, R]):
    """One memoized effect: the kept exit, when it expires, and the running flight."""

    __slots__ = ("_effect", "_exit", "_expires", "_flights", "_keep_failures", "_ttl")

    def __init__(self, effect: Effect[A, E, R], ttl: float | None, keep_failures: bool) -> None:
        self._effect = effect
        self._ttl = ttl
        self._keep_failures = keep_failures
        self._exit: Exit[A, E] | None = None
        self._expires = 0.0
        self._flights = Flights()

    def get(self) -> Effect[A, E, R]:
        def read(fiber: FiberRuntime) -> Effect[A, E, R]:
            clock = clock_of(fiber)
            exit = self._exit
            if exit is not None and (self._ttl is None or clock.now() < self._expires):
                return _from_exit(exit)
            computed = self._flights.run(None, self._effect.exit())
            return computed.flat_map(lambda result: self._store(clock, result))

        return with_fiber(read)

    def _store(self, clock: ClockService, exit: Exit[A, E]) -> Effect[A, E]:
        if isinstance(exit, Success) or self._keep_failures:
            self._exit = exit
            self._expires = clock.now() + (self._ttl or 0.0)
        return _from_exit(exit)


def _from_exit(exit: Exit[A, E]) -> Effect[A, E]:
    if isinstance(exit, Success):
        return Effect.succeed(exit.value)
    assert isinstance(exit, Failure)
    return Effect.fail_cause(exit.cause)


_defaults: weakref.WeakKeyDictionary[Scheduler, Flights] = weakref.WeakKeyDictionary()
"""`Effect.dedupe`'s registry, one per runtime."""


@handles(op.DEDUPE)
def run_dedupe(fiber: FiberRuntime, node: Any) -> Any:
    registry = _defaults.get(fiber.scheduler)
    if registry is None:
        registry = _defaults[fiber.scheduler] = Flights()
    return registry.run(node.key, node.effect)


@handles(op.CACHED)
def run_cached(fiber: FiberRuntime, node: Any) -> Any:
    return succeed_node(Memo(node.effect, node.ttl, keep_failures=True).get())
