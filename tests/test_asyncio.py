"""asyncio interop: coroutines inside effects (`promise`, `try_promise`), effects inside
asyncio (`run_async`), and cancellation in both directions."""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import warnings
from collections.abc import Coroutine
from typing import Any, Never, cast

import pytest
from conftest import Latch

from effectpy import (
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Interrupt,
    Manual,
    Shutdown,
    Success,
    gen,
    live_fiber_count,
    run_async,
    run_async_exit,
    run_fork,
    run_sync,
    run_sync_exit,
)


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


# -- promise and try_promise ----------------------------------------------------------


def test_promise_succeeds_with_the_coroutines_result_under_run_sync() -> None:
    assert run_sync(Effect.promise(answer).map(lambda n: n + 1)) == 43


def test_promise_succeeds_with_the_coroutines_result_under_run_async() -> None:
    assert asyncio.run(run_async(Effect.promise(answer))) == 42


def test_run_sync_runs_effects_that_await_several_coroutines() -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0.001)
        return a + b

    @gen
    def program() -> Do[int]:
        x = yield from Effect.promise(lambda: add(1, 2))
        y = yield from Effect.promise(lambda: add(x, 10))
        return y

    assert run_sync(program()) == 13


def test_promise_makes_a_fresh_coroutine_each_run() -> None:
    calls: list[int] = []

    async def count() -> int:
        calls.append(1)
        return len(calls)

    effect = Effect.promise(count)
    assert run_sync(effect.zip(effect)) == (1, 2)


def test_an_exception_from_the_coroutine_is_a_defect() -> None:
    error = KeyError("user 7")

    async def lookup() -> int:
        raise error

    exit = run_sync_exit(Effect.promise(lookup))
    assert exit == Failure(Die(error))


def test_run_sync_raises_the_coroutines_own_exception() -> None:
    error = ConnectionError("refused")

    async def connect() -> int:
        raise error

    with pytest.raises(ConnectionError) as caught:
        run_sync(Effect.promise(connect))
    assert caught.value is error


def test_try_promise_makes_an_exception_of_the_catch_class_a_typed_error() -> None:
    error = KeyError("user 7")

    async def lookup() -> int:
        raise error

    exit = run_sync_exit(Effect.try_promise(lookup, KeyError))
    assert exit == Failure(Fail(error))


def test_try_promise_without_catch_types_every_exception() -> None:
    error = ValueError("bad")

    async def parse() -> int:
        raise error

    assert run_sync_exit(Effect.try_promise(parse)) == Failure(Fail(error))


def test_try_promise_leaves_other_exceptions_as_defects() -> None:
    error = ValueError("not a key error")

    async def lookup() -> int:
        raise error

    assert run_sync_exit(Effect.try_promise(lookup, KeyError)) == Failure(Die(error))


def test_try_promise_with_a_tuple_catches_each_class() -> None:
    async def fail_with(error: Exception) -> int:
        raise error

    def failing(error: Exception) -> Effect[int, KeyError | OSError]:
        return Effect.try_promise(lambda: fail_with(error), (KeyError, OSError))

    for error in (KeyError("k"), OSError("o")):
        assert run_sync_exit(failing(error)) == Failure(Fail(error))


def test_try_promise_typed_error_can_be_caught() -> None:
    async def lookup() -> int:
        raise KeyError("missing")

    recovered = Effect.try_promise(lookup, KeyError).catch_all(lambda e: Effect.succeed(-1))
    assert run_sync(recovered) == -1


def test_try_promise_with_a_bad_catch_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="catch"):
        Effect.try_promise(answer, cast(Any, "KeyError"))


def test_promise_with_a_function_not_returning_an_awaitable_is_a_type_error_defect() -> None:
    exit = run_sync_exit(Effect.promise(cast(Any, lambda: 42)))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, TypeError)
    assert "coroutine" in str(defect)
    assert "int" in str(defect)


@pytest.mark.parametrize("make", [42, None, "coroutine"])
def test_promise_of_something_that_is_not_a_function_is_a_type_error_at_once(make: object) -> None:
    with pytest.raises(TypeError, match=r"Effect\.promise"):
        Effect.promise(cast(Any, make))
    with pytest.raises(TypeError, match=r"Effect\.try_promise"):
        Effect.try_promise(cast(Any, make))


