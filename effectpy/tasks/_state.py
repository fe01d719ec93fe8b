"""The state of a task tree: nodes, subscriber feeds, and the one lock guarding both.

Nothing here runs an effect. Fibers (on a scheduler thread) and writers (on any thread,
say inside `Effect.blocking`) call the methods of `TreeState`; each takes the tree's
lock, changes the nodes, pushes an event into every feed, and, once the lock is
released, wakes the fibers waiting on those feeds (a wake-up is a `Resume`, which is
safe to call from any thread).

Feeds are bounded and never make a writer wait:

* the tree itself is a single pending entry, `_TREE`, turned into a `TreeChanged` with
  a fresh snapshot when it is taken: a change while one is pending changes nothing in
  the feed (the pending one keeps its place in line, ahead of the events that refer to
  the new nodes);
* a progress event replaces the pending progress event of the same node (the old one
  is removed, the new one goes to the back), so a reader never sees progress go back;
* when the feed is full, the oldest progress or output event is dropped and counted.

>>> state = TreeState(keep_output=2)
>>> node = state.add(None, "import", meta=None, owner=None)
>>> state.progress(node, 1, 3)
>>> [task["status"] for task in state.snapshot(None)], node.current
(['created'], 1)
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, TypeAlias, TypedDict

from .._core.exit import Exit, Failure
from .._interpreter.loop import FiberRuntime

TaskStatus: TypeAlias = Literal["created", "running", "completed", "failed", "cancelled"]
"""Where a task is in its life: created -> running -> completed | failed | cancelled."""

_FINISHED: Final[frozenset[str]] = frozenset({"completed", "failed", "cancelled"})


class TaskSnapshot(TypedDict):
    """One node of `TaskTree.snapshot()`: plain JSON data (`json.dumps` takes it).

    `current`/`total` are the progress (0/0 when none was reported), `output` the most
    recent output lines, `is_owner` whether the viewer passed as `owner=` started the
    task, `meta` the metadata converted to JSON (dataclasses become objects).
    """

    id: str
    title: str
    status: TaskStatus
    error: str | None
    current: int
    total: int
    meta: Any
    output: list[str]
    is_owner: bool
    children: list[TaskSnapshot]


# -- events ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class TreeChanged:
    """The tree's structure changed (a task was added, changed status or metadata).
    `tasks` is the whole tree, as it is when the event is taken.

    >>> TreeChanged([]).to_json()
    {'type': 'tree', 'tasks': []}
    """

    tasks: list[TaskSnapshot]

    def to_json(self) -> dict[str, Any]:
        """The event as JSON data, with a `type` field."""
        return {"type": "tree", "tasks": self.tasks}


@dataclasses.dataclass(frozen=True, slots=True)
class TaskProgress:
    """A task reported progress: `current` of `total`.

    >>> TaskProgress("3", 5, 10).to_json()
    {'type': 'progress', 'task_id': '3', 'current': 5, 'total': 10}
    """

    task_id: str
    current: int
    total: int

    def to_json(self) -> dict[str, Any]:
        """The event as JSON data, with a `type` field."""
        return {
            "type": "progress",
            "task_id": self.task_id,
            "current": self.current,
            "total": self.total,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class TaskOutput:
    """A task wrote a line of output.

    >>> TaskOutput("3", "fetched 42 records").to_json()
    {'type': 'output', 'task_id': '3', 'message': 'fetched 42 records'}
    """

    task_id: str
    message: str

    def to_json(self) -> dict[str, Any]:
        """The event as JSON data, with a `type` field."""
        return {"type": "output", "task_id": self.task_id, "message": self.message}


@dataclasses.dataclass(frozen=True, slots=True)
class TreeClosed:
    """The end of the stream: the tree (or the subscription) was closed and every
    earlier event was taken. Every later read gives it again.

    >>> TreeClosed().to_json()
    {'type': 'closed'}
    """

    def to_json(self) -> dict[str, Any]:
        """The event as JSON data, with a `type` field."""
        return {"type": "closed"}


TaskEvent: TypeAlias = TreeChanged | TaskProgress | TaskOutput | TreeClosed
"""What a subscription delivers; a closed union, so a `match` can be exhaustive."""

_CLOSED: Final = TreeClosed()


class _TreeMarker:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<tree changed>"


_TREE: Final = _TreeMarker()
"""The pending "tree changed" entry of a feed (made into a snapshot when taken)."""

_Entry: TypeAlias = _TreeMarker | TaskProgress | TaskOutput
Wake: TypeAlias = Callable[[], None]


# -- nodes ----------------------------------------------------------------------------


class Node:
    """One task. Changed only under the tree's lock."""

    __slots__ = (
        "children",
        "current",
        "error",
        "fiber",
        "id",
        "meta",
        "output",
        "owner",
        "parent",
        "status",
        "title",
        "total",
    )

    def __init__(
        self,
        id: str,
        title: str,
        parent: Node | None,
        meta: object,
        owner: str | None,
        keep_output: int,
    ) -> None:
        self.id = id
        self.title = title
        self.parent = parent
        self.meta = meta
        self.owner = owner
        self.status: TaskStatus = "created"
        self.error: str | None = None
        self.current = 0
        self.total = 0
        self.output: deque[str] = deque(maxlen=keep_output)
        self.children: list[Node] = []
        self.fiber: FiberRuntime | None = None
        """The fiber running the task, which `cancel` interrupts (None for a writer's
        task, and once the task is finished)."""

    @property
    def finished(self) -> bool:
        return self.status in _FINISHED

    def __repr__(self) -> str:
        return f"<task {self.id} {self.title!r} {self.status}>"

    def is_within(self, other: Node) -> bool:
        """Whether this node is `other` or one of its descendants."""
        node: Node | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


