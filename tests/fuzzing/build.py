"""Programs as effects, and the invariants every run must keep.

`driver(program, box)` is the whole effect a runner runs: it makes the shared
primitives, forks the program, lets virtual time pass (TestClock families), reads the
end time, and leaves everything the checks need in `box` (a `Run`). `violations(...)`
then lists what went wrong, as sentences.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from effectpy import Clock, Effect, Exit, Failure, Fiber, Success, TestClock
from effectpy.concurrent import Queue, Semaphore

from .model import Prediction
from .tree import (
    Acquire,
    All,
    Blocking,
    Bracket,
    Catch,
    Ensuring,
    Fork,
    ForkEach,
    ForkScoped,
    Leaf,
    Mask,
    Node,
    Offer,
    OnInterrupt,
    Permit,
    Program,
    Promise,
    Race,
    Region,
    Scoped,
    Seq,
    Take,
    Timeout,
    walk,
)

AnyEffect = Effect[Any, Any, Any]

MS = 0.001
"""A `foreign` program's time unit: durations are milliseconds on the live clock."""


@dataclass
class Run:
    """What one run of a program left behind."""

    trace: list[str] = field(default_factory=list)
    exit: Exit[Any, Any] | None = None
    end: float | None = None
    permits_left: int | None = None
    most_permits_held: int = 0
    held: int = 0
    offered: set[int] = field(default_factory=set)
    """Items whose `offer` returned."""
    offering: set[int] = field(default_factory=set)
    """Items an `offer` was started for (maybe interrupted: in the queue or not)."""
    taken: list[int] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    """Items still in the queues at the end."""


def _mark(box: Run, label: str) -> AnyEffect:
    return Effect.sync(lambda: box.trace.append(label))


def _sleep(d: int, unit: float) -> AnyEffect:
    return Effect.sleep(d * unit) if d else Effect.unit()


def _outcome(n: int, outcome: str) -> AnyEffect:
    if outcome == "ok":
        return Effect.succeed(n)
    if outcome == "fail":
        return Effect.fail(f"f{n}")
    if outcome == "interrupt":
        return Effect.interrupt()
    return Effect.die(RuntimeError(f"d{n}"))


def _dies(n: int) -> AnyEffect:
    """What a finalizer or a release that dies does after its work."""
    return Effect.die(RuntimeError(f"dx{n}"))


def _blocking_leaf(n: int, d: int, outcome: str) -> AnyEffect:
    def work(signal: Any) -> int:
        signal.wait(d * MS)
        if outcome == "fail":
            raise ValueError(f"f{n}")
        if outcome == "die":
            raise RuntimeError(f"d{n}")
        return n

    effect: AnyEffect = Effect.blocking(work, ValueError)
    return effect.map_error(lambda e: str(e))


def _promise_leaf(n: int, d: int, outcome: str) -> AnyEffect:
    async def work() -> int:
        await asyncio.sleep(d * MS)
        if outcome == "fail":
            raise ValueError(f"f{n}")
        if outcome == "die":
            raise RuntimeError(f"d{n}")
        return n

    effect: AnyEffect = Effect.try_promise(work, ValueError)
    return effect.map_error(lambda e: str(e))


def _join(fiber: Fiber[Any, Any]) -> AnyEffect:
    return fiber.join()


def normal_exit(exit: Exit[Any, Any]) -> tuple[object, ...]:
    """An exit in the model's form: ("ok", value), ("err", labels...) or
    ("interrupted",); an unexpected defect shows as "D!<repr>"."""
    if isinstance(exit, Success):
        return ("ok", _normal_value(exit.value))
    assert isinstance(exit, Failure)
    cause = exit.cause
    labels: set[str] = set()
    for error in cause.failures():
        labels.add("Ftimeout" if isinstance(error, TimeoutError) else f"F{error}")
    for defect in cause.defects():
        known = isinstance(defect, RuntimeError) and type(defect) is RuntimeError
        labels.add(f"D{defect}" if known else f"D!{defect!r}")
    if labels:
        return ("err", *sorted(labels))
    return ("interrupted",) if cause.interruptions() else ("empty cause",)


