"""debug_tree draws the live structure of the runtime it runs in: fibers with their
names, ids and status, children under their parents, the scopes a fiber opened (with
their strategy and finalizer count), child scopes under their parents, fibers owned by
a scope under that scope; finished fibers and closed scopes are gone. The Mermaid
format is the same tree as a graph; an unknown format is a ValueError."""

from __future__ import annotations

import re
from typing import Never

import pytest
from conftest import Latch, Path, each_path, on_path, seen_with_spawns_waiting

from effectpy import (
    Deferred,
    Do,
    Effect,
    ExecutionStrategy,
    Exit,
    Fiber,
    FiberId,
    Scope,
    debug_tree,
    gen,
    run_fork,
    run_sync,
)


def park(name: str) -> Effect[Fiber[Never, Never]]:
    """Fork a fiber called `name` that waits for ever (until interrupted)."""
    return Effect.never().named(name).fork()


def strip_guides(line: str) -> str:
    """A line of the ASCII tree without its tree guides."""
    return re.sub(r"^[│├└─ ]*", "", line)


def settle() -> Effect[None]:
    """Let the forked fibers run until they park."""
    return Effect.yield_now().and_then(Effect.yield_now())


# -- fibers -------------------------------------------------------------------------------


def test_fibers_show_their_names_ids_and_status() -> None:
    @gen
    def program() -> Do[tuple[str, FiberId, FiberId]]:
        child = yield from park("worker")
        yield from settle()
        me = yield from Effect.fiber_id()
        tree = yield from debug_tree()
        yield from child.interrupt()
        return tree, me, child.id

    tree, me, child = run_sync(program().named("main"))
    assert me.name == "main" and child.name == "worker"
    assert tree.splitlines() == [
        f"fiber {me} running",
        f"└── fiber {child} suspended",
    ]
    assert re.fullmatch(r"fiber #\d+ \(main\) running", tree.splitlines()[0])


def test_an_unnamed_fiber_shows_its_id_alone() -> None:
    tree = run_sync(debug_tree())
    assert re.fullmatch(r"fiber #\d+ running", tree)


def test_children_are_nested_under_the_fiber_that_forked_them() -> None:
    @gen
    def parent() -> Do[None]:
        yield from park("grandchild")
        yield from Effect.never()

    @gen
    def program() -> Do[str]:
        yield from parent().named("child").fork()
        yield from park("sibling")
        yield from settle()
        return (yield from debug_tree())

    lines = run_sync(program().named("root")).splitlines()
    assert [re.sub(r"#\d+ ", "", line) for line in lines] == [
        "fiber (root) running",
        "├── fiber (child) suspended",
        "│   └── fiber (grandchild) suspended",
        "└── fiber (sibling) suspended",
    ]


def test_a_fiber_being_interrupted_inside_an_uninterruptible_region_says_so() -> None:
    gate = Latch()

    @gen
    def program() -> Do[str]:
        stubborn = yield from gate.wait().uninterruptible().named("stubborn").fork()
        yield from settle()
        yield from stubborn.interrupt_fork()
        tree = yield from debug_tree()
        yield from gate.open()
        yield from stubborn.await_()
        return tree

    assert re.search(r"└── fiber #\d+ \(stubborn\) suspended, interrupting$", run_sync(program()))


def test_finished_fibers_are_gone() -> None:
    @gen
    def program() -> Do[str]:
        done = yield from Effect.unit().named("quick").fork()
        yield from done.join()
        return (yield from debug_tree())

    tree = run_sync(program().named("main"))
    assert "quick" not in tree
    assert len(tree.splitlines()) == 1


def test_only_the_fibers_of_the_current_runtime_are_drawn() -> None:
    gate = Latch()
    elsewhere = run_fork(gate.wait().named("other runtime"))
    try:
        tree = run_sync(debug_tree().named("here"))
    finally:
        gate.open_now()
        run_sync(elsewhere.join())
    assert "here" in tree
    assert "other runtime" not in tree


# -- scopes -------------------------------------------------------------------------------


def test_a_scope_shows_its_name_strategy_and_finalizer_count() -> None:
    @gen
    def program() -> Do[str]:
        pool = yield from Scope.make(ExecutionStrategy.parallel, name="pool")
        yield from pool.add_finalizer(Effect.unit())
        yield from pool.add_finalizer(Effect.unit())
        plain = yield from Scope.make()
        yield from plain.add_finalizer(Effect.unit())
        tree = yield from debug_tree()
        yield from plain.close(Exit.unit())
        yield from pool.close(Exit.unit())
        return tree

    lines = run_sync(program()).splitlines()
    assert sorted(strip_guides(line) for line in lines[1:]) == [
        "scope 'pool' parallel, 2 finalizers",
        "scope sequential, 1 finalizer",
    ]


