"""Task trees: a task's status follows its effect's exit, tasks nest across fibers, the
event stream never slows the work, cancel stops exactly one task, snapshots are JSON,
writers work from threads, shared tasks outlive their starter, and the renderers draw."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Never

import pytest
from conftest import Latch, each_seed, run_seeded

from effectpy import (
    Clock,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Manual,
    Scope,
    TestClock,
    gen,
    run_fork,
    run_sync,
    run_sync_exit,
)
from effectpy.structured import branch, spawn
from effectpy.tasks import (
    TaskEvent,
    TaskOutput,
    TaskProgress,
    TaskRef,
    TaskSnapshot,
    TaskSubscription,
    TaskTree,
    TaskWriter,
    TreeChanged,
    TreeClosed,
    current_task_id,
    output,
    output_writer,
    progress,
    render_live,
    render_plain,
    render_rich,
    render_text,
    set_meta,
    step,
    with_task,
    writer_progress,
)

# -- helpers ----------------------------------------------------------------------------


def find(tasks: Sequence[TaskSnapshot], title: str) -> TaskSnapshot:
    """The task called `title`, anywhere in the tree."""
    stack = list(tasks)
    while stack:
        task = stack.pop()
        if task["title"] == title:
            return task
        stack.extend(task["children"])
    raise AssertionError(f"no task {title!r} in {tasks}")


def shape(tasks: Sequence[TaskSnapshot]) -> list[Any]:
    """The tree as (title, status, children) with children in title order."""
    return sorted((task["title"], task["status"], shape(task["children"])) for task in tasks)


def snapshot_of(tree: TaskTree[Any]) -> list[TaskSnapshot]:
    return run_sync(tree.snapshot())


def settle() -> Effect[None]:
    """Let every fiber that can run, run (under a TestClock)."""
    return TestClock.adjust(0)


def collect(subscription: TaskSubscription) -> Effect[list[TaskEvent]]:
    """Take events until the stream ends; the events before `TreeClosed`."""

    @gen
    def loop() -> Do[list[TaskEvent]]:
        events: list[TaskEvent] = []
        while True:
            event = yield from subscription.take()
            if isinstance(event, TreeClosed):
                return events
            events.append(event)

    return loop()


def is_subsequence(part: Sequence[object], whole: Sequence[object]) -> bool:
    remaining = iter(whole)
    return all(any(item == candidate for candidate in remaining) for item in part)


# -- the life of a task -----------------------------------------------------------------


def test_a_task_is_created_then_running_then_completed_with_its_effects_value() -> None:
    tree = TaskTree()
    seen: list[str] = []

    def record_status() -> Effect[None]:
        return tree.snapshot().map(
            lambda tasks: seen.append(tasks[0]["status"] if tasks else "none")
        )

    @gen
    def program() -> Do[int]:
        fiber = yield from tree.with_task("work", record_status().as_(42)).fork()
        yield from record_status()
        yield from Effect.yield_now()  # the fiber makes the task and starts its child
        yield from record_status()
        value = yield from fiber.join()
        yield from record_status()
        return value

    assert run_sync(program()) == 42
    assert seen == ["none", "created", "running", "completed"]
    assert snapshot_of(tree)[0]["error"] is None


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (Effect.fail(ValueError("bad row")), "ValueError: bad row"),
        (Effect.fail("not found"), "not found"),
        (Effect.die(RuntimeError("bug")), "RuntimeError: bug"),
        (Effect.fail(KeyError()), "KeyError"),
    ],
)
def test_a_failing_task_ends_failed_with_the_error_and_fails_the_same_way(
    failure: Effect[Never, object], error: str
) -> None:
    tree = TaskTree()
    exit = run_sync_exit(tree.with_task("write", failure))
    assert exit == run_sync_exit(failure)
    task = snapshot_of(tree)[0]
    assert (task["status"], task["error"]) == ("failed", error)


def test_an_interrupted_task_ends_cancelled_and_its_work_is_interrupted() -> None:
    tree = TaskTree()
    stopped: list[str] = []
    work = Effect.never().on_interrupt(lambda _: Effect.sync(lambda: stopped.append("stopped")))

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = yield from tree.with_task("slow", work).fork()
        yield from settle()
        return (yield from fiber.interrupt())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert stopped == ["stopped"]
    task = snapshot_of(tree)[0]
    assert task["status"] == "cancelled"
    assert task["error"] is not None and task["error"].startswith("parent fiber")


def test_a_task_that_times_out_ends_cancelled() -> None:
    tree = TaskTree()
    slow = tree.with_task("slow", Effect.sleep(10)).timeout(1)

    @gen
    def program() -> Do[Exit[None, TimeoutError]]:
        fiber = yield from slow.exit().fork()
        yield from TestClock.adjust(1)
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure) and isinstance(exit.cause.failures()[0], TimeoutError)
    assert snapshot_of(tree)[0]["status"] == "cancelled"


def test_a_task_runs_in_a_fiber_of_its_own_named_after_it() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[tuple[FiberId, FiberId]]:
        outside = yield from Effect.fiber_id()
        inside = yield from tree.with_task("import users", Effect.fiber_id())
        return outside, inside

    outside, inside = run_sync(program())
    assert inside != outside
    assert inside.name == "import users"


def test_effect_with_task_is_the_method_form_of_with_task() -> None:
    tree = TaskTree()
    assert run_sync(tree.provide(Effect.succeed(7).with_task("compute", meta={"n": 7}))) == 7
    task = snapshot_of(tree)[0]
    assert (task["title"], task["status"], task["meta"]) == ("compute", "completed", {"n": 7})


# -- nesting ------------------------------------------------------------------------------


@each_seed
def test_tasks_nest_under_the_task_that_started_them_across_fork_all_and_spawn(
    seed: int,
) -> None:
    tree = TaskTree()

    def leaf(title: str) -> Effect[None]:
        return with_task(title, Effect.sleep(1))

    @gen
    def root() -> Do[None]:
        forked = yield from leaf("forked").fork()
        yield from Effect.all(
            leaf("all 1"),
            with_task("all 2", leaf("all 2.1")),
            concurrency="unbounded",
        )
        yield from branch(spawn(leaf("spawned")).and_then(Effect.unit()))
        yield from forked.join()

    @gen
    def program() -> Do[None]:
        fiber = yield from tree.provide(with_task("root", root())).fork()
        yield from TestClock.adjust(3)
        yield from fiber.join()

    run_seeded(TestClock.provide(program()), seed)
    done = "completed"
    assert shape(snapshot_of(tree)) == [
        (
            "root",
            done,
            [
                ("all 1", done, []),
                ("all 2", done, [("all 2.1", done, [])]),
                ("forked", done, []),
                ("spawned", done, []),
            ],
        )
    ]


def test_the_tree_of_with_task_is_the_current_tree_or_a_root_of_its_own() -> None:
    first, second = TaskTree(), TaskTree()
    inner = second.with_task("in second", with_task("nested in second", Effect.unit()))
    run_sync(first.provide(with_task("in first", inner)))
    assert shape(snapshot_of(first)) == [("in first", "completed", [])]
    assert shape(snapshot_of(second)) == [
        ("in second", "completed", [("nested in second", "completed", [])])
    ]


def test_outside_any_tree_tasks_and_reports_do_nothing() -> None:
    def write(writer: TaskWriter) -> Effect[str | None]:
        def run() -> str | None:
            writer.write("ignored\n")
            return writer.task_id

        return Effect.sync(run)

    reports = progress(1, 2).and_then(step()).and_then(output("x")).and_then(set_meta(1))
    program = with_task("t", reports.and_then(current_task_id())).zip(
        Effect.scoped(output_writer("log").flat_map(write))
    )
    assert run_sync(program) == (None, None)


# -- progress, output, metadata -----------------------------------------------------------


def test_progress_step_output_and_meta_go_to_the_current_task() -> None:
    tree = TaskTree()
    work = (
        progress(2, 10)
        .and_then(step(3))
        .and_then(output("halfway"))
        .and_then(set_meta({"file": "users.csv"}))
    )
    run_sync(tree.provide(with_task("import", with_task("read", work))))
    read = find(snapshot_of(tree), "read")
    assert (read["current"], read["total"], read["output"], read["meta"]) == (
        5,
        10,
        ["halfway"],
        {"file": "users.csv"},
    )
    assert find(snapshot_of(tree), "import")["current"] == 0


def test_a_task_keeps_only_its_most_recent_output_lines() -> None:
    tree = TaskTree(keep_output=2)
    run_sync(tree.with_task("log", Effect.for_each(range(5), lambda i: output(f"line {i}"))))
    assert snapshot_of(tree)[0]["output"] == ["line 3", "line 4"]


def test_typed_metadata_is_set_on_the_current_task_of_its_tree() -> None:
    tree = TaskTree[int]()
    other = TaskTree[int]()
    run_sync(tree.with_task("t", tree.set_meta(1).and_then(other.set_meta(2)), meta=0))
    assert snapshot_of(tree)[0]["meta"] == 1
    assert snapshot_of(other) == []


EMITTED: list[TaskEvent] = [
    TaskProgress("1", 0, 3),
    TaskOutput("1", "a"),
    TaskProgress("1", 1, 3),
    TaskOutput("1", "b"),
    TaskProgress("1", 2, 3),
    TaskProgress("1", 3, 3),
    TaskOutput("1", "c"),
]
REPORTS = [progress(0, 3), output("a"), step(), output("b"), step(), step(), output("c")]


def events_seen_by_a_reader(run: Callable[[Effect[list[TaskEvent]]], list[TaskEvent]]) -> Any:
    tree = TaskTree()
    work = Effect.for_each(REPORTS, lambda report: report.and_then(Effect.yield_now()))

    @gen
    def program() -> Do[list[TaskEvent], Never, Scope]:
        subscription = yield from tree.subscribe()
        reader = yield from collect(subscription).fork()
        yield from tree.with_task("job", work)
        yield from tree.close()
        return (yield from reader.join())

    return run(Effect.scoped(program()))


def test_progress_and_output_events_arrive_in_the_order_they_were_made() -> None:
    events = events_seen_by_a_reader(run_sync)
    assert [e for e in events if not isinstance(e, TreeChanged)] == EMITTED
    first_tree = next(e for e in events if isinstance(e, TreeChanged) and e.tasks)
    assert events.index(first_tree) < events.index(EMITTED[0])


@each_seed
def test_events_are_always_an_ordered_subsequence_ending_with_the_latest_progress(
    seed: int,
) -> None:
    events = events_seen_by_a_reader(lambda effect: run_seeded(effect, seed))
    reports = [e for e in events if not isinstance(e, TreeChanged)]
    assert is_subsequence(reports, EMITTED)
    assert [e for e in reports if isinstance(e, TaskOutput)] == [
        e for e in EMITTED if isinstance(e, TaskOutput)
    ]
    assert [e for e in reports if isinstance(e, TaskProgress)][-1] == TaskProgress("1", 3, 3)
    known: set[str] = set()
    for event in events:  # a task is in a tree event before any event about it
        if isinstance(event, TreeChanged):
            known |= {task["id"] for task in event.tasks}
        else:
            assert isinstance(event, TaskProgress | TaskOutput) and event.task_id in known


# -- slow subscribers ---------------------------------------------------------------------


def test_a_subscriber_that_never_reads_does_not_slow_the_work_and_stays_bounded() -> None:
    tree = TaskTree()

    def job(title: str) -> Effect[list[None]]:
        return with_task(
            title,
            Effect.for_each(range(3000), lambda i: output(f"line {i}") if i % 10 == 0 else step()),
        )

    @gen
    def program() -> Do[tuple[list[TaskEvent], int, int, float], Never, Scope]:
        subscription = yield from tree.subscribe(capacity=16)
        slow_reader = subscription.take().and_then(Effect.sleep(3600))
        yield from slow_reader.fork()
        yield from tree.provide(
            Effect.all(job("a"), job("b"), concurrency="unbounded").with_task("jobs")
        )
        size = yield from subscription.size()
        dropped = yield from subscription.dropped()
        now = yield from Clock.now()
        events = yield from subscription.take_all()
        return events, size, dropped, now

    events, size, dropped, now = run_sync(TestClock.provide(Effect.scoped(program())))
    assert now == 0  # the work never waited
    assert size == len(events) <= 16
    assert dropped > 0
    progress_events = [e for e in events if isinstance(e, TaskProgress)]
    assert len({e.task_id for e in progress_events}) == len(progress_events)
    assert sum(isinstance(e, TreeChanged) for e in events) <= 1
    for title in ("a", "b"):
        task = find(snapshot_of(tree), title)
        assert (task["status"], task["current"]) == ("completed", 2700)


def test_progress_for_the_same_task_collapses_into_the_latest() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[list[TaskEvent], Never, Scope]:
        subscription = yield from tree.subscribe(capacity=4)
        yield from tree.with_task(
            "count", progress(0, 10_000).and_then(Effect.for_each(range(10_000), lambda _: step()))
        )
        assert (yield from subscription.dropped()) == 0
        return (yield from subscription.take_all())

    events = run_sync(Effect.scoped(program()))
    assert len(events) == 2
    assert isinstance(events[0], TreeChanged) and events[0].tasks[0]["status"] == "completed"
    assert events[1] == TaskProgress("1", 10_000, 10_000)


def test_a_full_subscription_drops_its_oldest_output_first() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[list[TaskEvent], Never, Scope]:
        subscription = yield from tree.subscribe(capacity=3)
        yield from subscription.take()  # the tree as it was (empty)
        yield from tree.with_task("log", Effect.for_each(range(5), lambda i: output(str(i))))
        return (yield from subscription.take_all())

    events = run_sync(Effect.scoped(program()))
    assert isinstance(events[0], TreeChanged)
    assert events[1:] == [TaskOutput("1", "3"), TaskOutput("1", "4")]


def test_a_subscriptions_first_event_is_the_tree_as_it_is() -> None:
    tree = TaskTree()
    run_sync(tree.with_task("earlier", Effect.unit()))

    @gen
    def program() -> Do[TaskEvent, Never, Scope]:
        subscription = yield from tree.subscribe()
        return (yield from subscription.take())

    event = run_sync(Effect.scoped(program()))
    assert isinstance(event, TreeChanged)
    assert shape(event.tasks) == [("earlier", "completed", [])]


def test_closing_the_tree_ends_every_stream_with_tree_closed_for_good() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[tuple[list[TaskEvent], TaskEvent, TaskEvent | None], Never, Scope]:
        subscription = yield from tree.subscribe()
        reader = yield from collect(subscription).fork()
        yield from tree.with_task("t", Effect.unit())
        yield from tree.close()
        events = yield from reader.join()
        return events, (yield from subscription.take()), (yield from subscription.poll())

    events, after, polled = run_sync(Effect.scoped(program()))
    assert isinstance(events[-1], TreeChanged)
    assert after == TreeClosed() and polled == TreeClosed()


# -- cancel ---------------------------------------------------------------------------------


@each_seed
def test_cancel_by_id_interrupts_exactly_that_tasks_fiber(seed: int) -> None:
    tree = TaskTree()
    finalized: list[str] = []

    def child(title: str) -> Effect[Exit[str, Never]]:
        work = Effect.sleep(10).as_(title).ensuring(Effect.sync(lambda: finalized.append(title)))
        return with_task(title, work).exit()

    @gen
    def parent() -> Do[list[bool]]:
        exits = yield from Effect.all(child("a"), child("b"), child("c"), concurrency="unbounded")
        yield from output("the parent carried on")
        return [exit.is_success() for exit in exits]

    @gen
    def program() -> Do[tuple[list[bool], bool, list[str]]]:
        fiber = yield from tree.provide(with_task("parent", parent())).fork()
        yield from settle()
        cancelled = yield from tree.cancel(find((yield from tree.snapshot()), "b")["id"])
        finalized_at_cancel = list(finalized)
        yield from TestClock.adjust(10)
        return (yield from fiber.join()), cancelled, finalized_at_cancel

    results, cancelled, finalized_at_cancel = run_seeded(TestClock.provide(program()), seed)
    assert cancelled is True
    assert finalized_at_cancel == ["b"]  # cancel waited for b's finalizers
    assert results == [True, False, True]
    tasks = snapshot_of(tree)
    assert shape(tasks) == [
        (
            "parent",
            "completed",
            [("a", "completed", []), ("b", "cancelled", []), ("c", "completed", [])],
        )
    ]
    assert find(tasks, "b")["error"] == "interrupted on request"
    assert find(tasks, "parent")["output"] == ["the parent carried on"]


def test_a_cancelled_tasks_with_task_fails_with_a_manual_interruption_by_the_canceller() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[tuple[Exit[None, Never], FiberId]]:
        fiber = yield from tree.provide(with_task("t", Effect.never()).exit()).fork()
        yield from settle()
        yield from tree.cancel("1")
        return (yield from fiber.join()), (yield from Effect.fiber_id())

    exit, me = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure)
    [interrupt] = exit.cause.interruptions()
    assert (interrupt.fiber_id, interrupt.reason) == (me, Manual())


def test_an_unhandled_cancel_ends_the_enclosing_tasks_cancelled_too() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[Exit[None, Never]]:
        fiber = (
            yield from tree.provide(with_task("outer", with_task("inner", Effect.never())))
            .exit()
            .fork()
        )
        yield from settle()
        yield from tree.cancel(find((yield from tree.snapshot()), "inner")["id"])
        return (yield from fiber.join())

    exit = run_sync(TestClock.provide(program()))
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert shape(snapshot_of(tree)) == [("outer", "cancelled", [("inner", "cancelled", [])])]


def test_cancel_of_a_finished_or_unknown_task_is_false() -> None:
    tree = TaskTree()
    run_sync(tree.with_task("done", Effect.unit()))
    assert run_sync(tree.cancel("1")) is False
    assert run_sync(tree.cancel("no such task")) is False


def test_a_task_can_cancel_itself() -> None:
    tree = TaskTree()

    def cancel_me() -> Effect[bool]:
        return current_task_id().flat_map(lambda task_id: tree.cancel(task_id or ""))

    exit = run_sync_exit(tree.with_task("self", cancel_me().and_then(Effect.never())))
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()
    assert snapshot_of(tree)[0]["status"] == "cancelled"


# -- snapshots as JSON -----------------------------------------------------------------------


class Stage(Enum):
    LOAD = "load"


@dataclass(frozen=True)
class Inner:
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Upload:
    filename: str
    stage: Stage
    inner: Inner
    tags: frozenset[str]
    extra: dict[str, object]


def test_a_snapshot_is_json_serializable_with_dataclass_metadata_converted() -> None:
    tree = TaskTree[Upload]()
    meta = Upload("users.csv", Stage.LOAD, Inner((1, 2)), frozenset({"x"}), {"when": 1.5})
    work = with_task("part", progress(1, 2).and_then(output("ok")))
    run_sync(tree.with_task("upload", work, meta=meta, owner="ada"))
    tasks = run_sync(tree.snapshot(owner="ada"))
    assert json.loads(json.dumps(tasks)) == [
        {
            "id": "1",
            "title": "upload",
            "status": "completed",
            "error": None,
            "current": 0,
            "total": 0,
            "meta": {
                "filename": "users.csv",
                "stage": "load",
                "inner": {"rows": [1, 2]},
                "tags": ["x"],
                "extra": {"when": 1.5},
            },
            "output": [],
            "is_owner": True,
            "children": [
                {
                    "id": "2",
                    "title": "part",
                    "status": "completed",
                    "error": None,
                    "current": 1,
                    "total": 2,
                    "meta": None,
                    "output": ["ok"],
                    "is_owner": True,
                    "children": [],
                }
            ],
        }
    ]


def test_events_are_json_serializable() -> None:
    tree = TaskTree()

    @gen
    def program() -> Do[list[TaskEvent], Never, Scope]:
        subscription = yield from tree.subscribe()
        yield from tree.with_task("t", progress(1, 2).and_then(output("x")))
        yield from tree.close()
        return (yield from subscription.take_all())

    events = run_sync(Effect.scoped(program()))
    assert [json.loads(json.dumps(e.to_json()))["type"] for e in events] == [
        "tree",
        "progress",
        "output",
        "closed",
    ]


# -- writers ---------------------------------------------------------------------------------


def test_an_output_writer_turns_lines_written_from_threads_into_output() -> None:
    tree = TaskTree()

    def worker(log: TaskWriter, n: int) -> Effect[None]:
        def write(_: object) -> None:
            for i in range(50):
                log.write(f"worker {n} line {i}\n")

        return Effect.blocking(write)

    def build(log: TaskWriter) -> Effect[tuple[None, None, None]]:
        return Effect.all(worker(log, 0), worker(log, 1), worker(log, 2), concurrency="unbounded")

    @gen
    def program() -> Do[list[TaskEvent], Never, Scope]:
        subscription = yield from tree.subscribe(capacity=1000)
        yield from tree.with_task("build", Effect.scoped(output_writer("log").flat_map(build)))
        return (yield from subscription.take_all())

    events = run_sync(Effect.scoped(program()))
    lines = [e.message for e in events if isinstance(e, TaskOutput)]
    assert sorted(lines) == sorted(f"worker {n} line {i}" for n in range(3) for i in range(50))
    for n in range(3):  # each thread's lines keep their order
        mine = [line for line in lines if line.startswith(f"worker {n} ")]
        assert mine == [f"worker {n} line {i}" for i in range(50)]
    log = find(snapshot_of(tree), "log")
    assert (log["status"], log["output"][-1][:7]) == ("completed", "worker ")


def test_an_output_writer_decodes_bytes_and_reports_an_unfinished_line_on_close() -> None:
    tree = TaskTree()

    def write(log: TaskWriter) -> Effect[None]:
        def blocking(_: object) -> None:
            log.write(b"caf\xc3")
            log.write(b"\xa9\r\nlast")
            print("printed", file=log)
            log.write("no newline")

        return Effect.blocking(blocking)

    run_sync(tree.with_task("t", Effect.scoped(output_writer("log").flat_map(write))))
    assert find(snapshot_of(tree), "log")["output"] == ["café", "lastprinted", "no newline"]


def test_writer_progress_counts_bytes_copied_from_a_thread() -> None:
    tree = TaskTree()
    data = bytes(range(256)) * 40

    def copy(sink: TaskWriter) -> Effect[None]:
        return Effect.blocking(lambda _: shutil.copyfileobj(io.BytesIO(data), sink, 1000))

    upload = Effect.scoped(writer_progress("upload", len(data)).flat_map(copy))
    run_sync(tree.with_task("sync", upload))
    task = find(snapshot_of(tree), "upload")
    assert (task["status"], task["current"], task["total"]) == ("completed", 10_240, 10_240)


def test_a_writer_closed_with_a_failure_marks_its_task_failed_and_closes_once() -> None:
    tree = TaskTree()

    def close_failed(log: TaskWriter) -> Effect[None]:
        def close() -> None:
            log.write("partial")
            log.close(Exit.fail(ValueError("bad")))
            log.close()  # closing again changes nothing

        return Effect.sync(close)

    run_sync(tree.with_task("t", Effect.scoped(output_writer("log").flat_map(close_failed))))
    log = find(snapshot_of(tree), "log")
    assert (log["status"], log["error"], log["output"]) == ("failed", "ValueError: bad", ["partial"])


def test_a_writer_closes_with_its_scope_failed_if_the_scope_failed() -> None:
    tree = TaskTree()

    def fail(log: TaskWriter) -> Effect[None, ValueError]:
        return Effect.sync(lambda: log.write("before\n")).and_then(Effect.fail(ValueError("x")))

    run_sync_exit(tree.with_task("t", Effect.scoped(output_writer("log").flat_map(fail))))
    log = find(snapshot_of(tree), "log")
    assert (log["status"], log["error"], log["output"]) == ("failed", "ValueError: x", ["before"])


def test_a_closed_writer_refuses_writes_and_closing_again_changes_nothing() -> None:
    tree = TaskTree()

    def use(log: TaskWriter) -> Effect[None, str]:
        def run() -> None:
            with log:
                log.write("inside\n")
            log.close()
            with pytest.raises(ValueError, match="closed TaskWriter"):
                log.write("after")

        return Effect.sync(run).and_then(Effect.fail("the scope fails later"))

    run_sync_exit(tree.with_task("t", Effect.scoped(output_writer("log").flat_map(use))))
    assert find(snapshot_of(tree), "log")["status"] == "completed"


def test_a_writers_task_has_no_fiber_of_its_own_to_cancel() -> None:
    tree = TaskTree()

    def cancel_writer(log: TaskWriter) -> Effect[bool]:
        return tree.cancel(log.task_id or "")

    cancelled = run_sync(
        tree.with_task("t", Effect.scoped(output_writer("log").flat_map(cancel_writer)))
    )
    assert cancelled is False
    assert shape(snapshot_of(tree)) == [("t", "completed", [("log", "completed", [])])]


def test_a_subscriber_in_another_runtime_is_woken_by_work_in_this_one() -> None:
    tree = TaskTree()
    subscribed = Latch()
    watching = Effect.scoped(
        tree.subscribe().flat_map(lambda sub: subscribed.open().and_then(collect(sub)))
    )
    watcher = run_fork(watching)  # a runtime on a thread of its own
    run_sync(subscribed.wait())
    run_sync(tree.with_task("here", output("from this thread")).and_then(tree.close()))
    events = run_sync(watcher.join())
    assert TaskOutput("1", "from this thread") in events
    last = [e for e in events if isinstance(e, TreeChanged)][-1]
    assert last.tasks[0]["status"] == "completed"


# -- shared tasks -----------------------------------------------------------------------------


def test_a_shared_task_outlives_the_fiber_that_started_it() -> None:
    tree = TaskTree()
    gate = Latch()
    job = with_task("load", gate.wait()).as_("indexed")

    @gen
    def starter() -> Do[TaskRef[str, Never]]:
        return (yield from tree.with_task("index", job, shared=True))

    @gen
    def program() -> Do[tuple[str, str, str]]:
        ref = yield from starter().fork().flat_map(lambda fiber: fiber.join())
        yield from settle()
        while_running = find((yield from tree.snapshot()), "index")["status"]
        yield from gate.open()
        value = yield from ref.join()
        yield from settle()
        return while_running, value, find((yield from tree.snapshot()), "index")["status"]

    assert run_sync(TestClock.provide(program())) == ("running", "indexed", "completed")
    assert shape(snapshot_of(tree)) == [("index", "completed", [("load", "completed", [])])]


def test_every_subscriber_sees_shared_tasks_with_is_owner_on_its_own() -> None:
    tree = TaskTree()

    def start(owner: str) -> Effect[TaskRef[None, Never]]:
        work = with_task(f"{owner}'s step", Effect.unit())
        return tree.with_task(f"{owner}'s job", work, shared=True, owner=owner)

    def ownership(subscription: TaskSubscription) -> Effect[dict[str, bool]]:
        def last_tree(events: list[TaskEvent]) -> dict[str, bool]:
            tasks = [e for e in events if isinstance(e, TreeChanged)][-1].tasks
            stack, found = list(tasks), {}
            while stack:
                task = stack.pop()
                found[task["title"]] = task["is_owner"]
                stack.extend(task["children"])
            return found

        return subscription.take_all().map(last_tree)

    @gen
    def program() -> Do[list[dict[str, bool]], Never, Scope]:
        ada = yield from tree.subscribe(owner="ada")
        bob = yield from tree.subscribe(owner="bob")
        anyone = yield from tree.subscribe()
        refs = yield from Effect.all(start("ada"), start("bob"))
        yield from Effect.for_each(refs, lambda ref: ref.join())
        views = []
        for subscription in (ada, bob, anyone):
            views.append((yield from ownership(subscription)))
        return views

    ada, bob, anyone = run_sync(Effect.scoped(program()))
    assert ada == {"ada's job": True, "ada's step": True, "bob's job": False, "bob's step": False}
    assert bob == {"ada's job": False, "ada's step": False, "bob's job": True, "bob's step": True}
    assert not any(anyone.values())


def test_a_request_tree_is_closed_with_its_scope_and_cancels_what_still_runs() -> None:
    trees: list[TaskTree[object]] = []

    @gen
    def request() -> Do[None, Never, Scope]:
        tree = yield from TaskTree.scoped()
        trees.append(tree)
        yield from tree.with_task("background", Effect.never(), shared=True)
        yield from Effect.yield_now()

    run_sync(Effect.scoped(request()))
    [tree] = trees
    task = snapshot_of(tree)[0]
    assert (task["status"], task["error"]) == ("cancelled", "scope 'task tree' closed")

    @gen
    def late_subscriber() -> Do[list[TaskEvent], Never, Scope]:
        subscription = yield from tree.subscribe()
        return (yield from subscription.take_all())

    events = run_sync(Effect.scoped(late_subscriber()))
    assert [type(e) for e in events] == [TreeChanged, TreeClosed]


def test_forget_finished_removes_finished_root_tasks_only() -> None:
    tree = TaskTree()
    gate = Latch()

    @gen
    def program() -> Do[int]:
        yield from tree.with_task("done", with_task("sub", Effect.unit()))
        yield from tree.with_task("running", gate.wait(), shared=True)
        yield from Effect.yield_now()
        removed = yield from tree.forget_finished()
        yield from gate.open()
        return removed

    assert run_sync(program()) == 1
    assert [task["title"] for task in snapshot_of(tree)] == ["running"]


# -- rendering --------------------------------------------------------------------------------


def sample_tree() -> TaskTree[object]:
    """import (failed) with fetch (output), validate (progress), write (failed),
    upload (cancelled)."""
    tree = TaskTree()

    @gen
    def work() -> Do[None, str]:
        yield from with_task("fetch", output("fetched 42 records"))
        yield from with_task("validate", progress(42, 42))
        yield from with_task("upload", Effect.interrupt()).exit()
        yield from with_task("write", progress(4, 10).and_then(Effect.fail("disk full")))

    run_sync_exit(tree.provide(with_task("import", work())))
    return tree


def test_render_text_draws_status_progress_errors_and_output() -> None:
    assert render_text(snapshot_of(sample_tree())) == (
        "import [failed] disk full\n"
        "├── fetch [completed]\n"
        "│     > fetched 42 records\n"
        "├── validate [completed] [##########] 42/42\n"
        "├── upload [cancelled] interrupted on request\n"
        "└── write [failed] [####------] 4/10 disk full"
    )
    assert render_text([]) == "(no tasks)"


def test_render_plain_prints_each_change_as_a_line() -> None:
    tree = TaskTree()
    out = io.StringIO()

    @gen
    def work() -> Do[None]:
        yield from progress(0, 4)
        for _ in range(4):
            yield from step().and_then(Effect.yield_now())
        yield from output("done counting")

    @gen
    def program() -> Do[None]:
        view = yield from render_plain(tree, file=out).fork()
        yield from Effect.yield_now()
        yield from tree.provide(with_task("import", with_task("count", work())))
        yield from tree.with_task("broken", Effect.fail("oops")).exit()
        yield from tree.close()
        yield from view.join()

    run_sync(program())
    assert out.getvalue().splitlines() == [
        "[running]   import",
        "[running]   import > count",
        "[progress]  import > count: 1/4 (25%)",
        "[progress]  import > count: 2/4 (50%)",
        "[progress]  import > count: 3/4 (75%)",
        "[progress]  import > count: 4/4 (100%)",
        "[output]    import > count: done counting",
        "[completed] import > count",
        "[completed] import",
        "[running]   broken",
        "[failed]    broken: oops",
    ]


def test_render_plain_prints_what_is_pending_when_interrupted() -> None:
    tree = TaskTree()
    out = io.StringIO()

    @gen
    def program() -> Do[None]:
        view = yield from render_plain(tree, file=out).fork()
        yield from Effect.yield_now()
        yield from tree.with_task("quick", output("hi"))
        yield from view.interrupt()

    run_sync(program())
    assert out.getvalue().splitlines() == [
        "[running]   quick",
        "[output]    quick: hi",
        "[completed] quick",
    ]


def test_the_rich_renderer_draws_a_frame() -> None:
    from rich.console import Console

    console = Console(record=True, width=60, file=io.StringIO())
    console.print(render_rich(snapshot_of(sample_tree())))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert lines == [
        "✘ import       disk full",
        "├── ✔ fetch",
        "│   └── › fetched 42 records",  # noqa: RUF001
        "├── ✔ validate ━━━━━━━━━━━━━━━━━━━━ 42/42",
        "├── ⊘ upload   interrupted on request",
        "└── ✘ write    ━━━━━━━━             4/10 disk full",
    ]


def test_render_live_updates_in_place_and_ends_with_the_final_frame() -> None:
    from rich.console import Console

    tree = TaskTree()
    console = Console(file=io.StringIO(), width=50, force_terminal=True, color_system=None)
    gate = Latch()

    @gen
    def program() -> Do[None]:
        view = yield from render_live(tree, console=console, refresh_per_second=None).fork()
        yield from Effect.yield_now()
        job = yield from tree.with_task("job", progress(1, 2).and_then(gate.wait())).fork()
        yield from Effect.yield_now().and_then(Effect.yield_now())
        yield from gate.open()
        yield from job.join()
        yield from tree.close()
        yield from view.join()

    run_sync(program())
    written = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[2K" in written  # erased and redrawn in place
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", written)
    assert "▶ job ━━━━━━━━━━" in frames
    assert frames.rstrip().endswith("✔ job ━━━━━━━━━━           1/2")


def test_render_live_redraws_at_most_refresh_per_second_times() -> None:
    from rich.console import Console

    tree = TaskTree()
    console = Console(file=io.StringIO(), width=50, force_terminal=True, color_system=None)

    @gen
    def program() -> Do[None]:
        view = yield from render_live(tree, console=console, refresh_per_second=2).fork()
        yield from Effect.yield_now()
        for i in range(5):
            yield from tree.with_task(f"job {i}", Effect.unit())
        yield from TestClock.adjust(0.5)
        yield from view.interrupt()

    run_sync(TestClock.provide(program()))
    written = console.file.getvalue()  # type: ignore[attr-defined]
    frames = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", written)
    assert frames.count("job 4") <= 3  # not one redraw per change


@pytest.mark.parametrize("draw", [render_live, lambda tree: render_rich([])])
def test_the_rich_renderers_say_how_to_install_rich_without_it(
    monkeypatch: pytest.MonkeyPatch, draw: Callable[[TaskTree[Any]], object]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    with pytest.raises(ImportError, match=r"pip install 'effectpy\[rich\]'"):
        draw(TaskTree())


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: with_task(7, Effect.unit()), TypeError),  # type: ignore[arg-type]
        (lambda: with_task("t", 7), TypeError),  # type: ignore[arg-type]
        (lambda: progress(-1, 3), ValueError),
        (lambda: progress(1, True), ValueError),
        (lambda: step(-1), ValueError),
        (lambda: output(b"bytes"), TypeError),  # type: ignore[arg-type]
        (lambda: writer_progress("w", -5), ValueError),
        (lambda: TaskTree().subscribe(capacity=0), ValueError),
        (lambda: TaskTree(keep_output=-1), ValueError),
        (lambda: TaskTree().with_task("t", Effect.unit(), owner=1), TypeError),  # type: ignore[call-overload]
        (lambda: render_live(TaskTree(), refresh_per_second=0), ValueError),
    ],
)
def test_bad_input_is_a_clear_error_at_the_call(make: Callable[[], object], error: type) -> None:
    with pytest.raises(error):
        make()


def test_a_failure_of_with_task_is_the_effects_own_exit() -> None:
    tree = TaskTree()
    exit = run_sync_exit(tree.provide(with_task("t", Effect.fail("no"))))
    assert exit == Failure(Fail("no"))
