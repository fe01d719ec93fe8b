"""Drawing a task tree: as text (CI logs), line by line as it changes, or live with rich.

`render_text` and `render_plain` need nothing; `render_rich` and `render_live` need
the optional dependency `rich` (`pip install 'effectpy[rich]'`), imported only when
they are called.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, TextIO

from ..effect import Effect
from ._state import TaskEvent, TaskOutput, TaskProgress, TaskSnapshot, TreeChanged, TreeClosed
from ._tree import TaskSubscription, TaskTree

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

_BAR_WIDTH: Final = 10
_TAG_WIDTH: Final = len("[completed]")


# -- text -------------------------------------------------------------------------------


def _bar(current: int, total: int) -> str:
    filled = min(_BAR_WIDTH, current * _BAR_WIDTH // total)
    return "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]"


def _text_label(task: TaskSnapshot) -> str:
    label = f"{task['title']} [{task['status']}]"
    if task["total"] > 0:
        label += f" {_bar(task['current'], task['total'])} {task['current']}/{task['total']}"
    elif task["current"] > 0:
        label += f" {task['current']}"
    if task["error"]:
        label += f" {task['error']}"
    return label


def render_text(tasks: Sequence[TaskSnapshot], *, output_lines: int = 3) -> str:
    """Draw a snapshot as plain text: one line per task with its status, progress
    bar and error, and its last `output_lines` lines of output under it.

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, output, progress, render_text, with_task
    >>> tree = TaskTree()
    >>> work = with_task("fetch", output("42 rows")).and_then(
    ...     with_task("write", progress(4, 10).and_then(Effect.fail("disk full"))))
    >>> _ = run_sync(tree.provide(with_task("import", work)).exit())
    >>> print(render_text(run_sync(tree.snapshot())))
    import [failed] disk full
    ├── fetch [completed]
    │     > 42 rows
    └── write [failed] [####------] 4/10 disk full
    """
    if not tasks:
        return "(no tasks)"
    lines: list[str] = []
    stack: list[tuple[TaskSnapshot, str, str]] = [(task, "", "") for task in reversed(tasks)]
    while stack:
        task, first, rest = stack.pop()
        lines.append(first + _text_label(task))
        children = task["children"]
        guide = "│ " if children else "  "
        shown = task["output"][-output_lines:] if output_lines > 0 else []
        lines.extend(f"{rest}{guide}> {line}" for line in shown)
        last = len(children) - 1
        for index in range(last, -1, -1):
            if index == last:
                stack.append((children[index], rest + "└── ", rest + "    "))
            else:
                stack.append((children[index], rest + "├── ", rest + "│   "))
    return "\n".join(lines)


class _PlainPrinter:
    """Turns batches of events into log lines: tasks starting, their progress (every
    10%) and output, tasks ending.

    A "tree changed" event shows the tree as it was when taken, which may be later
    than the progress and output events taken with it. So a batch is printed in the
    order things must have happened: the tasks that started, then the progress and
    output in order, then the tasks that ended (subtasks before their parents).
    """

    __slots__ = ("_file", "_paths", "_printed", "_tenths")

    def __init__(self, file: TextIO | None) -> None:
        self._file = file
        self._printed: dict[str, str] = {}
        """Per task, the last status printed ("running" or a final one)."""
        self._paths: dict[str, str] = {}
        self._tenths: dict[str, int] = {}

    def _print(self, tag: str, text: str) -> None:
        print(f"{'[' + tag + ']':<{_TAG_WIDTH}} {text}", file=self._file or sys.stdout)

    def handle(self, events: list[TaskEvent]) -> None:
        trees = [event.tasks for event in events if isinstance(event, TreeChanged)]
        tasks = _preorder(trees[-1]) if trees else []
        for task, path in tasks:
            self._paths[task["id"]] = path
        for task, path in tasks:
            if (
                task["status"] in ("running", "completed", "failed")
                and task["id"] not in self._printed
            ):
                self._printed[task["id"]] = "running"
                self._print("running", path)
        for event in events:
            if isinstance(event, TaskProgress):
                self._progress(event)
            elif isinstance(event, TaskOutput):
                self._print("output", f"{self._path(event.task_id)}: {event.message}")
        for task, path in reversed(tasks):
            status = task["status"]
            if (
                status in ("completed", "failed", "cancelled")
                and self._printed.get(task["id"]) != status
            ):
                self._printed[task["id"]] = status
                self._print(status, path + (f": {task['error']}" if task["error"] else ""))

    def _progress(self, event: TaskProgress) -> None:
        if event.total <= 0:
            return
        tenths = min(10, event.current * 10 // event.total)
        if tenths > self._tenths.get(event.task_id, 0):
            self._tenths[event.task_id] = tenths
            percent = event.current * 100 // event.total
            path = self._path(event.task_id)
            self._print("progress", f"{path}: {event.current}/{event.total} ({percent}%)")

    def _path(self, task_id: str) -> str:
        return self._paths.get(task_id, f"task {task_id}")


def _preorder(tasks: list[TaskSnapshot]) -> list[tuple[TaskSnapshot, str]]:
    """Every task with its path ("import > validate"), parents before children."""
    found: list[tuple[TaskSnapshot, str]] = []
    stack = [(task, "") for task in reversed(tasks)]
    while stack:
        task, above = stack.pop()
        path = above + task["title"]
        found.append((task, path))
        stack.extend((child, path + " > ") for child in reversed(task["children"]))
    return found


def render_plain(tree: TaskTree[Any], *, file: TextIO | None = None) -> Effect[None]:
    """Print the tree's changes as they happen, one line each, for logs: a task
    starting or ending (with its error), its progress every 10%, its output. Fork it
    and interrupt it when done (it prints what is pending first), or let it end by
    itself when the tree is closed. Prints to `file` (default: `sys.stdout`).

    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, output, render_plain
    >>> tree = TaskTree()
    >>> work = tree.with_task("fetch", output("42 rows"))
    >>> program = render_plain(tree).fork().flat_map(
    ...     lambda view: Effect.yield_now().and_then(work).and_then(view.interrupt()))
    >>> _ = run_sync(program)
    [running]   fetch
    [output]    fetch: 42 rows
    [completed] fetch
    """
    printer = _PlainPrinter(file)

    def follow(subscription: TaskSubscription) -> Effect[None]:
        def loop() -> Effect[None]:
            return subscription.take().flat_map(
                lambda first: subscription.take_all().flat_map(lambda rest: batch([first, *rest]))
            )

        def batch(events: list[TaskEvent]) -> Effect[None]:
            printer.handle(events)
            if any(isinstance(event, TreeClosed) for event in events):
                return Effect.unit()
            return Effect.suspend(loop)

        def drain(_: object) -> Effect[None]:
            return subscription.take_all().map(printer.handle)

        return Effect.suspend(loop).on_interrupt(drain)

    return Effect.scoped(tree.subscribe().flat_map(follow))


# -- rich ---------------------------------------------------------------------------------

_ICONS: Final = {
    "created": ("·", "dim"),
    "running": ("▶", "yellow"),
    "completed": ("✔", "green"),
    "failed": ("✘", "red"),
    "cancelled": ("⊘", "magenta"),
}


def _require_rich(what: str) -> None:
    try:
        importlib.import_module("rich")
    except ImportError as error:
        raise ImportError(
            f"{what} needs the optional dependency rich: pip install 'effectpy[rich]' "
            "(or draw the tree without it: render_plain, render_text)"
        ) from error


def render_rich(tasks: Sequence[TaskSnapshot], *, output_lines: int = 3) -> RenderableType:
    """A snapshot as a rich renderable: a tree with status icons, aligned progress
    bars, errors, and the last `output_lines` lines of output. Needs `rich`
    (an `ImportError` says how to install it).

    >>> import io
    >>> from rich.console import Console
    >>> from effectpy import run_sync
    >>> from effectpy.tasks import TaskTree, progress, render_rich
    >>> tree = TaskTree()
    >>> run_sync(tree.with_task("upload", progress(5, 10)))
    >>> console = Console(file=io.StringIO(), width=40, record=True)
    >>> console.print(render_rich(run_sync(tree.snapshot())))
    >>> print(console.export_text().rstrip())
    ✔ upload ━━━━━━━━━━           5/10
    """
    _require_rich("render_rich")
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    if not tasks:
        return Text("no tasks", style="dim")

    def widths(task: TaskSnapshot, depth: int) -> int:
        own = depth * 4 + Text(task["title"]).cell_len
        return max([own, *(widths(child, depth + 1) for child in task["children"])])

    column = max(widths(task, 0) for task in tasks)

    def label(task: TaskSnapshot, depth: int) -> Table:
        icon, style = _ICONS[task["status"]]
        title = Text(task["title"])
        title.pad_right(column - depth * 4 - title.cell_len)
        row: list[RenderableType] = [Text.assemble((icon, style), " ", title)]
        if task["total"] > 0:
            row.append(ProgressBar(total=task["total"], completed=task["current"], width=20))
            row.append(Text(f"{task['current']}/{task['total']}", justify="right"))
        elif task["current"] > 0:
            row.append(Text(str(task["current"])))
        if task["error"]:
            row.append(Text(task["error"], style=style))
        grid = Table.grid(padding=(0, 1))
        grid.add_row(*row)
        return grid

    def add(parent: Tree, task: TaskSnapshot, depth: int) -> None:
        node = parent.add(label(task, depth))
        fill(node, task, depth)

    def fill(node: Tree, task: TaskSnapshot, depth: int) -> None:
        shown = task["output"][-output_lines:] if output_lines > 0 else []
        for line in shown:
            node.add(Text("› " + line, style="dim"))  # noqa: RUF001
        for child in task["children"]:
            add(node, child, depth + 1)

    trees: list[RenderableType] = []
    for task in tasks:
        root = Tree(label(task, 0), guide_style="dim")
        fill(root, task, 0)
        trees.append(root)
    return Group(*trees)


def render_live(
    tree: TaskTree[Any],
    *,
    console: Console | None = None,
    refresh_per_second: float | None = 10.0,
    output_lines: int = 3,
) -> Effect[None]:
    """Draw the tree in the terminal and keep redrawing it in place as it changes
    (`rich.live.Live`), at most `refresh_per_second` times a second (on the fiber's
    clock; None redraws after every batch of events). Fork it and interrupt it when
    done, or let it end when the tree is closed; either way it draws a last frame.
    Needs `rich`: without it, this raises an `ImportError` that says how to install it.

    >>> import io
    >>> from rich.console import Console
    >>> from effectpy import Effect, run_sync
    >>> from effectpy.tasks import TaskTree, render_live
    >>> tree = TaskTree()
    >>> console = Console(file=io.StringIO(), width=40)
    >>> view = render_live(tree, console=console, refresh_per_second=None)
    >>> work = tree.with_task("ping", Effect.unit())
    >>> _ = run_sync(view.fork().flat_map(lambda f: work.and_then(f.interrupt())))
    >>> console.file.getvalue().rstrip()
    '✔ ping'
    """
    _require_rich("render_live")
    from rich.live import Live

    if refresh_per_second is not None and not refresh_per_second > 0:
        raise ValueError(f"render_live: refresh_per_second must be > 0, got {refresh_per_second!r}")
    pause = Effect.unit() if refresh_per_second is None else Effect.sleep(1 / refresh_per_second)

    def draw(live: Live) -> Effect[None]:
        return tree.snapshot().map(
            lambda tasks: live.update(render_rich(tasks, output_lines=output_lines), refresh=True)
        )

    def start() -> Live:
        live = Live(console=console, auto_refresh=False, transient=False)
        live.start(refresh=False)
        return live

    def stop(live: Live, _exit: object) -> Effect[None]:
        def finish() -> None:
            live.stop()
            if not live.console.is_terminal:  # rich ends the last frame's line only on a tty
                live.console.line()

        return draw(live).and_then(Effect.sync(finish))

    def follow(subscription: TaskSubscription, live: Live) -> Effect[None]:
        def loop() -> Effect[None]:
            return subscription.take().flat_map(
                lambda first: subscription.take_all().flat_map(lambda rest: batch([first, *rest]))
            )

        def batch(events: list[TaskEvent]) -> Effect[None]:
            if any(isinstance(event, TreeClosed) for event in events):
                return Effect.unit()
            return draw(live).and_then(pause).and_then(Effect.suspend(loop))

        return Effect.suspend(loop)

    return Effect.scoped(
        tree.subscribe().flat_map(
            lambda subscription: Effect.acquire_release(Effect.sync(start), stop).flat_map(
                lambda live: follow(subscription, live)
            )
        )
    )
