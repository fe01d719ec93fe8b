"""The concurrency fuzzer's fast slice, and proof that its checks can fail.

The fast slice runs a few thousand random programs of each family under `run_sync`,
a seeded runtime that shuffles the ready queue and preempts every 1 to 4 ops, and
`run_async` (docs/testing.md); `make fuzz` runs a long campaign. A failure prints the
program, what went wrong, and the seed that replays it.

The second half breaks programs on purpose (a release skipped, a finalizer lost, a
permit kept, a queue item dropped, a timeout that waits too long, a program that
hangs) and checks that the fuzzer reports each one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Never

import pytest
from fuzzing.build import AnyEffect, Builder, Run, driver, normal_exit, violations
from fuzzing.harness import RUNNERS, RunnerName, Worker, campaign, main
from fuzzing.model import INF, Ambiguous, Prediction, predict
from fuzzing.tree import (
    Acquire,
    All,
    Bracket,
    Ensuring,
    Family,
    Fork,
    Leaf,
    Node,
    Offer,
    OnInterrupt,
    Permit,
    Program,
    Race,
    Region,
    Scoped,
    Seq,
    Take,
    Timeout,
)

from effectpy import (
    Effect,
    Exit,
    Failure,
    Fiber,
    Interrupt,
    Manual,
    Runtime,
    Success,
    live_fiber_count,
)
from effectpy._core.ids import NONE_ID

SLICE: dict[Family, int] = {"clock": 3500, "shared": 2000, "foreign": 300, "fork_each": 500}
"""Programs per family in the fast slice (each run under the three runners)."""

SLICE_SEED = 20_261_208

WHOLE_RUNS: tuple[RunnerName, ...] = ("sync", "seeded", "async")
"""The runners that let a program run to its end (the others cancel it)."""


@pytest.mark.parametrize("family", list(SLICE))
def test_random_programs_keep_every_invariant_and_match_the_model(family: Family) -> None:
    tally = campaign(SLICE[family], SLICE_SEED, [family])
    assert not tally.failures, "\n\n".join(run.report() for run in tally.failures[:5])
    assert tally.programs[family] == SLICE[family]
    if family == "clock":
        # The model decides most programs; the rest (ties at one virtual instant) are
        # checked by the invariants only.
        assert tally.modelled[family] > 0.8 * SLICE[family]


def test_the_campaign_command_prints_counts_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--programs", "12", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "12 programs" in out and "failures: 0" in out
    assert "runner seeded" in out


# -- the model -----------------------------------------------------------------------


def program(root: Node, family: Family = "clock", **kw: Any) -> Program:
    return Program(family, 1, root, **kw)


def test_the_model_predicts_a_race_its_loser_and_its_finalizers() -> None:
    slow = Ensuring(2, Leaf(3, 10, "ok"), fin_d=5)
    fast = OnInterrupt(4, Leaf(5, 3, "ok"))
    predicted = predict(program(Race(1, slow, fast)))
    # The winner ends at 3; the loser is interrupted then, and its finalizer sleeps 5.
    assert predicted == Prediction(("ok", 5), 8.0, frozenset({"S2", "E2"}))


def test_the_model_predicts_a_timeout_that_waits_for_an_uninterruptible_effect() -> None:
    # In an uninterruptible region the timeout's child is uninterruptible too: the
    # deadline waits for it, and its value is kept (docs/interruption.md).
    shielded = Region(1, Timeout(2, Leaf(3, 10, "ok"), 4), interruptible=False)
    assert predict(program(shielded)) == Prediction(("ok", 3), 10.0, frozenset())
    # A child that only shields a part of itself is interrupted when that part ends.
    inner = Timeout(1, Region(2, Leaf(3, 10, "ok"), interruptible=False), 4)
    assert predict(program(inner)) == Prediction(("err", "Ftimeout"), 10.0, frozenset())


def test_the_model_predicts_fail_fast_with_scoped_resources() -> None:
    items = (
        Scoped(2, Seq(3, Acquire(4, 1, 2, scope=2), Leaf(5, 20, "ok"))),
        Leaf(6, 5, "fail"),
    )
    predicted = predict(program(All(1, items, concurrency=2)))
    # The failure at 5 interrupts the first child, whose scope releases (2 seconds).
    assert predicted == Prediction(("err", "Ff6"), 7.0, frozenset({"A4", "R4"}))


def test_the_model_says_a_child_left_running_is_interrupted_when_its_parent_ends() -> None:
    child = OnInterrupt(3, Leaf(4, 100, "ok"))
    predicted = predict(program(Fork(1, child, Leaf(2, 5, "ok"), "leave")))
    assert predicted == Prediction(("ok", None), 5.0, frozenset({"I3"}))


def test_the_model_refuses_to_guess_between_two_things_at_the_same_instant() -> None:
    with pytest.raises(Ambiguous):
        predict(program(Race(1, Leaf(2, 4, "ok"), Leaf(3, 4, "ok"))))
    with pytest.raises(Ambiguous):
        predict(program(Timeout(1, Leaf(2, 4, "ok"), 4)))


def test_the_model_agrees_with_the_runtime_on_its_own_examples() -> None:
    roots: list[Node] = [
        Race(1, Ensuring(2, Leaf(3, 10, "ok"), fin_d=5), OnInterrupt(4, Leaf(5, 3, "ok"))),
        Timeout(1, Region(2, Leaf(3, 10, "ok"), interruptible=False), 4),
        Region(1, Timeout(2, Leaf(3, 10, "ok"), 4), interruptible=False),
        Fork(1, OnInterrupt(3, Leaf(4, 100, "ok")), Leaf(2, 5, "ok"), "leave"),
        Bracket(1, 2, Timeout(2, Leaf(3, 9, "die"), 30), 3),
    ]
    worker = Worker()
    for root in roots:
        each = program(root)
        for runner in WHOLE_RUNS:
            box, problems = worker.run(each, runner, 10.0)
            assert problems + violations(each, box, predict(each)) == []
    worker.close()


# -- the checks catch broken programs ------------------------------------------------


def run_broken(
    root: Node, builder: type[Builder], runner: RunnerName = "sync", **kw: Any
) -> list[str]:
    """What the fuzzer reports for `root` built by a broken `builder`."""
    each = program(root, **kw)
    prediction = predict(each) if each.family == "clock" and not kw else None
    worker = Worker()
    try:
        box, problems = worker.run(each, runner, 10.0, builder)
    finally:
        worker.close()
    return problems + violations(each, box, prediction)


class SkipsReleases(Builder):
    def _release(
        self, n: int, d: int, dies: bool = False
    ) -> Callable[[object, Exit[Any, Any]], AnyEffect]:
        return lambda _resource, _exit: Effect.unit()


class ReleasesInOrder(Builder):
    """Acquires every resource of a scope at once and releases them first-in first-out
    (as a scope that was not LIFO would)."""

    def build(self, node: Node) -> AnyEffect:
        if isinstance(node, Scoped):
            body = super().build(node.body)
            return Effect.scoped(body).tap(lambda _: self._fifo_releases())
        if isinstance(node, Acquire):
            mark = Effect.sync(lambda: self.box.trace.append(f"A{node.n}"))
            return mark.as_(node.n)
        return super().build(node)

    def _fifo_releases(self) -> AnyEffect:
        acquired = [label for label in self.box.trace if label.startswith("A")]
        return Effect.sync(lambda: self.box.trace.extend(f"R{a[1:]}" for a in acquired))


class LosesFinalizers(Builder):
    def build(self, node: Node) -> AnyEffect:
        if isinstance(node, Ensuring):
            start = Effect.sync(lambda: self.box.trace.append(f"S{node.n}"))
            return start.and_then(super().build(node.body))
        return super().build(node)


class KeepsPermits(Builder):
    def _permit(self, k: int, body: AnyEffect) -> AnyEffect:
        assert self.sem is not None
        return self.sem.take(k).and_then(body)


class DropsTakenItems(Builder):
    def _take(self, queue: Any) -> AnyEffect:
        taken: AnyEffect = queue.take()
        return taken


class SlowTimeouts(Builder):
    def build(self, node: Node) -> AnyEffect:
        if isinstance(node, Timeout):
            return super().build(node.body).timeout(node.seconds + 1)
        return super().build(node)


class ReportsEveryInterruptTwice(Builder):
    def build(self, node: Node) -> AnyEffect:
        if isinstance(node, OnInterrupt):
            mark = Effect.sync(lambda: self.box.trace.append(f"I{node.n}"))
            return super().build(node).on_interrupt(lambda _: mark)
        return super().build(node)


def test_a_skipped_release_is_reported() -> None:
    root = Scoped(1, Seq(2, Acquire(3, 1, 1, scope=1), Leaf(4, 2, "ok")))
    assert run_broken(root, Builder) == []
    found = run_broken(root, SkipsReleases)
    assert "resource 3: acquired 1x, released 0x" in found
    assert any(problem.startswith("trace: unexpected [], missing ['R3']") for problem in found)


def test_releases_out_of_lifo_order_are_reported() -> None:
    root = Scoped(1, Seq(2, Acquire(3, 0, 0, scope=1), Acquire(4, 0, 0, scope=1)))
    found = run_broken(root, ReleasesInOrder)
    assert "scope 1: acquired ['3', '4'], released ['3', '4'] (not LIFO)" in found


def test_a_lost_ensuring_finalizer_is_reported() -> None:
    found = run_broken(Ensuring(1, Leaf(2, 3, "fail"), fin_d=1), LosesFinalizers)
    assert "ensuring 1: body started 1x, finalized 0x" in found


def test_an_on_interrupt_run_twice_is_reported() -> None:
    root = Race(1, OnInterrupt(2, Leaf(3, 9, "ok")), Leaf(4, 1, "ok"))
    assert "on_interrupt 2 ran 2x" in run_broken(root, ReportsEveryInterruptTwice)


def test_a_permit_not_given_back_is_reported() -> None:
    found = run_broken(Permit(1, 2, Leaf(2, 1, "ok")), KeepsPermits, family="shared", permits=2)
    assert "semaphore: 0 of 2 permits back" in found


def test_a_queue_item_taken_and_dropped_is_reported() -> None:
    root = Seq(1, Fork(2, Leaf(3, 1, "ok"), Leaf(4, 0, "ok"), "leave"), Take(5, 0))
    offer_first = Seq(6, an_offer(7), root)
    found = run_broken(offer_first, DropsTakenItems, family="shared", queues=(None,))
    assert "queue: items [7] were offered and never came out" in found


def an_offer(n: int) -> Node:
    return Offer(n, 0)


def test_a_wrong_end_time_is_reported_against_the_model() -> None:
    found = run_broken(Timeout(1, Leaf(2, 10, "ok"), 4), SlowTimeouts)
    assert found == ["ended at t=5.0, the model says t=4"]


@pytest.mark.parametrize("runner", RUNNERS)
def test_a_program_that_hangs_is_reported_with_its_seed(runner: RunnerName) -> None:
    release = threading.Event()

    class Hangs(Builder):
        def build(self, node: Node) -> AnyEffect:
            return Effect.blocking(lambda _signal: release.wait()).uninterruptible()

    each = program(Leaf(1, 0, "ok"))
    worker = Worker()
    try:
        _, problems = worker.run(each, runner, 0.3, Hangs)
        assert problems == ["hang: still running after 0.3s of wall-clock time"]
    finally:
        release.set()
        worker.close()
    deadline = time.monotonic() + 10
    while live_fiber_count() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_fiber_left_running_after_the_runner_is_reported() -> None:
    escaped: list[Fiber[Never, Never]] = []

    class Escapes(Builder):
        def build(self, node: Node) -> AnyEffect:
            background = Runtime().run_fork(Effect.never())
            escaped.append(background)
            return Effect.succeed(1)

    worker = Worker()
    try:
        _, problems = worker.run(program(Leaf(1, 0, "ok")), "sync", 10.0, Escapes)
        assert problems == ["1 fiber(s) still running after the runner returned"]
    finally:
        worker.close()
        for fiber in escaped:
            Runtime().run_sync(fiber.interrupt())


def test_exits_are_compared_in_one_form() -> None:
    interrupted: Exit[Any, Any] = Failure(Interrupt(NONE_ID, Manual()))
    assert normal_exit(Success([1, (2, 3)])) == ("ok", (1, (2, 3)))
    assert normal_exit(Exit.fail("f3")) == ("err", "Ff3")
    assert normal_exit(Exit.die(RuntimeError("d4"))) == ("err", "Dd4")
    assert normal_exit(Exit.die(KeyError("x"))) == ("err", "D!KeyError('x')")
    assert normal_exit(interrupted) == ("interrupted",)
    assert INF > 10**9


def test_the_driver_is_an_effect_of_the_program() -> None:
    box = Run()
    assert Runtime().run_sync(driver(program(Leaf(1, 3, "ok")), box)) is None
    assert box.exit == Success(1) and box.end == 3.0
