"""`Queue[A]`: an asynchronous FIFO queue between fibers.

Four kinds, told apart by what `offer` does when the queue is full:

* `Queue.bounded(n)` waits until there is room (back-pressure);
* `Queue.dropping(n)` drops the new item and returns False;
* `Queue.sliding(n)` drops the oldest item to make room;
* `Queue.unbounded()` is never full.

`take()` waits for an item. Waiting takers are served first come, first served, and so
are waiting offerers. Interrupting a waiting `take` never loses an item: an item handed
to a taker that is interrupted before it runs goes back to the front of the queue.

`shutdown()` closes the queue: every fiber waiting in an operation, and every later
operation (`offer`, `take`, `poll`, `size`, ...), is interrupted (reason
`QueueShutdown`), as in Effect-TS and ZIO: workers stop as from any interruption, and a
shutdown is not a defect.

The type argument says what it holds: `Queue[int].bounded(10)`. Operations are atomic:
fibers of one runtime run one at a time on one thread. (A queue belongs to the fibers
of one runtime.)

>>> from effectpy import Do, Effect, gen, run_sync
>>> from effectpy.concurrent import Queue
>>> @gen
... def pipeline() -> Do[list[int]]:
...     queue = yield from Queue[int].bounded(2)
...     yield from Effect.for_each(range(5), queue.offer).fork()
...     return (yield from Effect.for_each(range(5), lambda _: queue.take()))
>>> run_sync(pipeline())
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Final, Generic, Never, TypeVar, cast, final

from .._core.cause import Cause
from .._core.ids import QueueShutdown
from ..effect import Effect, Restore
from ..effect import _with_fiber as with_fiber
from ._waiting import Resume, guarded_wait

A = TypeVar("A")
T = TypeVar("T")

__all__ = ["Queue", "QueueShutdown"]

_BOUNDED: Final = "bounded"
_DROPPING: Final = "dropping"
_SLIDING: Final = "sliding"
_UNBOUNDED: Final = "unbounded"

_TRUE: Final[Effect[bool]] = Effect.succeed(True)
_UNIT: Final[Effect[None]] = Effect.unit()


class _Taker(Generic[A]):
    """A fiber waiting in `take`, and the item it was handed (if any)."""

    __slots__ = ("handed", "item", "resume")

    def __init__(self) -> None:
        self.resume: Resume[A, Never] | None = None
        self.handed = False
        self.item: A = cast(A, None)

    def hand(self, item: A) -> None:
        """Give `item` to the taker: record the hand-off first, then wake it."""
        self.handed = True
        self.item = item
        assert self.resume is not None
        self.resume(Effect.succeed(item))


class _Offerer(Generic[A]):
    """A fiber waiting in `offer`/`offer_all` of a bounded queue, with the items that
    have not found room yet."""

    __slots__ = ("pending", "resume", "what")

    def __init__(self, pending: deque[A], resume: Resume[bool, Never], what: str) -> None:
        self.pending = pending
        self.resume = resume
        self.what = what


@final
class Queue(Generic[A]):
    """A FIFO queue of `A`s shared by fibers; see the module docstring for the kinds."""

    __slots__ = (
        "_capacity",
        "_items",
        "_offerers",
        "_shutdown",
        "_shutdown_waiters",
        "_strategy",
        "_takers",
    )

    def __init__(self, capacity: int | None, strategy: str) -> None:
        self._capacity = capacity
        self._strategy = strategy
        self._items: deque[A] = deque()
        self._takers: OrderedDict[_Taker[A], None] = OrderedDict()
        self._offerers: OrderedDict[_Offerer[A], None] = OrderedDict()
        self._shutdown = False
        self._shutdown_waiters: dict[object, Resume[None, Never]] = {}

    def __repr__(self) -> str:
        kind = self._strategy if self._capacity is None else f"{self._strategy} {self._capacity}"
        if self._shutdown:
            return f"Queue({kind}, shut down)"
        return (
            f"Queue({kind}, size={len(self._items)}, takers={len(self._takers)}, "
            f"offerers={len(self._offerers)})"
        )

    # -- constructors --------------------------------------------------------------

    @classmethod
    def bounded(cls, capacity: int) -> Effect[Queue[A]]:
        """A queue of at most `capacity` items: `offer` waits while it is full.
        A `capacity` below 1 is a `ValueError`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[str].bounded(8))
        Queue(bounded 8, size=0, takers=0, offerers=0)
        """
        _check_capacity(capacity, "Queue.bounded")
        return Effect.sync(lambda: cls(capacity, _BOUNDED))

    @classmethod
    def dropping(cls, capacity: int) -> Effect[Queue[A]]:
        """A queue of at most `capacity` items: `offer` to a full queue drops the new
        item and returns False. A `capacity` below 1 is a `ValueError`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].dropping(1).flat_map(lambda q: q.offer(1).zip(q.offer(2))))
        (True, False)
        """
        _check_capacity(capacity, "Queue.dropping")
        return Effect.sync(lambda: cls(capacity, _DROPPING))

    @classmethod
    def sliding(cls, capacity: int) -> Effect[Queue[A]]:
        """A queue of at most `capacity` items: `offer` to a full queue drops the
        oldest item to make room. A `capacity` below 1 is a `ValueError`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].sliding(2).flat_map(
        ...     lambda q: q.offer_all([1, 2, 3]).and_then(q.take_all())))
        [2, 3]
        """
        _check_capacity(capacity, "Queue.sliding")
        return Effect.sync(lambda: cls(capacity, _SLIDING))

    @classmethod
    def unbounded(cls) -> Effect[Queue[A]]:
        """A queue without a limit: `offer` always succeeds at once.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded())
        Queue(unbounded, size=0, takers=0, offerers=0)
        """
        return Effect.sync(lambda: cls(None, _UNBOUNDED))

    @property
    def capacity(self) -> int | None:
        """The most items the queue holds, None if unbounded.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].sliding(3)).capacity
        3
        """
        return self._capacity

    # -- offering ------------------------------------------------------------------

    def offer(self, item: A) -> Effect[bool]:
        """Add `item` at the back (or hand it to the first waiting taker). Succeeds
        with False only when a dropping queue is full; a full bounded queue waits.

        An interrupted `offer` loses nothing: either its item got into the queue just
        before the interruption, or it was not offered.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].bounded(1).flat_map(lambda q: q.offer(7).and_then(q.take())))
        7
        """
        return self._offer((item,), "Queue.offer")

    def offer_all(self, items: Iterable[A]) -> Effect[bool]:
        """Add the items in order, as one operation: no other offer slips between
        them. A bounded queue waits until all have found room (if interrupted, the
        items that got in stay); a dropping queue takes what fits and succeeds with
        False if it dropped any.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(
        ...     lambda q: q.offer_all([1, 2, 3]).and_then(q.take_all())))
        [1, 2, 3]
        """
        return self._offer(tuple(items), "Queue.offer_all")

    def _offer(self, batch: tuple[A, ...], what: str) -> Effect[bool]:
        if self._strategy == _BOUNDED:

            def register(resume: Resume[bool, Never]) -> Effect[None] | None:
                return self._register_offer(batch, resume, what)

            return Effect.async_(register)
        return self._if_open(what, lambda: self._offer_now(batch))

    # -- taking --------------------------------------------------------------------

    def take(self) -> Effect[A]:
        """Remove the first item, waiting for one if the queue is empty.
        Interruptible; an interrupted `take` has removed nothing.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[str].unbounded().flat_map(lambda q: q.offer("job").and_then(q.take())))
        'job'
        """
        return Effect.uninterruptible_mask(self._take)

    def take_all(self) -> Effect[list[A]]:
        """Remove every item there is now (maybe none; does not wait).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].bounded(4).flat_map(
        ...     lambda q: q.offer_all([1, 2]).and_then(q.take_all())))
        [1, 2]
        """

        def take_all() -> list[A]:
            items = list(self._items)
            self._items.clear()
            self._admit()
            return items

        return self._if_open("Queue.take_all", take_all)

    def take_up_to(self, n: int) -> Effect[list[A]]:
        """Remove up to `n` items, the first ones (does not wait). A negative `n` is a
        `ValueError`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(
        ...     lambda q: q.offer_all([1, 2, 3]).and_then(q.take_up_to(2))))
        [1, 2]
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Queue.take_up_to: n must be a non-negative int, got {n!r}")

        def take_up_to() -> list[A]:
            items = self._items
            taken = [items.popleft() for _ in range(min(n, len(items)))]
            self._admit()
            return taken

        return self._if_open("Queue.take_up_to", take_up_to)

    def poll(self) -> Effect[A | None]:
        """Remove the first item if there is one, else None (does not wait).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(lambda q: q.poll())) is None
        True
        """

        def poll() -> A | None:
            if not self._items:
                return None
            item = self._items.popleft()
            self._admit()
            return item

        return self._if_open("Queue.poll", poll)

    def size(self) -> Effect[int]:
        """How many items are in the queue (not counting waiting offers).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(
        ...     lambda q: q.offer_all([1, 2]).and_then(q.size())))
        2
        """

        def size() -> int:
            return len(self._items)

        return self._if_open("Queue.size", size)

    # -- shutdown ------------------------------------------------------------------

    def shutdown(self) -> Effect[None]:
        """Close the queue: drop its items, and interrupt every fiber waiting in an
        operation, and every later operation (reason `QueueShutdown`). Shutting down
        twice does nothing more.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(
        ...     lambda q: q.shutdown().and_then(q.is_shutdown())))
        True
        """
        return Effect.sync(self._shutdown_now)

    def is_shutdown(self) -> Effect[bool]:
        """Whether `shutdown` was called.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(lambda q: q.is_shutdown()))
        False
        """
        return Effect.sync(lambda: self._shutdown)

    def await_shutdown(self) -> Effect[None]:
        """Wait until the queue is shut down (interruptible).

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Queue
        >>> run_sync(Queue[int].unbounded().flat_map(
        ...     lambda q: q.shutdown().fork().and_then(q.await_shutdown()).as_("closed")))
        'closed'
        """
        return Effect.async_(self._register_shutdown_waiter)

    # -- machinery: every state change happens in one of these, in one fiber step ---

    def _if_open(self, what: str, run: Callable[[], T]) -> Effect[T]:
        """`run()`'s value, or on a queue that was shut down, the fiber's interruption."""

        def step() -> Effect[T]:
            return _shut_down(what) if self._shutdown else Effect.succeed(run())

        return Effect.suspend(step)

    def _take(self, restore: Restore) -> Effect[A]:
        taker: _Taker[A] = _Taker()

        def register(resume: Resume[A, Never]) -> Effect[None] | None:
            if self._shutdown:
                resume(_shut_down("Queue.take"))
                return None
            taker.resume = resume
            if self._items:
                taker.hand(self._items.popleft())
                self._admit()
                return None
            self._takers[taker] = None
            return Effect.sync(lambda: self._forget_taker(taker))

        def give_back() -> None:
            if taker.handed:
                taker.handed = False
                item, taker.item = taker.item, cast(A, None)
                self._put_back(item)

        return guarded_wait(register, give_back, restore)

    def _forget_taker(self, taker: _Taker[A]) -> None:
        self._takers.pop(taker, None)

    def _put_back(self, item: A) -> None:
        """An item handed to a taker that was interrupted: to the next taker, or to the
        front of the queue (where it was)."""
        if self._shutdown:
            return
        if self._takers:
            taker, _ = self._takers.popitem(last=False)
            taker.hand(item)
        else:
            self._items.appendleft(item)

    def _offer_now(self, batch: tuple[A, ...]) -> bool:
        """Offer to a queue that never waits (unbounded, dropping, sliding)."""
        takers = self._takers
        handed = 0
        while handed < len(batch) and takers:
            taker, _ = takers.popitem(last=False)
            taker.hand(batch[handed])
            handed += 1
        rest = batch[handed:] if handed else batch
        items = self._items
        capacity = self._capacity
        if capacity is None:
            items.extend(rest)
            return True
        if self._strategy == _SLIDING:
            items.extend(rest)
            while len(items) > capacity:
                items.popleft()
            return True
        room = max(capacity - len(items), 0)
        items.extend(rest[:room])
        return room >= len(rest)

    def _register_offer(
        self, batch: tuple[A, ...], resume: Resume[bool, Never], what: str
    ) -> Effect[None] | None:
        """Offer to a bounded queue: what fits goes in, the rest waits its turn."""
        if self._shutdown:
            resume(_shut_down(what))
            return None
        pending = deque(batch)
        takers = self._takers
        while pending and takers:
            taker, _ = takers.popitem(last=False)
            taker.hand(pending.popleft())
        if not self._offerers:  # earlier offers that wait go first
            items = self._items
            capacity = self._capacity
            assert capacity is not None
            while pending and len(items) < capacity:
                items.append(pending.popleft())
        if not pending:
            resume(_TRUE)
            return None
        offerer = _Offerer(pending, resume, what)
        self._offerers[offerer] = None
        return Effect.sync(lambda: self._forget_offerer(offerer))

    def _forget_offerer(self, offerer: _Offerer[A]) -> None:
        self._offerers.pop(offerer, None)

    def _admit(self) -> None:
        """Room opened: move waiting offerers' items in, in order; wake those done."""
        offerers = self._offerers
        if not offerers:
            return
        items = self._items
        capacity = self._capacity
        assert capacity is not None
        while offerers and len(items) < capacity:
            offerer = next(iter(offerers))
            pending = offerer.pending
            while pending and len(items) < capacity:
                items.append(pending.popleft())
            if pending:
                return
            del offerers[offerer]
            offerer.resume(_TRUE)

    def _shutdown_now(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        self._items.clear()
        takers = list(self._takers)
        offerers = list(self._offerers)
        waiters = list(self._shutdown_waiters.values())
        self._takers.clear()
        self._offerers.clear()
        self._shutdown_waiters.clear()
        for taker in takers:
            assert taker.resume is not None
            taker.resume(_shut_down("Queue.take"))
        for offerer in offerers:
            offerer.resume(_shut_down(offerer.what))
        for resume in waiters:
            resume(_UNIT)

    def _register_shutdown_waiter(self, resume: Resume[None, Never]) -> Effect[None] | None:
        if self._shutdown:
            resume(_UNIT)
            return None
        key = object()
        self._shutdown_waiters[key] = resume
        return Effect.sync(lambda: self._forget_shutdown_waiter(key))

    def _forget_shutdown_waiter(self, key: object) -> None:
        self._shutdown_waiters.pop(key, None)


def _shut_down(what: str) -> Effect[Never]:
    """The interruption of the fiber whose operation `what` met a shut-down queue."""
    return with_fiber(
        lambda fiber: Effect.fail_cause(Cause.interrupt(fiber.id, QueueShutdown(what)))
    )


def _check_capacity(capacity: object, what: str) -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"{what}: capacity must be a positive int, got {capacity!r}")
