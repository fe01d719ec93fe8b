"""Reporting to the current task: the functions that find their task through the fiber.

Each of them reads the fiber's cursor when it runs. Outside any task tree (no
`TaskTree.provide`, no task) they do nothing, so library code can report progress
whether or not anybody watches.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Never, final

from typing_extensions import TypeVar

from .._core.exit import Exit, Success
from .._interpreter.loop import FiberRuntime
from ..effect import Effect
from ..effect import _with_fiber as with_fiber
from ..scope import Scope
from ._state import Node, TreeState, outcome
from ._tree import check_effect, check_title, current_node, run_task

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")

_UNIT: Final[Effect[None]] = Effect.unit()


def with_task(title: str, effect: Effect[A, E, R], meta: object = None) -> Effect[A, E, R]:
    """Run `effect` as a task of the current tree: a child of the current task, or a
    root task when the fiber is in no task yet. The task is `running` while the effect
    runs in a child fiber of its own (so that `TaskTree.cancel` can stop exactly it),
    then `completed`, `failed` (with the error) or `cancelled` (interrupted).

    Fibers the effect forks (`fork`, `Effect.all`, `spawn`) make their tasks under it.
    Outside any tree, this is `effect` itself. For typed metadata, use
    `TaskTree[M].with_task`.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, with_task
    >>> tree = TaskTree()
    >>> nested = with_task("import", with_task("validate", Effect.succeed("ok")))
    >>> run_sync(tree.provide(nested))
    'ok'
    >>> task = run_sync(tree.snapshot())[0]
    >>> task["title"], task["children"][0]["title"], task["children"][0]["status"]
    ('import', 'validate', 'completed')
    """
    check_title(title, "with_task")
    check_effect(effect, "with_task")
    return run_task(None, title, effect, meta, None)


def _on_current(f: Any) -> Effect[None]:
    """An effect calling `f(state, node)` for the current task, if there is one."""

    def run(fiber: FiberRuntime) -> Effect[None]:
        found = current_node(fiber)
        if found is not None:
            f(*found)
        return _UNIT

    return with_fiber(run)


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be an int >= 0, got {value!r}")
    return value


def progress(current: int, total: int) -> Effect[None]:
    """Set the current task's progress to `current` of `total`. A negative number is a
    `ValueError`.

    >>> from effectpy import run_sync
    >>> from effectpy.tasks import TaskTree, progress
    >>> tree = TaskTree()
    >>> run_sync(tree.with_task("upload", progress(30, 120)))
    >>> task = run_sync(tree.snapshot())[0]
    >>> task["current"], task["total"]
    (30, 120)
    """
    current = _check_count(current, "progress: current")
    total = _check_count(total, "progress: total")
    return _on_current(lambda state, node: state.progress(node, current, total))


def step(n: int = 1) -> Effect[None]:
    """Add `n` to the current task's progress (its total stays). A negative `n` is a
    `ValueError`.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, progress, step
    >>> tree = TaskTree()
    >>> work = progress(0, 3).and_then(Effect.for_each(range(3), lambda _: step()))
    >>> _ = run_sync(tree.with_task("rows", work))
    >>> run_sync(tree.snapshot())[0]["current"]
    3
    """
    n = _check_count(n, "step: n")
    return _on_current(lambda state, node: state.step(node, n))


def output(message: str) -> Effect[None]:
    """Attach a line of text output to the current task.

    >>> from effectpy import run_sync
    >>> from effectpy.tasks import TaskTree, output
    >>> tree = TaskTree()
    >>> run_sync(tree.with_task("fetch", output("fetched 42 records")))
    >>> run_sync(tree.snapshot())[0]["output"]
    ['fetched 42 records']
    """
    if not isinstance(message, str):
        raise TypeError(f"output: the message must be a str, got {type(message).__name__}")
    return _on_current(lambda state, node: state.output(node, message))


def set_meta(value: object) -> Effect[None]:
    """Set the current task's metadata (shown as JSON in snapshots). For a checked
    type, use `TaskTree[M].set_meta`.

    >>> from effectpy import run_sync
    >>> from effectpy.tasks import TaskTree, set_meta
    >>> tree = TaskTree()
    >>> run_sync(tree.with_task("import", set_meta({"file": "users.csv"})))
    >>> run_sync(tree.snapshot())[0]["meta"]
    {'file': 'users.csv'}
    """
    return _on_current(lambda state, node: state.set_meta(node, value))


def current_task_id() -> Effect[str | None]:
    """The id of the task the fiber runs in, or None.

    >>> from effectpy import run_sync
    >>> from effectpy.tasks import TaskTree, current_task_id
    >>> run_sync(current_task_id()) is None
    True
    >>> run_sync(TaskTree().with_task("t", current_task_id()))
    '1'
    """

    def read(fiber: FiberRuntime) -> Effect[str | None]:
        found = current_node(fiber)
        return Effect.succeed(None if found is None else found[1].id)

    return with_fiber(read)


# -- writers ------------------------------------------------------------------------------

_OUTPUT: Final = "output"
_BYTES: Final = "bytes"


@final
class TaskWriter:
    """A file-like object that reports to a task node of its own: each line written
    to an `output_writer` is an output line; each byte written to a
    `writer_progress` is a step of progress.

    It accepts `str` and `bytes` (UTF-8), so `print(..., file=writer)` and
    `shutil.copyfileobj(source, writer)` both work, from any thread (say, inside
    `Effect.blocking`); a line written in one call stays whole. `close()` completes
    the task (its scope closes it otherwise); writing after that is a `ValueError`.
    Outside any task tree, a writer takes what is written and drops it.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import output_writer
    >>> run_sync(Effect.scoped(output_writer("log").map(lambda log: log.write("hello\\n"))))
    6
    """

    __slots__ = ("_closed", "_decoder", "_lock", "_mode", "_node", "_partial", "_state")

    def __init__(self, state: TreeState | None, node: Node | None, mode: str) -> None:
        self._state = state
        self._node = node
        self._mode = mode
        self._lock = threading.Lock()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._closed = False

    def __repr__(self) -> str:
        task = "no task" if self._node is None else f"task {self._node.id}"
        closed = ", closed" if self._closed else ""
        return f"TaskWriter({self._mode}, {task}{closed})"

    @property
    def task_id(self) -> str | None:
        """The id of the writer's task (None outside any task tree)."""
        return None if self._node is None else self._node.id

    @property
    def closed(self) -> bool:
        return self._closed

    def writable(self) -> bool:
        return True

    def write(self, data: str | bytes | bytearray | memoryview) -> int:
        """Report `data`; returns how many characters (or bytes) it had."""
        with self._lock:
            if self._closed:
                raise ValueError("write to a closed TaskWriter")
            size = len(data)
            state, node = self._state, self._node
            if state is None or node is None:
                return size
            if self._mode == _BYTES:
                count = len(data.encode()) if isinstance(data, str) else memoryview(data).nbytes
                state.step(node, count)
                return size
            text = data if isinstance(data, str) else self._decoder.decode(bytes(data))
            *lines, self._partial = (self._partial + text).split("\n")
            for line in lines:
                state.output(node, line.removesuffix("\r"))
        return size

    def writelines(self, lines: Iterable[str | bytes]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Report the unfinished line, if any, as a line of output."""
        with self._lock:
            if self._closed:
                return
            self._flush_locked()

    def _flush_locked(self) -> None:
        state, node = self._state, self._node
        if self._mode != _OUTPUT or state is None or node is None:
            return
        line = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        if line:
            state.output(node, line.removesuffix("\r"))

    def close(self, exit: Exit[Any, Any] | None = None) -> None:
        """Flush, and complete the task: completed, or as `exit` says if given (a
        failure marks the task failed). Closing twice does nothing more."""
        with self._lock:
            if self._closed:
                return
            self._flush_locked()
            self._closed = True
        if self._state is not None and self._node is not None:
            status, error = ("completed", None) if exit is None else outcome(exit)
            self._state.finish(self._node, status, error)

    def __enter__(self) -> TaskWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.close(Exit.die(exc) if not isinstance(exc, Exception) else Exit.fail(exc))


def _writer(title: str, mode: str, total: int) -> Effect[TaskWriter, Never, Scope]:
    def open_writer(fiber: FiberRuntime) -> Effect[TaskWriter]:
        found = current_node(fiber)
        if found is None:
            return Effect.succeed(TaskWriter(None, None, mode))
        state, parent = found
        node = state.add(parent, title, None, None, status="running", total=total)
        return Effect.succeed(TaskWriter(state, node, mode))

    def close(writer: TaskWriter, exit: Exit[Any, Any]) -> Effect[None]:
        return Effect.sync(lambda: writer.close(None if isinstance(exit, Success) else exit))

    return Effect.acquire_release(with_fiber(open_writer), close)


def output_writer(title: str) -> Effect[TaskWriter, Never, Scope]:
    """A `TaskWriter` whose lines become output of a new subtask `title` of the
    current task. The subtask completes when the writer is closed, or ends with the
    current scope (failed or cancelled if the scope's work did). It has no fiber of
    its own: `TaskTree.cancel` stops the task that opened it, not the writer.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, output_writer
    >>> tree = TaskTree()
    >>> def build(log):
    ...     return Effect.blocking(lambda signal: print("compiling\\nlinking", file=log))
    >>> run_sync(tree.with_task("build", Effect.scoped(output_writer("log").flat_map(build))))
    >>> run_sync(tree.snapshot())[0]["children"][0]["output"]
    ['compiling', 'linking']
    """
    check_title(title, "output_writer")
    return _writer(title, _OUTPUT, 0)


def writer_progress(title: str, size: int) -> Effect[TaskWriter, Never, Scope]:
    """A `TaskWriter` that counts the bytes written to it as the progress (out of
    `size`) of a new subtask `title` of the current task.

    >>> import io, shutil
    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, writer_progress
    >>> tree = TaskTree()
    >>> def copy(sink):
    ...     return Effect.blocking(lambda signal: shutil.copyfileobj(io.BytesIO(b"x" * 300), sink))
    >>> upload = Effect.scoped(writer_progress("upload", 300).flat_map(copy))
    >>> run_sync(tree.with_task("sync", upload))
    >>> bar = run_sync(tree.snapshot())[0]["children"][0]
    >>> bar["current"], bar["total"], bar["status"]
    (300, 300, 'completed')
    """
    check_title(title, "writer_progress")
    size = _check_count(size, "writer_progress: size")
    return _writer(title, _BYTES, size)
