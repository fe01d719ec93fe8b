"""The fibers suite: forking, joining, racing, hand-offs and fail-fast teardown.

The workloads and their names come from the ZIO and cats-effect benchmark suites. Each
is written three ways, and run in the same process and run:

* effectpy: fibers, run with `run_sync` (its own scheduler, no asyncio);
* asyncio: tasks (`TaskGroup`, `create_task`, `gather`, `asyncio.Queue`) in one loop;
* trio: a nursery per group of tasks, memory channels for hand-offs.

Like the asyncio peers, the trio peers run inside one `trio.run` per repeat: only the
work is timed, not starting the event loop. effectpy's `run_sync` builds its scheduler
on every call, so effectpy pays for that and the peers do not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Never

import trio

from effectpy import Effect, Exit, Failure, Fiber, run_sync, run_sync_exit
from effectpy.concurrent import Queue
from effectpy.structured import Spawned, branch, spawn

from .harness import Runner, register

SUITE = "fibers"


class Boom(Exception):
    """The error of the sibling that fails in FailFast."""


class TrioRunner(Runner):
    """An `async def` taking no arguments, awaited inside one `trio.run`.

    As with the asyncio runner, only the awaits are timed, not the run's start.
    """

    def __init__(self, fn: Callable[[], Awaitable[object]]) -> None:
        self.fn = fn

    def call_once(self) -> object:
        fn = self.fn

        async def once() -> object:
            return await fn()

        return trio.run(once)

    def measure(self, number: int) -> float:
        fn = self.fn

        async def timed() -> float:
            start = time.perf_counter()
            for _ in range(number):
                await fn()
            return time.perf_counter() - start

        return trio.run(timed)


def _inc(n: int) -> int:
    return n + 1


def _join(fiber: Fiber[int, Never]) -> Effect[int]:
    return fiber.join()


# -- ForkJoin: fork 10k fibers that succeed, then join them all ---------------------------

FORKS = 10_000

_ONE: Effect[int] = Effect.succeed(1)


def _fork_one(_: int) -> Effect[Fiber[int, Never]]:
    return _ONE.fork()


def _join_all(fibers: list[Fiber[int, Never]]) -> Effect[list[int]]:
    return Effect.for_each(fibers, _join)


def fork_join_effectpy() -> int:
    forked = Effect.for_each(range(FORKS), _fork_one)
    return run_sync(forked.flat_map(_join_all).map(sum))


async def _one_asyncio() -> int:
    return 1


async def fork_join_task_group() -> int:
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(_one_asyncio()) for _ in range(FORKS)]
    return sum(task.result() for task in tasks)


async def fork_join_gather() -> int:
    tasks = [asyncio.create_task(_one_asyncio()) for _ in range(FORKS)]
    return sum(await asyncio.gather(*tasks))


async def _one_trio(results: list[int], index: int) -> None:
    results[index] = 1


async def fork_join_trio() -> int:
    results = [0] * FORKS
    async with trio.open_nursery() as nursery:
        for index in range(FORKS):
            nursery.start_soon(_one_trio, results, index)
    return sum(results)


fork_join = register(
    SUITE,
    "ForkJoin",
    ops=FORKS,
    expected=FORKS,
    summary="fork 10k fibers that each succeed with 1, then join every one and sum",
)
fork_join.add("effectpy", fork_join_effectpy)
fork_join.add_async(
    "asyncio TaskGroup", fork_join_task_group, note="create_task in a TaskGroup, results after"
)
fork_join.add_async("asyncio gather", fork_join_gather, note="create_task each, then gather")
fork_join.add_runner(
    "trio nursery",
    TrioRunner(fork_join_trio),
    note="start_soon in one nursery; tasks return nothing, so each writes its slot",
)
fork_join.require("asyncio TaskGroup", 0.5)


# -- ChainedFork: each fiber forks the next and joins it, 10k deep -------------------------

CHAIN = 10_000


def _chain_effectpy(n: int) -> Effect[int]:
    if n == 0:
        return Effect.succeed(0)
    return Effect.suspend(lambda: _chain_effectpy(n - 1)).fork().flat_map(_join).map(_inc)


def chained_fork_effectpy() -> int:
    return run_sync(_chain_effectpy(CHAIN))


async def _chain_asyncio(n: int) -> int:
    if n == 0:
        return 0
    return await asyncio.create_task(_chain_asyncio(n - 1)) + 1


async def chained_fork_asyncio() -> int:
    return await _chain_asyncio(CHAIN)


async def _chain_trio(n: int, out: list[int]) -> None:
    if n == 0:
        out[0] = 0
        return
    below = [0]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_chain_trio, n - 1, below)
    out[0] = below[0] + 1


async def chained_fork_trio() -> int:
    out = [0]
    await _chain_trio(CHAIN, out)
    return out[0]


chained_fork = register(
    SUITE,
    "ChainedFork",
    ops=CHAIN,
    expected=CHAIN,
    summary="each fiber forks the next and joins it, 10k deep; each adds 1 to the result",
)
chained_fork.add("effectpy", chained_fork_effectpy)
chained_fork.add_async(
    "asyncio tasks", chained_fork_asyncio, note="each task awaits create_task(next)"
)
chained_fork.add_runner(
    "trio nursery",
    TrioRunner(chained_fork_trio),
    note="each task opens a nursery for the next: 10k nested nurseries",
)


# -- PingPong: round trips through two bounded(1) queues between two fibers ----------------

ROUND_TRIPS = 1000
_PING_PONG_TOTAL = sum(i + 1 for i in range(ROUND_TRIPS))


def _ponger(ping: Queue[int], pong: Queue[int], left: int) -> Effect[None]:
    if left == 0:
        return Effect.unit()
    return (
        ping.take()
        .flat_map(lambda value: pong.offer(value + 1))
        .flat_map(lambda _: _ponger(ping, pong, left - 1))
    )


def _pinger(ping: Queue[int], pong: Queue[int], i: int, total: int) -> Effect[int]:
    if i == ROUND_TRIPS:
        return Effect.succeed(total)
    return (
        ping.offer(i)
        .and_then(pong.take())
        .flat_map(lambda value: _pinger(ping, pong, i + 1, total + value))
    )


def _ping_pong(queues: tuple[Queue[int], Queue[int]]) -> Effect[int]:
    ping, pong = queues
    return (
        _ponger(ping, pong, ROUND_TRIPS)
        .fork()
        .flat_map(lambda ponger: _pinger(ping, pong, 0, 0).tap(lambda _: ponger.join()))
    )


def ping_pong_effectpy() -> int:
    return run_sync(Queue[int].bounded(1).zip(Queue[int].bounded(1)).flat_map(_ping_pong))


async def _ponger_asyncio(ping: asyncio.Queue[int], pong: asyncio.Queue[int]) -> None:
    for _ in range(ROUND_TRIPS):
        value = await ping.get()
        await pong.put(value + 1)


async def ping_pong_asyncio() -> int:
    ping: asyncio.Queue[int] = asyncio.Queue(1)
    pong: asyncio.Queue[int] = asyncio.Queue(1)
    total = 0
    async with asyncio.TaskGroup() as group:
        group.create_task(_ponger_asyncio(ping, pong))
        for i in range(ROUND_TRIPS):
            await ping.put(i)
            total += await pong.get()
    return total


async def _ponger_trio(
    ping: trio.MemoryReceiveChannel[int], pong: trio.MemorySendChannel[int]
) -> None:
    for _ in range(ROUND_TRIPS):
        value = await ping.receive()
        await pong.send(value + 1)


def _ping_pong_trio(buffer: int) -> Callable[[], Awaitable[int]]:
    async def ping_pong() -> int:
        ping_send, ping_receive = trio.open_memory_channel[int](buffer)
        pong_send, pong_receive = trio.open_memory_channel[int](buffer)
        total = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_ponger_trio, ping_receive, pong_send)
            for i in range(ROUND_TRIPS):
                await ping_send.send(i)
                total += await pong_receive.receive()
        return total

    return ping_pong


ping_pong = register(
    SUITE,
    "PingPong",
    ops=ROUND_TRIPS,
    expected=_PING_PONG_TOTAL,
    summary="1000 round trips: offer to a bounded(1) queue, the other fiber takes and "
    "offers back on a second one",
)
ping_pong.add("effectpy", ping_pong_effectpy)
ping_pong.add_async("asyncio Queue(1)", ping_pong_asyncio)
ping_pong.add_runner("trio channel(1)", TrioRunner(_ping_pong_trio(1)), note="memory channels")
ping_pong.add_runner(
    "trio channel(0)",
    TrioRunner(_ping_pong_trio(0)),
    note="unbuffered memory channels: each send waits for its receive",
)


# -- EmptyRace: 1000 races of two effects that succeed at once -----------------------------

RACES = 1000


def _races_effectpy(i: int, won: int) -> Effect[int]:
    if i == RACES:
        return Effect.succeed(won)
    return Effect.race(_ONE, _ONE).flat_map(lambda value: _races_effectpy(i + 1, won + value))


def empty_race_effectpy() -> int:
    return run_sync(_races_effectpy(0, 0))


async def empty_race_asyncio() -> int:
    won = 0
    for _ in range(RACES):
        a = asyncio.create_task(_one_asyncio())
        b = asyncio.create_task(_one_asyncio())
        done, pending = await asyncio.wait((a, b), return_when=asyncio.FIRST_COMPLETED)
        for loser in pending:
            loser.cancel()
        if pending:  # as in effectpy, the race is over once the loser has stopped
            await asyncio.wait(pending)
        winner = a if a in done else b
        won += winner.result()
    return won


async def _contender_trio(scope: trio.CancelScope, winner: list[int]) -> None:
    if not winner:
        winner.append(1)
        scope.cancel()


async def empty_race_trio() -> int:
    won = 0
    for _ in range(RACES):
        winner: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_contender_trio, nursery.cancel_scope, winner)
            nursery.start_soon(_contender_trio, nursery.cancel_scope, winner)
        won += winner[0]
    return won


empty_race = register(
    SUITE,
    "EmptyRace",
    ops=RACES,
    expected=RACES,
    summary="Effect.race(succeed(1), succeed(1)), 1000 times in a row",
)
empty_race.add("effectpy", empty_race_effectpy)
empty_race.add_async(
    "asyncio tasks",
    empty_race_asyncio,
    note="two tasks, asyncio.wait(FIRST_COMPLETED), cancel the loser and wait for it",
)
empty_race.add_runner(
    "trio nursery",
    TrioRunner(empty_race_trio),
    note="two tasks in a nursery; the first to finish cancels the nursery",
)


# -- FailFast: one of 1000 siblings fails; the other 999 are torn down ----------------------

SIBLINGS = 1000


class _Counter:
    """How many finalizers have run; reset at the start of each run."""

    count = 0

    @classmethod
    def tick(cls) -> None:
        cls.count += 1


_checked_fail_fast_cause = False


def _fail_fast_siblings() -> list[Effect[None, Boom]]:
    """999 siblings that wait for ever and count their finalizer, and one that fails."""
    _Counter.count = 0
    waiting: Effect[None, Boom] = Effect.never().ensuring(Effect.sync(_Counter.tick))
    failing: Effect[None, Boom] = Effect.fail(Boom())
    return [waiting] * (SIBLINGS - 1) + [failing]


def fail_fast_effectpy() -> int:
    global _checked_fail_fast_cause
    siblings = _fail_fast_siblings()
    exit: Exit[tuple[None, ...], Boom] = run_sync_exit(
        Effect.all(*siblings, concurrency="unbounded")
    )
    if not isinstance(exit, Failure):
        raise AssertionError(f"FailFast/effectpy: expected a failure, got {exit!r:.80}")
    if not _checked_fail_fast_cause:
        # Once, on the checked run: walking the 1,999-node cause costs about 0.45 us per
        # sibling, and the workload ends when the last finalizer has run.
        failures = exit.cause.failures()
        interrupted = len(exit.cause.interruptions())
        if not (len(failures) == 1 and isinstance(failures[0], Boom)):
            raise AssertionError(f"FailFast/effectpy: expected one Boom, got {failures!r:.80}")
        if interrupted != SIBLINGS - 1:
            raise AssertionError(f"FailFast/effectpy: {interrupted} siblings interrupted")
        _checked_fail_fast_cause = True
    return _Counter.count


async def _waiting_asyncio() -> None:
    try:
        await asyncio.get_running_loop().create_future()  # never done
    finally:
        _Counter.tick()


async def _failing() -> None:
    raise Boom()


async def fail_fast_asyncio() -> int:
    _Counter.count = 0
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(SIBLINGS - 1):
                group.create_task(_waiting_asyncio())
            group.create_task(_failing())
    except* Boom:
        pass
    return _Counter.count


async def _waiting_trio() -> None:
    try:
        await trio.sleep_forever()
    finally:
        _Counter.tick()


async def fail_fast_trio() -> int:
    _Counter.count = 0
    try:
        async with trio.open_nursery() as nursery:
            for _ in range(SIBLINGS - 1):
                nursery.start_soon(_waiting_trio)
            nursery.start_soon(_failing)
    except* Boom:
        pass
    return _Counter.count


def _register_fail_fast(
    name: str,
    effectpy: Callable[[], int],
    summary: str,
    *,
    asyncio_peer: tuple[Callable[[], Awaitable[int]], str] = (
        fail_fast_asyncio,
        "999 tasks await a future that never completes, try/finally counts",
    ),
    trio_peer: tuple[Callable[[], Awaitable[int]], str] = (
        fail_fast_trio,
        "999 tasks in trio.sleep_forever(), try/finally counts",
    ),
) -> None:
    """The FailFast family shares its bars: at least as prompt as asyncio's TaskGroup
    and trio's nursery tearing down the same siblings (by default, siblings that wait
    for ever)."""
    benchmark = register(SUITE, name, ops=SIBLINGS, expected=SIBLINGS - 1, summary=summary)
    benchmark.add("effectpy", effectpy)
    benchmark.add_async("asyncio TaskGroup", asyncio_peer[0], note=asyncio_peer[1])
    benchmark.add_runner("trio nursery", TrioRunner(trio_peer[0]), note=trio_peer[1])
    benchmark.require("asyncio TaskGroup", 1.0)
    benchmark.require("trio nursery", 1.0)


_register_fail_fast(
    "FailFast",
    fail_fast_effectpy,
    'Effect.all(999 x never().ensuring(count), fail(Boom()), concurrency="unbounded"): '
    "start to the last finalizer; result: finalizers run",
)


# -- FailFastBranch: the same teardown as structured convergence (branch/spawn) ----------


def _spawn_all(siblings: list[Effect[None, Boom]]) -> Effect[None, Boom, Spawned[Boom]]:
    return Effect.for_each(siblings, spawn).as_unit()


def fail_fast_branch_effectpy() -> int:
    exit = run_sync_exit(branch(_spawn_all(_fail_fast_siblings())))
    if not isinstance(exit, Failure):
        raise AssertionError(f"FailFastBranch/effectpy: expected a failure, got {exit!r:.80}")
    return _Counter.count


_register_fail_fast(
    "FailFastBranch",
    fail_fast_branch_effectpy,
    "branch(spawn 999 x never().ensuring(count) and fail(Boom())): start until "
    "branch returns, every sibling's finalizer run; result: finalizers run",
)


# -- FailFastSleeping: the same teardown, the siblings asleep on timers --------------------

NAP = 10.0
"""How long each waiting sibling sleeps: far longer than the run."""

FAIL_AFTER = 0.001
"""How long the failing sibling sleeps before it fails."""


def _sleeping_siblings() -> list[Effect[None, Boom]]:
    """999 siblings that sleep `NAP` seconds and count their finalizer, and one that
    fails after `FAIL_AFTER`: each sibling's teardown cancels a timer."""
    _Counter.count = 0
    waiting: Effect[None, Boom] = Effect.sleep(NAP).ensuring(Effect.sync(_Counter.tick))
    failing: Effect[None, Boom] = Effect.sleep(FAIL_AFTER).and_then(Effect.fail(Boom()))
    return [waiting] * (SIBLINGS - 1) + [failing]


