"""The fiber runtime: one interpreter loop for every effect.

How the loop works
==================

An `Effect` is a tree of small frozen nodes, each with an integer opcode
(`_core/opcodes.py`). `FiberRuntime.run` evaluates the tree of one fiber with an
explicit continuation stack (a Python list) instead of Python recursion, so a million
nested binds use no more Python stack than one:

    cur = effect to evaluate           stack = [frame, frame, ...]   (top is last)

    evaluate cur, in the loop's own branches (the nodes the bar benchmarks run):
      FLAT_MAP/MAP/FOLD   push the node as a frame, evaluate its `first`
      THEN                the same, for `a.and_then(b)`: the frame just says "now b"
      SUCCEED/SYNC        a value is ready: pop frames, feeding it forward
      ON_EXIT             push the node as a frame, evaluate its `first`
      SCOPED              open a scope, make it current, push it (a scope is its own
                          SCOPE_EXIT frame), evaluate the body
      ACQUIRE_RELEASE     a sync acquire runs at once (one atomic step) and registers
                          `(release, resource)`; any other is its own frame, above an
                          uninterruptible region (`_acquire`, `_acquired`)
      ADD_FINALIZER       register in an open scope (a closed one: run it, a handler)
      FORK / JOIN         start a child fiber (the value is its `Fiber`) / its result
    (and FOR_EACH, whose handler in this module pushes a COLLECT frame the loop runs)

    the other core nodes, through `CORE[code](fiber, node)` (methods of the fiber):
      FAIL                a cause is ready: unwind (below)
      SUSPEND/WITH_FIBER  call the function, evaluate the effect it returns
      ASYNC               register a callback, park the fiber (return to the scheduler)
      SET_INTERRUPTIBLE   push a revert frame, evaluate the inner effect
      LOCALLY             set a fiber ref, push a restore frame, evaluate the inner effect
      YIELD               go to the back of the ready queue

    the other composite nodes (opcode >= EXTENDED), through `HANDLERS[code](fiber,
    node)`, registered by the one module that gives the node its meaning:
      resources.py        BRACKET, CLOSE_SCOPE, MAKE_SCOPE, WITH_SCOPE
      foreign.py          PROMISE, BLOCKING
      groups.py           GROUP, TIMEOUT      sharing.py    DEDUPE, CACHED
      logs.py             LOG
      (finalizers.py runs a closing scope's finalizers: the FINALIZING frame)

    feed a value to the top frame:          unwind a cause through the frames:
      FLAT_MAP  cur = k(value)                FLAT_MAP, MAP, THEN, RESULT and
      MAP       value = f(value)                the composite frames listed in
      THEN      cur = the next effect           PASSED_BY_FAILURE: skipped
      FOLD      cur = on_success(value)       FOLD     cur = on_failure(cause), unless
      ON_EXIT   cur = f(Success(value)),               the fiber is interrupted and
                uninterruptibly; then RESULT           interruptible (then skipped)
                (a SYNC one: its thunk)       ON_EXIT  cur = f(Failure(cause)),
      SCOPE_EXIT  close the scope, run its             uninterruptibly; then RETHROW
                finalizers                             (a SYNC one: its thunk, then
      COLLECT   keep value; f(next item),              go on unwinding)
                or the list of values
      RESULT, RETHROW, REVERT, RESTORE:       RETHROW  the finalizer failed too: keep
      a composite node's frame:                        both causes (Sequential)
                `ON_VALUE[code]`              REVERT, RESTORE  as on success
      (empty)   the fiber's effect            a composite node's frame: `ON_CAUSE[code]`
                succeeded                     (empty)  the fiber's effect failed

So handlers (FOLD) never run for an interrupted fiber, and finalizers (ON_EXIT, scopes)
always do. A frame the tables do not know is an error, never assumed to be anything.
Why the dispatch is written as it is (opcodes compared with `is`, hot names bound as
locals, the budget counted in two small ints) is in docs/benchmarks.md, "Why the loop
looks like this".

Scheduling. A fiber runs on its scheduler's thread until it parks on an `ASYNC` node,
yields (`YIELD`, or after `budget` ops so one busy fiber cannot starve the others), or
ends. Only one fiber runs at a time, so messages to a fiber (interruption, resumption)
always find it parked or queued, never mid-op: they are handled when it next runs.

Interruption. `interrupt_as` records the interruption. A parked, interruptible fiber is
woken at once (its async canceller runs first, uninterruptibly: see
`supervise.py`); a queued one sees it when it next runs; an uninterruptible one when
its region ends (`_revert`, the one rule for a held interruption). The interruption is
sticky: an interrupted fiber never again parks or continues in an interruptible region.
A forked fiber starts as interruptible as its parent is where it forks
(docs/interruption.md).

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
from .._core.exit import Exit, Failure, Success, success_of
from .._core.ids import FiberId, InterruptReason, ParentDone, Shutdown, next_fiber_number
from .._core.opcodes import (  # bare names: the loop binds them as locals
    ACQUIRE_RELEASE,
    ADD_FINALIZER,
    ASYNC,
    COLLECT,
    FAIL,
    FLAT_MAP,
    FOLD,
    FOR_EACH,
    FORK,
    IS_COMPOSITE,
    JOIN,
    LOCALLY,
    MAP,
    ON_EXIT,
    RESTORE_REF,
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
from .._core.scheduler import Scheduler, Timer
from .._core.scope import NO_SCOPE, finalize, init_state, keys
from ..fiber import Fiber
from ..scope import CloseableScope, ExecutionStrategy
from .defects import already_made, as_defect, checked, short
from .defects import expect_effect as expect_effect
from .finalizers import close_scope, finalize_resume, finalizer_failed, scope_failed
from .frames import (
    REVERT_TO_INTERRUPTIBLE,
    REVERT_TO_UNINTERRUPTIBLE,
    UNIT_NODE,
    Collect,
    FailNode,
    FoldNode,
    RestoreRef,
    ResultFrame,
    RethrowFrame,
    UninterruptibleNode,
)
from .frames import async_node as async_node
from .frames import fail_node as fail_node
from .frames import succeed_node as succeed_node

Observer = Callable[[Exit[Any, Any]], None]


_MISSING: Final = object()
_SEQUENTIAL: Final = ExecutionStrategy.sequential
_SUCCEEDED: Final[Any] = object()
"""`_exit` of a fiber that succeeded while nobody waited: its value is in `_cur`, its
`Success` is made by `exit` when first asked for (most joins never need it)."""
_new = object.__new__
_set_success_value: Final[Callable[[Any, Any], None]] = vars(Success)["value"].__set__
_set_failure_cause: Final[Callable[[Any, Any], None]] = vars(Failure)["cause"].__set__


Handler = Callable[["FiberRuntime", Any], Any]
FrameHandler = Callable[["FiberRuntime", Any, Any], Any]


def _not_an_effect(fiber: FiberRuntime, node: object, *_: object) -> Any:
    raise TypeError(f"{type(node).__name__} {short(node)} is not an Effect")


def _unknown_frame(fiber: FiberRuntime, frame: object, _: object) -> Any:
    raise RuntimeError(f"the fiber's stack holds an unknown frame: {frame!r}")


HANDLERS: Final[list[Handler]] = [_not_an_effect] * len(op.IS_COMPOSITE)
"""Indexed by opcode: the function that runs a composite node (registered by its
module with `handles`). Given the fiber and the node, it returns the effect to evaluate
next, having pushed its frames first if it has any."""
ON_VALUE: Final[list[FrameHandler]] = [_unknown_frame] * len(op.IS_COMPOSITE)
"""Indexed by opcode: what a composite node's frame does with the value that reaches
it (`on_value`): the effect to evaluate next, None to pass the value on, or
`GIVES_VALUE` for a new value."""
ON_CAUSE: Final[list[FrameHandler]] = [_unknown_frame] * len(op.IS_COMPOSITE)
"""Indexed by opcode: what a composite node's frame does when a failure unwinds
through it (`on_cause`): the effect to evaluate next, or None to go on unwinding."""
PASSED_BY_FAILURE: Final = frozenset(
    {op.FLAT_MAP, op.MAP, op.THEN, op.RESULT, op.COLLECT, op.ACQUIRE_RELEASE, op.BRACKET}
)
"""Frames a failure unwinds past: continuations of a success, and acquires that did
not acquire (nothing to release)."""


class _GivesValue:
    def __repr__(self) -> str:
        return "GIVES_VALUE"


GIVES_VALUE: Final[Any] = _GivesValue()
"""What a handler returns when its node has a value at once: it has put the value in
the fiber's `_cur` (free while the fiber runs), and the loop feeds it to the frames
without making an effect around it."""


def _unknown_node(fiber: FiberRuntime, node: Any) -> Any:
    raise TypeError(f"unknown effect opcode {node._op!r}")


CORE: Final[list[Handler]] = [_unknown_node] * len(op.IS_COMPOSITE)
"""Indexed by opcode: the loop's rarer core nodes (methods of `FiberRuntime`, set at
the end of this module): the effect to go on with, or None when the fiber parked, gave
way or ended."""


def _register(table: list[Any], default: object, code: int, what: str) -> Callable[[Any], Any]:
    def register(handler: Any) -> Any:
        if table[code] is not default:
            raise RuntimeError(f"opcode {code} already has {what}: {table[code]}")
        table[code] = handler
        return handler

    return register


def handles(code: int) -> Callable[[Handler], Handler]:
    """Register the decorated function as the one handler of the node `code`."""
    return _register(HANDLERS, _not_an_effect, code, "a handler")


def on_value(code: int) -> Callable[[FrameHandler], FrameHandler]:
    """Register what the frame `code` does with a value (see `ON_VALUE`)."""
    return _register(ON_VALUE, _unknown_frame, code, "a value handler")


def on_cause(code: int) -> Callable[[FrameHandler], FrameHandler]:
    """Register what the frame `code` does with a failure (see `ON_CAUSE`)."""
    return _register(ON_CAUSE, _unknown_frame, code, "a failure handler")


def _run_runtime_effect(effect: object) -> object:
    """What `_unwind` hands the loop for an effect a frame's handler made."""
    return effect