def test_a_scope_is_drawn_under_the_fiber_that_made_it() -> None:
    @gen
    def opener() -> Do[None]:
        scope = yield from Scope.make(name="opened by the child")
        yield from Effect.never().ensuring(scope.close(Exit.unit()))

    @gen
    def program() -> Do[str]:
        child = yield from opener().named("child").fork()
        yield from settle()
        tree = yield from debug_tree()
        yield from child.interrupt()
        return tree

    lines = run_sync(program()).splitlines()
    assert re.fullmatch(r"└── fiber #\d+ \(child\) suspended", lines[1])
    assert lines[2] == "    └── scope 'opened by the child' sequential, 0 finalizers"


def test_child_scopes_are_nested_under_their_parent_scope() -> None:
    @gen
    def program() -> Do[str]:
        outer = yield from Scope.make(name="outer")
        inner = yield from outer.fork(ExecutionStrategy.parallel_n(2), name="inner")
        yield from inner.fork(name="innermost")
        tree = yield from debug_tree()
        yield from outer.close(Exit.unit())
        return tree

    lines = run_sync(program()).splitlines()
    assert lines[1:] == [
        "└── scope 'outer' sequential, 1 finalizer",  # closing `inner` is its finalizer
        "    └── scope 'inner' parallel(2), 1 finalizer",
        "        └── scope 'innermost' sequential, 0 finalizers",
    ]


def test_a_fiber_forked_in_a_scope_is_drawn_under_that_scope() -> None:
    @gen
    def program() -> Do[str]:
        jobs = yield from Scope.make(name="jobs")
        yield from Effect.never().named("job").fork_in(jobs)
        yield from settle()
        tree = yield from debug_tree()
        yield from jobs.close(Exit.unit())
        return tree

    lines = run_sync(program().named("main")).splitlines()
    assert re.fullmatch(r"fiber #\d+ \(main\) running", lines[0])
    assert lines[1] == "└── scope 'jobs' sequential, 1 finalizer"
    assert re.fullmatch(r"    └── fiber #\d+ \(job\) suspended", lines[2])
    assert len(lines) == 3  # not also under the fiber that forked it


def test_a_fiber_forked_with_fork_scoped_is_drawn_under_the_current_scope() -> None:
    started = Effect.never().named("scoped worker").fork_scoped().and_then(settle())
    lines = run_sync(Effect.scoped(started.and_then(debug_tree()))).splitlines()
    assert lines[1] == "└── scope sequential, 1 finalizer"
    assert re.fullmatch(r"    └── fiber #\d+ \(scoped worker\) suspended", lines[2])


def test_a_closed_scope_and_its_fibers_are_gone() -> None:
    @gen
    def program() -> Do[tuple[str, str]]:
        kept = yield from Scope.make(name="kept")
        closed = yield from kept.fork(name="closed")
        yield from Effect.never().named("owned").fork_in(closed)
        yield from settle()
        before = yield from debug_tree()
        yield from closed.close(Exit.unit())
        after = yield from debug_tree()
        yield from kept.close(Exit.unit())
        return before, after

    before, after = run_sync(program())
    assert "scope 'closed'" in before and "(owned)" in before
    assert after.splitlines()[1:] == ["└── scope 'kept' sequential, 0 finalizers"]


@each_path
def test_a_parked_fibers_effect_scoped_scopes_are_drawn_until_they_close(path: Path) -> None:
    @gen
    def program() -> Do[tuple[str, str, str, FiberId]]:
        inside = yield from Deferred[None].make()
        after = yield from Deferred[None].make()
        entered, left = Latch(), Latch()  # opened just before the worker parks
        resource = Effect.acquire_release(
            on_path(path, lambda: "r"), lambda r, e: on_path(path, lambda: None)
        )
        extra = Effect.add_finalizer(lambda _: on_path(path, lambda: None))
        nested = Effect.scoped(extra.and_then(entered.open()).and_then(inside.await_()))
        worker = (
            Effect.scoped(resource.and_then(extra).and_then(extra).and_then(nested))
            .and_then(left.open())
            .and_then(after.await_())
            .named("worker")
        )
        fiber = yield from worker.fork()
        yield from entered.wait()
        parked = yield from debug_tree()
        yield from inside.succeed(None)
        yield from left.wait()
        closed = yield from debug_tree()
        yield from after.succeed(None)
        yield from fiber.join()
        done = yield from debug_tree()
        return parked, closed, done, fiber.id

    parked, closed, done, worker = run_sync(program())
    assert [strip_guides(line) for line in parked.splitlines()[1:]] == [
        f"fiber {worker} suspended",
        "scope sequential, 3 finalizers",
        "scope sequential, 1 finalizer",
    ]
    assert [strip_guides(line) for line in closed.splitlines()[1:]] == [f"fiber {worker} suspended"]
    assert len(done.splitlines()) == 1


@each_path
def test_the_effect_scoped_scope_of_the_fiber_that_draws_the_tree_is_drawn(path: Path) -> None:
    resource = Effect.acquire_release(
        on_path(path, lambda: "r"), lambda r, e: on_path(path, lambda: None)
    )
    inside = run_sync(Effect.scoped(resource.and_then(debug_tree())))
    after = run_sync(Effect.scoped(resource).and_then(debug_tree()))
    assert [strip_guides(line) for line in inside.splitlines()[1:]] == [
        "scope sequential, 1 finalizer"
    ]
    assert len(after.splitlines()) == 1


