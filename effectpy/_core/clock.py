"""The clock the runtime reads time from, at the level of callbacks.

Every sleep, timeout and schedule asks the fiber's current clock (the fiber ref
`CURRENT_CLOCK`) to call it back later. The live clock uses the fiber's scheduler
timers; the public `TestClock` implements the same interface over virtual time, which
only moves when a test says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from .refs import FiberRef
from .scheduler import TimerHandle

if TYPE_CHECKING:
    from .._interpreter.loop import FiberRuntime


class ClockService(Protocol):
    """What the runtime needs from a clock."""

    def now(self) -> float:
        """Current time in seconds (wall-clock seconds since the epoch for the live
        clock, virtual seconds for a test clock)."""
        ...

    def call_later(
        self, fiber: FiberRuntime, delay: float, callback: Callable[[], None]
    ) -> TimerHandle:
        """Call `callback` on `fiber`'s scheduler thread after `delay` seconds."""
        ...


class LiveClock:
    """Real time: wall-clock `now`, the scheduler's monotonic timers for delays."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()

    def call_later(
        self, fiber: FiberRuntime, delay: float, callback: Callable[[], None]
    ) -> TimerHandle:
        return fiber.scheduler.call_later(delay, callback)

    def __repr__(self) -> str:
        return "LiveClock()"


LIVE_CLOCK: Final = LiveClock()
CURRENT_CLOCK: Final = FiberRef(LIVE_CLOCK, "clock")


def clock_of(fiber: FiberRuntime) -> ClockService:
    """The clock `fiber` runs on (`CURRENT_CLOCK`: the live one unless replaced)."""
    clock: Any = fiber.get_ref(CURRENT_CLOCK)
    return clock  # type: ignore[no-any-return]


def check_duration(seconds: object, what: str, *, finite: bool = False) -> float:
    """`seconds` as a float, or a clear error naming `what`: a duration is a number,
    not NaN and not negative. `math.inf` (or any duration too long to ever pass) is a
    wait that never ends, unless `finite` refuses it (moving a test clock)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"{what}: a duration in seconds must be a number, got {seconds!r}")
    try:
        value = float(seconds)
    except OverflowError:  # an int past the largest float: as long as for ever
        value = math.inf
    if math.isnan(value) or value < 0:
        raise ValueError(f"{what}: a duration must be >= 0 seconds, got {seconds!r}")
    if finite and value == math.inf:
        raise ValueError(f"{what}: time moves by a finite number of seconds, got {seconds!r}")
    return value


def span_time(clock: ClockService) -> float:
    """Seconds on `clock`, for log spans: the live clock's `now` is the wall clock,
    which may jump, so spans on it read monotonic time; any other clock's `now`."""
    return time.monotonic() if clock is LIVE_CLOCK else clock.now()
