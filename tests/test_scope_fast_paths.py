"""The fiber loop's own handling of scopes and resources keeps their guarantees.

`Effect.scoped`, `acquire_release`, `acquire_use_release`, `add_finalizer` and `close`
are nodes the loop runs itself, with shortcuts: a sync acquire runs inline as one
atomic step, a sync finalizer on the success path runs inline without an
uninterruptible region, a closing sequential scope runs its sync finalizers inline, and
`and_then(effect)` is a node of its own. These tests pin what each shortcut must still
do: release exactly once with the right exit, last acquired first, every finalizer even
when one fails, no failure lost, a defect that names the culprit, constant stack, and
interruption honoured where it used to be.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from effectpy import (
    Deferred,
    Die,
    Do,
    Effect,
    Exit,
    Failure,
    FiberId,
    Scope,
    debug_tree,
    gen,
    run_sync,
)

A = TypeVar("A")

FINALIZER_DEFECT = RuntimeError("defect in a sync finalizer")
OTHER_FINALIZER_DEFECT = RuntimeError("defect in another sync finalizer")


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def raising(
    error: BaseException, log: list[Any] | None = None, entry: object = None
) -> Effect[None]:
    """One `Effect.sync` node (not an `Effect.die`) whose thunk raises `error`, after
    appending `entry` to `log` if there is a log."""

    def run() -> None:
        if log is not None:
            log.append(entry)
        raise error

    return Effect.sync(run)


def recording_release(log: list[Any]) -> Callable[[str, Exit[Any, Any]], Effect[None]]:
    """A release that logs `(resource, exit)` in a sync finalizer."""
    return lambda resource, exit: record(log, (resource, exit))


def logged(log: list[Any], entry: object, value: A) -> A:
    """Append `entry` to `log`; give back `value`."""
    log.append(entry)
    return value


def only_defect(exit: Exit[Any, Any]) -> BaseException:
    """The one defect of a failed exit (and nothing else in its cause)."""
    assert isinstance(exit, Failure), exit
    [defect] = exit.cause.defects()
    assert exit == Failure(Die(defect))
    return defect


# -- debug_tree -----------------------------------------------------------------------


def strip_guides(line: str) -> str:
    return re.sub(r"^[│├└─ ]*", "", line)


def settle() -> Effect[None]:
    return Effect.yield_now().and_then(Effect.yield_now()).and_then(Effect.yield_now())


def test_debug_tree_shows_a_parked_fibers_effect_scoped_scopes_until_they_close() -> None:
    @gen
    def program() -> Do[tuple[str, str, str, FiberId]]:
        inside = yield from Deferred[None].make()
        after = yield from Deferred[None].make()
        resource = Effect.acquire_release(Effect.sync(lambda: "r"), lambda r, e: Effect.unit())
        extra = Effect.add_finalizer(lambda _: Effect.unit())
        nested = Effect.scoped(extra.and_then(inside.await_()))
        worker = (
            Effect.scoped(resource.and_then(extra).and_then(extra).and_then(nested))
            .and_then(after.await_())
            .named("worker")
        )
        fiber = yield from worker.fork()
        yield from settle()
        parked = yield from debug_tree()
        yield from inside.succeed(None)
        yield from settle()
        closed = yield from debug_tree()
        yield from after.succeed(None)
        yield from fiber.join()
        done = yield from debug_tree()
        return parked, closed, done, fiber.id

    parked, closed, done, worker = run_sync(program())
    assert [strip_guides(line) for line in parked.splitlines()[1:]] == [
        f"fiber {worker} suspended",
        "scope sequential, 3 finalizers",
        "scope sequential, 1 finalizer",
    ]
    assert [strip_guides(line) for line in closed.splitlines()[1:]] == [f"fiber {worker} suspended"]
    assert len(done.splitlines()) == 1


def test_debug_tree_shows_the_effect_scoped_scope_of_the_fiber_that_draws_it() -> None:
    resource = Effect.acquire_release(Effect.sync(lambda: "r"), lambda r, e: Effect.unit())
    inside = run_sync(Effect.scoped(resource.and_then(debug_tree())))
    after = run_sync(Effect.scoped(resource).and_then(debug_tree()))
    assert [strip_guides(line) for line in inside.splitlines()[1:]] == [
        "scope sequential, 1 finalizer"
    ]
    assert len(after.splitlines()) == 1


# -- the registry of user-made scopes (for debug_tree) ---------------------------------


def test_scopes_user_code_drops_or_closes_do_not_pile_up_in_the_registry() -> None:
    from effectpy._core import scope as core  # internal: the weak registry

    def make_and_drop(left: int) -> Effect[None]:
        if left == 0:
            return Effect.unit()
        closed_or_dropped = Scope.make().flat_map(
            lambda scope: scope.close(Exit.unit()) if left % 2 else Effect.unit()
        )
        return closed_or_dropped.and_then(Effect.suspend(lambda: make_and_drop(left - 1)))

    run_sync(make_and_drop(5_000))
    # Pruned as the list doubles: bounded by the scopes still open (none), not by 5,000.
    assert len(core._user_scopes) < 200


def test_an_open_user_scope_stays_in_the_registry_through_pruning() -> None:
    from effectpy._core import scope as core  # internal: the weak registry

    kept = run_sync(Scope.make(name="kept"))
    run_sync(Effect.for_each(range(1_000), lambda _: Scope.make().as_unit()))
    assert any(ref() is kept for ref in core._user_scopes)
