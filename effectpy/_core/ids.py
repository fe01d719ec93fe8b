"""Fiber identities and the closed set of reasons a fiber can be interrupted for."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Final, TypeAlias

_next_id = itertools.count(1)
next_fiber_number = _next_id.__next__
"""A process-unique fiber number (the cheap part of an id; see `FiberRuntime.id`)."""


@dataclass(frozen=True, slots=True)
class FiberId:
    """Identity of a fiber: a process-unique number and an optional name.

    Two ids are equal when their numbers are: a name is only for display.
    """

    number: int
    name: str | None = field(default=None, compare=False)

    @staticmethod
    def make(name: str | None = None) -> FiberId:
        return FiberId(next_fiber_number(), name)

    def __str__(self) -> str:
        return f"#{self.number}" if self.name is None else f"#{self.number} ({self.name})"


NONE_ID: Final = FiberId(0, "runtime")
"""The interruptor id used when the runtime itself, not a fiber, stops work."""


@dataclass(frozen=True, slots=True)
class Timeout:
    """The fiber ran past a `timeout(seconds)`."""

    seconds: float

    def __str__(self) -> str:
        return f"timeout after {self.seconds:g}s"


@dataclass(frozen=True, slots=True)
class ParentDone:
    """The parent fiber's effect ended while this child was still running."""

    parent: FiberId

    def __str__(self) -> str:
        return f"parent fiber {self.parent} finished"


@dataclass(frozen=True, slots=True)
class ScopeClosed:
    """The scope the fiber was forked into was closed."""

    scope: str | None = None

    def __str__(self) -> str:
        return "scope closed" if self.scope is None else f"scope {self.scope!r} closed"


@dataclass(frozen=True, slots=True)
class SiblingFailed:
    """A sibling in the same group failed, so the rest of the group is stopped."""

    sibling: FiberId

    def __str__(self) -> str:
        return f"sibling fiber {self.sibling} failed"


@dataclass(frozen=True, slots=True)
class RaceLost:
    """Another contender of a race finished first."""

    winner: FiberId

    def __str__(self) -> str:
        return f"lost a race to fiber {self.winner}"


@dataclass(frozen=True, slots=True)
class Manual:
    """Interrupted on request: `Fiber.interrupt()`, `Effect.interrupt()`, a task tree's
    `cancel(task_id)`, or a shared execution nobody waits for any more."""

    def __str__(self) -> str:
        return "interrupted on request"


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The runtime is shutting down (a runner was cancelled, or Ctrl-C)."""

    detail: str | None = None

    def __str__(self) -> str:
        return "runtime shutdown" if self.detail is None else f"runtime shutdown: {self.detail}"


@dataclass(frozen=True, slots=True)
class QueueShutdown:
    """The queue the fiber used was shut down, before or while it waited: `operation`
    says which (`"Queue.take"`, `"Queue.offer"`, ...). The fiber interrupts itself, as
    in Effect-TS and ZIO."""

    operation: str

    def __str__(self) -> str:
        return f"{self.operation}: the queue was shut down"


InterruptReason: TypeAlias = (
    Timeout
    | ParentDone
    | ScopeClosed
    | SiblingFailed
    | RaceLost
    | Manual
    | Shutdown
    | QueueShutdown
)
"""Why a fiber was interrupted: a closed union, so a `match` over it can be exhaustive."""
