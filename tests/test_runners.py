"""Runners: what `run_sync`, `run_sync_exit`, `run_async` and `Runtime` return or raise,
and the `Exit` they are built on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from typing import Any, cast

import pytest

from effectpy import (
    Cause,
    Deferred,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberFailure,
    Runtime,
    Sequential,
    Success,
    gen,
    live_fiber_count,
    run_async,
    run_async_exit,
    run_sync,
    run_sync_exit,
)

# -- run_sync -------------------------------------------------------------------------


def test_run_sync_returns_the_value() -> None:
    assert run_sync(Effect.succeed(20).map(lambda n: n + 1).map(lambda n: n * 2)) == 42


def test_run_sync_runs_the_effect_each_time() -> None:
    calls: list[int] = []
    effect = Effect.sync(lambda: calls.append(1))
    run_sync(effect)
    run_sync(effect)
    assert calls == [1, 1]


def test_run_sync_raises_the_users_own_exception_with_the_cause_as_a_note() -> None:
    error = ValueError("not valid")
    effect: Effect[int, ValueError] = Effect.fail(error)
    with pytest.raises(ValueError) as caught:
        run_sync(cast(Effect[int], effect))
    assert caught.value is error
    notes = getattr(caught.value, "__notes__", [])
    assert any("Fail: ValueError: not valid" in note for note in notes), notes


def test_run_sync_raises_a_defect_itself() -> None:
    defect = OSError("disk on fire")
    with pytest.raises(OSError) as caught:
        run_sync(Effect.die(defect))
    assert caught.value is defect
    assert any("Die: OSError: disk on fire" in note for note in caught.value.__notes__)


def test_run_sync_raises_a_defect_of_user_code_with_its_traceback() -> None:
    def divide() -> float:
        return 1 / 0

    with pytest.raises(ZeroDivisionError) as caught:
        run_sync(Effect.sync(divide))
    assert any(entry.name == "divide" for entry in caught.traceback)


def test_run_sync_wraps_a_non_exception_error_in_fiber_failure_with_the_cause() -> None:
    effect: Effect[int, str] = Effect.fail("oops")
    with pytest.raises(FiberFailure) as caught:
        run_sync(cast(Effect[int], effect))
    assert caught.value.cause == Fail("oops")
    assert "oops" in str(caught.value)


def test_run_sync_raises_fiber_failure_for_an_interruption() -> None:
    with pytest.raises(FiberFailure) as caught:
        run_sync(Effect.interrupt())
    assert caught.value.cause.is_interrupted_only()


def test_run_sync_raises_an_exception_group_for_two_failures() -> None:
    value_error = ValueError("first")
    key_error = KeyError("second")
    effect: Effect[int, ValueError] = Effect.fail(value_error).ensuring(Effect.die(key_error))
    caught: list[BaseException] = []
    try:
        run_sync(cast(Effect[int], effect))
    except* ValueError as group:
        caught.extend(group.exceptions)
    except* KeyError as group:
        caught.extend(group.exceptions)
    assert caught == [value_error, key_error]


def test_the_exception_group_for_two_failures_holds_them_in_order() -> None:
    value_error = ValueError("first")
    key_error = KeyError("second")
    effect: Effect[int, ValueError] = Effect.fail(value_error).ensuring(Effect.die(key_error))
    with pytest.raises(ExceptionGroup) as caught:
        run_sync(cast(Effect[int], effect))
    assert list(caught.value.exceptions) == [value_error, key_error]


@pytest.mark.parametrize("not_an_effect", [42, None, "effect", lambda: Effect.succeed(1)])
def test_run_sync_of_a_non_effect_raises_type_error(not_an_effect: object) -> None:
    with pytest.raises(TypeError, match="Effect"):
        run_sync(cast(Any, not_an_effect))  # type: ignore[arg-type]  # an Any on purpose
    with pytest.raises(TypeError, match="Effect"):
        run_sync_exit(cast(Any, not_an_effect))  # type: ignore[arg-type]  # an Any on purpose


# -- run_sync_exit --------------------------------------------------------------------


def test_run_sync_exit_returns_success() -> None:
    assert run_sync_exit(Effect.succeed(1)) == Success(1)


def test_run_sync_exit_never_raises_for_a_failure() -> None:
    defect = OSError("bug")
    error = ValueError("typed")
    assert run_sync_exit(Effect.fail(error)) == Failure(Fail(error))
    assert run_sync_exit(Effect.die(defect)) == Failure(Die(defect))
    assert run_sync_exit(Effect.fail(error).ensuring(Effect.die(defect))) == Failure(
        Sequential(Fail(error), Die(defect))
    )
    interrupted = run_sync_exit(Effect.interrupt())
    assert isinstance(interrupted, Failure)
    assert interrupted.cause.is_interrupted_only()


# -- inside asyncio -----------------------------------------------------------------


def test_run_sync_inside_a_running_event_loop_raises_and_points_to_run_async() -> None:
    ran: list[str] = []

    async def main() -> None:
        with pytest.raises(RuntimeError, match="run_async"):
            run_sync(Effect.sync(lambda: ran.append("ran")))
        with pytest.raises(RuntimeError, match="run_async"):
            run_sync_exit(Effect.sync(lambda: ran.append("ran")))

    asyncio.run(main())
    assert ran == []


def test_run_async_returns_the_value_inside_asyncio_run() -> None:
    async def main() -> int:
        return await run_async(Effect.succeed(20).flat_map(lambda n: Effect.succeed(n + 1)))

    assert asyncio.run(main()) == 21


def test_run_async_exit_returns_the_exit_inside_asyncio_run() -> None:
    async def main() -> tuple[Exit[int, str], Exit[int, str]]:
        ok: Effect[int, str] = Effect.succeed(1)
        bad: Effect[int, str] = Effect.fail("no")
        return await run_async_exit(ok), await run_async_exit(bad)

    assert asyncio.run(main()) == (Success(1), Failure(Fail("no")))


def test_run_async_raises_like_run_sync() -> None:
    error = ValueError("typed")

    async def main() -> None:
        await run_async(cast(Effect[int], Effect.fail(error)))

    with pytest.raises(ValueError) as caught:
        asyncio.run(main())
    assert caught.value is error


def test_run_async_of_a_non_effect_raises_type_error() -> None:
    async def main() -> None:
        await run_async(cast(Any, 42))  # type: ignore[arg-type]  # an Any on purpose

    with pytest.raises(TypeError, match="Effect"):
        asyncio.run(main())


def test_run_async_runs_an_effect_that_resumes_from_an_asyncio_callback() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()

        def register(resume: Any) -> None:
            loop.call_soon(lambda: resume(Effect.succeed("called back")))

        return await run_async(Effect.async_(register))  # type: ignore[arg-type]  # an Any on purpose

    assert asyncio.run(main()) == "called back"


# -- run_sync inside run_sync ---------------------------------------------------------


def test_run_sync_inside_an_effect_run_by_run_sync_is_refused_and_says_to_compose() -> None:
    inner = Effect.sync(lambda: run_sync(Effect.succeed(1)))
    with pytest.raises(RuntimeError, match="Compose the effect instead"):
        run_sync(inner)
    with pytest.raises(RuntimeError, match="already running effects"):
        run_sync(Effect.sync(lambda: run_sync_exit(Effect.succeed(1))))


def test_run_sync_in_a_finalizer_waiting_on_the_outer_run_is_refused_not_a_deadlock() -> None:
    def waits_on_the_outer_run(deferred: Deferred[int]) -> Effect[None]:
        return Effect.sync(lambda: run_sync(deferred.await_())).as_unit()

    @gen
    def program() -> Do[None]:
        deferred: Deferred[int] = yield Deferred.make()
        yield Effect.unit().ensuring(waits_on_the_outer_run(deferred))
        yield deferred.succeed(1)

    with pytest.raises(RuntimeError, match="Compose the effect instead"):
        run_sync(program())


def test_run_sync_from_a_blocking_call_of_a_run_sync_is_allowed() -> None:
    assert run_sync(Effect.blocking(lambda _signal: run_sync(Effect.succeed(7)))) == 7


def test_run_sync_on_another_thread_during_a_run_sync_is_allowed() -> None:
    results: list[int] = []

    def other_thread() -> None:
        thread = threading.Thread(target=lambda: results.append(run_sync(Effect.succeed(2))))
        thread.start()
        thread.join()

    run_sync(Effect.sync(other_thread))
    assert results == [2]


def test_run_sync_works_on_the_thread_again_after_a_refusal() -> None:
    with pytest.raises(RuntimeError):
        run_sync(Effect.sync(lambda: run_sync(Effect.unit())))
    assert run_sync(Effect.succeed("again")) == "again"


# -- daemons -----------------------------------------------------------------------------


def a_daemon_whose_finalizer_starts_another() -> Effect[str]:
    """A daemon whose finalizer forks a second daemon: the runner, stopping the
    daemons, must stop that one too (or wait for it forever)."""
    second = Effect.never()
    first = Effect.never().ensuring(second.fork_daemon().and_then(Effect.yield_now()))
    return first.fork_daemon().and_then(Effect.yield_now()).as_("root done")


def test_run_sync_also_stops_a_daemon_started_while_the_daemons_are_being_stopped() -> None:
    assert run_sync(a_daemon_whose_finalizer_starts_another()) == "root done"
    assert live_fiber_count() == 0


# -- run_fork at interpreter exit ------------------------------------------------------

AT_EXIT_PROGRAM = r"""
import threading
from effectpy import Effect, run_fork

