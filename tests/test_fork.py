"""Forking and joining fibers, and supervision: no fiber outlives its parent unless it
is a daemon, and no daemon outlives the runtime."""

from __future__ import annotations

import threading
from typing import Any, Never, cast

import pytest
from conftest import Latch, each_seed, run_interleaved, seen_with_spawns_waiting, yields

from effectpy import (
    Cause,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    Fiber,
    FiberId,
    Interrupt,
    Manual,
    ParentDone,
    Shutdown,
    Success,
    gen,
    live_fiber_count,
    run_fork,
    run_sync,
    run_sync_exit,
)
from effectpy.effect import _with_fiber


def record(log: list[str], entry: str) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


# -- join, await_, poll ---------------------------------------------------------------


def test_join_succeeds_with_the_childs_value() -> None:
    assert (
        run_sync(Effect.succeed(20).fork().flat_map(lambda f: f.join()).map(lambda n: n + 1)) == 21
    )


def test_join_fails_with_the_childs_typed_error() -> None:
    effect: Effect[int, str] = Effect.fail("no")
    assert run_sync_exit(effect.fork().flat_map(lambda f: f.join())) == Failure(Fail("no"))


def test_join_fails_with_the_childs_defect() -> None:
    defect = ZeroDivisionError("in the child")
    exit = run_sync_exit(Effect.die(defect).fork().flat_map(lambda f: f.join()))
    assert exit == Failure(Die(defect))


def test_join_of_a_failed_child_raises_the_users_own_exception() -> None:
    error = KeyError("missing")
    effect: Effect[int, KeyError] = Effect.fail(error)
    with pytest.raises(KeyError) as caught:
        run_sync(cast(Effect[int], effect.fork().flat_map(lambda f: f.join())))
    assert caught.value is error


def test_await_succeeds_with_the_childs_exit_even_when_it_failed() -> None:
    failing: Effect[int, str] = Effect.fail("x")
    exits = run_sync(
        Effect.all(
            Effect.succeed(1).fork().flat_map(lambda f: f.await_()),
            failing.fork().flat_map(lambda f: f.await_()),
        )
    )
    assert exits == (Success(1), Failure(Fail("x")))


def test_join_waits_for_a_child_that_is_still_running() -> None:
    latch = Latch()

    @gen
    def program() -> Do[str]:
        fiber = yield from latch.wait().as_("opened").fork()
        yield from yields(5)
        yield from latch.open()
        return (yield from fiber.join())

    assert run_sync(program()) == "opened"


def test_poll_is_none_while_the_child_runs_and_its_exit_afterwards() -> None:
    latch = Latch()

    @gen
    def program() -> Do[tuple[Exit[int, Any] | None, Exit[int, Any] | None]]:
        fiber = yield from latch.wait().as_(7).fork()
        before = yield from fiber.poll()
        yield from latch.open()
        yield from fiber.await_()
        after = yield from fiber.poll()
        return before, after

    assert run_sync(program()) == (None, Success(7))


def test_fork_goes_on_at_once_without_waiting_for_the_child() -> None:
    latch = Latch()

    @gen
    def program() -> Do[str]:
        fiber = yield from latch.wait().as_("child done").fork()
        yield from latch.open()  # a fork that waited for its child would never get here
        return (yield from fiber.join())

    assert run_sync(program()) == "child done"


# -- children -------------------------------------------------------------------------


def test_children_lists_the_running_children_only() -> None:
    forked = Latch()

    @gen
    def parent() -> Do[None]:
        yield from Effect.never().fork()
        yield from Effect.never().fork()
        done = yield from Effect.unit().fork()
        yield from done.await_()
        yield from forked.open()
        yield from Effect.never()

    @gen
    def program() -> Do[tuple[int, int]]:
        fiber = yield from parent().fork()
        yield from forked.wait()
        children = yield from fiber.children()
        grandchildren = yield from Effect.for_each(children, lambda c: c.children())
        return len(children), sum(len(g) for g in grandchildren)

    assert run_sync(program()) == (2, 0)


