"""The `Effect` type: a lazy, immutable description of a program.

`Effect[A, E, R]` succeeds with an `A`, fails with a typed error `E`, and needs the
services `R`. `E` and `R` default to `Never`: `Effect[int]` cannot fail and needs
nothing. Build effects with the static constructors, combine them with the methods
(data first) or with the functions of `effectpy.pointfree` inside `pipe(...)`, and run
them with `run_sync` / `run_async`.

Representation: an effect is one of the small node classes at the end of this module,
each carrying an integer opcode that the interpreter (`effectpy._interpreter`)
dispatches on. Nodes are slotted and never change after construction. Every method
here builds nodes and nothing else; no method runs anything.

This module imports only `effectpy._core` (and `schedule`, a module of values) at run
time. Features built on `Effect` (scopes, services, logs, tasks, caches) are reached
without importing them: through nodes the interpreter runs, through fiber refs (the
log annotations, the task cursor), or through the object given (`provide(layer)` asks
the layer, `fork_scoped` asks the current scope).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator, Hashable, Iterable
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Generic,
    Literal,
    Never,
    Protocol,
    TypeAlias,
    overload,
)

from returns.result import Failure as ResultFailure
from returns.result import Result
from returns.result import Success as ResultSuccess
from typing_extensions import ParamSpec, TypeAliasType, TypeVar

from ._core import opcodes as op
from ._core.cause import Cause, Die, Fail, Interrupt
from ._core.clock import check_duration, clock_of, span_time
from ._core.exit import Exit, Failure, Success
from ._core.foreign import Signal
from ._core.ids import FiberId, Manual
from ._core.refs import LOG_ANNOTATIONS, LOG_SPANS, TASK_CURSOR
from ._core.scheduler import Timer
from ._core.scope import NO_SCOPE
from .schedule import Schedule  # values only: it imports no Effect at run time

if TYPE_CHECKING:
    from ._core.refs import FiberRef
    from ._interpreter.loop import FiberRuntime, Resume
    from .context import Context, Layer
    from .fiber import Fiber
    from .scope import Scope

A_co = TypeVar("A_co", covariant=True)
E_co = TypeVar("E_co", covariant=True, default=Never)
R_co = TypeVar("R_co", covariant=True, default=Never)

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
E = TypeVar("E")
E2 = TypeVar("E2")
E3 = TypeVar("E3")
R = TypeVar("R")
R2 = TypeVar("R2")
R3 = TypeVar("R3")
S = TypeVar("S")
T = TypeVar("T")
X = TypeVar("X", bound=Exception)
X1 = TypeVar("X1", bound=Exception)
X2 = TypeVar("X2", bound=Exception)
X3 = TypeVar("X3", bound=Exception)
X4 = TypeVar("X4", bound=Exception)
X5 = TypeVar("X5", bound=Exception)
X6 = TypeVar("X6", bound=Exception)
P = ParamSpec("P")

_A1 = TypeVar("_A1")
_E1 = TypeVar("_E1")
_R1 = TypeVar("_R1")
_A2 = TypeVar("_A2")
_E2 = TypeVar("_E2")
_R2 = TypeVar("_R2")
_A3 = TypeVar("_A3")
_E3 = TypeVar("_E3")
_R3 = TypeVar("_R3")
_A4 = TypeVar("_A4")
_E4 = TypeVar("_E4")
_R4 = TypeVar("_R4")
_A5 = TypeVar("_A5")
_E5 = TypeVar("_E5")
_R5 = TypeVar("_R5")
_A6 = TypeVar("_A6")
_E6 = TypeVar("_E6")
_R6 = TypeVar("_R6")
_A7 = TypeVar("_A7")
_E7 = TypeVar("_E7")
_R7 = TypeVar("_R7")
_A8 = TypeVar("_A8")
_E8 = TypeVar("_E8")
_R8 = TypeVar("_R8")

Concurrency: TypeAlias = int | Literal["unbounded"] | None
"""How many effects run at once: None (one after the other, the default), a positive
int, or "unbounded"."""

__all__ = ["Concurrency", "Do", "Effect", "Restore", "gen"]

_P0 = TypeVar("_P0")
_P1 = TypeVar("_P1")
_P2 = TypeVar("_P2")
_P3 = TypeVar("_P3")
_P4 = TypeVar("_P4")
_P5 = TypeVar("_P5")
_P6 = TypeVar("_P6")
_P7 = TypeVar("_P7")
_P8 = TypeVar("_P8")
_P9 = TypeVar("_P9")
_P10 = TypeVar("_P10")
_P11 = TypeVar("_P11")
_P12 = TypeVar("_P12")
_P13 = TypeVar("_P13")
_P14 = TypeVar("_P14")
_P15 = TypeVar("_P15")
_P16 = TypeVar("_P16")
_P17 = TypeVar("_P17")
_P18 = TypeVar("_P18")
_P19 = TypeVar("_P19")
_P20 = TypeVar("_P20")


class Restore(Protocol):
    """What `Effect.uninterruptible_mask` hands its body: puts back the outer
    interruptibility for the effect it wraps."""

    def __call__(self, effect: Effect[A, E, R], /) -> Effect[A, E, R]: ...


class Effect(Generic[A_co, E_co, R_co]):
    """A program that succeeds with `A`, fails with `E`, and needs services `R`.

    >>> from effectpy import Effect, run_sync
    >>> run_sync(Effect.succeed(20).map(lambda n: n + 1).map(lambda n: n * 2))
    42
    """

    __slots__ = ()
    _op: ClassVar[int]

    # -- constructors -------------------------------------------------------------

    @staticmethod
    def succeed(value: A) -> Effect[A]:
        """An effect that succeeds with `value`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1))
        1
        """
        node = _Succeed()  # the hottest constructors skip __init__ (see docs/benchmarks.md)
        node.value = value
        return node

    @staticmethod
    def fail(error: E) -> Effect[Never, E]:
        """An effect that fails with the typed error `error`.

        >>> from effectpy import Effect, run_sync_exit
        >>> run_sync_exit(Effect.fail("not found"))
        Failure(cause=Fail(error='not found'))
        """
        return _FailCause(Fail(error))

    @staticmethod
    def fail_cause(cause: Cause[E]) -> Effect[Never, E]:
        """An effect that fails with a whole `Cause`.

        >>> from effectpy import Cause, Effect, run_sync_exit
        >>> run_sync_exit(Effect.fail_cause(Cause.fail(1))).is_failure()
        True
        """
        return _FailCause(cause)

    @staticmethod
    def die(defect: BaseException) -> Effect[Never]:
        """An effect that fails with a defect: an error nobody is expected to handle.

        >>> from effectpy import Effect, run_sync_exit
        >>> run_sync_exit(Effect.die(RuntimeError("bug"))).cause.defects()
        [RuntimeError('bug')]
        """
        if not isinstance(defect, BaseException):
            raise TypeError(f"Effect.die expects an exception, got {type(defect).__name__}")
        return _FailCause(Die(defect))

    @staticmethod
    def sync(thunk: Callable[[], A]) -> Effect[A]:
        """An effect that calls `thunk()` each time it runs; an exception it raises
        is a defect (`Die`). Use `attempt` for code whose exceptions are expected.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.sync(lambda: 2 + 2))
        4
        """
        _require_callable(thunk, "Effect.sync")
        return _Sync(thunk)

    @overload
    @staticmethod
    def attempt(thunk: Callable[[], A]) -> Effect[A, Exception]: ...
    @overload
    @staticmethod
    def attempt(thunk: Callable[[], A], catch: type[X1]) -> Effect[A, X1]: ...
    @overload
    @staticmethod
    def attempt(thunk: Callable[[], A], catch: tuple[type[X1]]) -> Effect[A, X1]: ...
    @overload
    @staticmethod
    def attempt(thunk: Callable[[], A], catch: tuple[type[X1], type[X2]]) -> Effect[A, X1 | X2]: ...
    @overload
    @staticmethod
    def attempt(
        thunk: Callable[[], A], catch: tuple[type[X1], type[X2], type[X3]]
    ) -> Effect[A, X1 | X2 | X3]: ...
    @overload
    @staticmethod
    def attempt(
        thunk: Callable[[], A], catch: tuple[type[X1], type[X2], type[X3], type[X4]]
    ) -> Effect[A, X1 | X2 | X3 | X4]: ...
    @overload
    @staticmethod
    def attempt(
        thunk: Callable[[], A], catch: tuple[type[X1], type[X2], type[X3], type[X4], type[X5]]
    ) -> Effect[A, X1 | X2 | X3 | X4 | X5]: ...
    @overload
    @staticmethod
    def attempt(
        thunk: Callable[[], A],
        catch: tuple[type[X1], type[X2], type[X3], type[X4], type[X5], type[X6]],
    ) -> Effect[A, X1 | X2 | X3 | X4 | X5 | X6]: ...
    @overload
    @staticmethod
    def attempt(thunk: Callable[[], A], catch: tuple[type[X1], ...]) -> Effect[A, X1]: ...
    @staticmethod
    def attempt(
        thunk: Callable[[], A],
        catch: type[Exception] | tuple[type[Exception], ...] = Exception,
    ) -> Effect[A, Exception]:
        """Call `thunk()`; an exception of the `catch` classes becomes the typed error,
        any other is a defect.

        >>> from effectpy import Effect, run_sync_exit
        >>> run_sync_exit(Effect.attempt(lambda: int("x"), ValueError)).cause.failures()
        [ValueError("invalid literal for int() with base 10: 'x'")]
        """
        _require_callable(thunk, "Effect.attempt")
        _check_catch(catch, "Effect.attempt")

        def run() -> Effect[A, Exception]:
            try:
                return _succeed_node(thunk())
            except catch as error:
                return _FailCause(Fail(error))

        return _Suspend(run)

    @staticmethod
    def suspend(thunk: Callable[[], Effect[A, E, R]]) -> Effect[A, E, R]:
        """An effect built anew by `thunk()` each time it runs (for recursion and
        for effects that depend on state).

        >>> from effectpy import Effect, run_sync
        >>> def countdown(n: int) -> Effect[int]:
        ...     return Effect.succeed(n) if n == 0 else Effect.suspend(lambda: countdown(n - 1))
        >>> run_sync(countdown(100_000))
        0
        """
        _require_callable(thunk, "Effect.suspend")
        return _Suspend(thunk)

    @staticmethod
    def unit() -> Effect[None]:
        """An effect that succeeds with `None`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.unit()) is None
        True
        """
        return _UNIT

    @staticmethod
    def from_result(result: Result[A, E]) -> Effect[A, E]:
        """The effect of a `returns` `Result`: its value, or its error as typed failure.

        >>> from returns.result import Failure, Success
        >>> from effectpy import Effect, run_sync, run_sync_exit
        >>> run_sync(Effect.from_result(Success(3)))
        3
        >>> run_sync_exit(Effect.from_result(Failure("no"))).cause.failures()
        ['no']
        """
        if isinstance(result, ResultSuccess):
            return _succeed_node(result.unwrap())
        if isinstance(result, ResultFailure):
            return _FailCause(Fail(result.failure()))
        raise TypeError(f"Effect.from_result expects a returns Result, got {result!r}")

    @staticmethod
    def async_(
        register: Callable[[Callable[[Effect[A, E, R]], None]], Effect[Any, Never, R] | None],
    ) -> Effect[A, E, R]:
        """An effect completed by a callback: `register(resume)` arranges for
        `resume(effect)` to be called once, from any thread. `register` may return a
        canceller effect, run if the fiber is interrupted while it waits.

        The types come from `resume`'s annotation: a lambda `register` leaves them to be
        guessed, and mypy guesses `Never`.

        >>> from collections.abc import Callable
        >>> from effectpy import Effect, run_sync
        >>> def register(resume: Callable[[Effect[str]], None]) -> None:
        ...     resume(Effect.succeed("called back"))
        >>> run_sync(Effect.async_(register))
        'called back'
        """
        return _Async(register)

    @staticmethod
    def yield_now() -> Effect[None]:
        """Let the other ready fibers run, then continue.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.yield_now()) is None
        True
        """
        return _YIELD

    @staticmethod
    def never() -> Effect[Never]:
        """An effect that never ends (until interrupted).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.race(Effect.succeed(1), Effect.never()))
        1
        """
        return _NEVER

    @staticmethod
    def interrupt() -> Effect[Never]:
        """An effect that fails with an interruption of the running fiber itself.

        >>> from effectpy import Effect, run_sync_exit
        >>> run_sync_exit(Effect.interrupt()).cause.is_interrupted_only()
        True
        """
        return _INTERRUPT_SELF

    @staticmethod
    def uninterruptible_mask(f: Callable[[Restore], Effect[A, E, R]]) -> Effect[A, E, R]:
        """Run `f(restore)` uninterruptibly; `restore(effect)` makes `effect` as
        interruptible as the code around the mask was.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.uninterruptible_mask(lambda restore: restore(Effect.succeed(1))))
        1
        """

        def with_fiber(fiber: FiberRuntime) -> Effect[A, E, R]:
            outer = fiber.interruptible

            def restore(effect: Effect[B, E2, R2]) -> Effect[B, E2, R2]:
                return _SetInterruptible(effect, outer)

            return _SetInterruptible(f(restore), False)

        return _WithFiber(with_fiber)

    @staticmethod
    def sleep(seconds: float) -> Effect[None]:
        """Wait `seconds` on the fiber's clock (real time, or a `TestClock`'s virtual time).
        A negative or NaN duration is a `ValueError` here, not a surprise later.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.sleep(0.001).as_("rested"))
        'rested'
        """
        duration = check_duration(seconds, "Effect.sleep")
        return _WithFiber(lambda fiber: _sleep_on(fiber, duration))

    @staticmethod
    def fiber_id() -> Effect[FiberId]:
        """The id of the fiber running this effect.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fiber_id()).number > 0
        True
        """
        return _WithFiber(lambda fiber: _succeed_node(fiber.id))

    @staticmethod
    def promise(make: Callable[[], Awaitable[A]]) -> Effect[A]:
        """Await the coroutine `make()` returns; an exception it raises is a defect.
        Interrupting the fiber cancels the asyncio task and waits for it to finish.

        Inside `run_async` the coroutine runs on the running loop; under `run_sync`, on
        a helper event loop started the first time one is needed.

        >>> import asyncio
        >>> from effectpy import Effect, run_sync
        >>> async def fetch() -> str:
        ...     await asyncio.sleep(0)
        ...     return "payload"
        >>> run_sync(Effect.promise(fetch))
        'payload'
        """
        _require_function(make, "Effect.promise")
        return _promise_node(make, None)

    @overload
    @staticmethod
    def try_promise(make: Callable[[], Awaitable[A]]) -> Effect[A, Exception]: ...
    @overload
    @staticmethod
    def try_promise(make: Callable[[], Awaitable[A]], catch: type[X1]) -> Effect[A, X1]: ...
    @overload
    @staticmethod
    def try_promise(make: Callable[[], Awaitable[A]], catch: tuple[type[X1]]) -> Effect[A, X1]: ...
    @overload
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]], catch: tuple[type[X1], type[X2]]
    ) -> Effect[A, X1 | X2]: ...
    @overload
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]], catch: tuple[type[X1], type[X2], type[X3]]
    ) -> Effect[A, X1 | X2 | X3]: ...
    @overload
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]], catch: tuple[type[X1], type[X2], type[X3], type[X4]]
    ) -> Effect[A, X1 | X2 | X3 | X4]: ...
    @overload
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]],
        catch: tuple[type[X1], type[X2], type[X3], type[X4], type[X5]],
    ) -> Effect[A, X1 | X2 | X3 | X4 | X5]: ...
    @overload
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]],
        catch: tuple[type[X1], type[X2], type[X3], type[X4], type[X5], type[X6]],
    ) -> Effect[A, X1 | X2 | X3 | X4 | X5 | X6]: ...
    @overload
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]], catch: tuple[type[X1], ...]
    ) -> Effect[A, X1]: ...
    @staticmethod
    def try_promise(
        make: Callable[[], Awaitable[A]],
        catch: type[Exception] | tuple[type[Exception], ...] = Exception,
    ) -> Effect[A, Exception]:
        """Like `promise`, but an exception of the `catch` classes is the typed error.

        >>> from effectpy import Effect, run_sync_exit
        >>> async def lookup() -> int:
        ...     raise KeyError("user 7")
        >>> run_sync_exit(Effect.try_promise(lookup, KeyError)).cause.failures()
        [KeyError('user 7')]
        """
        _check_catch(catch, "Effect.try_promise")
        _require_function(make, "Effect.try_promise")
        return _promise_node(make, catch)

    @overload
    @staticmethod
    def blocking(fn: Callable[[Signal], A]) -> Effect[A]: ...
    @overload
    @staticmethod
    def blocking(fn: Callable[[Signal], A], catch: type[X1]) -> Effect[A, X1]: ...
    @overload
    @staticmethod
    def blocking(fn: Callable[[Signal], A], catch: tuple[type[X1]]) -> Effect[A, X1]: ...
    @overload
    @staticmethod
    def blocking(
        fn: Callable[[Signal], A], catch: tuple[type[X1], type[X2]]
    ) -> Effect[A, X1 | X2]: ...
    @overload
    @staticmethod
    def blocking(
        fn: Callable[[Signal], A], catch: tuple[type[X1], type[X2], type[X3]]
    ) -> Effect[A, X1 | X2 | X3]: ...
    @overload
    @staticmethod
    def blocking(
        fn: Callable[[Signal], A], catch: tuple[type[X1], type[X2], type[X3], type[X4]]
    ) -> Effect[A, X1 | X2 | X3 | X4]: ...
    @overload
    @staticmethod
    def blocking(
        fn: Callable[[Signal], A], catch: tuple[type[X1], type[X2], type[X3], type[X4], type[X5]]
    ) -> Effect[A, X1 | X2 | X3 | X4 | X5]: ...
    @overload
    @staticmethod
    def blocking(
        fn: Callable[[Signal], A],
        catch: tuple[type[X1], type[X2], type[X3], type[X4], type[X5], type[X6]],
    ) -> Effect[A, X1 | X2 | X3 | X4 | X5 | X6]: ...
    @overload
    @staticmethod
    def blocking(fn: Callable[[Signal], A], catch: tuple[type[X1], ...]) -> Effect[A, X1]: ...
    @staticmethod
    def blocking(
        fn: Callable[[Signal], A],
        catch: type[Exception] | tuple[type[Exception], ...] | None = None,
    ) -> Effect[A, Exception]:
        """Run `fn(signal)` in a thread pool without blocking other fibers.

        If the fiber is interrupted, `signal` is set (with `signal.reason`) and the
        fiber waits for `fn` to return: blocking code should check `signal.is_set()` or
        `signal.wait(...)` to stop early. Exceptions are defects, except those of the
        `catch` classes, which become the typed error.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.blocking(lambda signal: sum(range(1000))))
        499500
        """
        _require_callable(fn, "Effect.blocking")
        if catch is not None:
            _check_catch(catch, "Effect.blocking")
        node = _new(_Blocking)
        node.fn = fn
        node.catch = catch
        return node

    # -- concurrency --------------------------------------------------------------

    # Arity 2 and more: first the overloads where every error (or service) type is
    # `Never`. pyright types the union of type variables it solved as `Never` as
    # `Unknown` (`Effect.all(Effect.succeed(1), Effect.succeed(2))` would need `Unknown`
    # services); with those overloads it takes `Never` from the signature.
    # --- BEGIN GENERATED: all overloads (tools/gen_typing.py) ---
    @overload
    @staticmethod
    def all(*, concurrency: Concurrency = None) -> Effect[tuple[()], Never, Never]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1], /, *, concurrency: Concurrency = None
    ) -> Effect[tuple[_A1], _E1, _R1]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2], Never, _R1 | _R2]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2], _E1 | _E2, Never]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1], e2: Effect[_A2, _E2, _R2], /, *, concurrency: Concurrency = None
    ) -> Effect[tuple[_A1, _A2], _E1 | _E2, _R1 | _R2]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        e3: Effect[_A3, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        e3: Effect[_A3, Never, _R3],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3], Never, _R1 | _R2 | _R3]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        e3: Effect[_A3, _E3, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3], _E1 | _E2 | _E3, Never]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1],
        e2: Effect[_A2, _E2, _R2],
        e3: Effect[_A3, _E3, _R3],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3], _E1 | _E2 | _E3, _R1 | _R2 | _R3]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        e3: Effect[_A3, Never, Never],
        e4: Effect[_A4, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        e3: Effect[_A3, Never, _R3],
        e4: Effect[_A4, Never, _R4],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4], Never, _R1 | _R2 | _R3 | _R4]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        e3: Effect[_A3, _E3, Never],
        e4: Effect[_A4, _E4, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4], _E1 | _E2 | _E3 | _E4, Never]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1],
        e2: Effect[_A2, _E2, _R2],
        e3: Effect[_A3, _E3, _R3],
        e4: Effect[_A4, _E4, _R4],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4], _E1 | _E2 | _E3 | _E4, _R1 | _R2 | _R3 | _R4]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        e3: Effect[_A3, Never, Never],
        e4: Effect[_A4, Never, Never],
        e5: Effect[_A5, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        e3: Effect[_A3, Never, _R3],
        e4: Effect[_A4, Never, _R4],
        e5: Effect[_A5, Never, _R5],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5], Never, _R1 | _R2 | _R3 | _R4 | _R5]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        e3: Effect[_A3, _E3, Never],
        e4: Effect[_A4, _E4, Never],
        e5: Effect[_A5, _E5, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5], _E1 | _E2 | _E3 | _E4 | _E5, Never]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1],
        e2: Effect[_A2, _E2, _R2],
        e3: Effect[_A3, _E3, _R3],
        e4: Effect[_A4, _E4, _R4],
        e5: Effect[_A5, _E5, _R5],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5], _E1 | _E2 | _E3 | _E4 | _E5, _R1 | _R2 | _R3 | _R4 | _R5
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        e3: Effect[_A3, Never, Never],
        e4: Effect[_A4, Never, Never],
        e5: Effect[_A5, Never, Never],
        e6: Effect[_A6, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5, _A6], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        e3: Effect[_A3, Never, _R3],
        e4: Effect[_A4, Never, _R4],
        e5: Effect[_A5, Never, _R5],
        e6: Effect[_A6, Never, _R6],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5, _A6], Never, _R1 | _R2 | _R3 | _R4 | _R5 | _R6]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        e3: Effect[_A3, _E3, Never],
        e4: Effect[_A4, _E4, Never],
        e5: Effect[_A5, _E5, Never],
        e6: Effect[_A6, _E6, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5, _A6], _E1 | _E2 | _E3 | _E4 | _E5 | _E6, Never]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1],
        e2: Effect[_A2, _E2, _R2],
        e3: Effect[_A3, _E3, _R3],
        e4: Effect[_A4, _E4, _R4],
        e5: Effect[_A5, _E5, _R5],
        e6: Effect[_A6, _E6, _R6],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6],
        _E1 | _E2 | _E3 | _E4 | _E5 | _E6,
        _R1 | _R2 | _R3 | _R4 | _R5 | _R6,
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        e3: Effect[_A3, Never, Never],
        e4: Effect[_A4, Never, Never],
        e5: Effect[_A5, Never, Never],
        e6: Effect[_A6, Never, Never],
        e7: Effect[_A7, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        e3: Effect[_A3, Never, _R3],
        e4: Effect[_A4, Never, _R4],
        e5: Effect[_A5, Never, _R5],
        e6: Effect[_A6, Never, _R6],
        e7: Effect[_A7, Never, _R7],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7], Never, _R1 | _R2 | _R3 | _R4 | _R5 | _R6 | _R7
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        e3: Effect[_A3, _E3, Never],
        e4: Effect[_A4, _E4, Never],
        e5: Effect[_A5, _E5, Never],
        e6: Effect[_A6, _E6, Never],
        e7: Effect[_A7, _E7, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7], _E1 | _E2 | _E3 | _E4 | _E5 | _E6 | _E7, Never
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1],
        e2: Effect[_A2, _E2, _R2],
        e3: Effect[_A3, _E3, _R3],
        e4: Effect[_A4, _E4, _R4],
        e5: Effect[_A5, _E5, _R5],
        e6: Effect[_A6, _E6, _R6],
        e7: Effect[_A7, _E7, _R7],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7],
        _E1 | _E2 | _E3 | _E4 | _E5 | _E6 | _E7,
        _R1 | _R2 | _R3 | _R4 | _R5 | _R6 | _R7,
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, Never, Never],
        e2: Effect[_A2, Never, Never],
        e3: Effect[_A3, Never, Never],
        e4: Effect[_A4, Never, Never],
        e5: Effect[_A5, Never, Never],
        e6: Effect[_A6, Never, Never],
        e7: Effect[_A7, Never, Never],
        e8: Effect[_A8, Never, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7, _A8], Never, Never]: ...
    @overload
    @staticmethod
    def all(  # type: ignore[overload-overlap]  # see the comment above
        e1: Effect[_A1, Never, _R1],
        e2: Effect[_A2, Never, _R2],
        e3: Effect[_A3, Never, _R3],
        e4: Effect[_A4, Never, _R4],
        e5: Effect[_A5, Never, _R5],
        e6: Effect[_A6, Never, _R6],
        e7: Effect[_A7, Never, _R7],
        e8: Effect[_A8, Never, _R8],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7, _A8],
        Never,
        _R1 | _R2 | _R3 | _R4 | _R5 | _R6 | _R7 | _R8,
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, Never],
        e2: Effect[_A2, _E2, Never],
        e3: Effect[_A3, _E3, Never],
        e4: Effect[_A4, _E4, Never],
        e5: Effect[_A5, _E5, Never],
        e6: Effect[_A6, _E6, Never],
        e7: Effect[_A7, _E7, Never],
        e8: Effect[_A8, _E8, Never],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7, _A8],
        _E1 | _E2 | _E3 | _E4 | _E5 | _E6 | _E7 | _E8,
        Never,
    ]: ...
    @overload
    @staticmethod
    def all(
        e1: Effect[_A1, _E1, _R1],
        e2: Effect[_A2, _E2, _R2],
        e3: Effect[_A3, _E3, _R3],
        e4: Effect[_A4, _E4, _R4],
        e5: Effect[_A5, _E5, _R5],
        e6: Effect[_A6, _E6, _R6],
        e7: Effect[_A7, _E7, _R7],
        e8: Effect[_A8, _E8, _R8],
        /,
        *,
        concurrency: Concurrency = None,
    ) -> Effect[
        tuple[_A1, _A2, _A3, _A4, _A5, _A6, _A7, _A8],
        _E1 | _E2 | _E3 | _E4 | _E5 | _E6 | _E7 | _E8,
        _R1 | _R2 | _R3 | _R4 | _R5 | _R6 | _R7 | _R8,
    ]: ...
    # --- END GENERATED: all overloads ---
    @overload
    @staticmethod
    def all(
        *effects: Effect[A, E, R], concurrency: Concurrency = None
    ) -> Effect[tuple[A, ...], E, R]: ...
    @staticmethod
    def all(
        *effects: Effect[Any, Any, Any], concurrency: Concurrency = None
    ) -> Effect[tuple[Any, ...], Any, Any]:
        """Run the effects and collect their values in order, as a tuple.

        With `concurrency` they run in child fibers, at most that many at once; the
        first failure interrupts the others (reason `SiblingFailed`), waits for them,
        and fails with that failure beside their interruptions.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.all(Effect.succeed(1), Effect.succeed("two"), concurrency=2))
        (1, 'two')
        """
        for effect in effects:
            _require_effect(effect, "Effect.all")
        limit = _concurrency_limit(concurrency, "Effect.all")
        if limit == 0:
            return _map_node(_sequence(effects, _identity), tuple)
        return _map_node(_group(effects, limit, False), tuple)

    @staticmethod
    def for_each(
        items: Iterable[A], f: Callable[[A], Effect[B, E, R]], *, concurrency: Concurrency = None
    ) -> Effect[list[B], E, R]:
        """Run `f(item)` for each item and collect the values in order (see `all` for
        `concurrency`).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.for_each([1, 2, 3], lambda n: Effect.succeed(n * n), concurrency=2))
        [1, 4, 9]
        """
        limit = _concurrency_limit(concurrency, "Effect.for_each")
        items = list(items)
        if limit == 0:
            return _sequence(items, f)
        # Each worker calls `f` itself: its effect's errors are the worker's, and a
        # non-effect is named with `f`'s file and line, as on the sequential path.
        return _group(tuple(_flat_map_node(_succeed_node(item), f) for item in items), limit, False)

    @overload
    @staticmethod
    def race(
        a: Effect[A, Never, Never], b: Effect[B, Never, Never]
    ) -> Effect[A | B, Never, Never]: ...
    @overload
    @staticmethod
    def race(a: Effect[A, Never, R], b: Effect[B, Never, R2]) -> Effect[A | B, Never, R | R2]: ...  # type: ignore[overload-overlap]
    @overload
    @staticmethod
    def race(a: Effect[A, E, Never], b: Effect[B, E2, Never]) -> Effect[A | B, E | E2, Never]: ...
    @overload
    @staticmethod
    def race(a: Effect[A, E, R], b: Effect[B, E2, R2]) -> Effect[A | B, E | E2, R | R2]: ...
    @staticmethod
    def race(a: Effect[A, E, R], b: Effect[B, E2, R2]) -> Effect[A | B, E | E2, R | R2]:
        """Run both in child fibers; the first to succeed wins, the other is interrupted
        (reason `RaceLost`) and its finalizers finish before `race` returns. If both
        fail, so does the race, with both causes.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.race(Effect.sleep(1).as_("slow"), Effect.succeed("fast")))
        'fast'
        """
        _require_effect(a, "Effect.race")
        _require_effect(b, "Effect.race")
        return Effect.race_all([a, b])

    @staticmethod
    def race_all(effects: Iterable[Effect[A, E, R]]) -> Effect[A, E, R]:
        """`race` over any number of effects (at least one).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.race_all([Effect.never(), Effect.succeed(3)]))
        3
        """
        contenders = list(effects)
        if not contenders:
            raise ValueError("Effect.race_all needs at least one effect")
        for contender in contenders:
            _require_effect(contender, "Effect.race_all")
        return _group(contenders, None, True)

    # -- resources and scopes -----------------------------------------------------

    @overload
    @staticmethod
    def scoped(effect: Effect[A, E, Scope]) -> Effect[A, E, Never]: ...
    @overload
    @staticmethod
    def scoped(effect: Effect[A, E, Scope | R]) -> Effect[A, E, R]: ...
    @staticmethod
    def scoped(effect: Effect[A, E, Any]) -> Effect[A, E, Any]:
        """Run `effect` in a fresh scope, closed with the effect's exit when it ends:
        everything it acquired is released, whatever happened. Removes `Scope` from `R`.

        >>> from effectpy import Effect, run_sync
        >>> resource = Effect.acquire_release(
        ...     Effect.sync(lambda: print("open") or "file"),
        ...     lambda f, exit: Effect.sync(lambda: print("close", f)))
        >>> run_sync(Effect.scoped(resource.map(str.upper)))
        open
        close file
        'FILE'
        """
        _require_effect(effect, "Effect.scoped")
        node = _new(_Scoped)
        node.effect = effect
        return node

    @staticmethod
    def acquire_release(
        acquire: Effect[A, E, R],
        release: Callable[[A, Exit[Any, Any]], Effect[Any, Never, R2]],
    ) -> Effect[A, E, R | R2 | Scope]:
        """Acquire a resource (uninterruptibly) and register `release(resource, exit)`
        in the current scope, to run with the scope's exit when it closes.

        >>> from effectpy import Effect, run_sync
        >>> conn = Effect.acquire_release(
        ...     Effect.succeed("conn"), lambda c, exit: Effect.sync(lambda: print("release", c, exit)))
        >>> run_sync(Effect.scoped(conn))
        release conn Success(value='conn')
        'conn'
        """
        _require_effect(acquire, "Effect.acquire_release")
        node = _new(_AcquireRelease)
        node.acquire = acquire
        node.release = release
        return node

    @staticmethod
    def acquire_use_release(
        acquire: Effect[A, E, R],
        use: Callable[[A], Effect[B, E2, R2]],
        release: Callable[[A, Exit[B, E2]], Effect[Any, Never, R3]],
    ) -> Effect[B, E | E2, R | R2 | R3]:
        """Acquire (uninterruptibly), `use` (interruptibly), then `release(resource,
        exit)` whatever `use` did. If both `use` and `release` fail, the cause is
        `Sequential(use's cause, release's cause)`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.acquire_use_release(
        ...     Effect.succeed([1, 2, 3]), lambda xs: Effect.succeed(sum(xs)),
        ...     lambda xs, exit: Effect.sync(lambda: print("released"))))
        released
        6
        """
        _require_effect(acquire, "Effect.acquire_use_release")
        node = _new(_Bracket)
        node.acquire = acquire
        node.use = use
        node.release = release
        return node

    @staticmethod
    def add_finalizer(
        finalizer: Callable[[Exit[Any, Any]], Effect[Any, Never, R]],
    ) -> Effect[None, Never, R | Scope]:
        """Register `finalizer(exit)` in the current scope.

        >>> from effectpy import Effect, run_sync
        >>> program = Effect.add_finalizer(lambda exit: Effect.sync(lambda: print("bye")))
        >>> run_sync(Effect.scoped(program.as_("hi")))
        bye
        'hi'
        """
        return _GET_SCOPE.flat_map(lambda scope: scope.add_finalizer_exit(finalizer))

    # -- sharing work ---------------------------------------------------------------

    @staticmethod
    def dedupe(key: Hashable, effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """Concurrent runs of `effect` under the same `key` share one execution and its
        result (a failure too). An interrupted caller stops waiting without stopping
        the execution for the others.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.dedupe("config", Effect.succeed({"debug": True})))
        {'debug': True}
        """
        _require_effect(effect, "Effect.dedupe")
        node = _new(_Dedupe)
        node.key = key
        node.effect = effect
        return node

    @staticmethod
    def cached(effect: Effect[A, E, R]) -> Effect[Effect[A, E, R]]:
        """An effect that makes a memoized `effect`: computed once (concurrent first
        runs share it), then the same exit every time.

        >>> from effectpy import Effect, run_sync
        >>> calls = []
        >>> expensive = Effect.sync(lambda: calls.append(1) or 42)
        >>> run_sync(Effect.cached(expensive).flat_map(lambda once: once.zip(once)))
        (42, 42)
        >>> len(calls)
        1
        """
        return _cached(effect, None)

    @staticmethod
    def cached_with_ttl(effect: Effect[A, E, R], ttl: float) -> Effect[Effect[A, E, R]]:
        """Like `cached`, but the kept result expires `ttl` seconds after it was
        computed (on the fiber's clock, so a `TestClock` drives expiry).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.cached_with_ttl(Effect.succeed("fresh"), 60).flat_map(lambda e: e))
        'fresh'
        """
        return _cached(effect, check_duration(ttl, "cached_with_ttl"))

    # -- logging --------------------------------------------------------------------

    @staticmethod
    def log(message: str, /, **annotations: object) -> Effect[None]:
        """Log `message` at INFO on the `effectpy` logger, with the fiber's annotations
        and spans (see `effectpy.log`); `annotations` apply to this line only.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.log("starting", job="import"))
        """
        return _log(message, logging.INFO, annotations)

    @staticmethod
    def log_debug(message: str, /, **annotations: object) -> Effect[None]:
        """`log` at DEBUG."""
        return _log(message, logging.DEBUG, annotations)

    @staticmethod
    def log_info(message: str, /, **annotations: object) -> Effect[None]:
        """`log` at INFO."""
        return _log(message, logging.INFO, annotations)

    @staticmethod
    def log_warning(message: str, /, **annotations: object) -> Effect[None]:
        """`log` at WARNING."""
        return _log(message, logging.WARNING, annotations)

    @staticmethod
    def log_error(message: str, /, **annotations: object) -> Effect[None]:
        """`log` at ERROR."""
        return _log(message, logging.ERROR, annotations)

    # -- sequencing ---------------------------------------------------------------

    def map(self, f: Callable[[A_co], B]) -> Effect[B, E_co, R_co]:
        """Transform the success value.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(2).map(lambda n: n * 10))
        20
        """
        node = _Map()
        node.first = self
        node.f = f
        return node

    def flat_map(self, f: Callable[[A_co], Effect[B, E2, R2]]) -> Effect[B, E_co | E2, R_co | R2]:
        """Continue with the effect `f` makes from the success value. `f` must return
        an Effect; anything else is a defect (`TypeError`) naming `f`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(2).flat_map(lambda n: Effect.succeed(n + 1)))
        3
        """
        node = _FlatMap()
        node.first = self
        node.k = f
        return node

    @overload
    def and_then(self, that: Effect[B, E2, R2]) -> Effect[B, E_co | E2, R_co | R2]: ...
    @overload
    def and_then(
        self, that: Callable[[A_co], Effect[B, E2, R2]]
    ) -> Effect[B, E_co | E2, R_co | R2]: ...
    def and_then(
        self, that: Effect[B, E2, R2] | Callable[[A_co], Effect[B, E2, R2]]
    ) -> Effect[B, E_co | E2, R_co | R2]:
        """Run `that` next: an effect (the value of this one is dropped), or a function
        of this one's value (like `flat_map`).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).and_then(Effect.succeed("next")))
        'next'
        """
        if isinstance(that, Effect):
            node = _Then()
            node.first = self
            node.second = that
            return node
        if callable(that):
            return _flat_map_node(self, that)
        raise TypeError(f"and_then expects an Effect or a function, got {type(that).__name__}")

    def tap(self, f: Callable[[A_co], Effect[Any, E2, R2]]) -> Effect[A_co, E_co | E2, R_co | R2]:
        """Run the effect `f` makes from the value, for its side effect; keep the value.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(5).tap(lambda n: Effect.sync(lambda: print("saw", n))))
        saw 5
        5
        """
        return _flat_map_node(self, lambda a: _map_node(_call(f, a), lambda _: a))

    def zip(self, that: Effect[B, E2, R2]) -> Effect[tuple[A_co, B], E_co | E2, R_co | R2]:
        """Run this, then `that`; succeed with both values.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).zip(Effect.succeed("a")))
        (1, 'a')
        """
        _require_effect(that, "zip")
        return _flat_map_node(self, lambda a: _map_node(that, lambda b: (a, b)))

    def zip_with(
        self, that: Effect[B, E2, R2], f: Callable[[A_co, B], C]
    ) -> Effect[C, E_co | E2, R_co | R2]:
        """Run this, then `that`; combine the values with `f`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(2).zip_with(Effect.succeed(3), lambda a, b: a * b))
        6
        """
        _require_effect(that, "zip_with")
        return _flat_map_node(self, lambda a: _map_node(that, lambda b: f(a, b)))

    def as_(self, value: B) -> Effect[B, E_co, R_co]:
        """Replace the success value with `value`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).as_("done"))
        'done'
        """
        return _map_node(self, lambda _: value)

    def as_unit(self) -> Effect[None, E_co, R_co]:
        """Drop the success value.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).as_unit()) is None
        True
        """
        return _map_node(self, _to_none)

    # -- errors -------------------------------------------------------------------

    def map_error(self, f: Callable[[E_co], E2]) -> Effect[A_co, E2, R_co]:
        """Transform the typed error.

        >>> from effectpy import Effect, run_sync_exit
        >>> run_sync_exit(Effect.fail(404).map_error(str)).cause.failures()
        ['404']
        """
        return _Fold(self, lambda cause: _FailCause(cause.map(f)), None)

    def catch_all(self, f: Callable[[E_co], Effect[B, E2, R2]]) -> Effect[A_co | B, E2, R_co | R2]:
        """Recover from the typed error with the effect `f` makes from it. Defects and
        interruptions are not typed errors and pass through.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail("boom").catch_all(lambda e: Effect.succeed(f"handled {e}")))
        'handled boom'
        """

        def on_failure(cause: Cause[E_co]) -> Effect[B, E2, R2]:
            if type(cause) is Fail:
                return _call(f, cause.error)
            error = _recoverable(cause)
            return _FailCause(cause) if error is _NO_ERROR else _call(f, error)

        return _Fold(self, on_failure, None)

    def catch(
        self, cls: type[X], handler: Callable[[X], Effect[B, E2, R2]]
    ) -> Effect[A_co | B, E_co | E2, R_co | R2]:
        """Recover from typed errors that are instances of `cls`; others pass through.

        Without the mypy plugin the result keeps `E` whole (a sound over-approximation);
        with `effectpy.mypy_plugin`, `cls` is removed from `E`.

        >>> from effectpy import Effect, run_sync
        >>> eff: Effect[int, KeyError | ValueError] = Effect.fail(KeyError("k"))
        >>> run_sync(eff.catch(KeyError, lambda e: Effect.succeed(0)).catch_all(lambda e: Effect.succeed(-1)))
        0
        """
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            raise TypeError(f"catch expects an exception class, got {cls!r}")

        def on_failure(cause: Cause[E_co]) -> Effect[B, E2, R2] | Effect[Never, E_co]:
            error = _recoverable(cause)
            if isinstance(error, cls):
                return _call(handler, error)
            return _FailCause(cause)

        return _Fold(self, on_failure, None)

    def catch_all_cause(
        self, f: Callable[[Cause[E_co]], Effect[B, E2, R2]]
    ) -> Effect[A_co | B, E2, R_co | R2]:
        """Recover from any failure, defects included, given its whole `Cause`.
        (An interrupted fiber still cannot recover: its handlers are skipped.)

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.die(ValueError("x")).catch_all_cause(lambda c: Effect.succeed(len(c.defects()))))
        1
        """
        return _Fold(self, f, None)

    def or_else(self, that: Effect[B, E2, R2]) -> Effect[A_co | B, E2, R_co | R2]:
        """On a typed error, run `that` instead.

        A defect is not recovered from: when the cause holds one, the effect fails
        with its defects, its typed errors turned into defects too and its
        interruptions left out (`Cause.keep_defects_and_elect_failures`), as Effect-TS's
        `orElse` does. A cause of interruptions only passes through.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail("no").or_else(Effect.succeed("fallback")))
        'fallback'
        """
        _require_effect(that, "or_else")

        def on_failure(cause: Cause[E_co]) -> Effect[B, E2, R2]:
            if type(cause) is Fail:
                return that
            if cause.defects():
                return _FailCause(cause.keep_defects_and_elect_failures())
            return that if cause.failures() else _FailCause(cause)

        return _Fold(self, on_failure, None)

    def either(self) -> Effect[Result[A_co, E_co], Never, R_co]:
        """Succeed with a `returns` `Result`: `Success(value)` or `Failure(error)`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail("no").either())
        <Failure: no>
        """

        def on_failure(cause: Cause[E_co]) -> Effect[Result[A_co, E_co]]:
            error = _recoverable(cause)
            if error is _NO_ERROR:
                return _FailCause(cause)
            return _succeed_node(ResultFailure(error))

        return _Fold(self, on_failure, lambda a: _succeed_node(ResultSuccess(a)))

    def exit(self) -> Effect[Exit[A_co, E_co], Never, R_co]:
        """Succeed with how this effect ended, as an `Exit`.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail("no").exit())
        Failure(cause=Fail(error='no'))
        """
        return _Fold(self, lambda c: _succeed_node(Failure(c)), lambda a: _succeed_node(Success(a)))

    def match(
        self, *, on_failure: Callable[[E_co], B], on_success: Callable[[A_co], C]
    ) -> Effect[B | C, Never, R_co]:
        """Handle both outcomes with plain functions. Defects pass through.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail(1).match(on_failure=lambda e: "bad", on_success=lambda a: "ok"))
        'bad'
        """

        def handle(cause: Cause[E_co]) -> Effect[B]:
            error = _recoverable(cause)
            return _FailCause(cause) if error is _NO_ERROR else _succeed_node(on_failure(error))

        return _Fold(self, handle, lambda a: _succeed_node(on_success(a)))

    def match_effect(
        self,
        *,
        on_failure: Callable[[E_co], Effect[B, E2, R2]],
        on_success: Callable[[A_co], Effect[C, E3, R3]],
    ) -> Effect[B | C, E2 | E3, R_co | R2 | R3]:
        """Continue with an effect for either outcome. Defects pass through.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(2).match_effect(
        ...     on_failure=lambda e: Effect.succeed(0), on_success=lambda a: Effect.succeed(a * 2)))
        4
        """

        def handle(cause: Cause[E_co]) -> Effect[B, E2, R2]:
            error = _recoverable(cause)
            return _FailCause(cause) if error is _NO_ERROR else _call(on_failure, error)

        return _Fold(self, handle, on_success)

    def match_cause(
        self, *, on_failure: Callable[[Cause[E_co]], B], on_success: Callable[[A_co], C]
    ) -> Effect[B | C, Never, R_co]:
        """Handle both outcomes with plain functions, given the whole `Cause` on failure.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.die(OSError()).match_cause(on_failure=lambda c: "died", on_success=str))
        'died'
        """
        return _Fold(
            self, lambda c: _succeed_node(on_failure(c)), lambda a: _succeed_node(on_success(a))
        )

    def match_cause_effect(
        self,
        *,
        on_failure: Callable[[Cause[E_co]], Effect[B, E2, R2]],
        on_success: Callable[[A_co], Effect[C, E3, R3]],
    ) -> Effect[B | C, E2 | E3, R_co | R2 | R3]:
        """Continue with an effect for either outcome, given the whole `Cause` on failure.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fail(1).match_cause_effect(
        ...     on_failure=lambda c: Effect.succeed(c.failures()), on_success=Effect.succeed))
        [1]
        """
        return _Fold(self, on_failure, on_success)

    # -- finalization -------------------------------------------------------------

    def on_exit(
        self, f: Callable[[Exit[A_co, E_co]], Effect[Any, Never, R2]]
    ) -> Effect[A_co, E_co, R_co | R2]:
        """Run the finalizer `f(exit)` after this effect, however it ended (success,
        failure, defect or interruption). The finalizer is uninterruptible; if it
        fails, its cause follows this effect's (`Cause.sequential`).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).on_exit(lambda ex: Effect.sync(lambda: print(ex))))
        Success(value=1)
        1
        """

        return _OnExit(self, f)

    def ensuring(self, finalizer: Effect[Any, Never, R2]) -> Effect[A_co, E_co, R_co | R2]:
        """Run `finalizer` after this effect, however it ended.

        >>> from effectpy import Effect, run_sync_exit
        >>> _ = run_sync_exit(Effect.fail("x").ensuring(Effect.sync(lambda: print("cleanup"))))
        cleanup
        """
        _require_effect(finalizer, "ensuring")
        return self.on_exit(lambda _: finalizer)

    def on_error(
        self, f: Callable[[Cause[E_co]], Effect[Any, Never, R2]]
    ) -> Effect[A_co, E_co, R_co | R2]:
        """Run `f(cause)` if this effect fails (interruption included); keep the failure.

        >>> from effectpy import Effect, run_sync_exit
        >>> _ = run_sync_exit(Effect.fail("x").on_error(lambda c: Effect.sync(lambda: print(c.failures()))))
        ['x']
        """
        return self.on_exit(lambda exit: f(exit.cause) if isinstance(exit, Failure) else _UNIT)

    # -- interruption -------------------------------------------------------------

    def interruptible(self) -> Effect[A_co, E_co, R_co]:
        """This effect, interruptible even inside an uninterruptible region.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).uninterruptible().interruptible())
        1
        """
        return _SetInterruptible(self, True)

    def uninterruptible(self) -> Effect[A_co, E_co, R_co]:
        """This effect, shielded from interruption; an interrupt that arrives meanwhile
        takes effect when it ends.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(1).uninterruptible())
        1
        """
        return _SetInterruptible(self, False)

    def on_interrupt(
        self, f: Callable[[list[Interrupt]], Effect[Any, Never, R2]]
    ) -> Effect[A_co, E_co, R_co | R2]:
        """Run `f(interruptions)` if this effect is interrupted; each `Interrupt` says
        which fiber stopped it and why (`.fiber_id`, `.reason`).

        >>> from effectpy import Effect, run_sync
        >>> slow = Effect.never().on_interrupt(
        ...     lambda stops: Effect.sync(lambda: print("stopped:", stops[0].reason)))
        >>> run_sync(slow.timeout(0.01).either()).failure()
        stopped: timeout after 0.01s
        TimeoutError('timed out after 0.01s')
        """

        def finalizer(exit: Exit[A_co, E_co]) -> Effect[Any, Never, R2]:
            if isinstance(exit, Failure) and exit.cause.is_interrupted_only():
                return f(exit.cause.interruptions())
            return _UNIT

        return self.on_exit(finalizer)

    # -- fibers and time ----------------------------------------------------------

    def fork(self) -> Effect[Fiber[A_co, E_co], Never, R_co]:
        """Start this effect in a child fiber and go on at once with its `Fiber`.

        The child belongs to the forking fiber: when the parent's effect ends, a child
        still running is interrupted (reason `ParentDone`) and awaited.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed(41).fork().flat_map(lambda f: f.join()).map(lambda n: n + 1))
        42
        """
        node = _Fork()
        node.effect = self
        node.daemon = False
        return node

    def fork_daemon(self) -> Effect[Fiber[A_co, E_co], Never, R_co]:
        """Start this effect in a fiber that no fiber owns: it outlives its parent and
        is only stopped when the runtime shuts down (the end of `run_sync`).

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed("bg").fork_daemon().flat_map(lambda f: f.join()))
        'bg'
        """
        node = _Fork()
        node.effect = self
        node.daemon = True
        return node

    def named(self, name: str) -> Effect[A_co, E_co, R_co]:
        """Name the fiber that runs this effect; the name shows in causes and logs.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.fiber_id().named("worker")).name
        'worker'
        """
        if not isinstance(name, str):
            raise TypeError(f"named expects a str, got {type(name).__name__}")

        def rename(fiber: FiberRuntime) -> Effect[A_co, E_co, R_co]:
            fiber.rename(name)
            return self

        return _WithFiber(rename)

    def delay(self, seconds: float) -> Effect[A_co, E_co, R_co]:
        """Wait `seconds` on the fiber's clock, then run this effect.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.succeed("later").delay(0.001))
        'later'
        """
        duration = check_duration(seconds, "delay")
        return _then_node(_WithFiber(lambda fiber: _sleep_on(fiber, duration)), self)

    def timeout(self, seconds: float) -> Effect[A_co, E_co | TimeoutError, R_co]:
        """Fail with `TimeoutError` if this effect takes longer than `seconds`; it runs
        in a child fiber, which is then interrupted (reason `Timeout`) and awaited.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.sleep(10).timeout(0.01).catch_all(lambda e: Effect.succeed(repr(e))))
        "TimeoutError('timed out after 0.01s')"
        """
        duration = check_duration(seconds, "timeout")
        node = _new(_Timeout)
        node.effect = self
        node.seconds = duration
        return node

    def fork_scoped(self) -> Effect[Fiber[A_co, E_co], Never, R_co | Scope]:
        """Start this effect in a fiber owned by the current scope: it outlives the
        forking fiber and is interrupted (reason `ScopeClosed`) when the scope closes.

        >>> from effectpy import Effect, run_sync
        >>> worker = Effect.never().on_interrupt(lambda i: Effect.sync(lambda: print(i[0].reason)))
        >>> started = worker.fork_scoped().and_then(Effect.yield_now())  # let the worker start
        >>> run_sync(Effect.scoped(started.as_("done")))
        scope closed
        'done'
        """
        return _GET_SCOPE.flat_map(lambda scope: scope.fork_fiber(self))

    def fork_in(self, scope: Scope) -> Effect[Fiber[A_co, E_co], Never, R_co]:
        """Start this effect in a fiber owned by `scope` (see `fork_scoped`).

        >>> from effectpy import Effect, Exit, Scope, run_sync
        >>> def program(scope):
        ...     return Effect.never().fork_in(scope).and_then(scope.close(Exit.unit())).as_("closed")
        >>> run_sync(Scope.make().flat_map(program))
        'closed'
        """
        return scope.fork_fiber(self)

    # -- services -----------------------------------------------------------------

    @overload
    def provide(self, context: Context[R_co], /) -> Effect[A_co, E_co, Never]: ...
    @overload
    def provide(self, layer: Layer[R_co, E2, R2], /) -> Effect[A_co, E_co | E2, R2]: ...
    def provide(self, services: Context[Any] | Layer[Any, Any, Any], /) -> Effect[A_co, Any, Any]:
        """Give the effect the services it needs: a `Context` covering all of `R`, or
        a `Layer` that builds them (torn down when this effect ends).

        >>> from effectpy import Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> run_sync(Port.get().map(lambda p: p + 1).provide(Port.of(8080)))
        8081
        """
        provide_to = _provider(services)
        if provide_to is None:
            raise TypeError(f"provide expects a Context or a Layer, got {type(services).__name__}")
        return provide_to(services, self)  # type: ignore[no-any-return]

    def provide_service(self, tag: Callable[[S], T], service: S) -> Effect[A_co, E_co, R_co]:
        """Provide one service. Without the mypy plugin `R` is kept whole (a sound
        over-approximation); with `effectpy.mypy_plugin` the tag is removed from `R`.

        >>> from effectpy import Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> run_sync(Port.get().provide_service(Port, 80))  # type: ignore[arg-type]
        80
        """
        of = getattr(tag, "of", None) if isinstance(tag, type) else None
        if of is None:
            raise TypeError(f"provide_service expects a Tag class, got {tag!r}")
        context = of(service)
        return _provider(context)(context, self)  # type: ignore[misc, no-any-return]

    def provide_some(self, context: Context[Any]) -> Effect[A_co, E_co, R_co]:
        """Provide some of the services (the plugin removes their tags from `R`).

        >>> from effectpy import Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> run_sync(Port.get().provide_some(Port.of(80)))  # type: ignore[arg-type]
        80
        """
        if not getattr(type(context), "_is_context", False):
            raise TypeError(f"provide_some expects a Context, got {type(context).__name__}")
        return _provider(context)(context, self)  # type: ignore[misc, no-any-return]

    # -- retry and repeat -----------------------------------------------------------

    def retry(
        self,
        schedule: Schedule[Any, E_co] | None = None,
        *,
        times: int | None = None,
        while_: Callable[[E_co], bool] | None = None,
    ) -> Effect[A_co, E_co, R_co]:
        """On a typed error, try again as `schedule` says (or up to `times` more times
        while `while_(error)` holds); when the schedule stops, fail with the last
        error. Defects and interruptions are never retried.

        >>> from effectpy import Effect, run_sync_exit
        >>> failing: Effect[int, ValueError] = Effect.fail(ValueError("bad input"))
        >>> run_sync_exit(failing.retry(times=3, while_=lambda e: not isinstance(e, ValueError)))
        Failure(cause=Fail(error=ValueError('bad input')))
        """
        policy = _retry_policy(schedule, times, while_)

        def run() -> Effect[A_co, E_co, R_co]:
            step = policy.start()

            def attempt() -> Effect[A_co, E_co, R_co]:
                return _Fold(self, _retry_handler(step, attempt, None), None)

            return attempt()

        return _Suspend(run)

    def retry_or_else(
        self,
        schedule: Schedule[B, E_co],
        or_else: Callable[[E_co, B | None], Effect[C, E2, R2]],
    ) -> Effect[A_co | C, E2, R_co | R2]:
        """Like `retry`, but when the schedule stops, recover with
        `or_else(last_error, last_schedule_output)`.

        >>> from effectpy import Effect, Schedule, run_sync
        >>> run_sync(Effect.fail("down").retry_or_else(
        ...     Schedule.recurs(2), lambda e, tries: Effect.succeed(f"gave up after {tries}: {e}")))
        'gave up after 2: down'
        """

        def run() -> Effect[A_co | C, E2, R_co | R2]:
            step = schedule.start()

            def attempt() -> Effect[A_co | C, E2, R_co | R2]:
                return _Fold(self, _retry_handler(step, attempt, or_else), None)

            return attempt()

        return _Suspend(run)

    def repeat(self, schedule: Schedule[B, A_co]) -> Effect[B, E_co, R_co]:
        """Run this effect, then again as `schedule` says, fed with each value; succeed
        with the schedule's last output. The first failure stops the repetition.

        >>> from effectpy import Effect, Schedule, run_sync
        >>> run_sync(Effect.sync(lambda: print("tick")).repeat(Schedule.recurs(2)))
        tick
        tick
        tick
        2
        """

        def run() -> Effect[B, E_co, R_co]:
            step = schedule.start()

            def again() -> Effect[B, E_co, R_co]:
                def decide(value: Any) -> Effect[B, E_co, R_co]:
                    def with_now(now: float) -> Effect[B, E_co, R_co]:
                        decision = step(now, value)
                        if decision.delay is None:
                            return _with_tap(decision.effect, _succeed_node(decision.output))
                        wait = Effect.sleep(decision.delay).and_then(_Suspend(again))
                        return _with_tap(decision.effect, wait)

                    return _now().flat_map(with_now)

                return _flat_map_node(self, decide)

            return again()

        return _Suspend(run)

    def annotate_logs(self, /, **annotations: object) -> Effect[A_co, E_co, R_co]:
        """Add `annotations` to every log line this effect (and the fibers it starts)
        emits.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.log("fetching").annotate_logs(request_id="r-1"))
        """
        added = dict(annotations)

        def annotate(fiber: FiberRuntime) -> Effect[A_co, E_co, R_co]:
            current: Any = fiber.get_ref(LOG_ANNOTATIONS)
            return _Locally(LOG_ANNOTATIONS, {**current, **added}, self)

        return _WithFiber(annotate)

    def with_log_span(self, label: str) -> Effect[A_co, E_co, R_co]:
        """Run this effect inside a log span: its lines carry the span's elapsed time.

        >>> from effectpy import Effect, run_sync
        >>> run_sync(Effect.log("step").with_log_span("checkout"))
        """

        def open_span(fiber: FiberRuntime) -> Effect[A_co, E_co, R_co]:
            clock = clock_of(fiber)
            spans: Any = fiber.get_ref(LOG_SPANS)
            return _Locally(LOG_SPANS, (*spans, (label, clock, span_time(clock))), self)

        return _WithFiber(open_span)

    def with_task(self, title: str, meta: object = None) -> Effect[A_co, E_co, R_co]:
        """Run this effect as a task of the current task tree (see `effectpy.tasks`);
        outside any tree it runs as it is.

        >>> from effectpy import Effect, TaskTree, run_sync
        >>> tree = TaskTree()
        >>> run_sync(tree.provide(Effect.succeed(7).with_task("compute")))
        7
        >>> run_sync(tree.snapshot())[0]["status"]
        'completed'
        """
        if not isinstance(title, str):
            raise TypeError(f"with_task: the title must be a str, got {type(title).__name__}")

        def run(fiber: FiberRuntime) -> Effect[A_co, E_co, R_co]:
            cursor: Any = fiber.get_ref(TASK_CURSOR)
            if cursor is None:
                return self
            task: Effect[A_co, E_co, R_co] = cursor.run_task(title, self, meta)
            return task

        return _WithFiber(run)

    # -- generators and pipe ------------------------------------------------------

    def __iter__(self) -> Generator[Effect[A_co, E_co, R_co], Any, A_co]:
        """Lets a `@gen` generator write `value = yield from effect`."""
        value: A_co = yield self
        return value

    # --- BEGIN GENERATED: pipe overloads (tools/gen_typing.py) ---
    @overload
    def pipe(self, f1: Callable[[Effect[A_co, E_co, R_co]], _P1], /) -> _P1: ...
    @overload
    def pipe(
        self, f1: Callable[[Effect[A_co, E_co, R_co]], _P1], f2: Callable[[_P1], _P2], /
    ) -> _P2: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        /,
    ) -> _P3: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        /,
    ) -> _P4: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        /,
    ) -> _P5: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        /,
    ) -> _P6: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        /,
    ) -> _P7: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        /,
    ) -> _P8: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        /,
    ) -> _P9: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        /,
    ) -> _P10: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        /,
    ) -> _P11: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        /,
    ) -> _P12: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        /,
    ) -> _P13: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        /,
    ) -> _P14: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        f15: Callable[[_P14], _P15],
        /,
    ) -> _P15: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        f15: Callable[[_P14], _P15],
        f16: Callable[[_P15], _P16],
        /,
    ) -> _P16: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        f15: Callable[[_P14], _P15],
        f16: Callable[[_P15], _P16],
        f17: Callable[[_P16], _P17],
        /,
    ) -> _P17: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        f15: Callable[[_P14], _P15],
        f16: Callable[[_P15], _P16],
        f17: Callable[[_P16], _P17],
        f18: Callable[[_P17], _P18],
        /,
    ) -> _P18: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        f15: Callable[[_P14], _P15],
        f16: Callable[[_P15], _P16],
        f17: Callable[[_P16], _P17],
        f18: Callable[[_P17], _P18],
        f19: Callable[[_P18], _P19],
        /,
    ) -> _P19: ...
    @overload
    def pipe(
        self,
        f1: Callable[[Effect[A_co, E_co, R_co]], _P1],
        f2: Callable[[_P1], _P2],
        f3: Callable[[_P2], _P3],
        f4: Callable[[_P3], _P4],
        f5: Callable[[_P4], _P5],
        f6: Callable[[_P5], _P6],
        f7: Callable[[_P6], _P7],
        f8: Callable[[_P7], _P8],
        f9: Callable[[_P8], _P9],
        f10: Callable[[_P9], _P10],
        f11: Callable[[_P10], _P11],
        f12: Callable[[_P11], _P12],
        f13: Callable[[_P12], _P13],
        f14: Callable[[_P13], _P14],
        f15: Callable[[_P14], _P15],
        f16: Callable[[_P15], _P16],
        f17: Callable[[_P16], _P17],
        f18: Callable[[_P17], _P18],
        f19: Callable[[_P18], _P19],
        f20: Callable[[_P19], _P20],
        /,
    ) -> _P20: ...
    @overload
    def pipe(
        self, /, *steps: Callable[[Effect[A_co, E_co, R_co] | _P1], _P1]
    ) -> Effect[A_co, E_co, R_co] | _P1: ...
    # --- END GENERATED: pipe overloads ---
    def pipe(self, *fns: Callable[[Any], Any]) -> Any:
        """Apply functions left to right: `eff.pipe(f, g)` is `g(f(eff))`. Typed for up
        to 20 steps; use it with the data-last functions of `effectpy.pointfree`.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy import pointfree as pf
        >>> run_sync(Effect.succeed(1).pipe(pf.map(lambda n: n + 1)))
        2
        """
        result: Any = self
        for fn in fns:
            result = fn(result)
        return result


# -- the primitive nodes --------------------------------------------------------------
# Plain slotted classes with an integer `_op` (see `effectpy._core.opcodes`). Their
# fields are private to the library; the fiber loop reads them by name.


class _Succeed(Effect[Any, Any, Any]):
    __slots__ = ("value",)
    _op = op.SUCCEED

    value: Any

    def __repr__(self) -> str:
        return f"Effect.succeed({self.value!r})"


class _FailCause(Effect[Any, Any, Any]):
    __slots__ = ("cause",)
    _op = op.FAIL

    def __init__(self, cause: Cause[Any]) -> None:
        self.cause = cause

    def __repr__(self) -> str:
        return f"Effect.fail_cause({self.cause!r})"


class _Sync(Effect[Any, Any, Any]):
    __slots__ = ("thunk",)
    _op = op.SYNC

    def __init__(self, thunk: Callable[[], object]) -> None:
        self.thunk = thunk


class _Suspend(Effect[Any, Any, Any]):
    __slots__ = ("thunk",)
    _op = op.SUSPEND

    def __init__(self, thunk: Callable[[], object]) -> None:
        self.thunk = thunk


class _FlatMap(Effect[Any, Any, Any]):
    __slots__ = ("first", "k")
    _op = op.FLAT_MAP

    first: Effect[Any, Any, Any]
    k: Callable[[Any], object]


class _Then(Effect[Any, Any, Any]):
    __slots__ = ("first", "second")
    _op = op.THEN

    first: Effect[Any, Any, Any]
    second: Effect[Any, Any, Any]


class _Map(Effect[Any, Any, Any]):
    __slots__ = ("f", "first")
    _op = op.MAP

    first: Effect[Any, Any, Any]
    f: Callable[[Any], object]


# Constructors of the commonest nodes (their classes have no `__init__`: calling a class
# without one, then setting the slots, is a quarter cheaper than `object.__new__`).


def _succeed_node(value: object) -> Effect[Any, Any, Any]:
    node = _Succeed()
    node.value = value
    return node


def _flat_map_node(
    first: Effect[Any, Any, Any], k: Callable[[Any], object]
) -> Effect[Any, Any, Any]:
    node = _FlatMap()
    node.first = first
    node.k = k
    return node


def _map_node(first: Effect[Any, Any, Any], f: Callable[[Any], object]) -> Effect[Any, Any, Any]:
    node = _Map()
    node.first = first
    node.f = f
    return node


def _then_node(
    first: Effect[Any, Any, Any], second: Effect[Any, Any, Any]
) -> Effect[Any, Any, Any]:
    node = _Then()
    node.first = first
    node.second = second
    return node


class _Fold(Effect[Any, Any, Any]):
    __slots__ = ("first", "on_failure", "on_success")
    _op = op.FOLD

    def __init__(
        self,
        first: Effect[Any, Any, Any],
        on_failure: Callable[[Any], object],
        on_success: Callable[[Any], object] | None,
    ) -> None:
        self.first = first
        self.on_failure = on_failure
        self.on_success = on_success


class _Async(Effect[Any, Any, Any]):
    __slots__ = ("register",)
    _op = op.ASYNC

    def __init__(self, register: Callable[[Resume], object]) -> None:
        self.register = register


class _Fork(Effect[Any, Any, Any]):
    """Start `effect` in a child fiber (or a daemon); the value is its `Fiber`."""

    __slots__ = ("daemon", "effect")
    _op = op.FORK
    effect: Effect[Any, Any, Any]
    daemon: bool


class _Join(Effect[Any, Any, Any]):
    """`fiber.join()`: the fiber's value or cause (waiting for it if it runs)."""

    __slots__ = ("fiber", "runtime")
    _op = op.JOIN
    fiber: Fiber[Any, Any]
    runtime: FiberRuntime


