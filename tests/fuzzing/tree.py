"""Program trees: what the fuzzer generates, builds into effects and models.

A program is a tree of frozen nodes. Every node carries a number `n`, unique in its
program, which names what it leaves in the trace (`A{n}` acquired, `R{n}` released,
`S{n}`/`E{n}` an `ensuring` body started / its finalizer ran, `I{n}` an `on_interrupt`
ran) and what it succeeds or fails with (a leaf `n` succeeds with `n`, fails with
`"f{n}"`, dies with `RuntimeError("d{n}")`).

Durations are whole virtual seconds (`TestClock` families) or milliseconds (the
`foreign` family, on the live clock): sums of whole numbers are exact, so the model
can tell a tie (two things at the same instant, whose order the scheduler decides)
from a strict order.

Families:

* `clock`: everything the model understands, on a `TestClock`: leaves that sleep then
  succeed, fail or die; sequences; `catch_all`; `ensuring`; `on_interrupt`;
  `uninterruptible` / `interruptible` regions and `uninterruptible_mask`; fork then
  join / await / interrupt / leave the child; `race`; `timeout`; `Effect.all` with a
  concurrency limit; `Effect.scoped` with `acquire_release`; `acquire_use_release`.
* `shared`: the same shapes, plus a semaphore and queues shared between branches
  (`with_permits`, `offer`, `take`), on a `TestClock`; checked by invariants only.
* `foreign`: the same shapes with `Effect.blocking` (a thread) and `Effect.promise`
  (a coroutine) leaves, sleeps and timeouts on the live clock; invariants only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final, Literal

Family = Literal["clock", "shared", "foreign", "fork_each"]
FORK_EACH: Final[Family] = "fork_each"
"""`clock` programs that also fork inside a concurrent `for_each`'s function (`ForkEach`:
the forks belong to the caller, not to the worker that ends at once)."""
FAMILIES: Final[tuple[Family, ...]] = ("clock", "shared", "foreign", FORK_EACH)
"""The families of the fast slice and of a default campaign."""

Outcome = Literal["ok", "fail", "die", "interrupt"]
"""How a leaf ends; "interrupt" is `Effect.interrupt()` (a failure whose cause is an
`Interrupt`, not an interruption of the fiber)."""
Action = Literal["join", "await", "interrupt", "leave"]
Concurrency = int | Literal["unbounded"] | None


@dataclass(frozen=True)
class Leaf:
    """Sleep `d`, then succeed with `n`, fail with `"f{n}"`, die with `"d{n}"` or
    `Effect.interrupt()`."""

    n: int
    d: int
    outcome: Outcome


@dataclass(frozen=True)
class Seq:
    n: int
    first: Node
    second: Node


@dataclass(frozen=True)
class Catch:
    """`body.catch_all(lambda _: handler)`, or `catch_all_cause` (`causes`)."""

    n: int
    body: Node
    handler: Node
    causes: bool = False


@dataclass(frozen=True)
class ForkScoped:
    """`child.fork_scoped()` in the scope of the `Scoped` numbered `scope`: the child
    is interrupted when that scope closes (in LIFO order with its releases)."""

    n: int
    child: Node
    scope: int


@dataclass(frozen=True)
class ForkEach:
    """`for_each(items, lambda item: item.fork(), concurrency=...)`, then join every
    fiber in order. The forks belong to the caller's fiber (issue 14's semantics)."""

    n: int
    items: tuple[Node, ...]
    concurrency: Concurrency


@dataclass(frozen=True)
class Ensuring:
    """`(mark S{n} >> body).ensuring(sleep(fin_d) >> mark E{n})`; a finalizer that
    `dies` then dies with `"dx{n}"`."""

    n: int
    body: Node
    fin_d: int
    dies: bool = False


@dataclass(frozen=True)
class OnInterrupt:
    """`body.on_interrupt(lambda _: mark I{n})`."""

    n: int
    body: Node


@dataclass(frozen=True)
class Region:
    """`body.interruptible()` or `body.uninterruptible()`."""

    n: int
    body: Node
    interruptible: bool


@dataclass(frozen=True)
class Mask:
    """`uninterruptible_mask(lambda restore: pre >> restore(mid) >> post)`."""

    n: int
    pre: Node
    mid: Node
    post: Node


@dataclass(frozen=True)
class Fork:
    """Fork `child`, run `body`, then join / await / interrupt the child, or leave it
    to be interrupted when this fiber's effect ends."""

    n: int
    child: Node
    body: Node
    action: Action


@dataclass(frozen=True)
class Race:
    n: int
    left: Node
    right: Node


@dataclass(frozen=True)
class Timeout:
    n: int
    body: Node
    seconds: int


@dataclass(frozen=True)
class All:
    n: int
    items: tuple[Node, ...]
    concurrency: Concurrency


@dataclass(frozen=True)
class Scoped:
    n: int
    body: Node


