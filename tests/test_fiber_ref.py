"""Fiber-local values: a `FiberRef` holds one value per fiber; a fiber starts with
its parent's values (forked, spawned or run by `all`), and its own changes stay
its own."""

from __future__ import annotations

from typing import Never

import pytest
from conftest import Latch, each_seed, run_seeded

from effectpy import Do, Effect, FiberRef, gen, run_sync, run_sync_exit
from effectpy.structured import Spawned, branch, spawn


def test_make_gives_a_ref_whose_value_is_the_initial_one() -> None:
    assert run_sync(FiberRef.make("anonymous").flat_map(lambda ref: ref.get())) == "anonymous"


def test_set_then_get_gives_the_new_value() -> None:
    ref = FiberRef(0)
    assert run_sync(ref.set(5).and_then(ref.get())) == 5


def test_update_applies_the_function_to_the_current_value() -> None:
    ref = FiberRef(10)
    assert (
        run_sync(
            ref.update(lambda n: n * 3).and_then(ref.update(lambda n: n + 1)).and_then(ref.get())
        )
        == 31
    )


def test_each_run_starts_from_the_initial_value() -> None:
    ref = FiberRef("initial")
    assert run_sync(ref.set("changed").and_then(ref.get())) == "changed"
    assert run_sync(ref.get()) == "initial"


def test_two_refs_are_independent() -> None:
    a, b = FiberRef(1), FiberRef(1)
    assert run_sync(a.set(2).and_then(a.get().zip(b.get()))) == (2, 1)


def test_the_name_shows_in_the_repr() -> None:
    assert repr(FiberRef(0, name="request_id")) == "FiberRef(request_id)"


# -- locally -----------------------------------------------------------------------------


def test_locally_sets_the_value_for_the_effect_then_restores_it() -> None:
    ref = FiberRef("outer")
    assert run_sync(ref.locally("inner", ref.get()).zip(ref.get())) == ("inner", "outer")


def test_locally_restores_the_value_after_a_failure() -> None:
    ref = FiberRef("outer")
    failing: Effect[Never, str] = ref.locally("inner", Effect.fail("no"))
    assert run_sync(failing.either().and_then(ref.get())) == "outer"


def test_locally_restores_a_value_set_inside_it() -> None:
    ref = FiberRef("outer")
    inside = ref.set("set inside").and_then(ref.get())
    assert run_sync(ref.locally("inner", inside).zip(ref.get())) == ("set inside", "outer")


def test_nested_locally_restores_each_level() -> None:
    ref = FiberRef(0)

    @gen
    def program() -> Do[list[int]]:
        seen = [(yield from ref.get())]
        inner = ref.get().zip(ref.locally(2, ref.get())).zip(ref.get())
        (one, two), one_again = yield from ref.locally(1, inner)
        return [*seen, one, two, one_again, (yield from ref.get())]

    assert run_sync(program()) == [0, 1, 2, 1, 0]


# -- inheritance -------------------------------------------------------------------------


def test_a_forked_child_starts_with_the_parents_value() -> None:
    ref = FiberRef("none")
    program = ref.set("req-42").and_then(ref.get().fork()).flat_map(lambda f: f.join())
    assert run_sync(program) == "req-42"


def test_the_child_inherits_the_value_at_fork_time_not_later_changes() -> None:
    ref = FiberRef("before")
    gate = Latch()

    @gen
    def program() -> Do[str]:
        child = yield from gate.wait().and_then(ref.get()).fork()
        yield from ref.set("after fork")
        yield from gate.open()
        return (yield from child.join())

    assert run_sync(program()) == "before"


def test_a_childs_change_does_not_leak_to_the_parent() -> None:
    ref = FiberRef("parent")

    @gen
    def program() -> Do[tuple[str, str]]:
        child = yield from ref.set("child").and_then(ref.get()).fork()
        in_child = yield from child.join()
        return in_child, (yield from ref.get())

    assert run_sync(program()) == ("child", "parent")


