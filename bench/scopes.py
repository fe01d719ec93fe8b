"""The scopes suite: opening and closing scopes, acquiring and releasing resources.

effectpy's `Scope` and `acquire_release` do what `contextlib.AsyncExitStack` does for
an asyncio program: collect clean-up actions and run them, last first, when the block
ends. Each workload is written with:

* effectpy: `Scope.make`/`add_finalizer`/`close`, `Effect.scoped(acquire_release(...))`
  or `acquire_use_release`, run with `run_sync`;
* AsyncExitStack: the same clean-ups as `push_async_callback`/`enter_async_context`,
  inside one asyncio loop (the peer the bars name);
* ExitStack (sync): the synchronous `contextlib.ExitStack`, for reference: the cost of
  the bookkeeping alone, with no awaits.

Every finalizer and release counts itself, and the count is the result each
implementation is checked against before it is timed.
"""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack
from types import TracebackType

from effectpy import CloseableScope, Effect, Exit, Scope, run_sync

from .harness import register

SUITE = "scopes"


class _Counter:
    """Finalizers run and resources acquired and released; reset at each run's start."""

    finalized = 0
    acquired = 0
    released = 0

    @classmethod
    def reset(cls) -> None:
        cls.finalized = cls.acquired = cls.released = 0

    @classmethod
    def finalize(cls) -> None:
        cls.finalized += 1

    @classmethod
    def acquire(cls) -> int:
        cls.acquired += 1
        return cls.acquired

    @classmethod
    def release(cls) -> None:
        cls.released += 1


async def _finalize_async() -> None:
    _Counter.finalize()


# -- ScopeOpenClose: open a scope, add 10 finalizers, close it; 10k times -------------------

SCOPES = 10_000
FINALIZERS = 10

_FINALIZER: Effect[None] = Effect.sync(_Counter.finalize)
_CLOSED: Exit[None, object] = Exit.unit()


def _fill_and_close(scope: CloseableScope) -> Effect[None]:
    add = scope.add_finalizer(_FINALIZER)
    effect = add
    for _ in range(FINALIZERS - 1):
        effect = effect.and_then(add)
    return effect.and_then(scope.close(_CLOSED))


_OPEN_CLOSE: Effect[None] = Scope.make().flat_map(_fill_and_close)


def _open_close_loop(left: int) -> Effect[None]:
    if left == 0:
        return Effect.unit()
    return _OPEN_CLOSE.flat_map(lambda _: _open_close_loop(left - 1))


def open_close_effectpy() -> int:
    _Counter.reset()
    run_sync(_open_close_loop(SCOPES))
    return _Counter.finalized


async def open_close_async_exit_stack() -> int:
    _Counter.reset()
    for _ in range(SCOPES):
        async with AsyncExitStack() as stack:
            for _ in range(FINALIZERS):
                stack.push_async_callback(_finalize_async)
    return _Counter.finalized


def open_close_exit_stack() -> int:
    _Counter.reset()
    for _ in range(SCOPES):
        with ExitStack() as stack:
            for _ in range(FINALIZERS):
                stack.callback(_Counter.finalize)
    return _Counter.finalized


open_close = register(
    SUITE,
    "ScopeOpenClose",
    ops=SCOPES,
    expected=SCOPES * FINALIZERS,
    summary="Scope.make(), add_finalizer 10 times, close(Exit.unit()); 10k scopes, "
    "one after the other; result: finalizers run",
)
open_close.add("effectpy", open_close_effectpy)
open_close.add_async(
    "AsyncExitStack",
    open_close_async_exit_stack,
    note="async with AsyncExitStack(), push_async_callback 10 times",
)
open_close.add(
    "ExitStack (sync)", open_close_exit_stack, note="with ExitStack(), callback 10 times"
)
open_close.require("AsyncExitStack", 1.0)


# -- AcquireRelease: a resource in a fresh scope, acquired and released; 10k times --------

PAIRS = 10_000

