"""Structured convergence: `branch(entry)` opens a child scope whose entry process and
spawned processes converge before it returns. Success convergence waits for every
spawned process; failure convergence interrupts the rest (reason `SiblingFailed`), runs
their finalizers and fails with the original failure."""

from __future__ import annotations

from typing import Any, Never

import pytest
from conftest import Latch, each_seed, run_seeded

from effectpy import (
    Clock,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Interrupt,
    Manual,
    SiblingFailed,
    TestClock,
    gen,
    run_sync,
    run_sync_exit,
)
from effectpy.structured import Spawned, branch, spawn


class EmailError(Exception):
    pass


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def at_time(log: list[str], entry: str) -> Effect[None]:
    """Record `entry` with the clock reading: 'entry@t'."""
    return Clock.now().flat_map(lambda now: record(log, f"{entry}@{now:g}"))


def watched(log: list[str], name: str, effect: Effect[Any, Any]) -> Effect[Any, Any]:
    """`effect`, logging '<name> interrupted: <reason kind>' and '<name> finalized'."""
    return effect.on_interrupt(
        lambda stops: record(log, f"{name} interrupted: {type(stops[0].reason).__name__}")
    ).ensuring(record(log, f"{name} finalized"))


def under_test_clock(effect: Effect[Any, Any], seed: int | None = None) -> Exit[Any, Any]:
    """Run `effect` in a fiber under a TestClock moved far ahead; its Exit."""

    @gen
    def program() -> Do[Exit[Any, Any]]:
        fiber = yield from effect.fork()
        yield from TestClock.adjust(1000)
        return (yield from fiber.await_())

    wrapped = TestClock.provide(program())
    return run_sync(wrapped) if seed is None else run_seeded(wrapped, seed)


# -- success convergence -----------------------------------------------------------------


@each_seed
def test_branch_waits_for_spawned_work_before_returning_the_entrys_value(seed: int) -> None:
    log: list[str] = []

    @gen
    def save_profile() -> Do[str, Never, Spawned[Never]]:
        yield from spawn(Effect.sleep(30).and_then(at_time(log, "audit written")))
        yield from Effect.sleep(5)
        yield from at_time(log, "entry returns")
        return "profile saved"

    converged = branch(save_profile()).tap(lambda _: at_time(log, "branch returned"))
    assert under_test_clock(converged, seed) == Exit.succeed("profile saved")
    assert log == ["entry returns@5", "audit written@30", "branch returned@30"]


def test_branch_returns_the_entrys_value_not_the_spawned_ones() -> None:
    entry = spawn(Effect.succeed("spawned value")).as_("entry value")
    assert run_sync(branch(entry)) == "entry value"


def test_a_branch_that_spawns_nothing_is_its_entry() -> None:
    assert run_sync(branch(Effect.succeed(42))) == 42
    assert run_sync_exit(branch(Effect.fail("no"))) == Failure(Fail("no"))


@each_seed
def test_the_entry_can_join_what_it_spawned(seed: int) -> None:
    @gen
    def entry() -> Do[int, Never, Spawned[Never]]:
        a = yield from spawn(Effect.succeed(20).delay(2))
        b = yield from spawn(Effect.succeed(22).delay(1))
        return (yield from a.join()) + (yield from b.join())

    assert under_test_clock(branch(entry()), seed) == Exit.succeed(42)


def test_spawn_returns_a_fiber_whose_result_outlives_the_branch() -> None:
    @gen
    def program() -> Do[str]:
        fiber = yield from branch(spawn(Effect.succeed("kept")))
        return (yield from fiber.join())

    assert run_sync(program()) == "kept"


def test_interrupting_a_spawned_fiber_by_its_handle_does_not_fail_the_branch() -> None:
    log: list[str] = []

    @gen
    def entry() -> Do[str, Never, Spawned[Never]]:
        fiber = yield from spawn(watched(log, "worker", Effect.never()))
        yield from Effect.yield_now()
        yield from fiber.interrupt()
        return "done"

    assert run_sync(branch(entry())) == "done"
    assert log == ["worker interrupted: Manual", "worker finalized"]