# -- feeds ----------------------------------------------------------------------------


class Feed:
    """The buffer of one subscriber (see the module docstring for its rules)."""

    __slots__ = (
        "buffer",
        "capacity",
        "closed",
        "dropped",
        "owner",
        "progress",
        "state",
        "tree_pending",
        "waiters",
    )

    def __init__(self, state: TreeState, capacity: int, owner: str | None) -> None:
        self.state = state
        self.capacity = capacity
        self.owner = owner
        self.buffer: deque[_Entry] = deque()
        self.progress: dict[str, TaskProgress] = {}
        self.tree_pending = False
        self.closed = False
        self.dropped = 0
        self.waiters: list[Wake] = []

    # -- pushing (under the lock) ------------------------------------------------------

    def push_tree(self) -> list[Wake]:
        if self.closed or self.tree_pending:
            return []
        self.tree_pending = True
        return self._push(_TREE)

    def push_progress(self, event: TaskProgress) -> list[Wake]:
        if self.closed:
            return []
        older = self.progress.pop(event.task_id, None)
        if older is not None:
            _remove_identical(self.buffer, older)
        self.progress[event.task_id] = event
        return self._push(event)

    def push_output(self, event: TaskOutput) -> list[Wake]:
        if self.closed:
            return []
        return self._push(event)

    def _push(self, entry: _Entry) -> list[Wake]:
        buffer = self.buffer
        if len(buffer) >= self.capacity:
            # At most one entry is the tree, so the oldest droppable one is first or second.
            index = 1 if buffer[0] is _TREE else 0
            if index < len(buffer):
                victim = buffer[index]
                del buffer[index]
                if isinstance(victim, TaskProgress) and self.progress.get(victim.task_id) is victim:
                    del self.progress[victim.task_id]
            else:  # a one-place feed holding the tree: the newcomer has to go
                victim = entry
            self.dropped += 1
            if victim is entry:
                if isinstance(entry, TaskProgress):
                    del self.progress[entry.task_id]
                return []
        buffer.append(entry)
        return self.take_waiters()

    def take_waiters(self) -> list[Wake]:
        waiters, self.waiters = self.waiters, []
        return waiters

    # -- taking (under the lock) -------------------------------------------------------

    def pop(self) -> TaskEvent | None:
        """The next event; `TreeClosed` once closed and drained; None if there is none yet."""
        if self.buffer:
            entry = self.buffer.popleft()
            if isinstance(entry, _TreeMarker):
                self.tree_pending = False
                return TreeChanged(self.state.snapshot_locked(self.owner))
            if isinstance(entry, TaskProgress) and self.progress.get(entry.task_id) is entry:
                del self.progress[entry.task_id]
            return entry
        if self.closed:
            return _CLOSED
        return None

    def close(self) -> list[Wake]:
        self.closed = True
        return self.take_waiters()