def fail_fast_sleeping_effectpy() -> int:
    exit: Exit[tuple[None, ...], Boom] = run_sync_exit(
        Effect.all(*_sleeping_siblings(), concurrency="unbounded")
    )
    if not isinstance(exit, Failure) or len(exit.cause.failures()) != 1:
        raise AssertionError(f"FailFastSleeping/effectpy: expected one Boom, got {exit!r:.80}")
    return _Counter.count


async def _sleeping_asyncio() -> None:
    try:
        await asyncio.sleep(NAP)
    finally:
        _Counter.tick()


async def _failing_later_asyncio() -> None:
    await asyncio.sleep(FAIL_AFTER)
    raise Boom()


async def fail_fast_sleeping_asyncio() -> int:
    _Counter.count = 0
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(SIBLINGS - 1):
                group.create_task(_sleeping_asyncio())
            group.create_task(_failing_later_asyncio())
    except* Boom:
        pass
    return _Counter.count


async def _sleeping_trio() -> None:
    try:
        await trio.sleep(NAP)
    finally:
        _Counter.tick()


async def _failing_later_trio() -> None:
    await trio.sleep(FAIL_AFTER)
    raise Boom()


async def fail_fast_sleeping_trio() -> int:
    _Counter.count = 0
    try:
        async with trio.open_nursery() as nursery:
            for _ in range(SIBLINGS - 1):
                nursery.start_soon(_sleeping_trio)
            nursery.start_soon(_failing_later_trio)
    except* Boom:
        pass
    return _Counter.count


_register_fail_fast(
    "FailFastSleeping",
    fail_fast_sleeping_effectpy,
    "Effect.all(999 x sleep(10).ensuring(count), sleep(0.001).and_then(fail(Boom())), "
    'concurrency="unbounded"): start to the last finalizer; result: finalizers run',
    asyncio_peer=(
        fail_fast_sleeping_asyncio,
        "999 tasks in asyncio.sleep(10), try/finally counts; one raises after sleep(0.001)",
    ),
    trio_peer=(
        fail_fast_sleeping_trio,
        "999 tasks in trio.sleep(10), try/finally counts; one raises after sleep(0.001)",
    ),
)