def test_fork_inside_a_branch_is_interrupted_when_the_entry_ends_but_spawn_is_awaited() -> None:
    log: list[str] = []

    @gen
    def both() -> Do[str, Never, Spawned[Never]]:
        yield from watched(
            log, "forked", Effect.sleep(10).and_then(record(log, "forked ran"))
        ).fork()
        yield from spawn(
            watched(log, "spawned", Effect.sleep(10).and_then(record(log, "spawned ran")))
        )
        yield from Effect.yield_now()
        return "entry done"

    assert under_test_clock(branch(both())) == Exit.succeed("entry done")
    assert log == [
        "forked interrupted: ParentDone",
        "forked finalized",
        "spawned ran",
        "spawned finalized",
    ]


# -- failure convergence -----------------------------------------------------------------


@each_seed
def test_a_failing_spawn_cancels_its_siblings_and_none_of_their_success_paths_run(
    seed: int,
) -> None:
    log: list[str] = []
    error = EmailError("email provider failed")

    @gen
    def campaign() -> Do[str, EmailError, Spawned[EmailError]]:
        send: Effect[Never, EmailError] = Effect.sleep(5).and_then(Effect.fail(error))
        yield from spawn(watched(log, "send", send))
        refresh = Effect.sleep(30).and_then(record(log, "audience refreshed"))
        yield from spawn(watched(log, "refresh", refresh))
        yield from watched(log, "entry", Effect.sleep(30))  # type: ignore[arg-type]  # an Any on purpose
        yield from record(log, "campaign launched")
        return "campaign launched"

    exit = under_test_clock(branch(campaign()), seed)
    assert exit == Failure(Fail(error))
    assert "audience refreshed" not in log
    assert "campaign launched" not in log
    assert sorted(log) == sorted(
        [
            "send finalized",
            "refresh interrupted: SiblingFailed",
            "refresh finalized",
            "entry interrupted: SiblingFailed",
            "entry finalized",
        ]
    )


def test_siblings_are_interrupted_naming_the_fiber_that_failed() -> None:
    seen: list[Interrupt] = []
    failed: list[FiberId] = []

    @gen
    def entry() -> Do[str, str, Spawned[str]]:
        yield from spawn(
            Effect.never().on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
        )
        yield from Effect.yield_now()
        failing = Effect.fiber_id().flat_map(
            lambda me: Effect.sync(lambda: failed.append(me)).and_then(Effect.fail("boom"))
        )
        yield from spawn(failing)
        return "never"

    assert run_sync_exit(branch(entry())) == Failure(Fail("boom"))
    [stop] = seen
    assert stop.reason == SiblingFailed(failed[0])


@each_seed
def test_a_failing_entry_cancels_what_it_spawned(seed: int) -> None:
    log: list[str] = []

    @gen
    def entry() -> Do[str, KeyError, Spawned[Never]]:
        yield from spawn(watched(log, "worker", Effect.sleep(10).and_then(record(log, "worked"))))
        yield from Effect.sleep(1)
        return (yield from Effect.fail(KeyError("entry failed")))

    exit = under_test_clock(branch(entry()), seed)
    assert isinstance(exit, Failure)
    assert [str(e) for e in exit.cause.failures()] == ["'entry failed'"]
    assert log == ["worker interrupted: SiblingFailed", "worker finalized"]


def test_the_branch_cause_holds_the_original_failure_not_the_siblings_interruptions() -> None:
    @gen
    def entry() -> Do[str, str, Spawned[str]]:
        for _ in range(3):
            yield from spawn(Effect.never())
        yield from spawn(Effect.fail("boom").delay(0.001))
        return (yield from Effect.never())

    exit = run_sync_exit(branch(entry()))
    assert exit == Failure(Fail("boom"))


