"""`Semaphore`: a fixed number of permits that bound how many fibers do something at once.

`with_permits(n)(effect)` takes `n` permits (waiting for them), runs `effect`, and
gives them back however the effect ended: success, failure, defect or interruption.
Waiters are served first come, first served: a later, smaller request does not
overtake an earlier, larger one. Interrupting a waiter never leaks a permit: permits
handed to a fiber that is interrupted before it runs go back to the semaphore.

Operations are atomic: fibers of one runtime run one at a time on one thread. (A
semaphore belongs to the fibers of one runtime.)

>>> from effectpy import Effect, run_sync
>>> from effectpy.concurrent import Semaphore
>>> def fetch(n: int) -> Effect[int]:
...     return Effect.sleep(0.001).as_(n * n)
>>> def fetch_all(sem: Semaphore) -> Effect[list[int]]:
...     return Effect.for_each(range(6), lambda n: sem.with_permit(fetch(n)), concurrency=6)
>>> run_sync(Semaphore.make(2).flat_map(fetch_all))
[0, 1, 4, 9, 16, 25]
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final, Never, TypeVar, final

from ..effect import Effect, Restore
from ._waiting import Resume, guarded_wait

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")

__all__ = ["Semaphore", "WithPermits"]

_UNIT: Final[Effect[None]] = Effect.unit()


class _Waiter:
    """A fiber waiting for `n` permits, and whether they were handed to it."""

    __slots__ = ("handed", "n", "resume")

    def __init__(self, n: int) -> None:
        self.n = n
        self.handed = False
        self.resume: Resume[None, Never] | None = None


@final
class Semaphore:
    """A set of `permits` permits; `available()` of them are free."""

    __slots__ = ("_available", "_permits", "_waiters")

    def __init__(self, permits: int) -> None:
        _check_permits(permits)
        self._permits = permits
        self._available = permits
        self._waiters: OrderedDict[_Waiter, None] = OrderedDict()

    def __repr__(self) -> str:
        return (
            f"Semaphore(permits={self._permits}, available={self._available}, "
            f"waiters={len(self._waiters)})"
        )

    @staticmethod
    def make(permits: int) -> Effect[Semaphore]:
        """An effect that makes a semaphore with `permits` permits (a positive int;
        anything else is a `ValueError`).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(3))
        Semaphore(permits=3, available=3, waiters=0)
        """
        _check_permits(permits)
        return Effect.sync(lambda: Semaphore(permits))

    @property
    def permits(self) -> int:
        """The total number of permits.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(3)).permits
        3
        """
        return self._permits

    def with_permits(self, n: int) -> WithPermits:
        """A function that runs an effect holding `n` permits: it waits for them
        (interruptibly), runs the effect, and releases them however it ended. `n`
        above the total permits is a `ValueError`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(3).flat_map(lambda sem: sem.with_permits(2)(sem.available())))
        1
        """
        self._check_n(n, "Semaphore.with_permits")
        return WithPermits(self, n)

    def with_permit(self, effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """Run `effect` holding one permit: `with_permits(1)(effect)`.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(1).flat_map(
        ...     lambda sem: sem.with_permit(Effect.succeed("alone"))))
        'alone'
        """
        return Semaphore._holding(self, 1, effect)

    @staticmethod
    def _holding(semaphore: Semaphore, n: int, effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """`effect`, run holding `n` permits (taken interruptibly, always given back)."""
        if n == 0:
            return effect
        release = Effect.sync(lambda: semaphore._give(n))

        def run(restore: Restore) -> Effect[A, E, R]:
            return semaphore._acquire(n, restore).and_then(restore(effect).ensuring(release))

        return Effect.uninterruptible_mask(run)

    def take(self, n: int = 1) -> Effect[None]:
        """Take `n` permits, waiting until they are free (interruptibly; an interrupted
        `take` holds none). Pair it with `release`, or prefer `with_permits`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(3).flat_map(lambda sem: sem.take(2).and_then(sem.available())))
        1
        """
        self._check_n(n, "Semaphore.take")
        if n == 0:
            return _UNIT
        return Effect.uninterruptible_mask(lambda restore: self._acquire(n, restore))

    def release(self, n: int = 1) -> Effect[None]:
        """Give back `n` permits, waking waiters in order. Releasing more permits than
        are taken is a defect (`ValueError`).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(2).flat_map(
        ...     lambda s: s.take(2).and_then(s.release(1)).and_then(s.available())))
        1
        """
        self._check_n(n, "Semaphore.release")

        def release() -> None:
            taken = self._permits - self._available
            if n > taken:
                raise ValueError(
                    f"Semaphore.release: {n} permits released, but only {taken} are taken"
                )
            self._give(n)

        return Effect.sync(release)

    def available(self) -> Effect[int]:
        """How many permits are free now.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Semaphore
        >>> run_sync(Semaphore.make(4).flat_map(lambda sem: sem.available()))
        4
        """
        return Effect.sync(lambda: self._available)

    # -- machinery -----------------------------------------------------------------

    def _check_n(self, n: object, what: str) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{what}: the number of permits must be an int, got {n!r}")
        if n < 0 or n > self._permits:
            raise ValueError(
                f"{what}: asked for {n} permits, but the semaphore has {self._permits} in all"
            )

    def _acquire(self, n: int, restore: Restore) -> Effect[None]:
        """Take `n` permits; call it inside `uninterruptible_mask` (the wait itself runs
        under `restore`)."""
        waiter = _Waiter(n)

        def register(resume: Resume[None, Never]) -> Effect[None] | None:
            waiter.resume = resume
            if not self._waiters and self._available >= n:
                self._available -= n
                waiter.handed = True
                resume(_UNIT)
                return None
            self._waiters[waiter] = None
            return Effect.sync(lambda: self._forget(waiter))

        def give_back() -> None:
            if waiter.handed:
                waiter.handed = False
                self._give(n)

        return guarded_wait(register, give_back, restore)

    def _forget(self, waiter: _Waiter) -> None:
        """An interrupted waiter leaves the line; those behind it may now fit."""
        if waiter in self._waiters:
            del self._waiters[waiter]
            self._wake()

    def _give(self, n: int) -> None:
        self._available += n
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = next(iter(waiters))
            if waiter.n > self._available:
                return
            del waiters[waiter]
            self._available -= waiter.n
            waiter.handed = True
            assert waiter.resume is not None
            waiter.resume(_UNIT)


@final
class WithPermits:
    """What `Semaphore.with_permits(n)` returns: call it on an effect to run that effect
    holding `n` permits. It fits in `pipe`: `effect.pipe(sem.with_permits(2))`.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.concurrent import Semaphore
    >>> run_sync(Semaphore.make(2).flat_map(
    ...     lambda sem: Effect.succeed(1).pipe(sem.with_permits(2))))
    1
    """

    __slots__ = ("_n", "_semaphore")

    def __init__(self, semaphore: Semaphore, n: int) -> None:
        self._semaphore = semaphore
        self._n = n

    def __repr__(self) -> str:
        return f"{self._semaphore!r}.with_permits({self._n})"

    def __call__(self, effect: Effect[A, E, R], /) -> Effect[A, E, R]:
        # WithPermits is a view of its semaphore, defined beside it.
        return Semaphore._holding(self._semaphore, self._n, effect)  # noqa: SLF001


def _check_permits(permits: object) -> None:
    if isinstance(permits, bool) or not isinstance(permits, int) or permits < 1:
        raise ValueError(f"Semaphore.make: permits must be a positive int, got {permits!r}")
