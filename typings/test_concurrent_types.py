"""The typing contract of `effectpy.concurrent`: what mypy --strict infers for the
primitives, and which uses it rejects.

A line with `# type: ignore[code]` is a line mypy must reject with that code; under
`warn_unused_ignores` a rejection that went missing fails the check.
"""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Do, Effect, Exit, gen
from effectpy.concurrent import CountDownLatch, Deferred, Latch, Queue, Ref, Semaphore


class Database:
    """A service marker: an effect that needs it has `Database` in `R`."""


def load_user(user_id: int) -> Effect[str, KeyError, Database]:
    return Effect.fail(KeyError(user_id))


# -- made by effects; the type arguments are given or inferred ---------------------------

assert_type(Ref.make(1), Effect[Ref[int], Never, Never])
assert_type(Deferred[int, str].make(), Effect[Deferred[int, str], Never, Never])
assert_type(Deferred[int].make(), Effect[Deferred[int, Never], Never, Never])
assert_type(Queue[str].bounded(4), Effect[Queue[str], Never, Never])
assert_type(Queue[str].unbounded(), Effect[Queue[str], Never, Never])
assert_type(Semaphore.make(2), Effect[Semaphore, Never, Never])
assert_type(Latch.make(), Effect[Latch, Never, Never])
assert_type(CountDownLatch.make(2), Effect[CountDownLatch, Never, Never])


# -- operations carry the element and error types -----------------------------------------


def uses(ref: Ref[int], deferred: Deferred[int, KeyError], queue: Queue[str]) -> None:
    assert_type(ref.modify(lambda n: (str(n), n + 1)), Effect[str, Never, Never])
    assert_type(ref.update_and_get(lambda n: n + 1), Effect[int, Never, Never])
    assert_type(deferred.await_(), Effect[int, KeyError, Never])
    assert_type(deferred.poll(), Effect[Exit[int, KeyError] | None, Never, Never])
    assert_type(deferred.complete(load_user(1).map(len)), Effect[bool, Never, Database])
    assert_type(queue.take(), Effect[str, Never, Never])
    assert_type(queue.poll(), Effect[str | None, Never, Never])
    assert_type(queue.take_all(), Effect[list[str], Never, Never])


def rejected(ref: Ref[int], deferred: Deferred[int, KeyError], queue: Queue[str]) -> None:
    ref.set("one")  # type: ignore[arg-type]
    deferred.succeed("one")  # type: ignore[arg-type]
    deferred.fail(ValueError("not a KeyError"))  # type: ignore[arg-type]
    queue.offer(1)  # type: ignore[arg-type]


# -- a semaphore keeps the effect's type ----------------------------------------------------


def limited(semaphore: Semaphore) -> None:
    assert_type(semaphore.with_permits(2)(load_user(1)), Effect[str, KeyError, Database])
    assert_type(semaphore.with_permit(load_user(1)), Effect[str, KeyError, Database])
    assert_type(load_user(1).pipe(semaphore.with_permits(1)), Effect[str, KeyError, Database])


# -- in a generator, give the type arguments: mypy cannot infer them from later use ---------


@gen
def pipeline() -> Do[int]:
    queue = yield from Queue[int].bounded(1)
    yield from queue.offer(1)
    return (yield from queue.take())


@gen
def untyped() -> Do[None]:
    queue = yield from Queue.bounded(1)  # type: ignore[var-annotated]
    yield from queue.offer(1)