class _ForEach(Effect[Any, Any, Any]):
    """A sequential `for_each`: `f(item)` for each item in turn, the values in a list."""

    __slots__ = ("f", "items")
    _op = op.FOR_EACH
    items: tuple[Any, ...]
    f: Callable[[Any], Effect[Any, Any, Any]]


class _Promise(Effect[Any, Any, Any]):
    """`Effect.promise`/`try_promise`: await `make()` on an asyncio loop; an exception
    is a failure if it is an instance of `catch`, else a defect."""

    __slots__ = ("catch", "make")
    _op = op.PROMISE
    make: Callable[[], Awaitable[Any]]
    catch: Any


class _Blocking(Effect[Any, Any, Any]):
    """`Effect.blocking`: `fn(signal)` in the thread pool (`catch` as for `_Promise`)."""

    __slots__ = ("catch", "fn")
    _op = op.BLOCKING
    fn: Callable[[Signal], Any]
    catch: Any


class _Group(Effect[Any, Any, Any]):
    """Child fibers that end together: all must succeed (`race` false, the values in a
    list) or the first success wins (`first_wins`); at most `limit` at once (None: all)."""

    __slots__ = ("effects", "first_wins", "limit")
    _op = op.GROUP
    effects: list[Any] | tuple[Any, ...]
    limit: int | None
    first_wins: bool


