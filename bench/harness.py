"""Timing and reporting shared by every benchmark suite.

A suite module registers `Benchmark`s; each has a reference implementation (effectpy)
and peers (plain Python, asyncio, returns, trio...). All of them run in the same
processes, in one run, so their ratios are comparable: time taken on one machine at one
moment.

Timing follows `timeit`: the garbage collector is paused while a repeat (a round) runs,
and each calls the implementation enough times to last at least `min_time` seconds. The
rounds of a benchmark's implementations are interleaved, so load elsewhere hits them
alike. The time per call shown is the best round's (the least disturbed by the rest of
the machine).

Real programs do not pause the collector, and for a workload that makes many objects
collecting them is a large part of its cost. So a benchmark with a bar also times, in
each round, effectpy and the peers its bars name a second time with the collector on
(`Settings.gc`, `python -m bench --gc`, the default), and each bar is reported both
ways, each ratio paired within rounds as below.
Before it is timed, every implementation runs once and its result is checked against
the expected one, so a broken implementation fails loudly instead of looking fast.

A ratio effectpy/peer pairs the times of one round: within a round the two ran back to
back, so a change of the machine's speed from one round to the next (a shared virtual
machine's speed moves by half within seconds) hits both alike and cancels in their
ratio, where the best time of each, taken from different rounds, does not. The ratio
of a process is the median of its rounds' ratios.

Each process also has its own memory layout (address randomization) and its own hash
seed, and on a shared machine its own share of the caches; that moves a ratio by as
much as a fifth from one process to the next. So, as `pyperf` does, `python -m bench`
measures in several worker processes, one after another, and reports for each ratio
the median over them, with their range; a bar is judged on the median.

A suite module registers its benchmarks at import:

    from .harness import register

    bench = register("interpreter", "NarrowFlatMap", ops=10_000, expected=10_000,
                     summary="...")
    bench.add("effectpy", lambda: run_sync(loop(0)))
    bench.add_async("asyncio", narrow_asyncio)   # an `async def` taking no arguments
    bench.require("asyncio", 4.0)               # the bar: effectpy at most 4x asyncio
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

REFERENCE = "effectpy"
"""The implementation every other one is compared with."""


# -- runners: how one implementation is called `number` times ---------------------------


class Runner:
    """Calls an implementation; `measure(number)` gives the seconds `number` calls took."""

    def call_once(self) -> object:
        raise NotImplementedError

    def measure(self, number: int) -> float:
        raise NotImplementedError


class SyncRunner(Runner):
    """A plain function taking no arguments."""

    def __init__(self, fn: Callable[[], object]) -> None:
        self.fn = fn

    def call_once(self) -> object:
        return self.fn()

    def measure(self, number: int) -> float:
        fn = self.fn
        start = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - start


class AsyncioRunner(Runner):
    """An `async def` taking no arguments, awaited inside one asyncio event loop.

    Only the awaits are timed, not the loop's creation: a peer that already runs
    inside asyncio pays for the awaits only.
    """

    def __init__(self, fn: Callable[[], Awaitable[object]]) -> None:
        self.fn = fn

    def call_once(self) -> object:
        return asyncio.run(_await(self.fn))

    def measure(self, number: int) -> float:
        fn = self.fn

        async def timed() -> float:
            start = time.perf_counter()
            for _ in range(number):
                await fn()
            return time.perf_counter() - start

        return asyncio.run(timed())


async def _await(fn: Callable[[], Awaitable[object]]) -> object:
    return await fn()


# -- benchmarks and their registry -------------------------------------------------------


@dataclass
class Implementation:
    name: str
    runner: Runner
    note: str = ""


@dataclass
class Benchmark:
    """One workload written once per implementation.

    `ops` is how many operations (binds, maps, attempts...) one call performs: the
    table divides by it to show time per operation.
    """

    suite: str
    name: str
    ops: int
    expected: object
    summary: str
    implementations: list[Implementation] = field(default_factory=list)
    bars: dict[str, float] = field(default_factory=dict)
    """The peers a bar names, and the highest ratio effectpy/peer allowed."""
    not_applicable: dict[str, str] = field(default_factory=dict)
    recursion_limit: int | None = None

    def add(self, name: str, fn: Callable[[], object], note: str = "") -> None:
        """Add an implementation: a function taking no arguments that does the work once."""
        self.implementations.append(Implementation(name, SyncRunner(fn), note))

    def add_async(self, name: str, fn: Callable[[], Awaitable[object]], note: str = "") -> None:
        """Add an implementation written as an `async def` taking no arguments."""
        self.implementations.append(Implementation(name, AsyncioRunner(fn), note))

    def add_runner(self, name: str, runner: Runner, note: str = "") -> None:
        """Add an implementation with its own way of being called (trio, threads...)."""
        self.implementations.append(Implementation(name, runner, note))

    def skip(self, name: str, reason: str) -> None:
        """Record that a peer has no faithful version of this workload, and why."""
        self.not_applicable[name] = reason

    def require(self, peer: str, max_ratio: float) -> None:
        """A bar to meet: effectpy at most `max_ratio` times slower than `peer`."""
        self.bars[peer] = max_ratio

    def timed_with_gc(self) -> frozenset[str]:
        """The implementations also timed with the collector on (`Settings.gc`): effectpy
        and the peers its bars name, so each bar's ratio can be given both ways; none
        for a benchmark without a bar."""
        if not self.bars:
            return frozenset()
        return frozenset({REFERENCE, *self.bars})


REGISTRY: list[Benchmark] = []


def register(
    suite: str,
    name: str,
    *,
    ops: int,
    expected: object,
    summary: str,
    recursion_limit: int | None = None,
) -> Benchmark:
    """Create a benchmark and add it to the registry `python -m bench` runs."""
    if any(b.name == name for b in REGISTRY):
        raise ValueError(f"a benchmark named {name!r} is already registered")
    bench = Benchmark(suite, name, ops, expected, summary, recursion_limit=recursion_limit)
    REGISTRY.append(bench)
    return bench


# -- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    repeats: int
    """Interleaved rounds in each process (see above)."""
    min_time: float
    """Seconds one repeat lasts at least (the number of calls is chosen to get there)."""
    processes: int
    """Worker processes, each measuring every selected benchmark (see above)."""
    gc: bool = True
    """Whether each round also times the implementations a bar compares with the
    garbage collector on (`Benchmark.timed_with_gc`), as well as paused."""


FULL = Settings(repeats=6, min_time=0.05, processes=5)
QUICK = Settings(repeats=3, min_time=0.02, processes=1)


@dataclass(frozen=True)
class Result:
    """One implementation of one benchmark: its time per call in each round of each
    process."""

    benchmark: Benchmark
    implementation: str
    rounds: tuple[tuple[float, ...], ...]
    """Seconds per call, the collector paused: for each process, one per round, in order."""
    note: str
    rounds_gc: tuple[tuple[float, ...], ...] = ()
    """The same with the collector on, for the implementations a bar compares when
    `Settings.gc` is set; empty otherwise."""

    @property
    def samples(self) -> tuple[float, ...]:
        """The best time per call of each process."""
        return tuple(min(times) for times in self.rounds)

    @property
    def seconds_per_call(self) -> float:
        """The median over the processes of their best time."""
        return statistics.median(self.samples)

    @property
    def ns_per_op(self) -> float:
        return self.seconds_per_call / self.benchmark.ops * 1e9


class WrongResult(AssertionError):
    """An implementation computed something else than the benchmark expects."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The collector off, as `timeit` has it, after a full collection."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _gc_on() -> Iterator[None]:
    """The collector on, as in a real program. A full collection first, so that every
    timing starts from the same state (no garbage left, the generations' counts at
    zero) whatever ran before it."""
    enabled = gc.isenabled()
    gc.collect()
    gc.enable()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()


