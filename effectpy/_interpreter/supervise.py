"""The one protocol for work that runs elsewhere while a fiber waits for it.

A coroutine on an asyncio loop, a function in a thread, child fibers of a group, a
timeout's child, a branch, a task: each is started by a parked fiber and reports back
when it is over. What can go wrong is the same for all of them, so it is handled here,
once:

    register(resume)      the fiber parks; `start()` begins the work
    work ends             `finish(outcome)`: the fiber resumes with `outcome`
    fiber interrupted     the canceller runs (uninterruptibly, see `FiberRuntime`):
                            the work already finished  -> resume at once
                            otherwise                  -> `stop()`, then wait for
                                                          `finish`, then resume

The middle case is the race that matters: the work can finish (its completion already
queued on the scheduler) just as the fiber is interrupted. Its outcome then reaches a
park the fiber has left, and is dropped; the canceller must not wait for a completion
that has already happened. Each run remembers that it finished, so it never waits twice
or forever.

`finish` is called on the scheduler thread, at most once (later calls are ignored).
"""

from __future__ import annotations

from typing import Any, Final

from .._core.exit import Exit, Failure, Success
from .._core.ids import ParentDone
from .loop import FiberRuntime, Resume, async_node, fail_node, succeed_node

UNIT: Final[Any] = succeed_node(None)


def exit_node(exit: Exit[Any, Any]) -> Any:
    """The node that ends as `exit` did."""
    if isinstance(exit, Success):
        return succeed_node(exit.value)
    assert isinstance(exit, Failure)
    return fail_node(exit.cause)


class Supervised:
    """One run of work that happens elsewhere; `register` is an ASYNC node's register.

    Subclasses define `start` (begin the work) and `stop` (the waiting fiber was
    interrupted: ask the work to stop; it still calls `finish` when it has).
    """

    __slots__ = ("_finished", "_resume", "_stopping", "fiber")

    def __init__(self, fiber: FiberRuntime) -> None:
        self.fiber = fiber
        self._resume: Resume | None = None
        self._stopping: Resume | None = None
        self._finished = False

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        """The fiber was interrupted: whatever `finish` is given is not used."""
        return self._stopping is not None

    def register(self, resume: Resume) -> object:
        self._resume = resume
        self.start()
        return async_node(self._cancel)

    def finish(self, outcome: object) -> None:
        """The work is over: resume the fiber with `outcome` (or, interrupted, end
        its wait). Scheduler thread only; only the first call counts."""
        if self._finished:
            return
        self._finished = True
        stopping = self._stopping
        if stopping is not None:
            stopping(UNIT)
        else:
            resume = self._resume
            assert resume is not None
            resume(outcome)

    def _cancel(self, resume: Resume) -> None:
        if self._finished:  # it ended as the interruption arrived: nothing to wait for
            resume(UNIT)
            return
        self._stopping = resume
        self.stop()


class WatchChild(Supervised):
    """Wait for one child fiber (started by `start_child`) and end as it ends; an
    interruption interrupts the child (reason `ParentDone`) and waits for it."""

    __slots__ = ("child",)

    def start_child(self, child: FiberRuntime) -> None:
        self.child = child
        child.add_observer(self.child_done)

    def child_done(self, exit: Exit[Any, Any]) -> None:
        self.finish(exit_node(exit))

    def stop(self) -> None:
        self.child.interrupt_as(self.fiber.id, ParentDone(self.fiber.id))
