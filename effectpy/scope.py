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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Never, TypeVar, final, overload

from ._core import scope as core
from ._core.cause import Cause
from ._core.exit import Exit, Failure
from ._core.ids import ScopeClosed
from ._core.scope import NO_SCOPE
from .effect import (
    _GET_SCOPE,
    Effect,
    _AddFinalizer,
    _CloseScope,
    _MakeScope,
    _require_effect,
    _with_refs,
    _WithScope,
)
from .effect import _with_fiber as with_fiber
from .fiber import Fiber

if TYPE_CHECKING:
    from ._interpreter.loop import FiberRuntime

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


def _open_scopes_now(fibers: list[FiberRuntime]) -> list[Scope]:
    """Library-internal: the scopes that are still open (the `Effect.scoped` ones on
    the stacks of `fibers`, and every other one)."""
    return [scope for scope in core.open_scopes(fibers) if isinstance(scope, Scope)]


class Scope(core.ScopeState):
    """A place to register finalizers. `Scope` in an effect's `R` means the effect
    needs one (it acquired something that must be released); `Effect.scoped` or
    `scope.extend`/`scope.use` provides it.
    """

    __slots__ = ()

    strategy: ExecutionStrategy

    def __init__(self, strategy: ExecutionStrategy, name: str | None = None) -> None:
        _check_strategy(strategy)
        core.init_scope(self, strategy, name, strategy.kind == "sequential")

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
        return _MakeScope(CloseableScope, strategy, name, strategy.kind == "sequential")

    @staticmethod
    def get() -> Effect[Scope, Never, Scope]:
        """The current scope (an effect that needs `Scope` in its `R`).

        >>> from effectpy import Effect, Scope, run_sync
        >>> run_sync(Effect.scoped(Scope.get().map(lambda s: s.is_closed())))
        False
        """
        return _GET

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
        _require_effect(finalizer, "add_finalizer")
        return _AddFinalizer(self, None, finalizer)

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
        return _AddFinalizer(self, core.call_with_exit, finalizer)

    def run_in_parallel(
        self, finalizers: list[core.Finalizer], exit: Exit[Any, Any]
    ) -> Effect[None]:
        """Library-internal: the effect that runs a closing parallel scope's finalizers."""
        return _run_in_parallel(finalizers, exit, self.strategy.limit)

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
            if core.attach_child(self, child, child.close):
                return Effect.succeed(child)
            closed_with = self._exit
            assert closed_with is not None  # attach_child refuses only a closed parent
            return child.close(closed_with).as_(child)

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
        return _WithScope(self, effect)

    # -- fibers ----------------------------------------------------------------------

    def fork_fiber(self, effect: Effect[A, E, R]) -> Effect[Fiber[A, E], Never, R]:
        """Start `effect` in a fiber owned by this scope (not by the forking fiber):
        it is interrupted (reason `ScopeClosed`) and awaited when the scope closes."""
        name = self._name

        def attach(fiber: Fiber[A, E]) -> Effect[Fiber[A, E]]:
            def register() -> Effect[Fiber[A, E]]:
                stop = lambda _exit: _interrupt_for_scope(fiber, name)
                key = core.own_fiber(self, fiber.runtime, stop)
                if key is None:
                    return _interrupt_for_scope(fiber, name).as_(fiber)
                return Effect.succeed(fiber).tap(lambda f: _forget_when_done(self, key, f))

            return Effect.suspend(register)

        # Interruptible whatever the forking fiber's region: the scope must be able to
        # stop it when it closes (an acquire or a layer's constructor forks from an
        # uninterruptible region). Forked and attached in one uninterruptible step.
        return effect.interruptible().fork_daemon().flat_map(attach).uninterruptible()


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

        return _CloseScope(self, exit)

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


def _run_in_parallel(
    finalizers: list[core.Finalizer], exit: Exit[Any, Any], limit: int | None
) -> Effect[None]:
    """Run every finalizer at once (at most `limit` at a time); fail with their causes
    combined by `Cause.parallel` if any failed. Each gets the scope's exit."""
    runs = [
        _under_refs(f, Effect.suspend(functools.partial(core.finalize, f, exit))).exit()
        for f in finalizers
    ]
    concurrency: Any = "unbounded" if limit is None else limit

    def report(results: list[Exit[Any, Any]]) -> Effect[None]:
        cause: Cause[Any] = Cause.empty()
        for result in results:
            if isinstance(result, Failure):
                cause = Cause.parallel(cause, result.cause)
        return _UNIT if cause.is_empty() else Effect.fail_cause(cause)

    return Effect.for_each(runs, lambda run: run, concurrency=concurrency).flat_map(report)


def _under_refs(finalizer: core.Finalizer, effect: Effect[Any]) -> Effect[Any]:
    """`effect`, the finalizer's, run under the fiber refs it was registered with."""
    if type(finalizer) is tuple:  # a user's (see `Finalizer`), not the runtime's own
        return _with_refs(finalizer[2], effect)
    return effect


_UNIT: Effect[None] = Effect.unit()


def _current_scope(fiber: FiberRuntime) -> Scope:
    """Library-internal: the running fiber's scope (a defect if it has none)."""
    scope = fiber.scope
    if scope is None:
        raise LookupError(NO_SCOPE)
    assert isinstance(scope, Scope)
    return scope


_GET: Effect[Scope, Never, Scope] = _GET_SCOPE


def _interrupt_for_scope(fiber: Fiber[Any, Any], name: str | None) -> Effect[None]:
    runtime = fiber.runtime

    def interrupt(me: FiberRuntime) -> Effect[None]:
        if runtime.exit is None:
            runtime.interrupt_as(me.id, ScopeClosed(name))
        return fiber.await_().as_unit()

    return with_fiber(interrupt)


def _forget_when_done(scope: Scope, key: int, fiber: Fiber[Any, Any]) -> Effect[None]:
    """When a scope-owned fiber ends by itself, drop its finalizer (no pile-up)."""

    return Effect.sync(lambda: fiber.runtime.add_observer(lambda _exit: core.forget(scope, key)))