class Resume:
    """The callback an ASYNC node's `register` receives: call it once with an effect.

    Later calls, and calls after the fiber was interrupted, are ignored. It may be
    called from any thread. It also holds the state of the park it belongs to: while
    the fiber is parked, it is the fiber's `_parked`.
    """

    # The fields are set by `FiberRuntime._park`, the one place that makes a `Resume`.
    __slots__ = ("_fiber", "canceller", "registering", "resumed_with")

    _fiber: FiberRuntime
    canceller: Any
    """The effect `register` returned, run if the fiber is interrupted (or a sleep's
    `Timer`, cancelled at once)."""
    registering: bool
    """Inside `register`: a resumption is handed back to `_park`, not scheduled."""
    resumed_with: Any

    def __call__(self, effect: object) -> None:
        fiber = self._fiber
        if fiber.scheduler.on_scheduler_thread():
            fiber._resume(self, effect)
        else:
            fiber.scheduler.call_threadsafe(lambda: fiber._resume(self, effect))


_STATUS: Final = {
    NEW: "not started",
    RUNNING: "running",
    SUSPENDED: "suspended",
    FINISHING: "finishing",
    DONE: "done",
}


class FiberRuntime:
    """The state of one fiber and the loop that runs it."""

    # `new_fiber`, the one constructor, fills the slots.
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
        "graft",
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
    graft: FiberRuntime | None
    """The fiber that the fibers this one forks belong to, if not this one: a worker of
    a concurrent `for_each`/`all` ends as soon as its item is done, so what its item
    forks belongs to the fiber that called `for_each` (as in Effect-TS)."""
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

    @property
    def status(self) -> str:
        """Where the fiber is (for debug_tree): "not started", "running", "suspended",
        "finishing" (its children still run) or "done"."""
        return _STATUS[self._state]

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

    # fmt: off
    def run(  # noqa: C901  # the one loop (see the module's header)
        self, FLAT_MAP: Any = FLAT_MAP, THEN: Any = THEN, SUCCEED: Any = SUCCEED,
        MAP: Any = MAP, SYNC: Any = SYNC, IS_COMPOSITE: Any = IS_COMPOSITE,
        SCOPED: Any = SCOPED, ACQUIRE_RELEASE: Any = ACQUIRE_RELEASE, FORK: Any = FORK,
        JOIN: Any = JOIN, ADD_FINALIZER: Any = ADD_FINALIZER,
        FOLD: Any = FOLD, ON_EXIT: Any = ON_EXIT,
        COLLECT: Any = COLLECT, SCOPE_EXIT: Any = SCOPE_EXIT,
        HANDLERS: Any = HANDLERS,
        ON_VALUE: Any = ON_VALUE, GIVES_VALUE: Any = GIVES_VALUE, _SUCCEEDED: Any = _SUCCEEDED,
        CORE: Any = CORE, _new: Any = _new, keys: Any = keys,
    ) -> None:
        # fmt: on
        """Run until the fiber parks, yields or ends (the defaults bind names as locals)."""
        cur: Any = self._cur
        self._cur = None
        if self._interrupt_pending and self._interruptible:
            interrupted = self._interrupt_cause
            if interrupted is not None:
                self._interrupt_pending = False
                cur = FailNode(interrupted)
        stack = self._stack
        rounds, tick = self.scheduler.rounds_and_ticks  # the op budget: see `Scheduler`
        fn: Any = None  # names the function that made `cur`, for `as_defect`
        while True:
            try:
                while True:
                    tick -= 1
                    if tick < 0:  # a round of the op budget is spent
                        rounds, tick = self._next_round(cur, rounds)
                        if tick < 0:  # the budget is spent: others run
                            return
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
                    elif IS_COMPOSITE[code]:
                        if code is SCOPED:  # a new scope, current, its own SCOPE_EXIT frame
                            scope = _new(CloseableScope)
                            outer = self.scope
                            self.scope = init_state(scope, _SEQUENTIAL, None, True, self, outer)
                            stack.append(scope)
                            cur = cur.effect
                            continue
                        elif code is ACQUIRE_RELEASE:
                            scope = self.scope
                            first = cur.acquire
                            if scope is None or first._op is not SYNC or scope._exit is not None:
                                cur = self._acquire(cur)  # uninterruptibly, then register
                                continue
                            fn = first.thunk  # a sync acquire is one atomic step
                            value = fn()
                            scope._finalizers[next(keys)] = (cur.release, value, self.refs)
                        elif code is FORK:  # the value is the child's `Fiber` handle
                            value = Fiber()
                            # fmt: off
                            daemon = cur.daemon  # owned by nobody: interruptible by the runtime
                            value._runtime = new_fiber(self.scheduler,
                                None if daemon else self.graft or self,
                                self.refs, None, self.scope, daemon or self._interruptible,
                                cur.effect)
                            # fmt: on
                        elif code is JOIN:
                            exit = cur.runtime._exit
                            if exit is _SUCCEEDED:
                                value = cur.runtime._cur
                            elif type(exit) is Success:
                                value = exit.value
                            else:  # failed, or still running: wait for it
                                cur = FailNode(exit.cause) if exit else cur.fiber._join_now()
                                continue
                        elif code is ADD_FINALIZER and cur.scope._exit is None:
                            cur.scope._finalizers[next(keys)] = (cur.release, cur.value, self.refs)
                            value = None
                        else:  # any other composite node: its handler (`handles`)
                            fn = None
                            cur = HANDLERS[code](self, cur)
                            if cur is not GIVES_VALUE:
                                continue
                            value = self._cur  # the handler's value (see `GIVES_VALUE`)
                            self._cur = None
                    elif code is FOLD or code is ON_EXIT:
                        stack.append(cur)
                        cur = cur.first
                        continue
                    else:  # the other core nodes: FAIL, SUSPEND, WITH_FIBER, ASYNC...
                        fn = None
                        cur = CORE[code](self, cur)
                        if cur is None:  # parked, gave way, or ended
                            return
                        continue
                    # A value is ready: feed it to the frames on the stack.
                    while True:
                        if not stack:  # the fiber's effect succeeded
                            if self.children is None and self._observers is None:
                                # Nobody waits: keep the value, make the Success only
                                # if someone asks (`exit`); `_cur` is free from now on.
                                self._cur = value
                                self._exit = _SUCCEEDED
                                self._state = DONE  # `_detach`, for the commonest end:
                                parent = self.parent
                                if parent is not None:
                                    parent.children.pop(self, None)  # type: ignore[union-attr]
                                    self.parent = None
                                else:
                                    self.scheduler.daemons.pop(self, None)
                                if self._observers is not None:  # added by another thread
                                    self._notify(_SUCCEEDED)  # type: ignore[unreachable]
                            else:
                                self._effect_done(success_of(value))
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
                            if index < len(frame.items):
                                frame.index = index + 1
                                stack.append(frame)
                                fn = frame.f
                                cur = fn(frame.items[index])
                                break
                            value = frame.results
                        elif code is ON_EXIT or code is SCOPE_EXIT:  # finalizers, on success
                            exit = _new(Success)
                            _set_success_value(exit, value)
                            if code is ON_EXIT:
                                fn = frame.f
                                cur = fn(exit)
                                entry = None  # runs under the fiber's own refs
                            else:  # an `Effect.scoped` body succeeded: close its scope
                                self.scope = frame._outer
                                if len(frame._finalizers) != 1 or frame._exit is not None:
                                    cur = close_scope(self, frame, exit)  # `finalizers.py`
                                    if cur is None:
                                        continue
                                    break
                                frame._exit = exit  # closed: its one finalizer runs here
                                entry = frame._finalizers.popitem()[1]
                                if type(entry) is tuple:  # `finalize`, inline: 3% here
                                    fn = entry[0]
                                    cur = entry[1] if fn is None else fn(entry[1], exit)
                                    fn = entry  # to name (`describe_function`)
                                else:
                                    fn = entry
                                    cur = fn(exit)
                            if cur._op is SYNC:  # a thunk is atomic: no region to enter
                                cur.thunk()
                                continue
                            self.enter_finalizer(ResultFrame(value), entry)
                            break
                        elif code is FOLD:
                            fn = frame.on_success
                            if fn is not None:
                                cur = fn(value)
                                break
                        else:  # any other frame: its module's (`on_value`)
                            fn = None
                            cur = ON_VALUE[code](self, frame, value)
                            if cur is GIVES_VALUE:  # a new value (see `GIVES_VALUE`)
                                value = self._cur
                                self._cur = None
                            elif cur is not None:
                                break
            except (KeyboardInterrupt, SystemExit) as exc:
                cur = self._shutdown(exc)
            except BaseException as exc:
                cur = FailNode(Die(as_defect(exc, cur, fn)))

    # -- helpers of the loop (off the hot path) -------------------------------------

    def _fail(self, node: Any) -> Any:
        """FAIL: unwind to the next failure handler or finalizer; the effect it makes
        (None: the fiber's effect failed, and the fiber has ended)."""
        handler = self._unwind(node.cause)
        if handler is None:
            return None
        fn, argument = handler
        return checked(fn(argument), fn)

    def _suspend(self, node: Any) -> Any:
        """SUSPEND: the effect `thunk` makes now."""
        return checked(node.thunk(), node.thunk)

    def _with_fiber(self, node: Any) -> Any:
        """WITH_FIBER: the effect `f` makes of this fiber."""
        return checked(node.f(self), node.f)

    def _async(self, node: Any) -> Any:
        """ASYNC: park until `register`'s callback resumes the fiber (None: parked)."""
        return self._park(node.register)

    def _set_interruptible_node(self, node: Any) -> Any:
        return self._set_interruptible(node.flag, node.effect)

    def _yield(self, node: Any) -> None:
        """YIELD: go to the back of the ready queue."""
        self._give_way(UNIT_NODE)

    def _next_round(self, cur: Any, rounds: int) -> tuple[int, int]:
        """The loop's op budget after a round of 256 ops: (rounds left, tick), or a
        negative tick when the budget is spent and the fiber gave way to the others.
        (Counted in two small ints: a counter above 256 would allocate on each op.)"""
        if not rounds:
            self._give_way(cur)
            return 0, -1
        return rounds - 1, 255

    def _give_way(self, cur: Any) -> None:
        """Go to the back of the ready queue, to go on with `cur` (yield, or the op
        budget is spent)."""
        if not hasattr(type(cur), "_op"):  # `as_defect` names the function that made it
            raise AttributeError("_op")
        self._cur = cur
        self.scheduler.schedule(self)

    def _locally(self, node: Any) -> Any:
        """LOCALLY: run `node.effect` with a fiber ref set, restored after."""
        ref = node.ref
        if ref is None:  # all of the refs (`_with_refs`)
            self._stack.append(RestoreRef(None, self.refs))
            self.refs = node.value
            return node.effect
        self._stack.append(RestoreRef(ref, self.refs.get(ref, _MISSING)))
        self.set_ref(ref, node.value)
        return node.effect

    def _acquire(self, node: Any) -> Any:
        """ACQUIRE_RELEASE with an acquire that is not sync (or into a closed scope):
        acquire uninterruptibly; the node is its own frame, above the way back, and
        registers the release once the resource is there (`_acquired`)."""
        if self.scope is None:
            raise LookupError(NO_SCOPE)
        if self._interruptible:
            self._stack.append(REVERT_TO_INTERRUPTIBLE)
            self._interruptible = False
        self._stack.append(node)
        return node.acquire

    def _unwind(self, cause: Cause[Any]) -> tuple[Callable[[Any], Any], Any] | None:
        """Pop frames up to a failure handler or a finalizer: the function to call and
        its argument (the cause, or the exit); None when the fiber's effect has failed."""
        stack = self._stack
        while stack:
            frame = stack.pop()
            code = frame._op
            if code is FOLD:
                if not (self._interruptible and self._interrupt_cause is not None):
                    return frame.on_failure, cause
            elif code is ON_EXIT:  # a finalizer: runs even for an interrupted fiber
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
                    failed = exc if effect is _MISSING else as_defect(exc, effect, fn)
                    cause = Cause.sequential(cause, Die(failed))
                    continue
                self.enter_finalizer(RethrowFrame(cause))
                return partial(already_made, fn, effect), None
            elif code is RETHROW:  # the finalizer itself failed: both causes stay
                cause = Cause.sequential(frame.cause, cause)
            elif code is REVERT_INTERRUPTIBLE:  # an interruption held back joins
                self._interruptible = frame.flag
                if frame.flag and self._interrupt_cause is not None:
                    cause = self._join_held_interruption(cause)
            elif code is RESTORE_REF:
                self._restore_ref(frame)
            elif code not in PASSED_BY_FAILURE:  # a composite node's frame (`on_cause`)
                effect = ON_CAUSE[code](self, frame, cause)
                if effect is not None:
                    return _run_runtime_effect, effect
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

    def _revert(self, flag: bool) -> Any:
        """Leave an (un)interruptible region with a value: restore `flag`. The one rule
        for an interruption held back by the region: it is delivered as the fiber
        becomes interruptible again (the effect to go on with; None if there is none).
        On the failure path, `_join_held_interruption` applies the same rule."""
        self._interruptible = flag
        if flag and self._interrupt_cause is not None:
            self._interrupt_pending = False
            return FailNode(self._interrupt_cause)
        return None

    def _set_interruptible(self, flag: bool, effect: object) -> Any:
        """SET_INTERRUPTIBLE: run `effect` with interruptibility `flag`, restored after."""
        if flag != self._interruptible:
            was = self._interruptible
            self._stack.append(REVERT_TO_INTERRUPTIBLE if was else REVERT_TO_UNINTERRUPTIBLE)
            interrupted = self._revert(flag)
            if interrupted is not None:
                return interrupted
        return effect

    def enter_finalizer(self, after: object, finalizer: object = None) -> None:
        """Run the next effect as a finalizer: uninterruptibly, then `after` (a RESULT,
        RETHROW or FINALIZING frame) decides how the fiber goes on. A scope's
        `finalizer` runs under the fiber refs it was registered with (see `Finalizer`)."""
        stack = self._stack
        if self._interruptible:
            stack.append(REVERT_TO_INTERRUPTIBLE)
            self._interruptible = False
        stack.append(after)
        if type(finalizer) is tuple:  # a user's (see `Finalizer`), not the runtime's own
            refs = finalizer[2]
            if refs is not self.refs:
                stack.append(RestoreRef(None, self.refs))
                self.refs = refs

    def _restore_ref(self, frame: RestoreRef) -> None:
        if frame.ref is None:  # all of them (`enter_finalizer`, `_with_refs`)
            self.refs = frame.old  # type: ignore[assignment]
        elif frame.old is _MISSING:
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
            return FailNode(self._interrupt_cause)
        resume = Resume()
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
        fail = FailNode(interrupted)
        node: Any = fail
        if type(canceller) is Timer:  # a sleep's: cancelling cannot fail or wait
            canceller.cancel()
        elif canceller is not None:
            # The canceller may have to wait (for a thread, a coroutine, children): it
            # runs uninterruptibly, or the sticky interruption would stop it at once.
            node = FoldNode(
                UninterruptibleNode(canceller),
                lambda cause: FailNode(Cause.sequential(interrupted, cause)),
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

    def new_child(
        self,
        daemon: bool = False,
        refs: dict[FiberRef, object] | None = None,
        scope: object = _MISSING,
        interruptible: bool | None = None,
    ) -> FiberRuntime:
        """A new fiber that is not started yet: `start(effect)` it soon, since a
        supervising parent waits for its children to end. A supervised child, or a
        daemon (no parent). It starts with `refs` and in `scope` (default: this fiber's;
        see `refs`), as interruptible as this fiber is now unless told."""
        return new_fiber(
            self.scheduler,
            None if daemon else self,
            self.refs if refs is None else refs,
            scope=self.scope if scope is _MISSING else scope,
            interruptible=self._interruptible if interruptible is None else interruptible,
        )

    def fork_child(
        self,
        effect: object,
        daemon: bool = False,
        refs: dict[FiberRef, object] | None = None,
        observer: Observer | None = None,
        interruptible: bool | None = None,
    ) -> FiberRuntime:
        """Start `effect` in a `new_child`, with `observer` (if given) called with its
        exit when it is done, as `add_observer` would. (The loop's FORK node calls
        `new_fiber` itself.)"""
        child = new_fiber(
            self.scheduler,
            None if daemon else self,
            self.refs if refs is None else refs,
            None,
            self.scope,
            self._interruptible if interruptible is None else interruptible,
            effect,
        )
        if observer is not None:  # (it has not run yet: it is only queued)
            child._observers = [observer]
        return child

    def _shutdown(self, exc: BaseException) -> Any:
        """Ctrl-C or SystemExit inside user code: remember it, unwind as interrupted."""
        self.scheduler.fatal_error(exc)
        if self._interrupt_cause is None:
            self._interrupt_cause = Interrupt(self.id, Shutdown(type(exc).__name__))
        self._interrupt_pending = False
        self._interruptible = True
        return FailNode(self._interrupt_cause)

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
        self._exit = exit
        self._detach()
        if self._observers is not None:  # (one may come from another thread meanwhile)
            self._notify(exit)

    def _detach(self) -> None:
        """Done: leave the parent's children (or the scheduler's roots)."""
        self._state = DONE
        parent = self.parent
        if parent is not None:
            parent.children.pop(self, None)  # type: ignore[union-attr]  # a child is in it
            self.parent = None
        else:
            self.scheduler.daemons.pop(self, None)

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
    effect: object = None,
) -> FiberRuntime:
    """The one constructor of fibers: a root (no `parent`) or a child, which its
    parent supervises from now on, with `refs` (default: none set; see
    `FiberRuntime.refs`) and in `scope`. Given no `effect`, it is not started yet
    (`start` it soon: a parent waits for its children); given one, it is queued to run
    it."""
    fiber = FiberRuntime()
    fiber.number = number = next_fiber_number()
    fiber._id = None if name is None else FiberId(number, name)
    fiber.scheduler = scheduler
    fiber.parent = parent
    fiber.refs = {} if refs is None else refs
    fiber.children = None
    fiber.graft = None
    fiber._stack = []
    fiber._cur = effect
    fiber._state = NEW if effect is None else RUNNING
    fiber._interruptible = interruptible
    fiber._interrupt_cause = None
    fiber._interrupt_pending = False
    fiber._exit = None
    fiber._observers = None
    fiber.scope = scope
    if parent is not None:
        children = parent.children
        if children is None:
            parent.children = {fiber: None}
        else:
            children[fiber] = None
    if effect is not None:  # `start`, for a fiber that is made to run at once
        if parent is None:
            scheduler.daemons[fiber] = None
        scheduler.ready.append(fiber)
        if not scheduler.drain_pending:
            scheduler.arrange_drain()
    return fiber


