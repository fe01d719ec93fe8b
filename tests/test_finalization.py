"""Finalization: `ensuring`, `on_exit`, `on_error` and `on_interrupt` run their
finalizer however the effect ends (success, failure, defect, interruption), exactly
once, uninterruptibly, innermost first; a finalizer's own failure is kept after the
effect's (`Cause.sequential`), never dropped and never in place of it.
"""

from __future__ import annotations

from typing import Any, Literal, Never, cast

import pytest
from conftest import (
    BODY_DEFECT,
    SEEDS,
    Latch,
    Outcome,
    Path,
    Wrap,
    each_outcome,
    each_path,
    each_seed,
    expected_exit,
    on_path,
    run_seeded,
    run_wrapped,
    yields,
)

from effectpy import (
    Cause,
    Clock,
    Deferred,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Interrupt,
    Manual,
    Sequential,
    Shutdown,
    Success,
    TestClock,
    Timeout,
    gen,
    run_sync,
    run_sync_exit,
)
from effectpy._interpreter.loop import FiberRuntime
from effectpy.effect import _with_fiber

FINALIZER_DEFECT = RuntimeError("defect in the finalizer")
OUTER_FINALIZER_DEFECT = RuntimeError("defect in the outer finalizer")


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def raising(error: BaseException, path: Path) -> Effect[None]:
    """An effect along `path` whose thunk raises `error` (not an `Effect.die`)."""

    def run() -> None:
        raise error

    return on_path(path, run)


def body_cause(outcome: Outcome, interruptor: FiberId) -> Cause[str]:
    """The cause the body of `outcome` fails with (Empty for a success)."""
    causes: dict[Outcome, Cause[str]] = {
        "success": Cause.empty(),
        "failure": Fail("body failed"),
        "defect": Die(BODY_DEFECT),
        "interruption": Interrupt(interruptor, Manual()),
    }
    return causes[outcome]


# -- every outcome runs the finalizer -------------------------------------------------


@each_outcome
@pytest.mark.parametrize("seed", SEEDS[:10])
def test_ensuring_runs_the_finalizer_exactly_once_and_keeps_the_effects_exit(
    outcome: Outcome, seed: int
) -> None:
    log: list[str] = []
    exit, me = run_wrapped(outcome, lambda body: body.ensuring(record(log, "finalized")), seed)
    assert log == ["finalized"]
    assert exit == expected_exit(outcome, me)


@each_outcome
def test_on_exit_gives_the_finalizer_the_effects_exit(outcome: Outcome) -> None:
    seen: list[Exit[Any, Any]] = []
    exit, me = run_wrapped(
        outcome, lambda body: body.on_exit(lambda ex: Effect.sync(lambda: seen.append(ex)))
    )
    assert exit == expected_exit(outcome, me)
    assert seen == [exit]


@each_outcome
def test_on_error_runs_with_the_cause_unless_the_effect_succeeds(outcome: Outcome) -> None:
    seen: list[Cause[Any]] = []
    exit, me = run_wrapped(
        outcome, lambda body: body.on_error(lambda cause: Effect.sync(lambda: seen.append(cause)))
    )
    assert exit == expected_exit(outcome, me)
    expected = body_cause(outcome, me)
    assert seen == ([] if expected.is_empty() else [expected])


@each_outcome
def test_on_interrupt_runs_only_for_an_interruption_and_says_who_and_why(
    outcome: Outcome,
) -> None:
    seen: list[Interrupt] = []
    exit, me = run_wrapped(
        outcome,
        lambda body: body.on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops))),
    )
    assert exit == expected_exit(outcome, me)
    assert seen == ([Interrupt(me, Manual())] if outcome == "interruption" else [])


def test_an_effect_that_interrupts_itself_runs_its_finalizer() -> None:
    log: list[str] = []
    exit = run_sync_exit(Effect.interrupt().ensuring(record(log, "finalized")))
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert log == ["finalized"]


@each_seed
def test_an_interrupt_racing_the_effects_end_runs_the_finalizer_once_if_the_effect_began(
    seed: int,
) -> None:
    # Depending on the seed the interrupt lands before the fiber starts (then nothing
    # was installed, and nothing runs), during the body, or after it.
    log: list[str] = []
    body = record(log, "body began").and_then(yields(seed % 4)).and_then(record(log, "body done"))

    @gen
    def program() -> Do[Exit[None, Any]]:
        fiber = yield from body.ensuring(record(log, "finalized")).fork()
        yield from yields(seed % 3)
        return (yield from fiber.interrupt())

    exit = run_seeded(program(), seed)
    assert log.count("finalized") == (1 if "body began" in log else 0)
    assert log == [] or log[-1] == "finalized"
    assert exit.is_success() or (isinstance(exit, Failure) and exit.cause.is_interrupted_only())