@dataclass(frozen=True)
class Acquire:
    """`acquire_release(sleep(acq_d) >> mark A{n}, release: sleep(rel_d) >> mark R{n})`
    in the scope of the `Scoped` numbered `scope`; a release that `dies` then dies with
    `"dx{n}"`."""

    n: int
    acq_d: int
    rel_d: int
    scope: int
    dies: bool = False


@dataclass(frozen=True)
class Bracket:
    """`acquire_use_release` with the same acquire and release as `Acquire`."""

    n: int
    acq_d: int
    use: Node
    rel_d: int
    dies: bool = False


@dataclass(frozen=True)
class Permit:
    """`sem.with_permits(k)(body)`, counting how many hold permits at once."""

    n: int
    k: int
    body: Node


@dataclass(frozen=True)
class Offer:
    """Offer item `n` to queue `queue` (recorded uninterruptibly once it is in)."""

    n: int
    queue: int


@dataclass(frozen=True)
class Take:
    """Take an item from queue `queue` (recorded uninterruptibly once taken)."""

    n: int
    queue: int


@dataclass(frozen=True)
class Blocking:
    """`Effect.blocking`: a thread waits `d` ms on its signal, then gives its outcome."""

    n: int
    d: int
    outcome: Outcome


@dataclass(frozen=True)
class Promise:
    """`Effect.promise`: a coroutine sleeps `d` ms, then gives its outcome."""

    n: int
    d: int
    outcome: Outcome


Node = (
    Leaf
    | Seq
    | Catch
    | ForkScoped
    | ForkEach
    | Ensuring
    | OnInterrupt
    | Region
    | Mask
    | Fork
    | Race
    | Timeout
    | All
    | Scoped
    | Acquire
    | Bracket
    | Permit
    | Offer
    | Take
    | Blocking
    | Promise
)


@dataclass(frozen=True)
class Program:
    family: Family
    seed: int
    root: Node
    permits: int = 0
    """Permits of the shared semaphore (`shared` family)."""
    queues: tuple[int | None, ...] = ()
    """Capacities of the shared queues (None: unbounded)."""
    horizon: int = 10_000
    """Virtual seconds the driver lets pass before it interrupts the program."""


# -- generation ------------------------------------------------------------------------


@dataclass
class _Gen:
    rng: random.Random
    family: Family
    budget: int
    next_n: int = 1
    queues: int = 0
    permits: int = 0
    features: set[str] = field(default_factory=set)

    def number(self) -> int:
        n = self.next_n
        self.next_n += 1
        return n

    def duration(self) -> int:
        rng = self.rng
        if self.family == "foreign":
            return rng.choice((0, 0, 1, 1, 2, 3))
        return 0 if rng.random() < 0.15 else rng.randint(1, 40)

    def dies(self) -> bool:
        """Whether a finalizer or a release dies after its work."""
        return self.rng.random() < 0.12

    def outcome(self) -> Outcome:
        roll = self.rng.random()
        if roll < 0.78:
            return "ok"
        if roll < 0.9:
            return "fail"
        return "die" if roll < 0.96 or self.family == "foreign" else "interrupt"

    def leaf(self, scope: int | None, shielded: bool = False) -> Node:
        rng = self.rng
        n = self.number()
        if self.family == "foreign":
            roll = rng.random()
            if roll < 0.3:
                return Blocking(n, self.duration(), self.outcome())
            if roll < 0.6:
                return Promise(n, self.duration(), self.outcome())
        if self.family == "shared" and not shielded and rng.random() < 0.4:
            queue = rng.randrange(self.queues)
            return Offer(n, queue) if rng.random() < 0.5 else Take(n, queue)
        if scope is not None and rng.random() < 0.3:
            if rng.random() < 0.25 and self.family != "shared":
                return ForkScoped(n, Leaf(self.number(), self.duration(), self.outcome()), scope)
            return Acquire(n, self.duration(), self.duration(), scope, self.dies())
        return Leaf(n, self.duration(), self.outcome())

    def node(
        self, depth: int, scope: int | None, shielded: bool = False, holds: bool = False
    ) -> Node:
        """A random tree; `scope` is the `Scoped` an `Acquire` here registers in (None
        where none may: outside any, or in a forked child that may outlive it).

        In the `shared` family a program must not deadlock by itself: no `Take` (which
        may wait for ever) or `Permit` in an uninterruptible region (`shielded`: the
        driver's interruption at the horizon could not stop its wait), no
        interruptible region inside one, and no `Permit` inside a `Permit` (`holds`)."""
        rng = self.rng
        self.budget -= 1
        if depth <= 0 or self.budget <= 0 or rng.random() < 0.2:
            return self.leaf(scope, shielded)
        kinds = [
            "seq", "seq", "catch", "ensuring", "on_interrupt", "region", "mask",
            "fork", "race", "timeout", "all", "scoped", "bracket",
        ]  # fmt: skip
        if self.family == "shared" and not shielded and not holds:
            kinds += ["permit", "permit"]
        if self.family == FORK_EACH:
            kinds += ["fork_each", "fork_each"]
        kind = rng.choice(kinds)
        self.features.add(kind)
        n = self.number()
        sub = depth - 1

        def below(scope: int | None = scope, shielded: bool = shielded) -> Node:
            return self.node(sub, scope, shielded, holds)

        match kind:
            case "seq":
                return Seq(n, below(), below())
            case "catch":
                return Catch(n, below(), below(), causes=rng.random() < 0.3)
            case "ensuring":
                return Ensuring(n, below(), self.duration(), self.dies())
            case "on_interrupt":
                return OnInterrupt(n, below())
            case "region":
                opens = rng.random() < 0.4 and not (self.family == "shared" and shielded)
                return Region(n, below(shielded=not opens), opens)
            case "mask":
                masked = self.family == "shared"
                return Mask(n, below(shielded=masked), below(), below(shielded=masked))
            case "scoped":
                return Scoped(n, below(scope=n))
            case "bracket":
                return Bracket(n, self.duration(), below(), self.duration(), self.dies())
        return self.concurrent(kind, n, sub, scope, shielded, holds)

    def concurrent(
        self, kind: str, n: int, sub: int, scope: int | None, shielded: bool, holds: bool
    ) -> Node:
        """A node that runs work in other fibers (or waits for a permit)."""
        rng = self.rng

        def below(scope: int | None = scope) -> Node:
            return self.node(sub, scope, shielded, holds)

        match kind:
            case "fork":
                action: Action = rng.choice(("join", "await", "interrupt", "leave"))
                child = below(scope=None)
                return Fork(n, child, below(), action)
            case "race":
                return Race(n, below(), below())
            case "timeout":
                seconds = rng.randint(1, 60) if self.family != "foreign" else rng.randint(1, 4)
                return Timeout(n, below(), seconds)
            case "all":
                items = tuple(below() for _ in range(rng.randint(1, 4)))
                concurrency: Concurrency = rng.choice((None, 1, 2, 3, "unbounded"))
                return All(n, items, concurrency)
            case "fork_each":
                forked = tuple(below(scope=None) for _ in range(rng.randint(1, 4)))
                return ForkEach(n, forked, rng.choice((1, 2, "unbounded")))
        k = rng.randint(1, self.permits)
        return Permit(n, k, self.node(sub, scope, shielded, True))


