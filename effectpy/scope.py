"""Scopes: where finalizers wait for the end, and see how it ended.

A `Scope` collects finalizers; closing it (a `CloseableScope`) with an `Exit` runs
them in reverse order of registration, each given that exit. Every finalizer runs even
if an earlier one fails; their failures combine into the cause of `close`
(`Cause.sequential` one after the other, or `Cause.parallel` under a parallel strategy)
and none is lost. `close` is idempotent; a finalizer added to a closed scope runs at
once with the stored exit.

>>> from effectpy import Effect, Exit, Scope, run_sync
>>> def program(scope):
...     return (scope.add_finalizer(Effect.sync(lambda: print("first added, last run")))
...         .and_then(scope.add_finalizer(Effect.sync(lambda: print("last added, first run"))))
...         .and_then(scope.close(Exit.unit())))
>>> run_sync(Scope.make().flat_map(program))
last added, first run
first added, last run
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Never, TypeVar, final, overload

from ._core.cause import Cause
from ._core.exit import Exit, Failure
from ._core.fiber_runtime import FiberRuntime
from ._core.ids import ScopeClosed
from .context import _CURRENT_CONTEXT, Context, _current_context
from .effect import Effect
from .effect import _locally as locally
from .effect import _with_fiber as with_fiber
from .fiber import Fiber

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")

Finalizer = Callable[[Exit[Any, Any]], Effect[Any, Never, Any]]
"""A finalizer: given how the scope ended, the effect that cleans up."""

__all__ = ["CloseableScope", "ExecutionStrategy", "Finalizer", "Scope"]


@final
@dataclass(frozen=True, slots=True)
class ExecutionStrategy:
    """How a closing scope runs its finalizers.

    `ExecutionStrategy.sequential`: one by one, last added first (the default).
    `ExecutionStrategy.parallel`: all at once. `ExecutionStrategy.parallel_n(n)`: at
    most `n` at once.

    >>> from effectpy import ExecutionStrategy
    >>> ExecutionStrategy.parallel_n(4)
    ExecutionStrategy(kind='parallel', limit=4)
    """

    kind: str
    limit: int | None = None

    sequential: ClassVar[ExecutionStrategy]
    parallel: ClassVar[ExecutionStrategy]

    @staticmethod
    def parallel_n(n: int) -> ExecutionStrategy:
        """At most `n` finalizers at once (`n` >= 1)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"ExecutionStrategy.parallel_n needs a positive int, got {n!r}")
        return ExecutionStrategy("parallel", n)


ExecutionStrategy.sequential = ExecutionStrategy("sequential")
ExecutionStrategy.parallel = ExecutionStrategy("parallel")

_keys = itertools.count()
_open_scopes: weakref.WeakSet[Scope] = weakref.WeakSet()
"""Every scope not yet garbage-collected (closed ones are skipped by debug_tree)."""


def _open_scopes_now() -> list[Scope]:
    """Library-internal: the scopes that are still open."""
    return [scope for scope in list(_open_scopes) if not scope.is_closed()]


