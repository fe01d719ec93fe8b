"""Running effects: `run_sync`, `run_sync_exit`, `run_async`, `run_async_exit`,
`run_fork`, and `run_main` for a long-lived program.

The runners accept only effects that cannot fail with an unhandled typed error and need
no service (`Effect[A, Never, Never]`), so mypy rejects a program that forgot to handle
an error or to provide a service. `Runtime` holds settings (op budget, a scheduler seed
for testing interleavings); the module-level runners use the defaults.

Signals. Python raises `KeyboardInterrupt` wherever the main thread is, which may be
inside the scheduler or a finalizer. So while `run_sync` runs on the main thread with
Python's default SIGINT handler, it installs its own (as `asyncio.Runner` does): a
Ctrl-C posts an interruption of the root fiber (reason `Shutdown`) to the scheduler's
inbox, the teardown runs as for any interruption, and `KeyboardInterrupt` is raised
once it is over. A second Ctrl-C during the teardown escapes at once. `run_main` does
the same for SIGINT and SIGTERM, with a grace period for the teardown.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import math
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any, Final, Never, NoReturn, TypeVar

from ._core.cause import Cause, FiberFailure
from ._core.exit import Exit, Failure, Success
from ._core.ids import NONE_ID, Shutdown
from ._core.scheduler import (
    DEFAULT_BUDGET,
    AsyncioScheduler,
    Scheduler,
    SyncScheduler,
    live_fiber_count,
)
from ._interpreter.logs import LOGGER_NAME
from ._interpreter.loop import FiberRuntime, new_fiber
from .effect import Effect, _require_effect
from .fiber import Fiber

A = TypeVar("A")
E = TypeVar("E")

__all__ = [
    "Runtime",
    "live_fiber_count",
    "run_async",
    "run_async_exit",
    "run_fork",
    "run_main",
    "run_sync",
    "run_sync_exit",
]


_DEFAULT_GRACE: Final = 10.0
"""`run_main`: how long finalizers may run after a stop signal (seconds)."""


class Runtime:
    """Settings for running effects.

    `budget` is how many ops a fiber runs before yielding to others (default 2048);
    `seed`, when given, shuffles the ready queue deterministically: a way to test
    concurrent code under many interleavings.

    >>> from effectpy import Effect, Runtime
    >>> Runtime(budget=100, seed=7).run_sync(Effect.succeed("ok"))
    'ok'
    """

    __slots__ = ("budget", "seed")

    def __init__(self, *, budget: int = DEFAULT_BUDGET, seed: int | None = None) -> None:
        if not isinstance(budget, int) or budget < 1:
            raise ValueError(f"Runtime budget must be a positive int, got {budget!r}")
        self.budget = budget
        self.seed = seed

    def run_sync_exit(self, effect: Effect[A, E, Never]) -> Exit[A, E]:
        """Run `effect` on this thread until it ends; return its `Exit`. Never raises
        for a failure of the effect."""
        _require_effect(effect, "run_sync_exit")
        _refuse_inside_event_loop()
        _refuse_inside_run_sync("run_sync")
        scheduler = SyncScheduler(budget=self.budget, seed=self.seed)
        root = new_fiber(scheduler)
        ctrl_c = _CtrlC(scheduler, root)
        with _driving(), ctrl_c:
            root.start(effect)
            try:
                _drive(scheduler, root)
            finally:
                scheduler.close(wait=scheduler.escape is None)
        if ctrl_c.received is not None:  # after the run was over: raise it all the same
            raise ctrl_c.received
        exit = root.exit
        assert exit is not None
        return exit

    def run_sync(self, effect: Effect[A, Never, Never]) -> A:
        """Run `effect` on this thread; return its value or raise its failure.

        A single typed error or defect is raised as the exception itself, with the
        pretty cause attached as a note; several become an `ExceptionGroup`; a typed
        error that is not an exception, or an interruption, a `FiberFailure`.
        """
        return _value_or_raise(self.run_sync_exit(effect))

    async def run_async_exit(self, effect: Effect[A, E, Never]) -> Exit[A, E]:
        """Run `effect` inside the running asyncio loop; return its `Exit`.

        Cancelling the awaiting task interrupts the effect (reason `Shutdown`), waits
        for its finalizers, then re-raises `CancelledError`. Further cancels during
        that teardown do not cut it short.
        """
        _require_effect(effect, "run_async_exit")
        loop = asyncio.get_running_loop()
        scheduler = AsyncioScheduler(loop, budget=self.budget, seed=self.seed)
        root = new_fiber(scheduler)
        done: asyncio.Future[Exit[A, E]] = loop.create_future()

        def on_exit(exit: Exit[Any, Any]) -> None:
            if not done.done():
                done.set_result(exit)

        root.add_observer(on_exit)
        _interrupt_on_fatal(scheduler, root)
        root.start(effect)
        try:
            exit = await asyncio.shield(done)
            await _stop_daemons_async(scheduler)
        except asyncio.CancelledError:  # (the root may be done: daemons are still going)
            root.interrupt_as(NONE_ID, Shutdown("the awaiting asyncio task was cancelled"))
            await _tear_down_despite_cancels(scheduler, done)
            raise
        if scheduler.fatal is not None:
            raise scheduler.fatal
        return exit

    def run_fork(self, effect: Effect[A, E, Never]) -> Fiber[A, E]:
        """Start `effect` in the background and return its `Fiber` at once.

        Inside a running asyncio loop the fiber runs on that loop, watched by an
        asyncio task: when the loop shuts down (the end of `asyncio.run`), the fiber is
        interrupted (reason `Shutdown`) and its finalizers run. Elsewhere it runs on a
        thread of its own, interrupted the same way at interpreter exit. Wait for it
        with `run_sync(fiber.join())` (from any thread) or stop it with
        `run_sync(fiber.interrupt())`.
        """
        _require_effect(effect, "run_fork")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._run_fork_in_thread(effect)
        scheduler = AsyncioScheduler(loop, budget=self.budget, seed=self.seed)
        root = new_fiber(scheduler)
        _interrupt_on_fatal(scheduler, root)
        root.start(effect)
        watcher = loop.create_task(_watch(scheduler, root), name=f"effectpy-fiber-{root.id}")
        _watchers.add(watcher)
        watcher.add_done_callback(_watchers.discard)
        return Fiber.of(root)

    def _run_fork_in_thread(self, effect: Effect[A, E, Never]) -> Fiber[A, E]:
        scheduler = SyncScheduler(budget=self.budget, seed=self.seed)
        root = new_fiber(scheduler)
        started = threading.Event()

        def drive() -> None:
            scheduler.thread_id = threading.get_ident()
            root.start(effect)
            started.set()
            try:
                with _driving():
                    _drive(scheduler, root)
            finally:
                scheduler.close()
                _background.pop(root, None)

        thread = threading.Thread(
            target=drive, name=f"effectpy-fiber-{root.id.number}", daemon=True
        )
        _background[root] = (scheduler, thread)
        thread.start()
        started.wait()
        return Fiber.of(root)

    async def run_async(self, effect: Effect[A, Never, Never]) -> A:
        """Run `effect` inside the running asyncio loop; return its value or raise
        (as `run_sync` does)."""
        return _value_or_raise(await self.run_async_exit(effect))

    def run_main(self, effect: Effect[A, E, Never], *, grace: float = _DEFAULT_GRACE) -> NoReturn:
        """Run `effect` as the program (a service) on the main thread, then exit.

        SIGINT and SIGTERM interrupt it (reason `Shutdown`); its finalizers get `grace`
        seconds, then are abandoned with a warning. Exit status: 0 on success, 1 on a
        failure (its cause logged on the `effectpy` logger), 130 after SIGINT, 143
        after SIGTERM; a `SystemExit` raised by the program's own code is re-raised.
        """
        _require_effect(effect, "run_main")
        grace = _check_grace(grace)
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "run_main must be called on the main thread, the one Python delivers "
                "signals to; use run_sync elsewhere"
            )
        _refuse_inside_event_loop("run_main")
        _refuse_inside_run_sync("run_main")
        scheduler = SyncScheduler(budget=self.budget, seed=self.seed)
        root = new_fiber(scheduler)
        signals = _ServiceSignals(scheduler, root, grace)
        raised: BaseException | None = None
        with _driving(), signals:
            root.start(effect)
            try:
                _drive(scheduler, root)
            except (KeyboardInterrupt, SystemExit) as exc:  # raised by the program's code
                raised = exc
            finally:
                scheduler.close()
        exit = root.exit
        assert exit is not None
        if isinstance(exit, Failure) and not exit.cause.is_interrupted_only():
            _logger.error("effectpy: the program failed:\n%s", exit.cause.pretty())
        if signals.received is not None:
            raise SystemExit(128 + signals.received)
        if raised is not None:
            if isinstance(raised, SystemExit):
                raise raised
            raise SystemExit(128 + signal.SIGINT)
        raise SystemExit(0 if isinstance(exit, Success) else 1)


_DEFAULT = Runtime()

_watchers: set[asyncio.Task[None]] = set()
"""Strong references to the asyncio tasks watching `run_fork` fibers."""

_background: dict[FiberRuntime, tuple[SyncScheduler, threading.Thread]] = {}
"""`run_fork` fibers running on threads of their own, until they end."""

_EXIT_GRACE_SECONDS = 10.0
"""At interpreter exit, how long to wait for background fibers' finalizers."""