def _normal_value(value: object) -> object:
    if isinstance(value, list | tuple):
        return tuple(_normal_value(v) for v in value)
    return value


class Builder:
    """Builds a program's tree into an effect over the primitives of one run."""

    def __init__(
        self,
        box: Run,
        unit: float,
        sem: Semaphore | None = None,
        queues: tuple[Queue[int], ...] = (),
    ) -> None:
        self.box = box
        self.unit = unit
        self.sem = sem
        self.queues = queues

    def build(self, node: Node) -> AnyEffect:  # noqa: C901
        box, unit = self.box, self.unit
        match node:
            case Leaf(n, d, outcome):
                return _sleep(d, unit).and_then(_outcome(n, outcome))
            case Seq(_, first, second):
                return self.build(first).and_then(self.build(second))
            case Catch(_, body, handler, causes):
                recover = self.build(handler)
                if causes:
                    return self.build(body).catch_all_cause(lambda _c: recover)
                return self.build(body).catch_all(lambda _e: recover)
            case ForkScoped(_, child, _):
                return self.build(child).fork_scoped().as_(None)
            case ForkEach(_, items, concurrency):
                forks = [self.build(item).fork() for item in items]
                forked = Effect.for_each(forks, lambda fork: fork, concurrency=concurrency)
                return forked.flat_map(lambda fibers: Effect.for_each(fibers, _join)).map(tuple)
            case Ensuring(n, body, fin_d, dies):
                finalizer = _sleep(fin_d, unit).and_then(_mark(box, f"E{n}"))
                if dies:
                    finalizer = finalizer.and_then(_dies(n))
                return _mark(box, f"S{n}").and_then(self.build(body)).ensuring(finalizer)
            case OnInterrupt(n, body):
                return self.build(body).on_interrupt(lambda _stops: _mark(box, f"I{n}"))
            case Region(_, body, interruptible):
                inner = self.build(body)
                return inner.interruptible() if interruptible else inner.uninterruptible()
            case Mask(_, pre, mid, post):
                before, middle, after = self.build(pre), self.build(mid), self.build(post)
                return Effect.uninterruptible_mask(
                    lambda restore: before.and_then(restore(middle)).and_then(after)
                )
            case Fork():
                return self._fork(node)
            case Race(_, left, right):
                return Effect.race(self.build(left), self.build(right))
            case Timeout(_, body, seconds):
                return self.build(body).timeout(seconds * unit)
            case All(_, items, concurrency):
                return Effect.all(*(self.build(item) for item in items), concurrency=concurrency)
            case Scoped(_, body):
                return Effect.scoped(self.build(body))
            case Acquire(n, acq_d, rel_d, _, dies):
                release = self._release(n, rel_d, dies)
                return Effect.acquire_release(self._acquire(n, acq_d), release)
            case Bracket(n, acq_d, use, rel_d, dies):
                using = self.build(use)
                return Effect.acquire_use_release(
                    self._acquire(n, acq_d), lambda _r: using, self._release(n, rel_d, dies)
                )
            case Permit(_, k, body):
                return self._permit(k, self.build(body))
            case Offer(n, queue):
                return self._offer(n, self.queues[queue])
            case Take(_, queue):
                return self._take(self.queues[queue])
            case Blocking(n, d, outcome):
                return _blocking_leaf(n, d, outcome)
            case Promise(n, d, outcome):
                return _promise_leaf(n, d, outcome)
        raise AssertionError(f"no effect for {node!r}")

    def _acquire(self, n: int, d: int) -> AnyEffect:
        return _sleep(d, self.unit).and_then(_mark(self.box, f"A{n}")).as_(n)

    def _release(
        self, n: int, d: int, dies: bool = False
    ) -> Callable[[object, Exit[Any, Any]], AnyEffect]:
        finalizer = _sleep(d, self.unit).and_then(_mark(self.box, f"R{n}"))
        if dies:
            finalizer = finalizer.and_then(_dies(n))
        return lambda _resource, _exit: finalizer

    def _fork(self, node: Fork) -> AnyEffect:
        child, body = self.build(node.child), self.build(node.body)

        def then(fiber: Fiber[Any, Any]) -> AnyEffect:
            match node.action:
                case "join":
                    return body.and_then(fiber.join())
                case "await":
                    return body.and_then(fiber.await_().map(normal_exit))
                case "interrupt":
                    return body.and_then(fiber.interrupt().map(normal_exit))
            return body.as_(None)

        return child.fork().flat_map(then)

    def _permit(self, k: int, body: AnyEffect) -> AnyEffect:
        box, sem = self.box, self.sem
        assert sem is not None

        def enter() -> None:
            box.held += k
            box.most_permits_held = max(box.most_permits_held, box.held)

        def leave() -> None:
            box.held -= k

        held = Effect.sync(enter).and_then(body).ensuring(Effect.sync(leave))
        return sem.with_permits(k)(held)

    def _offer(self, item: int, queue: Queue[int]) -> AnyEffect:
        box = self.box
        start = Effect.sync(lambda: box.offering.add(item))
        done = Effect.sync(lambda: box.offered.add(item))
        return Effect.uninterruptible_mask(
            lambda restore: start.and_then(restore(queue.offer(item))).and_then(done)
        ).as_(item)

    def _take(self, queue: Queue[int]) -> AnyEffect:
        box = self.box

        def record(item: int) -> AnyEffect:
            return Effect.sync(lambda: box.taken.append(item)).as_(item)

        return Effect.uninterruptible_mask(lambda restore: restore(queue.take()).flat_map(record))