class Scope:
    """A place to register finalizers. `Scope` in an effect's `R` means the effect
    needs one (it acquired something that must be released); `Effect.scoped` or
    `scope.extend`/`scope.use` provides it.
    """

    __slots__ = (
        "__weakref__",
        "_created",
        "_exit",
        "_fibers",
        "_finalizers",
        "_name",
        "_owner",
        "_parent_entry",
        "strategy",
    )

    def __init__(self, strategy: ExecutionStrategy, name: str | None = None) -> None:
        _check_strategy(strategy)
        self.strategy = strategy
        self._name = name
        self._finalizers: dict[int, Finalizer] = {}
        self._exit: Exit[Any, Any] | None = None
        self._parent_entry: tuple[Scope, int] | None = None
        self._owner: FiberRuntime | None = None  # the fiber that made it (for debug_tree)
        self._fibers: dict[int, FiberRuntime] = {}  # fibers it owns (fork_in/fork_scoped)
        self._created = next(_keys)  # creation order, for a stable debug_tree
        _open_scopes.add(self)

    def __repr__(self) -> str:
        state = "closed" if self._exit is not None else f"{len(self._finalizers)} finalizers"
        name = "" if self._name is None else f" {self._name!r}"
        return f"<Scope{name} {self.strategy.kind}, {state}>"

    # -- constructors and access -----------------------------------------------------

    @staticmethod
    def make(
        strategy: ExecutionStrategy = ExecutionStrategy.sequential, name: str | None = None
    ) -> Effect[CloseableScope]:
        """A new, open scope; close it yourself with `close(exit)`.

        >>> from effectpy import Scope, run_sync
        >>> run_sync(Scope.make(name="request"))
        <Scope 'request' sequential, 0 finalizers>
        """

        _check_strategy(strategy)

        def make(fiber: FiberRuntime) -> Effect[CloseableScope]:
            scope = CloseableScope(strategy, name)
            scope._owner = fiber
            return Effect.succeed(scope)

        return with_fiber(make)

    @staticmethod
    def get() -> Effect[Scope, Never, Scope]:
        """The current scope (an effect that needs `Scope` in its `R`).

        >>> from effectpy import Effect, Scope, run_sync
        >>> run_sync(Effect.scoped(Scope.get().map(lambda s: s.is_closed())))
        False
        """
        return with_fiber(lambda fiber: Effect.succeed(_current_scope(fiber)))

    @property
    def name(self) -> str | None:
        return self._name

    def is_closed(self) -> bool:
        return self._exit is not None

    def finalizer_count(self) -> int:
        """How many finalizers wait for the scope to close."""
        return len(self._finalizers)

    # -- finalizers ------------------------------------------------------------------

    def add_finalizer(self, finalizer: Effect[Any, Never, R]) -> Effect[None, Never, R]:
        """Run `finalizer` when the scope closes (at once if it is closed already)."""
        return self.add_finalizer_exit(lambda _: finalizer)

    def add_finalizer_exit(
        self, finalizer: Callable[[Exit[Any, Any]], Effect[Any, Never, R]]
    ) -> Effect[None, Never, R]:
        """Run `finalizer(exit)` when the scope closes with `exit`.

        >>> from effectpy import Effect, Exit, Scope, run_sync
        >>> def program(scope):
        ...     report = lambda exit: Effect.sync(lambda: print("closed with", exit))
        ...     return scope.add_finalizer_exit(report).and_then(scope.close(Exit.fail("boom")))
        >>> run_sync(Scope.make().flat_map(program))
        closed with Failure(cause=Fail(error='boom'))
        """

        def add() -> Effect[None, Never, R]:
            # One atomic step (nothing can interrupt a thunk); only a finalizer that
            # must run at once, the scope being closed, needs shielding.
            if self._exit is not None:
                return finalizer(self._exit).as_unit().uninterruptible()
            self._finalizers[next(_keys)] = finalizer
            return _UNIT

        return Effect.suspend(add)

    # -- child scopes, extend, use ---------------------------------------------------

    def fork(
        self, strategy: ExecutionStrategy = ExecutionStrategy.sequential, name: str | None = None
    ) -> Effect[CloseableScope]:
        """A child scope, closed (with the parent's exit) when this one closes.
        Closed first, it takes itself off the parent's list.

        >>> from effectpy import Effect, Exit, Scope, run_sync
        >>> program = Scope.make().flat_map(lambda parent: parent.fork().flat_map(
        ...     lambda child: child.close(Exit.unit()).map(lambda _: parent.finalizer_count())))
        >>> run_sync(program)
        0
        """

        _check_strategy(strategy)

        def fork() -> Effect[CloseableScope]:
            child = CloseableScope(strategy, name)
            child._owner = self._owner
            if self._exit is not None:
                return child.close(self._exit).as_(child)
            key = next(_keys)
            self._finalizers[key] = child.close
            child._parent_entry = (self, key)
            return Effect.succeed(child)

        return Effect.suspend(fork).uninterruptible()

    @overload
    def extend(self, effect: Effect[A, E, Scope]) -> Effect[A, E, Never]: ...
    @overload
    def extend(self, effect: Effect[A, E, Scope | R]) -> Effect[A, E, R]: ...
    def extend(self, effect: Effect[A, E, Any]) -> Effect[A, E, Any]:
        """Run `effect` with this scope as its scope, without closing it: what the
        effect acquires lives as long as this scope does.

        >>> from effectpy import Effect, Exit, Scope, run_sync
        >>> resource = Effect.add_finalizer(lambda exit: Effect.sync(lambda: print("released")))
        >>> def program(scope):
        ...     return (scope.extend(resource)
        ...         .and_then(Effect.sync(lambda: print("still in use")))
        ...         .and_then(scope.close(Exit.unit())))
        >>> run_sync(Scope.make().flat_map(program))
        still in use
        released
        """
        return with_fiber(
            lambda fiber: locally(
                _CURRENT_CONTEXT, _current_context(fiber).merge(_scope_context(self)), effect
            )
        )

    # -- fibers ----------------------------------------------------------------------

    def fork_fiber(self, effect: Effect[A, E, R]) -> Effect[Fiber[A, E], Never, R]:
        """Start `effect` in a fiber owned by this scope (not by the forking fiber):
        it is interrupted (reason `ScopeClosed`) and awaited when the scope closes."""
        name = self._name

        def attach(fiber: Fiber[A, E]) -> Effect[Fiber[A, E]]:
            def register() -> Effect[Fiber[A, E]]:
                if self._exit is not None:
                    return _interrupt_for_scope(fiber, name).as_(fiber)
                key = next(_keys)
                self._finalizers[key] = lambda _exit: _interrupt_for_scope(fiber, name)
                self._fibers[key] = fiber._runtime
                return Effect.succeed(fiber).tap(lambda f: _forget_when_done(self, key, f))

            return Effect.suspend(register)

        return Effect.uninterruptible_mask(
            lambda restore: restore(effect).fork_daemon().flat_map(attach)
        )