class _Timeout(Effect[Any, Any, Any]):
    """`effect.timeout(seconds)`: `effect` in a child fiber, interrupted at the deadline."""

    __slots__ = ("effect", "seconds")
    _op = op.TIMEOUT
    effect: Effect[Any, Any, Any]
    seconds: float


class _Dedupe(Effect[Any, Any, Any]):
    """`Effect.dedupe`: join the execution of `effect` running under `key`, or start it."""

    __slots__ = ("effect", "key")
    _op = op.DEDUPE
    key: Hashable
    effect: Effect[Any, Any, Any]


class _Cached(Effect[Any, Any, Any]):
    """`Effect.cached`/`cached_with_ttl`: the value is a memoized `effect` (its exit kept
    for `ttl` seconds on the fiber's clock; None: for ever)."""

    __slots__ = ("effect", "ttl")
    _op = op.CACHED
    effect: Effect[Any, Any, Any]
    ttl: float | None


class _Log(Effect[Any, Any, Any]):
    """`Effect.log`: one record at `level`, with the fiber's annotations and spans."""

    __slots__ = ("annotations", "level", "message")
    _op = op.LOG
    message: str
    level: int
    annotations: dict[str, object]


class _OnExit(Effect[Any, Any, Any]):
    __slots__ = ("f", "first")
    _op = op.ON_EXIT

    def __init__(self, first: Effect[Any, Any, Any], f: Callable[[Any], object]) -> None:
        self.first = first
        self.f = f


