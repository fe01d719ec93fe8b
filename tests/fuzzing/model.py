"""The reference model: an interpreter of `clock` programs over virtual time.

It does not run fibers. `run(node, t, cut, interruptible)` says what a node started at
virtual time `t` does, given that an interruption reaches its fiber at time `cut`
(`INF`: never): how it ends (`Ok` / `Err`), when, what it leaves in the trace, and
which releases it registered in the enclosing scope. A fiber's children are computed
the same way, with the cut their parent gives them: when it interrupts them, when a
group (`race`, `all`, `timeout`) stops them, or when the parent's effect ends.

The rules are the documented semantics (docs/interruption.md, resources.md,
concurrency.md, time.md):

* An interruptible fiber stops at the first step at or after the cut, also in the
  middle of a sleep or a wait; an uninterruptible one goes on until its region ends
  and stops there. Finalizers (`ensuring`, `on_interrupt`, releases) run
  uninterruptibly; handlers (`catch_all`) are skipped once the fiber is interrupted.
* A forked fiber inherits its parent's interruptibility and is interrupted when its
  parent's effect ends (then awaited). A fiber interrupted before its first step does
  nothing.
* `all` with a limit starts children in order as earlier ones succeed; the first
  failure interrupts the others, which are awaited and whose failures join the cause.
  `race`: the first success wins, the loser is interrupted and awaited; two failures
  fail the race. `timeout`: the child is interrupted at the deadline and awaited; it
  fails with `TimeoutError` only if the child ended interrupted. What a child of `all`
  (with a limit) forks belongs to the fiber that called `all`, not to the child: it
  runs on after the child has ended, until that fiber's effect ends.

Whenever the outcome depends on the order of two things at the same virtual instant
(the scheduler decides it), the model raises `Ambiguous` and the program is checked by
the invariants only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .tree import (
    Acquire,
    All,
    Bracket,
    Catch,
    Ensuring,
    Fork,
    ForkEach,
    ForkScoped,
    Leaf,
    Mask,
    Node,
    OnInterrupt,
    Program,
    Race,
    Region,
    Scoped,
    Seq,
    Timeout,
)

INF: Final = float("inf")

Labels = frozenset[str]
Regs = tuple[tuple[float, int, "Acquire | ForkScoped"], ...]


class Ambiguous(Exception):
    """The outcome depends on the order of two events at the same virtual time."""


class Unmodelled(Exception):
    """The program uses a node the model does not interpret."""


@dataclass(frozen=True)
class Ok:
    value: object


@dataclass(frozen=True)
class Err:
    labels: Labels
    """"F<error>" for a typed failure, "D<message>" for a defect."""
    interrupted: bool = False


ModelExit = Ok | Err
INTERRUPTED: Final = Err(frozenset(), True)


@dataclass(frozen=True)
class Out:
    exit: ModelExit
    end: float
    events: tuple[str, ...] = ()
    regs: Regs = ()
    """Releases and fibers registered in the enclosing scope: (time, order, node)."""
    orphans: tuple[_Child, ...] = ()
    """A worker of a concurrent `all` (`fiber(..., grafted=True)`): the children it
    forked, which belong to the fiber that called `all` (the runtime's `graft`)."""


@dataclass(frozen=True)
class Prediction:
    exit: tuple[object, ...]
    end: float
    events: frozenset[str]


def normal_exit(exit: ModelExit) -> tuple[object, ...]:
    """The form the harness compares: ("ok", value), ("err", labels...) or
    ("interrupted",)."""
    if isinstance(exit, Ok):
        return ("ok", exit.value)
    if exit.labels:
        return ("err", *sorted(exit.labels))
    return ("interrupted",)


def predict(program: Program) -> Prediction:
    """What running `program` must give (raises `Ambiguous` or `Unmodelled`)."""
    model = _Model()
    out = model.fiber(program.root, 0.0, INF, True)
    if out.end >= program.horizon:
        raise Unmodelled("the program outlives the horizon")
    return Prediction(normal_exit(out.exit), out.end, frozenset(out.events))


@dataclass
class _Child:
    node: Node
    start: float
    interruptible: bool
    result: Out | None = None
    """How it ended, once its parent has decided its cut (else at the parent's end)."""


class _Fiber:
    """The children a fiber forked and has not resolved yet."""

    def __init__(self) -> None:
        self.pending: list[_Child] = []


def _check(t: float, cut: float, interruptible: bool) -> bool:
    """Whether a step at `t` is stopped by the cut (raises on a tie)."""
    if not interruptible:
        return False
    if t == cut:
        raise Ambiguous(f"a step at t={t:g} meets an interruption")
    return t > cut


def _waits(start: float, end: float, cut: float, interruptible: bool) -> bool:
    """Whether an interruptible wait over [start, end] is cut (raises on a tie)."""
    if not interruptible or cut > end:
        return False
    if cut in (start, end):
        raise Ambiguous(f"a wait over [{start:g}, {end:g}] meets an interruption")
    return True


def _region_end(out: Out, cut: float, interruptible: bool) -> Out:
    """Leaving an uninterruptible stretch (a region, a finalizer, an acquire): an
    interruption that arrived meanwhile takes effect now."""
    if isinstance(out.exit, Ok) and _check(out.end, cut, interruptible):
        return Out(INTERRUPTED, out.end, out.events, out.regs)
    return out


def _interrupted_only(exit: ModelExit) -> bool:
    return isinstance(exit, Err) and not exit.labels and exit.interrupted


def _with_defect(exit: ModelExit, n: int) -> Err:
    """`exit` followed by a finalizer of node `n` that died."""
    label = f"Ddx{n}"
    if isinstance(exit, Ok):
        return Err(frozenset((label,)))
    return Err(exit.labels | {label}, exit.interrupted)


def _merge(exits: list[ModelExit]) -> Err:
    labels: set[str] = set()
    interrupted = False
    for exit in exits:
        if isinstance(exit, Err):
            labels |= exit.labels
            interrupted = interrupted or exit.interrupted
    return Err(frozenset(labels), interrupted or not labels)


class _Model:
    def __init__(self) -> None:
        self._fibers: dict[tuple[int, float, float, bool, bool], Out] = {}
        self._order = 0

    def fiber(
        self, node: Node, t: float, cut: float, interruptible: bool, grafted: bool = False
    ) -> Out:
        """`node` run as a fiber of its own: when its effect ends, the children it left
        running are interrupted and awaited, unless it is `grafted` (a worker of a
        concurrent `all`): then they are its `orphans`, its caller's children."""
        key = (id(node), t, cut, interruptible, grafted)
        known = self._fibers.get(key)
        if known is not None:
            return known
        me = _Fiber()
        out = self.run(node, t, cut, interruptible, me)
        if grafted:
            result = Out(out.exit, out.end, out.events, out.regs, tuple(me.pending))
            self._fibers[key] = result
            return result
        end, events, regs = out.end, list(out.events), list(out.regs)
        for child in me.pending:
            done = child.result or self.fiber(child.node, child.start, out.end, child.interruptible)
            end = max(end, done.end)
            events += done.events
            regs += done.regs
        result = Out(out.exit, end, tuple(events), tuple(regs))
        self._fibers[key] = result
        return result

    def run(self, node: Node, t: float, cut: float, intr: bool, me: _Fiber) -> Out:  # noqa: C901
        if _check(t, cut, intr):
            return Out(INTERRUPTED, t)
        match node:
            case Leaf(n, d, outcome):
                if d and _waits(t, t + d, cut, intr):
                    return Out(INTERRUPTED, cut)
                end = t + d
                if outcome == "ok":
                    return Out(Ok(n), end)
                if outcome == "interrupt":
                    return Out(INTERRUPTED, end)
                label = f"Ff{n}" if outcome == "fail" else f"Dd{n}"
                return Out(Err(frozenset((label,))), end)
            case Seq(_, first, second):
                a = self.run(first, t, cut, intr, me)
                if not isinstance(a.exit, Ok):
                    return a
                b = self.run(second, a.end, cut, intr, me)
                return Out(b.exit, b.end, a.events + b.events, a.regs + b.regs)
            case Catch(_, body, handler, causes):
                a = self.run(body, t, cut, intr, me)
                exit = a.exit
                if not isinstance(exit, Err):
                    return a
                typed = any(x[0] == "F" for x in exit.labels)
                defect = any(x[0] == "D" for x in exit.labels)
                if not causes and (not typed or defect):
                    return a
                if _check(a.end, cut, intr):
                    return a
                h = self.run(handler, a.end, cut, intr, me)
                return Out(h.exit, h.end, a.events + h.events, a.regs + h.regs)
            case Ensuring(n, body, fin_d, dies):
                a = self.run(body, t, cut, intr, me)
                events = (f"S{n}", *a.events, f"E{n}")
                exit = _with_defect(a.exit, n) if dies else a.exit
                return _region_end(Out(exit, a.end + fin_d, events, a.regs), cut, intr)
            case OnInterrupt(n, body):
                a = self.run(body, t, cut, intr, me)
                events = a.events + ((f"I{n}",) if _interrupted_only(a.exit) else ())
                return _region_end(Out(a.exit, a.end, events, a.regs), cut, intr)
            case Region(_, body, interruptible):
                a = self.run(body, t, cut, interruptible, me)
                return _region_end(a, cut, intr)
            case Mask(_, pre, mid, post):
                return self._mask(pre, mid, post, t, cut, intr, me)
            case Fork():
                return self._fork(node, t, cut, intr, me)
            case Race(_, left, right):
                return self._race(left, right, t, cut, intr)
            case Timeout(_, body, seconds):
                return self._timeout(body, seconds, t, cut, intr)
            case All(_, items, concurrency):
                if concurrency is None:
                    return self._sequence(items, t, cut, intr, me)
                limit = len(items) if concurrency == "unbounded" else concurrency
                return self._all(items, limit, t, cut, intr, me)
            case Scoped(_, body):
                return self._scoped(body, t, cut, intr, me)
            case Acquire(n, acq_d, _, _):
                self._order += 1
                acquired_at = t + acq_d
                out = Out(Ok(n), acquired_at, (f"A{n}",), ((acquired_at, self._order, node),))
                return _region_end(out, cut, intr)
            case ForkScoped():
                self._order += 1
                return Out(Ok(None), t, (), ((t, self._order, node),))
            case ForkEach(_, items, _):
                return self._fork_each(items, t, cut, intr, me)
            case Bracket(n, acq_d, use, rel_d, dies):
                u = self.run(use, t + acq_d, cut, intr, me)
                trace = (f"A{n}", *u.events, f"R{n}")
                exit = _with_defect(u.exit, n) if dies else u.exit
                return _region_end(Out(exit, u.end + rel_d, trace, u.regs), cut, intr)
        raise Unmodelled(type(node).__name__)

    def _scoped(self, body: Node, t: float, cut: float, intr: bool, me: _Fiber) -> Out:
        """The scope closes with the body: its releases in reverse order of acquisition."""
        a = self.run(body, t, cut, intr, me)
        end, events, exit = a.end, list(a.events), a.exit
        for at, _, entry in sorted(a.regs, key=lambda r: (r[0], r[1]), reverse=True):
            if isinstance(entry, Acquire):
                end += entry.rel_d
                events.append(f"R{entry.n}")
                exit = _with_defect(exit, entry.n) if entry.dies else exit
            else:  # a scope-owned fiber: interrupted (from its start, interruptible)
                child = self.fiber(entry.child, at, end, True)
                end = max(end, child.end)
                events += child.events
        return _region_end(Out(exit, end, tuple(events)), cut, intr)

    def _fork_each(
        self, items: tuple[Node, ...], t: float, cut: float, intr: bool, me: _Fiber
    ) -> Out:
        """The forks belong to this fiber: all start now; they are joined in order."""
        children = [_Child(item, t, intr) for item in items]
        me.pending.extend(children)
        now, values = t, []
        for child in children:
            done = self.fiber(child.node, t, INF, intr)
            if done.end > now and _waits(now, done.end, cut, intr):
                return Out(INTERRUPTED, cut)
            child.result = done
            now = max(now, done.end)
            if not isinstance(done.exit, Ok):
                return Out(done.exit, now)
            values.append(done.exit.value)
        return Out(Ok(tuple(values)), now)

    def _mask(
        self, pre: Node, mid: Node, post: Node, t: float, cut: float, intr: bool, me: _Fiber
    ) -> Out:
        events: tuple[str, ...] = ()
        regs: Regs = ()
        out = Out(Ok(None), t)
        for part, flag in ((pre, False), (mid, intr), (post, False)):
            out = self.run(part, out.end, cut, flag, me)
            events += out.events
            regs += out.regs
            if not isinstance(out.exit, Ok):
                break
        return _region_end(Out(out.exit, out.end, events, regs), cut, intr)

    def _fork(self, node: Fork, t: float, cut: float, intr: bool, me: _Fiber) -> Out:
        """The child's trace and end count in its fiber's (`fiber`), not here."""
        child = _Child(node.child, t, intr)
        me.pending.append(child)
        body = self.run(node.body, t, cut, intr, me)
        if not isinstance(body.exit, Ok):
            return body
        if node.action == "leave":
            return Out(Ok(None), body.end, body.events, body.regs)
        t1 = body.end
        if node.action == "interrupt":
            child.result = self.fiber(node.child, t, t1, intr)
        done = child.result or self.fiber(node.child, t, INF, intr)
        if done.end > t1 and _waits(t1, done.end, cut, intr):
            # Stopped waiting: a joined child goes on until this fiber's effect ends.
            return Out(INTERRUPTED, cut, body.events, body.regs)
        child.result = done
        end = max(t1, done.end)
        if node.action == "join":
            return Out(done.exit, end, body.events, body.regs)
        return Out(Ok(normal_exit(done.exit)), end, body.events, body.regs)

    def _sequence(
        self, items: tuple[Node, ...], t: float, cut: float, intr: bool, me: _Fiber
    ) -> Out:
        values: list[object] = []
        events: tuple[str, ...] = ()
        regs: Regs = ()
        end = t
        for item in items:
            out = self.run(item, end, cut, intr, me)
            events += out.events
            regs += out.regs
            end = out.end
            if not isinstance(out.exit, Ok):
                return Out(out.exit, end, events, regs)
            values.append(out.exit.value)
        return Out(Ok(tuple(values)), end, events, regs)

    def _group_end(self, outs: list[Out], exit: ModelExit, start: float) -> Out:
        end = max([start, *(out.end for out in outs)])
        events = tuple(e for out in outs for e in out.events)
        regs = tuple(r for out in outs for r in out.regs)
        return Out(exit, end, events, regs)

    def _race(self, left: Node, right: Node, t: float, cut: float, intr: bool) -> Out:
        a, b = self.fiber(left, t, INF, intr), self.fiber(right, t, INF, intr)
        oks = [out for out in (a, b) if isinstance(out.exit, Ok)]
        if len(oks) == 2 and a.end == b.end:
            raise Ambiguous("both contenders of a race succeed at once")
        if oks:
            winner = min(oks, key=lambda out: out.end)
            decided = winner.end
            loser_node, loser = (right, b) if winner is a else (left, a)
            if loser.end >= decided:
                loser = self.fiber(loser_node, t, decided, intr)
            outs, exit = [winner, loser], winner.exit
        else:
            decided = max(a.end, b.end)
            outs, exit = [a, b], _merge([a.exit, b.exit])
        done = self._group_end(outs, exit, t)
        if not _waits(t, done.end, cut, intr):
            return done
        if cut > decided:
            return Out(INTERRUPTED, done.end, done.events, done.regs)
        if cut == decided:
            raise Ambiguous("a race is decided as it is interrupted")
        stopped = [self.fiber(node, t, cut, intr) for node in (left, right)]
        return self._group_end(stopped, INTERRUPTED, t)

    def _timeout(self, body: Node, seconds: int, t: float, cut: float, intr: bool) -> Out:
        deadline = t + seconds
        free = self.fiber(body, t, INF, intr)
        if free.end == deadline:
            raise Ambiguous("a timeout expires as its effect ends")
        if free.end < deadline:
            decided, done = free.end, free
        else:
            decided = deadline
            done = self.fiber(body, t, deadline, intr)
            if _interrupted_only(done.exit):
                timed_out = Err(frozenset(("Ftimeout",)))
                done = Out(timed_out, done.end, done.events, done.regs)
        if not _waits(t, done.end, cut, intr):
            return done
        if cut > decided:
            return Out(INTERRUPTED, done.end, done.events, done.regs)
        if cut == decided:
            raise Ambiguous("a timeout is decided as it is interrupted")
        stopped = self.fiber(body, t, cut, intr)
        return Out(INTERRUPTED, stopped.end, stopped.events, stopped.regs)

    def _all(
        self, items: tuple[Node, ...], limit: int, t: float, cut: float, intr: bool, me: _Fiber
    ) -> Out:
        """`Effect.all(..., concurrency=limit)`: a simulation of the group in time order,
        up to the first failure, the end, or the cut of the waiting fiber. What the
        workers fork is this fiber's (`me`)."""
        if not items:
            return Out(Ok(()), t)
        group = _Group(self, items, limit, cut if intr else INF, intr)
        group.launch_first(t)
        failed_at = group.simulate()
        stop_at = failed_at if failed_at is not None else group.cut
        outs = [
            self.fiber(items[i], group.started[i], stop_at, intr, grafted=True)
            if i in group.running
            else group.free[i]
            for i in sorted(group.started)
        ]
        me.pending.extend(child for out in outs for child in out.orphans)
        if failed_at is not None:
            exit: ModelExit = _merge([out.exit for out in outs])
            decided = failed_at
        elif not group.running and len(group.started) == len(items):
            exit = Ok(tuple(out.exit.value for out in outs if isinstance(out.exit, Ok)))
            decided = max(out.end for out in outs)
        else:  # the waiting fiber was interrupted before the group was decided
            return self._group_end(outs, INTERRUPTED, t)
        done = self._group_end(outs, exit, t)
        if not _waits(t, done.end, cut, intr):
            return done
        if cut == decided:
            raise Ambiguous("all is decided as it is interrupted")
        # A cut before the decision stopped the simulation: here it came after.
        return Out(INTERRUPTED, done.end, done.events, done.regs)


class _Group:
    """The children of one `all` with a limit: when each starts and how it ends if
    nothing interrupts it (`free`)."""

    def __init__(
        self, model: _Model, items: tuple[Node, ...], limit: int, cut: float, intr: bool
    ) -> None:
        self.model, self.items, self.limit, self.cut, self.intr = model, items, limit, cut, intr
        self.started: dict[int, float] = {}
        self.free: dict[int, Out] = {}
        self.running: set[int] = set()
        self.next = 0

    def launch(self, at: float) -> None:
        if at == self.cut:
            raise Ambiguous("a child of all starts as all is interrupted")
        index = self.next
        self.next += 1
        self.started[index] = at
        self.free[index] = self.model.fiber(self.items[index], at, INF, self.intr, grafted=True)
        self.running.add(index)

    def launch_first(self, t: float) -> None:
        while self.next < min(self.limit, len(self.items)):
            self.launch(t)

    def simulate(self) -> float | None:
        """Run the group until the first failure (its time), the end or the cut."""
        free, running = self.free, self.running
        while running:
            now = min(free[i].end for i in running)
            if now >= self.cut:
                if now == self.cut:
                    raise Ambiguous("a child of all ends as all is interrupted")
                return None
            ending = [i for i in running if free[i].end == now]
            if any(not isinstance(free[i].exit, Ok) for i in ending):
                if len(ending) > 1:  # the first to run interrupts the others, or not
                    raise Ambiguous("a child of all fails as another one ends")
                running.difference_update(ending)
                return now
            for index in ending:
                running.discard(index)
                if self.next < len(self.items):
                    self.launch(now)
        return None