# -- the loop's own composite nodes ------------------------------------------------------


@handles(FOR_EACH)
def _for_each(fiber: FiberRuntime, node: Any) -> Any:
    """FOR_EACH: `f(item)` for each item in turn, the values in a list (a COLLECT frame
    walks the items; the loop runs it)."""
    if not node.items:
        fiber._cur = []  # the value: see `GIVES_VALUE`
        return GIVES_VALUE
    fiber._stack.append(Collect(node.items, node.f))
    return expect_effect(node.f(node.items[0]), node.f)


@handles(ADD_FINALIZER)
def _add_finalizer_to_closed(fiber: FiberRuntime, node: Any) -> Any:
    """ADD_FINALIZER to a closed scope (the loop registers the others): run it now,
    given the exit the scope closed with."""
    entry = (node.release, node.value)
    effect = expect_effect(finalize(entry, node.scope._exit), entry)
    fiber.enter_finalizer(ResultFrame(None))
    return effect


@on_value(ACQUIRE_RELEASE)
def _acquired(fiber: FiberRuntime, node: Any, resource: object) -> Any:
    """`acquire_release` acquired `resource`: register its release in the scope (or,
    closed meanwhile by another fiber, release it now)."""
    scope = fiber.scope
    if scope._exit is None:
        scope._finalizers[next(keys)] = (node.release, resource, fiber.refs)
        return None
    fiber._stack.append(ResultFrame(resource))
    return expect_effect(node.release(resource, scope._exit), node.release)