LIVE_SECOND: Final = 0.00002
"""What a `clock` program's virtual second lasts when it runs on the live clock."""


def driver(
    program: Program, box: Run, builder: type[Builder] = Builder, *, live: bool = False
) -> Effect[None]:
    """The effect a runner runs: the program in a fiber, watched; for TestClock
    families, virtual time is moved to the horizon, the program interrupted if it has
    not ended, and time moved on again for its finalizers.

    `live` runs a `clock` program on the live clock instead, a virtual second lasting
    `LIVE_SECOND` (for the runners that cancel a run from outside: on a `TestClock`,
    a finalizer that sleeps would wait for ever once the driver has stopped moving
    the clock)."""
    if program.family == "foreign" or live:
        unit = MS if program.family == "foreign" else LIVE_SECOND
        made = _primitives(program, box, unit, builder)
        return made.flat_map(lambda root: _watch(root, box, live=True))
    made = _primitives(program, box, 1.0, builder)
    timed = made.flat_map(lambda root: _watch(root, box, live=False))
    return TestClock.provide(timed)


def _primitives(
    program: Program, box: Run, unit: float, builder: type[Builder]
) -> Effect[tuple[AnyEffect, Any]]:
    def make(sem: Semaphore | None, queues: list[Queue[int]]) -> tuple[AnyEffect, Any]:
        effect = builder(box, unit, sem, tuple(queues)).build(program.root)
        return effect, (sem, queues)

    def queue(capacity: int | None) -> Effect[Queue[int]]:
        return Queue[int].unbounded() if capacity is None else Queue[int].bounded(capacity)

    queues = Effect.for_each(program.queues, queue)
    if program.permits:
        return Semaphore.make(program.permits).flat_map(
            lambda sem: queues.map(lambda qs: make(sem, qs))
        )
    return queues.map(lambda qs: make(None, qs))


def _watch(made: tuple[AnyEffect, Any], box: Run, *, live: bool) -> Effect[None]:
    effect, (sem, queues) = made

    def record_end(exit: Exit[Any, Any]) -> Effect[None]:
        box.exit = exit
        return Clock.now().map(lambda now: setattr(box, "end", now))

    def leftovers() -> AnyEffect:
        reads: list[AnyEffect] = [
            q.take_all().map(lambda items: box.left.extend(items)) for q in queues
        ]
        if sem is not None:
            reads.append(sem.available().map(lambda n: setattr(box, "permits_left", n)))
        return Effect.all(*reads)

    def run(fiber: Fiber[Any, Any]) -> AnyEffect:
        watcher = fiber.await_().flat_map(record_end).fork()
        if live:
            return watcher.flat_map(lambda w: w.join())
        horizon = 10_000.0

        def drive(w: Fiber[None, Any]) -> AnyEffect:
            stop = fiber.interrupt().fork()
            return (
                TestClock.adjust(horizon)
                .and_then(stop)
                .and_then(TestClock.adjust(horizon))
                .and_then(w.join())
            )

        return watcher.flat_map(drive)

    return effect.fork().flat_map(run).and_then(Effect.suspend(leftovers)).as_unit()