_ACQUIRE: Effect[int] = Effect.sync(_Counter.acquire)
_RELEASE: Effect[None] = Effect.sync(_Counter.release)


def _release(resource: int, exit: Exit[object, object]) -> Effect[None]:
    return _RELEASE


_SCOPED_RESOURCE: Effect[int] = Effect.scoped(Effect.acquire_release(_ACQUIRE, _release))


def _scoped_loop(left: int) -> Effect[None]:
    if left == 0:
        return Effect.unit()
    return _SCOPED_RESOURCE.flat_map(lambda _: _scoped_loop(left - 1))


def acquire_release_effectpy() -> tuple[int, int]:
    _Counter.reset()
    run_sync(_scoped_loop(PAIRS))
    return _Counter.acquired, _Counter.released


class _AsyncResource:
    """The smallest async context manager: count on enter and on exit."""

    __slots__ = ()

    async def __aenter__(self) -> int:
        return _Counter.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _Counter.release()


class _Resource:
    """The same, synchronous."""

    __slots__ = ()

    def __enter__(self) -> int:
        return _Counter.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        _Counter.release()


async def acquire_release_async_exit_stack() -> tuple[int, int]:
    _Counter.reset()
    for _ in range(PAIRS):
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(_AsyncResource())
    return _Counter.acquired, _Counter.released


def acquire_release_exit_stack() -> tuple[int, int]:
    _Counter.reset()
    for _ in range(PAIRS):
        with ExitStack() as stack:
            stack.enter_context(_Resource())
    return _Counter.acquired, _Counter.released


acquire_release = register(
    SUITE,
    "AcquireRelease",
    ops=PAIRS,
    expected=(PAIRS, PAIRS),
    summary="Effect.scoped(Effect.acquire_release(acquire, release)), 10k times; "
    "result: (acquired, released)",
)
acquire_release.add("effectpy", acquire_release_effectpy)
acquire_release.add_async(
    "AsyncExitStack",
    acquire_release_async_exit_stack,
    note="async with AsyncExitStack(), enter_async_context(a class with __aenter__/__aexit__)",
)
acquire_release.add(
    "ExitStack (sync)",
    acquire_release_exit_stack,
    note="with ExitStack(), enter_context(a class with __enter__/__exit__)",
)
acquire_release.require("AsyncExitStack", 1.0)


# -- AcquireUseRelease: the same pairs with acquire_use_release, no scope -------------------


def _use(resource: int) -> Effect[int]:
    return Effect.succeed(resource)


_BRACKET: Effect[int] = Effect.acquire_use_release(_ACQUIRE, _use, _release)


def _bracket_loop(left: int) -> Effect[None]:
    if left == 0:
        return Effect.unit()
    return _BRACKET.flat_map(lambda _: _bracket_loop(left - 1))


def acquire_use_release_effectpy() -> tuple[int, int]:
    _Counter.reset()
    run_sync(_bracket_loop(PAIRS))
    return _Counter.acquired, _Counter.released


async def acquire_use_release_async_with() -> tuple[int, int]:
    _Counter.reset()
    for _ in range(PAIRS):
        async with _AsyncResource():
            pass
    return _Counter.acquired, _Counter.released


acquire_use_release = register(
    SUITE,
    "AcquireUseRelease",
    ops=PAIRS,
    expected=(PAIRS, PAIRS),
    summary="Effect.acquire_use_release(acquire, use, release), 10k times; "
    "result: (acquired, released)",
)
acquire_use_release.add("effectpy", acquire_use_release_effectpy)
acquire_use_release.add_async(
    "AsyncExitStack",
    acquire_release_async_exit_stack,
    note="the same code as in AcquireRelease",
)
acquire_use_release.add_async(
    "async with",
    acquire_use_release_async_with,
    note="async with the context manager itself, no exit stack",
)
acquire_use_release.add(
    "ExitStack (sync)", acquire_release_exit_stack, note="the same code as in AcquireRelease"
)
acquire_use_release.require("AsyncExitStack", 1.0)
