"""Time, read through the fiber's clock: real by default, virtual under `TestClock`.

Sleeps, `delay`, `timeout` and schedules all ask the current clock. Wrap a program in
`TestClock.provide(...)` and time stands still until the test moves it with
`TestClock.adjust(seconds)`: a test of a one-hour timeout takes no real time.

>>> from effectpy import Do, Effect, TestClock, gen, run_sync
>>> @gen
... def test() -> Do[str]:
...     fiber = yield from Effect.sleep(3600).as_("an hour later").fork()
...     yield from TestClock.adjust(3600)
...     return (yield from fiber.join())
>>> run_sync(TestClock.provide(test()))
'an hour later'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar, final

from ._core.clock import CURRENT_CLOCK, LIVE_CLOCK, ClockService, check_duration, clock_of
from ._core.scheduler import NEVER_DUE, TimerHandle, TimerHeap
from ._interpreter.loop import FiberRuntime
from .effect import Effect, _now
from .effect import _locally as locally
from .effect import _with_fiber as with_fiber

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")

__all__ = ["Clock", "ClockService", "TestClock"]

_SETTLE_ROUNDS: Final = 10_000
"""How many times `adjust` lets woken fibers run before it stops waiting for quiet
(a fiber that never parks would otherwise keep it waiting forever)."""


@final
class Clock:
    """Reading and replacing the current clock."""

    __slots__ = ()

    @staticmethod
    def now() -> Effect[float]:
        """Current time in seconds (since the epoch; virtual under a `TestClock`).

        >>> from effectpy import Clock, TestClock, run_sync
        >>> run_sync(TestClock.provide(Clock.now()))
        0.0
        """
        return _now()

    @staticmethod
    def sleep(seconds: float) -> Effect[None]:
        """The same as `Effect.sleep`.

        >>> from effectpy import Clock, run_sync
        >>> run_sync(Clock.sleep(0))
        """
        return Effect.sleep(seconds)

    @staticmethod
    def with_clock(clock: ClockService, effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """Run `effect` (and the fibers it forks) with `clock` as the clock.

        >>> from effectpy import Clock, TestClock, run_sync
        >>> run_sync(Clock.with_clock(TestClock(start=100.0), Clock.now()))
        100.0
        """
        return locally(CURRENT_CLOCK, clock, effect)

    @staticmethod
    def live() -> ClockService:
        """The real clock."""
        return LIVE_CLOCK


@final
class TestClock:
    """Virtual time for tests: sleeps wait until `adjust` moves time past them.

    `TestClock.provide(effect)` runs `effect` with a fresh test clock; inside it,
    `TestClock.adjust(seconds)` moves time forward, waking each sleeper in deadline
    order and letting it run before going on, and `TestClock.set_time(t)` moves time
    to `t`.
    """

    __slots__ = ("_now", "_timers")
    __test__ = False  # not a pytest test class

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._timers = TimerHeap()

    def __repr__(self) -> str:
        return f"TestClock(now={self._now:g}, sleepers={len(self.pending())})"

    # -- the ClockService interface ------------------------------------------------

    def now(self) -> float:
        return self._now

    def call_later(
        self, fiber: FiberRuntime, delay: float, callback: Callable[[], None]
    ) -> TimerHandle:
        if delay <= 0:
            callback()
            return NEVER_DUE
        timer = self._timers.call_at(self._now + delay, callback)
        if timer is not NEVER_DUE:
            fiber.scheduler.add_idle_hint(self._idle_hint)
        return timer

    def _idle_hint(self) -> str | None:
        """Why a runtime with nothing to run may be waiting: sleepers on this clock."""
        pending = self.pending()
        if not pending:
            return None
        sleepers = "1 fiber sleeps" if len(pending) == 1 else f"{len(pending)} fibers sleep"
        return (
            f"{sleepers} on a TestClock at t={self._now:g} (the next wakes at "
            f"t={pending[0]:g}), and only TestClock.adjust or set_time moves it: if "
            "nothing will call them, the program waits for ever. Fork the code under "
            "test and adjust the clock from the test (see the guide to time)."
        )

    def pending(self) -> list[float]:
        """The deadlines of the sleepers still waiting, earliest first."""
        return self._timers.deadlines()

    # -- effects -------------------------------------------------------------------

    @staticmethod
    def provide(effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """Run `effect` with a fresh `TestClock` (time starts at 0).

        >>> from effectpy import Effect, TestClock, run_sync
        >>> slow = Effect.sleep(60).timeout(1).either().fork()
        >>> program = slow.flat_map(lambda f: TestClock.adjust(1).and_then(f.join()))
        >>> run_sync(TestClock.provide(program)).failure()
        TimeoutError('timed out after 1s')
        """
        return Effect.suspend(lambda: locally(CURRENT_CLOCK, TestClock(), effect))

    @staticmethod
    def adjust(seconds: float) -> Effect[None]:
        """Move the current test clock forward by `seconds`.

        Sleepers whose deadline passes wake in deadline order, each at its own
        deadline, and run until they park again before time moves on: a sleeper that
        sleeps again inside the window wakes again within the same `adjust`.

        >>> from effectpy import Effect, TestClock, run_sync
        >>> run_sync(TestClock.provide(TestClock.adjust(5).and_then(TestClock.get())))
        TestClock(now=5, sleepers=0)
        """
        duration = check_duration(seconds, "TestClock.adjust", finite=True)
        return with_fiber(lambda fiber: TestClock._advance(fiber, duration, relative=True))

    @staticmethod
    def set_time(time: float) -> Effect[None]:
        """Move the current test clock to `time` (never backwards), waking sleepers.

        >>> from effectpy import Clock, TestClock, run_sync
        >>> run_sync(TestClock.provide(TestClock.set_time(30).and_then(Clock.now())))
        30.0
        """
        target = check_duration(time, "TestClock.set_time", finite=True)
        return with_fiber(lambda fiber: TestClock._advance(fiber, target, relative=False))

    @staticmethod
    def get() -> Effect[TestClock]:
        """The current test clock (a defect if the clock is not a `TestClock`).

        >>> from effectpy import TestClock, run_sync
        >>> run_sync(TestClock.provide(TestClock.get()))
        TestClock(now=0, sleepers=0)
        """
        return with_fiber(lambda fiber: Effect.succeed(_test_clock_of(fiber)))

    @staticmethod
    def _advance(fiber: FiberRuntime, amount: float, *, relative: bool) -> Effect[None]:
        clock: TestClock = _test_clock_of(fiber)
        target = clock._now + amount if relative else float(amount)
        if target < clock._now:
            raise ValueError(
                f"TestClock.set_time: time only moves forward ({target:g} < {clock._now:g})"
            )

        def step() -> Effect[None]:
            due = clock._timers.pop_due(target)
            if due is not None:
                deadline, callback = due
                clock._now = max(clock._now, deadline)
                callback()
                return _settle().and_then(Effect.suspend(step))
            clock._now = target
            return _settle()

        # Let fibers that are ready (say, one just forked) reach their sleep first.
        return _settle().and_then(Effect.suspend(step))


def _settle(rounds: int = _SETTLE_ROUNDS) -> Effect[None]:
    """Yield until no other fiber is ready to run (woken sleepers have parked again)."""

    def check(fiber: FiberRuntime) -> Effect[None]:
        if fiber.scheduler.ready and rounds > 0:
            return Effect.yield_now().and_then(_settle(rounds - 1))
        return Effect.unit()

    return with_fiber(check)


def _test_clock_of(fiber: FiberRuntime) -> TestClock:
    clock = clock_of(fiber)
    if not isinstance(clock, TestClock):
        raise RuntimeError(
            "this needs a TestClock, but the fiber runs on the live clock: "
            "wrap the program in TestClock.provide(...)"
        )
    return clock
