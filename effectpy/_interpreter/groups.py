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

Both are `Supervised` runs (`supervise.py`). Everything here runs on the parent's
scheduler thread, inside fiber callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from .._core import opcodes as op
from .._core.cause import Cause, Interrupt, combine_parallel
from .._core.clock import clock_of
from .._core.exit import Exit, Failure, Success
from .._core.ids import ParentDone, RaceLost, SiblingFailed, Timeout
from .loop import FiberRuntime, async_node, fail_node, handles, succeed_node
from .supervise import UNIT, Supervised, WatchChild, exit_node


class Group(Supervised):
    """One run of a group of children (`race`: the first success wins; else all must
    succeed)."""

    __slots__ = (
        "_causes",
        "_decided",
        "_effects",
        "_limit",
        "_next",
        "_outcome",
        "_race",
        "_results",
        "_running",
    )

    def __init__(
        self, parent: FiberRuntime, effects: Sequence[object], limit: int | None, race: bool
    ) -> None:
        super().__init__(parent)
        self._effects = effects
        self._limit = len(effects) if limit is None else limit
        self._race = race
        self._next = 0
        self._running: dict[int, FiberRuntime] = {}
        self._results: list[Any] = [None] * len(effects)
        self._causes: list[Cause[Any]] = []
        self._decided = False
        self._outcome: Any = None

    def start(self) -> None:
        if not self._effects:
            if self._race:
                raise ValueError("race_all needs at least one effect")
            self.finish(succeed_node([]))
            return
        while self._next < len(self._effects) and len(self._running) < self._limit:
            self._launch()

    def _launch(self) -> None:
        index = self._next
        self._next += 1
        parent = self.fiber
        child = parent.fork_child(self._effects[index], observer=partial(self._child_done, index))
        if not self._race:  # what an item forks outlives its worker (see `graft`)
            child.graft = parent.graft or parent
        self._running[index] = child

    def _child_done(self, index: int, exit: Exit[Any, Any]) -> None:
        child = self._running.pop(index)
        if self._decided:
            if isinstance(exit, Failure) and not self._race:
                self._causes.append(exit.cause)
        elif isinstance(exit, Success):
            if not self._race:
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
            if not self._race:
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
        cause = Interrupt(self.fiber.id, reason)
        for child in list(self._running.values()):
            child.interrupt_with(cause)

    def _report(self) -> None:
        outcome = self._outcome
        if self.stopping:
            outcome = UNIT
        elif outcome is None:
            outcome = fail_node(combine_parallel(self._causes))
        self.finish(outcome)

    def stop(self) -> None:
        """The parent is interrupted: stop the children (`finish` when they are done)."""
        self._decided = True
        if not self._running:
            self.finish(UNIT)
            return
        self._interrupt_running(ParentDone(self.fiber.id))


class TimeoutRun(WatchChild):
    """`timeout`: one child and a clock timer; the timer interrupts the child with
    reason `Timeout`. A child that still succeeds (it finished before the interruption
    reached it) keeps its value; one that ends interrupted gives `TimeoutError`."""

    __slots__ = ("_effect", "_expired", "_seconds", "_timer")

    def __init__(self, parent: FiberRuntime, effect: object, seconds: float) -> None:
        super().__init__(parent)
        self._effect = effect
        self._seconds = seconds
        self._expired = False
        self._timer: Any = None

    def start(self) -> None:
        parent = self.fiber
        self.start_child(parent.fork_child(self._effect))
        self._timer = clock_of(parent).call_later(parent, self._seconds, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self.child.interrupt_as(self.fiber.id, Timeout(self._seconds))

    def child_done(self, exit: Exit[Any, Any]) -> None:
        self._timer.cancel()
        if self._expired and isinstance(exit, Failure) and exit.cause.is_interrupted_only():
            error = TimeoutError(f"timed out after {self._seconds:g}s")
            self.finish(fail_node(Cause.fail(error)))
        else:
            self.finish(exit_node(exit))

    def stop(self) -> None:
        self._timer.cancel()
        super().stop()


@handles(op.GROUP)
def run_group(fiber: FiberRuntime, node: Any) -> Any:
    return async_node(Group(fiber, node.effects, node.limit, node.first_wins).register)


@handles(op.TIMEOUT)
def run_timeout(fiber: FiberRuntime, node: Any) -> Any:
    return async_node(TimeoutRun(fiber, node.effect, node.seconds).register)
