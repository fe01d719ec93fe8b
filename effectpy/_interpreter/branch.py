"""Branches: a child scope whose entry process and spawned processes converge.

`BranchRun` runs the entry effect in a child fiber of the fiber that opened the
branch; `spawn` adds more processes to the same branch (spawned work belongs to the
branch, not to whichever fiber spawned it). The branch reports only when everything it
owns has ended:

* success convergence: the entry succeeded and every spawned process succeeded; the
  branch succeeds with the entry's value.
* failure convergence: as soon as any process (or the entry) fails, every other one is
  interrupted (reason `SiblingFailed`) and awaited; the branch fails with the causes of
  the processes that failed on their own (not those it interrupted).

With `limit`, at most that many spawned processes run at once; the rest wait, in order,
for a slot (their fibers exist, so their handles can be awaited).
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import Any, Final

from .._core.cause import Cause, Interrupt, combine_parallel
from .._core.exit import Exit, Failure, Success
from .._core.ids import ParentDone, SiblingFailed
from .._core.refs import FiberRef
from .loop import FiberRuntime, fail_node, succeed_node
from .supervise import UNIT, Supervised

CURRENT_BRANCH: Final = FiberRef(None, "branch")


class BranchRun(Supervised):
    """One run of `branch(entry)` (a `Supervised` run)."""

    __slots__ = (
        "_causes",
        "_closed",
        "_entry",
        "_entry_exit",
        "_failing",
        "_limit",
        "_name",
        "_pending",
        "_running",
    )

    def __init__(self, parent: FiberRuntime, entry: object, limit: int | None, name: str | None):
        super().__init__(parent)
        self._entry = entry
        self._limit = limit
        self._name = name
        self._running: dict[FiberRuntime, None] = {}
        self._pending: deque[tuple[FiberRuntime, object]] = deque()
        self._causes: list[Cause[Any]] = []
        self._entry_exit: Exit[Any, Any] | None = None
        self._failing = False
        self._closed = False

    @property
    def name(self) -> str | None:
        return self._name

    def start(self) -> None:
        refs = dict(self.fiber.refs)
        refs[CURRENT_BRANCH] = self
        entry = self.fiber.fork_child(self._entry, refs=refs)
        if self._name is not None:
            entry.rename(self._name)
        self._running[entry] = None
        entry.add_observer(partial(self._ended, True, entry))

    def spawn(self, spawner: FiberRuntime, effect: object) -> FiberRuntime:
        """Start `effect` as a process of this branch (from any of its fibers)."""
        if self._closed:
            raise RuntimeError("spawn: this branch has already converged; spawn inside it")
        fiber = self.fiber.new_child(
            refs=spawner.refs, scope=spawner.scope, interruptible=spawner.interruptible
        )
        if self._failing:
            fiber.interrupt_as(spawner.id, SiblingFailed(spawner.id))
        elif self._limit is not None and self._spawned_running() >= self._limit:
            self._pending.append((fiber, effect))
            return fiber
        self._launch(fiber, effect)
        return fiber

    def _spawned_running(self) -> int:
        return len(self._running) - (0 if self._entry_exit is not None else 1)

    def _launch(self, fiber: FiberRuntime, effect: object) -> None:
        self._running[fiber] = None
        fiber.add_observer(partial(self._ended, False, fiber))
        fiber.start(effect)

    def _ended(self, is_entry: bool, fiber: FiberRuntime, exit: Exit[Any, Any]) -> None:
        self._running.pop(fiber, None)
        if is_entry:
            self._entry_exit = exit
        if isinstance(exit, Failure) and not exit.cause.is_interrupted_only():
            self._causes.append(exit.cause)
            self._fail(SiblingFailed(fiber.id))
        elif isinstance(exit, Failure) and is_entry and not self._failing:
            # The entry was interrupted from inside (Effect.interrupt()): the branch fails.
            self._causes.append(exit.cause)
            self._fail(SiblingFailed(fiber.id))
        while self._pending and (self._failing or self._spawned_running() < (self._limit or 0)):
            waiting, effect = self._pending.popleft()
            self._launch(waiting, effect)
        if self._entry_exit is not None and not self._running and not self._pending:
            self._report()

    def _fail(self, reason: Any) -> None:
        if self._failing:
            return
        self._failing = True
        cause = Interrupt(self.fiber.id, reason)
        for other in list(self._running):
            other.interrupt_with(cause)
        for waiting, _ in self._pending:
            waiting.interrupt_with(cause)

    def _report(self) -> None:
        self._closed = True
        if self.stopping:
            self.finish(UNIT)
        elif self._causes:
            self.finish(fail_node(combine_parallel(self._causes)))
        else:
            exit = self._entry_exit
            assert isinstance(exit, Success)
            self.finish(succeed_node(exit.value))

    def stop(self) -> None:
        """The branch's fiber is interrupted: stop everything it owns, then report."""
        if not self._failing:
            self._failing = True
            cause = Interrupt(self.fiber.id, ParentDone(self.fiber.id))
            for other in list(self._running):
                other.interrupt_with(cause)
            for waiting, _ in self._pending:
                waiting.interrupt_with(cause)
        while self._pending:
            waiting, effect = self._pending.popleft()
            self._launch(waiting, effect)
        if not self._running:
            self._closed = True
            self.finish(UNIT)
