"""Typed cancellation reaches user code: every interruption carries a reason from a
closed union (`Timeout`, `SiblingFailed`, `RaceLost`, `ScopeClosed`, `ParentDone`,
`Manual`, `Shutdown`), and user code sees it in `on_interrupt`, in a blocking
function's `signal.reason`, and in a cause's `pretty()`."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any, Never, assert_never

import pytest
from conftest import each_seed, run_seeded

from effectpy import (
    Do,
    Effect,
    Exit,
    Failure,
    FiberId,
    Interrupt,
    InterruptReason,
    Manual,
    ParentDone,
    QueueShutdown,
    RaceLost,
    Scope,
    ScopeClosed,
    Shutdown,
    SiblingFailed,
    Signal,
    TestClock,
    Timeout,
    gen,
    run_async,
    run_sync,
    run_sync_exit,
)
from effectpy.structured import Spawned, branch, spawn


def describe(reason: InterruptReason) -> str:
    """An exhaustive match over the reasons: mypy checks no case is missing."""
    match reason:
        case Timeout(seconds=seconds):
            return f"deadline of {seconds:g}s"
        case SiblingFailed(sibling=sibling):
            return f"sibling {sibling} failed"
        case RaceLost(winner=winner):
            return f"lost to {winner}"
        case ScopeClosed(scope=scope):
            return f"scope {scope} closed"
        case ParentDone(parent=parent):
            return f"parent {parent} done"
        case Manual():
            return "on request"
        case Shutdown(detail=detail):
            return f"shutdown ({detail})"
        case QueueShutdown(operation=operation):
            return f"queue shut down in {operation}"
        case _:
            assert_never(reason)


class Stops:
    """Collects what `on_interrupt` hands to user code."""

    def __init__(self) -> None:
        self.seen: list[Interrupt] = []

    def watch(self, effect: Effect[Any, Any]) -> Effect[Any, Any]:
        return effect.on_interrupt(lambda stops: Effect.sync(lambda: self.seen.extend(stops)))

    def never(self) -> Effect[Never]:
        return self.watch(Effect.never())

    @property
    def reasons(self) -> list[InterruptReason]:
        return [stop.reason for stop in self.seen]


# -- on_interrupt receives the reason -------------------------------------------------------


def test_on_interrupt_receives_timeout_from_timeout() -> None:
    stops = Stops()

    @gen
    def program() -> Do[Exit[Never, TimeoutError]]:
        fiber = yield from stops.never().timeout(5).exit().fork()
        yield from TestClock.adjust(5)
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    assert stops.reasons == [Timeout(5)]
    assert describe(stops.reasons[0]) == "deadline of 5s"


@each_seed
def test_on_interrupt_receives_sibling_failed_from_all_naming_the_failed_sibling(
    seed: int,
) -> None:
    stops = Stops()
    failed: list[FiberId] = []
    failing = Effect.fiber_id().flat_map(
        lambda me: Effect.sync(lambda: failed.append(me)).and_then(Effect.fail("boom"))
    )
    exit = run_seeded(
        Effect.all(stops.never(), failing.delay(0.001), concurrency="unbounded").exit(), seed
    )
    assert isinstance(exit, Failure)
    assert stops.reasons == [SiblingFailed(failed[0])]


@each_seed
def test_on_interrupt_receives_sibling_failed_from_a_branch(seed: int) -> None:
    stops = Stops()
    failed: list[FiberId] = []

    @gen
    def entry() -> Do[str, str, Spawned[str]]:
        yield from spawn(stops.never())
        failing = Effect.fiber_id().flat_map(
            lambda me: Effect.sync(lambda: failed.append(me)).and_then(Effect.fail("boom"))
        )
        yield from spawn(failing.delay(0.001))
        return (yield from stops.never())

    run_seeded(branch(entry()).exit(), seed)
    assert stops.reasons == [SiblingFailed(failed[0])] * 2


def test_on_interrupt_receives_race_lost_naming_the_winner() -> None:
    stops = Stops()
    winners: list[FiberId] = []
    winner = Effect.fiber_id().flat_map(lambda me: Effect.sync(lambda: winners.append(me)))
    run_sync(Effect.race(stops.never(), winner.delay(0.001)))
    assert stops.reasons == [RaceLost(winners[0])]


def test_on_interrupt_receives_scope_closed_from_fork_scoped_with_the_scopes_name() -> None:
    stops = Stops()

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make(name="api-request")
        yield from scope.extend(stops.never().fork_scoped())
        yield from Effect.yield_now()
        yield from scope.close(Exit.unit())

    run_sync(program())
    assert stops.reasons == [ScopeClosed("api-request")]
    assert str(stops.reasons[0]) == "scope 'api-request' closed"


def test_on_interrupt_receives_scope_closed_from_effect_scoped() -> None:
    stops = Stops()
    run_sync(Effect.scoped(stops.never().fork_scoped().and_then(Effect.yield_now())))
    assert stops.reasons == [ScopeClosed()]


def test_on_interrupt_receives_parent_done_when_the_forking_fiber_ends() -> None:
    stops = Stops()
    parents: list[FiberId] = []

    @gen
    def parent() -> Do[None]:
        parents.append((yield from Effect.fiber_id()))
        yield from stops.never().fork()
        yield from Effect.yield_now()

    run_sync(parent())
    assert stops.reasons == [ParentDone(parents[0])]


def test_on_interrupt_receives_manual_and_the_interrupting_fiber_from_fiber_interrupt() -> None:
    stops = Stops()

    @gen
    def program() -> Do[FiberId]:
        fiber = yield from stops.never().fork()
        yield from Effect.yield_now()
        yield from fiber.interrupt()
        return (yield from Effect.fiber_id())

    me = run_sync(program().named("supervisor"))
    [stop] = stops.seen
    assert stop.reason == Manual()
    assert stop.fiber_id == me
    assert stop.fiber_id.name == "supervisor"


def test_on_interrupt_receives_manual_from_effect_interrupt() -> None:
    stops = Stops()
    run_sync_exit(stops.watch(Effect.interrupt()))
    assert stops.reasons == [Manual()]


def test_on_interrupt_receives_shutdown_when_the_awaiting_asyncio_task_is_cancelled() -> None:
    stops = Stops()

    async def main() -> None:
        task = asyncio.ensure_future(run_async(stops.never()))
        await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    [reason] = stops.reasons
    assert isinstance(reason, Shutdown)


def test_on_interrupt_is_not_called_on_success_or_failure() -> None:
    stops = Stops()
    run_sync(stops.watch(Effect.succeed(1)))  # type: ignore[arg-type]  # an Any on purpose
    run_sync_exit(stops.watch(Effect.fail("no")))
    assert stops.seen == []


def test_the_reason_reaches_a_finalizer_through_the_exit() -> None:
    seen: list[InterruptReason] = []

    def finalizer(exit: Exit[Never, Never]) -> Effect[None]:
        if isinstance(exit, Failure):
            seen.extend(i.reason for i in exit.cause.interruptions())
        return Effect.unit()

    run_sync_exit(Effect.never().on_exit(finalizer).timeout(0.001))
    assert seen == [Timeout(0.001)]


# -- the blocking signal's reason ----------------------------------------------------------


def wait_for_cancel(reasons: list[InterruptReason | None]) -> Any:
    """A blocking function that waits (in its thread) until it is asked to stop."""

    def work(signal: Signal) -> str:
        stopped = signal.wait(timeout=10)
        reasons.append(signal.reason if stopped else None)
        return "stopped" if stopped else "ran to the end"

    return work


def test_a_blocking_functions_signal_carries_timeout() -> None:
    reasons: list[InterruptReason | None] = []

    started = threading.Event()
    work = wait_for_cancel(reasons)

    def start_then_work(signal: Signal) -> str:
        started.set()
        result: str = work(signal)
        return result

    @gen
    def program() -> Do[Exit[str, TimeoutError]]:
        fiber = yield from Effect.blocking(start_then_work).timeout(5).exit().fork()
        # A call still queued for a thread is cancelled without ever starting (and so
        # sees no signal): let it start first.
        yield from Effect.blocking(lambda _: started.wait(10))
        yield from TestClock.adjust(5)
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    assert reasons == [Timeout(5)]


def test_a_blocking_functions_signal_carries_manual() -> None:
    reasons: list[InterruptReason | None] = []

    @gen
    def program() -> Do[None]:
        fiber = yield from Effect.blocking(wait_for_cancel(reasons)).fork()
        yield from Effect.sleep(0.001)
        yield from fiber.interrupt()

    run_sync(program())
    assert reasons == [Manual()]


def test_a_blocking_functions_signal_carries_sibling_failed_in_a_branch() -> None:
    reasons: list[InterruptReason | None] = []
    entry = spawn(Effect.blocking(wait_for_cancel(reasons))).and_then(
        Effect.fail("boom").delay(0.001)
    )
    assert run_sync_exit(branch(entry)).is_failure()
    [reason] = reasons
    assert isinstance(reason, SiblingFailed)


def test_a_blocking_functions_signal_is_unset_when_nothing_stops_it() -> None:
    seen: list[tuple[bool, InterruptReason | None]] = []

    def work(signal: Signal) -> int:
        seen.append((signal.is_set(), signal.reason))
        return 1

    assert run_sync(Effect.blocking(work)) == 1
    assert seen == [(False, None)]


def test_a_blocking_functions_signal_callback_runs_with_the_reason_set() -> None:
    reasons: list[InterruptReason | None] = []

    def work(signal: Signal) -> None:
        signal.add_callback(lambda: reasons.append(signal.reason))
        signal.wait(timeout=10)

    run_sync_exit(Effect.blocking(work).timeout(0.001))
    assert reasons == [Timeout(0.001)]


# -- pretty() shows the reasons ------------------------------------------------------------


def interrupted_cause(effect: Effect[Any, Any]) -> str:
    exit = run_sync_exit(effect)
    assert isinstance(exit, Failure)
    return re.sub(r"#\d+", "#N", exit.cause.pretty())


def test_pretty_shows_a_manual_interruption_and_who_asked() -> None:
    @gen
    def program() -> Do[Exit[Never, Never]]:
        fiber = yield from Effect.never().fork()
        yield from Effect.yield_now()
        return (yield from fiber.interrupt())

    exit = run_sync(program().named("supervisor"))
    assert isinstance(exit, Failure)
    assert re.sub(r"#\d+", "#N", exit.cause.pretty()) == (
        "Interrupt: by fiber #N (supervisor), interrupted on request"
    )


def test_pretty_shows_siblings_stopped_because_one_failed() -> None:
    both = Effect.all(Effect.never(), Effect.fail("boom").delay(0.001), concurrency="unbounded")
    assert interrupted_cause(both) == (
        "Parallel\n├── Fail: 'boom'\n└── Interrupt: by fiber #N, sibling fiber #N failed"
    )


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (Timeout(2.5), "timeout after 2.5s"),
        (SiblingFailed(FiberId(7)), "sibling fiber #7 failed"),
        (RaceLost(FiberId(3, "fast")), "lost a race to fiber #3 (fast)"),
        (ScopeClosed(), "scope closed"),
        (ScopeClosed("db"), "scope 'db' closed"),
        (ParentDone(FiberId(1, "main")), "parent fiber #1 (main) finished"),
        (Manual(), "interrupted on request"),
        (Shutdown(), "runtime shutdown"),
        (Shutdown("SIGINT"), "runtime shutdown: SIGINT"),
    ],
)
def test_pretty_names_each_reason(reason: InterruptReason, text: str) -> None:
    cause = Interrupt(FiberId(9, "owner"), reason)
    assert cause.pretty() == f"Interrupt: by fiber #9 (owner), {text}"


def test_pretty_of_the_cause_a_timed_out_effect_ends_with_shows_the_timeout() -> None:
    seen: list[str] = []

    def keep(exit: Exit[Never, Never]) -> Effect[None]:
        if isinstance(exit, Failure):
            seen.append(re.sub(r"#\d+", "#N", exit.cause.pretty()))
        return Effect.unit()

    run_sync_exit(Effect.never().on_exit(keep).timeout(0.001))
    assert seen == ["Interrupt: by fiber #N, timeout after 0.001s"]
