"""Nothing piles up: fibers churned by the hundred thousand leave memory flat, and
interrupted fibers, closed scopes and what they held are collected.

The soak tests churn `SOAK_FIBERS` fibers (100,000 by default; `make fuzz` runs them
with `EFFECTPY_SOAK_FIBERS=1000000`) in batches, and compare the process's resident
memory after the warm-up batches with the memory at the end. A fiber, a timer or a
scope entry kept per fiber (a few hundred bytes) would add tens of megabytes.

The leak tests interrupt fibers (or close scopes), drop every handle, and check that
the fiber runtimes, the scopes and what they held are collected (`gc.collect()`,
then weak references or a count of the fiber objects that exist).
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

from effectpy import (
    Do,
    Effect,
    Exit,
    Fiber,
    Runtime,
    Scope,
    TestClock,
    gen,
    run_sync,
)
from effectpy._interpreter.loop import FiberRuntime
from effectpy.concurrent import Queue, Semaphore

SOAK_FIBERS: Final = int(os.environ.get("EFFECTPY_SOAK_FIBERS", "100000"))
"""Fibers each soak test churns."""

BATCH: Final = 10_000
WARM_UP_BATCHES: Final = 2
ALLOWED_GROWTH: Final = 16 * 2**20
"""Bytes of resident memory the churn may add after the warm-up (one kept 300-byte
object per fiber would add 30 MB per 100,000 fibers)."""

_STATM = Path("/proc/self/statm")


def resident_bytes() -> int:
    gc.collect()
    return int(_STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


needs_proc = pytest.mark.skipif(not _STATM.exists(), reason="needs /proc/self/statm (Linux)")


def churn(i: int, shapes: int = 5) -> Effect[object]:
    """One fiber's worth of work, a different shape for each `i`: joined, interrupted
    while waiting, racing, in a group with a limit, holding a scoped resource, and
    (the sixth shape) timed."""
    match i % shapes:
        case 0:
            return Effect.succeed(i).fork().flat_map(lambda f: f.join())
        case 1:
            return Effect.never().fork().flat_map(lambda f: f.interrupt())
        case 2:
            return Effect.race(Effect.never(), Effect.yield_now().as_(i))
        case 3:
            return Effect.all(Effect.succeed(i), Effect.yield_now(), concurrency=1)
        case 4:
            resource = Effect.acquire_release(Effect.succeed(i), lambda _r, _e: Effect.unit())
            return Effect.scoped(resource)
    return Effect.yield_now().as_(i).timeout(3600).either()


def batch(start: int, shapes: int = 5) -> Effect[list[object]]:
    items = range(start, start + BATCH)
    return Effect.for_each(items, lambda i: churn(i, shapes), concurrency=64)


def soak(run_batch: Callable[[int], None]) -> tuple[int, int]:
    """Run every batch; the resident memory after the warm-up and at the end."""
    batches = max(SOAK_FIBERS // BATCH, WARM_UP_BATCHES + 1)
    warm = 0
    for index in range(batches):
        run_batch(index * BATCH)
        if index + 1 == WARM_UP_BATCHES:
            warm = resident_bytes()
    return warm, resident_bytes()


@needs_proc
def test_fibers_churned_in_separate_runs_leave_memory_flat() -> None:
    warm, end = soak(lambda start: Runtime().run_sync(batch(start, shapes=6)).clear())
    assert end - warm < ALLOWED_GROWTH, f"grew {(end - warm) / 2**20:.1f} MB"


@needs_proc
@pytest.mark.parametrize(
    "shapes",
    [5, 6],
    ids=["without timeouts", "with timeouts"],
)
def test_fibers_churned_in_one_long_run_leave_memory_flat(shapes: int) -> None:
    """One run, beside a fiber that sleeps for an hour (a timer that stays on top of
    the heap), so whatever a finished fiber leaves in the runtime accumulates."""
    sizes: list[int] = []

    @gen
    def long_run() -> Do[None]:
        sleeper = yield from Effect.sleep(3600).fork()
        batches = max(SOAK_FIBERS // BATCH, WARM_UP_BATCHES + 1)
        for index in range(batches):
            yield from batch(index * BATCH, shapes).as_unit()
            if index + 1 == WARM_UP_BATCHES or index + 1 == batches:
                sizes.append((yield from Effect.sync(resident_bytes)))
        yield from sleeper.interrupt()

    run_sync(long_run())
    warm, end = sizes
    assert end - warm < ALLOWED_GROWTH, f"grew {(end - warm) / 2**20:.1f} MB"


# -- leaks ------------------------------------------------------------------------------

LEAK_FIBERS: Final = 200


class Payload:
    """Something a fiber holds; collected once nothing can reach it."""


def fiber_objects() -> int:
    """How many fiber runtimes exist (reachable or not yet collected)."""
    gc.collect()
    return sum(1 for each in gc.get_objects() if isinstance(each, FiberRuntime))


def waits(name: str) -> Effect[Effect[Any]]:
    """A fresh way for a fiber to wait (made in the run, with its primitives)."""
    match name:
        case "never":
            return Effect.succeed(Effect.never())
        case "queue take":
            return Queue[int].unbounded().map(lambda queue: queue.take())
        case "semaphore":
            held = Semaphore.make(1).flat_map(lambda sem: sem.take(1).as_(sem))
            return held.map(lambda sem: sem.with_permit(Effect.unit()))
        case "sleep":
            return Effect.succeed(Effect.sleep(3600))
    return Effect.succeed(Effect.never().timeout(3600).either())


WAITS: Final = ["never", "queue take", "semaphore", "sleep", "timeout"]


def interrupted_fibers_left(wait: str, clock: str) -> int:
    """Fork `LEAK_FIBERS` fibers that wait, interrupt them all, drop every handle:
    how many more fiber runtimes exist than before, while the run still goes on
    (its primitives alive, and a fiber asleep for an hour on the same clock)."""

    @gen
    def program() -> Do[int]:
        waiting = yield from waits(wait)
        sleeper = yield from Effect.sleep(7200).fork()
        before = yield from Effect.sync(fiber_objects)
        fibers: list[Fiber[Any, Any]] = []
        for _ in range(LEAK_FIBERS):
            fibers.append((yield from waiting.fork()))
        yield from Effect.yield_now()
        for fiber in fibers:
            yield from fiber.interrupt()
        fibers.clear()
        after = yield from Effect.sync(fiber_objects)
        yield from sleeper.interrupt()
        return after - before

    effect = program()
    return run_sync(TestClock.provide(effect) if clock == "test" else effect)


def leak_cases() -> list[Any]:
    """Every wait on both clocks."""
    cases: list[Any] = []
    for clock in ("live", "test"):
        for wait in WAITS:
            cases.append(pytest.param(wait, clock, id=f"{wait}-{clock}"))
    return cases


@pytest.mark.parametrize(("wait", "clock"), leak_cases())
def test_interrupted_fibers_are_collected_while_the_run_goes_on(wait: str, clock: str) -> None:
    assert interrupted_fibers_left(wait, clock) < LEAK_FIBERS // 10


def test_what_an_interrupted_fiber_held_is_collected_after_the_run() -> None:
    def program() -> Effect[weakref.ref[Payload]]:
        payload = Payload()
        ref = weakref.ref(payload)
        holder = Effect.never().map(lambda _: payload)
        return holder.fork().flat_map(lambda f: Effect.yield_now().and_then(f.interrupt())).as_(ref)

    ref = run_sync(program())
    gc.collect()
    assert ref() is None


def close_child(parent: Scope, refs: list[weakref.ref[Any]]) -> Effect[None]:
    """Fork a child scope of `parent`, give it a finalizer that holds a payload, close
    it; weak references to the payload and the child go to `refs`."""
    payload = Payload()
    refs.append(weakref.ref(payload))

    def with_child(child: Scope) -> Effect[None]:
        refs.append(weakref.ref(child))
        finalizer = Effect.sync(lambda: payload)
        closing: Effect[None] = child.close(Exit.unit())  # type: ignore[attr-defined]
        return child.add_finalizer(finalizer).and_then(closing)

    return parent.fork().flat_map(with_child)


def test_closed_child_scopes_and_their_finalizers_are_collected() -> None:
    """A child scope closed before its parent is dropped by the parent, with the
    finalizers it held, while the parent stays open; the parent once closed."""
    refs: list[weakref.ref[Any]] = []
    alive: list[int] = []

    def count_alive() -> None:
        gc.collect()
        alive.append(sum(ref() is not None for ref in refs))

    @gen
    def program() -> Do[None]:
        parent = yield from Scope.make()
        for _ in range(5):
            yield from close_child(parent, refs)
        yield from Effect.yield_now()  # the loop lets go of the node it ran last
        yield from Effect.sync(count_alive)
        refs.append(weakref.ref(parent))
        yield from parent.close(Exit.unit())

    run_sync(program())
    count_alive()
    assert alive == [0, 0]


def test_a_fiber_that_ends_in_a_long_lived_scope_is_let_go() -> None:
    @gen
    def program() -> Do[int]:
        scope = yield from Scope.make()
        before = yield from Effect.sync(fiber_objects)
        for _ in range(LEAK_FIBERS):
            yield from Effect.yield_now().fork_in(scope)
        yield from Effect.sleep(0.001)
        after = yield from Effect.sync(fiber_objects)
        yield from scope.close(Exit.unit())
        return after - before

    assert run_sync(program()) < LEAK_FIBERS // 10