def _remove_identical(buffer: deque[_Entry], entry: _Entry) -> None:
    for index, candidate in enumerate(buffer):
        if candidate is entry:
            del buffer[index]
            return


# -- the tree ---------------------------------------------------------------------------


class TreeState:
    """The nodes and feeds of one task tree, behind one lock."""

    __slots__ = ("_ids", "closed", "feeds", "keep_output", "lock", "nodes", "roots")

    def __init__(self, keep_output: int) -> None:
        self.lock = threading.Lock()
        self.keep_output = keep_output
        self.roots: list[Node] = []
        self.nodes: dict[str, Node] = {}
        self.feeds: list[Feed] = []
        self.closed = False
        self._ids = itertools.count(1)

    # -- changes ------------------------------------------------------------------

    def add(
        self,
        parent: Node | None,
        title: str,
        meta: object,
        owner: str | None,
        *,
        status: TaskStatus = "created",
        total: int = 0,
    ) -> Node:
        """A new task under `parent` (a root if None); it inherits the parent's owner."""
        with self.lock:
            if owner is None and parent is not None:
                owner = parent.owner
            node = Node(str(next(self._ids)), title, parent, meta, owner, self.keep_output)
            node.status = status
            node.total = total
            self.nodes[node.id] = node
            (self.roots if parent is None else parent.children).append(node)
            wakes = self._tree_changed()
        _wake(wakes)
        return node

    def attach(self, node: Node, fiber: FiberRuntime) -> None:
        """Record the fiber that runs `node` (and that a cancel interrupts)."""
        with self.lock:
            if not node.finished:
                node.fiber = fiber

    def start(self, node: Node) -> None:
        """created -> running."""
        with self.lock:
            if node.status != "created":
                return
            node.status = "running"
            wakes = self._tree_changed()
        _wake(wakes)

    def finish(self, node: Node, status: TaskStatus, error: str | None = None) -> None:
        """The task ended (the first ending counts)."""
        with self.lock:
            if node.finished:
                return
            node.status = status
            node.error = error
            node.fiber = None
            wakes = self._tree_changed()
        _wake(wakes)

    def finish_with(self, node: Node, exit: Exit[Any, Any]) -> None:
        """The task ended with `exit`."""
        status, error = outcome(exit)
        self.finish(node, status, error)

    def progress(self, node: Node, current: int, total: int | None) -> None:
        """Set `current` (and `total`, unless None)."""
        with self.lock:
            node.current = current
            if total is not None:
                node.total = total
            event = TaskProgress(node.id, node.current, node.total)
            wakes = [wake for feed in self.feeds for wake in feed.push_progress(event)]
        _wake(wakes)

    def step(self, node: Node, delta: int) -> None:
        with self.lock:
            node.current += delta
            event = TaskProgress(node.id, node.current, node.total)
            wakes = [wake for feed in self.feeds for wake in feed.push_progress(event)]
        _wake(wakes)

    def output(self, node: Node, message: str) -> None:
        with self.lock:
            node.output.append(message)
            event = TaskOutput(node.id, message)
            wakes = [wake for feed in self.feeds for wake in feed.push_output(event)]
        _wake(wakes)

    def set_meta(self, node: Node, meta: object) -> None:
        with self.lock:
            node.meta = meta
            wakes = self._tree_changed()
        _wake(wakes)

    def forget_finished(self) -> int:
        """Remove finished root tasks (with their subtasks); how many roots went."""
        with self.lock:
            gone = [root for root in self.roots if root.finished]
            if not gone:
                return 0
            self.roots = [root for root in self.roots if not root.finished]
            pending = list(gone)
            while pending:
                node = pending.pop()
                self.nodes.pop(node.id, None)
                pending.extend(node.children)
            wakes = self._tree_changed()
        _wake(wakes)
        return len(gone)

    def _tree_changed(self) -> list[Wake]:
        return [wake for feed in self.feeds for wake in feed.push_tree()]

    # -- subscribers ----------------------------------------------------------------

    def subscribe(self, capacity: int, owner: str | None) -> Feed:
        """A new feed whose first event is the tree as it is."""
        feed = Feed(self, capacity, owner)
        with self.lock:
            feed.push_tree()
            if self.closed:
                feed.closed = True
            else:
                self.feeds.append(feed)
        return feed

    def unsubscribe(self, feed: Feed) -> None:
        with self.lock:
            if feed in self.feeds:
                self.feeds.remove(feed)
            wakes = feed.close()
        _wake(wakes)

    def running(self) -> list[FiberRuntime]:
        """The fibers of the tasks still running."""
        with self.lock:
            return [node.fiber for node in self.nodes.values() if node.fiber is not None]

    def close(self) -> None:
        """End every feed (later changes are still recorded, for snapshots)."""
        with self.lock:
            self.closed = True
            feeds, self.feeds = self.feeds, []
            wakes = [wake for feed in feeds for wake in feed.close()]
        _wake(wakes)

    # -- reading ---------------------------------------------------------------------

    def find(self, task_id: str) -> Node | None:
        with self.lock:
            return self.nodes.get(task_id)

    def snapshot(self, viewer: str | None) -> list[TaskSnapshot]:
        with self.lock:
            return self.snapshot_locked(viewer)

    def snapshot_locked(self, viewer: str | None) -> list[TaskSnapshot]:
        def node_json(node: Node) -> TaskSnapshot:
            return {
                "id": node.id,
                "title": node.title,
                "status": node.status,
                "error": node.error,
                "current": node.current,
                "total": node.total,
                "meta": to_json(node.meta),
                "output": list(node.output),
                "is_owner": viewer is not None and node.owner == viewer,
                "children": [node_json(child) for child in node.children],
            }

        return [node_json(root) for root in self.roots]


