"""Latches: gates that fibers wait at until they open, once and for all.

`Latch` opens when some fiber calls `open()`. `CountDownLatch.make(n)` opens after
`count_down()` was called `n` times. Either way every waiter wakes, and a fiber that
awaits an open latch goes straight through. Waiting is interruptible; an interrupted
waiter leaves the waiter list.

>>> from effectpy import Do, Effect, gen, run_sync
>>> from effectpy.concurrent import CountDownLatch
>>> @gen
... def workers() -> Do[str]:
...     all_ready = yield from CountDownLatch.make(3)
...     yield from Effect.for_each(range(3), lambda _: all_ready.count_down().fork())
...     yield from all_ready.await_()
...     return "all three checked in"
>>> run_sync(workers())
'all three checked in'
"""

from __future__ import annotations

from typing import final

from .._core.exit import Exit
from ..effect import Effect
from .deferred import Deferred

__all__ = ["CountDownLatch", "Latch"]


@final
class Latch:
    """A gate, closed until `open()`; then every waiter (and later one) goes through."""

    __slots__ = ("_deferred",)

    def __init__(self) -> None:
        self._deferred = Deferred[None]()

    def __repr__(self) -> str:
        deferred = self._deferred
        if deferred.unsafe_poll() is not None:
            return "Latch(open)"
        return f"Latch(closed, waiters={deferred.waiting})"

    @staticmethod
    def make() -> Effect[Latch]:
        """An effect that makes a new, closed latch.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Latch
        >>> run_sync(Latch.make())
        Latch(closed, waiters=0)
        """
        return Effect.sync(Latch)

    def open(self) -> Effect[None]:
        """Open the latch, waking every waiter (opening twice does nothing more).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Latch
        >>> run_sync(Latch.make().flat_map(lambda latch: latch.open().as_(latch)))
        Latch(open)
        """
        return self._deferred.succeed(None).as_unit()

    def await_(self) -> Effect[None]:
        """Wait until the latch is open (at once if it is).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Latch
        >>> run_sync(Latch.make().flat_map(
        ...     lambda latch: latch.open().fork().and_then(latch.await_()).as_("through")))
        'through'
        """
        return self._deferred.await_()

    def is_open(self) -> Effect[bool]:
        """Whether the latch is open.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Latch
        >>> run_sync(Latch.make().flat_map(lambda latch: latch.is_open()))
        False
        """
        return self._deferred.is_done()


@final
class CountDownLatch:
    """A gate that opens when its count, starting at `n`, has been counted down to 0."""

    __slots__ = ("_count", "_opened")

    def __init__(self, n: int) -> None:
        _check_count(n)
        self._count = n
        self._opened = Deferred[None]()
        if n == 0:
            self._opened.unsafe_done(Exit.succeed(None))

    def __repr__(self) -> str:
        return f"CountDownLatch(count={self._count})"

    @staticmethod
    def make(n: int) -> Effect[CountDownLatch]:
        """An effect that makes a latch opening after `n` count-downs (`n` is an int
        of at least 0, else a `ValueError`; 0 makes an open latch).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import CountDownLatch
        >>> run_sync(CountDownLatch.make(2))
        CountDownLatch(count=2)
        """
        _check_count(n)
        return Effect.sync(lambda: CountDownLatch(n))

    def count_down(self) -> Effect[None]:
        """Lower the count by one; at 0 the latch opens. Below 0 it does not go.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import CountDownLatch
        >>> run_sync(CountDownLatch.make(1).flat_map(
        ...     lambda latch: latch.count_down().and_then(latch.count())))
        0
        """

        def count_down() -> None:
            if self._count > 0:
                self._count -= 1
                if self._count == 0:
                    self._opened.unsafe_done(Exit.succeed(None))

        return Effect.sync(count_down)

    def await_(self) -> Effect[None]:
        """Wait until the count reaches 0 (at once if it has).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import CountDownLatch
        >>> run_sync(CountDownLatch.make(0).flat_map(lambda latch: latch.await_().as_("open")))
        'open'
        """
        return self._opened.await_()

    def count(self) -> Effect[int]:
        """The count still to go.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import CountDownLatch
        >>> run_sync(CountDownLatch.make(3).flat_map(lambda latch: latch.count()))
        3
        """
        return Effect.sync(lambda: self._count)


def _check_count(n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"CountDownLatch.make: n must be an int of at least 0, got {n!r}")