on_value(op.FINALIZING)(lambda fiber, frame, _: finalize_resume(fiber, frame))


@on_value(REVERT_INTERRUPTIBLE)
def _leave_region(fiber: FiberRuntime, frame: Any, value: object) -> Any:
    """The end of an (un)interruptible region: restore the flag (see `_revert`)."""
    return fiber._revert(frame.flag)


@on_value(RESULT)
def _result(fiber: FiberRuntime, frame: Any, value: object) -> Any:
    """After a finalizer on the success path: go on with the body's value."""
    fiber._cur = frame.value  # the value: see `GIVES_VALUE`
    return GIVES_VALUE


@on_value(RETHROW)
def _rethrow(fiber: FiberRuntime, frame: Any, value: object) -> Any:
    """After a finalizer on the failure path: fail again with the body's cause."""
    return FailNode(frame.cause)


@on_value(RESTORE_REF)
def _restore(fiber: FiberRuntime, frame: Any, value: object) -> None:
    fiber._restore_ref(frame)


on_cause(op.FINALIZING)(finalizer_failed)
on_cause(SCOPE_EXIT)(scope_failed)


CORE[FAIL] = FiberRuntime._fail
CORE[SUSPEND] = FiberRuntime._suspend
CORE[WITH_FIBER] = FiberRuntime._with_fiber
CORE[ASYNC] = FiberRuntime._async
CORE[SET_INTERRUPTIBLE] = FiberRuntime._set_interruptible_node
CORE[LOCALLY] = FiberRuntime._locally
CORE[YIELD] = FiberRuntime._yield