def test_children_is_empty_once_the_fiber_is_done() -> None:
    @gen
    def program() -> Do[int]:
        fiber = yield from Effect.never().fork().as_unit().fork()
        yield from fiber.await_()
        return len((yield from fiber.children()))

    assert run_sync(program()) == 0


def test_children_are_fibers_that_can_be_interrupted() -> None:
    forked = Latch()
    log: list[str] = []

    @gen
    def parent() -> Do[None]:
        yield from Effect.never().ensuring(record(log, "child stopped")).fork()
        yield from forked.open()
        yield from Effect.never()

    @gen
    def program() -> Do[None]:
        fiber = yield from parent().fork()
        yield from forked.wait()
        [child] = yield from fiber.children()
        yield from child.interrupt()
        assert log == ["child stopped"]
        assert (yield from fiber.children()) == []
        yield from fiber.interrupt()
        return None

    run_sync(program())
    assert log == ["child stopped"]


# -- supervision ----------------------------------------------------------------------


@each_seed
def test_a_parent_interrupts_its_running_children_when_its_effect_ends(seed: int) -> None:
    seen: list[Interrupt] = []
    started = Latch()

    @gen
    def parent() -> Do[FiberId]:
        yield from (
            started.open()
            .and_then(Effect.never())
            .on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
            .fork()
        )
        yield from started.wait()
        return (yield from Effect.fiber_id())

    parent_id = run_interleaved(parent(), seed)
    assert seen == [Interrupt(parent_id, ParentDone(parent_id))]


@each_seed
def test_a_parent_awaits_its_childrens_finalizers_before_its_exit(seed: int) -> None:
    log: list[str] = []
    started = Latch()

    def child() -> Effect[None]:
        slow_cleanup = yields(10).and_then(record(log, "child finalizer done"))
        return started.open().and_then(Effect.never()).ensuring(slow_cleanup)

    @gen
    def parent() -> Do[None]:
        yield from child().fork()
        yield from started.wait()
        return None

    @gen
    def program() -> Do[None]:
        fiber = yield from parent().fork()
        yield from fiber.await_()
        yield from record(log, "parent's exit seen")
        return None

    run_interleaved(program(), seed)
    assert log == ["child finalizer done", "parent's exit seen"]


def test_a_childs_finalizers_have_run_when_run_sync_returns() -> None:
    log: list[str] = []
    started = Latch()

    @gen
    def program() -> Do[str]:
        yield from (
            started.open()
            .and_then(Effect.never())
            .ensuring(yields(10).and_then(record(log, "cleaned up")))
            .fork()
        )
        yield from started.wait()
        return "parent done"

    assert run_sync(program()) == "parent done"
    assert log == ["cleaned up"]


def test_a_child_that_never_started_does_not_delay_or_outlive_its_parent() -> None:
    log: list[str] = []
    assert run_sync(record(log, "child ran").fork().as_("parent done")) == "parent done"
    assert live_fiber_count() == 0
    assert log in ([], ["child ran"])


@each_seed
def test_supervision_reaches_grandchildren(seed: int) -> None:
    seen: dict[str, list[Interrupt]] = {}
    ready = Latch()

    def watched(name: str, effect: Effect[Never]) -> Effect[Never]:
        return effect.on_interrupt(lambda stops: Effect.sync(lambda: seen.setdefault(name, stops)))

    @gen
    def child() -> Do[None]:
        yield from watched("grandchild", ready.open().and_then(Effect.never())).fork()
        yield from watched("child", Effect.never())

    @gen
    def parent() -> Do[tuple[FiberId, FiberId]]:
        fiber = yield from child().fork()
        yield from ready.wait()
        return (yield from Effect.fiber_id()), fiber.id

    parent_id, child_id = run_interleaved(parent(), seed)
    assert seen == {
        "child": [Interrupt(parent_id, ParentDone(parent_id))],
        "grandchild": [Interrupt(child_id, ParentDone(child_id))],
    }


def test_a_failing_parent_still_stops_its_children_and_keeps_its_own_failure() -> None:
    log: list[str] = []
    started = Latch()

    @gen
    def parent() -> Do[int, str]:
        yield from started.open().and_then(Effect.never()).ensuring(record(log, "child")).fork()
        yield from started.wait()
        return (yield from Effect.fail("parent failed"))

    assert run_sync_exit(parent()) == Failure(Fail("parent failed"))
    assert log == ["child"]


