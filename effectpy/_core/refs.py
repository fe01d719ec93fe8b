"""Fiber refs and fiber states: the values every part of the runtime reads.

A `FiberRef` is a key into a fiber's ref map (its log annotations, services, clock,
current branch...); features reach the runtime through them instead of importing it.
"""

from __future__ import annotations

from typing import Final

NEW: Final = -1
"""Made, not started yet (`start` it): not yet a live fiber."""
RUNNING: Final = 0
"""In the scheduler's ready queue, or evaluating."""
SUSPENDED: Final = 1
"""Parked on an ASYNC node, waiting for its callback."""
FINISHING: Final = 2
"""Its effect has ended; waiting for its children to end."""
DONE: Final = 3
"""The `Exit` is published."""


class FiberRef:
    """A fiber-local variable: a key into each fiber's ref map, with an initial value.

    A forked fiber starts with a copy of its parent's values.
    """

    __slots__ = ("initial", "name")

    def __init__(self, initial: object, name: str = "FiberRef") -> None:
        self.initial = initial
        self.name = name

    def __repr__(self) -> str:
        return f"<FiberRef {self.name}>"


LOG_ANNOTATIONS: Final = FiberRef({}, "log annotations")
"""The running fiber's log annotations (a dict never changed in place)."""
LOG_SPANS: Final = FiberRef((), "log spans")
"""The running fiber's open log spans: a tuple of (label, clock, start), the start read
from the clock the span began on (`clock.span_time`)."""
TASK_CURSOR: Final = FiberRef(None, "task cursor")
"""Where the running fiber is in a task tree (`effectpy.tasks`), or None: outside any,
`with_task` runs its effect as it is. The value has a `run_task(title, effect, meta)`."""
