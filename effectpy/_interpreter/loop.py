"""The fiber runtime: one interpreter loop for every effect.

How the loop works
==================

An `Effect` is a tree of small frozen nodes, each with an integer opcode (`opcodes.py`).
`FiberRuntime.run` evaluates the tree of one fiber with an explicit continuation stack
(a Python list) instead of Python recursion, so a million nested binds use no more
Python stack than one:

    cur = effect to evaluate           stack = [frame, frame, ...]   (top is last)

    evaluate cur:
      FLAT_MAP/MAP/FOLD   push the node as a frame, evaluate its `first`
      THEN                the same, for `a.and_then(b)`: the frame just says "now b"
      SUCCEED/SYNC        a value is ready: pop frames, feeding it forward
      FAIL                a cause is ready: unwind (below)
      SUSPEND/WITH_FIBER  call the function, evaluate the effect it returns
      ASYNC               register a callback, park the fiber (return to the scheduler)
      ON_EXIT             push the node as a frame, evaluate its `first`
      SET_INTERRUPTIBLE   push a revert frame, evaluate the inner effect
      LOCALLY             set a fiber ref, push a restore frame, evaluate the inner effect

    composite nodes (opcodes >= EXTENDED), run by the loop rather than built from the
    nodes above, since each would take 5 to 20 steps:
      FORK                start a child fiber; the value is its `Fiber`
      JOIN                a done fiber's value or cause; else park until it ends
      FOR_EACH            push a COLLECT frame, evaluate `f(first item)`
      SCOPED              open a scope, make it current, push it (a scope is its own
                          SCOPE_EXIT frame), evaluate the body
      ACQUIRE_RELEASE     a sync acquire runs at once (one atomic step) and registers
                          `(release, resource)` in the current scope; any other pushes
                          the node as a frame and evaluates the acquire uninterruptibly
      BRACKET             the same for `acquire_use_release`, then `use` guarded by a
                          release frame (an ON_EXIT)
      ADD_FINALIZER       register in the scope (or, closed, run it at once)
      CLOSE_SCOPE         run the scope's finalizers (see FINALIZING)
      MAKE_SCOPE          a new open scope (`Scope.make`)
      WITH_SCOPE          make a scope current, push a restore frame (`scope.extend`)

    feed a value to the top frame:          unwind a cause through the frames:
      FLAT_MAP  cur = k(value)                FLAT_MAP, MAP, THEN, COLLECT  skipped
      MAP       value = f(value)              RESULT         skipped
      THEN      cur = the next effect         FOLD     cur = on_failure(cause), unless
      COLLECT   keep value; f(next item),              the fiber is interrupted and
                or the list of values                  interruptible (then skipped)
      FOLD      cur = on_success(value)       ON_EXIT  cur = f(Failure(cause)),
      ON_EXIT   cur = f(Success(value)),               uninterruptibly; then RETHROW
                uninterruptibly; then RESULT           (a SYNC one: its thunk, then
                (a SYNC one: its thunk)                go on unwinding)
                                              RETHROW  the finalizer failed too: keep
      RESULT    go on with the kept value              both causes (Sequential)
      RETHROW   fail with the kept cause      SCOPE_EXIT  close the scope with
      REVERT    restore interruptibility               Failure(cause): FINALIZING
      RESTORE   restore a fiber ref or the    FINALIZING  keep the finalizer's cause,
                current scope                          run the next one
      SCOPE_EXIT  close the scope with        REVERT, RESTORE  as on success
                Success(value), run its       (empty)  the fiber's effect failed
                finalizers
      FINALIZING  run the next finalizers;
                then go on as the scope's
                body ended (or fail with the
                finalizers' causes)
      (empty)   the fiber's effect succeeded

A closing scope runs its finalizers newest first (`_finalize_next`): one whose effect
is a `SYNC` node is called at once; at the first other one, the fiber becomes
uninterruptible and a FINALIZING frame waits for it, then runs the rest.

So handlers (FOLD) never run for an interrupted fiber, and finalizers (ON_EXIT, scopes)
always do.

Dispatch. `run` tests the opcode of the node (or frame) against each case in turn,
commonest first, so a step's cost is mostly how many tests it passes over. The tests
are written for CPython 3.11's specializing interpreter (measured in
docs/benchmarks.md): opcodes are compared with `is` (they are small cached ints, and
`is` needs no specialization), as locals of `run` (bound by its parameter defaults: a
local is a quarter cheaper than a global), and the composite nodes are chosen with one
lookup in `IS_COMPOSITE`. A comparison such as `code >= EXTENDED` before a long jump
would never be specialized, at three times the cost (tests/test_loop_dispatch.py checks
no comparison of the loop is left so). The op budget is counted as rounds of 256 and a
tick: a counter above 256 would allocate an int on every step.

Fast paths that earn their place (see docs/benchmarks.md): a `FLAT_MAP` or `THEN` whose
`first` is already a `SUCCEED` goes on at once, without a push and a pop; a finalizer
whose effect is a `SYNC` node runs its thunk at once (a thunk is atomic, so there is no
region to shield it in), on a success where the value is fed to the frames and on a
failure where `_unwind` pops them (a failing thunk's defect joins the cause, as it
would have after a RETHROW). (A `MAP` fast path did not pay: in a chain of maps it never
fires, and its check cost 14%.)

Scheduling. A fiber runs on its scheduler's thread until it parks on an `ASYNC` node,
yields (`YIELD`, or after `budget` ops so one busy fiber cannot starve the others), or
ends. Only one fiber runs at a time, so messages to a fiber (interruption, resumption)
always find it parked or queued, never mid-op: they are handled when it next runs.

Interruption. `interrupt_as` records the interruption. A parked, interruptible fiber is
woken at once (its async canceller runs first); a queued one sees it when it next runs;
an uninterruptible one when its region ends. The interruption is sticky: an interrupted
fiber never again parks or continues in an interruptible region.

Errors. An exception from user code (a thunk, a continuation) becomes `Die(exc)` with
its traceback, and unwinds like any failure. `KeyboardInterrupt` and `SystemExit` are
never made into causes: the fiber is interrupted (reason `Shutdown`) so finalizers run,
and the runner re-raises the original exception once everything is torn down.

Supervision. When a fiber's effect ends, its still-running children are interrupted
(reason `ParentDone`) and awaited before its `Exit` is published.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final

from .._core import opcodes as op
from .._core.cause import Cause, Die, Interrupt
from .._core.exit import Exit, Failure, Success
from .._core.ids import FiberId, InterruptReason, ParentDone, Shutdown, next_fiber_number
from .._core.opcodes import (  # bare names: one cached global load each in the loop
    ACQUIRE_RELEASE,
    ADD_FINALIZER,
    ASYNC,
    BRACKET,
    CLOSE_SCOPE,
    COLLECT,
    FAIL,
    FINALIZING,
    FLAT_MAP,
    FOLD,
    FOR_EACH,
    FORK,
    IS_COMPOSITE,
    JOIN,
    LOCALLY,
    MAKE_SCOPE,
    MAP,
    ON_EXIT,
    RESTORE_REF,
    RESTORE_SCOPE,
    RESULT,
    RETHROW,
    REVERT_INTERRUPTIBLE,
    SCOPE_EXIT,
    SCOPED,
    SET_INTERRUPTIBLE,
    SUCCEED,
    SUSPEND,
    SYNC,
    THEN,
    WITH_FIBER,
    YIELD,
)
from .._core.refs import DONE, FINISHING, NEW, RUNNING, SUSPENDED, FiberRef
from .._core.scheduler import Scheduler
from .._core.scope import NO_SCOPE, Finalizer, begin_close, finalize, init_scope, keys
from ..effect import Effect
from ..fiber import Fiber
from ..scope import CloseableScope, ExecutionStrategy

Observer = Callable[[Exit[Any, Any]], None]


_MISSING: Final = object()
_SUCCEEDED: Final[Any] = object()
"""`_exit` of a fiber that succeeded while nobody waited: its value is in `_cur`, its
`Success` is made by `exit` when first asked for (most joins never need it)."""
_new = object.__new__
_set_success_value: Final[Callable[[Any, Any], None]] = vars(Success)["value"].__set__
_set_failure_cause: Final[Callable[[Any, Any], None]] = vars(Failure)["cause"].__set__


Handler = Callable[["FiberRuntime", Any], Any]
HANDLERS: Final[list[Handler | None]] = [None] * len(op.IS_COMPOSITE)
"""Indexed by opcode: the function that runs a composite node the loop does not run
inline (`handles`). It is given the fiber and the node, and returns the effect to
evaluate next (it may push frames first)."""


def handles(code: int) -> Callable[[Handler], Handler]:
    """Register the decorated function as the one handler of opcode `code`."""

    def register(handler: Handler) -> Handler:
        if HANDLERS[code] is not None:
            raise RuntimeError(f"opcode {code} already has a handler: {HANDLERS[code]}")
        HANDLERS[code] = handler
        return handler

    return register


def _already_made(maker: object, effect: object, _: object) -> object:
    """`effect`, which `maker` made: the function `_unwind` hands the loop when it has
    called a finalizer's function itself (`partial`ed; `_describe_function` names
    `maker`)."""
    return effect


# -- nodes the loop makes for itself (never seen by user code) ------------------------


class _FailNode:
    __slots__ = ("cause",)
    _op: Final = op.FAIL

    def __init__(self, cause: Cause[Any]) -> None:
        self.cause = cause


class _SucceedNode:
    __slots__ = ("value",)
    _op: Final = op.SUCCEED

    def __init__(self, value: object) -> None:
        self.value = value


class _FoldNode:
    __slots__ = ("first", "on_failure", "on_success")
    _op: Final = op.FOLD

    def __init__(
        self,
        first: object,
        on_failure: Callable[[Cause[Any]], object],
        on_success: Callable[[Any], object] | None,
    ) -> None:
        self.first = first
        self.on_failure = on_failure
        self.on_success = on_success


class _AsyncNode:
    __slots__ = ("register",)
    _op: Final = op.ASYNC

    def __init__(self, register: Callable[[Resume], object]) -> None:
        self.register = register


class _UninterruptibleNode:
    __slots__ = ("effect",)
    _op: Final = op.SET_INTERRUPTIBLE
    flag: Final = False

    def __init__(self, effect: object) -> None:
        self.effect = effect


def succeed_node(value: object) -> Any:
    """An effect node that succeeds with `value` (for the runtime's own use)."""
    return _SucceedNode(value)


def fail_node(cause: Cause[Any]) -> Any:
    """An effect node that fails with `cause` (for the runtime's own use)."""
    return _FailNode(cause)


def async_node(register: Callable[[Resume], object]) -> Any:
    """An effect node completed by a callback (for the runtime's own use)."""
    return _AsyncNode(register)


class _RevertInterruptible:
    __slots__ = ("flag",)
    _op: Final = op.REVERT_INTERRUPTIBLE

    def __init__(self, flag: bool) -> None:
        self.flag = flag


class _ResultFrame:
    """After a finalizer on the success path: go on with the body's value."""

    __slots__ = ("value",)
    _op: Final = op.RESULT

    def __init__(self, value: object) -> None:
        self.value = value


class _RethrowFrame:
    """After a finalizer on the failure path: fail again with the body's cause."""

    __slots__ = ("cause",)
    _op: Final = op.RETHROW

    def __init__(self, cause: Cause[Any]) -> None:
        self.cause = cause


class _RestoreRef:
    __slots__ = ("old", "ref")
    _op: Final = op.RESTORE_REF

    def __init__(self, ref: FiberRef, old: object) -> None:
        self.ref = ref
        self.old = old


class _Finalizing:
    """Runs a closing scope's finalizers one by one (sequential strategy), each given
    `exit`; failures are collected in `cause`. Then the fiber goes on as `then` says:
    with its value, or failing with its cause followed by the finalizers' ones."""

    __slots__ = ("cause", "exit", "finalizers", "index", "then")
    _op: Final = op.FINALIZING

    def __init__(
        self, finalizers: list[Finalizer], exit: Exit[Any, Any], then: Exit[Any, Any]
    ) -> None:
        self.finalizers = finalizers
        self.index = 0
        self.exit = exit
        self.then = then
        self.cause: Cause[Any] | None = None


class _RestoreScope:
    __slots__ = ("old",)
    _op: Final = op.RESTORE_SCOPE

    def __init__(self, old: object) -> None:
        self.old = old


class _Collect:
    """A sequential `for_each` in progress: `f(items[index])` is next, the values so
    far are in `results`."""

    __slots__ = ("f", "index", "items", "results")
    _op: Final = op.COLLECT

    def __init__(self, items: tuple[Any, ...], f: Callable[[Any], Any]) -> None:
        self.items = items
        self.f = f
        self.index = 1
        self.results: list[Any] = []


class _Release:
    """An `ON_EXIT` frame for `acquire_use_release`: `f(exit)` is `release(resource,
    exit)`, a `partial` (no Python frame of its own). Made by `_release_frame`."""

    __slots__ = ("f",)
    _op: Final = op.ON_EXIT
    f: Callable[[Exit[Any, Any]], Any]


def _release_frame(release: Callable[[Any, Exit[Any, Any]], Any], resource: object) -> _Release:
    frame = _Release()
    frame.f = partial(release, resource)
    return frame


_REVERT_TO_INTERRUPTIBLE: Final = _RevertInterruptible(True)
_REVERT_TO_UNINTERRUPTIBLE: Final = _RevertInterruptible(False)
_UNIT_NODE: Final = _SucceedNode(None)
_UNIT_EXIT: Final = Success(None)
_SEQUENTIAL: Final = ExecutionStrategy.sequential


class Resume:
    """The callback an ASYNC node's `register` receives: call it once with an effect.

    Later calls, and calls after the fiber was interrupted, are ignored. It may be
    called from any thread. It also holds the state of the park it belongs to: while
    the fiber is parked, it is the fiber's `_parked`.
    """

    # No `__init__` (a bare class call is the cheapest way to make an object): the
    # fields are set by `FiberRuntime._park`, the one place that makes a `Resume`.
    __slots__ = ("_fiber", "canceller", "registering", "resumed_with")

    _fiber: FiberRuntime
    canceller: Any
    """The effect `register` returned, run if the fiber is interrupted."""
    registering: bool
    """Inside `register`: a resumption is handed back to `_park`, not scheduled."""
    resumed_with: Any

    def __call__(self, effect: object) -> None:
        fiber = self._fiber
        if fiber.scheduler.on_scheduler_thread():
            fiber._resume(self, effect)
        else:
            fiber.scheduler.call_threadsafe(lambda: fiber._resume(self, effect))


class FiberRuntime:
    """The state of one fiber and the loop that runs it."""

    # Every fiber sets each of these once, so fewer is faster. There is no `__init__`:
    # a class call without one is the cheapest way to make an object (a third of the
    # cost of `object.__new__`). `new_fiber` fills the slots, and so does the loop's
    # FORK node itself, the hottest constructor (keep the two in step).
    __slots__ = (
        "_cur",
        "_exit",
        "_id",
        "_interrupt_cause",
        "_interrupt_pending",
        "_interruptible",
        "_observers",
        "_parked",
        "_pending_exit",
        "_stack",
        "_state",
        "children",
        "number",
        "parent",
        "refs",
        "scheduler",
        "scope",
    )

    number: int
    _id: FiberId | None
    """Made on first use (most fibers never need one), unless the fiber is named."""
    scheduler: Scheduler
    parent: FiberRuntime | None
    refs: dict[FiberRef, object]
    """The fiber refs set in this fiber. The dict is never changed in place: a write
    makes a new one (`set_ref`), so a fiber shares its dict with the children it forks
    (a fork copies nothing) and later writes on either side stay their own."""
    children: dict[FiberRuntime, None] | None
    """The running children (made on the first fork: most fibers fork none)."""
    _stack: list[Any]
    _cur: Any
    _state: int
    _interruptible: bool
    _interrupt_cause: Cause[Any] | None
    _interrupt_pending: bool
    _exit: Any
    """The published `Exit` (or `_SUCCEEDED`); None until then."""
    _pending_exit: Exit[Any, Any] | None
    """While FINISHING: the exit to publish once the children are done (unset before:
    like `_parked`, a slot set only when it is first needed, so that making a fiber
    costs one store less)."""
    _observers: list[Observer] | None
    _parked: Resume | None
    """While SUSPENDED: the callback of the park (unset until the first park)."""
    scope: Any
    """The current scope (`Effect.scoped`, `scope.extend`): where `acquire_release`
    registers; a forked fiber starts in its parent's."""

    def __repr__(self) -> str:
        return f"<FiberRuntime {self.id} state={self._state}>"

    # -- public to the rest of the library -----------------------------------------

    @property
    def id(self) -> FiberId:
        """The fiber's id: its number and, if it was named, its name."""
        fiber_id = self._id
        if fiber_id is None:
            fiber_id = self._id = FiberId(self.number, None)
        return fiber_id

    @property
    def exit(self) -> Exit[Any, Any] | None:
        """The published exit, or None while the fiber (or one of its children) runs."""
        exit = self._exit
        if exit is _SUCCEEDED:  # made on first use (see `run`)
            exit = self._exit = Success(self._cur)
        return exit  # type: ignore[no-any-return]

    @property
    def interruptible(self) -> bool:
        return self._interruptible

    @property
    def is_interrupted(self) -> bool:
        return self._interrupt_cause is not None

    def start(self, effect: object) -> None:
        """Queue the fiber to evaluate `effect` (scheduler thread only)."""
        self._cur = effect
        self._state = RUNNING
        scheduler = self.scheduler
        if self.parent is None:
            scheduler.daemons[self] = None
        scheduler.schedule(self)

    def get_ref(self, ref: FiberRef) -> object:
        return self.refs.get(ref, ref.initial)

    def set_ref(self, ref: FiberRef, value: object) -> None:
        """Set `ref` in this fiber: a new dict (see `refs`)."""
        refs = self.refs.copy()
        refs[ref] = value
        self.refs = refs

    def add_observer(self, observer: Observer) -> None:
        """Call `observer(exit)` when the fiber is done (at once if it already is)."""
        if self._exit is not None:
            observer(self.exit)  # type: ignore[arg-type]  # not None: done
        elif self._observers is None:
            self._observers = [observer]
        else:
            self._observers.append(observer)

    def add_observer_from_any_thread(self, observer: Observer) -> None:
        """`add_observer` that may be called from another thread than the fiber's.

        It relies on `_publish` setting `_exit` before it takes the observer list; in
        a race the observer may be called twice, so it must tolerate that (a `Resume`
        does: it ignores all calls after the first).
        """
        if self._exit is None:
            observers = self._observers
            if observers is None:
                observers = self._observers = []  # a race may lose one: see `_publish`
            observers.append(observer)
            if self._exit is None:
                return
        observer(self.exit)  # type: ignore[arg-type]  # not None: done

    def remove_observer(self, observer: Observer) -> None:
        observers = self._observers
        if observers is not None and observer in observers:
            observers.remove(observer)

    def interrupt_as(self, interruptor: FiberId, reason: InterruptReason) -> None:
        """Ask the fiber to stop (scheduler thread only). Returns at once.

        Only the first interruption's cause is kept: it is the one that stopped it.
        """
        if self._state < FINISHING and self._interrupt_cause is None:
            self.interrupt_with(Interrupt(interruptor, reason))

    def interrupt_with(self, cause: Interrupt) -> None:
        """`interrupt_as` with a ready-made cause: a group stopping many fibers for
        the same reason shares one."""
        if self._state >= FINISHING or self._interrupt_cause is not None:
            return
        self._interrupt_cause = cause
        if self._state == SUSPENDED and self._interruptible:
            self._wake_interrupted()
        else:
            self._interrupt_pending = True

    # -- the loop -----------------------------------------------------------------

    def run(
        self,
        FLAT_MAP: Any = FLAT_MAP,
        THEN: Any = THEN,
        SUCCEED: Any = SUCCEED,
        MAP: Any = MAP,
        SYNC: Any = SYNC,
        IS_COMPOSITE: Any = IS_COMPOSITE,
        SCOPED: Any = SCOPED,
        ACQUIRE_RELEASE: Any = ACQUIRE_RELEASE,
        FORK: Any = FORK,
        BRACKET: Any = BRACKET,
        JOIN: Any = JOIN,
        ADD_FINALIZER: Any = ADD_FINALIZER,
        FAIL: Any = FAIL,
        SUSPEND: Any = SUSPEND,
        FOLD: Any = FOLD,
        ON_EXIT: Any = ON_EXIT,
        WITH_FIBER: Any = WITH_FIBER,
        ASYNC: Any = ASYNC,
        COLLECT: Any = COLLECT,
        SCOPE_EXIT: Any = SCOPE_EXIT,
        REVERT_INTERRUPTIBLE: Any = REVERT_INTERRUPTIBLE,
        _SUCCEEDED: Any = _SUCCEEDED,
        _new: Any = _new,
        keys: Any = keys,
    ) -> None:
        """Evaluate until the fiber parks, yields or ends (called by the scheduler,
        with no arguments).

        The parameters after `self` are not parameters: their defaults bind the
        opcodes and a few other module names the loop reads on every step as locals.
        A local is about a quarter cheaper to test than a global, and the dispatch
        chain tests several per step; the defaults cost a few instructions per call.
        """
        cur: Any = self._cur
        self._cur = None
        if self._interrupt_pending and self._interruptible:
            interrupted = self._interrupt_cause
            if interrupted is not None:
                self._interrupt_pending = False
                cur = _FailNode(interrupted)
        stack = self._stack
        # The budget of ops, counted as `tick` (1 to 256) and `rounds` more of 256:
        # counting down a number above 256 would allocate an int on every op (only
        # -5..256 are cached), which costs more than the op's dispatch.
        rounds, tick = self.scheduler.rounds_and_ticks
        fn: Any = None  # names the function that made `cur`, for `_defect`
        value: Any = None
        while True:
            try:
                while True:
                    tick -= 1
                    if tick < 0:
                        if not rounds:  # the budget is spent: let the others run
                            if not hasattr(type(cur), "_op"):  # `_defect` says `fn` made it
                                raise AttributeError("_op")
                            self._cur = cur
                            self.scheduler.schedule(self)
                            return
                        rounds -= 1
                        tick = 255
                    code = cur._op
                    if code is FLAT_MAP:
                        first = cur.first
                        if first._op is SUCCEED:
                            fn = cur.k
                            cur = fn(first.value)
                            continue
                        stack.append(cur)
                        cur = first
                        continue
                    if code is THEN:
                        first = cur.first
                        if first._op is SUCCEED:
                            cur = cur.second
                            continue
                        stack.append(cur)
                        cur = first
                        continue
                    if code is SUCCEED:
                        value = cur.value
                    elif code is MAP:
                        stack.append(cur)
                        cur = cur.first
                        continue
                    elif code is SYNC:
                        fn = cur.thunk
                        value = fn()
                    elif IS_COMPOSITE[code]:  # a node the loop runs itself (>= EXTENDED)
                        if code is SCOPED:  # a new scope: `init_scope`'s state, inlined
                            scope: Any = _new(CloseableScope)
                            scope.strategy = _SEQUENTIAL
                            scope._sequential = True
                            scope._name = None
                            scope._finalizers = {}
                            scope._exit = None
                            scope._parent_entry = None
                            scope._owner = self
                            scope._fibers = None
                            scope._created = next(keys)
                            scope._outer = self.scope
                            self.scope = scope
                            stack.append(scope)  # a scope is its own SCOPE_EXIT frame
                            cur = cur.effect
                            continue
                        elif code is ACQUIRE_RELEASE:
                            scope = self.scope
                            if scope is None:
                                raise LookupError(NO_SCOPE)
                            first = cur.acquire
                            if first._op is not SYNC or scope._exit is not None:
                                # the node is its own frame, above the way back
                                if self._interruptible:
                                    stack.append(_REVERT_TO_INTERRUPTIBLE)
                                    self._interruptible = False
                                stack.append(cur)
                                cur = first
                                continue
                            # A sync acquire is one atomic step: no region to enter.
                            fn = first.thunk
                            value = fn()
                            scope._finalizers[next(keys)] = (cur.release, value)
                        elif code is FORK:  # the value is the child's `Fiber` handle
                            if cur.daemon:
                                child = self.fork_child(cur.effect, True)
                            else:
                                # `new_fiber` and `fork_child`, inlined: the hottest
                                # constructor of the runtime (keep them in step)
                                scheduler = self.scheduler
                                child = FiberRuntime()
                                child.number = next_fiber_number()
                                child._id = None
                                child.scheduler = scheduler
                                child.parent = self
                                child.refs = self.refs  # shared: see `refs`
                                child.children = None
                                child._stack = []
                                child._cur = cur.effect
                                child._state = RUNNING
                                child._interruptible = self._interruptible  # inherited
                                child._interrupt_cause = None
                                child._interrupt_pending = False
                                child._exit = None
                                child._observers = None
                                child.scope = self.scope
                                children = self.children
                                if children is None:
                                    self.children = {child: None}
                                else:
                                    children[child] = None
                                scheduler.ready.append(child)  # `schedule`, inlined
                                if not scheduler.drain_pending:
                                    scheduler.arrange_drain()
                            value = Fiber()
                            value._runtime = child
                        elif code is JOIN:
                            exit = cur.runtime._exit
                            if exit is _SUCCEEDED:
                                value = cur.runtime._cur
                            elif exit is None:  # still running: wait for it
                                cur = cur.fiber._join_now()
                                continue
                            elif type(exit) is not Success:
                                cur = _FailNode(exit.cause)
                                continue
                            else:
                                value = exit.value
                        elif code is BRACKET and cur.acquire._op is SYNC:
                            # A sync acquire is one atomic step: no region to enter.
                            fn = cur.acquire.thunk
                            value = fn()
                            guard = _Release()  # `_release_frame`, inlined
                            guard.f = partial(cur.release, value)
                            stack.append(guard)
                            fn = cur.use
                            cur = fn(value)
                            continue
                        elif code is ADD_FINALIZER and cur.scope._exit is None:
                            cur.scope._finalizers[next(keys)] = cur.entry
                            value = None
                        elif code is FOR_EACH:
                            items = cur.items
                            if not items:
                                value = []
                            else:
                                frame = _Collect(items, cur.f)
                                stack.append(frame)
                                fn = cur.f
                                cur = fn(items[0])
                                continue
                        elif code is MAKE_SCOPE:
                            value = _new(cur.scope_class)
                            init_scope(value, cur.strategy, cur.name, cur.sequential)
                            value._owner = self
                        elif code is CLOSE_SCOPE and cur.scope._sequential:
                            exit = cur.scope_exit
                            finalizers = begin_close(cur.scope, exit)
                            value = None
                            if finalizers:
                                closing = _Finalizing(finalizers, exit, _UNIT_EXIT)
                                cur = self._finalize_next(closing)
                                if cur is not None:
                                    continue
                        else:  # the rarer composite nodes, and the cases of those above
                            cur = self._special(cur, code)  # that they leave to it
                            continue
                    elif code is FAIL:
                        handler = self._unwind(cur.cause)
                        if handler is None:
                            return
                        fn, cause = handler
                        cur = fn(cause)
                        continue
                    elif code is SUSPEND:
                        fn = cur.thunk
                        cur = fn()
                        continue
                    elif code is FOLD or code is ON_EXIT:
                        stack.append(cur)
                        cur = cur.first
                        continue
                    elif code is WITH_FIBER:
                        fn = cur.f
                        cur = fn(self)
                        continue
                    elif code is ASYNC:
                        fn = cur.register
                        cur = self._park(fn)
                        if cur is None:
                            return
                        continue
                    elif code is SET_INTERRUPTIBLE:
                        flag = cur.flag
                        if flag != self._interruptible:
                            stack.append(
                                _REVERT_TO_INTERRUPTIBLE
                                if self._interruptible
                                else _REVERT_TO_UNINTERRUPTIBLE
                            )
                            self._interruptible = flag
                            if flag and self._interrupt_cause is not None:
                                self._interrupt_pending = False
                                cur = _FailNode(self._interrupt_cause)
                                continue
                        cur = cur.effect
                        continue
                    elif code is LOCALLY:
                        ref = cur.ref
                        stack.append(_RestoreRef(ref, self.refs.get(ref, _MISSING)))
                        self.set_ref(ref, cur.value)
                        cur = cur.effect
                        continue
                    elif code is YIELD:
                        self._cur = _UNIT_NODE
                        self.scheduler.schedule(self)
                        return
                    else:
                        raise TypeError(f"unknown effect opcode {code!r}")

                    # A value is ready: feed it to the frames on the stack.
                    while True:
                        if not stack:
                            if self.children is None and self._observers is None:
                                # Nobody waits: keep the value, make the Success only
                                # if someone asks (`exit`); `_cur` is free from now on.
                                # (`_publish`, inlined for this case.)
                                self._cur = value
                                self._state = DONE
                                self._exit = _SUCCEEDED
                                parent = self.parent
                                if parent is not None:
                                    parent.children.pop(self, None)  # type: ignore[union-attr]
                                    self.parent = None
                                else:
                                    self.scheduler.daemons.pop(self, None)
                                if self._observers is not None:  # added by another thread
                                    self._notify(_SUCCEEDED)  # type: ignore[unreachable]
                                return
                            exit = _new(Success)
                            _set_success_value(exit, value)
                            self._effect_done(exit)
                            return
                        frame = stack.pop()
                        code = frame._op
                        if code is FLAT_MAP:
                            fn = frame.k
                            cur = fn(value)
                            break
                        if code is MAP:
                            fn = frame.f
                            value = fn(value)
                        elif code is THEN:
                            cur = frame.second
                            break
                        elif code is COLLECT:  # the next item of a sequential for_each
                            frame.results.append(value)
                            index = frame.index
                            items = frame.items
                            if index < len(items):
                                frame.index = index + 1
                                stack.append(frame)
                                fn = frame.f
                                cur = fn(items[index])
                                break
                            value = frame.results
                        elif code is SCOPE_EXIT:  # an `Effect.scoped` body succeeded
                            self.scope = frame._outer
                            exit = _new(Success)
                            _set_success_value(exit, value)
                            registered = frame._finalizers
                            if len(registered) != 1 or frame._exit is not None:
                                cur = self._close_scoped(frame, exit)
                                if cur is None:  # all ran: go on with `value`
                                    continue
                                break
                            frame._exit = exit  # closed: run its one finalizer
                            entry = registered.popitem()[1]
                            if type(entry) is tuple:  # `scope.finalize`, inlined
                                fn = entry[0]
                                cur = entry[1] if fn is None else fn(entry[1], exit)
                            else:
                                fn = entry
                                cur = fn(exit)
                            if cur._op is SYNC:  # atomic: no region to enter
                                cur.thunk()
                                continue
                            self._enter_finalizer(_ResultFrame(value))  # as `on_exit` does
                            break
                        elif code is FOLD:
                            fn = frame.on_success
                            if fn is not None:
                                cur = fn(value)
                                break
                        elif code is ON_EXIT:
                            exit = _new(Success)
                            _set_success_value(exit, value)
                            fn = frame.f
                            cur = fn(exit)
                            if cur._op is SYNC:  # atomic: no region to enter
                                fn = cur.thunk
                                fn()
                                continue
                            self._enter_finalizer(_ResultFrame(value))
                            break
                        elif code is ACQUIRE_RELEASE:  # acquired: register the release
                            scope = self.scope
                            if scope._exit is None:
                                scope._finalizers[next(keys)] = (frame.release, value)
                            else:  # closed meanwhile (by another fiber): release now
                                stack.append(_ResultFrame(value))
                                fn = frame.release
                                cur = fn(value, scope._exit)
                                break
                        elif code is REVERT_INTERRUPTIBLE:
                            self._interruptible = frame.flag
                            if frame.flag and self._interrupt_cause is not None:
                                self._interrupt_pending = False
                                cur = _FailNode(self._interrupt_cause)
                                break
                        elif code is RESULT:
                            value = frame.value
                        elif code is FINALIZING:  # the next finalizers of a closing scope
                            cur = self._finalize_next(frame)
                            if cur is None:  # all ran: go on as the scope's body did
                                value = frame.then.value
                                continue
                            break
                        elif code is RETHROW:
                            cur = _FailNode(frame.cause)
                            break
                        elif code is RESTORE_REF:
                            self._restore_ref(frame)
                        elif code is RESTORE_SCOPE:
                            self.scope = frame.old
                        else:  # BRACKET: acquired; use, then release
                            fn = frame.use
                            cur = self._bracket_acquired(frame, value)
                            break
            except (KeyboardInterrupt, SystemExit) as exc:
                cur = self._shutdown(exc)
            except BaseException as exc:
                cur = _FailNode(Die(_defect(exc, cur, fn)))

    # -- helpers of the loop (off the hot path) -------------------------------------

    def _unwind(self, cause: Cause[Any]) -> tuple[Callable[[Any], Any], Any] | None:
        """Pop frames up to a failure handler or a finalizer: the function to call and
        its argument (the cause, or the exit); None when the fiber's effect has failed."""
        stack = self._stack
        while stack:
            frame = stack.pop()
            code = frame._op
            if code is op.FOLD:
                if not (self._interruptible and self._interrupt_cause is not None):
                    return frame.on_failure, cause
            elif code is op.ON_EXIT:  # a finalizer: runs even for an interrupted fiber
                exit = _new(Failure)
                _set_failure_cause(exit, cause)
                fn = frame.f
                effect: Any = _MISSING
                try:
                    effect = fn(exit)
                    if effect._op is SYNC:  # atomic: run it here, go on unwinding
                        effect.thunk()
                        if self._interrupt_pending and self._interruptible:
                            # it interrupted its own fiber: deliver it now, as the
                            # revert frame of a finalizer run as an effect would
                            cause = self._join_held_interruption(cause)
                        continue
                except (KeyboardInterrupt, SystemExit) as exc:
                    cause = Cause.sequential(cause, self._shutdown(exc).cause)
                    continue
                except BaseException as exc:
                    failed = exc if effect is _MISSING else _defect(exc, effect, fn)
                    cause = Cause.sequential(cause, Die(failed))
                    continue
                self._enter_finalizer(_RethrowFrame(cause))
                return partial(_already_made, fn, effect), None
            elif code is op.RETHROW:  # the finalizer itself failed: both causes stay
                cause = Cause.sequential(frame.cause, cause)
            elif code is op.REVERT_INTERRUPTIBLE:  # an interruption held back joins
                self._interruptible = frame.flag
                if frame.flag and self._interrupt_cause is not None:
                    cause = self._join_held_interruption(cause)
            elif code is op.RESTORE_REF:
                self._restore_ref(frame)
            elif code is op.RESTORE_SCOPE:
                self.scope = frame.old
            elif code is op.SCOPE_EXIT:
                self.scope = frame._outer
                exit = Failure(cause)
                finalizers = begin_close(frame, exit)
                if finalizers:
                    return self._finalize_resume, _Finalizing(finalizers, exit, exit)
            elif code is op.FINALIZING:  # a finalizer failed: keep its cause, go on
                before = frame.cause
                frame.cause = cause if before is None else Cause.sequential(before, cause)
                return self._finalize_resume, frame
        exit = _new(Failure)
        _set_failure_cause(exit, cause)
        self._effect_done(exit)
        return None

    def _join_held_interruption(self, cause: Cause[Any]) -> Cause[Any]:
        """Unwinding `cause`: the fiber's interruption, held back until now (by an
        uninterruptible region, or raised in a finalizer's thunk), is delivered and
        joins the cause, unless the cause holds an interruption already."""
        interrupted = self._interrupt_cause
        assert interrupted is not None
        self._interrupt_pending = False
        return cause if cause.is_interrupted() else Cause.sequential(cause, interrupted)

    def _revert_succeeding(self, flag: bool) -> Any:
        """Leaving an (un)interruptible region with a value: restore `flag`; the
        effect to go on with if an interruption waited for the region's end."""
        self._interruptible = flag
        if flag and self._interrupt_cause is not None:
            self._interrupt_pending = False
            return _FailNode(self._interrupt_cause)
        return None

    # -- scopes and resources ----------------------------------------------------------

    def _special(self, cur: Any, code: int) -> Any:
        """Evaluate a resource node the loop does not inline: push its frame, return
        the effect to evaluate next."""
        stack = self._stack
        if code is op.BRACKET:  # an acquire that is not sync (the loop runs the others)
            # the node is its own frame, above the way back
            if self._interruptible:
                stack.append(_REVERT_TO_INTERRUPTIBLE)
                self._interruptible = False
            else:
                stack.append(_REVERT_TO_UNINTERRUPTIBLE)
            stack.append(cur)
            return cur.acquire
        if code is op.WITH_SCOPE:
            stack.append(_RestoreScope(self.scope))
            self.scope = cur.scope
            return cur.effect
        if code is op.ADD_FINALIZER:  # to a closed scope: run it now
            entry = cur.entry
            named = entry[0] if type(entry) is tuple else entry
            effect = _expect_effect(finalize(entry, cur.scope._exit), named)
            self._enter_finalizer(_ResultFrame(None))
            return effect
        if code is op.CLOSE_SCOPE:  # a parallel scope (the loop closes the others)
            scope = cur.scope
            exit = cur.scope_exit
            finalizers = begin_close(scope, exit)
            if not finalizers:
                return _UNIT_NODE
            return _UninterruptibleNode(scope.run_in_parallel(finalizers, exit))
        handler = HANDLERS[code] if type(code) is int and 0 <= code < len(HANDLERS) else None
        if handler is None or not isinstance(cur, Effect):
            raise TypeError(f"{type(cur).__name__} {_short(cur)} is not an Effect")
        return handler(self, cur)

    def _finalize_next(self, frame: _Finalizing) -> Any:
        """Run the next finalizers of a closing scope. A sync one runs at once (a thunk
        is atomic: nothing to shield it from); any other is the effect to evaluate
        next, with the frame back on the stack and the fiber uninterruptible until the
        last has run. When all have run: None to go on with the value of `frame.then`
        (a success, no finalizer failed), else the effect that fails."""
        finalizers = frame.finalizers
        exit = frame.exit
        count = len(finalizers)
        # (A `for`, not `while index < count`: CPython 3.11 never specializes a
        # comparison followed by a jump as long as this body.)
        for index in range(frame.index, count):
            finalizer = finalizers[index]
            effect: Any = _MISSING
            try:
                if type(finalizer) is tuple:  # `scope.finalize`, inlined
                    release = finalizer[0]
                    effect = finalizer[1] if release is None else release(finalizer[1], exit)
                else:
                    effect = finalizer(exit)  # type: ignore[operator]  # the callable
                if effect._op is not SYNC:
                    frame.index = index + 1
                    self._enter_finalizer(frame)
                    return effect
                effect.thunk()
            except (KeyboardInterrupt, SystemExit):
                frame.index = index + 1  # the others still run, as the fiber unwinds
                self._enter_finalizer(frame)
                raise
            except BaseException as exc:
                named = finalizer[0] if type(finalizer) is tuple else finalizer
                failed = Die(exc if effect is _MISSING else _defect(exc, effect, named))
                before = frame.cause
                frame.cause = failed if before is None else Cause.sequential(before, failed)
        frame.index = count
        then = frame.then
        cause = frame.cause
        if cause is None:
            if type(then) is Success:
                return None
            return _FailNode(then.cause)  # type: ignore[attr-defined]  # a Failure
        if type(then) is Failure:
            cause = Cause.sequential(then.cause, cause)
        return _FailNode(cause)

    def _close_scoped(self, scope: Any, exit: Success[Any]) -> Any:
        """The body of `Effect.scoped` succeeded (`exit`): close its scope, unless
        closed already. None when every finalizer ran and none failed, else the effect
        to evaluate next (with a FINALIZING frame pushed, see `_finalize_next`)."""
        finalizers = begin_close(scope, exit)
        if not finalizers:
            return None
        return self._finalize_next(_Finalizing(finalizers, exit, exit))

    def _finalize_resume(self, frame: _Finalizing) -> Any:
        """`_finalize_next`, as an effect to evaluate in every case."""
        effect = self._finalize_next(frame)
        if effect is None:
            value = frame.then.value  # type: ignore[attr-defined]  # a Success
            return _UNIT_NODE if value is None else _SucceedNode(value)
        return effect

    def _bracket_acquired(self, node: Any, resource: object) -> Any:
        """`acquire_use_release` acquired `resource`: `use` it, as interruptible as the
        fiber was (the revert frame below says), released whatever happens."""
        stack = self._stack
        outer = stack[-1].flag
        stack.append(_release_frame(node.release, resource))
        interrupted = self._revert_succeeding(outer)
        if interrupted is not None:
            return interrupted
        return node.use(resource)

    def _enter_finalizer(self, after: object) -> None:
        """Run the next effect as a finalizer: uninterruptibly, then `after` (a RESULT,
        RETHROW or FINALIZING frame) decides how the fiber goes on."""
        stack = self._stack
        if self._interruptible:
            stack.append(_REVERT_TO_INTERRUPTIBLE)
            self._interruptible = False
        stack.append(after)

    def _restore_ref(self, frame: _RestoreRef) -> None:
        if frame.old is _MISSING:
            refs = self.refs.copy()  # never in place: see `refs`
            refs.pop(frame.ref, None)
            self.refs = refs
        else:
            self.set_ref(frame.ref, frame.old)

    def _park(self, register: Callable[[Resume], Any]) -> Any:
        """Register an async callback. Returns the effect to go on with if the callback
        already ran (or the fiber is interrupted), or None once parked."""
        if self._interruptible and self._interrupt_cause is not None:
            self._interrupt_pending = False
            return _FailNode(self._interrupt_cause)
        resume = Resume()  # no `__init__`: the fields are set here
        resume._fiber = self
        resume.canceller = None
        resume.registering = True
        resume.resumed_with = None
        self._parked = resume
        self._state = SUSPENDED
        try:
            canceller = register(resume)
        except BaseException:
            self._parked = None
            self._state = RUNNING
            raise
        finally:
            resume.registering = False
        if self._state == RUNNING:  # resumed (or interrupted) during register
            return resume.resumed_with
        resume.canceller = canceller
        return None

    def _resume(self, resume: Resume, effect: object) -> None:
        if resume is not self._parked or self._state != SUSPENDED:
            return
        self._parked = None
        self._state = RUNNING
        if resume.registering:
            resume.resumed_with = effect
        else:
            self._cur = effect
            self.scheduler.schedule(self)

    def _wake_interrupted(self) -> None:
        """Interrupt a parked fiber: run its canceller (if any), then fail."""
        resume = self._parked
        self._parked = None
        canceller = None if resume is None else resume.canceller
        self._state = RUNNING
        self._interrupt_pending = False
        interrupted = self._interrupt_cause
        assert interrupted is not None
        fail = _FailNode(interrupted)
        node: Any = fail
        if canceller is not None:
            # The canceller may have to wait (for a thread, a coroutine, children): it
            # runs uninterruptibly, or the sticky interruption would stop it at once.
            node = _FoldNode(
                _UninterruptibleNode(canceller),
                lambda cause: _FailNode(Cause.sequential(interrupted, cause)),
                lambda _: fail,
            )
        if resume is not None and resume.registering:  # from inside its own `register`
            resume.resumed_with = node
        else:
            self._cur = node
            self.scheduler.schedule(self)

    def rename(self, name: str) -> None:
        """Give the fiber a name, shown wherever its id is."""
        self._id = FiberId(self.number, name)

    def fork_child(
        self,
        effect: object,
        daemon: bool = False,
        refs: dict[FiberRef, object] | None = None,
        observer: Observer | None = None,
        interruptible: bool | None = None,
    ) -> FiberRuntime:
        """Start `effect` in a new fiber: a supervised child, or a daemon (no parent).
        It starts with `refs` (default: this fiber's; see `refs`), and with `observer`
        (if given) called with its exit when it is done, as `add_observer` would.
        (The loop's FORK node does the same for a supervised child, inlined: keep the
        two in step.)"""
        scheduler = self.scheduler
        parent = None if daemon else self
        child = new_fiber(
            scheduler,
            parent,
            self.refs if refs is None else refs,
            scope=self.scope,
            interruptible=self._interruptible if interruptible is None else interruptible,
        )
        child._cur = effect
        child._state = RUNNING
        if observer is not None:
            child._observers = [observer]
        if parent is None:
            scheduler.daemons[child] = None
        elif self.children is None:
            self.children = {child: None}
        else:
            self.children[child] = None
        scheduler.ready.append(child)  # `scheduler.schedule(child)`, inlined
        if not scheduler.drain_pending:
            scheduler.arrange_drain()
        return child

    def new_child(
        self,
        daemon: bool = False,
        refs: dict[FiberRef, object] | None = None,
        scope: object = _MISSING,
        interruptible: bool | None = None,
    ) -> FiberRuntime:
        """A new fiber that is not started yet: `start(effect)` it soon, since a
        supervising parent waits for its children to end. It starts with `refs` and in
        `scope` (default: this fiber's; see `refs`)."""
        child = new_fiber(
            self.scheduler,
            None if daemon else self,
            self.refs if refs is None else refs,
            scope=self.scope if scope is _MISSING else scope,
            interruptible=self._interruptible if interruptible is None else interruptible,
        )
        if not daemon:
            if self.children is None:
                self.children = {}
            self.children[child] = None
        return child

    def _shutdown(self, exc: BaseException) -> Any:
        """Ctrl-C or SystemExit inside user code: remember it, unwind as interrupted."""
        self.scheduler.fatal_error(exc)
        if self._interrupt_cause is None:
            self._interrupt_cause = Interrupt(self.id, Shutdown(type(exc).__name__))
        self._interrupt_pending = False
        self._interruptible = True
        return _FailNode(self._interrupt_cause)

    def _effect_done(self, exit: Exit[Any, Any]) -> None:
        """The fiber's effect ended (its stack is empty): stop the children, then
        publish `exit`."""
        children = self.children
        if not children:
            self._publish(exit)
            return
        self._state = FINISHING
        self._pending_exit = exit
        cause = Interrupt(self.id, ParentDone(self.id))
        for child in list(children):
            child.add_observer(self._child_done)
            child.interrupt_with(cause)

    def _child_done(self, _exit: Exit[Any, Any]) -> None:
        # A child leaves `children` as it publishes, before its observers run.
        if not self.children and self._state == FINISHING:
            exit = self._pending_exit
            assert exit is not None
            self._pending_exit = None
            self._publish(exit)

    def _publish(self, exit: Exit[Any, Any]) -> None:
        self._state = DONE
        self._exit = exit
        parent = self.parent
        if parent is not None:
            parent.children.pop(self, None)  # type: ignore[union-attr]  # a child is in it
            self.parent = None
        else:
            self.scheduler.daemons.pop(self, None)
        if self._observers is not None:  # (one may come from another thread meanwhile)
            self._notify(exit)

    def _notify(self, exit: Exit[Any, Any]) -> None:
        """Call the observers of the published `exit` (`_exit` is set before)."""
        observers = self._observers
        if observers is not None:
            self._observers = None
            if exit is _SUCCEEDED:
                exit = self.exit  # type: ignore[assignment]  # made now: not None
            for observer in observers:
                observer(exit)


def new_fiber(
    scheduler: Scheduler,
    parent: FiberRuntime | None = None,
    refs: dict[FiberRef, object] | None = None,
    name: str | None = None,
    scope: object = None,
    interruptible: bool = True,
) -> FiberRuntime:
    """A fiber that is not started yet (`start` it): a root (no `parent`) or a child
    its parent does not know of yet. It starts with `refs` (default: none set; see
    `FiberRuntime.refs`) and in `scope`."""
    fiber = FiberRuntime()
    fiber.number = number = next_fiber_number()
    fiber._id = None if name is None else FiberId(number, name)
    fiber.scheduler = scheduler
    fiber.parent = parent
    fiber.refs = {} if refs is None else refs
    fiber.children = None
    fiber._stack = []
    fiber._cur = None
    fiber._state = NEW
    fiber._interruptible = interruptible
    fiber._interrupt_cause = None
    fiber._interrupt_pending = False
    fiber._exit = None
    fiber._observers = None
    fiber.scope = scope
    return fiber


def _expect_effect(effect: Any, fn: object) -> Any:
    """`effect`, made by `fn`; a TypeError naming `fn` if it is not an effect."""
    if not hasattr(type(effect), "_op"):
        raise TypeError(
            f"{_describe_function(fn)} returned {type(effect).__name__} {_short(effect)}, "
            f"expected an Effect"
        )
    return effect


def _describe_function(fn: object) -> str:
    while isinstance(fn, partial):  # a release (see `_Release`), or `_already_made`
        fn = fn.args[0] if fn.func is _already_made else fn.func
    name = getattr(fn, "__qualname__", None) or repr(fn)
    code = getattr(fn, "__code__", None)
    if code is not None:
        return f"{name} ({code.co_filename}:{code.co_firstlineno})"
    return name


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _defect(exc: BaseException, cur: object, fn: object) -> BaseException:
    """The defect for an error in the loop; explains a function that returned a non-Effect."""
    inner = getattr(cur, "first", None)
    if (
        isinstance(exc, AttributeError)
        and hasattr(type(cur), "_op")
        and inner is not None
        and not hasattr(type(inner), "_op")
    ):
        where = "an effect" if fn is None else _describe_function(fn)
        return TypeError(
            f"{where} built an effect around {type(inner).__name__} {_short(inner)} "
            f"where an Effect was expected"
        )
    if isinstance(exc, AttributeError) and not hasattr(type(cur), "_op"):
        where = "the effect to run" if fn is None else _describe_function(fn)
        shown = repr(cur)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        error = TypeError(f"{where} returned {type(cur).__name__} {shown}, expected an Effect")
        error.__cause__ = None
        return error
    return exc