def test_promise_of_a_coroutine_object_is_a_type_error_that_names_the_fix() -> None:
    coroutine = answer()
    with pytest.raises(TypeError, match="a coroutine only once"):
        Effect.promise(cast(Any, coroutine))
    # It was closed, so it will not warn that it was never awaited.
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


def test_a_coroutine_cancelled_by_someone_else_is_a_defect() -> None:
    async def cancelled() -> int:
        raise asyncio.CancelledError()

    exit = run_sync_exit(Effect.promise(cancelled))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, asyncio.CancelledError)


def test_promise_under_run_async_runs_on_the_running_loop() -> None:
    async def where() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def main() -> bool:
        loop = await run_async(Effect.promise(where))
        return loop is asyncio.get_running_loop()

    assert asyncio.run(main())


def test_promise_under_run_sync_runs_on_a_helper_loop_thread() -> None:
    async def where() -> int:
        return threading.get_ident()

    assert run_sync(Effect.promise(where)) != threading.get_ident()


# -- interrupting a fiber that awaits a coroutine -------------------------------------


def cancellable(started: Latch, log: list[str]) -> Effect[str]:
    """A coroutine that opens `started` and then waits for an hour, recording how it
    was stopped."""

    async def wait_an_hour() -> str:
        try:
            started.open_now()
            await asyncio.sleep(3600)
            return "not cancelled"
        except asyncio.CancelledError:
            log.append("coroutine saw CancelledError")
            raise
        finally:
            await asyncio.sleep(0)  # its cleanup may itself await
            log.append("coroutine finally ran")

    return Effect.promise(wait_an_hour)


def interrupt_the_coroutine(log: list[str]) -> Effect[tuple[FiberId, Exit[str, Never]]]:
    @gen
    def program() -> Do[tuple[FiberId, Exit[str, Never]]]:
        started = Latch()
        fiber = yield from cancellable(started, log).fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()
        yield from record(log, "interrupt returned")
        return (yield from Effect.fiber_id()), exit

    return program()


def test_interrupting_a_fiber_cancels_its_coroutine_and_waits_for_it_under_run_sync() -> None:
    log: list[str] = []
    me, exit = run_sync(interrupt_the_coroutine(log))
    assert exit == Failure(Interrupt(me, Manual()))
    assert log == ["coroutine saw CancelledError", "coroutine finally ran", "interrupt returned"]


def test_interrupting_a_fiber_cancels_its_coroutine_and_waits_for_it_under_run_async() -> None:
    log: list[str] = []
    me, exit = asyncio.run(run_async(interrupt_the_coroutine(log)))
    assert exit == Failure(Interrupt(me, Manual()))
    assert log == ["coroutine saw CancelledError", "coroutine finally ran", "interrupt returned"]


def test_a_timeout_cancels_the_coroutine_it_gives_up_on() -> None:
    log: list[str] = []
    started = Latch()
    exit = run_sync_exit(cancellable(started, log).timeout(0.01))
    assert isinstance(exit, Failure)
    assert [type(e) for e in exit.cause.failures()] == [TimeoutError]
    assert log == ["coroutine saw CancelledError", "coroutine finally ran"]


# -- run_async ------------------------------------------------------------------------


def test_await_run_async_gives_the_value_inside_asyncio_run() -> None:
    async def main() -> int:
        first = await run_async(Effect.succeed(20))
        second = await run_async(Effect.sleep(0.001).as_(1))
        return first + second

    assert asyncio.run(main()) == 21


def test_run_async_raises_the_users_own_exception() -> None:
    error = ValueError("async failure")
    failing: Effect[int, ValueError] = Effect.fail(error)

    async def main() -> None:
        await run_async(cast(Effect[int], failing))

    with pytest.raises(ValueError) as caught:
        asyncio.run(main())
    assert caught.value is error


def test_run_async_exit_gives_the_exit() -> None:
    failing: Effect[int, str] = Effect.fail("no")
    assert asyncio.run(run_async_exit(failing)) == Failure(Fail("no"))
    assert asyncio.run(run_async_exit(Effect.succeed(1))) == Success(1)