# -- a finalizer's own failure --------------------------------------------------------


@each_outcome
def test_a_finalizers_defect_is_kept_after_the_effects_cause(outcome: Outcome) -> None:
    exit, me = run_wrapped(outcome, lambda body: body.ensuring(Effect.die(FINALIZER_DEFECT)))
    expected = Cause.sequential(body_cause(outcome, me), Die(FINALIZER_DEFECT))
    assert exit == Failure(expected)
    if outcome != "success":
        assert isinstance(exit.cause, Sequential)


def test_a_finalizer_that_raises_is_a_defect_after_the_typed_failure() -> None:
    def cleanup() -> None:
        raise FINALIZER_DEFECT

    failing: Effect[int, str] = Effect.fail("body failed")
    exit = run_sync_exit(failing.ensuring(Effect.sync(cleanup)))
    assert exit == Failure(Sequential(Fail("body failed"), Die(FINALIZER_DEFECT)))


def test_on_exit_keeps_a_failing_finalizers_defect_after_a_success() -> None:
    exit = run_sync_exit(Effect.succeed(1).on_exit(lambda _: Effect.die(FINALIZER_DEFECT)))
    assert exit == Failure(Die(FINALIZER_DEFECT))


@each_path
def test_ensuring_fails_with_the_die_of_a_finalizer_that_raises_after_a_success(
    path: Path,
) -> None:
    log: list[str] = []
    program = on_path(path, lambda: "value").ensuring(raising(FINALIZER_DEFECT, path))
    exit = run_sync_exit(program.tap(lambda _: record(log, "after")))
    assert exit == Failure(Die(FINALIZER_DEFECT))
    assert log == []  # what follows does not run


@each_path
def test_on_exit_fails_with_the_die_of_a_finalizer_that_raises_after_a_success(
    path: Path,
) -> None:
    seen: list[Exit[Any, Any]] = []

    def finalizer(exit: Exit[str, Never]) -> Effect[None]:
        def run() -> None:
            seen.append(exit)
            raise FINALIZER_DEFECT

        return on_path(path, run)

    assert run_sync_exit(Effect.succeed("v").on_exit(finalizer)) == Failure(Die(FINALIZER_DEFECT))
    assert seen == [Success("v")]


def test_on_error_keeps_its_finalizers_defect_after_the_error() -> None:
    failing: Effect[int, str] = Effect.fail("body failed")
    exit = run_sync_exit(failing.on_error(lambda _: Effect.die(FINALIZER_DEFECT)))
    assert exit == Failure(Sequential(Fail("body failed"), Die(FINALIZER_DEFECT)))


@each_outcome
def test_when_nested_finalizers_both_fail_every_failure_is_kept_in_order(
    outcome: Outcome,
) -> None:
    log: list[str] = []

    def wrap(body: Effect[int, str]) -> Effect[int, str]:
        inner = record(log, "inner").and_then(Effect.die(FINALIZER_DEFECT))
        outer = record(log, "outer").and_then(Effect.die(OUTER_FINALIZER_DEFECT))
        return body.ensuring(inner).ensuring(outer)

    exit, me = run_wrapped(outcome, wrap)
    assert log == ["inner", "outer"]
    expected = Cause.sequential(
        Cause.sequential(body_cause(outcome, me), Die(FINALIZER_DEFECT)),
        Die(OUTER_FINALIZER_DEFECT),
    )
    assert exit == Failure(expected)


# -- nesting --------------------------------------------------------------------------


@each_outcome
def test_nested_finalizers_run_inside_out(outcome: Outcome) -> None:
    log: list[str] = []

    def wrap(body: Effect[int, str]) -> Effect[int, str]:
        return (
            body.ensuring(record(log, "innermost"))
            .on_exit(lambda _: record(log, "middle"))
            .ensuring(record(log, "outermost"))
        )

    exit, me = run_wrapped(outcome, wrap)
    assert exit == expected_exit(outcome, me)
    assert log == ["innermost", "middle", "outermost"]