async def _watch(scheduler: AsyncioScheduler, root: FiberRuntime) -> None:
    """Wait for a `run_fork` fiber; if the loop cancels this task (shutdown),
    interrupt the fiber and wait until it and its daemons have ended."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_exit(_exit: Exit[Any, Any]) -> None:
        if not done.done():
            done.set_result(None)

    root.add_observer(on_exit)
    try:
        await asyncio.shield(done)
        await _stop_daemons_async(scheduler)
    except asyncio.CancelledError:
        root.interrupt_as(NONE_ID, Shutdown("the event loop is shutting down"))
        await _tear_down_despite_cancels(scheduler, done)
        raise
    if scheduler.fatal is not None:  # a Ctrl-C or `SystemExit` raised in the fiber
        raise scheduler.fatal


def _interrupt_at_exit(root: FiberRuntime) -> None:
    root.interrupt_as(NONE_ID, Shutdown("the interpreter is exiting"))


def _stop_background_fibers() -> None:
    """No fiber outlives the interpreter silently: interrupt `run_fork` fibers still
    running on their threads, and give their finalizers a bounded time to run.

    It runs as the interpreter starts to shut down, before the thread pools are
    joined (`concurrent.futures` joins its workers then: a fiber waiting in
    `Effect.blocking` would keep that join waiting forever), so finalizers can still
    use `Effect.blocking`."""
    for root, (scheduler, _thread) in list(_background.items()):
        if root.exit is None:
            scheduler.call_threadsafe(functools.partial(_interrupt_at_exit, root))
    deadline = time.monotonic() + _EXIT_GRACE_SECONDS
    for _, thread in list(_background.values()):
        thread.join(max(deadline - time.monotonic(), 0.0))


_register_at_exit: Any = getattr(threading, "_register_atexit", atexit.register)
_register_at_exit(_stop_background_fibers)
# (CPython's hook for "before threads are joined", which `concurrent.futures` uses; a
# Python without it gets `atexit`, which runs after that join.)


def run_sync_exit(effect: Effect[A, E, Never]) -> Exit[A, E]:
    """Run `effect` to its `Exit`; never raises for a failure of the effect.

    >>> from effectpy import Effect, run_sync_exit
    >>> run_sync_exit(Effect.fail("no"))
    Failure(cause=Fail(error='no'))
    """
    return _DEFAULT.run_sync_exit(effect)


def run_sync(effect: Effect[A, Never, Never]) -> A:
    """Run `effect` on this thread and return its value, or raise its failure.

    mypy accepts only an effect with no unhandled error and no missing service.
    Inside a running asyncio loop use `await run_async(effect)`: `run_sync` refuses
    with a `RuntimeError` rather than block the loop.

    >>> from effectpy import Effect, run_sync
    >>> run_sync(Effect.succeed(21).map(lambda n: n * 2))
    42
    """
    return _DEFAULT.run_sync(effect)


async def run_async_exit(effect: Effect[A, E, Never]) -> Exit[A, E]:
    """Await `effect`'s `Exit` inside a running asyncio loop.

    >>> import asyncio
    >>> from effectpy import Effect, run_async_exit
    >>> asyncio.run(run_async_exit(Effect.succeed(1)))
    Success(value=1)
    """
    return await _DEFAULT.run_async_exit(effect)


async def run_async(effect: Effect[A, Never, Never]) -> A:
    """Await `effect`'s value inside a running asyncio loop (raises like `run_sync`).

    >>> import asyncio
    >>> from effectpy import Effect, run_async
    >>> asyncio.run(run_async(Effect.succeed("from asyncio")))
    'from asyncio'
    """
    return await _DEFAULT.run_async(effect)


def run_fork(effect: Effect[A, E, Never]) -> Fiber[A, E]:
    """Start `effect` in the background; return its `Fiber` without waiting.

    >>> from effectpy import Effect, run_fork, run_sync
    >>> fiber = run_fork(Effect.succeed("background work"))
    >>> run_sync(fiber.join())
    'background work'
    """
    return _DEFAULT.run_fork(effect)


def run_main(effect: Effect[A, E, Never], *, grace: float = _DEFAULT_GRACE) -> NoReturn:
    """Run `effect` as a long-lived program on the main thread, then exit the process.

    SIGINT (Ctrl-C) and SIGTERM interrupt it; its finalizers get `grace` seconds.
    The exit status is 0 on success, 1 on failure (the cause is logged), 130 after
    SIGINT, 143 after SIGTERM. Raises `ValueError` for a negative `grace`.

    >>> from effectpy import Effect, run_main
    >>> run_main(Effect.succeed("done"))
    Traceback (most recent call last):
    SystemExit: 0
    """
    _DEFAULT.run_main(effect, grace=grace)


def _check_grace(grace: object) -> float:
    if (
        isinstance(grace, bool)
        or not isinstance(grace, int | float)
        or math.isnan(grace)
        or grace < 0
    ):
        raise ValueError(f"run_main grace must be a non-negative number of seconds, got {grace!r}")
    return float(grace)


def _refuse_inside_event_loop(runner: str = "run_sync") -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{runner} was called inside a running asyncio event loop, where it would block "
        "the loop; use `await run_async(effect)` instead"
    )


_this_thread = threading.local()
"""`driving`: whether this thread is running a `run_sync` (or `run_main`, or a
`run_fork` thread's) scheduler."""


@contextlib.contextmanager
def _driving() -> Iterator[None]:
    _this_thread.driving = True
    try:
        yield
    finally:
        _this_thread.driving = False


def _refuse_inside_run_sync(runner: str) -> None:
    if getattr(_this_thread, "driving", False):
        raise RuntimeError(
            f"{runner} was called on a thread that is already running effects (from an "
            "effect or a finalizer that a runner is running): the inner run would stop "
            "the outer one until it ends, and deadlock if it waits for it. Compose the "
            "effect instead (return it from `flat_map`, or `yield` it in a generator)"
        )


_logger = logging.getLogger(LOGGER_NAME)

_WAKE_EVERY: Final = 0.1
"""While a runner's signal handler is installed, the longest its scheduler waits in one
go (seconds): see `SyncScheduler.wake_every`."""


class _CtrlC:
    """Ctrl-C under `run_sync` on the main thread, made an interruption of the root
    fiber (reason `Shutdown`) delivered through the scheduler's inbox, so that the
    runtime is never stopped mid-step or mid-finalizer. Installed only over Python's
    default SIGINT handler (someone else's handler is left alone, as `asyncio.Runner`
    leaves it). A second Ctrl-C before the run is over raises `KeyboardInterrupt` at
    once (`Scheduler.escape`): the way out of a teardown that hangs."""

    __slots__ = ("_handler", "_installed", "_root", "_scheduler", "received")

    def __init__(self, scheduler: SyncScheduler, root: FiberRuntime) -> None:
        self._scheduler = scheduler
        self._root = root
        self._handler = self._on_sigint  # one bound method, to recognise it later
        self._installed = False
        self.received: KeyboardInterrupt | None = None
        """The Ctrl-C, while the runner has not handed it to the scheduler."""

    def __enter__(self) -> None:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handler)
            self._installed = True
            self._scheduler.wake_every = _WAKE_EVERY

    def __exit__(self, *_: object) -> None:
        if self._installed and signal.getsignal(signal.SIGINT) is self._handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def _on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        scheduler = self._scheduler
        if self.received is not None or scheduler.fatal is not None:
            scheduler.escape = KeyboardInterrupt()
            raise scheduler.escape
        self.received = KeyboardInterrupt()
        scheduler.call_threadsafe(self._deliver)

    def _deliver(self) -> None:  # on the scheduler thread, between two steps
        received, self.received = self.received, None
        if received is not None:
            self._scheduler.fatal_error(received)  # `_drive` interrupts the root
            self._root.interrupt_as(NONE_ID, Shutdown("KeyboardInterrupt"))