@contextmanager
def _recursion_limit(limit: int | None) -> Iterator[None]:
    old = sys.getrecursionlimit()
    if limit is not None and limit > old:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _check_and_calibrate(bench: Benchmark, impl: Implementation, settings: Settings) -> int:
    """Run once and check the result; return how many calls make one repeat."""
    runner = impl.runner
    start = time.perf_counter()
    value = runner.call_once()
    first = time.perf_counter() - start
    if value != bench.expected:
        raise WrongResult(
            f"{bench.name}/{impl.name} returned {value!r:.80}, expected {bench.expected!r:.80}"
        )
    number = max(1, math.ceil(settings.min_time / max(first, 1e-9)))
    # One untimed repeat to refine the count: the first call also paid for warm-up.
    with _gc_paused():
        elapsed = runner.measure(number)
    return max(1, math.ceil(number * settings.min_time / max(elapsed, 1e-9)))


def measure(bench: Benchmark, settings: Settings) -> list[Result]:
    """Check and time every implementation of `bench` in `settings.repeats` rounds.

    The repeats are interleaved (each round times every implementation once), so a
    burst of load elsewhere on the machine hits all of them alike, not one. With
    `settings.gc`, each round then times the implementations a bar compares again, in
    the same order, with the collector on: the times of a round, paused or on, are
    taken back to back.
    """
    with_gc = bench.timed_with_gc() if settings.gc else frozenset()
    impls = bench.implementations
    with _recursion_limit(bench.recursion_limit):
        numbers = [_check_and_calibrate(bench, impl, settings) for impl in impls]
        times: list[list[float]] = [[] for _ in impls]
        times_gc: list[list[float]] = [[] for _ in impls]
        for _ in range(settings.repeats):
            for i, (impl, number) in enumerate(zip(impls, numbers, strict=True)):
                with _gc_paused():
                    times[i].append(impl.runner.measure(number) / number)
            for i, (impl, number) in enumerate(zip(impls, numbers, strict=True)):
                if impl.name in with_gc:
                    with _gc_on():
                        times_gc[i].append(impl.runner.measure(number) / number)
    return [
        Result(
            bench,
            impl.name,
            (tuple(paused),),
            impl.note,
            (tuple(on),) if on else (),
        )
        for impl, paused, on in zip(impls, times, times_gc, strict=True)
    ]


