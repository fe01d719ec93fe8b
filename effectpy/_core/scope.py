"""The state of a scope, and the bookkeeping of closing one.

A scope holds finalizers (functions from the closing `Exit` to the effect that cleans
up) under increasing keys, so that a child scope or a scope-owned fiber can take its own
finalizer off again. Closing takes them all at once, newest first; the fiber loop then
runs them (`_interpreter.finalizers.finalize_next` for the sequential strategy).

The public `Scope` and `CloseableScope` (`effectpy/scope.py`) are subclasses that add
the API. `Effect.scoped` scopes are made and closed by the loop itself, and sit on their
fiber's stack as the frame that closes them (`_op` is `SCOPE_EXIT`), which is also where
`debug_tree` finds them. Scopes that user code opens are tracked weakly, since user code
may drop one without closing it.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .exit import Exit
from .opcodes import SCOPE_EXIT

NO_SCOPE: Final = "no Scope: run this effect inside Effect.scoped(...) or scope.extend(...)"

if TYPE_CHECKING:
    from .._interpreter.loop import FiberRuntime

Release = Callable[[Any, Exit[Any, Any]], Any]
Finalizer = Callable[[Exit[Any, Any]], Any] | tuple[Any, ...]
"""Given how the scope ended, the effect that cleans up. A user's finalizer is a tuple
(it costs a quarter of a closure or a `functools.partial`): `(release, value, refs)`,
whose effect is `release(value, exit)` (`acquire_release`: the resource; and
`call_with_exit` for a function of the exit), or just `value` when `release` is None
(`add_finalizer` of an effect); `refs` are the fiber refs of the fiber that registered
it, which the finalizer runs under, wherever the scope is closed (as in Effect-TS: its
log annotations, spans and services are those of where the resource was acquired).
The runtime's own finalizers (a child scope's close, a scope-owned fiber's stop) are
plain functions of the exit."""


def call_with_exit(finalizer: Callable[[Exit[Any, Any]], Any], exit: Exit[Any, Any]) -> Any:
    """The `release` of a finalizer that is a function of the exit."""
    return finalizer(exit)


keys: Final = itertools.count()
"""Keys of finalizers, and the creation order of scopes (for a stable debug_tree)."""

_user_scopes: list[weakref.ref[ScopeState]] = []
"""Scopes user code made: weak references without callbacks (a `WeakSet` costs four
times as much per scope), pruned of dead and closed scopes as the list doubles."""
_prune_at = [64]
_prune_lock = threading.Lock()

_new = object.__new__


class ScopeState:
    """What every scope holds. `strategy` is an `ExecutionStrategy` (public); the loop
    only asks whether it is sequential."""

    __slots__ = (
        "__weakref__",
        "_created",
        "_exit",
        "_fibers",
        "_finalizers",
        "_name",
        "_outer",
        "_owner",
        "_parent_entry",
        "_sequential",
        "strategy",
    )

    _created: int
    _exit: Exit[Any, Any] | None
    _fibers: dict[int, FiberRuntime] | None
    """Fibers the scope owns (`fork_in`, `fork_scoped`), by the key of their finalizer
    (None until the first)."""
    _finalizers: dict[int, Finalizer]
    _name: str | None
    _outer: object
    """The scope that was current before (`Effect.scoped` scopes: restored at the end)."""
    _owner: FiberRuntime | None
    """The fiber that made it (for debug_tree)."""
    _parent_entry: tuple[ScopeState, int] | None
    """The parent scope and the key of this scope's finalizer there (`Scope.fork`)."""
    _sequential: bool
    strategy: Any

    _op: Final = SCOPE_EXIT

    def owned_fibers(self) -> list[FiberRuntime]:
        """The fibers the scope owns (for debug_tree)."""
        return [] if self._fibers is None else list(self._fibers.values())

    def run_in_parallel(self, finalizers: list[Finalizer], exit: Exit[Any, Any]) -> Any:
        """The effect that runs `finalizers` under a parallel strategy (see the public
        `Scope`); never called for a sequential scope."""
        raise NotImplementedError


def init_scope(scope: ScopeState, strategy: Any, name: str | None, sequential: bool) -> None:
    """Fill in a new scope's state (user-made: it is tracked weakly)."""
    init_state(scope, strategy, name, sequential)
    _user_scopes.append(weakref.ref(scope))
    if len(_user_scopes) >= _prune_at[0]:
        _prune()


