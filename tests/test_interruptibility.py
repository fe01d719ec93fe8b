"""Interruptibility across `fork` (Effect-TS's rule, docs/interruption.md).

A forked fiber starts as interruptible as its parent was where it forked; a fiber forked
into a scope (`fork_scoped`, `fork_in`) is interruptible by that scope, whatever its
parent's region.
"""

from __future__ import annotations

from typing import Any, Never

from conftest import SEEDS, each_seed, run_seeded

from effectpy import Deferred, Do, Effect, Exit, Fiber, Scope, TaskTree, TestClock, gen, run_sync
from effectpy.effect import Restore


def test_a_fiber_forked_in_an_uninterruptible_region_is_uninterruptible() -> None:
    @gen
    def program() -> Do[Exit[str, Any]]:
        fiber = yield from Effect.sleep(1).as_("finished").fork().uninterruptible()
        interrupting = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(1)
        yield from interrupting.join()
        return (yield from fiber.await_())

    assert run_sync(TestClock.provide(program())) == Exit.succeed("finished")


def test_a_fiber_forked_in_an_interruptible_region_is_interruptible() -> None:
    @gen
    def program() -> Do[bool]:
        fiber = yield from Effect.never().fork()
        exit = yield from fiber.interrupt()
        return exit.is_failure()

    assert run_sync(program())


@each_seed
def test_an_uninterruptible_race_runs_the_loser_instead_of_dropping_it(seed: int) -> None:
    ran: list[str] = []
    loser = Effect.yield_now().and_then(Effect.sync(lambda: ran.append("loser")))
    race = Effect.race(Effect.succeed("winner"), loser.as_("loser")).uninterruptible()
    assert run_seeded(race, seed) in ("winner", "loser")
    assert ran == ["loser"]


@each_seed
def test_a_fiber_forked_in_a_mask_runs_the_finalizer_its_body_installs(seed: int) -> None:
    finalized: list[str] = []

    def body(restore: Restore) -> Effect[Fiber[Never, Never]]:
        guarded = restore(Effect.never()).on_interrupt(
            lambda _: Effect.sync(lambda: finalized.append("finalizer"))
        )
        return guarded.fork()

    program = Effect.uninterruptible_mask(body).flat_map(lambda fiber: fiber.interrupt())
    run_seeded(program, seed)
    assert finalized == ["finalizer"]


@each_seed
def test_a_grandchild_of_an_uninterruptible_fork_still_runs_its_on_interrupt(seed: int) -> None:
    finalized: list[str] = []
    leaf = (
        Effect.never()
        .interruptible()
        .on_interrupt(lambda _: Effect.sync(lambda: finalized.append("f")))
    )
    run_seeded(leaf.fork().fork().uninterruptible(), seed)
    assert finalized == ["f"]


def test_a_fiber_forked_into_a_scope_from_an_acquire_is_interrupted_when_it_closes() -> None:
    program = Effect.scoped(
        Effect.acquire_release(
            Effect.never().fork_scoped().as_("c"), lambda c, ex: Effect.unit()
        ).and_then(Effect.sleep(0.01))
    )
    assert run_sync(program.as_("closed")) == "closed"


@each_seed
def test_fork_in_from_an_uninterruptible_region_is_interruptible_by_its_scope(seed: int) -> None:
    stopped: list[str] = []

    def program(scope: Any) -> Effect[str]:
        def run(started: Deferred[None, Never]) -> Effect[str]:
            worker = started.succeed(None).and_then(Effect.never())
            guarded = worker.on_interrupt(lambda _: Effect.sync(lambda: stopped.append("w")))
            forked = guarded.fork_in(scope).uninterruptible()
            return forked.and_then(started.await_()).and_then(scope.close(Exit.unit())).as_("ok")

        return Deferred.make().flat_map(run)

    assert run_seeded(Scope.make().flat_map(program), seed) == "ok"
    assert stopped == ["w"]


def test_a_fiber_interrupted_before_its_first_step_runs_its_uninterruptible_prefix() -> None:
    for seed in SEEDS:
        ran: list[str] = []

        def record(ran: list[str] = ran) -> None:
            ran.append("prefix")

        prefix = Effect.sync(record)
        child = prefix.and_then(Effect.never().interruptible())
        program = child.fork().uninterruptible().flat_map(lambda fiber: fiber.interrupt())
        run_seeded(program, seed)
        assert ran == ["prefix"], seed


def test_group_children_inherit_the_region_of_the_fiber_that_runs_the_group() -> None:
    # In an uninterruptible region a failing sibling cannot stop the others: they run
    # to their end, and the group still fails with the first failure.
    finished: list[int] = []

    @gen
    def program() -> Do[Exit[Any, str]]:
        slow = Effect.sleep(1).and_then(Effect.sync(lambda: finished.append(1)))
        group = Effect.all(slow, Effect.fail("boom"), concurrency=2).uninterruptible()
        fiber = yield from group.exit().fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert exit.is_failure()
    assert finished == [1]


def test_a_daemon_forked_in_an_uninterruptible_region_is_stopped_when_the_run_ends() -> None:
    # A daemon is owned by nobody but the runtime, which interrupts it at the end of
    # the run: it starts interruptible whatever region forked it (else the run hangs).
    stopped: list[str] = []
    worker = Effect.never().on_interrupt(lambda _: Effect.sync(lambda: stopped.append("d")))
    acquire = worker.fork_daemon().and_then(Effect.yield_now())
    program = Effect.scoped(Effect.acquire_release(acquire, lambda f, e: Effect.unit()))
    assert run_sync(program.as_("done")) == "done"
    assert stopped == ["d"]


def test_a_shared_task_started_in_an_uninterruptible_region_is_cancelled_by_its_tree() -> None:
    tree = TaskTree()
    start = tree.with_task("bg", Effect.never(), shared=True).uninterruptible()
    tasks = run_sync(
        start.and_then(Effect.yield_now()).and_then(tree.close()).and_then(tree.snapshot())
    )
    assert [task["status"] for task in tasks] == ["cancelled"]