def test_a_child_that_finished_is_not_interrupted_and_keeps_its_exit() -> None:
    @gen
    def program() -> Do[Exit[int, Any]]:
        fiber = yield from Effect.succeed(3).fork()
        yield from fiber.await_()
        return (yield from fiber.interrupt())

    assert run_sync(program()) == Success(3)


# -- daemons --------------------------------------------------------------------------


@each_seed
@pytest.mark.parametrize("concurrency", [1, 3, "unbounded"])
def test_forks_made_by_a_concurrent_for_each_belong_to_its_caller(
    seed: int, concurrency: int | str
) -> None:
    """A worker ends as soon as its item is done; what the item forked runs on, owned
    by the fiber that called `for_each` (Effect-TS: "does not kill fiber when forked
    on the parent scope")."""
    work = Effect.yield_now().and_then(Effect.yield_now()).as_("ran")

    @gen
    def program() -> Do[list[Exit[str, Never]]]:
        fibers = yield from Effect.for_each(
            range(5),
            lambda _: work.fork(),
            concurrency=concurrency,  # type: ignore[arg-type]
        )
        return (yield from Fiber.await_all(fibers))

    assert run_interleaved(program(), seed) == [Success("ran")] * 5


@each_seed
def test_forks_left_running_by_a_concurrent_for_each_stop_when_its_caller_ends(
    seed: int,
) -> None:
    stopped: list[object] = []
    forked = Effect.never().on_interrupt(lambda stops: Effect.sync(lambda: stopped.extend(stops)))

    @gen
    def caller() -> Do[FiberId]:
        yield from Effect.for_each(range(3), lambda _: forked.fork(), concurrency="unbounded")
        yield from Effect.yield_now()
        return (yield from Effect.fiber_id())

    caller_id = run_interleaved(caller(), seed)
    assert stopped == [Interrupt(caller_id, ParentDone(caller_id))] * 3


def test_a_daemon_outlives_the_fiber_that_forked_it() -> None:
    latch = Latch()

    @gen
    def program() -> Do[tuple[Exit[str, Any] | None, str]]:
        parent = yield from latch.wait().as_("daemon done").fork_daemon().fork()
        daemon = yield from parent.join()
        still_running = yield from daemon.poll()
        yield from latch.open()
        return still_running, (yield from daemon.join())

    assert run_sync(program()) == (None, "daemon done")


def test_a_daemon_is_stopped_with_reason_shutdown_when_run_sync_ends() -> None:
    seen: list[Interrupt] = []
    log: list[str] = []
    daemon = (
        Effect.never()
        .on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
        .ensuring(yields(10).and_then(record(log, "daemon cleaned up")))
    )
    started = Latch()
    assert run_sync(started.open().and_then(daemon).fork_daemon().and_then(started.wait())) is None
    assert [stop.reason for stop in seen] == [Shutdown("the runtime finished")]
    assert log == ["daemon cleaned up"]


def test_children_of_a_fiber_leave_out_its_daemons() -> None:
    forked = Latch()

    @gen
    def parent() -> Do[None]:
        yield from Effect.never().fork_daemon()
        yield from Effect.never().fork()
        yield from forked.open()
        yield from Effect.never()

    @gen
    def program() -> Do[int]:
        fiber = yield from parent().fork()
        yield from forked.wait()
        children = yield from fiber.children()
        yield from fiber.interrupt()
        return len(children)

    assert run_sync(program()) == 1


# -- names ----------------------------------------------------------------------------


def test_named_names_the_fiber_id() -> None:
    fiber_id = run_sync(Effect.fiber_id().named("worker"))
    assert fiber_id.name == "worker"
    assert str(fiber_id) == f"#{fiber_id.number} (worker)"


def test_a_forked_named_fiber_shows_its_name_in_its_handle() -> None:
    @gen
    def program() -> Do[str | None]:
        fiber = yield from Effect.fiber_id().named("downloader").fork()
        child_id = yield from fiber.join()
        assert child_id == fiber.id
        return fiber.id.name

    assert run_sync(program()) == "downloader"