@each_path
def test_nested_finalizers_after_a_success_run_inside_out_and_keep_the_value(path: Path) -> None:
    log: list[str] = []
    program = (
        on_path(path, lambda: "value")
        .ensuring(on_path(path, lambda: log.append("inner")))
        .ensuring(Effect.yield_now().and_then(record(log, "middle")))
        .on_exit(lambda exit: on_path(path, lambda: log.append(f"outer saw {exit}")))
    )
    assert run_sync(program) == "value"
    assert log == ["inner", "middle", "outer saw Success(value='value')"]


def test_a_finalizer_runs_after_the_effect_and_before_what_follows() -> None:
    log: list[str] = []
    program = record(log, "body").ensuring(record(log, "finalizer")).and_then(record(log, "after"))
    run_sync(program)
    assert log == ["body", "finalizer", "after"]


def test_a_finalizer_sees_the_error_after_a_catch_inside_it_recovered() -> None:
    seen: list[Exit[Any, Any]] = []
    failing: Effect[int, str] = Effect.fail("inner")
    recovered = failing.catch_all(lambda e: Effect.succeed(len(e)))
    program = recovered.on_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
    assert run_sync(program) == 5
    assert seen == [Success(5)]


# -- a sync finalizer runs as the cause unwinds: the same as any other finalizer ------
#
# The loop runs a finalizer whose effect is a single `Effect.sync` at once, while it
# unwinds a failure (a thunk is atomic: there is no region to enter). These tests hold
# that this shortcut is invisible: every outcome, every way a finalizer can go wrong,
# gives what the same finalizer gives when it is a longer effect.


def as_effect(finalizer: Effect[None]) -> Effect[None]:
    """The same finalizer, but not a single `SYNC` node: run the general way."""
    return Effect.suspend(lambda: finalizer)


FinalizerKind = Literal["records", "raises", "returns a non-effect", "interrupts its fiber"]


def finalizer_wrap(kind: FinalizerKind, log: list[str], general: bool) -> Wrap:
    """`body.on_exit(...)` with a finalizer of `kind`; `general` makes its effect a
    longer one than a single `Effect.sync`."""

    def wrap(body: Effect[int, str]) -> Effect[int, str]:
        def with_finalizer(fiber: FiberRuntime) -> Effect[int, str]:
            def cleanup() -> None:
                log.append("finalizer")
                if kind == "raises":
                    raise FINALIZER_DEFECT
                if kind == "interrupts its fiber":
                    # Only the runtime can interrupt a fiber from inside its own thunk.
                    fiber.interrupt_as(fiber.id, Manual())

            def on_exit(exit: Exit[Any, Any]) -> Effect[None]:
                if kind == "returns a non-effect":
                    log.append("finalizer")
                    return cast("Effect[None]", "not an effect")
                effect = Effect.sync(cleanup)
                return as_effect(effect) if general else effect

            return body.on_exit(on_exit)

        return _with_fiber(with_finalizer).ensuring(record(log, "outer finalizer"))

    return wrap


def expected_after_finalizer(
    outcome: Outcome, kind: FinalizerKind, me: FiberId, exit: Exit[int, str]
) -> Exit[int, str]:
    """The exit of the body of `outcome` after a finalizer of `kind` (its `TypeError`,
    made at run time, is taken from `exit` once its message is checked)."""
    if kind == "records":
        return expected_exit(outcome, me)
    if kind == "raises":
        defect: BaseException = FINALIZER_DEFECT
    else:
        assert isinstance(exit, Failure)
        defect = exit.cause.defects()[-1]
        assert isinstance(defect, TypeError)
        assert "returned str 'not an effect', expected an Effect" in str(defect)
    return Failure(Cause.sequential(body_cause(outcome, me), Die(defect)))


@each_outcome
@pytest.mark.parametrize("kind", ["records", "raises", "returns a non-effect"])
@pytest.mark.parametrize("general", [False, True], ids=["sync", "longer effect"])
def test_a_finalizer_ends_the_fiber_the_same_whether_sync_or_a_longer_effect(
    outcome: Outcome, kind: FinalizerKind, general: bool
) -> None:
    log: list[str] = []
    exit, me = run_wrapped(outcome, finalizer_wrap(kind, log, general))
    assert log == ["finalizer", "outer finalizer"]
    assert exit == expected_after_finalizer(outcome, kind, me, exit)