class _Yield(Effect[Any, Any, Any]):
    __slots__ = ()
    _op = op.YIELD


class _SetInterruptible(Effect[Any, Any, Any]):
    __slots__ = ("effect", "flag")
    _op = op.SET_INTERRUPTIBLE

    def __init__(self, effect: Effect[Any, Any, Any], flag: bool) -> None:
        self.effect = effect
        self.flag = flag


class _WithFiber(Effect[Any, Any, Any]):
    __slots__ = ("f",)
    _op = op.WITH_FIBER

    def __init__(self, f: Callable[[FiberRuntime], object]) -> None:
        self.f = f


class _Scoped(Effect[Any, Any, Any]):
    """`Effect.scoped`: the loop opens a sequential `CloseableScope`, runs `effect` in
    it and closes it with the effect's exit."""

    __slots__ = ("effect",)
    _op = op.SCOPED
    effect: Effect[Any, Any, Any]


class _AcquireRelease(Effect[Any, Any, Any]):
    __slots__ = ("acquire", "release")
    _op = op.ACQUIRE_RELEASE
    acquire: Effect[Any, Any, Any]
    release: Callable[[Any, Exit[Any, Any]], Effect[Any, Any, Any]]


class _Bracket(Effect[Any, Any, Any]):
    __slots__ = ("acquire", "release", "use")
    _op = op.BRACKET
    acquire: Effect[Any, Any, Any]
    use: Callable[[Any], Effect[Any, Any, Any]]
    release: Callable[[Any, Exit[Any, Any]], Effect[Any, Any, Any]]