def init_state(
    scope: ScopeState,
    strategy: Any,
    name: str | None,
    sequential: bool,
    owner: FiberRuntime | None = None,
    outer: object = None,
) -> ScopeState:
    """Fill in a new scope's state; the scope. (`Effect.scoped`'s scopes are made so
    by the loop, with their `owner` fiber and the `outer` scope they replace as its
    current one, and not tracked: the fiber's stack holds them.)"""
    scope.strategy = strategy
    scope._sequential = sequential
    scope._name = name
    scope._finalizers = {}
    scope._exit = None
    scope._parent_entry = None
    scope._owner = owner
    scope._fibers = None
    scope._outer = outer
    scope._created = next(keys)
    return scope


def attach_child(parent: ScopeState, child: ScopeState, close: Finalizer) -> bool:
    """Make `child` (a `Scope.fork`) a child of `parent`, closed by `close` when `parent`
    closes (and taken off again if it closes first); False if `parent` is closed."""
    child._owner = parent._owner
    if parent._exit is not None:
        return False
    key = next(keys)
    parent._finalizers[key] = close
    child._parent_entry = (parent, key)
    return True


def own_fiber(scope: ScopeState, fiber: FiberRuntime, stop: Finalizer) -> int | None:
    """Make `scope` own `fiber` (`fork_in`, `fork_scoped`), stopped by `stop` when it
    closes; the key to `forget` it by, or None if `scope` is closed."""
    if scope._exit is not None:
        return None
    key = next(keys)
    scope._finalizers[key] = stop
    if scope._fibers is None:
        scope._fibers = {}
    scope._fibers[key] = fiber
    return key


def forget(scope: ScopeState, key: int) -> None:
    """Take the finalizer (and the owned fiber) under `key` off `scope`: the fiber ended
    by itself, so closing the scope has nothing to stop."""
    scope._finalizers.pop(key, None)
    if scope._fibers is not None:
        scope._fibers.pop(key, None)


def lineage(scope: ScopeState) -> tuple[int, ScopeState | None, FiberRuntime | None]:
    """For debug_tree: when `scope` was made (an increasing number), its parent scope
    (`Scope.fork`) and the fiber that made it."""
    entry = scope._parent_entry
    return scope._created, None if entry is None else entry[0], scope._owner


def _prune() -> None:
    with _prune_lock:
        live = [r for r in list(_user_scopes) if (s := r()) is not None and s._exit is None]
        _user_scopes[:] = live
        _prune_at[0] = max(64, 2 * len(live))


def finalize(finalizer: Finalizer, exit: Exit[Any, Any]) -> Any:
    """The effect of `finalizer` for a scope that closed with `exit` (the decoder of
    the `Finalizer` forms; the two hot paths decode them inline, since the call costs
    3% there: `finalize_next` for a closing scope's finalizers, and the loop's scope
    with one finalizer)."""
    if type(finalizer) is tuple:
        release = finalizer[0]
        return finalizer[1] if release is None else release(finalizer[1], exit)
    return finalizer(exit)  # type: ignore[operator]  # not a tuple: the callable


def begin_close(scope: ScopeState, exit: Exit[Any, Any]) -> list[Finalizer] | None:
    """Mark `scope` closed with `exit` and take its finalizers, newest first; None if it
    was closed already (closing is idempotent)."""
    if scope._exit is not None:
        return None
    scope._exit = exit
    entry = scope._parent_entry
    if entry is not None:
        entry[0]._finalizers.pop(entry[1], None)
        scope._parent_entry = None
    registered = scope._finalizers
    if not registered:
        return []
    finalizers = list(registered.values())
    finalizers.reverse()
    registered.clear()
    scope._fibers = None
    return finalizers


def open_scopes(fibers: list[FiberRuntime]) -> list[ScopeState]:
    """Every scope that is still open (for debug_tree): those user code made, and the
    `Effect.scoped` ones on the stacks of `fibers`."""
    scopes = [s for r in list(_user_scopes) if (s := r()) is not None and s._exit is None]
    for fiber in fibers:
        for frame in fiber._stack:
            if isinstance(frame, ScopeState) and frame._exit is None:
                scopes.append(frame)
    return scopes