def generate(family: Family, seed: int) -> Program:
    """The program of `family` that `seed` stands for (the same on every run)."""
    rng = random.Random(f"{family}:{seed}")
    gen = _Gen(rng, family, budget=rng.randint(4, 30))
    if family == "shared":
        gen.queues = rng.randint(1, 2)
        gen.permits = rng.randint(1, 3)
    root = gen.node(rng.randint(2, 6), None)
    queues = tuple(rng.choice((None, 1, 2, 4)) for _ in range(gen.queues))
    return Program(family, seed, root, permits=gen.permits, queues=queues)


def children(node: Node) -> tuple[Node, ...]:
    match node:
        case Seq(_, a, b) | Catch(_, a, b) | Race(_, a, b):
            return (a, b)
        case Fork(_, a, b, _):
            return (a, b)
        case Mask(_, a, b, c):
            return (a, b, c)
        case All(_, items, _) | ForkEach(_, items, _):
            return items
        case ForkScoped(_, child, _):
            return (child,)
        case Ensuring(_, body, _, _) | OnInterrupt(_, body) | Region(_, body, _):
            return (body,)
        case Timeout(_, body, _) | Scoped(_, body) | Bracket(_, _, body, _, _):
            return (body,)
        case Permit(_, _, body):
            return (body,)
    return ()


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents first."""
    found: list[Node] = []
    pending = [node]
    while pending:
        each = pending.pop()
        found.append(each)
        pending.extend(reversed(children(each)))
    return found


def kinds(node: Node) -> set[str]:
    """The names of the node classes in the tree (for coverage counts)."""
    return {type(each).__name__ for each in walk(node)}


def show(node: Node, indent: str = "") -> str:
    """The tree, one node a line (what a failure report prints)."""
    fields = {
        key: value
        for key, value in vars(node).items()
        if not isinstance(value, (Leaf, Seq, Catch, Ensuring, OnInterrupt, Region, Mask))
        and not isinstance(value, (Fork, Race, Timeout, All, Scoped, Acquire, Bracket))
        and not isinstance(value, (Permit, Offer, Take, Blocking, Promise, tuple))
        and not isinstance(value, (ForkScoped, ForkEach))
    }
    head = f"{indent}{type(node).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"
    return "\n".join([head, *(show(child, indent + "  ") for child in children(node))])