def test_an_entry_that_interrupts_itself_fails_the_branch() -> None:
    log: list[str] = []

    @gen
    def entry() -> Do[str, Never, Spawned[Never]]:
        yield from spawn(watched(log, "worker", Effect.never()))
        yield from Effect.yield_now()
        return (yield from Effect.interrupt())

    exit = run_sync_exit(branch(entry()))
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert log == ["worker interrupted: SiblingFailed", "worker finalized"]


def test_a_defect_in_a_spawned_process_fails_the_branch_with_that_defect() -> None:
    defect = ZeroDivisionError("bug")

    def explode() -> None:
        raise defect

    entry = spawn(Effect.sync(explode)).and_then(Effect.never())
    assert run_sync_exit(branch(entry)) == Failure(Die(defect))


# -- what run_sync raises ----------------------------------------------------------------


def test_run_sync_raises_the_original_error() -> None:
    error = EmailError("email provider failed")
    entry = spawn(Effect.fail(error).delay(0.001)).and_then(Effect.never())
    with pytest.raises(EmailError) as raised:
        # mypy rejects running an effect with an unhandled error; at run time the
        # runner raises it.
        run_sync(branch(entry))  # type: ignore[arg-type]
    assert raised.value is error


def test_the_raised_error_carries_the_pretty_cause_as_a_note() -> None:
    error = EmailError("email provider failed")
    entry = spawn(Effect.fail(error).delay(0.001)).and_then(Effect.never())
    with pytest.raises(EmailError) as raised:
        run_sync(branch(entry))  # type: ignore[arg-type]
    assert any("email provider failed" in note for note in raised.value.__notes__)


def fails_on_its_own(error: Exception, seconds: float) -> Effect[Never, Exception]:
    """Fails after `seconds`, and cannot be stopped before: an interruption waits."""
    return Effect.sleep(seconds).and_then(Effect.fail(error)).uninterruptible()


@each_seed
def test_several_processes_failing_on_their_own_give_an_exception_group(seed: int) -> None:
    first, second = ValueError("row 1"), KeyError("row 2")

    @gen
    def entry() -> Do[str, Exception, Spawned[Exception]]:
        yield from spawn(fails_on_its_own(first, 1))
        yield from spawn(fails_on_its_own(second, 2))
        return (yield from Effect.never())

    exit = under_test_clock(branch(entry()), seed)
    assert isinstance(exit, Failure)
    assert exit.cause.failures() == [first, second]
    with pytest.raises(ExceptionGroup) as raised:
        exit.get_or_raise()
    assert list(raised.value.exceptions) == [first, second]


def test_except_star_sees_each_error_of_a_branch() -> None:
    first, second = ValueError("row 1"), KeyError("row 2")
    entry = (
        spawn(fails_on_its_own(first, 0.001))
        .and_then(spawn(fails_on_its_own(second, 0.002)))
        .and_then(Effect.never())
    )
    caught: list[BaseException] = []
    try:
        run_sync(branch(entry))  # type: ignore[arg-type]
    except* ValueError as group:
        caught.extend(group.exceptions)
    except* KeyError as group:
        caught.extend(group.exceptions)
    assert caught == [first, second]


# -- local failure handling --------------------------------------------------------------


@each_seed
def test_a_failure_handled_inside_the_spawned_effect_stays_local(seed: int) -> None:
    log: list[str] = []

    def handled(error: EmailError) -> Effect[str]:
        return record(log, "email failed").as_("email failed")

    @gen
    def campaign() -> Do[dict[str, str], Never, Spawned[Never]]:
        send: Effect[str, EmailError] = Effect.sleep(5).and_then(
            Effect.fail(EmailError("email provider failed"))
        )
        status = yield from spawn(send.catch_all(handled))
        yield from Effect.sleep(30)
        yield from record(log, "campaign still running")
        return {"email_status": (yield from status.join())}

    exit = under_test_clock(branch(campaign()), seed)
    assert exit == Exit.succeed({"email_status": "email failed"})
    assert log == ["email failed", "campaign still running"]