@pytest.mark.parametrize("outcome", ["failure", "defect", "interruption"])
@pytest.mark.parametrize("general", [False, True], ids=["sync", "longer effect"])
def test_a_finalizer_of_a_failure_that_interrupts_its_own_fiber_adds_the_interruption(
    outcome: Outcome, general: bool
) -> None:
    # (After a success, such an interruption lands after the fiber's last op.)
    log: list[str] = []
    exit, me = run_wrapped(outcome, finalizer_wrap("interrupts its fiber", log, general))
    assert log == ["finalizer", "outer finalizer"]
    assert isinstance(exit, Failure)
    interruptions = exit.cause.interruptions()
    assert len(interruptions) == 1  # an interrupted body's cause already has one
    if outcome == "interruption":
        assert exit == expected_exit(outcome, me)
    else:
        assert interruptions[0].reason == Manual()
        assert exit.cause == Sequential(body_cause(outcome, me), interruptions[0])


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("general", [False, True], ids=["sync", "longer effect"])
def test_a_fatal_exception_in_a_finalizer_of_a_failure_keeps_the_failure_for_the_outer_ones(
    fatal: type[BaseException], general: bool
) -> None:
    seen: list[Exit[Any, Any]] = []
    error = fatal()

    def cleanup() -> None:
        raise error

    inner = Effect.sync(cleanup)
    failing: Effect[int, str] = Effect.fail("body failed")
    program = failing.ensuring(as_effect(inner) if general else inner).on_exit(
        lambda exit: Effect.sync(lambda: seen.append(exit))
    )
    with pytest.raises(fatal) as caught:
        run_sync_exit(program)
    assert caught.value is error
    [exit] = seen  # the outer finalizer ran, and saw the failure and the shutdown
    assert isinstance(exit, Failure)
    assert isinstance(exit.cause, Sequential) and exit.cause.left == Fail("body failed")
    [shutdown] = exit.cause.interruptions()
    assert shutdown.reason == Shutdown(fatal.__name__)


# -- finalizers are uninterruptible ---------------------------------------------------


@each_seed
def test_a_finalizer_of_an_interrupted_effect_runs_to_its_end(seed: int) -> None:
    # The fiber is interrupted (for good) before its finalizer sleeps: the sleep must
    # not be cut short by that interruption.
    log: list[str] = []
    slow_cleanup = (
        record(log, "finalizer started")
        .and_then(Effect.sleep(5))
        .and_then(record(log, "finalizer done"))
    )

    @gen
    def program() -> Do[tuple[Exit[None, Any], float]]:
        started = Latch()
        fiber = yield from started.open().and_then(Effect.never()).ensuring(slow_cleanup).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(5)
        exit = yield from fiber.await_()
        return exit, (yield from Clock.now())

    exit, now = run_seeded(TestClock.provide(program()), seed)
    assert log == ["finalizer started", "finalizer done"]
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert now == 5.0


@each_seed
def test_a_second_interrupt_during_a_finalizer_waits_for_the_finalizer(seed: int) -> None:
    log: list[str] = []
    entered = Latch()
    slow_cleanup = entered.open().and_then(Effect.sleep(5)).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[tuple[Exit[Any, Any] | None, Exit[None, Any]]]:
        started = Latch()
        fiber = yield from started.open().and_then(Effect.never()).ensuring(slow_cleanup).fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from entered.wait()
        second = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(4)
        during = yield from second.poll()
        yield from TestClock.adjust(1)
        return during, (yield from second.join())

    during, exit = run_seeded(TestClock.provide(program()), seed)
    assert during is None
    assert log == ["finalizer done"]
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()


@each_seed
def test_an_interrupt_during_the_finalizer_of_a_success_waits_for_it(seed: int) -> None:
    log: list[str] = []
    entered, release = Latch(), Latch()
    cleanup = entered.open().and_then(release.wait()).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[tuple[Exit[Any, Any] | None, list[str]]]:
        fiber = yield from Effect.succeed(1).ensuring(cleanup).fork()
        yield from entered.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from yields(20)
        during = yield from interrupter.poll()
        yield from release.open()
        yield from interrupter.join()
        return during, list(log)

    during, log_when_interrupt_returned = run_seeded(program(), seed)
    assert during is None
    assert log_when_interrupt_returned == ["finalizer done"]


Guarded = Literal[
    "ensuring", "on_exit", "scoped, one finalizer", "scoped, two finalizers", "bracket release"
]
GUARDED: list[Guarded] = [
    "ensuring",
    "on_exit",
    "scoped, one finalizer",
    "scoped, two finalizers",
    "bracket release",
]