def test_an_open_scope_made_by_user_code_is_still_drawn_after_many_were_dropped() -> None:
    # Scopes made with `Scope.make` are tracked weakly, and the dead ones pruned from
    # time to time: an open one must outlive every pruning.
    @gen
    def program() -> Do[str]:
        kept = yield from Scope.make(name="kept")
        yield from Effect.for_each(range(1_000), lambda _: Scope.make().as_unit())
        tree = yield from debug_tree()
        yield from kept.close(Exit.unit())
        return tree

    tree = run_sync(program())
    assert [strip_guides(line) for line in tree.splitlines()[1:]] == [
        "scope 'kept' sequential, 0 finalizers"
    ]


def test_scopes_user_code_drops_or_closes_do_not_pile_up_in_the_registry() -> None:
    # Nothing public shows how many dead scopes are still tracked: this reads the
    # registry itself.
    from effectpy._core import scope as core

    def make_and_drop(left: int) -> Effect[None]:
        if left == 0:
            return Effect.unit()
        closed_or_dropped = Scope.make().flat_map(
            lambda scope: scope.close(Exit.unit()) if left % 2 else Effect.unit()
        )
        return closed_or_dropped.and_then(Effect.suspend(lambda: make_and_drop(left - 1)))

    run_sync(make_and_drop(5_000))
    # Pruned as the list doubles: bounded by the scopes still open (none), not by 5,000.
    assert len(core._user_scopes) < 200


# -- formats ------------------------------------------------------------------------------

NODE = re.compile(r'    (n\d+)(\["[^"]*"\]|\(\["[^"]*"\]\))')
EDGE = re.compile(r"    (n\d+) --> (n\d+)")


def parse_mermaid(graph: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The nodes (id -> label, scopes marked with a leading "scope") and edges of a
    Mermaid graph; fails on any line that is neither."""
    lines = graph.splitlines()
    assert lines[0] == "graph TD"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:]:
        if node := NODE.fullmatch(line):
            assert node[1] not in nodes, f"node {node[1]} defined twice"
            nodes[node[1]] = node[2].strip('[]()"')
        elif edge := EDGE.fullmatch(line):
            assert edge[1] in nodes and edge[2] in nodes, f"edge before its nodes: {line}"
            edges.append((edge[1], edge[2]))
        else:
            pytest.fail(f"not a Mermaid node or edge: {line!r}")
    return nodes, edges


def test_mermaid_draws_the_same_tree_as_a_graph() -> None:
    @gen
    def program() -> Do[tuple[str, str]]:
        jobs = yield from Scope.make(ExecutionStrategy.parallel, name="jobs")
        yield from Effect.never().named("job").fork_in(jobs)
        child = yield from park("child")
        yield from settle()
        ascii_tree = yield from debug_tree("ascii")
        graph = yield from debug_tree(format="mermaid")
        yield from child.interrupt()
        yield from jobs.close(Exit.unit())
        return ascii_tree, graph

    ascii_tree, graph = run_sync(program().named("main"))
    nodes, edges = parse_mermaid(graph)
    assert sorted(nodes.values()) == sorted(map(strip_guides, ascii_tree.splitlines()))
    by_label = {label: name for name, label in nodes.items()}
    main = next(name for label, name in by_label.items() if "(main)" in label)
    jobs = by_label["scope 'jobs' parallel, 1 finalizer"]
    job = next(name for label, name in by_label.items() if "(job)" in label)
    child = next(name for label, name in by_label.items() if "(child)" in label)
    assert sorted(edges) == sorted([(main, jobs), (jobs, job), (main, child)])
    assert f'{jobs}(["scope' in graph  # scopes are drawn as stadiums, fibers as boxes
    assert f'{child}["fiber' in graph


def test_mermaid_keeps_a_quote_in_a_name_from_breaking_the_graph() -> None:
    graph = run_sync(debug_tree("mermaid").named('say "hi"'))
    nodes, edges = parse_mermaid(graph)
    [label] = nodes.values()
    assert re.fullmatch(r"fiber #\d+ \(say 'hi'\) running", label)
    assert edges == []


@pytest.mark.parametrize("bad", ["json", "ASCII", "", None])
def test_an_unknown_format_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match="debug_tree format must be"):
        debug_tree(bad)  # type: ignore[arg-type]


def test_a_spawned_fiber_waiting_for_its_turn_shows_as_not_started() -> None:
    tree = seen_with_spawns_waiting(2, debug_tree())
    lines = [re.sub(r"#\d+", "#n", strip_guides(line)) for line in tree.splitlines()]
    # the root (waiting in `branch`), the entry, the spawned fiber that runs, the other
    assert lines == [
        "fiber #n suspended",
        "fiber #n running",
        "fiber #n suspended",
        "fiber #n not started",
    ]
