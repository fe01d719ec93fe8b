"""How the primitives park a fiber, and why a hand-off is never lost.

A fiber that must wait (a taker on an empty queue, an acquirer on an exhausted
semaphore) parks on `Effect.async_`: its `register` either completes at once, or puts
a waiter record in the primitive's waiter list and returns a canceller that takes it
out again. Whoever later satisfies the waiter *hands* it something (an item, permits):
it removes the record, sets `handed = True`, and calls `resume`.

`resume` only queues the fiber. If the fiber is interrupted before it runs, the
interruption wins and the handed value would vanish with the dropped continuation.
`guarded_wait` closes that gap: the wait runs interruptibly (through `restore`), but
the failure handler around it sits in the caller's uninterruptible region, so it runs
whenever the wait does not succeed, and `give_back` returns what was handed (an item
to the front of the queue, permits to the semaphore). Every state check happens inside
`register`, which the fiber loop calls atomically; a hand-off made there is covered by
the same handler.

Fibers of one runtime run one at a time on one thread, so none of this needs a lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeVar

from ..cause import Cause
from ..effect import Effect, Restore

A = TypeVar("A")
E = TypeVar("E")

Resume: TypeAlias = Callable[[Effect[A, E]], None]
"""What `Effect.async_` hands `register`: call it once to wake the fiber."""

Register: TypeAlias = Callable[[Resume[A, E]], Effect[None] | None]
"""An `Effect.async_` registration that may return a canceller."""


def guarded_wait(
    register: Register[A, E], give_back: Callable[[], None], restore: Restore
) -> Effect[A, E]:
    """Wait on `register` interruptibly (as `restore` allows); if the wait does not
    succeed, call `give_back()` before failing. Call it inside `uninterruptible_mask`,
    so that the handler itself cannot be skipped by the interruption. Make the waiter
    record in the mask's body: an effect may run many times, each run waits anew."""

    def on_failure(cause: Cause[E]) -> Effect[A, E]:
        give_back()
        return Effect.fail_cause(cause)

    return restore(Effect.async_(register)).catch_all_cause(on_failure)
