"""Blocking code in threads: `Effect.blocking(fn)` runs `fn(signal)` in a pool without
holding up other fibers; interruption sets the signal and waits for `fn` to return."""

from __future__ import annotations

import sys
import threading
from typing import Any, Never, cast

import pytest
from conftest import Latch, each_seed, run_interleaved

from effectpy import (
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    InterruptReason,
    Manual,
    Signal,
    TestClock,
    Timeout,
    gen,
    run_fork,
    run_sync,
    run_sync_exit,
)

SAFETY_NET = 10.0
"""Seconds a thread waits on an event before giving up: only reached if a test fails."""


# -- results and errors ---------------------------------------------------------------


# -- KeyboardInterrupt and SystemExit: a shutdown, never a defect ---------------------


def test_system_exit_in_a_blocking_call_is_not_a_defect_that_catch_all_cause_can_swallow() -> None:
    effect = Effect.blocking(lambda _signal: sys.exit(3)).catch_all_cause(
        lambda _cause: Effect.succeed("swallowed")
    )
    with pytest.raises(SystemExit) as caught:
        run_sync(effect)
    assert caught.value.code == 3


def raise_keyboard_interrupt(_signal: Signal) -> Never:
    raise KeyboardInterrupt


def test_keyboard_interrupt_in_a_blocking_call_is_raised_by_the_runner_after_the_finalizers() -> (
    None
):
    log: list[str] = []
    sibling = Effect.never().ensuring(Effect.sync(lambda: log.append("sibling finalizer")))
    effect = (
        sibling.fork()
        .and_then(Effect.blocking(raise_keyboard_interrupt))
        .catch_all_cause(lambda _cause: Effect.succeed("swallowed"))
        .ensuring(Effect.sync(lambda: log.append("finalizer")))
    )
    with pytest.raises(KeyboardInterrupt):
        run_sync_exit(effect)
    assert sorted(log) == ["finalizer", "sibling finalizer"]


def test_system_exit_from_a_blocking_call_being_interrupted_is_still_raised() -> None:
    # The fiber was interrupted while its call ran: the call's outcome is dropped, but
    # not a SystemExit.
    started = threading.Event()

    def exit_when_asked(signal: Signal) -> None:
        started.set()
        signal.wait(SAFETY_NET)
        sys.exit(4)

    @gen
    def program() -> Do[str]:
        fiber = yield Effect.blocking(exit_when_asked).fork()
        yield Effect.blocking(lambda _signal: started.wait(SAFETY_NET))
        yield fiber.interrupt()
        return "interrupt returned"

    with pytest.raises(SystemExit) as caught:
        run_sync(program())
    assert caught.value.code == 4


def test_blocking_succeeds_with_the_functions_result() -> None:
    assert run_sync(Effect.blocking(lambda signal: sum(range(1000)))) == 499500


def test_blocking_runs_the_function_in_another_thread() -> None:
    assert run_sync(Effect.blocking(lambda signal: threading.get_ident())) != threading.get_ident()


def test_blocking_gives_the_function_an_unset_signal() -> None:
    def check(signal: Signal) -> tuple[bool, InterruptReason | None]:
        return signal.is_set(), signal.reason

    assert run_sync(Effect.blocking(check)) == (False, None)


def test_an_exception_from_the_function_is_a_defect() -> None:
    error = OSError("disk gone")

    def read(signal: Signal) -> bytes:
        raise error

    assert run_sync_exit(Effect.blocking(read)) == Failure(Die(error))


def test_run_sync_raises_the_functions_own_exception() -> None:
    error = OSError("disk gone")

    def read(signal: Signal) -> bytes:
        raise error

    with pytest.raises(OSError) as caught:
        run_sync(Effect.blocking(read))
    assert caught.value is error


def test_catch_makes_an_exception_of_that_class_a_typed_error() -> None:
    error = OSError("disk gone")

    def read(signal: Signal) -> bytes:
        raise error

    assert run_sync_exit(Effect.blocking(read, OSError)) == Failure(Fail(error))


def test_catch_leaves_other_exceptions_as_defects() -> None:
    error = ValueError("not an OSError")

    def read(signal: Signal) -> bytes:
        raise error

    assert run_sync_exit(Effect.blocking(read, OSError)) == Failure(Die(error))


def test_catch_with_a_tuple_catches_each_class() -> None:
    def failing(error: Exception) -> Effect[int, KeyError | OSError]:
        def fn(signal: Signal) -> int:
            raise error

        return Effect.blocking(fn, (KeyError, OSError))

    for error in (KeyError("k"), OSError("o")):
        assert run_sync_exit(failing(error)) == Failure(Fail(error))


def test_a_typed_blocking_error_can_be_caught() -> None:
    def read(signal: Signal) -> int:
        raise OSError("disk gone")

    assert run_sync(Effect.blocking(read, OSError).catch_all(lambda e: Effect.succeed(0))) == 0


