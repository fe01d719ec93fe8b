"""Sharing work: deduplication (`Singleflight`, `Effect.dedupe`) and memoization
(`Effect.cached`, `Effect.cached_with_ttl`, `cached_function`).

Deduplication: concurrent runs of an effect under the same key share one execution and
its result (a failure too). The shared execution runs in a fiber of its own, so a
caller that is interrupted stops waiting without stopping it for the others; only when
every caller has gone is it interrupted.

Memoization: the result is kept and given again, for ever or until a time-to-live has
passed on the fiber's clock (so a `TestClock` drives expiry in tests).

>>> from effectpy import Effect, run_sync
>>> calls = []
>>> fetch = Effect.sync(lambda: calls.append(1) or "profile").delay(0.01)
>>> many = Effect.all(*[Effect.dedupe("user:1", fetch) for _ in range(5)], concurrency="unbounded")
>>> run_sync(many)
('profile', 'profile', 'profile', 'profile', 'profile')
>>> len(calls)
1
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeVar, final

from ._core.clock import ClockService, check_duration, clock_of
from ._core.exit import Exit, Failure, Success
from ._core.ids import Manual
from ._core.scheduler import Scheduler
from ._interpreter.loop import FiberRuntime
from .effect import Effect, Restore
from .effect import _with_fiber as with_fiber
from .fiber import Fiber

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")
P = ParamSpec("P")

__all__ = ["Singleflight", "cached", "cached_function", "cached_with_ttl", "dedupe"]


class _Flight:
    __slots__ = ("runtime", "waiters")

    def __init__(self, runtime: FiberRuntime) -> None:
        self.runtime = runtime
        self.waiters = 0


@final
class Singleflight:
    """A registry of in-flight executions, by key.

    >>> from effectpy import Effect, Singleflight, run_sync
    >>> flights = Singleflight()
    >>> run_sync(flights.run("k", Effect.succeed(1)))
    1
    """

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


_defaults: weakref.WeakKeyDictionary[Scheduler, Singleflight] = weakref.WeakKeyDictionary()


def dedupe(key: Hashable, effect: Effect[A, E, R]) -> Effect[A, E, R]:
    """`Effect.dedupe`: share one execution of `effect` among concurrent runs under
    `key` (within one runtime)."""

    def with_registry(fiber: FiberRuntime) -> Effect[A, E, R]:
        registry = _defaults.get(fiber.scheduler)
        if registry is None:
            registry = _defaults[fiber.scheduler] = Singleflight()
        return registry.run(key, effect)

    return with_fiber(with_registry)


class _Memo(Generic[A, E, R]):
    """One memoized effect: the kept exit, when it expires, and the running flight."""

    __slots__ = ("_effect", "_exit", "_expires", "_flights", "_keep_failures", "_ttl")

    def __init__(self, effect: Effect[A, E, R], ttl: float | None, keep_failures: bool) -> None:
        self._effect = effect
        self._ttl = ttl
        self._keep_failures = keep_failures
        self._exit: Exit[A, E] | None = None
        self._expires = 0.0
        self._flights = Singleflight()

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


def cached(effect: Effect[A, E, R]) -> Effect[Effect[A, E, R]]:
    """`Effect.cached`: an effect that makes a memoized version of `effect`: the first
    run computes (concurrent first runs share it), later runs give the same exit."""
    return Effect.sync(lambda: _Memo(effect, None, keep_failures=True).get())


def cached_with_ttl(effect: Effect[A, E, R], ttl: float) -> Effect[Effect[A, E, R]]:
    """`Effect.cached_with_ttl`: like `cached`, but the kept exit expires `ttl`
    seconds after it was computed (on the fiber's clock); the next run recomputes."""
    seconds = check_duration(ttl, "cached_with_ttl")
    return Effect.sync(lambda: _Memo(effect, seconds, keep_failures=True).get())


def cached_function(
    f: Callable[P, Effect[A, E, R]],
    *,
    ttl: float | None = None,
    key: Callable[P, Hashable] | None = None,
) -> Callable[P, Effect[A, E, R]]:
    """Memoize a function returning effects, per key (by default the arguments):
    concurrent calls with one key share one run; successes are kept (for `ttl`
    seconds if given), failures are not.

    >>> from effectpy import Effect, cached_function, run_sync
    >>> calls = []
    >>> def load(user_id: int) -> Effect[str]:
    ...     return Effect.sync(lambda: calls.append(user_id) or f"user {user_id}")
    >>> load_cached = cached_function(load)
    >>> run_sync(load_cached(1).zip(load_cached(1)).zip(load_cached(2)))
    (('user 1', 'user 1'), 'user 2')
    >>> calls
    [1, 2]
    """
    seconds = None if ttl is None else check_duration(ttl, "cached_function")
    memos: dict[Hashable, _Memo[A, E, R]] = {}

    def call(*args: P.args, **kwargs: P.kwargs) -> Effect[A, E, R]:
        k = key(*args, **kwargs) if key is not None else (args, tuple(sorted(kwargs.items())))
        memo = memos.get(k)
        if memo is None:
            memo = memos[k] = _Memo(Effect.suspend(lambda: f(*args, **kwargs)), seconds, False)
        return memo.get()

    return call
