"""Concurrency primitives: Ref, Deferred, Queue, Semaphore, Latch, CountDownLatch.

Concurrency tests run under many scheduler seeds (`Runtime(seed=...)` shuffles the
ready queue), some also with tiny op budgets so fibers yield between almost any two
steps. Time is virtual (`TestClock`); `settle()` lets every other fiber run until it
parks, which is how a test knows a waiter is in place.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any, Never, TypeVar

import pytest

import effectpy.concurrent as concurrent
from effectpy import (
    Cause,
    Do,
    Effect,
    Exit,
    Failure,
    Fiber,
    Runtime,
    Success,
    TestClock,
    gen,
    run_async,
)
from effectpy.concurrent import (
    CountDownLatch,
    Deferred,
    Latch,
    Queue,
    QueueShutdown,
    Ref,
    Semaphore,
)

A = TypeVar("A")

SEEDS = range(50)


def run(effect: Effect[A], *, seed: int | None = None, budget: int = 2048) -> A:
    """Run `effect` on a `TestClock`, with the given scheduler seed and op budget."""
    return Runtime(seed=seed, budget=budget).run_sync(TestClock.provide(effect))


def settle() -> Effect[None]:
    """Let every other ready fiber run until it parks (virtual time does not move)."""
    return TestClock.adjust(0)


def yields(n: int) -> Effect[None]:
    """Give way to the other fibers `n` times."""
    return Effect.for_each(range(n), lambda _: Effect.yield_now()).as_unit()


def interrupted(exit: Exit[Any, Any]) -> bool:
    return isinstance(exit, Failure) and exit.cause.is_interrupted_only()


def shutdown_reason(exit: Exit[Any, Any]) -> QueueShutdown:
    """The reason of the fiber's interruption by a shut-down queue: the only thing in
    its cause (no defect, no typed error)."""
    assert isinstance(exit, Failure), exit
    assert exit.cause.is_interrupted_only(), exit
    [stop] = exit.cause.interruptions()
    assert isinstance(stop.reason, QueueShutdown)
    return stop.reason


# -- the package ----------------------------------------------------------------------


def test_concurrent_package_exports_exactly_its_all() -> None:
    public = {name for name in vars(concurrent) if not name.startswith("_")}
    modules = {"deferred", "latch", "queue", "ref", "semaphore"}
    assert set(concurrent.__all__) == public - modules
    assert concurrent.__all__ == sorted(concurrent.__all__)


# -- Ref ------------------------------------------------------------------------------


def test_ref_make_gives_a_fresh_ref_on_each_run() -> None:
    make = Ref.make(0)

    @gen
    def program() -> Do[tuple[int, int]]:
        first = yield from make
        second = yield from make
        yield from first.set(1)
        return (yield from first.get()), (yield from second.get())

    assert run(program()) == (1, 0)


def test_ref_operations_return_what_they_promise() -> None:
    @gen
    def program() -> Do[list[object]]:
        ref = yield from Ref.make(1)
        old = yield from ref.get_and_set(2)
        before_update = yield from ref.get_and_update(lambda n: n * 10)
        after_update = yield from ref.update_and_get(lambda n: n + 1)
        label = yield from ref.modify(lambda n: (f"was {n}", n - 1))
        yield from ref.update(lambda n: n * 2)
        return [old, before_update, after_update, label, (yield from ref.get())]

    assert run(program()) == [1, 2, 21, "was 21", 40]


@pytest.mark.parametrize("seed", SEEDS)
def test_ref_updates_from_many_fibers_are_atomic(seed: int) -> None:
    def bump(ref: Ref[int]) -> Effect[None]:
        return Effect.yield_now().and_then(ref.update(lambda n: n + 1))

    program = Ref.make(0).flat_map(
        lambda ref: Effect.for_each(
            range(100), lambda _: bump(ref), concurrency="unbounded"
        ).and_then(ref.get())
    )
    assert run(program, seed=seed, budget=3) == 100


def test_ref_update_that_raises_is_a_defect_and_keeps_the_value() -> None:
    def boom(n: int) -> int:
        raise ArithmeticError("no")

    @gen
    def program() -> Do[tuple[Exit[None, Any], int]]:
        ref = yield from Ref.make(5)
        exit = yield from ref.update(boom).exit()
        return exit, (yield from ref.get())

    exit, value = run(program())
    assert isinstance(exit, Failure)
    assert [type(d) for d in exit.cause.defects()] == [ArithmeticError]
    assert value == 5


# -- Deferred -------------------------------------------------------------------------


def test_deferred_completes_once() -> None:
    @gen
    def program() -> Do[tuple[bool, bool, bool, int]]:
        d = yield from Deferred[int, str].make()
        first = yield from d.succeed(1)
        second = yield from d.succeed(2)
        third = yield from d.fail("late")
        return first, second, third, (yield from d.await_().catch_all(lambda _: Effect.succeed(-1)))

    assert run(program()) == (True, False, False, 1)


def test_deferred_await_fails_with_the_error() -> None:
    @gen
    def program() -> Do[Exit[int, str]]:
        d = yield from Deferred[int, str].make()
        waiter = yield from d.await_().fork()
        yield from settle()
        yield from d.fail("broken")
        return (yield from waiter.await_())

    assert run(program()) == Exit.fail("broken")


def test_deferred_fail_cause_and_done_carry_any_exit() -> None:
    defect = RuntimeError("bug")

    @gen
    def program() -> Do[tuple[Exit[int, Any], Exit[int, Any]]]:
        dying = yield from Deferred[int].make()
        yield from dying.fail_cause(Cause.die(defect))
        done = yield from Deferred[int].make()
        yield from done.done(Exit.succeed(7))
        return (yield from dying.await_().exit()), (yield from done.await_().exit())

    dying, done = run(program())
    assert isinstance(dying, Failure) and dying.cause.defects() == [defect]
    assert done == Success(7)


@pytest.mark.parametrize("seed", SEEDS)
def test_deferred_wakes_every_waiter(seed: int) -> None:
    @gen
    def program() -> Do[list[str]]:
        d = yield from Deferred[str].make()
        waiters = yield from Effect.for_each(range(10), lambda _: d.await_().fork())
        yield from Effect.yield_now()
        yield from d.succeed("go")
        return (yield from Effect.for_each(waiters, lambda f: f.join()))

    assert run(program(), seed=seed) == ["go"] * 10


def test_deferred_completed_from_plain_code_wakes_its_waiters_once() -> None:
    @gen
    def program() -> Do[tuple[int, bool, bool, Exit[int, str] | None, int, int]]:
        d = yield from Deferred[int, str].make()
        waiter = yield from d.await_().fork()
        yield from settle()
        waiting = d.waiting
        first = d.unsafe_done(Exit.succeed(1))
        second = d.unsafe_done(Exit.fail("late"))
        joined = yield from waiter.join().catch_all(lambda _: Effect.succeed(-1))
        return waiting, first, second, d.unsafe_poll(), joined, d.waiting

    assert run(program()) == (1, True, False, Success(1), 1, 0)


def test_a_pending_deferred_polls_as_none_from_plain_code() -> None:
    assert Deferred[int]().unsafe_poll() is None


def test_deferred_poll_and_is_done_do_not_wait() -> None:
    @gen
    def program() -> Do[tuple[object, bool, object, bool]]:
        d = yield from Deferred[int].make()
        before = yield from d.poll()
        done_before = yield from d.is_done()
        yield from d.succeed(3)
        return before, done_before, (yield from d.poll()), (yield from d.is_done())

    assert run(program()) == (None, False, Success(3), True)


def test_deferred_complete_runs_the_effect_and_stores_its_exit() -> None:
    @gen
    def program() -> Do[tuple[bool, Exit[int, str], bool]]:
        d = yield from Deferred[int, str].make()
        failing: Effect[int, str] = Effect.fail("nope")
        completed = yield from d.complete(failing)
        again = yield from d.complete(Effect.succeed(1))
        return completed, (yield from d.await_().exit()), again

    assert run(program()) == (True, Exit.fail("nope"), False)


def test_deferred_complete_stores_an_interruption_of_the_effect() -> None:
    @gen
    def program() -> Do[Exit[int, Any]]:
        d = yield from Deferred[int].make()
        completer = yield from d.complete(Effect.never()).fork()
        yield from settle()
        yield from completer.interrupt()
        return (yield from d.await_().exit())

    assert interrupted(run(program()))


def test_deferred_interrupted_waiter_is_removed_from_the_waiter_list() -> None:
    @gen
    def program() -> Do[tuple[str, str]]:
        d = yield from Deferred[int].make()
        waiters = yield from Effect.for_each(range(3), lambda _: d.await_().fork())
        yield from settle()
        parked = repr(d)
        yield from Effect.for_each(waiters, lambda f: f.interrupt())
        return parked, repr(d)

    assert run(program()) == ("Deferred(pending, waiters=3)", "Deferred(pending, waiters=0)")


def test_deferred_done_rejects_what_is_not_an_exit() -> None:
    d = run(Deferred[int].make())
    with pytest.raises(TypeError, match=re.escape("Deferred.done expects an Exit, got int")):
        d.done(3)  # type: ignore[arg-type]


# -- Queue: order, back-pressure, strategies ------------------------------------------


def test_queue_is_fifo() -> None:
    program = (
        Queue[int]
        .bounded(10)
        .flat_map(
            lambda q: q.offer_all(range(5)).and_then(Effect.for_each(range(5), lambda _: q.take()))
        )
    )
    assert run(program) == [0, 1, 2, 3, 4]


def test_queue_waiting_takers_are_served_first_come_first_served() -> None:
    @gen
    def program() -> Do[list[str]]:
        q = yield from Queue[str].unbounded()
        # Taker i starts waiting at time i: the order they park in is fixed.
        takers = yield from Effect.for_each(
            range(3), lambda i: Effect.sleep(i).and_then(q.take()).fork()
        )
        yield from TestClock.adjust(3)
        yield from q.offer_all(["a", "b", "c"])
        return (yield from Effect.for_each(takers, lambda f: f.join()))

    assert run(program()) == ["a", "b", "c"]


def test_queue_waiting_offerers_are_served_first_come_first_served() -> None:
    @gen
    def program() -> Do[list[int]]:
        q = yield from Queue[int].bounded(1)
        yield from q.offer(0)
        yield from Effect.for_each(
            range(1, 4), lambda i: Effect.sleep(i).and_then(q.offer(i)).fork()
        )
        yield from TestClock.adjust(3)
        return (yield from Effect.for_each(range(4), lambda _: q.take()))

    assert run(program()) == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", SEEDS)
def test_bounded_queue_applies_back_pressure(seed: int) -> None:
    offered: list[int] = []

    def offer(q: Queue[int], i: int) -> Effect[None]:
        return q.offer(i).and_then(Effect.sync(lambda: offered.append(i)))

    @gen
    def program() -> Do[tuple[list[int], int, list[int], list[int]]]:
        q = yield from Queue[int].bounded(2)
        producer = yield from Effect.for_each(range(5), lambda i: offer(q, i)).fork()
        yield from settle()
        while_full = list(offered)
        size = yield from q.size()
        first = yield from q.take()
        yield from settle()
        after_one_take = list(offered)
        rest = yield from Effect.for_each(range(4), lambda _: q.take())
        yield from producer.join()
        return while_full, size, after_one_take, [first, *rest]

    while_full, size, after_one_take, taken = run(program(), seed=seed)
    assert while_full == [0, 1]
    assert size == 2
    assert after_one_take == [0, 1, 2]
    assert taken == [0, 1, 2, 3, 4]


def test_bounded_offer_all_waits_for_room_and_keeps_its_items_together() -> None:
    @gen
    def program() -> Do[list[str]]:
        q = yield from Queue[str].bounded(2)
        batch = yield from q.offer_all(["a1", "a2", "a3", "a4"]).fork()
        yield from settle()
        single = yield from Effect.sleep(1).and_then(q.offer("b")).fork()
        yield from TestClock.adjust(1)
        taken = yield from Effect.for_each(range(5), lambda _: q.take())
        yield from batch.join()
        yield from single.join()
        return taken

    assert run(program()) == ["a1", "a2", "a3", "a4", "b"]


def test_dropping_queue_drops_new_items_when_full() -> None:
    @gen
    def program() -> Do[tuple[bool, bool, bool, list[int]]]:
        q = yield from Queue[int].dropping(2)
        fits = yield from q.offer_all([1, 2])
        dropped = yield from q.offer(3)
        partly = yield from q.take().and_then(q.offer_all([4, 5]))
        return fits, dropped, partly, (yield from q.take_all())

    assert run(program()) == (True, False, False, [2, 4])


def test_sliding_queue_drops_the_oldest_items_when_full() -> None:
    @gen
    def program() -> Do[tuple[bool, list[int], list[int]]]:
        q = yield from Queue[int].sliding(2)
        accepted = yield from q.offer_all([1, 2, 3])
        first = yield from q.take_all()
        yield from Effect.for_each([4, 5, 6, 7, 8], q.offer)
        return accepted, first, (yield from q.take_all())

    assert run(program()) == (True, [2, 3], [7, 8])


def test_unbounded_queue_never_waits() -> None:
    program = (
        Queue[int]
        .unbounded()
        .flat_map(lambda q: Effect.for_each(range(10_000), q.offer).and_then(q.size()))
    )
    assert run(program) == 10_000


NON_WAITING_QUEUES: dict[str, Callable[[], Effect[Queue[int]]]] = {
    "dropping": lambda: Queue[int].dropping(1),
    "sliding": lambda: Queue[int].sliding(1),
    "unbounded": lambda: Queue[int].unbounded(),
}


@pytest.mark.parametrize("kind", NON_WAITING_QUEUES)
def test_offer_to_a_waiting_taker_hands_the_item_over(kind: str) -> None:
    @gen
    def program() -> Do[tuple[int, int]]:
        q = yield from NON_WAITING_QUEUES[kind]()
        taker = yield from q.take().fork()
        yield from settle()
        yield from q.offer(42)
        return (yield from taker.join()), (yield from q.size())

    assert run(program()) == (42, 0)


def test_take_all_take_up_to_and_poll_do_not_wait_and_make_room() -> None:
    @gen
    def program() -> Do[list[object]]:
        q = yield from Queue[int].bounded(3)
        empty = yield from q.poll()
        yield from q.offer_all([1, 2, 3])
        waiting_offer = yield from q.offer(4).fork()
        yield from settle()
        polled = yield from q.poll()
        yield from waiting_offer.join()
        two = yield from q.take_up_to(2)
        none = yield from q.take_up_to(0)
        rest = yield from q.take_all()
        return [empty, polled, two, none, rest, (yield from q.take_all())]

    assert run(program()) == [None, 1, [2, 3], [], [4], []]


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (Queue.bounded, "Queue.bounded"),
        (Queue.dropping, "Queue.dropping"),
        (Queue.sliding, "Queue.sliding"),
    ],
)
@pytest.mark.parametrize("capacity", [0, -1, 2.5, True])
def test_queue_capacity_below_one_is_a_value_error_naming_the_capacity(
    make: Any, name: str, capacity: Any
) -> None:
    with pytest.raises(
        ValueError, match=re.escape(f"{name}: capacity must be a positive int, got {capacity!r}")
    ):
        make(capacity)


def test_take_up_to_a_negative_count_is_a_value_error() -> None:
    q = run(Queue[int].unbounded())
    with pytest.raises(
        ValueError, match=re.escape("Queue.take_up_to: n must be a non-negative int, got -1")
    ):
        q.take_up_to(-1)


def test_queue_repr_shows_its_state() -> None:
    @gen
    def program() -> Do[list[str]]:
        q = yield from Queue[int].bounded(1)
        taker = yield from q.take().fork()
        yield from settle()
        waiting = repr(q)
        yield from q.offer_all([1, 2])
        yield from taker.join()
        yield from q.offer(3).fork()
        yield from settle()
        full = repr(q)
        yield from q.shutdown()
        return [waiting, full, repr(q), repr(q.capacity)]

    assert run(program()) == [
        "Queue(bounded 1, size=0, takers=1, offerers=0)",
        "Queue(bounded 1, size=1, takers=0, offerers=1)",
        "Queue(bounded 1, shut down)",
        "1",
    ]


# -- Queue: shutdown ------------------------------------------------------------------


def test_shutdown_interrupts_waiting_takers_and_offerers_with_reason_queue_shutdown() -> None:
    @gen
    def program() -> Do[list[Exit[Any, Any]]]:
        empty = yield from Queue[int].bounded(1)
        full = yield from Queue[int].bounded(1)
        yield from full.offer(0)
        taker = yield from empty.take().fork()
        offerer = yield from full.offer(1).fork()
        batch = yield from full.offer_all([2, 3]).fork()
        yield from settle()
        yield from empty.shutdown()
        yield from full.shutdown()
        return (yield from Fiber.await_all([taker, offerer, batch]))

    exits = run(program())
    assert [shutdown_reason(exit) for exit in exits] == [
        QueueShutdown("Queue.take"),
        QueueShutdown("Queue.offer"),
        QueueShutdown("Queue.offer_all"),
    ]


@pytest.mark.parametrize(
    "operation",
    ["offer", "offer_all", "take", "take_all", "take_up_to", "poll", "size"],
)
@pytest.mark.parametrize("make", [Queue[int].bounded, Queue[int].sliding, Queue[int].dropping])
def test_every_operation_on_a_shut_down_queue_is_interrupted_with_reason_queue_shutdown(
    operation: str, make: Any
) -> None:
    def use(q: Queue[int]) -> Effect[Any]:
        calls: dict[str, Effect[Any]] = {
            "offer": q.offer(1),
            "offer_all": q.offer_all([1]),
            "take": q.take(),
            "take_all": q.take_all(),
            "take_up_to": q.take_up_to(1),
            "poll": q.poll(),
            "size": q.size(),
        }
        return calls[operation]

    program = make(2).flat_map(lambda q: q.offer(0).and_then(q.shutdown()).and_then(use(q).exit()))
    reason = shutdown_reason(run(program))
    assert str(reason) == f"Queue.{operation}: the queue was shut down"


@pytest.mark.parametrize("seed", SEEDS)
def test_workers_looping_on_take_stop_at_shutdown_running_their_finalizers(seed: int) -> None:
    """A shutdown stops workers as an interruption does: each worker's finalizer runs
    once, and the cause holds no defect."""
    finalized: list[int] = []

    def worker(queue: Queue[int], n: int) -> Effect[Never]:
        def loop() -> Effect[Never]:
            return queue.take().and_then(Effect.suspend(loop))

        return loop().ensuring(Effect.sync(lambda: finalized.append(n)))

    @gen
    def program() -> Do[list[Exit[Never, Never]]]:
        queue = yield from Queue[int].bounded(2)
        workers = yield from Effect.for_each(range(3), lambda n: worker(queue, n).fork())
        yield from queue.offer_all(range(10))
        yield from settle()
        yield from queue.shutdown()
        return (yield from Fiber.await_all(workers))

    exits = run(program(), seed=seed)
    assert [shutdown_reason(exit) for exit in exits] == [QueueShutdown("Queue.take")] * 3
    assert sorted(finalized) == [0, 1, 2]


def test_shutdown_is_idempotent_and_wakes_await_shutdown() -> None:
    @gen
    def program() -> Do[tuple[bool, bool, str]]:
        q = yield from Queue[int].unbounded()
        before = yield from q.is_shutdown()
        watcher = yield from q.await_shutdown().as_("saw shutdown").fork()
        yield from settle()
        yield from q.shutdown()
        yield from q.shutdown()
        yield from q.await_shutdown()
        return before, (yield from q.is_shutdown()), (yield from watcher.join())

    assert run(program()) == (False, True, "saw shutdown")


# -- Queue: interruption never loses an item ------------------------------------------


def test_interrupted_taker_leaves_the_waiter_list() -> None:
    @gen
    def program() -> Do[tuple[str, list[int]]]:
        q = yield from Queue[int].unbounded()
        taker = yield from q.take().fork()
        yield from settle()
        yield from taker.interrupt()
        yield from q.offer(1)
        return repr(q), (yield from q.take_all())

    assert run(program()) == ("Queue(unbounded, size=1, takers=0, offerers=0)", [1])


@pytest.mark.parametrize("seed", SEEDS)
def test_item_handed_to_a_taker_interrupted_before_it_runs_goes_back_to_the_queue(
    seed: int,
) -> None:
    # The race: the offer hands the item to the parked taker (which is only queued to
    # run), and the interruption arrives before the taker runs, in the same step.
    @gen
    def program() -> Do[tuple[Exit[int, Never], list[int]]]:
        q = yield from Queue[int].bounded(4)
        taker = yield from q.take().fork()
        yield from settle()
        yield from q.offer(1).and_then(taker.interrupt_fork())
        exit = yield from taker.await_()
        yield from q.offer(2)
        return exit, (yield from q.take_all())

    exit, items = run(program(), seed=seed)
    assert interrupted(exit)
    assert items == [1, 2]  # back at the front, where it was


@pytest.mark.parametrize("seed", SEEDS)
def test_item_offered_after_the_interrupt_but_before_the_taker_ran_is_not_lost(
    seed: int,
) -> None:
    # The other order: the interruption wakes the parked taker (its canceller has not
    # run yet, so it is still in the waiter list) and the offer hands it the item.
    @gen
    def program() -> Do[tuple[Exit[int, Never], list[int]]]:
        q = yield from Queue[int].unbounded()
        taker = yield from q.take().fork()
        yield from settle()
        yield from taker.interrupt_fork().and_then(q.offer(1))
        exit = yield from taker.await_()
        return exit, (yield from q.take_all())

    exit, items = run(program(), seed=seed)
    assert interrupted(exit)
    assert items == [1]


def test_one_take_effect_run_by_many_fibers_waits_once_per_run() -> None:
    @gen
    def program() -> Do[list[int]]:
        q = yield from Queue[int].unbounded()
        take = q.take()
        takers = yield from Effect.for_each(range(3), lambda _: take.fork())
        yield from settle()
        yield from q.offer_all([1, 2, 3])
        return sorted((yield from Effect.for_each(takers, lambda f: f.join())))

    assert run(program()) == [1, 2, 3]


@pytest.mark.parametrize("seed", SEEDS)
def test_item_of_an_interrupted_taker_goes_to_the_next_waiting_taker(seed: int) -> None:
    @gen
    def program() -> Do[tuple[Exit[str, Never], str, list[str]]]:
        q = yield from Queue[str].unbounded()
        first = yield from q.take().fork()
        yield from settle()
        second = yield from q.take().fork()
        yield from settle()
        yield from q.offer("item").and_then(first.interrupt_fork())
        exit = yield from first.await_()
        return exit, (yield from second.join()), (yield from q.take_all())

    exit, second, rest = run(program(), seed=seed)
    assert interrupted(exit)
    assert (second, rest) == ("item", [])


@pytest.mark.parametrize("seed", SEEDS)
def test_interrupted_offerer_leaves_the_line_and_its_item_stays_out(seed: int) -> None:
    @gen
    def program() -> Do[tuple[Exit[bool, Never], list[int]]]:
        q = yield from Queue[int].bounded(1)
        yield from q.offer(1)
        offerer = yield from q.offer(2).fork()
        yield from settle()
        exit = yield from offerer.interrupt()
        yield from q.take()
        yield from q.offer(3)
        return exit, (yield from q.take_all())

    exit, items = run(program(), seed=seed)
    assert interrupted(exit)
    assert items == [3]


@pytest.mark.parametrize("seed", SEEDS)
def test_interrupting_consumers_at_random_never_loses_or_duplicates_an_item(seed: int) -> None:
    # Consumers take in a loop and record each item uninterruptibly; a killer stops
    # them at random moments and starts replacements. With a budget of a few ops,
    # fibers yield between almost any two steps, including inside `take`.
    rng = random.Random(seed)
    count = 40
    received: list[int] = []

    def consumer(q: Queue[int]) -> Effect[None]:
        def record(item: int) -> Effect[None]:
            return Effect.sync(lambda: received.append(item))

        one = Effect.uninterruptible_mask(lambda restore: restore(q.take()).flat_map(record))
        return one.and_then(Effect.suspend(lambda: consumer(q)))

    def kill_and_replace(q: Queue[int], fibers: list[Fiber[None, Never]]) -> Effect[None]:
        index = rng.randrange(len(fibers))

        def replace(fresh: Fiber[None, Never]) -> None:
            fibers[index] = fresh

        return (
            yields(rng.randrange(6))
            .and_then(fibers[index].interrupt_fork())
            .and_then(consumer(q).fork())
            .map(replace)
        )

    @gen
    def program() -> Do[list[int]]:
        q = yield from Queue[int].bounded(3)
        fibers = yield from Effect.for_each(range(3), lambda _: consumer(q).fork())
        producer = yield from Effect.for_each(range(count), q.offer).fork()
        yield from Effect.for_each(range(25), lambda _: kill_and_replace(q, fibers))
        yield from producer.join()
        yield from Effect.for_each(fibers, lambda f: f.interrupt())
        return (yield from q.take_all())

    left = run(program(), seed=seed, budget=rng.randrange(2, 12))
    assert sorted(received + left) == list(range(count))


# -- Semaphore ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_semaphore_bounds_concurrency(seed: int) -> None:
    running = 0
    most = 0

    def work(sem: Semaphore) -> Effect[None]:
        def enter() -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)

        def leave() -> None:
            nonlocal running
            running -= 1

        return sem.with_permit(
            Effect.sync(enter).and_then(Effect.sleep(1)).ensuring(Effect.sync(leave))
        )

    @gen
    def program() -> Do[int]:
        sem = yield from Semaphore.make(3)
        workers = yield from Effect.for_each(
            range(10), lambda _: work(sem), concurrency="unbounded"
        ).fork()
        yield from TestClock.adjust(10)
        yield from workers.join()
        return (yield from sem.available())

    assert run(program(), seed=seed) == 3
    assert most == 3
    assert running == 0


def test_semaphore_waiters_are_served_first_come_first_served() -> None:
    # A later request for fewer permits does not overtake an earlier, larger one.
    order: list[str] = []

    def acquire(sem: Semaphore, n: int, name: str, at: float) -> Effect[Fiber[None, Never]]:
        body = Effect.sync(lambda: order.append(name))
        return Effect.sleep(at).and_then(sem.with_permits(n)(body)).fork()

    @gen
    def program() -> Do[None]:
        sem = yield from Semaphore.make(3)
        yield from sem.take(2)
        big = yield from acquire(sem, 3, "big", 1)
        small = yield from acquire(sem, 1, "small", 2)
        yield from TestClock.adjust(2)
        assert order == []
        yield from sem.release(2)
        yield from big.join()
        yield from small.join()

    run(program())
    assert order == ["big", "small"]


def test_semaphore_permits_come_back_after_failure_defect_and_interruption() -> None:
    @gen
    def program() -> Do[list[int]]:
        sem = yield from Semaphore.make(2)
        failing: Effect[None, str] = Effect.fail("no")
        yield from sem.with_permits(2)(failing).either()
        after_failure = yield from sem.available()
        yield from sem.with_permits(2)(Effect.die(RuntimeError("bug"))).exit()
        after_defect = yield from sem.available()
        holder = yield from sem.with_permits(2)(Effect.never()).fork()
        yield from settle()
        while_held = yield from sem.available()
        yield from holder.interrupt()
        return [after_failure, after_defect, while_held, (yield from sem.available())]

    assert run(program()) == [2, 2, 0, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_permits_handed_to_a_waiter_interrupted_before_it_runs_come_back(seed: int) -> None:
    @gen
    def program() -> Do[tuple[Exit[None, Never], int, str]]:
        sem = yield from Semaphore.make(2)
        yield from sem.take(2)
        waiter = yield from sem.with_permits(2)(Effect.unit()).fork()
        yield from settle()
        yield from sem.release(2).and_then(waiter.interrupt_fork())
        exit = yield from waiter.await_()
        return exit, (yield from sem.available()), repr(sem)

    exit, available, shown = run(program(), seed=seed)
    assert interrupted(exit)
    assert available == 2
    assert shown == "Semaphore(permits=2, available=2, waiters=0)"


@pytest.mark.parametrize("seed", SEEDS)
def test_permits_released_after_the_interrupt_but_before_the_waiter_ran_come_back(
    seed: int,
) -> None:
    @gen
    def program() -> Do[tuple[Exit[None, Never], int]]:
        sem = yield from Semaphore.make(1)
        yield from sem.take(1)
        waiter = yield from sem.take(1).fork()
        yield from settle()
        yield from waiter.interrupt_fork().and_then(sem.release(1))
        exit = yield from waiter.await_()
        return exit, (yield from sem.available())

    exit, available = run(program(), seed=seed)
    assert interrupted(exit)
    assert available == 1


def test_interrupted_waiter_at_the_head_lets_the_next_one_through() -> None:
    @gen
    def program() -> Do[str]:
        sem = yield from Semaphore.make(2)
        yield from sem.take(1)
        big = yield from sem.take(2).fork()
        yield from settle()
        small = yield from sem.with_permit(Effect.succeed("small ran")).fork()
        yield from settle()
        yield from big.interrupt()
        return (yield from small.join())

    assert run(program()) == "small ran"


@pytest.mark.parametrize("seed", SEEDS)
def test_interrupting_semaphore_users_at_random_never_leaks_a_permit(seed: int) -> None:
    rng = random.Random(seed)
    in_use = 0
    most = 0

    def user(sem: Semaphore, n: int) -> Effect[None]:
        def enter() -> None:
            nonlocal in_use, most
            in_use += n
            most = max(most, in_use)

        def leave() -> None:
            nonlocal in_use
            in_use -= n

        body = Effect.uninterruptible_mask(
            lambda restore: Effect.sync(enter).and_then(
                restore(yields(3)).ensuring(Effect.sync(leave))
            )
        )
        return sem.with_permits(n)(body)

    @gen
    def program() -> Do[tuple[int, str]]:
        sem = yield from Semaphore.make(3)
        users = yield from Effect.for_each(range(20), lambda _: user(sem, rng.randint(1, 3)).fork())
        victims = rng.sample(users, 10)
        yield from Effect.for_each(
            victims, lambda f: yields(rng.randrange(4)).and_then(f.interrupt_fork())
        )
        yield from Fiber.await_all(users)
        return (yield from sem.available()), repr(sem)

    available, shown = run(program(), seed=seed, budget=rng.randrange(2, 12))
    assert available == 3
    assert shown == "Semaphore(permits=3, available=3, waiters=0)"
    assert most <= 3
    assert in_use == 0


def test_semaphore_bad_counts_are_errors_naming_the_problem() -> None:
    with pytest.raises(
        ValueError, match=re.escape("Semaphore.make: permits must be a positive int, got 0")
    ):
        Semaphore.make(0)
    sem = run(Semaphore.make(2))
    with pytest.raises(
        ValueError,
        match=re.escape("Semaphore.with_permits: asked for 3 permits, but the semaphore has 2"),
    ):
        sem.with_permits(3)
    with pytest.raises(ValueError, match=re.escape("Semaphore.take: asked for -1 permits")):
        sem.take(-1)
    with pytest.raises(
        TypeError, match=re.escape("Semaphore.release: the number of permits must be an int")
    ):
        sem.release(1.5)  # type: ignore[arg-type]


def test_releasing_more_permits_than_taken_is_a_defect() -> None:
    exit = run(Semaphore.make(2).flat_map(lambda sem: sem.take(1).and_then(sem.release(2)).exit()))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert str(defect) == "Semaphore.release: 2 permits released, but only 1 are taken"


def test_zero_permits_are_granted_at_once() -> None:
    program = Semaphore.make(1).flat_map(
        lambda sem: sem.take(1).and_then(sem.take(0)).and_then(sem.with_permits(0)(sem.available()))
    )
    assert run(program) == 0


# -- Latch and CountDownLatch ---------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_latch_opens_for_every_waiter(seed: int) -> None:
    @gen
    def program() -> Do[tuple[bool, list[int], bool]]:
        latch = yield from Latch.make()
        waiters = yield from Effect.for_each(range(8), lambda i: latch.await_().as_(i).fork())
        yield from settle()
        before = yield from latch.is_open()
        yield from latch.open()
        yield from latch.open()
        woken = yield from Effect.for_each(waiters, lambda f: f.join())
        yield from latch.await_()  # an open latch lets everyone through
        return before, woken, (yield from latch.is_open())

    assert run(program(), seed=seed) == (False, list(range(8)), True)


def test_interrupted_latch_waiter_is_removed() -> None:
    @gen
    def program() -> Do[str]:
        latch = yield from Latch.make()
        waiter = yield from latch.await_().fork()
        yield from settle()
        yield from waiter.interrupt()
        return repr(latch)

    assert run(program()) == "Latch(closed, waiters=0)"


@pytest.mark.parametrize("seed", SEEDS)
def test_count_down_latch_opens_after_n_count_downs_and_not_before(seed: int) -> None:
    @gen
    def program() -> Do[tuple[object, str, int]]:
        latch = yield from CountDownLatch.make(3)
        waiter = yield from latch.await_().as_("open").fork()
        yield from Effect.for_each(range(2), lambda _: latch.count_down())
        yield from settle()
        early = yield from waiter.poll()
        yield from latch.count_down()
        opened = yield from waiter.join()
        yield from latch.count_down()  # below zero it does not go
        return early, opened, (yield from latch.count())

    assert run(program(), seed=seed) == (None, "open", 0)


def test_count_down_latch_of_zero_is_open_and_negative_is_an_error() -> None:
    assert (
        run(CountDownLatch.make(0).flat_map(lambda latch: latch.await_().as_("through")))
        == "through"
    )
    with pytest.raises(
        ValueError, match=re.escape("CountDownLatch.make: n must be an int of at least 0, got -1")
    ):
        CountDownLatch.make(-1)


# -- under asyncio --------------------------------------------------------------------


def test_queue_hand_off_works_under_run_async() -> None:
    import asyncio

    @gen
    def program() -> Do[list[int]]:
        q = yield from Queue[int].bounded(1)
        yield from Effect.for_each(range(3), q.offer).fork()
        return (yield from Effect.for_each(range(3), lambda _: q.take()))

    assert asyncio.run(run_async(program())) == [0, 1, 2]