def test_the_name_of_the_interrupting_fiber_shows_in_the_cause_pretty() -> None:
    @gen
    def program() -> Do[Exit[Never, Never]]:
        fiber = yield from Effect.never().fork()
        return (yield from fiber.interrupt())

    exit = run_sync(program().named("supervisor"))
    assert isinstance(exit, Failure)
    [stop] = exit.cause.interruptions()
    assert stop.fiber_id.name == "supervisor"
    assert f"#{stop.fiber_id.number} (supervisor)" in exit.cause.pretty()


def test_a_named_fiber_that_interrupts_itself_shows_its_name_in_the_cause_pretty() -> None:
    exit = run_sync_exit(Effect.interrupt().named("quitter"))
    assert isinstance(exit, Failure)
    assert "(quitter)" in exit.cause.pretty()
    assert "interrupted on request" in exit.cause.pretty()


def test_naming_does_not_change_fiber_equality() -> None:
    fiber_id = run_sync(Effect.fiber_id().named("a"))
    assert FiberId(fiber_id.number, "another name") == fiber_id


# -- await_all ------------------------------------------------------------------------


def test_await_all_gives_every_exit_in_order() -> None:
    latch = Latch()
    failing: Effect[int, str] = Effect.fail("second")

    @gen
    def program() -> Do[list[Exit[int, str]]]:
        slow = yield from latch.wait().as_(1).fork()
        fails = yield from failing.fork()
        fast = yield from Effect.succeed(3).fork()
        waiting = yield from Fiber.await_all([slow, fails, fast]).fork()
        yield from yields(5)
        assert (yield from waiting.poll()) is None
        yield from latch.open()
        return (yield from waiting.join())

    assert run_sync(program()) == [Success(1), Failure(Fail("second")), Success(3)]


def test_await_all_of_no_fibers_is_an_empty_list() -> None:
    assert run_sync(Fiber.await_all([])) == []


# -- run_fork and threads -------------------------------------------------------------


def test_run_fork_returns_at_once_and_run_sync_joins_it() -> None:
    latch = Latch()
    fiber = run_fork(latch.wait().as_("background work"))
    assert run_sync(fiber.poll()) is None
    latch.open_now()
    assert run_sync(fiber.join()) == "background work"


def test_run_fork_fiber_can_be_joined_from_another_thread() -> None:
    fiber = run_fork(Effect.succeed(5))
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(run_sync(fiber.join())))
    thread.start()
    thread.join(10)
    assert results == [5]


def test_run_fork_fiber_can_be_interrupted_from_another_thread() -> None:
    seen: list[Interrupt] = []
    log: list[str] = []
    started = threading.Event()
    fiber = run_fork(
        Effect.sync(started.set)
        .and_then(Effect.never())
        .on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
        .ensuring(yields(10).and_then(record(log, "cleaned up")))
    )
    assert started.wait(10)

    @gen
    def interrupter() -> Do[tuple[FiberId, Exit[Never, Never]]]:
        me = yield from Effect.fiber_id()
        return me, (yield from fiber.interrupt())

    me, exit = run_sync(interrupter())
    assert log == ["cleaned up"]
    assert seen == [Interrupt(me, Manual())]
    assert exit == Failure(Cause.interrupt(me, Manual()))


def test_run_fork_failure_is_raised_by_run_sync_join() -> None:
    error = ValueError("background failure")
    failing: Effect[int, ValueError] = Effect.fail(error)
    fiber = run_fork(failing)
    assert run_sync(fiber.await_()) == Failure(Fail(error))
    with pytest.raises(ValueError) as caught:
        run_sync(cast(Effect[int], fiber.join()))
    assert caught.value is error


# -- live fiber count -----------------------------------------------------------------


def test_live_fiber_count_counts_running_fibers_and_returns_to_zero() -> None:
    @gen
    def program() -> Do[int]:
        for _ in range(3):
            yield from Effect.never().fork()
        yield from Effect.never().fork_daemon()
        return (yield from Effect.sync(live_fiber_count))

    assert run_sync(program()) >= 5
    assert live_fiber_count() == 0