def _wake(wakes: list[Wake]) -> None:
    for wake in wakes:
        wake()


# -- exits and metadata as data ------------------------------------------------------------


def outcome(exit: Exit[Any, Any]) -> tuple[TaskStatus, str | None]:
    """The status and error string a task gets from its effect's exit: an interruption
    (and nothing else) is `cancelled` with the reason; any other failure is `failed`.

    >>> from effectpy import Exit
    >>> outcome(Exit.fail(ValueError("bad row")))
    ('failed', 'ValueError: bad row')
    """
    if not isinstance(exit, Failure):
        return "completed", None
    cause = exit.cause
    if cause.is_interrupted_only():
        reasons = dict.fromkeys(str(interrupt.reason) for interrupt in cause.interruptions())
        return "cancelled", "; ".join(reasons)
    errors = [*cause.failures(), *cause.defects()]
    return "failed", "; ".join(_describe(error) for error in errors) or "failed"


def _describe(error: object) -> str:
    if isinstance(error, BaseException):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)


def to_json(value: object) -> Any:
    """`value` as JSON data: dataclasses and named tuples become objects, mappings
    objects with string keys, other collections lists, enums their value; anything
    else its `str`.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Upload:
    ...     filename: str
    ...     sizes: tuple[int, ...]
    >>> to_json(Upload("users.csv", (1, 2)))
    {'filename': 'users.csv', 'sizes': [1, 2]}
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {str(key): to_json(item) for key, item in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    return str(value)