_DONE: Final = -1


class _ServiceSignals:
    """`run_main`'s SIGINT and SIGTERM handlers: the first signal interrupts the root
    fiber (reason `Shutdown`) through the scheduler's inbox and starts the grace
    period; when it runs out, or at a second signal, a watchdog thread logs a
    warning and ends the process at once (`os._exit`: threads still running the
    abandoned teardown would keep a normal exit waiting)."""

    __slots__ = (
        "_events",
        "_grace",
        "_handler",
        "_previous",
        "_root",
        "_scheduler",
        "_watchdog",
        "received",
    )

    SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, scheduler: SyncScheduler, root: FiberRuntime, grace: float) -> None:
        self._scheduler = scheduler
        self._root = root
        self._grace = grace
        self._handler = self._on_signal
        self._previous: dict[int, Any] = {}
        self._events: queue.SimpleQueue[int] = queue.SimpleQueue()  # put: signal-safe
        self._watchdog = threading.Thread(
            target=self._watch, name="effectpy-run-main-watchdog", daemon=True
        )
        self.received: int | None = None
        """The first stop signal's number."""

    def __enter__(self) -> None:
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handler)
        self._scheduler.wake_every = _WAKE_EVERY
        self._watchdog.start()

    def __exit__(self, *_: object) -> None:
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) is self._handler:
                # (None: a handler set from C, which Python cannot put back)
                signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._events.put(_DONE)
        self._watchdog.join()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            name = signal.Signals(signum).name
            self._scheduler.call_threadsafe(
                lambda: self._root.interrupt_as(NONE_ID, Shutdown(name))
            )
        self._events.put(signum)

    def _watch(self) -> None:
        events = self._events
        signum = events.get()
        if signum == _DONE:
            return
        grace = self._grace
        try:
            second = events.get(timeout=None if grace > threading.TIMEOUT_MAX else grace)
        except queue.Empty:
            why = f"the {grace:g}s grace period is over"
        else:
            if second == _DONE:
                return
            why = f"a second signal ({signal.Signals(second).name}) arrived"
        status = 128 + signum
        _logger.warning(
            "effectpy: run_main was stopping the program (%s), but %s: abandoning the "
            "finalizers still running, exiting with status %d",
            signal.Signals(signum).name,
            why,
            status,
        )
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