@final
class CloseableScope(Scope):
    """A scope you close yourself."""

    __slots__ = ()

    def close(self, exit: Exit[Any, Any]) -> Effect[None]:
        """Run the finalizers (once; later calls do nothing) with `exit`. Their
        failures, if any, are the failure of `close`.

        >>> from effectpy import Effect, Exit, Scope, run_sync
        >>> twice = lambda s: s.close(Exit.unit()).and_then(s.close(Exit.unit()))
        >>> run_sync(Scope.make().flat_map(twice)) is None
        True
        """

        def close() -> Effect[None]:
            if self._exit is not None:
                return Effect.unit()
            self._exit = exit
            if self._parent_entry is not None:
                parent, key = self._parent_entry
                parent._finalizers.pop(key, None)
                self._parent_entry = None
            finalizers = list(reversed(self._finalizers.values()))
            self._finalizers.clear()
            self._fibers.clear()
            return _run_finalizers(finalizers, exit, self.strategy)

        return Effect.suspend(close).uninterruptible()

    @overload
    def use(self, effect: Effect[A, E, Scope]) -> Effect[A, E, Never]: ...
    @overload
    def use(self, effect: Effect[A, E, Scope | R]) -> Effect[A, E, R]: ...
    def use(self, effect: Effect[A, E, Any]) -> Effect[A, E, Any]:
        """Run `effect` in this scope, then close the scope with the effect's exit.

        >>> from effectpy import Effect, Scope, run_sync
        >>> resource = Effect.add_finalizer(lambda exit: Effect.sync(lambda: print("released")))
        >>> run_sync(Scope.make().flat_map(lambda scope: scope.use(resource.as_("used"))))
        released
        'used'
        """
        return self.extend(effect).on_exit(self.close)


def _check_strategy(strategy: object) -> None:
    if not isinstance(strategy, ExecutionStrategy):
        raise TypeError(f"a scope needs an ExecutionStrategy, got {strategy!r}")


def _run_finalizers(
    finalizers: list[Finalizer], exit: Exit[Any, Any], strategy: ExecutionStrategy
) -> Effect[None]:
    """Run every finalizer, in the order given; fail with their combined causes if any
    failed. Each gets the scope's exit, whatever the others did."""
    if strategy.kind == "sequential":
        # Exactly what nested `on_exit` does: each runs after the one before,
        # uninterruptibly, and failures combine with Cause.sequential.
        chain: Effect[None] = _UNIT
        for finalizer in finalizers:
            chain = chain.on_exit(_with_exit(finalizer, exit))
        return chain
    runs = [Effect.suspend(functools.partial(f, exit)).exit() for f in finalizers]
    limit: Any = "unbounded" if strategy.limit is None else strategy.limit

    def report(results: list[Exit[Any, Any]]) -> Effect[None]:
        cause: Cause[Any] = Cause.empty()
        for result in results:
            if isinstance(result, Failure):
                cause = Cause.parallel(cause, result.cause)
        return _UNIT if cause.is_empty() else Effect.fail_cause(cause)

    return Effect.for_each(runs, lambda run: run, concurrency=limit).flat_map(report)


def _with_exit(finalizer: Finalizer, exit: Exit[Any, Any]) -> Finalizer:
    """`finalizer`, given the scope's exit rather than that of the finalizer before."""
    return lambda _previous: finalizer(exit)


_UNIT: Effect[None] = Effect.unit()


def _current_scope(fiber: FiberRuntime) -> Scope:
    """Library-internal: the running fiber's scope (a defect if it has none)."""
    context = _current_context(fiber)
    if Scope not in context:
        raise LookupError(
            "no Scope: run this effect inside Effect.scoped(...) or scope.extend(...)"
        )
    scope = context.unsafe_get(Scope)
    assert isinstance(scope, Scope)
    return scope


def _scope_context(scope: Scope) -> Context[Scope]:
    return Context._owning({Scope: scope})


def _interrupt_for_scope(fiber: Fiber[Any, Any], name: str | None) -> Effect[None]:
    runtime = fiber._runtime

    def interrupt(me: FiberRuntime) -> Effect[None]:
        if runtime.exit is None:
            runtime.interrupt_as(me.id, ScopeClosed(name))
        return fiber.await_().as_unit()

    return with_fiber(interrupt)


def _forget_when_done(scope: Scope, key: int, fiber: Fiber[Any, Any]) -> Effect[None]:
    """When a scope-owned fiber ends by itself, drop its finalizer (no pile-up)."""

    def forget(_exit: Exit[Any, Any]) -> None:
        scope._finalizers.pop(key, None)
        scope._fibers.pop(key, None)

    return Effect.sync(lambda: fiber._runtime.add_observer(forget))
