"""Shared test support: many scheduler orders, a one-shot latch, and a leak check.

* `SEEDS` / `each_seed`: concurrency tests run once per seed with `Runtime(seed=seed)`,
  which shuffles the ready queue deterministically, so a test sees many interleavings
  and a failing one can be replayed by its seed (`run_seeded`; `run_interleaved` also
  varies the op budget).
* `Latch`: a gate fibers (or threads, or coroutines) can wait on and open; it stands in
  for a `Deferred` where a test needs "this has happened" without sleeping.
* The autouse fixture `no_fiber_outlives_its_runner` checks after every test that all
  fibers have ended: `live_fiber_count() == 0`.
* `Outcome` / `each_outcome`, `body_for`, `expected_exit`, `run_wrapped`: a body that
  succeeds, fails, dies or is interrupted, wrapped in what a test checks (finalizers,
  scopes, resources), and the exit it must end with.
* `Path` / `each_path`, `on_path`: build an acquire, a release, a finalizer or a body
  as a single `Effect.sync` or as a longer effect, so a test checks its guarantee both
  ways; `Step` / `each_step`, `and_then_chain`: a long `and_then` chain of plain values
  or of steps along either path.
* `stack_depth`, `tight_recursion_limit`: prove a long chain runs without one Python
  frame per step.
* `seen_with_spawns_waiting`: look at a runtime while spawned fibers wait for a slot.
* The fixture `effectpy_logs`: what the `effectpy` logger emits, at every level.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final, Literal, Never, TypeVar

import pytest

from effectpy import (
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    FiberId,
    Interrupt,
    Manual,
    Runtime,
    Success,
    gen,
    live_fiber_count,
)
from effectpy.structured import Spawned, branch, spawn

A = TypeVar("A")

SEEDS: Final = range(30)
"""The scheduler seeds every order-sensitive test runs under."""

each_seed = pytest.mark.parametrize("seed", SEEDS)
"""Run a test once per seed: `@each_seed def test_x(seed: int) -> None: ...`."""


BUDGETS: Final = (2048, 1, 3, 16)
"""Op budgets `run_interleaved` cycles through by seed."""


def run_seeded(effect: Effect[A], seed: int) -> A:
    """`run_sync` with the ready queue shuffled by `seed` (default op budget)."""
    return Runtime(seed=seed).run_sync(effect)


def run_interleaved(effect: Effect[A], seed: int) -> A:
    """`run_seeded`, with an op budget that also varies with the seed: a small budget
    makes every fiber yield after a few ops, so a message (an interrupt, a resume) can
    land between any two ops and the shuffled queue has more orders to choose from."""
    return Runtime(seed=seed, budget=BUDGETS[seed % len(BUDGETS)]).run_sync(effect)


def yields(count: int) -> Effect[None]:
    """Give way to the other fibers `count` times: a finalizer that takes a while
    without sleeping, so a test can see whether someone waited for it."""
    effect = Effect.unit()
    for _ in range(count):
        effect = effect.and_then(Effect.yield_now())
    return effect


class Latch:
    """A one-shot gate: `wait()` parks a fiber until the latch is opened.

    `open()` is an effect; `open_now()` may be called from any thread or coroutine.
    Waiting on an open latch goes on at once.
    """

    __slots__ = ("_is_open", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._is_open = False
        self._waiters: list[Callable[[Effect[None]], None]] = []

    @property
    def is_open(self) -> bool:
        return self._is_open

    def open_now(self) -> None:
        with self._lock:
            if self._is_open:
                return
            self._is_open = True
            waiters, self._waiters = self._waiters, []
        for resume in waiters:
            resume(Effect.unit())

    def open(self) -> Effect[None]:
        return Effect.sync(self.open_now)

    def wait(self) -> Effect[None]:
        def register(resume: Callable[[Effect[None]], None]) -> Effect[None] | None:
            with self._lock:
                if not self._is_open:
                    self._waiters.append(resume)
                    return Effect.sync(lambda: self._forget(resume))
            resume(Effect.unit())
            return None

        return Effect.async_(register)

    def _forget(self, resume: Callable[[Effect[None]], None]) -> None:
        with self._lock:
            if resume in self._waiters:
                self._waiters.remove(resume)


def _join_background_runners(timeout: float) -> None:
    """Wait for the threads `run_fork` started: their fibers may still be finishing
    (stopping daemons) just after the root's exit was published."""
    for thread in threading.enumerate():
        if thread.name.startswith("effectpy-fiber-") and thread is not threading.current_thread():
            thread.join(timeout)


