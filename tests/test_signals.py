"""Ctrl-C and SIGTERM: under `run_sync` and `run_main` a signal interrupts the root fiber
(reason `Shutdown`) between two steps, every finalizer runs once and to its end, the
runner raises `KeyboardInterrupt` (or `run_main` exits 130 / 143) once everything is torn
down, and nothing hangs.

The in-process tests raise the signal at a chosen point; the subprocess tests send real
signals at random moments to programs keeping a worker pool busy, many times over
(`EFFECTPY_SIGNAL_ROUNDS` raises the count for a soak).
"""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from effectpy import (
    Effect,
    Exit,
    Interrupt,
    Runtime,
    Shutdown,
    live_fiber_count,
    run_main,
    run_sync,
    run_sync_exit,
)
from effectpy._core.scheduler import SyncScheduler

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals (os.kill of SIGINT / SIGTERM)"
)

ON_MAIN_THREAD = threading.current_thread() is threading.main_thread()
needs_main_thread = pytest.mark.skipif(
    not ON_MAIN_THREAD, reason="Python runs signal handlers on the main thread only"
)


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def ctrl_c() -> Effect[None]:
    """An effect that presses Ctrl-C: the signal handler runs before it returns."""
    return Effect.sync(lambda: signal.raise_signal(signal.SIGINT))


def escapes(effect: Effect[object], then: Callable[[], object] = lambda: None) -> None:
    """`run_sync(effect)` raises `KeyboardInterrupt` from a second Ctrl-C; then `then()`
    (let what the run left behind finish). The run is abandoned: once the exception
    and the threads it left are gone, so are its fibers (collected)."""
    try:
        run_sync(effect)
    except KeyboardInterrupt:
        pass
    else:
        pytest.fail("run_sync returned")
    finally:
        then()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    deadline = time.monotonic() + 10.0
    while live_fiber_count() and time.monotonic() < deadline:  # a pool thread's last step
        gc.collect()
        time.sleep(0.01)


def ctrl_c_later(delay: float) -> threading.Timer:
    """Press Ctrl-C from another thread after `delay` seconds, while the main thread
    waits inside the scheduler (the case a signal handler alone may miss)."""
    timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


# -- run_sync: Ctrl-C is an interruption of the root ------------------------------------


@needs_main_thread
def test_ctrl_c_during_a_finalizer_lets_it_finish() -> None:
    log: list[str] = []
    finalizer = (
        ctrl_c()
        .and_then(record(log, "finalizer after Ctrl-C"))
        .and_then(Effect.yield_now().and_then(record(log, "finalizer's last step")))
    )
    effect = Effect.unit().ensuring(finalizer).and_then(Effect.never())
    with pytest.raises(KeyboardInterrupt):
        run_sync(effect)
    assert log == ["finalizer after Ctrl-C", "finalizer's last step"]


@needs_main_thread
def test_ctrl_c_interrupts_the_root_with_reason_shutdown_and_runs_every_finalizer() -> None:
    log: list[str] = []
    seen: list[Interrupt] = []
    worker = Effect.never().ensuring(record(log, "worker finalizer"))
    effect = Effect.scoped(
        Effect.acquire_release(Effect.unit(), lambda _r, _exit: record(log, "released"))
        .and_then(worker.fork())
        .and_then(Effect.yield_now())
        .and_then(ctrl_c())
        .and_then(Effect.never())
    ).on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
    with pytest.raises(KeyboardInterrupt):
        run_sync(effect)
    assert sorted(log) == ["released", "worker finalizer"]
    assert [type(stop.reason) for stop in seen] == [Shutdown]


@needs_main_thread
def test_ctrl_c_under_run_sync_exit_is_raised_too_after_the_teardown() -> None:
    log: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_sync_exit(ctrl_c().and_then(Effect.never()).ensuring(record(log, "finalizer")))
    assert log == ["finalizer"]


@needs_main_thread
@pytest.mark.parametrize(
    "waiting",
    [
        pytest.param(lambda: Effect.never(), id="for-another-thread"),
        pytest.param(lambda: Effect.sleep(3600), id="for-a-timer"),
        pytest.param(lambda: Effect.blocking(lambda signal: signal.wait()), id="for-a-thread"),
    ],
)
def test_ctrl_c_wakes_a_scheduler_that_waits(waiting: Callable[[], Effect[object]]) -> None:
    log: list[str] = []
    timer = ctrl_c_later(0.05)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_sync(waiting().ensuring(record(log, "finalizer")))
    timer.join()
    assert log == ["finalizer"]
    assert time.monotonic() - started < 2.0


