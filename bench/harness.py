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


FULL = Settings(repeats=6, min_time=0.05, processes=5)
QUICK = Settings(repeats=3, min_time=0.02, processes=1)


@dataclass(frozen=True)
class Result:
    """One implementation of one benchmark: its time per call in each round of each
    process."""

    benchmark: Benchmark
    implementation: str
    rounds: tuple[tuple[float, ...], ...]
    """Seconds per call: for each process, one per round, in order."""
    note: str

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
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    """Check and time every implementation of `bench`: the best of `settings.repeats`.

    The repeats are interleaved (each round times every implementation once), so a
    burst of load elsewhere on the machine hits all of them alike, not one.
    """
    with _recursion_limit(bench.recursion_limit):
        numbers = [_check_and_calibrate(bench, impl, settings) for impl in bench.implementations]
        times: list[list[float]] = [[] for _ in numbers]
        for _ in range(settings.repeats):
            for i, (impl, number) in enumerate(zip(bench.implementations, numbers, strict=True)):
                with _gc_paused():
                    times[i].append(impl.runner.measure(number) / number)
    return [
        Result(bench, impl.name, (tuple(rounds),), impl.note)
        for impl, rounds in zip(bench.implementations, times, strict=True)
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
    list, each result holding every process's rounds, in the order of the first."""
    if not runs:
        return []
    rounds: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for results in runs:
        for r in results:
            rounds.setdefault((r.benchmark.name, r.implementation), []).extend(r.rounds)
    expected = len(runs)
    combined: list[Result] = []
    for r in runs[0]:
        found = rounds[(r.benchmark.name, r.implementation)]
        if len(found) != expected:
            raise ValueError(
                f"{r.benchmark.name}/{r.implementation}: results of {len(found)} "
                f"processes out of {expected}"
            )
        combined.append(Result(r.benchmark, r.implementation, tuple(found), r.note))
    return combined


# -- reporting ----------------------------------------------------------------------------


def paired_ratio(ours: Sequence[float], theirs: Sequence[float]) -> float:
    """The ratio of one process: the median over its rounds of effectpy's time divided
    by the peer's time in the same round."""
    return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))


def ratio_samples(results: Sequence[Result]) -> dict[tuple[str, str], list[float]]:
    """effectpy's time per call divided by each peer's, per (benchmark, peer): one
    ratio per process (`paired_ratio`)."""
    reference = {r.benchmark.name: r for r in results if r.implementation == REFERENCE}
    out: dict[tuple[str, str], list[float]] = {}
    for r in results:
        ref = reference.get(r.benchmark.name)
        if ref is not None and r.implementation != REFERENCE:
            out[(r.benchmark.name, r.implementation)] = [
                paired_ratio(ours, theirs)
                for ours, theirs in zip(ref.rounds, r.rounds, strict=True)
            ]
    return out


def ratios(results: Sequence[Result]) -> dict[tuple[str, str], float]:
    """The median over the processes of `ratio_samples`, per (benchmark, peer)."""
    return {key: statistics.median(values) for key, values in ratio_samples(results).items()}


def _spread(values: Sequence[float]) -> str:
    """`0.39-0.52`: the range of per-process ratios (empty for one process)."""
    if len(values) < 2:
        return ""
    return f"{min(values):.2f}-{max(values):.2f}"


def format_table(results: Sequence[Result]) -> str:
    """A Markdown table: one row per implementation, its time per op, the ratio
    effectpy/peer beside it (the median over the processes of `ratio_samples`) and the
    range of that ratio over them."""
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
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {1, 3, 4, 5}

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


def format_bars(results: Sequence[Result]) -> list[str]:
    """One line per bar: the measured ratio (the median over the processes, with their
    range) against the allowed one, and a verdict on the median."""
    ratio = ratios(results)
    samples = ratio_samples(results)
    lines: list[str] = []
    seen: set[str] = set()
    for r in results:
        bench = r.benchmark
        if bench.name in seen:
            continue
        seen.add(bench.name)
        for peer, allowed in bench.bars.items():
            measured = ratio.get((bench.name, peer))
            if measured is None:
                continue
            verdict = "meets" if measured <= allowed else "MISSES"
            values = samples[(bench.name, peer)]
            spread = _spread(values)
            over = f" (median of {len(values)} processes: {spread}x)" if spread else ""
            lines.append(
                f"bar: {bench.name} effectpy/{peer} = {measured:.2f}x{over}, "
                f"at most {allowed:g}x allowed: {verdict}"
            )
    return lines


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