@pytest.fixture(autouse=True)
def no_fiber_outlives_its_runner() -> Iterator[None]:
    """After each test, every fiber it started has ended."""
    before = live_fiber_count()
    yield
    _join_background_runners(timeout=10.0)
    after = live_fiber_count()
    # A fiber leaked by an earlier (failed) test is that test's failure, not this one's.
    assert after == 0 or after <= before, f"{after} fiber(s) still running after the test"


# -- what the effectpy logger emits --------------------------------------------------------


class Collect(logging.Handler):
    """Keeps the records it handles; `came` is set once one has come."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.came = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.came.set()


@pytest.fixture
def effectpy_logs() -> Iterator[Collect]:
    """The records the `effectpy` logger emits, at every level, through a handler of
    its own (as a user would attach one)."""
    logger = logging.getLogger("effectpy")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# -- spawned fibers waiting for a slot ----------------------------------------------------


def seen_with_spawns_waiting(spawned: int, look: Effect[A]) -> A:
    """What `look` gives in the entry of a `branch` with one slot, once it has spawned
    `spawned` fibers that wait for ever: one runs, the others wait for the slot (made,
    not started). Then the entry fails, and the branch stops them all."""
    seen: list[A] = []
    stop: Effect[Never, str] = Effect.fail("stop")

    @gen
    def entry() -> Do[None, str, Spawned[Never]]:
        for _ in range(spawned):
            yield from spawn(Effect.never())
        yield from yields(2)  # the one that runs has started
        seen.append((yield from look))
        yield from stop

    exit = Runtime().run_sync_exit(branch(entry(), concurrency=1))
    assert isinstance(exit, Failure) and exit.cause.failures() == ["stop"]
    [value] = seen
    return value


# -- a body with each outcome -------------------------------------------------------------

Outcome = Literal["success", "failure", "defect", "interruption"]
OUTCOMES: Final[list[Outcome]] = ["success", "failure", "defect", "interruption"]
each_outcome = pytest.mark.parametrize("outcome", OUTCOMES)
"""Run a test once per outcome of the body: `def test_x(outcome: Outcome) -> None`."""

BODY_DEFECT: Final = RuntimeError("defect in the body")

each_closing_exit = pytest.mark.parametrize(
    "closed_with",
    [Exit.unit(), Exit.fail("closed"), Exit.die(BODY_DEFECT)],
    ids=["success", "failure", "defect"],
)
"""A test once per way a scope can have closed: `closed_with` is its exit."""

Wrap = Callable[[Effect[int, str]], Effect[int, str]]
"""Puts what a test checks (finalizers, a scope, a resource) around a body."""


def body_for(
    outcome: Outcome, started: Latch, success: Effect[int, str] | None = None
) -> Effect[int, str]:
    """An effect that ends with `outcome`: 1 (`success`, default `Effect.succeed(1)`),
    "body failed", `BODY_DEFECT`, or waiting to be interrupted (`started` opened)."""
    failing: Effect[int, str] = Effect.fail("body failed")
    bodies: dict[Outcome, Effect[int, str]] = {
        "success": Effect.succeed(1) if success is None else success,
        "failure": failing,
        "defect": Effect.die(BODY_DEFECT),
        "interruption": started.open().and_then(Effect.never()),
    }
    return bodies[outcome]


def expected_exit(outcome: Outcome, interruptor: FiberId) -> Exit[int, str]:
    """The exit of the body of `outcome` (interrupted by `interruptor`)."""
    exits: dict[Outcome, Exit[int, str]] = {
        "success": Success(1),
        "failure": Failure(Fail("body failed")),
        "defect": Failure(Die(BODY_DEFECT)),
        "interruption": Failure(Interrupt(interruptor, Manual())),
    }
    return exits[outcome]


def run_wrapped(
    outcome: Outcome, wrap: Wrap, seed: int = 0, success: Effect[int, str] | None = None
) -> tuple[Exit[int, str], FiberId]:
    """Run `wrap(body_for(outcome))` in a fiber (interrupted once its body started, for
    an interruption); give its exit and the id of the fiber that waited for it."""

    @gen
    def program() -> Do[tuple[Exit[int, str], FiberId]]:
        started = Latch()
        fiber = yield from wrap(body_for(outcome, started, success)).fork()
        if outcome == "interruption":
            yield from started.wait()
            exit = yield from fiber.interrupt()
        else:
            exit = yield from fiber.await_()
        return exit, (yield from Effect.fiber_id())

    return run_seeded(program(), seed)


# -- one step, or a longer effect ----------------------------------------------------------

Path = Literal["sync", "effectful"]
PATHS: Final[list[Path]] = ["sync", "effectful"]
each_path = pytest.mark.parametrize("path", PATHS)
"""Run a test once per way of building the effects it hands to what it checks (an
acquire, a release, a finalizer, a body): `def test_x(path: Path) -> None`, with
`on_path(path, ...)`. The runtime may run a lone `Effect.sync` on the spot, as one
atomic step (an acquire, a finalizer); a longer effect it runs the general way. A
guarantee must hold both ways."""


def on_path(path: Path, thunk: Callable[[], A]) -> Effect[A]:
    """An effect that calls `thunk` once and gives its value (or dies with what it
    raises): `Effect.sync(thunk)` on the "sync" path; on the "effectful" path, the same
    call made after a `yield_now`, so the effect takes more than one step and gives way
    to the other fibers before its thunk runs."""
    if path == "sync":
        return Effect.sync(thunk)
    return Effect.yield_now().and_then(Effect.sync(thunk))


Step = Literal["plain value", "sync", "effectful"]
STEPS: Final[list[Step]] = ["plain value", *PATHS]
each_step = pytest.mark.parametrize("step", STEPS)
"""Run a test once per kind of step of a chain: `def test_x(step: Step) -> None`."""


def and_then_chain(step: Step, count: int, log: list[int], *, right: bool) -> Effect[int]:
    """`count` steps joined by `and_then`, nested on the left (`((s0 >> s1) >> s2) ...`)
    or on the right (`s0 >> (s1 >> ...)`); its value is the last step's. Step `i` is
    `Effect.succeed(i)` (a plain value, which the runtime may go past at once), or an
    effect along the "sync" or "effectful" path that appends `i` to `log` and gives it."""

    def make(i: int) -> Effect[int]:
        if step == "plain value":
            return Effect.succeed(i)

        def run() -> int:
            log.append(i)
            return i

        return on_path(step, run)

    steps = [make(i) for i in range(count)]
    if right:
        chain = steps[-1]
        for each in reversed(steps[:-1]):
            chain = each.and_then(chain)
        return chain
    chain = steps[0]
    for each in steps[1:]:
        chain = chain.and_then(each)
    return chain


# -- stack depth ----------------------------------------------------------------------------

HEADROOM: Final = 120
"""Python frames `tight_recursion_limit` leaves above the depth at which a test body
starts: enough for the runner, the loop and a few helper frames, far less than one
frame per bind."""


def stack_depth() -> int:
    """How many Python frames are below the caller's."""
    depth = 0
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


@contextmanager
def tight_recursion_limit() -> Iterator[None]:
    """Lower the recursion limit to just above the current depth for the block: one
    Python frame per step of a long chain would raise `RecursionError`."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(stack_depth() + HEADROOM)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