@needs_main_thread
def test_ctrl_c_delivered_to_another_thread_still_wakes_the_scheduler_at_once() -> None:
    # The kernel may deliver SIGINT to any thread; Python then only flags it for the
    # main thread, whose lock wait goes on: the scheduler must not wait unbounded.
    log: list[str] = []
    go = threading.Event()

    def press_ctrl_c_soon() -> None:
        go.wait()
        time.sleep(0.05)  # the main thread is waiting in the scheduler by then
        os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_soon)
    presser.start()  # before the mask: this thread may receive SIGINT, the main cannot
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        go.set()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_sync(Effect.never().ensuring(record(log, "finalizer")))
        assert time.monotonic() - started < 2.0
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        presser.join()
    assert log == ["finalizer"]


def test_a_scheduler_with_a_signal_handler_never_waits_longer_than_wake_every() -> None:
    # A signal that lands just before the scheduler's lock wait begins does not cut the
    # wait short: the handler then runs when the bounded wait ends.
    # (Python runs it between bytecodes: once the wait returns, empty-handed.)
    scheduler = SyncScheduler()
    scheduler.wake_every = 0.01
    started = time.monotonic()
    assert scheduler._receive(None) is None
    assert scheduler._receive(3600.0) is None
    assert time.monotonic() - started < 1.0


@needs_main_thread
def test_a_second_ctrl_c_during_the_teardown_escapes_at_once() -> None:
    log: list[str] = []
    effect = (
        ctrl_c()
        .and_then(Effect.never())
        .ensuring(ctrl_c().and_then(record(log, "not reached")))
        .ensuring(record(log, "outer finalizer: skipped too"))
    )
    escapes(effect)
    assert log == []


@needs_main_thread
def test_a_second_ctrl_c_escapes_a_teardown_stuck_in_a_blocking_call() -> None:
    release = threading.Event()

    def stuck(_signal: object) -> None:  # ignores its signal: a teardown that hangs
        os.kill(os.getpid(), signal.SIGINT)
        release.wait(30)

    escapes(ctrl_c().and_then(Effect.never()).ensuring(Effect.blocking(stuck)), release.set)


# -- run_main ---------------------------------------------------------------------------


def exit_status(run: Callable[[], object]) -> object:
    with pytest.raises(SystemExit) as caught:
        run()
    return caught.value.code


@needs_main_thread
def test_run_main_exits_0_when_the_program_succeeds() -> None:
    assert exit_status(lambda: run_main(Effect.succeed("done"))) == 0


@needs_main_thread
def test_run_main_exits_1_and_logs_the_pretty_cause_when_the_program_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert exit_status(lambda: run_main(Effect.fail(ValueError("bad config")))) == 1
    [failure] = [r for r in caplog.records if r.name == "effectpy" and r.levelname == "ERROR"]
    assert "Fail: ValueError: bad config" in failure.getMessage()


@needs_main_thread
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_run_main_interrupts_the_program_on_a_stop_signal_runs_its_finalizers_and_exits(
    signum: int, status: int
) -> None:
    log: list[str] = []
    seen: list[Exit[Any, Any]] = []
    before = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    program = (
        Effect.sync(lambda: signal.raise_signal(signum))
        .and_then(Effect.never())
        .on_exit(lambda exit: Effect.sync(lambda: seen.append(exit)))
        .ensuring(Effect.yield_now().and_then(record(log, "finalizer")))
    )
    assert exit_status(lambda: run_main(program)) == status
    assert log == ["finalizer"]
    [exit] = seen
    assert exit.is_failure()
    assert {stop: signal.getsignal(stop) for stop in before} == before  # put back