def run(
    benchmarks: Sequence[Benchmark],
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """Measure every implementation of every benchmark, in registration order."""
    results: list[Result] = []
    for bench in benchmarks:
        if progress is not None:
            progress(f"{bench.name}: {', '.join(i.name for i in bench.implementations)}")
        results.extend(measure(bench, settings))
    return results


def combine(runs: Sequence[Sequence[Result]]) -> list[Result]:
    """The results of several processes (each a `run` of the same benchmarks) as one
    list, each result holding every process's rounds, in the order of the first (and,
    if every process timed it with the collector on, every process's such rounds)."""
    if not runs:
        return []
    rounds: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    rounds_gc: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for results in runs:
        for r in results:
            key = (r.benchmark.name, r.implementation)
            rounds.setdefault(key, []).extend(r.rounds)
            rounds_gc.setdefault(key, []).extend(r.rounds_gc)
    expected = len(runs)
    combined: list[Result] = []
    for r in runs[0]:
        key = (r.benchmark.name, r.implementation)
        found, found_gc = rounds[key], rounds_gc[key]
        if len(found) != expected:
            raise ValueError(
                f"{r.benchmark.name}/{r.implementation}: results of {len(found)} "
                f"processes out of {expected}"
            )
        if found_gc and len(found_gc) != expected:
            raise ValueError(
                f"{r.benchmark.name}/{r.implementation}: results with the collector on "
                f"of {len(found_gc)} processes out of {expected}"
            )
        combined.append(
            Result(r.benchmark, r.implementation, tuple(found), r.note, tuple(found_gc))
        )
    return combined


# -- reporting ----------------------------------------------------------------------------


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The ratio of one process: the median over its rounds of effectpy's time divided
    by the peer's time in the same round."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def ratio_samples(
    results: Sequence[Result], *, gc_on: bool = False
) -> dict[tuple[str, str], list[float]]:
    """effectpy's time per call divided by each peer's, per (benchmark, peer): one
    ratio per process (`paired_ratio`). With `gc_on`, of the rounds timed with the
    collector on, for the peers that have them."""
    reference = {r.benchmark.name: r for r in results if r.implementation == REFERENCE}
    out: dict[tuple[str, str], list[float]] = {}
    for r in results:
        ref = reference.get(r.benchmark.name)
        if ref is None or r.implementation == REFERENCE:
            continue
        ours, theirs = (ref.rounds_gc, r.rounds_gc) if gc_on else (ref.rounds, r.rounds)
        if ours and theirs:
            out[(r.benchmark.name, r.implementation)] = [
                paired_ratio(a, b) for a, b in zip(ours, theirs, strict=True)
            ]
    return out


