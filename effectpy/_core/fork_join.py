"""Groups of child fibers that end together: the engine of `all`, `for_each`, `race`,
`race_all` and `timeout`.

A `Group` runs effects as supervised children of one parent fiber, at most `limit` at
a time, and decides when the group is over:

* `ALL`: every child must succeed; the first failure interrupts the others (reason
  `SiblingFailed`) and the group fails with that failure beside their causes.
* `RACE`: the first success wins and the others are interrupted (reason `RaceLost`);
  if every child fails, the group fails with all their causes.

Either way the group reports only after every child it started has ended, so the
losers' finalizers have run before the parent goes on. If the parent is interrupted
while waiting, the children are interrupted (reason `ParentDone`) and awaited by the
canceller.

Everything here runs on the parent's scheduler thread, inside fiber callbacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final

from .cause import Cause, Interrupt, combine_parallel
from .clock import clock_of
from .exit import Exit, Failure, Success
from .fiber_runtime import FiberRuntime, Resume, async_node, fail_node, succeed_node
from .ids import ParentDone, RaceLost, SiblingFailed, Timeout

ALL: Final = 0
RACE: Final = 1


class Group:
    """One run of a group of children; `register` is an ASYNC node's register."""

    __slots__ = (
        "_causes",
        "_decided",
        "_effects",
        "_limit",
        "_mode",
        "_next",
        "_on_stopped",
        "_outcome",
        "_parent",
        "_results",
        "_resume",
        "_running",
    )

    def __init__(
        self, parent: FiberRuntime, effects: Sequence[object], limit: int | None, mode: int
    ) -> None:
        self._parent = parent
        self._effects = effects
        self._limit = len(effects) if limit is None else limit
        self._mode = mode
        self._next = 0
        self._running: dict[int, FiberRuntime] = {}
        self._results: list[Any] = [None] * len(effects)
        self._causes: list[Cause[Any]] = []
        self._decided = False
        self._outcome: Any = None
        self._resume: Resume | None = None
        self._on_stopped: Resume | None = None

    def register(self, resume: Resume) -> object:
        self._resume = resume
        if not self._effects:
            if self._mode != ALL:
                raise ValueError("race_all needs at least one effect")
            resume(succeed_node([]))
        else:
            while self._next < len(self._effects) and len(self._running) < self._limit:
                self._launch()
        return async_node(self._cancel)

    def _launch(self) -> None:
        index = self._next
        self._next += 1
        self._running[index] = self._parent.fork_child(
            self._effects[index], observer=partial(self._child_done, index)
        )

    def _child_done(self, index: int, exit: Exit[Any, Any]) -> None:
        child = self._running.pop(index)
        if self._decided:
            if isinstance(exit, Failure) and self._mode == ALL:
                self._causes.append(exit.cause)
        elif isinstance(exit, Success):
            if self._mode == ALL:
                self._results[index] = exit.value
                if self._next < len(self._effects):
                    self._launch()
                elif not self._running:
                    self._decide(succeed_node(self._results))
            else:
                self._decide(succeed_node(exit.value))
                self._interrupt_running(RaceLost(child.id))
        else:
            assert isinstance(exit, Failure)
            self._causes.append(exit.cause)
            if self._mode == ALL:
                self._decide(None)
                self._interrupt_running(SiblingFailed(child.id))
            elif self._next < len(self._effects):
                self._launch()
            elif not self._running:
                self._decide(None)
        if self._decided and not self._running:
            self._report()

    def _decide(self, outcome: Any) -> None:
        """The result is known (None: a failure made of the collected causes)."""
        self._decided = True
        self._outcome = outcome

    def _interrupt_running(self, reason: Any) -> None:
        cause = Interrupt(self._parent.id, reason)
        for child in list(self._running.values()):
            child.interrupt_with(cause)

    def _report(self) -> None:
        if self._on_stopped is not None:  # the parent was interrupted meanwhile
            self._on_stopped(succeed_node(None))
            return
        outcome = self._outcome
        if outcome is None:
            outcome = fail_node(combine_parallel(self._causes))
        assert self._resume is not None
        self._resume(outcome)

    def _cancel(self, resume: Resume) -> None:
        """Canceller: the parent is interrupted; stop the children and wait for them."""
        self._decided = True
        if not self._running:
            resume(succeed_node(None))
            return
        self._on_stopped = resume
        self._interrupt_running(ParentDone(self._parent.id))


class TimeoutRun:
    """`timeout`: one child and a clock timer; the timer interrupts the child with
    reason `Timeout`. A child that still succeeds (it finished before the interruption
    reached it) keeps its value; one that ends interrupted gives `TimeoutError`."""

    __slots__ = ("_child", "_effect", "_expired", "_on_stopped", "_parent", "_seconds", "_timer")

    def __init__(self, parent: FiberRuntime, effect: object, seconds: float) -> None:
        self._parent = parent
        self._effect = effect
        self._seconds = seconds
        self._expired = False
        self._child: FiberRuntime | None = None
        self._timer: Any = None
        self._on_stopped: Resume | None = None

    def register(self, resume: Resume) -> object:
        parent = self._parent
        child = parent.fork_child(self._effect)
        self._child = child
        self._timer = clock_of(parent).call_later(parent, self._seconds, self._expire)
        child.add_observer(lambda exit: self._done(resume, exit))
        return async_node(self._cancel)

    def _expire(self) -> None:
        self._expired = True
        assert self._child is not None
        self._child.interrupt_as(self._parent.id, Timeout(self._seconds))

    def _done(self, resume: Resume, exit: Exit[Any, Any]) -> None:
        self._timer.cancel()
        if self._on_stopped is not None:
            self._on_stopped(succeed_node(None))
        elif isinstance(exit, Success):
            resume(succeed_node(exit.value))
        elif self._expired and isinstance(exit, Failure) and exit.cause.is_interrupted_only():
            resume(fail_node(Cause.fail(TimeoutError(f"timed out after {self._seconds:g}s"))))
        else:
            assert isinstance(exit, Failure)
            resume(fail_node(exit.cause))

    def _cancel(self, resume: Resume) -> None:
        self._timer.cancel()
        child = self._child
        assert child is not None
        if child.exit is not None:
            resume(succeed_node(None))
            return
        self._on_stopped = resume
        child.interrupt_as(self._parent.id, ParentDone(self._parent.id))


def group_register(
    parent: FiberRuntime, effects: Sequence[object], limit: int | None, mode: int
) -> Callable[[Resume], object]:
    return Group(parent, effects, limit, mode).register