def test_run_async_stops_daemons_when_the_effect_ends() -> None:
    seen: list[Interrupt] = []
    daemon = Effect.never().on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
    started = Latch()
    program = started.open().and_then(daemon).fork_daemon().and_then(started.wait())
    asyncio.run(run_async(program))
    assert [type(stop.reason) for stop in seen] == [Shutdown]


def test_effects_run_by_run_async_do_not_block_other_asyncio_tasks() -> None:
    async def main() -> list[str]:
        log: list[str] = []
        gate = asyncio.Event()

        async def other_task() -> None:
            log.append("other task ran")
            gate.set()

        async def wait_gate() -> None:
            await gate.wait()

        task = asyncio.create_task(other_task())
        await run_async(Effect.promise(wait_gate).and_then(record(log, "effect done")))
        await task
        return log

    assert asyncio.run(main()) == ["other task ran", "effect done"]


def test_cancelling_the_task_awaiting_run_async_interrupts_the_effect() -> None:
    log: list[str] = []
    seen: list[Interrupt] = []

    async def main() -> None:
        started = asyncio.Event()
        effect = (
            Effect.sync(started.set)
            .and_then(Effect.never())
            .on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
            .ensuring(Effect.sleep(0.001).and_then(record(log, "finalizer ran")))
        )
        task = asyncio.create_task(run_async(effect))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        log.append("task cancelled")

    asyncio.run(main())
    assert log == ["finalizer ran", "task cancelled"]
    assert [type(stop.reason) for stop in seen] == [Shutdown]


def test_cancelling_run_async_cancels_a_coroutine_the_effect_awaits() -> None:
    log: list[str] = []

    async def main() -> None:
        started = Latch()
        task = asyncio.create_task(run_async(cancellable(started, log)))
        while not started.is_open:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == ["coroutine saw CancelledError", "coroutine finally ran"]


@pytest.mark.parametrize("cancels", [2, 3])
def test_repeated_cancels_of_the_task_awaiting_run_async_still_wait_for_the_finalizers(
    cancels: int,
) -> None:
    log: list[str] = []

    async def main() -> None:
        started = asyncio.Event()
        tearing_down = asyncio.Event()

        async def step() -> None:
            await asyncio.sleep(0)

        slow_finalizer = Effect.sync(tearing_down.set).and_then(
            Effect.all(*[Effect.promise(step) for _ in range(5)])
        )
        effect = (
            Effect.sync(started.set)
            .and_then(Effect.never())
            .ensuring(slow_finalizer.and_then(record(log, "finalizer done")))
        )
        task = asyncio.create_task(run_async(effect))
        await started.wait()
        task.cancel()
        await tearing_down.wait()
        for _ in range(cancels - 1):
            task.cancel()
            await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await task
        log.append("task cancelled")

    asyncio.run(main())
    assert log == ["finalizer done", "task cancelled"]


def a_daemon_whose_finalizer_starts_another() -> Effect[str]:
    """A daemon whose finalizer forks a second daemon: the runner, stopping the
    daemons, must stop that one too (or wait for it forever)."""
    second = Effect.never()
    first = Effect.never().ensuring(second.fork_daemon().and_then(Effect.yield_now()))
    return first.fork_daemon().and_then(Effect.yield_now()).as_("root done")


def test_run_async_also_stops_a_daemon_started_while_the_daemons_are_being_stopped() -> None:
    assert asyncio.run(run_async(a_daemon_whose_finalizer_starts_another())) == "root done"
    assert live_fiber_count() == 0


def test_a_cancel_while_run_async_stops_the_daemons_still_waits_for_their_finalizers() -> None:
    log: list[str] = []

    async def main() -> None:
        tearing_down = asyncio.Event()

        async def step() -> None:
            await asyncio.sleep(0)

        daemon = Effect.never().ensuring(
            Effect.sync(tearing_down.set)
            .and_then(Effect.all(*[Effect.promise(step) for _ in range(5)]))
            .and_then(record(log, "daemon finalizer done"))
        )
        task = asyncio.create_task(run_async(daemon.fork_daemon().and_then(Effect.yield_now())))
        await tearing_down.wait()  # the root is done: run_async is stopping the daemon
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        log.append("task cancelled")

    asyncio.run(main())
    assert log == ["daemon finalizer done", "task cancelled"]