def guarded_success(how: Guarded, slow: Effect[None], log: list[str], path: Path) -> Effect[int]:
    """An effect that succeeds with 1, then runs the finalizer `slow` (which sleeps).
    The body, the acquire and the other finalizer are built along `path`."""
    body: Effect[int] = on_path(path, lambda: 1)
    if how == "ensuring":
        return body.ensuring(slow)
    if how == "on_exit":
        return body.on_exit(lambda _: slow)
    if how == "scoped, one finalizer":
        return Effect.scoped(Effect.add_finalizer(lambda _: slow).and_then(body))
    if how == "scoped, two finalizers":
        first = Effect.add_finalizer(lambda _: on_path(path, lambda: log.append("other finalizer")))
        return Effect.scoped(first.and_then(Effect.add_finalizer(lambda _: slow)).and_then(body))
    return Effect.acquire_use_release(on_path(path, lambda: "r"), lambda _: body, lambda r, e: slow)


@each_path
@pytest.mark.parametrize("how", GUARDED)
@pytest.mark.parametrize("seed", SEEDS[:10])
def test_a_finalizer_after_a_success_is_not_stopped_by_an_interrupt(
    path: Path, how: Guarded, seed: int
) -> None:
    log: list[str] = []
    entered = Latch()
    slow = entered.open().and_then(Effect.sleep(5)).and_then(record(log, "finalizer done"))

    @gen
    def program() -> Do[tuple[Exit[int, Never] | None, list[str], Exit[int, Never], float]]:
        fiber = yield from guarded_success(how, slow, log, path).fork()
        yield from entered.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(4)
        during = yield from fiber.poll()
        log_during = list(log)
        yield from TestClock.adjust(1)
        exit = yield from fiber.await_()
        return during, log_during, exit, (yield from Clock.now())

    during, log_during, exit, now = run_seeded(TestClock.provide(program()), seed)
    assert during is None
    assert log_during == []
    expected = ["finalizer done", "other finalizer"] if "two" in how else ["finalizer done"]
    assert log == expected
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert now == 5.0


@each_path
def test_a_finalizer_waiting_on_a_deferred_after_a_success_is_not_stopped_by_an_interrupt(
    path: Path,
) -> None:
    log: list[str] = []
    entered = Latch()

    @gen
    def program() -> Do[tuple[Exit[str, Never] | None, Exit[str, Never]]]:
        go_on = yield from Deferred[None].make()
        cleanup = entered.open().and_then(go_on.await_()).and_then(record(log, "cleaned"))
        fiber = yield from Effect.scoped(
            Effect.add_finalizer(lambda _: cleanup).and_then(on_path(path, lambda: "v"))
        ).fork()
        yield from entered.wait()
        yield from fiber.interrupt_fork()
        yield from Effect.yield_now().and_then(Effect.yield_now())
        during = yield from fiber.poll()
        yield from go_on.succeed(None)
        return during, (yield from fiber.await_())

    during, exit = run_sync(program())
    assert during is None
    assert log == ["cleaned"]
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()


def test_a_timeout_returns_only_after_the_interrupted_effects_finalizer() -> None:
    log: list[str] = []
    slow_cleanup = Effect.sleep(2).and_then(record(log, "finalizer done"))
    seen: list[Exit[Any, Any]] = []

    @gen
    def program() -> Do[tuple[Exit[Any, Any] | None, Exit[None, TimeoutError]]]:
        effect = (
            Effect.never()
            .on_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
            .ensuring(slow_cleanup)
        )
        fiber = yield from effect.timeout(1).exit().fork()
        yield from TestClock.adjust(2)  # timed out at 1; the finalizer sleeps until 3
        during = yield from fiber.poll()
        yield from TestClock.adjust(1)
        return during, (yield from fiber.join())

    during, exit = run_sync(TestClock.provide(program()))
    assert during is None
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert isinstance(error, TimeoutError)
    assert log == ["finalizer done"]
    [stopped] = seen
    assert isinstance(stopped, Failure)
    assert [i.reason for i in stopped.cause.interruptions()] == [Timeout(1)]


def test_an_uninterruptible_effect_finishes_and_its_finalizer_sees_its_success() -> None:
    seen: list[Exit[Any, Any]] = []

    @gen
    def program() -> Do[None]:
        started = Latch()
        body = (
            started.open()
            .and_then(Effect.sleep(1))
            .as_("finished")
            .on_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
            .uninterruptible()
        )
        fiber = yield from body.fork()
        yield from started.wait()
        yield from fiber.interrupt_fork()
        yield from TestClock.adjust(1)
        yield from fiber.await_()
        return None

    run_sync(TestClock.provide(program()))
    assert seen == [Success("finished")]