# -- invariants --------------------------------------------------------------------------


def violations(
    program: Program, box: Run, prediction: Prediction | None, *, whole: bool = True
) -> list[str]:
    """Everything `box` shows went wrong; [] for a good run. A run that was cut short
    from outside (not `whole`) is checked for its finalizers only."""
    found = _finalizer_violations(program, box)
    if not whole:
        return found
    if program.permits:
        if box.permits_left != program.permits:
            found.append(f"semaphore: {box.permits_left} of {program.permits} permits back")
        if box.most_permits_held > program.permits:
            found.append(f"semaphore: {box.most_permits_held} permits held at once")
    if program.queues:
        found += _queue_violations(box)
    if box.exit is None:
        found.append("the program never ended")
    elif prediction is not None:
        found += _model_violations(box, prediction)
    return found


def _finalizer_violations(program: Program, box: Run) -> list[str]:
    """Each resource released once, LIFO per scope; each started `ensuring` finalized
    once; each `on_interrupt` run at most once."""
    found: list[str] = []
    counts = Counter(box.trace)
    scopes: dict[int, list[int]] = {}
    for node in walk(program.root):
        if isinstance(node, Acquire | Bracket):
            acquired, released = counts[f"A{node.n}"], counts[f"R{node.n}"]
            if acquired > 1 or released != acquired:
                found.append(f"resource {node.n}: acquired {acquired}x, released {released}x")
        if isinstance(node, Acquire):
            scopes.setdefault(node.scope, []).append(node.n)
        if isinstance(node, Ensuring):
            started, finalized = counts[f"S{node.n}"], counts[f"E{node.n}"]
            if started > 1 or finalized > 1 or finalized < started:
                found.append(f"ensuring {node.n}: body started {started}x, finalized {finalized}x")
        if isinstance(node, OnInterrupt) and counts[f"I{node.n}"] > 1:
            found.append(f"on_interrupt {node.n} ran {counts[f'I{node.n}']}x")
    for scope, members in scopes.items():
        mine = {f"A{n}" for n in members} | {f"R{n}" for n in members}
        order = [label for label in box.trace if label in mine]
        acquired_order = [label[1:] for label in order if label[0] == "A"]
        released_order = [label[1:] for label in order if label[0] == "R"]
        if released_order != acquired_order[::-1]:
            found.append(
                f"scope {scope}: acquired {acquired_order}, released {released_order} (not LIFO)"
            )
    return found


def _queue_violations(box: Run) -> list[str]:
    found: list[str] = []
    out = box.taken + box.left
    duplicated = sorted(item for item, k in Counter(out).items() if k > 1)
    if duplicated:
        found.append(f"queue: items {duplicated} came out twice")
    lost = sorted(box.offered - set(out))
    if lost:
        found.append(f"queue: items {lost} were offered and never came out")
    unknown = sorted(set(out) - box.offering)
    if unknown:
        found.append(f"queue: items {unknown} came out but were never offered")
    return found


def _model_violations(box: Run, prediction: Prediction) -> list[str]:
    found: list[str] = []
    assert box.exit is not None
    got = normal_exit(box.exit)
    if got != prediction.exit:
        found.append(f"exit {got}, the model says {prediction.exit}")
    if box.end != prediction.end:
        found.append(f"ended at t={box.end}, the model says t={prediction.end:g}")
    events = frozenset(box.trace)
    if events != prediction.events:
        extra, missing = sorted(events - prediction.events), sorted(prediction.events - events)
        found.append(f"trace: unexpected {extra}, missing {missing} (the model's finalizers)")
    return found
