"""`TaskTree`, its subscriptions, and how a task runs.

Where a fiber is in a tree (which tree, under which task) is its *cursor*, a fiber
ref: forked, spawned and branched fibers copy it, so the tasks they start hang under
the task that started them.

A task runs its effect in a child fiber of its own (`TaskRun`) and waits for it: so
`cancel(task_id)` can interrupt exactly that task's work. The child's exit sets the
node's status before the waiting fiber goes on; if the waiting fiber is interrupted,
the child is interrupted too (reason `ParentDone`) and awaited, as `timeout` does. A
shared task's child is a daemon instead: nobody waits for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final, Generic, Literal, Never, TypeAlias, final, overload

from typing_extensions import TypeVar

from .._core.ids import FiberId, InterruptReason, ScopeClosed
from .._core.refs import TASK_CURSOR
from .._interpreter.loop import FiberRuntime
from .._interpreter.supervise import WatchChild
from ..effect import Effect
from ..effect import _locally as locally
from ..effect import _with_fiber as with_fiber
from ..fiber import Fiber
from ..scope import Scope
from ._state import Feed, Node, TaskEvent, TaskSnapshot, TreeClosed, TreeState

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")
A_co = TypeVar("A_co", covariant=True)
E_co = TypeVar("E_co", covariant=True)
M = TypeVar("M", default=object)

DEFAULT_CAPACITY: Final = 256
"""How many events a subscription holds before it drops old progress and output."""
DEFAULT_KEEP_OUTPUT: Final = 5
"""How many recent output lines each task keeps for snapshots."""


# -- the cursor ---------------------------------------------------------------------------


class Cursor:
    """Where a fiber is: in `state`, under `node` (None: at the root)."""

    __slots__ = ("node", "state")

    def __init__(self, state: TreeState, node: Node | None) -> None:
        self.state = state
        self.node = node

    def run_task(self, title: str, effect: Effect[A, E, R], meta: object) -> Effect[A, E, R]:
        """`effect.with_task(title, meta)` in a fiber that is here."""
        return run_task(self.state, title, effect, meta, None)


CURSOR: Final = TASK_CURSOR


def cursor_of(fiber: FiberRuntime) -> Cursor | None:
    cursor = fiber.get_ref(CURSOR)
    return cursor if isinstance(cursor, Cursor) else None


def current_node(fiber: FiberRuntime) -> tuple[TreeState, Node] | None:
    """The tree and task the fiber runs in, if any."""
    cursor = cursor_of(fiber)
    if cursor is None or cursor.node is None:
        return None
    return cursor.state, cursor.node


def check_title(title: object, what: str) -> str:
    if not isinstance(title, str):
        raise TypeError(f"{what}: the title must be a str, got {type(title).__name__}")
    return title


def check_effect(effect: object, what: str) -> None:
    if not isinstance(effect, Effect):
        raise TypeError(f"{what} expects an Effect, got {type(effect).__name__}")


# -- running a task -------------------------------------------------------------------------


def run_task(
    state: TreeState | None,
    title: str,
    effect: Effect[A, E, R],
    meta: object,
    owner: str | None,
) -> Effect[A, E, R]:
    """`effect` as a task of `state` (None: of the fiber's current tree, if any)."""

    def start(fiber: FiberRuntime) -> Effect[A, E, R]:
        cursor = cursor_of(fiber)
        tree = state if state is not None else cursor.state if cursor is not None else None
        if tree is None:
            return effect
        parent = cursor.node if cursor is not None and cursor.state is tree else None
        run = TaskRun(fiber, tree, parent, title, effect, meta, owner)
        return Effect.async_(run.register)  # type: ignore[arg-type]  # a node's register

    return with_fiber(start)


def start_shared(
    state: TreeState, title: str, effect: Effect[A, E, R], meta: object, owner: str | None
) -> Effect[TaskRef[A, E], Never, R]:
    """`effect` as a task of `state` running in a daemon fiber; its `TaskRef` at once."""

    def start(fiber: FiberRuntime) -> Effect[TaskRef[A, E], Never, R]:
        cursor = cursor_of(fiber)
        parent = cursor.node if cursor is not None and cursor.state is state else None
        node = state.add(parent, title, meta, owner)
        child = _fork_task(fiber, state, node, effect, daemon=True)
        return Effect.succeed(TaskRef(node.id, Fiber.of(child)))

    return with_fiber(start)


def _fork_task(
    fiber: FiberRuntime,
    state: TreeState,
    node: Node,
    effect: Effect[Any, Any, Any],
    *,
    daemon: bool,
) -> FiberRuntime:
    """Start the fiber that runs `node`'s effect; its exit sets the node's status. A
    shared task (a daemon the tree owns) is interruptible by the tree whatever the
    region it was started from, as a fiber forked into a scope is; a task the fiber
    waits for is as interruptible as the fiber."""
    refs = dict(fiber.refs)
    refs[CURSOR] = Cursor(state, node)
    child = fiber.new_child(daemon, refs, interruptible=True if daemon else None)
    child.rename(node.title)
    state.attach(node, child)
    child.add_observer(lambda exit: state.finish_with(node, exit))
    child.start(Effect.sync(lambda: state.start(node)).and_then(effect))
    return child


_Resume: TypeAlias = Callable[[Effect[Any, Any, Any]], None]
"""What `Effect.async_` hands a registration: call it once to wake the fiber."""


class TaskRun(WatchChild):
    """One run of a (non-shared) task: the waiting fiber's child runs the task's effect
    (a `Supervised` run: an interruption stops the task and waits for it)."""

    __slots__ = ("_effect", "_meta", "_owner", "_parent", "_state", "_title")

    def __init__(
        self,
        fiber: FiberRuntime,
        state: TreeState,
        parent: Node | None,
        title: str,
        effect: Effect[Any, Any, Any],
        meta: object,
        owner: str | None,
    ) -> None:
        super().__init__(fiber)
        self._state = state
        self._parent = parent
        self._title = title
        self._effect = effect
        self._meta = meta
        self._owner = owner

    def start(self) -> None:
        # The node is made here, not before parking: an interrupted fiber (in an
        # interruptible region) never gets here.
        node = self._state.add(self._parent, self._title, self._meta, self._owner)
        self.start_child(_fork_task(self.fiber, self._state, node, self._effect, daemon=False))


# -- public types -------------------------------------------------------------------------


@final
@dataclasses.dataclass(frozen=True, slots=True)
class TaskRef(Generic[A_co, E_co]):
    """A shared task that was started: its task `id` and the daemon `fiber` running it.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree
    >>> started = TaskTree().with_task("reindex", Effect.succeed(3), shared=True)
    >>> run_sync(started.flat_map(lambda ref: ref.join()))
    3
    """

    id: str
    fiber: Fiber[A_co, E_co]

    def join(self) -> Effect[A_co, E_co]:
        """Wait for the task; succeed with its value or fail with its cause."""
        return self.fiber.join()


@final
class TaskSubscription:
    """A subscriber's stream of `TaskEvent`s, from `TaskTree.subscribe()`.

    Bounded and coalescing, so the tasks never wait for a slow reader: a pending "tree
    changed" stands for every structural change until it is taken (and carries the tree
    as it is then), a task's newer progress replaces its pending progress, and when the
    buffer is full the oldest progress or output event is dropped (counted by
    `dropped()`). The first event is the tree as it was when subscribing; the last,
    once the tree or the subscription is closed, `TreeClosed()`.
    """

    __slots__ = ("_feed",)

    def __init__(self, feed: Feed) -> None:
        self._feed = feed

    def __repr__(self) -> str:
        feed = self._feed
        return f"TaskSubscription(size={len(feed.buffer)}, capacity={feed.capacity})"

    @property
    def capacity(self) -> int:
        """How many events the subscription holds at most."""
        return self._feed.capacity

    def take(self) -> Effect[TaskEvent]:
        """The next event, waiting for one (interruptible).

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(Effect.scoped(TaskTree().subscribe().flat_map(lambda sub: sub.take())))
        TreeChanged(tasks=[])
        """
        feed = self._feed

        def register(resume: _Resume) -> Effect[None] | None:
            with feed.state.lock:
                event = feed.pop()
                if event is None:
                    again = Effect.suspend(self.take)

                    def wake() -> None:
                        resume(again)

                    feed.waiters.append(wake)
                    return Effect.sync(lambda: _forget(feed, wake))
            resume(Effect.succeed(event))
            return None

        return Effect.async_(register)

    def take_all(self) -> Effect[list[TaskEvent]]:
        """Every event there is now (maybe none; does not wait), ending with
        `TreeClosed()` once the stream has ended.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(Effect.scoped(TaskTree().subscribe().flat_map(lambda sub: sub.take_all())))
        [TreeChanged(tasks=[])]
        """
        feed = self._feed

        def take_all() -> list[TaskEvent]:
            events: list[TaskEvent] = []
            with feed.state.lock:
                while True:
                    event = feed.pop()
                    if event is None:
                        return events
                    events.append(event)
                    if isinstance(event, TreeClosed):
                        return events

        return Effect.sync(take_all)

    def poll(self) -> Effect[TaskEvent | None]:
        """The next event if there is one, else None (does not wait).

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> def twice(sub):
        ...     return sub.poll().zip(sub.poll())
        >>> run_sync(Effect.scoped(TaskTree().subscribe().flat_map(twice)))
        (TreeChanged(tasks=[]), None)
        """
        feed = self._feed

        def poll() -> TaskEvent | None:
            with feed.state.lock:
                return feed.pop()

        return Effect.sync(poll)

    def size(self) -> Effect[int]:
        """How many events are waiting to be taken.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(Effect.scoped(TaskTree().subscribe().flat_map(lambda sub: sub.size())))
        1
        """
        feed = self._feed
        return Effect.sync(lambda: len(feed.buffer))

    def dropped(self) -> Effect[int]:
        """How many progress or output events were dropped because the buffer was full.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(Effect.scoped(TaskTree().subscribe().flat_map(lambda sub: sub.dropped())))
        0
        """
        feed = self._feed
        return Effect.sync(lambda: feed.dropped)


def _forget(feed: Feed, wake: Callable[[], None]) -> None:
    with feed.state.lock:
        if wake in feed.waiters:
            feed.waiters.remove(wake)


@final
class TaskTree(Generic[M]):
    """A tree of tasks with progress and output, watched through `snapshot()` and
    `subscribe()`; `M` is the type of the tasks' metadata.

    Make one per request (`TaskTree.scoped()`, closed with its scope) and run the
    request's work under it with `tree.provide(effect)`, or keep one for the whole
    program and start shared tasks in it (`tree.with_task(..., shared=True)`).
    Every method is safe to call from any fiber of any runtime; the tree's state is
    guarded by a lock, so writers on other threads can report to it.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, with_task
    >>> tree = TaskTree()
    >>> run_sync(tree.provide(with_task("import", Effect.succeed(42))))
    42
    >>> [(task["title"], task["status"]) for task in run_sync(tree.snapshot())]
    [('import', 'completed')]
    """

    __slots__ = ("_state",)

    def __init__(self, *, keep_output: int = DEFAULT_KEEP_OUTPUT) -> None:
        if isinstance(keep_output, bool) or not isinstance(keep_output, int) or keep_output < 0:
            raise ValueError(f"TaskTree: keep_output must be an int >= 0, got {keep_output!r}")
        self._state = TreeState(keep_output)

    def __repr__(self) -> str:
        state = self._state
        closed = ", closed" if state.closed else ""
        return f"TaskTree(tasks={len(state.nodes)}, subscribers={len(state.feeds)}{closed})"

    # -- making ---------------------------------------------------------------------

    @classmethod
    def make(cls, *, keep_output: int = DEFAULT_KEEP_OUTPUT) -> Effect[TaskTree[M]]:
        """A new, empty tree; each task keeps its last `keep_output` output lines.

        >>> from effectpy import run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(TaskTree[dict[str, str]].make())
        TaskTree(tasks=0, subscribers=0)
        """
        return Effect.sync(lambda: cls(keep_output=keep_output))

    @classmethod
    def scoped(cls, *, keep_output: int = DEFAULT_KEEP_OUTPUT) -> Effect[TaskTree[M], Never, Scope]:
        """A new tree that is closed (`close()`) when the current scope closes: a tree
        per request.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(Effect.scoped(TaskTree.scoped()))
        TaskTree(tasks=0, subscribers=0, closed)
        """
        return Effect.acquire_release(
            cls.make(keep_output=keep_output), lambda tree, _exit: tree.close()
        )

    # -- running tasks ----------------------------------------------------------------

    def provide(self, effect: Effect[A, E, R]) -> Effect[A, E, R]:
        """Run `effect` with this as the current tree: the `with_task` calls in it (and
        in the fibers it starts) make tasks here, at the root.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree, current_task_id, with_task
        >>> run_sync(TaskTree().provide(with_task("first", current_task_id())))
        '1'
        """
        check_effect(effect, "TaskTree.provide")
        return locally(CURSOR, Cursor(self._state, None), effect)

    @overload
    def with_task(
        self,
        title: str,
        effect: Effect[A, E, R],
        meta: M | None = None,
        *,
        shared: Literal[False] = False,
        owner: str | None = None,
    ) -> Effect[A, E, R]: ...
    @overload
    def with_task(
        self,
        title: str,
        effect: Effect[A, E, R],
        meta: M | None = None,
        *,
        shared: Literal[True],
        owner: str | None = None,
    ) -> Effect[TaskRef[A, E], Never, R]: ...
    def with_task(
        self,
        title: str,
        effect: Effect[A, E, R],
        meta: M | None = None,
        *,
        shared: bool = False,
        owner: str | None = None,
    ) -> Effect[A, E, R] | Effect[TaskRef[A, E], Never, R]:
        """Run `effect` as a task of this tree: under the current task if the fiber is
        in one of this tree, else as a root. `meta` is the task's metadata, `owner`
        who started it (see `snapshot`; subtasks inherit it).

        With `shared=True` the task runs in a daemon fiber (it outlives the fiber that
        started it, up to the end of the runtime) and this succeeds at once with its
        `TaskRef`.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree, step
        >>> tree = TaskTree[str]()
        >>> run_sync(tree.with_task("count", step(2).as_("counted"), meta="batch 7"))
        'counted'
        >>> [(t["current"], t["meta"]) for t in run_sync(tree.snapshot())]
        [(2, 'batch 7')]
        """
        check_title(title, "TaskTree.with_task")
        check_effect(effect, "TaskTree.with_task")
        if owner is not None and not isinstance(owner, str):
            raise TypeError(f"TaskTree.with_task: owner must be a str, got {type(owner).__name__}")
        if shared:
            return start_shared(self._state, title, effect, meta, owner)
        return run_task(self._state, title, effect, meta, owner)

    def set_meta(self, value: M) -> Effect[None]:
        """Set the metadata of the current task, if it belongs to this tree (else do
        nothing). mypy checks `value` against `M`.

        >>> from effectpy import run_sync
        >>> from effectpy.tasks import TaskTree
        >>> tree = TaskTree[int]()
        >>> run_sync(tree.with_task("t", tree.set_meta(7)).and_then(tree.snapshot()))[0]["meta"]
        7
        """
        state = self._state

        def set_meta(fiber: FiberRuntime) -> Effect[None]:
            found = current_node(fiber)
            if found is not None and found[0] is state:
                state.set_meta(found[1], value)
            return Effect.unit()

        return with_fiber(set_meta)

    # -- watching ---------------------------------------------------------------------

    def snapshot(self, *, owner: str | None = None) -> Effect[list[TaskSnapshot]]:
        """The tree as JSON data: a list of root tasks, each with its `children`.
        `is_owner` is true on the tasks started with this `owner`.

        >>> import json
        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> tree = TaskTree()
        >>> _ = run_sync(tree.with_task("sync", Effect.unit(), owner="ada"))
        >>> tasks = run_sync(tree.snapshot(owner="ada"))
        >>> json.loads(json.dumps(tasks)) == tasks
        True
        >>> print(*tasks[0])
        id title status error current total meta output is_owner children
        >>> tasks[0]["status"], tasks[0]["is_owner"]
        ('completed', True)
        """
        state = self._state
        return Effect.sync(lambda: state.snapshot(owner))

    def subscribe(
        self, *, capacity: int = DEFAULT_CAPACITY, owner: str | None = None
    ) -> Effect[TaskSubscription, Never, Scope]:
        """A stream of this tree's events, until the current scope closes. Its first
        event is the tree as it is; `owner` is the subscriber's identity for `is_owner`.
        A `capacity` below 1 is a `ValueError`.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> run_sync(Effect.scoped(TaskTree().subscribe(capacity=8)))
        TaskSubscription(size=1, capacity=8)
        """
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"TaskTree.subscribe: capacity must be an int >= 1, got {capacity!r}")
        state = self._state
        return Effect.acquire_release(
            Effect.sync(lambda: state.subscribe(capacity, owner)),
            lambda feed, _exit: Effect.sync(lambda: state.unsubscribe(feed)),
        ).map(TaskSubscription)

    # -- controlling ------------------------------------------------------------------

    def cancel(self, task_id: str) -> Effect[bool]:
        """Interrupt the fiber running the task `task_id` (reason `Manual`) and wait until
        it has stopped (not when called from inside that fiber). True if the task was
        running; False if it had finished, has no fiber of its own (a writer's task:
        cancel the task that opened it) or there is no such task.

        A cancelled task ends `cancelled`, and its `with_task` fails with the
        interruption: the fiber that waits for it is not interrupted, so it can carry
        on (`.exit()`, `catch_all_cause`); left unhandled, the interruption ends the
        enclosing tasks as `cancelled` too.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> tree = TaskTree()
        >>> started = tree.with_task("forever", Effect.never(), shared=True)
        >>> run_sync(started.flat_map(lambda ref: tree.cancel(ref.id)))
        True
        >>> run_sync(tree.snapshot())[0]["error"]
        'interrupted on request'
        """
        state = self._state

        def cancel(me: FiberRuntime) -> Effect[bool]:
            node = state.find(task_id)
            if node is None:
                return Effect.succeed(False)
            with state.lock:
                target = None if node.finished else node.fiber
            if target is None:
                return Effect.succeed(False)
            fiber = Fiber.of(target)
            if _runs_in(me, target):
                return fiber.interrupt_fork().as_(True)
            return fiber.interrupt_fork().and_then(fiber.await_()).as_(True)

        return with_fiber(cancel)

    def close(self) -> Effect[None]:
        """Cancel the tasks still running (reason `ScopeClosed`), wait for them, then end
        every subscription (`TreeClosed`). The snapshot stays readable.

        >>> from effectpy import run_sync
        >>> from effectpy.tasks import TaskTree
        >>> tree = TaskTree()
        >>> run_sync(tree.close()); tree
        TaskTree(tasks=0, subscribers=0, closed)
        """
        state = self._state

        def close(me: FiberRuntime) -> Effect[None]:
            running = state.running()
            reason = ScopeClosed("task tree")
            waits: list[Fiber[Any, Any]] = []
            for target in running:
                _interrupt(target, me.id, reason)
                if not _runs_in(me, target):
                    waits.append(Fiber.of(target))
            return Fiber.await_all(waits).and_then(Effect.sync(state.close))

        return with_fiber(close).uninterruptible()

    def forget_finished(self) -> Effect[int]:
        """Remove the finished root tasks (with their subtasks), so a long-lived shared
        tree does not grow forever; succeeds with how many were removed.

        >>> from effectpy import Effect, run_sync
        >>> from effectpy.tasks import TaskTree
        >>> tree = TaskTree()
        >>> run_sync(tree.with_task("done", Effect.unit()).and_then(tree.forget_finished()))
        1
        """
        state = self._state
        return Effect.sync(state.forget_finished)


def _runs_in(me: FiberRuntime, target: FiberRuntime) -> bool:
    """Whether `me` is `target` or one of its (supervised) descendants."""
    fiber: FiberRuntime | None = me
    while fiber is not None:
        if fiber is target:
            return True
        fiber = fiber.parent
    return False


def _interrupt(target: FiberRuntime, interruptor: FiberId, reason: InterruptReason) -> None:
    """Interrupt `target` from any thread (on its scheduler's thread)."""
    if target.scheduler.on_scheduler_thread():
        target.interrupt_as(interruptor, reason)
    else:
        target.scheduler.call_threadsafe(lambda: target.interrupt_as(interruptor, reason))
