"""Running effects: `run_sync`, `run_sync_exit`, `run_async`, `run_async_exit`.

The runners accept only effects that cannot fail with an unhandled typed error and need
no service (`Effect[A, Never, Never]`), so mypy rejects a program that forgot to handle
an error or to provide a service. `Runtime` holds settings (op budget, a scheduler seed
for testing interleavings); the module-level runners use the defaults.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import threading
import time
from typing import Any, Never, TypeVar

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
    "run_sync",
    "run_sync_exit",
]


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
        scheduler = SyncScheduler(budget=self.budget, seed=self.seed)
        root = new_fiber(scheduler)
        root.start(effect)
        try:
            _drive(scheduler, root)
        finally:
            scheduler.close()
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
        for its finalizers, then re-raises `CancelledError`.
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
        root.start(effect)
        try:
            exit = await asyncio.shield(done)
        except asyncio.CancelledError:
            root.interrupt_as(NONE_ID, Shutdown("the awaiting asyncio task was cancelled"))
            await asyncio.shield(done)
            await _stop_daemons_async(scheduler)
            raise
        await _stop_daemons_async(scheduler)
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
    except asyncio.CancelledError:
        root.interrupt_as(NONE_ID, Shutdown("the event loop is shutting down"))
        await asyncio.shield(done)
        raise
    finally:
        await _stop_daemons_async(scheduler)


def _interrupt_at_exit(root: FiberRuntime) -> None:
    root.interrupt_as(NONE_ID, Shutdown("the interpreter is exiting"))


@atexit.register
def _stop_background_fibers() -> None:
    """No fiber outlives the interpreter silently: interrupt `run_fork` fibers still
    running on their threads, and give their finalizers a bounded time to run."""
    for root, (scheduler, _thread) in list(_background.items()):
        if root.exit is None:
            scheduler.call_threadsafe(functools.partial(_interrupt_at_exit, root))
    deadline = time.monotonic() + _EXIT_GRACE_SECONDS
    for _, thread in list(_background.values()):
        thread.join(max(deadline - time.monotonic(), 0.0))


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


def _refuse_inside_event_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        "run_sync was called inside a running asyncio event loop, where it would block "
        "the loop; use `await run_async(effect)` instead"
    )


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
    _interrupt_daemons(scheduler)
    scheduler.run_until(lambda: not scheduler.daemons)  # every live fiber is under one
    if scheduler.fatal is not None:
        raise scheduler.fatal


def _interrupt_daemons(scheduler: Scheduler) -> None:
    for fiber in list(scheduler.daemons):
        fiber.interrupt_as(NONE_ID, Shutdown("the runtime finished"))


async def _stop_daemons_async(scheduler: AsyncioScheduler) -> None:
    if not scheduler.daemons:  # the roots of every live fiber
        return
    _interrupt_daemons(scheduler)
    while scheduler.daemons:
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