@pytest.mark.parametrize("side", ["parent", "child"])
def test_locally_and_its_restore_on_one_side_of_a_fork_never_reach_the_other(side: str) -> None:
    # Parent and child start from the same values: a `locally` entered and left on one
    # side (and a `set` in it) must not show on the other, before, during or after.
    ref = FiberRef("start")
    other = FiberRef("other start")
    seen: list[tuple[str, str]] = []
    here_go, there_go = Latch(), Latch()
    look = ref.get().zip(other.get()).flat_map(lambda v: Effect.sync(lambda: seen.append(v)))

    def changing(done: Latch) -> Effect[None]:
        inside = other.set("set inside").and_then(done.open())
        return ref.locally("local", inside).and_then(ref.set("set after"))

    @gen
    def program() -> Do[None]:
        if side == "parent":
            child = yield from there_go.wait().and_then(look).fork()
            yield from changing(here_go)
            yield from there_go.open()
        else:
            child = yield from changing(here_go).fork()
            yield from here_go.wait()
            yield from look
        yield from child.join()

    run_sync(program())
    assert seen == [("start", "other start")]


def test_grandchildren_inherit_through_their_parent() -> None:
    ref = FiberRef(0)
    grandchild = ref.get().fork().flat_map(lambda f: f.join())
    child = ref.update(lambda n: n + 1).and_then(grandchild).fork().flat_map(lambda f: f.join())
    assert run_sync(ref.set(10).and_then(child)) == 11


def test_children_of_all_inherit_the_value() -> None:
    ref = FiberRef("none")
    program = ref.locally("tenant-a", Effect.all(ref.get(), ref.get(), concurrency=2))
    assert run_sync(program) == ("tenant-a", "tenant-a")


@each_seed
def test_concurrent_fibers_each_keep_their_own_value(seed: int) -> None:
    ref = FiberRef(-1)

    def worker(n: int) -> Effect[list[int]]:
        @gen
        def body() -> Do[list[int]]:
            seen = []
            for _ in range(5):
                yield from Effect.yield_now()
                seen.append((yield from ref.get()))
            return seen

        return ref.set(n).and_then(body())

    workers = [worker(n) for n in range(5)]
    results = run_seeded(Effect.all(*workers, concurrency="unbounded"), seed)
    assert [set(seen) for seen in results] == [{n} for n in range(5)]


# -- spawned fibers ----------------------------------------------------------------------


def test_spawned_fibers_inherit_the_spawners_value() -> None:
    ref = FiberRef("none")

    @gen
    def entry() -> Do[str, Never, Spawned[Never]]:
        fiber = yield from ref.locally("req-7", spawn(ref.get()))
        return (yield from fiber.join())

    assert run_sync(branch(entry())) == "req-7"


def test_a_spawned_fibers_change_does_not_leak_to_the_entry() -> None:
    ref = FiberRef("entry")

    @gen
    def entry() -> Do[tuple[str, str], Never, Spawned[Never]]:
        fiber = yield from spawn(ref.set("spawned").and_then(ref.get()))
        in_spawned = yield from fiber.join()
        return in_spawned, (yield from ref.get())

    assert run_sync(branch(entry())) == ("spawned", "entry")


def test_work_spawned_by_a_spawned_fiber_inherits_from_that_fiber() -> None:
    ref = FiberRef("none")
    grandchild = spawn(ref.get()).flat_map(lambda f: f.join())
    child = ref.set("child's value").and_then(grandchild)

    @gen
    def entry() -> Do[str, Never, Spawned[Never]]:
        yield from ref.set("entry's value")
        fiber = yield from spawn(child)
        return (yield from fiber.join())

    assert run_sync(branch(entry())) == "child's value"


def test_the_entry_of_a_branch_inherits_the_value_of_the_fiber_that_opened_it() -> None:
    ref = FiberRef("none")
    assert run_sync(ref.locally("opener", branch(ref.get()))) == "opener"


def test_a_failed_run_leaves_nothing_behind() -> None:
    ref = FiberRef(0)
    failing: Effect[Never, str] = ref.set(1).and_then(Effect.fail("no"))
    assert run_sync_exit(failing).is_failure()
    assert run_sync(ref.get()) == 0