class _AddFinalizer(Effect[Any, Any, Any]):
    """`scope.add_finalizer...`: one atomic step (run at once if the scope is closed).
    `release` and `value` are those of a `Finalizer` (`_core/scope.py`)."""

    __slots__ = ("release", "scope", "value")
    _op = op.ADD_FINALIZER

    def __init__(self, scope: Scope, release: object, value: object) -> None:
        self.scope = scope
        self.release = release
        self.value = value


class _WithScope(Effect[Any, Any, Any]):
    """`scope.extend(effect)`: `effect` with `scope` as the fiber's current scope."""

    __slots__ = ("effect", "scope")
    _op = op.WITH_SCOPE

    def __init__(self, scope: Scope, effect: Effect[Any, Any, Any]) -> None:
        self.scope = scope
        self.effect = effect


class _MakeScope(Effect[Any, Any, Any]):
    """`Scope.make(...)`: a new open scope of class `scope_class`, owned by the fiber."""

    __slots__ = ("name", "scope_class", "sequential", "strategy")
    _op = op.MAKE_SCOPE

    def __init__(
        self, scope_class: type[Scope], strategy: object, name: str | None, sequential: bool
    ) -> None:
        self.scope_class = scope_class
        self.strategy = strategy
        self.name = name
        self.sequential = sequential


