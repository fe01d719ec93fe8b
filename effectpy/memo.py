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

from collections.abc import Callable, Hashable
from typing import ParamSpec, TypeVar, final

from ._core.clock import check_duration
from ._interpreter.sharing import Flights, Memo
from .effect import Effect

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")
P = ParamSpec("P")

__all__ = ["Singleflight", "cached", "cached_function", "cached_with_ttl", "dedupe"]


@final
class Singleflight(Flights):
    """A registry of in-flight executions, by key.

    >>> from effectpy import Effect, Singleflight, run_sync
    >>> flights = Singleflight()
    >>> run_sync(flights.run("k", Effect.succeed(1)))
    1
    """

    __slots__ = ()


def dedupe(key: Hashable, effect: Effect[A, E, R]) -> Effect[A, E, R]:
    """`Effect.dedupe`: share one execution of `effect` among concurrent runs under
    `key` (within one runtime)."""
    return Effect.dedupe(key, effect)


def cached(effect: Effect[A, E, R]) -> Effect[Effect[A, E, R]]:
    """`Effect.cached`: an effect that makes a memoized version of `effect`: the first
    run computes (concurrent first runs share it), later runs give the same exit."""
    return Effect.cached(effect)


def cached_with_ttl(effect: Effect[A, E, R], ttl: float) -> Effect[Effect[A, E, R]]:
    """`Effect.cached_with_ttl`: like `cached`, but the kept exit expires `ttl`
    seconds after it was computed (on the fiber's clock); the next run recomputes."""
    return Effect.cached_with_ttl(effect, ttl)


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
    memos: dict[Hashable, Memo[A, E, R]] = {}

    def call(*args: P.args, **kwargs: P.kwargs) -> Effect[A, E, R]:
        k = key(*args, **kwargs) if key is not None else (args, tuple(sorted(kwargs.items())))
        memo = memos.get(k)
        if memo is None:
            memo = memos[k] = Memo(Effect.suspend(lambda: f(*args, **kwargs)), seconds, False)
        return memo.get()

    return call
