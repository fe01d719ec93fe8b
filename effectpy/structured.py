"""Structured convergence: `branch` opens a child scope, `spawn` adds work to it.

`branch(entry)` runs `entry` as the entry process of a new child scope. Work started
inside with `spawn(effect)` belongs to that scope, whichever fiber spawned it, and the
branch converges before it returns:

* when the entry succeeds, `branch` waits for every spawned process, then returns the
  entry's value;
* when any process fails, every other one is interrupted (reason `SiblingFailed`),
  their finalizers run, and `branch` fails with the original failure (`run_sync` raises
  it, or an `ExceptionGroup` when several failed on their own).

A failure handled inside the spawned effect stays local. Contrast with `fork`: a forked
child is interrupted when its parent's effect ends; a spawned process is waited for.

>>> from effectpy import Effect, run_sync
>>> from effectpy.structured import branch, spawn
>>> audit: list[str] = []
>>> def save_profile():
...     write_audit = Effect.sleep(0.02).and_then(Effect.sync(lambda: audit.append("written")))
...     return spawn(write_audit).and_then(Effect.sleep(0.005)).as_("profile saved")
>>> run_sync(branch(save_profile()))
'profile saved'
>>> audit
['written']

Typing: `spawn(effect)` records the spawned effect's error type `E` as `Spawned[E]` in
the requirements `R`; `branch` turns it into part of its own error type. Provide the
entry's services before `branch` (`branch(entry.provide(ctx))`): without the mypy
plugin, `branch` can only remove `Spawned[...]` when it is all that is left in `R`.
"""

from __future__ import annotations

from typing import Any, Generic, Never, TypeVar, final, overload

from ._interpreter.branch import CURRENT_BRANCH, BranchRun
from ._interpreter.loop import FiberRuntime
from .effect import Effect, _require_effect
from .effect import _with_fiber as with_fiber
from .fiber import Fiber

A = TypeVar("A")
B = TypeVar("B")
E = TypeVar("E")
E2 = TypeVar("E2")
R = TypeVar("R")
R2 = TypeVar("R2")
E_co = TypeVar("E_co", covariant=True)

__all__ = ["Spawned", "branch", "spawn"]


@final
class Spawned(Generic[E_co]):
    """A requirement marker: "spawns work that may fail with `E`, so it must run
    inside a `branch`". Never instantiated; `branch` removes it from `R`."""

    __slots__ = ()

    def __init__(self) -> None:
        raise TypeError("Spawned is a type-level marker, not a value")


def spawn(effect: Effect[B, E2, R2]) -> Effect[Fiber[B, E2], Never, R2 | Spawned[E2]]:
    """Start `effect` as a process of the enclosing `branch`, and go on at once with
    its `Fiber`. Outside any branch this is a defect.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.structured import branch, spawn
    >>> run_sync(branch(spawn(Effect.succeed(2)).flat_map(lambda f: f.join())))
    2
    """

    def start(fiber: FiberRuntime) -> Effect[Fiber[B, E2]]:
        run = fiber.get_ref(CURRENT_BRANCH)
        if not isinstance(run, BranchRun):
            raise RuntimeError("spawn needs an enclosing branch(...): it adds work to one")
        return Effect.succeed(Fiber.of(run.spawn(fiber, effect)))

    return with_fiber(start)


@overload
def branch(
    entry: Effect[A, E, Spawned[E2]], *, concurrency: int | None = None, name: str | None = None
) -> Effect[A, E | E2, Never]: ...
@overload
def branch(
    entry: Effect[A, E, R], *, concurrency: int | None = None, name: str | None = None
) -> Effect[A, E, R]: ...
def branch(
    entry: Effect[A, E, Any], *, concurrency: int | None = None, name: str | None = None
) -> Effect[A, Any, Any]:
    """Run `entry` as the entry process of a new child scope and converge: wait for
    everything spawned in it, or, on the first failure, stop it all and fail.

    With `concurrency=n`, at most `n` spawned processes run at once; the others wait
    their turn in order.

    >>> from effectpy import Effect, run_sync_exit
    >>> from effectpy.structured import branch, spawn
    >>> failing = spawn(Effect.fail("email provider failed").delay(0.005))
    >>> never_logged = Effect.sleep(1).and_then(Effect.sync(lambda: print("launched")))
    >>> run_sync_exit(branch(failing.and_then(never_logged))).cause.failures()
    ['email provider failed']
    """
    _require_effect(entry, "branch")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise ValueError(f"branch: concurrency must be a positive int, got {concurrency!r}")
    return with_fiber(
        lambda fiber: Effect.async_(BranchRun(fiber, entry, concurrency, name).register)  # type: ignore[arg-type]
    )
