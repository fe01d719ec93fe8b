"""Interruption: a message to a fiber that stops it between ops, runs its finalizers and
skips its error handlers; uninterruptible regions hold it back until they end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Never

import pytest
from conftest import (
    SEEDS,
    Latch,
    Step,
    and_then_chain,
    each_seed,
    run_interleaved,
    run_seeded,
    yields,
)

from effectpy import (
    Cause,
    Do,
    Effect,
    Exit,
    Failure,
    FiberId,
    Interrupt,
    Manual,
    ParentDone,
    Runtime,
    Success,
    TestClock,
    gen,
    run_sync,
    run_sync_exit,
)


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def spin() -> Effect[None]:
    """An endless synchronous loop: it never parks or yields on its own."""
    return Effect.unit().flat_map(lambda _: spin())


def started_then(latch: Latch, effect: Effect[Any, Any]) -> Effect[Any, Any]:
    return latch.open().and_then(effect)


def interrupt_when_started(
    effect: Callable[[Latch], Effect[Any, Any]],
) -> Effect[tuple[FiberId, Exit[Any, Any]]]:
    """Fork `effect(started)`, wait until it opens `started`, interrupt it; give the
    interrupter's id and the fiber's exit."""

    @gen
    def program() -> Do[tuple[FiberId, Exit[Any, Any]]]:
        started = Latch()
        fiber = yield from effect(started).fork()
        yield from started.wait()
        me = yield from Effect.fiber_id()
        return me, (yield from fiber.interrupt())

    return program()


# -- stopping a fiber -----------------------------------------------------------------


def test_interrupt_stops_a_fiber_parked_forever_and_gives_its_exit() -> None:
    me, exit = run_sync(
        interrupt_when_started(lambda started: started_then(started, Effect.never()))
    )
    assert exit == Failure(Cause.interrupt(me, Manual()))


@each_seed
def test_interrupt_stops_a_fiber_stuck_in_an_endless_synchronous_loop(seed: int) -> None:
    log: list[str] = []
    me, exit = run_interleaved(
        interrupt_when_started(
            lambda started: started_then(started, spin()).ensuring(record(log, "finalizer"))
        ),
        seed,
    )
    assert exit == Failure(Cause.interrupt(me, Manual()))
    assert log == ["finalizer"]


def test_an_endless_loop_does_not_starve_other_fibers_with_a_small_budget() -> None:
    @gen
    def program() -> Do[str]:
        spinner = yield from spin().fork()
        other = yield from Effect.succeed("other fiber ran").fork()
        value = yield from other.join()
        yield from spinner.interrupt()
        return value

    assert Runtime(budget=16).run_sync(program()) == "other fiber ran"


@each_seed
def test_an_interrupt_while_parked_between_and_then_steps_stops_the_chain(seed: int) -> None:
    log: list[str] = []
    started, gate = Latch(), Latch()
    chain = (
        record(log, "first")
        .and_then(started.open())
        .and_then(gate.wait())
        .and_then(record(log, "second"))
    )

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from chain.fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()
        yield from gate.open()
        return exit

    exit = run_seeded(program(), seed)
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert log == ["first"]


HUNDRED_THOUSAND = 100_000


@pytest.mark.parametrize("right", [False, True], ids=["left-nested", "right-nested"])
@pytest.mark.parametrize("step", ["plain value", "sync"])  # effectful steps park anyway
@pytest.mark.parametrize("seed", SEEDS[:8])
def test_an_interrupt_stops_a_long_and_then_chain_midway(
    step: Step, right: bool, seed: int
) -> None:
    # No step parks: the interrupt lands when the chain's fiber gives way at the end of
    # its op budget, which `and_then` steps must use up like any other op (even after a
    # plain value, which the runtime may go past at once), or such a chain would never
    # give way.
    log: list[int] = []
    ended: list[str] = []
    started = Latch()
    chain = (
        started.open()
        .and_then(and_then_chain(step, HUNDRED_THOUSAND, log, right=right))
        .and_then(record(ended, "end"))
    )

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from chain.fork()
        yield from started.wait()
        return (yield from fiber.interrupt())

    exit = run_interleaved(program(), seed)
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert ended == []
    assert len(log) < HUNDRED_THOUSAND
    assert log == list(range(len(log)))


def test_interrupting_a_fiber_blocked_in_async_runs_its_canceller() -> None:
    log: list[str] = []

    def register(resume: Callable[[Effect[None]], None]) -> Effect[None]:
        return record(log, "canceller")

    _, exit = run_sync(
        interrupt_when_started(lambda started: started_then(started, Effect.async_(register)))
    )
    assert exit.is_interrupted()
    assert log == ["canceller"]


def test_the_async_canceller_finishes_before_interrupt_returns() -> None:
    log: list[str] = []
    release = Latch()

    def register(resume: Callable[[Effect[None]], None]) -> Effect[None]:
        return release.wait().and_then(record(log, "canceller done"))

    @gen
    def program() -> Do[None]:
        started = Latch()
        fiber = yield from started_then(started, Effect.async_(register)).fork()
        yield from started.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from yields(10)
        assert (yield from interrupter.poll()) is None
        yield from release.open()
        yield from interrupter.join()
        yield from record(log, "interrupt returned")
        return None

    run_sync(program())
    assert log == ["canceller done", "interrupt returned"]


def test_a_canceller_is_not_run_when_the_callback_came_first() -> None:
    log: list[str] = []

    def register(resume: Callable[[Effect[str]], None]) -> Effect[None]:
        resume(Effect.succeed("resumed"))
        return record(log, "canceller")

    assert run_sync(Effect.async_(register)) == "resumed"
    assert log == []


def test_a_late_resume_of_an_interrupted_fiber_is_ignored() -> None:
    resumes: list[Callable[[Effect[str]], None]] = []

    def register(resume: Callable[[Effect[str]], None]) -> None:
        resumes.append(resume)

    @gen
    def program() -> Do[Exit[str, Never]]:
        fiber = yield from Effect.async_(register).fork()
        yield from yields(3)
        exit = yield from fiber.interrupt()
        resumes[0](Effect.succeed("too late"))
        yield from yields(3)
        assert (yield from fiber.await_()) == exit
        return exit

    assert run_sync(program()).is_interrupted()


# -- waiting for finalizers -----------------------------------------------------------


def test_interrupt_waits_for_a_finalizer_that_sleeps() -> None:
    log: list[str] = []
    slow_cleanup = Effect.sleep(5).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[None]:
        started = Latch()
        fiber = yield from started_then(started, Effect.never()).ensuring(slow_cleanup).fork()
        yield from started.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(4)
        assert (yield from interrupter.poll()) is None
        yield from TestClock.adjust(1)
        yield from interrupter.join()
        yield from record(log, "interrupt returned")
        return None

    run_sync(TestClock.provide(program()))
    assert log == ["finalizer done", "interrupt returned"]


@each_seed
def test_interrupt_waits_for_a_finalizer_that_waits_for_another_fiber(seed: int) -> None:
    log: list[str] = []
    release = Latch()
    slow_cleanup = release.wait().and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[None]:
        started = Latch()
        fiber = yield from started_then(started, Effect.never()).ensuring(slow_cleanup).fork()
        yield from started.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from yields(10)
        assert (yield from interrupter.poll()) is None
        yield from release.open()
        yield from interrupter.join()
        yield from record(log, "interrupt returned")
        return None

    run_interleaved(program(), seed)
    assert log == ["finalizer done", "interrupt returned"]


def test_finalizers_of_an_interrupted_fiber_run_innermost_first() -> None:
    log: list[str] = []
    _, exit = run_sync(
        interrupt_when_started(
            lambda started: (
                started_then(started, Effect.never())
                .ensuring(record(log, "inner"))
                .ensuring(record(log, "outer"))
            )
        )
    )
    assert exit.is_interrupted()
    assert log == ["inner", "outer"]


# -- uninterruptible regions ----------------------------------------------------------


def region(log: list[str], started: Latch) -> Effect[None]:
    """Start, sleep 1s, end: uninterruptibly. Then 'after', which must never run for
    an interrupted fiber."""
    body = (
        record(log, "region start")
        .and_then(started.open())
        .and_then(Effect.sleep(1))
        .and_then(record(log, "region end"))
    )
    return body.uninterruptible().and_then(record(log, "after the region"))


@each_seed
def test_an_uninterruptible_region_defers_interruption_until_its_end(seed: int) -> None:
    log: list[str] = []

    @gen
    def program() -> Do[tuple[FiberId, Exit[None, Never] | None, Exit[None, Never]]]:
        started = Latch()
        fiber = yield from region(log, started).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from yields(5)
        during = yield from fiber.poll()
        yield from TestClock.adjust(1)
        me = yield from Effect.fiber_id()
        return me, during, (yield from fiber.await_())

    me, during, exit = run_interleaved(TestClock.provide(program()), seed)
    assert during is None
    assert log == ["region start", "region end"]
    assert exit == Failure(Cause.interrupt(me, Manual()))


def test_interrupt_waits_for_an_uninterruptible_region_to_end() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[None]:
        started = Latch()
        fiber = yield from region(log, started).fork()
        yield from started.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(0.5)
        assert (yield from interrupter.poll()) is None
        yield from TestClock.adjust(0.5)
        yield from interrupter.join()
        yield from record(log, "interrupt returned")
        return None

    run_sync(TestClock.provide(program()))
    assert log == ["region start", "region end", "interrupt returned"]


def test_uninterruptible_mask_restore_makes_its_part_interruptible() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[None]:
        return Effect.uninterruptible_mask(
            lambda restore: record(log, "masked").and_then(
                restore(started.open().and_then(Effect.never())).ensuring(
                    record(log, "restored part stopped")
                )
            )
        ).and_then(record(log, "after"))

    me, exit = run_sync(interrupt_when_started(body))
    assert exit == Failure(Cause.interrupt(me, Manual()))
    assert log == ["masked", "restored part stopped"]


def test_uninterruptible_mask_keeps_the_rest_uninterruptible() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[None]:
        return Effect.uninterruptible_mask(
            lambda restore: (
                restore(Effect.unit())
                .and_then(started.open())
                .and_then(Effect.sleep(1))
                .and_then(record(log, "masked part finished"))
            )
        ).and_then(record(log, "after"))

    @gen
    def program() -> Do[Exit[None, Never]]:
        started = Latch()
        fiber = yield from body(started).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.await_())

    exit = run_sync(TestClock.provide(program()))
    assert exit.is_interrupted()
    assert log == ["masked part finished"]


def test_restore_inside_an_uninterruptible_region_stays_uninterruptible() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[None]:
        inner = Effect.uninterruptible_mask(
            lambda restore: restore(started.open().and_then(Effect.sleep(1)))
        )
        return inner.and_then(record(log, "region end")).uninterruptible()

    @gen
    def program() -> Do[Exit[None, Never]]:
        started = Latch()
        fiber = yield from body(started).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.await_())

    exit = run_sync(TestClock.provide(program()))
    assert exit.is_interrupted()
    assert log == ["region end"]


def test_an_interrupt_held_back_by_a_mask_is_delivered_when_restore_begins() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[None]:
        return Effect.uninterruptible_mask(
            lambda restore: (
                started.open()
                .and_then(Effect.sleep(1))
                .and_then(record(log, "masked part finished"))
                .and_then(restore(record(log, "restored part ran")))
                .and_then(record(log, "after restore"))
            )
        )

    @gen
    def program() -> Do[Exit[None, Never]]:
        started = Latch()
        fiber = yield from body(started).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.await_())

    assert run_sync(TestClock.provide(program())).is_interrupted()
    assert log == ["masked part finished"]


def test_a_failure_ending_an_interrupted_uninterruptible_region_keeps_both_causes() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[None]:
        region: Effect[None, str] = (
            started.open().and_then(Effect.sleep(1)).and_then(Effect.fail("region failed"))
        ).uninterruptible()
        return region.catch_all(lambda e: record(log, f"handler saw {e}"))

    @gen
    def program() -> Do[tuple[FiberId, Exit[None, Never]]]:
        started = Latch()
        fiber = yield from body(started).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(1)
        return (yield from Effect.fiber_id()), (yield from fiber.await_())

    me, exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    assert exit.cause.failures() == ["region failed"]
    assert exit.cause.interruptions() == [Interrupt(me, Manual())]
    assert log == []


def test_a_finalizer_is_not_cut_short_by_a_second_interrupt() -> None:
    log: list[str] = []
    slow_cleanup = Effect.sleep(5).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[Exit[Never, Never]]:
        started = Latch()
        fiber = yield from started_then(started, Effect.never()).ensuring(slow_cleanup).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(1)
        second = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(4)
        return (yield from second.join())

    assert run_sync(TestClock.provide(program())).is_interrupted()
    assert log == ["finalizer done"]


def test_interruptible_opens_a_hole_in_an_uninterruptible_region() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[None]:
        hole = started.open().and_then(Effect.never()).interruptible()
        return hole.and_then(record(log, "rest of the region")).uninterruptible()

    me, exit = run_sync(interrupt_when_started(body))
    assert exit == Failure(Cause.interrupt(me, Manual()))
    assert log == []


# -- handlers are skipped, finalizers run ---------------------------------------------


def test_catch_all_cause_does_not_run_for_an_interrupted_fiber() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[str]:
        return (
            started_then(started, Effect.never())
            .catch_all_cause(lambda cause: record(log, "handler").as_("recovered"))
            .ensuring(record(log, "finalizer"))
        )

    me, exit = run_sync(interrupt_when_started(body))
    assert exit == Failure(Cause.interrupt(me, Manual()))
    assert log == ["finalizer"]


def test_catch_all_does_not_run_for_an_interrupted_fiber() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[str]:
        failing: Effect[str, str] = started_then(started, Effect.never()).and_then(
            Effect.fail("typed")
        )
        return failing.catch_all(lambda e: record(log, "handler").as_(e)).ensuring(
            record(log, "finalizer")
        )

    _, exit = run_sync(interrupt_when_started(body))
    assert exit.is_interrupted()
    assert log == ["finalizer"]


def test_a_failure_in_a_finalizer_of_an_interrupted_fiber_is_not_caught_either() -> None:
    log: list[str] = []

    def body(started: Latch) -> Effect[str]:
        failing_cleanup = Effect.die(RuntimeError("cleanup failed"))
        return (
            started_then(started, Effect.never())
            .ensuring(failing_cleanup)
            .catch_all_cause(lambda cause: record(log, "handler").as_("recovered"))
        )

    me, exit = run_sync(interrupt_when_started(body))
    assert isinstance(exit, Failure)
    assert exit.cause.interruptions() == [Interrupt(me, Manual())]
    assert [str(d) for d in exit.cause.defects()] == ["cleanup failed"]
    assert log == []


def test_the_exit_of_an_interrupted_fiber_cannot_be_turned_into_a_success() -> None:
    def body(started: Latch) -> Effect[Any]:
        return started_then(started, Effect.never()).exit().map(lambda exit: ("saw", exit))

    _, exit = run_sync(interrupt_when_started(body))
    assert exit.is_interrupted()


def test_on_interrupt_receives_the_interrupter_and_the_reason() -> None:
    seen: list[Interrupt] = []

    def body(started: Latch) -> Effect[Never]:
        return started_then(started, Effect.never()).on_interrupt(
            lambda stops: Effect.sync(lambda: seen.extend(stops))
        )

    me, exit = run_sync(interrupt_when_started(body))
    assert seen == [Interrupt(me, Manual())]
    assert exit == Failure(Cause.interrupt(me, Manual()))


def test_on_interrupt_does_not_run_on_success_or_failure() -> None:
    log: list[str] = []
    failing: Effect[int, str] = Effect.fail("x")

    def on_interrupt(_: list[Interrupt]) -> Effect[None]:
        return record(log, "on_interrupt")

    assert run_sync(Effect.succeed(1).on_interrupt(on_interrupt)) == 1
    assert run_sync_exit(failing.on_interrupt(on_interrupt)).is_failure()
    assert log == []


# -- Effect.interrupt -----------------------------------------------------------------


def test_effect_interrupt_interrupts_the_fiber_itself() -> None:
    log: list[str] = []
    program = (
        record(log, "before")
        .and_then(Effect.interrupt())
        .and_then(record(log, "after"))
        .ensuring(record(log, "finalizer"))
    )

    @gen
    def run() -> Do[tuple[FiberId, Exit[None, Never]]]:
        fiber = yield from program.fork()
        return fiber.id, (yield from fiber.await_())

    fiber_id, exit = run_sync(run())
    assert exit == Failure(Cause.interrupt(fiber_id, Manual()))
    assert log == ["before", "finalizer"]


def test_effect_interrupt_in_a_child_does_not_interrupt_its_parent() -> None:
    @gen
    def program() -> Do[str]:
        fiber = yield from Effect.interrupt().fork()
        exit = yield from fiber.await_()
        assert exit.is_interrupted()
        return "parent goes on"

    assert run_sync(program()) == "parent goes on"


# -- supervision and interruption -----------------------------------------------------


@each_seed
def test_interrupting_a_grandparent_reaches_its_grandchildren(seed: int) -> None:
    seen: dict[str, list[Interrupt]] = {}
    log: list[str] = []
    ready = Latch()

    def watched(name: str, effect: Effect[Never]) -> Effect[Never]:
        return effect.on_interrupt(
            lambda stops: Effect.sync(lambda: seen.setdefault(name, stops))
        ).ensuring(yields(3).and_then(record(log, name)))

    @gen
    def parent() -> Do[None]:
        yield from watched("grandchild", ready.open().and_then(Effect.never())).fork()
        yield from watched("parent", Effect.never())

    @gen
    def grandparent() -> Do[None]:
        yield from parent().fork()
        yield from watched("grandparent", Effect.never())

    @gen
    def program() -> Do[tuple[FiberId, FiberId, FiberId, Exit[None, Never]]]:
        top = yield from grandparent().fork()
        yield from ready.wait()
        [middle] = yield from top.children()
        me = yield from Effect.fiber_id()
        exit = yield from top.interrupt()
        assert sorted(log) == ["grandchild", "grandparent", "parent"]
        return me, top.id, middle.id, exit

    me, top_id, middle_id, exit = run_interleaved(program(), seed)
    assert exit == Failure(Cause.interrupt(me, Manual()))
    assert seen == {
        "grandparent": [Interrupt(me, Manual())],
        "parent": [Interrupt(top_id, ParentDone(top_id))],
        "grandchild": [Interrupt(middle_id, ParentDone(middle_id))],
    }
    # A parent's finalizers run first, then its children are stopped.
    assert log == ["grandparent", "parent", "grandchild"]


def test_interrupting_a_parent_that_waits_in_join_interrupts_the_joined_child() -> None:
    seen: list[Interrupt] = []

    @gen
    def parent(started: Latch) -> Do[None]:
        child = (
            yield from Effect.never()
            .on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
            .fork()
        )
        yield from started.open()
        yield from child.join()

    me, exit = run_sync(interrupt_when_started(parent))
    assert exit == Failure(Cause.interrupt(me, Manual()))
    [stop] = seen
    assert isinstance(stop.reason, ParentDone)


# -- interrupting what has already ended ----------------------------------------------


def test_interrupting_a_done_fiber_is_a_no_op_that_gives_its_exit() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[tuple[Exit[int, Never], int]]:
        fiber = yield from Effect.succeed(1).ensuring(record(log, "finalizer")).fork()
        yield from fiber.await_()
        exit = yield from fiber.interrupt()
        return exit, (yield from fiber.join())

    assert run_sync(program()) == (Success(1), 1)
    assert log == ["finalizer"]


def test_interrupting_a_failed_fiber_keeps_its_failure() -> None:
    failing: Effect[int, str] = Effect.fail("failed first")

    @gen
    def program() -> Do[Exit[int, str]]:
        fiber = yield from failing.fork()
        yield from fiber.await_()
        return (yield from fiber.interrupt())

    exit = run_sync(program())
    assert isinstance(exit, Failure)
    assert exit.cause.failures() == ["failed first"]
    assert not exit.cause.is_interrupted()


def test_interrupting_twice_keeps_the_first_interruption() -> None:
    @gen
    def program() -> Do[tuple[FiberId, Exit[Never, Never], Exit[Never, Never]]]:
        started = Latch()
        fiber = yield from started_then(started, Effect.never()).fork()
        yield from started.wait()
        me = yield from Effect.fiber_id()
        first = yield from fiber.interrupt()
        second = yield from fiber.interrupt()
        return me, first, second

    me, first, second = run_sync(program())
    assert first == second == Failure(Cause.interrupt(me, Manual()))


@each_seed
def test_interrupting_right_after_fork_always_ends_the_fiber_interrupted(seed: int) -> None:
    log: list[str] = []

    @gen
    def program() -> Do[tuple[FiberId, Exit[Never, Never]]]:
        fiber = (
            yield from record(log, "started")
            .and_then(Effect.never())
            .ensuring(record(log, "finalizer"))
            .fork()
        )
        me = yield from Effect.fiber_id()
        return me, (yield from fiber.interrupt())

    me, exit = run_interleaved(program(), seed)
    assert exit == Failure(Cause.interrupt(me, Manual()))
    # Either it never started (nothing ran) or it started and its finalizer ran.
    assert log in ([], ["started", "finalizer"])


@each_seed
def test_interrupt_fork_does_not_wait_but_the_fiber_still_stops(seed: int) -> None:
    release = Latch()
    log: list[str] = []

    @gen
    def program() -> Do[Exit[Never, Never]]:
        started = Latch()
        fiber = (
            yield from started_then(started, Effect.never())
            .ensuring(release.wait().and_then(record(log, "finalizer")))
            .fork()
        )
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from record(log, "interrupt_fork returned")
        yield from release.open()
        return (yield from fiber.await_())

    assert run_interleaved(program(), seed).is_interrupted()
    assert log == ["interrupt_fork returned", "finalizer"]
