"""Task trees: see what a running program is doing, as a tree of tasks with progress.

`with_task(title, effect)` runs `effect` as a task node of the current `TaskTree`:
`created`, then `running` while the effect runs, then `completed`, `failed` (with the
error) or `cancelled` (interrupted), from the effect's exit. Tasks started inside it,
in the same fiber or in fibers it forks, hang under it. Inside a task, `progress`,
`step`, `output` and `set_meta` report to it, and `output_writer` / `writer_progress`
give file-like objects (for threads and blocking code) that report to a subtask.
Outside any tree all of these do nothing, so library code can report unconditionally.

A `TaskTree` is watched with `snapshot()` (JSON data) and `subscribe()` (a bounded
stream of events that never slows the work down); `cancel(task_id)` stops one task.
`render_text`, `render_plain` (CI logs) and `render_live` (rich, in place) draw it.

>>> from effectpy import Effect, run_sync
>>> from effectpy.tasks import TaskTree, output, progress, render_text, with_task
>>> def validate() -> Effect[None]:
...     return progress(100, 100).and_then(output("100 rows are valid"))
>>> tree = TaskTree()
>>> run_sync(tree.provide(with_task("import", with_task("validate", validate()))))
>>> print(render_text(run_sync(tree.snapshot())))
import [completed]
└── validate [completed] [##########] 100/100
      > 100 rows are valid

Each task runs its effect in a child fiber of its own, so that `cancel` interrupts
exactly that task's work: a cancelled task's `with_task` fails with the interruption
in the fiber that waits for it, which is not interrupted itself and may carry on.
"""

from ._current import TaskWriter as TaskWriter
from ._current import current_task_id as current_task_id
from ._current import output as output
from ._current import output_writer as output_writer
from ._current import progress as progress
from ._current import set_meta as set_meta
from ._current import step as step
from ._current import with_task as with_task
from ._current import writer_progress as writer_progress
from ._render import render_live as render_live
from ._render import render_plain as render_plain
from ._render import render_rich as render_rich
from ._render import render_text as render_text
from ._state import TaskEvent as TaskEvent
from ._state import TaskOutput as TaskOutput
from ._state import TaskProgress as TaskProgress
from ._state import TaskSnapshot as TaskSnapshot
from ._state import TaskStatus as TaskStatus
from ._state import TreeChanged as TreeChanged
from ._state import TreeClosed as TreeClosed
from ._tree import TaskRef as TaskRef
from ._tree import TaskSubscription as TaskSubscription
from ._tree import TaskTree as TaskTree

__all__ = [
    "TaskEvent",
    "TaskOutput",
    "TaskProgress",
    "TaskRef",
    "TaskSnapshot",
    "TaskStatus",
    "TaskSubscription",
    "TaskTree",
    "TaskWriter",
    "TreeChanged",
    "TreeClosed",
    "current_task_id",
    "output",
    "output_writer",
    "progress",
    "render_live",
    "render_plain",
    "render_rich",
    "render_text",
    "set_meta",
    "step",
    "with_task",
    "writer_progress",
]