@pytest.mark.parametrize("catch", ["OSError", BaseException, KeyboardInterrupt, ()])
def test_a_bad_catch_is_a_type_error(catch: object) -> None:
    with pytest.raises(TypeError, match="catch"):
        Effect.blocking(lambda signal: 1, cast(Any, catch))


# -- interruption ---------------------------------------------------------------------


def test_a_timeout_sets_the_signal_with_reason_timeout_and_waits_for_the_function() -> None:
    log: list[str] = []
    reasons: list[InterruptReason | None] = []
    started = Latch()

    def work(signal: Signal) -> str:
        started.open_now()
        signal.wait(SAFETY_NET)
        reasons.append(signal.reason)
        log.append("function returned")
        return "finished anyway"

    @gen
    def program() -> Do[Exit[str, TimeoutError]]:
        fiber = yield from Effect.blocking(work).timeout(5).fork()
        yield from started.wait()
        yield from TestClock.adjust(5)
        exit = yield from fiber.await_()
        log.append("timeout returned")
        return exit

    exit = run_sync(TestClock.provide(program()))
    assert reasons == [Timeout(5.0)]
    assert log == ["function returned", "timeout returned"]
    assert isinstance(exit, Failure)
    assert [type(e) for e in exit.cause.failures()] == [TimeoutError]


def test_interrupt_sets_the_signal_with_reason_manual() -> None:
    reasons: list[InterruptReason | None] = []
    started = Latch()

    def work(signal: Signal) -> None:
        started.open_now()
        signal.wait(SAFETY_NET)
        reasons.append(signal.reason)

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from Effect.blocking(work).fork()
        yield from started.wait()
        return (yield from fiber.interrupt())

    assert run_sync(program()).is_interrupted()
    assert reasons == [Manual()]


def test_interrupt_does_not_return_until_the_function_has_returned() -> None:
    started = threading.Event()
    signalled = threading.Event()
    release = threading.Event()

    def stubborn(signal: Signal) -> str:
        started.set()
        signal.wait(SAFETY_NET)
        signalled.set()
        release.wait(SAFETY_NET)  # ignores the signal until the test lets it go
        return "returned"

    fiber = run_fork(Effect.blocking(stubborn))
    assert started.wait(SAFETY_NET)
    interrupter = run_fork(fiber.interrupt())
    assert signalled.wait(SAFETY_NET)
    # The function has seen the signal but has not returned: interrupt must still wait.
    assert run_sync(interrupter.poll()) is None
    assert run_sync(fiber.poll()) is None
    release.set()
    exit = run_sync(interrupter.join())
    assert exit.is_interrupted()


def test_signal_callbacks_fire_when_the_fiber_is_interrupted() -> None:
    fired = threading.Event()
    started = Latch()

    def work(signal: Signal) -> bool:
        signal.add_callback(fired.set)
        started.open_now()
        return fired.wait(SAFETY_NET)

    @gen
    def program() -> Do[Exit[bool, Never]]:
        fiber = yield from Effect.blocking(work).fork()
        yield from started.wait()
        return (yield from fiber.interrupt())

    assert run_sync(program()).is_interrupted()
    assert fired.is_set()


def test_a_callback_added_to_a_set_signal_fires_at_once() -> None:
    signal = Signal()
    signal.set(Manual())
    fired: list[str] = []
    signal.add_callback(lambda: fired.append("fired"))
    assert fired == ["fired"]
    assert signal.is_set()
    assert signal.wait(0)
    assert signal.reason == Manual()


def test_a_signal_is_set_only_once_and_keeps_the_first_reason() -> None:
    signal = Signal()
    fired: list[str] = []
    signal.add_callback(lambda: fired.append("fired"))
    signal.set(Timeout(1.0))
    signal.set(Manual())
    assert signal.reason == Timeout(1.0)
    assert fired == ["fired"]


def test_the_signal_is_not_set_when_the_function_finishes_normally() -> None:
    signals: list[Signal] = []

    def work(signal: Signal) -> int:
        signals.append(signal)
        return 1

    assert run_sync(Effect.blocking(work)) == 1
    assert not signals[0].is_set()


# -- other fibers keep going ----------------------------------------------------------


@each_seed
def test_blocking_does_not_block_other_fibers(seed: int) -> None:
    go = threading.Event()

    def wait_for_go(signal: Signal) -> bool:
        return go.wait(SAFETY_NET)

    other_fiber = Effect.yield_now().and_then(Effect.sync(go.set)).as_(True)
    both = Effect.all(Effect.blocking(wait_for_go), other_fiber, concurrency=2)
    # The blocking call returns True only if the other fiber ran while it waited.
    assert run_interleaved(both, seed) == (True, True)


def test_many_blocking_calls_run_at_once() -> None:
    count = 4
    barrier = threading.Barrier(count, timeout=SAFETY_NET)

    def meet(signal: Signal) -> int:
        return barrier.wait()

    results = run_sync(
        Effect.for_each(range(count), lambda _: Effect.blocking(meet), concurrency=count)
    )
    assert sorted(results) == list(range(count))