class _CloseScope(Effect[Any, Any, Any]):
    """`scope.close(exit)`: the loop runs the finalizers (once; shielded from
    interruption, except sync ones, which are atomic anyway)."""

    __slots__ = ("scope", "scope_exit")
    _op = op.CLOSE_SCOPE

    def __init__(self, scope: Scope, exit: Exit[Any, Any]) -> None:
        self.scope = scope
        self.scope_exit = exit


class _Locally(Effect[Any, Any, Any]):
    __slots__ = ("effect", "ref", "value")
    _op = op.LOCALLY

    def __init__(self, ref: FiberRef | None, value: object, effect: Effect[Any, Any, Any]) -> None:
        self.ref = ref
        self.value = value
        self.effect = effect


def _provider(services: object) -> Callable[[Any, Effect[Any, Any, Any]], Any] | None:
    """How `services` provides itself to an effect: the `_provide_to` that `Context`
    and `Layer` define (context.py), found on the type since this layer cannot import them."""
    return getattr(type(services), "_provide_to", None)


def _with_fiber(f: Callable[[FiberRuntime], Effect[A, E, R]]) -> Effect[A, E, R]:
    """Library-internal: an effect built from the running fiber's state."""
    return _WithFiber(f)


def _locally(ref: FiberRef, value: object, effect: Effect[A, E, R]) -> Effect[A, E, R]:
    """Library-internal: run `effect` with the fiber ref `ref` set to `value`."""
    return _Locally(ref, value, effect)