def say(line):
    print(line, flush=True)

def blocked(signal):
    started.set()
    signal.wait()

started = threading.Event()
run_fork(Effect.never().ensuring(Effect.sync(lambda: say("finalizer of a sleeping fiber"))))
run_fork(
    Effect.blocking(blocked)
    .ensuring(Effect.blocking(lambda signal: say("finalizer in a blocking call")))
)
started.wait()
say("main program ends")
"""


def test_run_fork_fibers_are_interrupted_at_interpreter_exit_and_their_finalizers_run() -> None:
    done = subprocess.run(
        [sys.executable, "-c", AT_EXIT_PROGRAM],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines.index("main program ends") < lines.index("finalizer of a sleeping fiber")
    assert "finalizer in a blocking call" in lines


# -- Runtime --------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [0, -1, "x", 1.5, None], ids=repr)
def test_runtime_rejects_a_budget_that_is_not_a_positive_int(budget: object) -> None:
    with pytest.raises(ValueError, match="budget"):
        Runtime(budget=cast(Any, budget))


@pytest.mark.timeout(5)
@pytest.mark.parametrize("budget", [1, 2, 7])
def test_runtime_with_a_small_budget_still_completes(budget: int) -> None:
    effect: Effect[int] = Effect.succeed(0)
    for _ in range(1_000):
        effect = effect.flat_map(lambda n: Effect.sync(lambda: n + 1))
    assert Runtime(budget=budget).run_sync(effect) == 1_000


def busy_and_other(steps: int, budget: int) -> list[object]:
    """Fork a busy fiber of `steps` sync steps (each logs its number, from 1), then a
    fiber that logs "other", under a runtime of `budget`; the log."""
    log: list[object] = []
    busy: Effect[None] = Effect.unit()
    for index in reversed(range(1, steps + 1)):
        busy = Effect.sync(lambda index=index: log.append(index)).and_then(busy)  # type: ignore[misc]

    @gen
    def program() -> Do[None]:
        worker = yield from busy.fork()
        other = yield from Effect.sync(lambda: log.append("other")).fork()
        yield from worker.join()
        yield from other.join()

    Runtime(budget=budget).run_sync(program())
    return log


@pytest.mark.parametrize("budget", [1, 2, 3, 16, 255, 256, 257, 2048, 2049])
def test_a_busy_fiber_gives_way_to_the_others_within_its_budget_then_goes_on(
    budget: int,
) -> None:
    steps = budget + 10  # each step is at least one op: more than the budget
    log = busy_and_other(steps, budget)
    ran_before_the_other = log.index("other")
    assert ran_before_the_other <= budget
    assert log == [
        *range(1, ran_before_the_other + 1),
        "other",
        *range(ran_before_the_other + 1, steps + 1),
    ]


@pytest.mark.parametrize("budget", [256, 2048])
def test_a_fiber_whose_work_fits_in_its_budget_is_not_cut_short(budget: int) -> None:
    steps = budget // 20  # a sync step joined by and_then takes far fewer than 20 ops
    assert busy_and_other(steps, budget) == [*range(1, steps + 1), "other"]


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_runtime_with_a_seed_runs_effects(seed: int) -> None:
    runtime = Runtime(seed=seed)
    assert runtime.run_sync(Effect.succeed(2).map(lambda n: n * 21)) == 42
    assert runtime.run_sync_exit(Effect.fail("no")) == Exit.fail("no")


def test_runtime_run_async_works_inside_asyncio_run() -> None:
    async def main() -> int:
        return await Runtime(budget=3, seed=1).run_async(Effect.succeed(7))

    assert asyncio.run(main()) == 7


# -- Exit -----------------------------------------------------------------------------


def test_exit_constructors_build_success_and_failure() -> None:
    defect = OSError("bug")
    assert Exit.succeed(1) == Success(1)
    assert Exit.fail("no") == Failure(Fail("no"))
    assert Exit.fail_cause(Cause.die(defect)) == Failure(Die(defect))
    assert Exit.die(defect) == Failure(Die(defect))


def test_exit_is_success_and_is_failure() -> None:
    assert Exit.succeed(1).is_success()
    assert not Exit.succeed(1).is_failure()
    assert Exit.fail("no").is_failure()
    assert not Exit.fail("no").is_success()


def test_exit_match_calls_the_matching_function() -> None:
    def describe(exit: Exit[int, str]) -> str:
        return exit.match(
            on_success=lambda value: f"value {value}",
            on_failure=lambda cause: f"errors {cause.failures()}",
        )

    assert describe(Exit.succeed(1)) == "value 1"
    assert describe(Exit.fail("no")) == "errors ['no']"


def test_exit_get_or_raise_returns_the_value_or_raises_the_cause() -> None:
    assert Exit.succeed(3).get_or_raise() == 3
    error = ValueError("typed")
    with pytest.raises(ValueError) as caught:
        Exit.fail(error).get_or_raise()
    assert caught.value is error
    with pytest.raises(FiberFailure):
        Exit.fail("not an exception").get_or_raise()


def test_exits_work_in_match_statements() -> None:
    def describe(exit: Exit[int, str]) -> str:
        match exit:
            case Success(value):
                return f"value {value}"
            case Failure(Fail(error)):
                return f"error {error}"
            case Failure(cause):
                return f"other {type(cause).__name__}"
        return "unreachable"

    assert describe(run_sync_exit(Effect.succeed(1))) == "value 1"
    assert describe(run_sync_exit(Effect.fail("no"))) == "error no"
    assert describe(run_sync_exit(Effect.die(OSError()))) == "other Die"


def test_an_error_type_that_is_any_is_an_unhandled_failure_at_run_time() -> None:
    # What the plugin rejects at `run_sync` ("its error type E is Any").
    parsed: Effect[int, ValueError] = Effect.attempt(lambda: int("x"), ValueError)
    with pytest.raises(FiberFailure, match="invalid literal"):
        run_sync(parsed.map_error(lambda e: e.args[0]))  # type: ignore[arg-type]