def _drive(scheduler: SyncScheduler, root: FiberRuntime) -> None:
    """Run the scheduler until `root` is done. A Ctrl-C or `SystemExit` (raised in a
    fiber or while waiting) interrupts the root, lets every finalizer run, and is
    raised again at the end."""
    shutting_down = False

    def done() -> bool:
        return root.exit is not None or (scheduler.fatal is not None and not shutting_down)

    while True:
        try:
            scheduler.run_until(done)
        except (KeyboardInterrupt, SystemExit) as exc:
            if shutting_down:
                raise  # a second Ctrl-C while tearing down: give up at once
            scheduler.fatal_error(exc)
        if root.exit is not None:
            break
        shutting_down = True
        fatal = scheduler.fatal
        root.interrupt_as(NONE_ID, Shutdown(type(fatal).__name__))
    # The root is done; daemon fibers do not outlive the runtime that runs them.
    stopped: set[FiberRuntime] = set()
    while scheduler.daemons:  # every live fiber is under one
        _interrupt_daemons(scheduler, stopped)
        scheduler.run_until(lambda: _no_daemon_to_stop(scheduler, stopped))
    if scheduler.fatal is not None:
        raise scheduler.fatal


def _interrupt_daemons(scheduler: Scheduler, stopped: set[FiberRuntime]) -> None:
    """Interrupt the daemons not in `stopped` yet, and add them to it."""
    for fiber in list(scheduler.daemons):
        if fiber not in stopped:
            stopped.add(fiber)
            fiber.interrupt_as(NONE_ID, Shutdown("the runtime finished"))