def _with_refs(refs: dict[FiberRef, object], effect: Effect[A, E, R]) -> Effect[A, E, R]:
    """Library-internal: run `effect` with `refs` as all of the fiber's refs (restored
    after): how a finalizer runs under the refs it was registered with."""
    return _Locally(None, refs, effect)


_new = object.__new__
_UNIT: Effect[None] = _succeed_node(None)
_YIELD: Effect[None] = _Yield()
_NEVER: Effect[Never] = _Async(lambda resume: None)
_INTERRUPT_SELF: Effect[Never] = _WithFiber(
    lambda fiber: _FailCause(Cause.interrupt(fiber.id, Manual()))
)
_NO_ERROR: Any = object()


def _sleep_on(fiber: FiberRuntime, seconds: float) -> Effect[None]:
    clock = clock_of(fiber)

    def register(resume: Resume) -> Effect[None] | Timer:
        handle = clock.call_later(fiber, seconds, lambda: resume(_UNIT))
        # A scheduler's or a TestClock's `Timer` is the canceller itself: the fiber
        # loop cancels it at once (cheaper than running an effect that does).
        return handle if type(handle) is Timer else _Sync(handle.cancel)

    return _Async(register)


def _cached(effect: Effect[A, E, R], ttl: float | None) -> Effect[Effect[A, E, R]]:
    _require_effect(effect, "Effect.cached")
    node = _new(_Cached)
    node.effect = effect
    node.ttl = ttl
    return node