@needs_main_thread
def test_run_main_logs_a_finalizer_that_fails_during_the_shutdown_not_the_interruption(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_release() -> None:
        raise OSError("socket already closed")

    def sigterm() -> None:
        signal.raise_signal(signal.SIGTERM)

    quiet = Effect.sync(sigterm).and_then(Effect.never())
    assert exit_status(lambda: run_main(quiet)) == 143
    assert [r for r in caplog.records if r.levelname == "ERROR"] == []
    noisy = quiet.ensuring(Effect.sync(broken_release))
    assert exit_status(lambda: run_main(noisy)) == 143
    [failure] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "OSError: socket already closed" in failure.getMessage()


@needs_main_thread
def test_run_main_reraises_a_system_exit_of_the_programs_own_code() -> None:
    assert exit_status(lambda: run_main(Effect.sync(lambda: sys.exit(7)))) == 7


@pytest.mark.parametrize("grace", [-1, -0.5, float("nan"), "10", None, True])
def test_run_main_rejects_a_grace_that_is_not_a_non_negative_number(grace: object) -> None:
    with pytest.raises(ValueError, match="grace"):
        run_main(Effect.unit(), grace=grace)  # type: ignore[arg-type]


def test_run_main_off_the_main_thread_is_refused() -> None:
    errors: list[BaseException] = []

    def call() -> None:
        try:
            run_main(Effect.unit())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    [error] = errors
    assert isinstance(error, RuntimeError)
    assert "main thread" in str(error)


# -- real signals, at random moments, to a busy program -------------------------------

BUSY_PROGRAM = r"""
import asyncio, sys, time
from effectpy import Effect, run_sync, run_main

mode, rounds, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
grace = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def busy_round(r):
    acquired = [0]
    inner = {"acquired": 0, "released": 0, "open": 0}

    def acquire(i):
        say(f"acq {r} {i}")
        acquired[0] += 1
        if acquired[0] == workers:
            say(f"ready {r}")

    def release(i):
        # A finalizer of several steps, one of them on the thread pool.
        return (
            Effect.sync(lambda: say(f"rel-start {r} {i}"))
            .and_then(Effect.blocking(lambda s: time.sleep(0.001)))
            .and_then(Effect.yield_now())
            .and_then(Effect.sync(lambda: say(f"rel-end {r} {i}")))
        )

    def inner_open():
        inner["acquired"] += 1
        inner["open"] += 1

    def inner_close():
        inner["released"] += 1
        inner["open"] -= 1

    # Each step opens and closes a resource: finalizers run all the time, so a signal
    # often lands inside one.
    step = Effect.scoped(
        Effect.acquire_release(
            Effect.sync(inner_open),
            lambda _r, _exit: Effect.blocking(lambda s: sum(range(200)))
            .and_then(Effect.yield_now())
            .and_then(Effect.sync(inner_close)),
        )
        .and_then(Effect.sync(lambda: sum(range(500))))
        .and_then(Effect.promise(lambda: asyncio.sleep(0)))  # on the helper loop
        .and_then(Effect.sleep(0.0005))  # a timer
    )

    def forever(effect):
        return effect.and_then(Effect.suspend(lambda: forever(effect)))

    def worker(i):
        return Effect.scoped(
            Effect.acquire_release(Effect.sync(lambda: acquire(i)), lambda _r, _e: release(i))
            .and_then(forever(step))
        ).ensuring(Effect.sync(lambda: say(f"ens {r} {i}")))

    effect = Effect.all(*[worker(i) for i in range(workers)], concurrency="unbounded")
    return effect, inner


if mode == "sync":
    for r in range(rounds):
        effect, inner = busy_round(r)
        try:
            run_sync(effect)
            say(f"returned {r}")
        except KeyboardInterrupt:
            say(f"ki {r} {inner['acquired']} {inner['released']} {inner['open']}")
    say("end")
else:
    effect, inner = busy_round(0)
    run_main(effect.ensuring(Effect.sync(
        lambda: say(f"inner 0 {inner['acquired']} {inner['released']} {inner['open']}")
    )), grace=grace)
"""

WORKERS = 12
ROUNDS = int(os.environ.get("EFFECTPY_SIGNAL_ROUNDS", "200"))
"""Signals sent to `run_sync` programs (a soak raises it); `run_main` gets a tenth."""
PARALLEL = 6
TIMEOUT = 30.0
"""Longer than any program takes (a few seconds): a hang is killed and fails."""


def start(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BUSY_PROGRAM, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_after_each_ready(
    process: subprocess.Popen[str], signum: int, rng: random.Random
) -> list[str]:
    """Read the program's lines; after each `ready`, wait 0-20 ms and send `signum`."""
    assert process.stdout is not None
    lines: list[str] = []
    killer = threading.Timer(TIMEOUT, process.kill)  # nothing hangs: a hang fails
    killer.start()
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                time.sleep(rng.uniform(0.0, 0.02))
                process.send_signal(signum)
        process.wait()
    finally:
        killer.cancel()
        process.stdout.close()
    return lines


def errors_of(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    with process.stderr:
        return process.stderr.read()


def check_round(lines: list[str], r: int) -> None:
    """Every resource of round `r` acquired was released once, each release ran to its
    end, every worker's `ensuring` ran once."""
    counts = Counter(line for line in lines if line.split()[1:2] == [str(r)])
    for i in range(WORKERS):
        for marker in ("acq", "rel-start", "rel-end", "ens"):
            assert counts[f"{marker} {r} {i}"] == 1, (marker, r, i, lines[-40:])


def run_sync_rounds(seed: int, rounds: int) -> tuple[int, list[str], str]:
    process = start("sync", rounds, WORKERS)
    lines = signal_after_each_ready(process, signal.SIGINT, random.Random(seed))
    return process.returncode, lines, errors_of(process)


@pytest.mark.timeout(TIMEOUT + 30 + ROUNDS // 5)
def test_ctrl_c_at_random_moments_under_run_sync_runs_every_finalizer_once_and_never_hangs() -> (
    None
):
    per_process = max(ROUNDS // PARALLEL, 1)
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(run_sync_rounds, range(PARALLEL), [per_process] * PARALLEL))
    for returncode, lines, stderr in results:
        assert returncode == 0, (returncode, stderr[-2000:], lines[-20:])
        assert lines[-1] == "end"
        kis = [line.split() for line in lines if line.startswith("ki ")]
        assert [int(ki[1]) for ki in kis] == list(range(per_process))
        for _ki, r, acquired, released, still_open in kis:
            assert acquired == released and still_open == "0", (r, acquired, released)
            check_round(lines, int(r))


def run_main_once(seed: int) -> tuple[int, int, list[str], str]:
    signum = (signal.SIGINT, signal.SIGTERM)[seed % 2]
    process = start("main", 1, WORKERS)
    lines = signal_after_each_ready(process, signum, random.Random(seed))
    return signum, process.returncode, lines, errors_of(process)


@pytest.mark.timeout(TIMEOUT + 30 + ROUNDS // 5)
def test_sigint_and_sigterm_at_random_moments_under_run_main_exit_130_and_143() -> None:
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(run_main_once, range(max(ROUNDS // 10, 2))))
    for signum, returncode, lines, stderr in results:
        assert returncode == 128 + signum, (returncode, stderr[-2000:], lines[-20:])
        check_round(lines, 0)
        [inner] = [line.split() for line in lines if line.startswith("inner ")]
        assert inner[2] == inner[3] and inner[4] == "0", inner


STUCK_PROGRAM = r"""
import sys, threading
from effectpy import Effect, run_main

never = threading.Event()
def ready():
    print("ready", flush=True)
def stuck(_signal):
    print("finalizer started", flush=True)
    never.wait()  # ignores its signal
program = Effect.sync(ready).and_then(Effect.never()).ensuring(Effect.blocking(stuck))
run_main(program, grace=float(sys.argv[1]))
"""


def test_run_main_abandons_finalizers_still_running_after_the_grace_period_with_a_warning() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK_PROGRAM, "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 143, err
    assert "finalizer started" in out
    assert "0.2s grace period is over" in err and "abandoning the finalizers" in err
    assert time.monotonic() - started < 5.0


def test_a_second_signal_under_run_main_abandons_the_teardown_at_once() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", STUCK_PROGRAM, "inf"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    process.send_signal(signal.SIGINT)
    assert process.stdout.readline() == "finalizer started\n"
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, err
    assert "a second signal (SIGINT)" in err


@needs_main_thread
def test_runtime_run_main_uses_the_runtimes_settings() -> None:
    assert exit_status(lambda: Runtime(budget=10).run_main(Effect.succeed(1))) == 0
