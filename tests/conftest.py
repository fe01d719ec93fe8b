"""Shared test support: many scheduler orders, a one-shot latch, and a leak check.

* `SEEDS` / `each_seed`: concurrency tests run once per seed with `Runtime(seed=seed)`,
  which shuffles the ready queue deterministically, so a test sees many interleavings
  and a failing one can be replayed by its seed (`run_seeded`; `run_interleaved` also
  varies the op budget).
* `Latch`: a gate fibers (or threads, or coroutines) can wait on and open; it stands in
  for a `Deferred` where a test needs "this has happened" without sleeping.
* The autouse fixture `no_fiber_outlives_its_runner` checks after every test that all
  fibers have ended: `live_fiber_count() == 0`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Final, TypeVar

import pytest

from effectpy import Effect, Runtime, live_fiber_count

A = TypeVar("A")

SEEDS: Final = range(30)
"""The scheduler seeds every order-sensitive test runs under."""

each_seed = pytest.mark.parametrize("seed", SEEDS)
"""Run a test once per seed: `@each_seed def test_x(seed: int) -> None: ...`."""


BUDGETS: Final = (2048, 1, 3, 16)
"""Op budgets `run_interleaved` cycles through by seed."""


def run_seeded(effect: Effect[A], seed: int) -> A:
    """`run_sync` with the ready queue shuffled by `seed` (default op budget)."""
    return Runtime(seed=seed).run_sync(effect)


def run_interleaved(effect: Effect[A], seed: int) -> A:
    """`run_seeded`, with an op budget that also varies with the seed: a small budget
    makes every fiber yield after a few ops, so a message (an interrupt, a resume) can
    land between any two ops and the shuffled queue has more orders to choose from."""
    return Runtime(seed=seed, budget=BUDGETS[seed % len(BUDGETS)]).run_sync(effect)


def yields(count: int) -> Effect[None]:
    """Give way to the other fibers `count` times: a finalizer that takes a while
    without sleeping, so a test can see whether someone waited for it."""
    effect = Effect.unit()
    for _ in range(count):
        effect = effect.and_then(Effect.yield_now())
    return effect


class Latch:
    """A one-shot gate: `wait()` parks a fiber until the latch is opened.

    `open()` is an effect; `open_now()` may be called from any thread or coroutine.
    Waiting on an open latch goes on at once.
    """

    __slots__ = ("_is_open", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._is_open = False
        self._waiters: list[Callable[[Effect[None]], None]] = []

    @property
    def is_open(self) -> bool:
        return self._is_open

    def open_now(self) -> None:
        with self._lock:
            if self._is_open:
                return
            self._is_open = True
            waiters, self._waiters = self._waiters, []
        for resume in waiters:
            resume(Effect.unit())

    def open(self) -> Effect[None]:
        return Effect.sync(self.open_now)

    def wait(self) -> Effect[None]:
        def register(resume: Callable[[Effect[None]], None]) -> Effect[None] | None:
            with self._lock:
                if not self._is_open:
                    self._waiters.append(resume)
                    return Effect.sync(lambda: self._forget(resume))
            resume(Effect.unit())
            return None

        return Effect.async_(register)

    def _forget(self, resume: Callable[[Effect[None]], None]) -> None:
        with self._lock:
            if resume in self._waiters:
                self._waiters.remove(resume)


def _join_background_runners(timeout: float) -> None:
    """Wait for the threads `run_fork` started: their fibers may still be finishing
    (stopping daemons) just after the root's exit was published."""
    for thread in threading.enumerate():
        if thread.name.startswith("effectpy-fiber-") and thread is not threading.current_thread():
            thread.join(timeout)


@pytest.fixture(autouse=True)
def no_fiber_outlives_its_runner() -> Iterator[None]:
    """After each test, every fiber it started has ended."""
    before = live_fiber_count()
    yield
    _join_background_runners(timeout=10.0)
    after = live_fiber_count()
    # A fiber leaked by an earlier (failed) test is that test's failure, not this one's.
    assert after == 0 or after <= before, f"{after} fiber(s) still running after the test"