def _log(message: str, level: int, annotations: dict[str, object]) -> Effect[None]:
    node = _new(_Log)
    node.message = message
    node.level = level
    node.annotations = annotations
    return node


def _get_scope(fiber: FiberRuntime) -> Effect[Scope, Never, Scope]:
    scope = fiber.scope
    if scope is None:
        raise LookupError(NO_SCOPE)
    return _succeed_node(scope)


_GET_SCOPE: Final[Effect[Scope, Never, Scope]] = _WithFiber(_get_scope)
"""`Scope.get()`: the running fiber's current scope (a defect if it has none)."""


def _concurrency_limit(concurrency: object, what: str) -> int | None:
    """0 for sequential, None for unbounded, else the limit."""
    if concurrency is None:
        return 0
    if concurrency == "unbounded":
        return None
    if isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1:
        return concurrency
    raise ValueError(
        f'{what}: concurrency must be None, a positive int or "unbounded", got {concurrency!r}'
    )


def _sequence(
    items: Iterable[Any], f: Callable[[Any], Effect[Any, Any, Any]]
) -> Effect[list[Any], Any, Any]:
    """Run `f(item)` for each item, one after the other, collecting the values (a fresh
    list per run): the loop runs it, calling `f` only when an item's turn comes."""
    node = _new(_ForEach)
    node.items = tuple(items)
    node.f = f
    return node


def _identity(effect: Effect[A, E, R]) -> Effect[A, E, R]:
    return effect


def _group(
    effects: list[Any] | tuple[Any, ...], limit: int | None, race: bool
) -> Effect[Any, Any, Any]:
    node = _new(_Group)
    node.effects = effects
    node.limit = limit
    node.first_wins = race
    return node


def _promise_node(make: Callable[[], Awaitable[Any]], catch: Any) -> Effect[Any, Any, Any]:
    node = _new(_Promise)
    node.make = make
    node.catch = catch
    return node


def _now() -> Effect[float]:
    """The current time on the fiber's clock."""
    return _WithFiber(lambda fiber: _succeed_node(clock_of(fiber).now()))


def _with_tap(tap: Effect[Any, Any, Any] | None, then: Effect[A, E, R]) -> Effect[A, E, R]:
    return then if tap is None else _then_node(tap, then)


def _retry_policy(schedule: Any, times: int | None, while_: Any) -> Any:
    if schedule is not None and not isinstance(schedule, Schedule):
        raise TypeError(f"retry expects a Schedule, got {type(schedule).__name__}")
    if schedule is None:
        if times is None:
            raise TypeError("retry needs a Schedule or times=")
        schedule = Schedule.recurs(times)
    elif times is not None:
        schedule = schedule.intersect(Schedule.recurs(times))
    if while_ is not None:
        schedule = schedule.while_input(while_)
    return schedule


def _retry_handler(
    step: Any,
    attempt: Callable[[], Effect[Any, Any, Any]],
    or_else: Callable[[Any, Any], Effect[Any, Any, Any]] | None,
) -> Callable[[Cause[Any]], Effect[Any, Any, Any]]:
    """The failure handler of one attempt: a typed error goes to the schedule;
    defects and interruptions pass through, never retried."""

    def on_failure(cause: Cause[Any]) -> Effect[Any, Any, Any]:
        error = _recoverable(cause)
        if error is _NO_ERROR:
            return _FailCause(cause)
        return _next(step, error, attempt, or_else)

    return on_failure


def _next(
    step: Any,
    error: Any,
    attempt: Callable[[], Effect[Any, Any, Any]],
    or_else: Callable[[Any, Any], Effect[Any, Any, Any]] | None,
) -> Effect[Any, Any, Any]:
    """One retry decision: wait and `attempt()` again, or give up."""

    def with_now(now: float) -> Effect[Any, Any, Any]:
        decision = step(now, error)
        if decision.delay is None:
            give_up = (
                _FailCause(Fail(error)) if or_else is None else or_else(error, decision.output)
            )
            return _with_tap(decision.effect, give_up)
        wait = Effect.sleep(decision.delay).and_then(_Suspend(attempt))
        return _with_tap(decision.effect, wait)

    return _now().flat_map(with_now)


def _call(f: Callable[[A], Effect[B, E, R]], value: A) -> Effect[B, E, R]:
    """An effect that calls `f(value)` when run: the loop itself makes the call, so a
    raised exception unwinds from the right place and a non-Effect result is reported
    naming `f`."""
    node = _FlatMap()
    node.first = _succeed_node(value)
    node.k = f
    return node


def _require_function(make: object, what: str) -> None:
    """Refuse a coroutine object where a function making one is expected."""
    if callable(make):
        return
    if inspect.iscoroutine(make):
        make.close()  # never awaited, on purpose: no "never awaited" warning
    raise TypeError(
        f"{what} expects a function that returns a coroutine (e.g. `lambda: fetch(url)`), "
        f"got {type(make).__name__}: an effect may run many times, a coroutine only once"
    )


def _require_callable(fn: object, what: str) -> None:
    if not callable(fn):
        raise TypeError(f"{what} expects a function, got {type(fn).__name__} {fn!r:.60}")


def _require_effect(value: object, what: str) -> None:
    if not isinstance(value, Effect):
        raise TypeError(f"{what} expects an Effect, got {type(value).__name__} {value!r:.60}")


def _check_catch(catch: object, what: str) -> None:
    if (isinstance(catch, type) and issubclass(catch, Exception)) or (
        isinstance(catch, tuple)
        and catch
        and all(isinstance(c, type) and issubclass(c, Exception) for c in catch)
    ):
        return
    raise TypeError(f"{what}: catch must be Exception classes, got {catch!r}")


def _to_none(_: object) -> None:
    return None


def _recoverable(cause: Cause[E]) -> E:
    """The typed error a handler may recover from, or `_NO_ERROR`.

    A cause is recoverable when it holds a typed error and no defect: interruptions
    beside the error (siblings stopped because of it) do not prevent recovery, but a
    defect is never swallowed by a typed-error handler.
    """
    if type(cause) is Fail:
        return cause.error  # type: ignore[no-any-return]
    error: Any = _NO_ERROR
    for leaf in cause.leaves():
        if isinstance(leaf, Die):
            return _NO_ERROR  # type: ignore[no-any-return]
        if error is _NO_ERROR and isinstance(leaf, Fail):
            error = leaf.error
    return error  # type: ignore[no-any-return]


# -- generators -----------------------------------------------------------------------

A_d = TypeVar("A_d")
E_d = TypeVar("E_d", default=Never)
R_d = TypeVar("R_d", default=Never)

Do = TypeAliasType("Do", Generator[Effect[Any, E_d, R_d], Any, A_d], type_params=(A_d, E_d, R_d))
"""The return annotation of a `@gen` generator: `Do[A, E, R]` makes an `Effect[A, E, R]`.

`yield from effect` gives the effect's value; an effect whose error or service is not
in `E`/`R` is a type error at the `yield from`.
"""


# One overload per place where the annotation says `Never`, before the general one: mypy
# infers a generic generator function (`def f(x: T) -> Do[T]`) as a generic result only
# when no type variable of `gen` is solved to `Never`, and otherwise turns the function's
# own type variables into `Never`. (A function generic in `E` or `R` takes the first
# overload that fits with them as `Never`; the plugin gives its exact type.)
@overload
def gen(
    f: Callable[P, Generator[Effect[Any, Never, Never], Any, A]],
) -> Callable[P, Effect[A, Never, Never]]: ...
@overload
def gen(
    f: Callable[P, Generator[Effect[Any, E, Never], Any, A]],
) -> Callable[P, Effect[A, E, Never]]: ...
@overload
def gen(
    f: Callable[P, Generator[Effect[Any, Never, R], Any, A]],
) -> Callable[P, Effect[A, Never, R]]: ...
@overload
def gen(f: Callable[P, Generator[Effect[Any, E, R], Any, A]]) -> Callable[P, Effect[A, E, R]]: ...
def gen(f: Callable[P, Generator[Effect[Any, E, R], Any, A]]) -> Callable[P, Effect[A, E, R]]:
    """Write an effect as a generator: `x = yield from effect` binds the value.

    The first failure stops the generator (its `finally` blocks run) and is the
    failure of the whole effect.

    >>> from effectpy import Do, Effect, gen, run_sync
    >>> @gen
    ... def program(n: int) -> Do[int, ValueError]:
    ...     a = yield from Effect.succeed(n)
    ...     b = yield from Effect.succeed(a * 2)
    ...     return a + b
    >>> run_sync(program(5))
    15
    """

    @functools.wraps(f)
    def make(*args: P.args, **kwargs: P.kwargs) -> Effect[A, E, R]:
        def start() -> Effect[A, E, R]:
            run = _GenRun(f(*args, **kwargs))
            return _Suspend(run.start).on_exit(run.close)

        return _Suspend(start)

    return make


class _GenRun:
    """Drives one run of a generator: each yielded effect is flat-mapped into `send`."""

    __slots__ = ("generator",)

    def __init__(self, generator: Generator[Effect[Any, Any, Any], Any, Any]) -> None:
        if not isinstance(generator, Generator):
            raise TypeError(
                f"@gen expects a generator function, got a function returning "
                f"{type(generator).__name__}"
            )
        self.generator = generator

    def start(self) -> Effect[Any, Any, Any]:
        return self._step(None)

    def _step(self, value: object) -> Effect[Any, Any, Any]:
        try:
            yielded = self.generator.send(value)
        except StopIteration as stop:
            return _succeed_node(stop.value)
        if not isinstance(yielded, Effect):
            raise TypeError(
                f"a @gen generator must `yield from` effects, it yielded "
                f"{type(yielded).__name__} {yielded!r:.60}"
            )
        return _flat_map_node(yielded, self._step)

    def close(self, _exit: Exit[Any, Any]) -> Effect[None]:
        """Close the generator (running its `finally` blocks) if it did not finish."""
        return _Sync(self.generator.close)
