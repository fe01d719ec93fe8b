"""Work that runs elsewhere (threads, coroutines) against interruption: nothing hangs.

The race that matters: the work finishes (its completion already queued for the
scheduler) just as its fiber is interrupted. Each test runs the program in a thread of
its own and fails, rather than hangs, if it does not end in time.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Never, TypeVar

import pytest

from effectpy import Effect, Exit, Fiber, Runtime, Signal, run_async_exit, run_sync, run_sync_exit

A = TypeVar("A")

DEADLINE = 10.0
"""Seconds a program of these tests may take before it counts as hung."""


def finishes(run: Callable[[], A], deadline: float = DEADLINE) -> A:
    """`run()` in a daemon thread; its result, or a failure if it hangs."""
    results: list[A] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(run())
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(deadline)
    if thread.is_alive():
        pytest.fail(f"the program hung (still running after {deadline}s)")
    if errors:
        raise errors[0]
    return results[0]


def work_that_finishes(kind: str, done: threading.Event) -> Effect[str]:
    """A blocking call or a coroutine that sets `done` as it returns `kind`."""
    if kind == "thread":

        def in_thread(signal: Signal) -> str:
            done.set()
            return kind

        return Effect.blocking(in_thread)

    async def in_loop() -> str:
        done.set()
        return kind

    return Effect.promise(in_loop)


@pytest.mark.parametrize("kind", ["thread", "coroutine"])
def test_work_finishing_as_its_race_is_lost_does_not_hang(kind: str) -> None:
    for attempt in range(200):
        done = threading.Event()

        def win(done: threading.Event = done, attempt: int = attempt) -> str:
            done.wait(1)  # the work has returned...
            time.sleep(0.0002 * (attempt % 5))  # ...and its completion is (being) queued
            return "winner"

        winner = Effect.yield_now().and_then(Effect.sync(win))
        race = Effect.race(work_that_finishes(kind, done), winner)
        assert finishes(partial(run_sync, race)) in (kind, "winner")


def test_nested_timeouts_around_a_promise_under_run_async_do_not_hang() -> None:
    async def main() -> list[Exit[str, TimeoutError]]:
        exits = []
        for _ in range(200):
            effect = Effect.promise(lambda: asyncio.sleep(0.0003, "x")).timeout(1).timeout(0.0005)
            exits.append(await run_async_exit(effect))
        return exits

    exits = finishes(lambda: asyncio.run(main()))
    assert all(exit == Exit.succeed("x") or exit.is_failure() for exit in exits)


def test_an_interrupted_call_still_queued_for_a_thread_never_starts() -> None:
    # Fill the pool, queue one more call, interrupt it: it must not run later.
    release = threading.Event()
    ran: list[str] = []

    def hold(signal: Signal) -> None:
        release.wait(DEADLINE)

    def queued(signal: Signal) -> None:
        ran.append("queued call ran")

    def program() -> Effect[None]:
        holders = Effect.for_each(range(64), lambda _: Effect.blocking(hold).fork())
        return holders.flat_map(
            lambda fibers: (
                Effect.blocking(queued)
                .fork()
                .flat_map(lambda late: Effect.sleep(0.01).and_then(late.interrupt()))
                .and_then(Effect.sync(release.set))
                .and_then(Effect.for_each(fibers, lambda fiber: fiber.join()))
                .as_unit()
            )
        )

    try:
        finishes(lambda: run_sync(program()))
    finally:
        release.set()
    assert ran == []


def test_an_interrupted_call_still_queued_for_a_thread_is_interrupted_at_once() -> None:
    release = threading.Event()

    def hold(signal: Signal) -> None:
        release.wait(DEADLINE)

    def program() -> Effect[float]:
        holders = Effect.for_each(range(64), lambda _: Effect.blocking(hold).fork())

        def measure(late_fiber: Fiber[None, Never]) -> Effect[float]:
            started = time.monotonic()
            return late_fiber.interrupt().map(lambda _: time.monotonic() - started)

        return holders.flat_map(
            lambda fibers: (
                Effect.blocking(lambda s: None)
                .fork()
                .flat_map(lambda late: Effect.sleep(0.01).and_then(measure(late)))
                .tap(lambda _: Effect.sync(release.set))
                .tap(lambda _: Effect.for_each(fibers, lambda fiber: fiber.join()))
            )
        )

    try:
        took = finishes(lambda: run_sync(program()))
    finally:
        release.set()
    assert took < 1.0  # not held until a thread frees up (DEADLINE)


@pytest.mark.parametrize("kind", ["blocking", "promise"])
def test_completion_racing_interruption_never_hangs_under_seeded_schedules(kind: str) -> None:
    """Thousands of runs: work that ends at a random moment against an interruption
    at a random moment, under shuffled schedules; every run ends, and every started
    piece of work is finalized exactly once."""
    rng = random.Random(1234)
    runs = 1500 if kind == "blocking" else 1000
    for run in range(runs):
        spin = rng.randrange(0, 40)
        delay = rng.choice([0.0, 0.0, 0.00005, 0.0002])
        seed = rng.randrange(1 << 30)
        finalized: list[int] = []

        if kind == "blocking":

            def spin_then(signal: Signal, spin: int = spin) -> int:
                for _ in range(spin * 50):
                    pass
                return spin

            work: Effect[int] = Effect.blocking(spin_then)
        else:

            async def spin_async(spin: int = spin) -> int:
                for _ in range(spin % 3):
                    await asyncio.sleep(0)
                return spin

            work = Effect.promise(spin_async)

        def record(finalized: list[int] = finalized) -> None:
            finalized.append(1)

        guarded = work.ensuring(Effect.sync(record))
        stopper = Effect.sleep(delay) if delay else Effect.yield_now()
        program = Effect.race(guarded, stopper.as_(-1)).exit()
        runtime = Runtime(seed=seed)
        exit = finishes(lambda: runtime.run_sync(program))  # noqa: B023  # run at once
        assert exit.is_success(), (run, exit)
        assert finalized == [1], (run, finalized)


def test_a_blocking_call_that_finished_before_the_interruption_keeps_no_fiber_alive() -> None:
    exit = finishes(
        lambda: run_sync_exit(
            Effect.blocking(lambda s: "done").fork().flat_map(lambda f: f.interrupt())
        )
    )
    assert exit.is_success()