def ratios(results: Sequence[Result], *, gc_on: bool = False) -> dict[tuple[str, str], float]:
    """The median over the processes of `ratio_samples`, per (benchmark, peer)."""
    return {
        key: statistics.median(values)
        for key, values in ratio_samples(results, gc_on=gc_on).items()
    }


def _spread(values: Sequence[float]) -> str:
    """`0.39-0.52`: the range of per-process ratios (empty for one process)."""
    if len(values) < 2:
        return ""
    return f"{min(values):.2f}-{max(values):.2f}"


def _markdown(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """A Markdown table, its columns padded to their widest cell; the columns in `right`
    aligned right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (width + 1) + ":" if i in right else "-" * (width + 2)
        for i, width in enumerate(widths)
    )
    return "\n".join([line(header), rule + "|", *(line(row) for row in rows)])


def format_table(results: Sequence[Result]) -> str:
    """A Markdown table: one row per implementation, its time per op, the ratio
    effectpy/peer beside it (the median over the processes of `ratio_samples`) and the
    range of that ratio over them. All with the collector paused."""
    ratio = ratios(results)
    spread = {key: _spread(values) for key, values in ratio_samples(results).items()}
    header = ("benchmark", "ops/run", "implementation", "ns/op", "effectpy/peer", "range")
    rows: list[tuple[str, ...]] = []
    by_bench: dict[str, list[Result]] = {}
    for r in results:
        by_bench.setdefault(r.benchmark.name, []).append(r)
    for name, group in by_bench.items():
        bench = group[0].benchmark
        first = True
        for r in group:
            shown = (name, f"{bench.ops:,}") if first else ("", "")
            first = False
            key = (name, r.implementation)
            cell = f"{ratio[key]:.2f}x" if key in ratio else "-"
            rows.append(
                (*shown, r.implementation, f"{r.ns_per_op:,.1f}", cell, spread.get(key) or "-")
            )
        for peer in bench.not_applicable:
            rows.append(("", "", peer, "n/a", "-", "-"))
    return _markdown(header, rows, right={1, 3, 4, 5})


def format_bars(results: Sequence[Result]) -> str:
    """A Markdown table, one row per bar: the ratio effectpy/peer with the collector
    paused (the median over the processes, and their range) against the allowed one,
    and a verdict on the median; then the same with the collector on, if it was timed
    (`Settings.gc`). Empty if no bar was measured."""
    paused = ratio_samples(results)
    on = ratio_samples(results, gc_on=True)
    header = ["bar", "peer", "at most", "gc paused", "range", "verdict"]
    if on:
        header += ["gc on", "range", "verdict"]

    def judged(values: Sequence[float] | None, allowed: float) -> list[str]:
        if values is None:
            return ["-", "-", "-"]
        measured = statistics.median(values)
        verdict = "meets" if measured <= allowed else "MISSES"
        # Two decimals, or three where two would round a miss onto the bar (0.503x).
        shown = f"{measured:.2f}x"
        if measured > allowed and float(shown[:-1]) <= allowed:
            shown = f"{measured:.3f}x"
        return [shown, _spread(values) or "-", verdict]

    rows: list[list[str]] = []
    seen: set[str] = set()
    for r in results:
        bench = r.benchmark
        if bench.name in seen:
            continue
        seen.add(bench.name)
        for peer, allowed in bench.bars.items():
            key = (bench.name, peer)
            if key not in paused:
                continue
            row = [bench.name, peer, f"{allowed:g}x", *judged(paused[key], allowed)]
            if on:
                row += judged(on.get(key), allowed)
            rows.append(row)
    if not rows:
        return ""
    return _markdown(header, rows, right={2, 3, 4, 6, 7})


def notes(results: Sequence[Result]) -> list[str]:
    """What a peer's version does differently, and why a peer has no version."""
    out: list[str] = []
    seen: set[str] = set()
    for r in results:
        if r.note:
            out.append(f"{r.benchmark.name} / {r.implementation}: {r.note}")
        bench = r.benchmark
        if bench.name not in seen:
            seen.add(bench.name)
            for peer, reason in bench.not_applicable.items():
                out.append(f"{bench.name} / {peer}: n/a, {reason}")
    return out