def test_a_cancel_during_the_teardown_of_run_async_is_not_taken_for_a_timeout() -> None:
    # asyncio.timeout tells its own cancel from another's by `Task.cancelling()`:
    # run_async answers every cancel with its CancelledError and uncancels none.
    log: list[str] = []

    async def main() -> None:
        tearing_down = asyncio.Event()
        finalizer = Effect.sync(tearing_down.set).and_then(
            Effect.promise(lambda: asyncio.sleep(0.01))
        )
        me = asyncio.current_task()
        assert me is not None

        async def cancel_me_during_the_teardown() -> None:
            await tearing_down.wait()
            me.cancel()

        canceller = asyncio.create_task(cancel_me_during_the_teardown())
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(0.001):
                await run_async(Effect.never().ensuring(finalizer.and_then(record(log, "done"))))
        await canceller

    asyncio.run(main())
    assert log == ["done"]


def test_keyboard_interrupt_in_a_coroutine_under_run_sync_is_raised_after_the_teardown() -> None:
    # asyncio lets it stop the helper loop: the fiber used to wait forever.
    log: list[str] = []

    async def interrupted() -> None:
        raise KeyboardInterrupt

    effect = (
        Effect.promise(interrupted)
        .catch_all_cause(lambda _cause: Effect.succeed("swallowed"))
        .ensuring(record(log, "finalizer"))
    )
    with pytest.raises(KeyboardInterrupt):
        run_sync_exit(effect)
    assert log == ["finalizer"]
    assert run_sync(Effect.promise(answer)) == 42  # a new helper loop works


def test_system_exit_in_a_coroutine_under_run_async_is_raised_after_the_teardown() -> None:
    log: list[str] = []

    async def exits() -> None:
        await asyncio.sleep(0)
        raise SystemExit(5)

    effect = Effect.promise(exits).ensuring(record(log, "finalizer"))
    with pytest.raises(SystemExit) as caught:
        asyncio.run(run_async_exit(effect))
    assert caught.value.code == 5
    assert log == ["finalizer"]
    assert live_fiber_count() == 0


def test_keyboard_interrupt_in_a_forked_fiber_under_run_async_stops_the_run_and_is_raised() -> None:
    log: list[str] = []

    def press_ctrl_c() -> None:
        raise KeyboardInterrupt

    effect = (
        Effect.sync(press_ctrl_c)
        .fork()
        .and_then(Effect.never())
        .ensuring(record(log, "root finalizer"))
    )
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(run_async(effect))
    assert log == ["root finalizer"]


def test_a_run_fork_fiber_still_running_when_asyncio_run_ends_is_interrupted_and_finalized() -> (
    None
):
    log: list[str] = []

    async def step() -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        run_fork(
            Effect.never().ensuring(
                Effect.all(*[Effect.promise(step) for _ in range(3)]).and_then(
                    record(log, "finalizer done")
                )
            )
        )
        await asyncio.sleep(0)

    asyncio.run(main())
    assert log == ["finalizer done"]


# -- run_sync inside a running loop ---------------------------------------------------


def test_run_sync_inside_a_running_event_loop_raises_runtime_error() -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="run_async"):
            run_sync(Effect.succeed(1))
        with pytest.raises(RuntimeError, match="run_async"):
            run_sync_exit(Effect.succeed(1))

    asyncio.run(main())


def test_run_sync_works_again_once_the_loop_is_gone() -> None:
    asyncio.run(asyncio.sleep(0))
    assert run_sync(Effect.succeed("fine")) == "fine"


@pytest.mark.parametrize("runner", ["run_sync", "run_async"])
def test_a_promise_interrupted_before_its_task_starts_leaves_no_unawaited_coroutine(
    runner: str,
) -> None:
    """Its coroutine is made only as the task starts, or closed: no "coroutine ... was
    never awaited" warning, which is an error in suites run with `-W error`."""
    made: list[object] = []

    def make() -> Coroutine[Any, Any, str]:
        coroutine = asyncio.sleep(10, "late")
        made.append(coroutine)
        return coroutine

    program = Effect.race(Effect.promise(make), Effect.succeed("first"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(50):
            if runner == "run_sync":
                assert run_sync(program) == "first"
            else:
                assert asyncio.run(run_async(program)) == "first"
        made.clear()
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