def live_here() -> Effect[int]:
    """The live fibers of the running fiber's runtime (exact: no other runner counts)."""
    return _with_fiber(lambda fiber: Effect.succeed(fiber.scheduler.live_fiber_count()))


def test_live_fiber_count_counts_every_started_fiber_of_the_tree_until_it_ends() -> None:
    forks_a_grandchild = Effect.never().fork().and_then(Effect.never())

    @gen
    def program() -> Do[list[int]]:
        counts = [(yield from live_here())]  # the root
        plain = yield from Effect.never().fork()
        parent = yield from forks_a_grandchild.fork()
        yield from forks_a_grandchild.fork_daemon()
        yield from yields(2)  # the forked ones have forked theirs
        counts.append((yield from live_here()))  # root, 2 children, 1 grandchild, daemon + 1
        yield from parent.interrupt()  # and its child with it
        counts.append((yield from live_here()))
        yield from plain.interrupt()
        counts.append((yield from live_here()))
        return counts

    assert run_sync(program()) == [1, 6, 4, 3]
    assert live_fiber_count() == 0


def test_a_spawned_fiber_waiting_for_its_turn_is_not_live_until_it_starts() -> None:
    # the root, the entry, the one spawned fiber that runs; not the two that wait
    assert seen_with_spawns_waiting(3, live_here()) == 3
    assert live_fiber_count() == 0


def test_live_fiber_count_is_zero_after_run_fork_is_joined_and_its_runner_ends() -> None:
    fiber = run_fork(Effect.never().fork_daemon().and_then(Effect.succeed(1)))
    assert run_sync(fiber.join()) == 1
    # The fixture `no_fiber_outlives_its_runner` waits for the runner thread, then
    # checks the count.


def test_live_fiber_count_is_zero_after_a_failed_run() -> None:
    failing: Effect[int, str] = Effect.fail("x")

    @gen
    def program() -> Do[int, str]:
        yield from Effect.never().fork()
        return (yield from failing)

    assert run_sync_exit(program()).is_failure()
    assert live_fiber_count() == 0


# -- a child that succeeded while nobody waited keeps its value, not yet a Success ---------


def test_every_way_to_read_a_finished_childs_success_gives_its_value() -> None:
    # The child ends before anyone joins it: its exit is made only when asked for.
    @gen
    def program() -> Do[
        tuple[int, Exit[int, Never], Exit[int, Never] | None, list[Exit[int, Never]]]
    ]:
        fiber = yield from Effect.succeed(7).fork()
        yield from Effect.yield_now()
        yield from Effect.yield_now()
        joined = yield from fiber.join()
        awaited = yield from fiber.await_()
        polled = yield from fiber.poll()
        all_ = yield from Fiber.await_all([fiber])
        return joined, awaited, polled, all_

    joined, awaited, polled, all_ = run_sync(program())
    assert joined == 7
    assert awaited == Success(7)
    assert polled == Success(7)
    assert all_ == [Success(7)]
    assert awaited is polled  # made once, then kept


def test_a_finished_child_whose_value_is_none_joins_with_none() -> None:
    @gen
    def program() -> Do[tuple[list[None], Exit[None, Never]]]:
        fiber = yield from Effect.unit().fork()
        yield from Effect.yield_now()
        joined = yield from fiber.join().map(lambda value: [value])
        return joined, (yield from fiber.await_())

    assert run_sync(program()) == ([None], Success(None))


def test_an_observer_added_from_another_thread_after_the_child_finished_gets_its_exit() -> None:
    seen: list[Exit[int, Never]] = []
    done = threading.Event()

    @gen
    def program() -> Do[None]:
        fiber = yield from Effect.succeed(3).fork_daemon()
        yield from Effect.yield_now()
        yield from Effect.yield_now()

        def record(exit: Exit[Any, Any]) -> None:
            seen.append(exit)
            done.set()

        def observe() -> None:
            fiber._runtime.add_observer_from_any_thread(record)

        thread = threading.Thread(target=observe)
        thread.start()
        thread.join()
        return None

    run_sync(program())
    assert done.wait(5)
    assert seen == [Success(3)]