def test_handling_the_failure_only_at_join_is_too_late() -> None:
    log: list[str] = []

    @gen
    def campaign() -> Do[str, EmailError, Spawned[EmailError]]:
        send: Effect[str, EmailError] = Effect.fail(EmailError("down")).delay(5)
        status = yield from spawn(send)
        yield from Effect.sleep(30)
        yield from record(log, "campaign still running")
        return (yield from status.join().catch_all(lambda e: Effect.succeed("recovered")))

    exit = under_test_clock(branch(campaign()))
    assert isinstance(exit, Failure)
    assert log == []


# -- nesting and spawning from spawned fibers --------------------------------------------


@each_seed
def test_a_nested_branch_converges_before_the_outer_entry_goes_on(seed: int) -> None:
    log: list[str] = []
    inner = branch(spawn(Effect.sleep(3).and_then(at_time(log, "inner work"))).as_("inner"))

    @gen
    def outer() -> Do[str, Never, Spawned[Never]]:
        yield from spawn(Effect.sleep(5).and_then(at_time(log, "outer work")))
        value = yield from inner
        yield from at_time(log, f"{value} returned")
        return "outer"

    converged = branch(outer()).tap(lambda _: at_time(log, "outer returned"))
    assert under_test_clock(converged, seed) == Exit.succeed("outer")
    assert log == ["inner work@3", "inner returned@3", "outer work@5", "outer returned@5"]


@each_seed
def test_a_nested_branch_failure_handled_by_the_outer_entry_stops_only_the_inner_work(
    seed: int,
) -> None:
    log: list[str] = []

    @gen
    def inner() -> Do[str, str, Spawned[str]]:
        yield from spawn(watched(log, "inner worker", Effect.never()))
        yield from spawn(Effect.fail("inner failed").delay(1))
        return "inner"

    @gen
    def outer() -> Do[str, Never, Spawned[Never]]:
        yield from spawn(Effect.sleep(5).and_then(record(log, "outer work done")))
        value = yield from branch(inner()).catch_all(lambda e: Effect.succeed(f"handled {e}"))
        yield from record(log, value)
        return "outer"

    assert under_test_clock(branch(outer()), seed) == Exit.succeed("outer")
    assert log == [
        "inner worker interrupted: SiblingFailed",
        "inner worker finalized",
        "handled inner failed",
        "outer work done",
    ]


@each_seed
def test_an_outer_failure_tears_down_a_nested_branch_and_its_work(seed: int) -> None:
    log: list[str] = []
    inner = branch(spawn(watched(log, "inner worker", Effect.never())).and_then(Effect.never()))

    @gen
    def outer() -> Do[str, str, Spawned[str]]:
        yield from spawn(Effect.fail("outer failed").delay(1))
        yield from inner  # type: ignore[arg-type]  # an Any on purpose
        return "outer"

    assert under_test_clock(branch(outer()), seed) == Failure(Fail("outer failed"))
    assert log == ["inner worker interrupted: ParentDone", "inner worker finalized"]


@each_seed
def test_work_spawned_by_a_spawned_fiber_belongs_to_the_same_branch(seed: int) -> None:
    log: list[str] = []
    grandchild = Effect.sleep(10).and_then(at_time(log, "grandchild done"))
    child = spawn(grandchild).and_then(at_time(log, "child done"))
    entry = spawn(child).and_then(at_time(log, "entry done")).as_("entry")
    converged = branch(entry).tap(lambda _: at_time(log, "branch returned"))
    assert under_test_clock(converged, seed) == Exit.succeed("entry")
    assert sorted(log[:2]) == ["child done@0", "entry done@0"]
    assert log[2:] == ["grandchild done@10", "branch returned@10"]


@each_seed
def test_a_failure_of_work_spawned_by_a_spawned_fiber_fails_the_branch(seed: int) -> None:
    log: list[str] = []
    grandchild: Effect[Never, str] = Effect.fail("grandchild failed").delay(1)
    child = spawn(grandchild).and_then(watched(log, "child", Effect.never()))
    entry = spawn(child).and_then(watched(log, "entry", Effect.never()))
    assert under_test_clock(branch(entry), seed) == Failure(Fail("grandchild failed"))
    assert sorted(log) == [
        "child finalized",
        "child interrupted: SiblingFailed",
        "entry finalized",
        "entry interrupted: SiblingFailed",
    ]