def _no_daemon_to_stop(scheduler: Scheduler, stopped: set[FiberRuntime]) -> bool:
    """None is left, or one was started since (a finalizer of a daemon may fork one):
    it must be interrupted too."""
    return not scheduler.daemons or any(fiber not in stopped for fiber in scheduler.daemons)


async def _stop_daemons_async(scheduler: AsyncioScheduler) -> None:
    stopped: set[FiberRuntime] = set()
    while scheduler.daemons:  # the roots of every live fiber
        _interrupt_daemons(scheduler, stopped)
        await asyncio.sleep(0)


def _interrupt_on_fatal(scheduler: AsyncioScheduler, root: FiberRuntime) -> None:
    """A Ctrl-C or `SystemExit` raised in a fiber (`Scheduler.fatal`) interrupts the root
    (reason `Shutdown`), on the loop's next turn, as `_drive` does between steps."""

    def interrupt() -> None:
        fatal = scheduler.fatal
        root.interrupt_as(NONE_ID, Shutdown(type(fatal).__name__))

    def soon() -> None:  # (not from inside the fiber that is raising it)
        scheduler.loop.call_soon(interrupt)

    scheduler.on_fatal = soon


async def _tear_down_despite_cancels(
    scheduler: AsyncioScheduler, done: asyncio.Future[Any]
) -> None:
    """After a cancel: wait for the interrupted root (`done`) and the daemons, however
    many more cancels arrive (as `asyncio.TaskGroup` waits for its children). They are
    not uncancelled: the caller re-raises `CancelledError`, which answers them all, and
    `Task.cancelling()` keeps counting them for an `asyncio.timeout` or task group
    further out that must tell its own cancel from another's."""
    while not done.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(done)
    stopped: set[FiberRuntime] = set()
    while scheduler.daemons:
        _interrupt_daemons(scheduler, stopped)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)


def _value_or_raise(exit: Exit[A, Any]) -> A:
    if isinstance(exit, Success):
        value: A = exit.value
        return value
    assert isinstance(exit, Failure)
    raise _exception_for(exit.cause)


_NOTE_PREFIX = "effectpy cause:\n"


def _exception_for(cause: Cause[Any]) -> BaseException:
    """What a runner raises; the pretty cause rides along as a note (an effect is a
    reusable value: a note from an earlier run of the same exception is replaced)."""
    exc = cause.to_exception()
    if not isinstance(exc, FiberFailure):
        notes = getattr(exc, "__notes__", None)
        if notes:
            notes[:] = [n for n in notes if not n.startswith(_NOTE_PREFIX)]
        exc.add_note(_NOTE_PREFIX + cause.pretty())
    return exc