# -- concurrency limit -------------------------------------------------------------------


class Gauge:
    """Counts processes running at once and the most ever seen."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.finished = 0

    def task(self, n: int, seconds: float = 1.0) -> Effect[None]:
        def enter() -> None:
            self.started.append(n)
            self.running += 1
            self.peak = max(self.peak, self.running)

        def leave() -> None:
            self.running -= 1
            self.finished += 1

        return Effect.sync(enter).and_then(Effect.sleep(seconds)).ensuring(Effect.sync(leave))


@each_seed
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_concurrency_n_bounds_the_spawned_processes_running_at_once(seed: int, limit: int) -> None:
    gauge = Gauge()

    @gen
    def entry() -> Do[str, Never, Spawned[Never]]:
        for n in range(20):
            yield from spawn(gauge.task(n))
        return "all spawned"

    exit = under_test_clock(branch(entry(), concurrency=limit), seed)
    assert exit == Exit.succeed("all spawned")
    assert gauge.peak == limit
    assert gauge.finished == 20
    # Waiting processes get their slots in spawn order: each wave of `limit` processes
    # (they all take 1s) is the next `limit` spawned, whatever order a wave starts in.
    waves = [gauge.started[i : i + limit] for i in range(0, 20, limit)]
    assert [sorted(wave) for wave in waves] == [
        list(range(i, min(i + limit, 20))) for i in range(0, 20, limit)
    ]


def test_spawned_processes_under_a_limit_finish_in_waves() -> None:
    finished: list[str] = []

    @gen
    def entry() -> Do[None, Never, Spawned[Never]]:
        for n in range(6):
            yield from spawn(Effect.sleep(1).and_then(at_time(finished, f"task {n}")))

    assert under_test_clock(branch(entry(), concurrency=2)) == Exit.succeed(None)
    assert [entry.split("@")[1] for entry in finished] == ["1", "1", "2", "2", "3", "3"]


def test_the_entry_does_not_count_against_the_limit() -> None:
    gauge = Gauge()

    @gen
    def entry() -> Do[int, Never, Spawned[Never]]:
        first = yield from spawn(gauge.task(0))
        yield from first.join()  # the entry waits on a spawned process: no deadlock
        return gauge.finished

    assert under_test_clock(branch(entry(), concurrency=1)) == Exit.succeed(1)


def test_processes_still_waiting_for_a_slot_never_start_after_a_failure() -> None:
    log: list[str] = []

    @gen
    def entry() -> Do[str, str, Spawned[str]]:
        yield from spawn(Effect.fail("boom").delay(1))
        for n in range(3):
            yield from spawn(record(log, f"body {n}"))
        return "spawned"

    assert under_test_clock(branch(entry(), concurrency=1)) == Failure(Fail("boom"))
    assert log == []


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_a_bad_concurrency_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        branch(Effect.unit(), concurrency=bad)


def test_branch_of_something_that_is_not_an_effect_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Effect"):
        branch(lambda: 1)  # type: ignore[call-overload]


# -- interruption from outside -----------------------------------------------------------


@each_seed
def test_interrupting_a_branch_from_outside_stops_everything_and_runs_finalizers(
    seed: int,
) -> None:
    log: list[str] = []

    @gen
    def entry() -> Do[str, Never, Spawned[Never]]:
        for n in range(3):
            yield from spawn(watched(log, f"worker {n}", Effect.never()))
        yield from watched(log, "entry", Effect.never())  # type: ignore[arg-type]  # an Any on purpose
        return "never"

    @gen
    def program() -> Do[tuple[Exit[str, Never], list[str]]]:
        fiber = yield from branch(entry()).fork()
        yield from TestClock.adjust(1)
        exit = yield from fiber.interrupt()
        return exit, list(log)  # a copy: what had happened when interrupt returned

    exit, log_at_return = run_seeded(TestClock.provide(program()), seed)
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert [i.reason for i in exit.cause.interruptions()] == [Manual()]
    assert sorted(log_at_return) == sorted(
        [
            f"{name} interrupted: ParentDone"
            for name in ("worker 0", "worker 1", "worker 2", "entry")
        ]
        + [f"{name} finalized" for name in ("worker 0", "worker 1", "worker 2", "entry")]
    )


def test_interrupting_a_branch_whose_entry_has_returned_stops_the_spawned_work() -> None:
    log: list[str] = []
    entry = spawn(watched(log, "worker", Effect.never())).as_("returned")

    @gen
    def program() -> Do[Exit[str, Never]]:
        fiber = yield from branch(entry).fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.interrupt())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert log == ["worker interrupted: ParentDone", "worker finalized"]


def test_a_timeout_around_a_branch_stops_it_all() -> None:
    log: list[str] = []
    entry = spawn(watched(log, "worker", Effect.never())).and_then(Effect.never())
    exit = under_test_clock(branch(entry).timeout(5))
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert isinstance(error, TimeoutError)
    assert log == ["worker interrupted: ParentDone", "worker finalized"]


# -- spawn outside a branch --------------------------------------------------------------


def test_spawn_outside_a_branch_is_a_defect_with_a_clear_message() -> None:
    exit = run_sync_exit(spawn(Effect.unit()))  # type: ignore[arg-type]
    assert isinstance(exit, Failure) and isinstance(exit.cause, Die)
    assert isinstance(exit.cause.defect, RuntimeError)
    assert "spawn needs an enclosing branch" in str(exit.cause.defect)


def test_spawn_after_the_branch_has_converged_is_a_defect() -> None:
    outcome: list[Exit[Any, Any]] = []
    late = Effect.sleep(1).and_then(spawn(Effect.unit())).exit()
    entry = late.tap(lambda exit: Effect.sync(lambda: outcome.append(exit))).fork_daemon()
    under_test_clock(branch(entry).and_then(Effect.sleep(2)))
    [exit] = outcome
    assert isinstance(exit, Failure) and isinstance(exit.cause, Die)
    assert "already converged" in str(exit.cause.defect)


def test_the_branch_name_names_the_entry_fiber() -> None:
    assert run_sync(branch(Effect.fiber_id(), name="save-profile")).name == "save-profile"


# -- prompt teardown ---------------------------------------------------------------------


@each_seed
def test_when_one_of_a_thousand_siblings_fails_all_others_finalizers_ran_before_branch_returns(
    seed: int,
) -> None:
    siblings = 1000
    started = 0
    finalized = 0
    finalized_when_it_failed: list[int] = []
    all_started = Latch()

    def sibling() -> Effect[Never]:
        def start() -> None:
            nonlocal started
            started += 1
            if started == siblings - 1:
                all_started.open_now()

        def finalize() -> None:
            nonlocal finalized
            finalized += 1

        body: Effect[Never] = Effect.sync(start).and_then(Effect.never())
        return body.ensuring(Effect.sync(finalize))

    failing = (
        all_started.wait()
        .and_then(Effect.sync(lambda: finalized_when_it_failed.append(finalized)))
        .and_then(Effect.fail("one sibling failed"))
    )

    @gen
    def entry() -> Do[str, str, Spawned[str]]:
        for n in range(siblings):
            yield from spawn(failing if n == siblings // 2 else sibling())
        return "spawned"

    finalized_at_return: list[int] = []
    converged = branch(entry()).on_exit(
        lambda _: Effect.sync(lambda: finalized_at_return.append(finalized))
    )
    exit = run_seeded(converged.exit(), seed)
    assert exit == Failure(Fail("one sibling failed"))
    assert finalized_when_it_failed == [0]
    assert finalized_at_return == [siblings - 1]
