"""`python -m bench [--quick] [--processes N] [--no-gc] [--profile] [NAME ...]`: run the
benchmarks, print the table.

NAME filters benchmarks by a case-insensitive substring of their name or suite
(`python -m bench narrow map`). The benchmarks are measured in worker processes, one
after another (5 by default, see `harness`); `--processes N` sets how many, `--quick`
takes fewer, shorter repeats in one process. The table is timed with the garbage
collector paused, as `timeit` does; the bars are also timed with it on (`--gc`, the
default; `--no-gc` leaves that out). `--profile` runs the effectpy implementation of
the selected benchmarks under cProfile instead of timing them, and prints where the
time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import platform
import pstats
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from . import load_suites
from .harness import (
    FULL,
    QUICK,
    REFERENCE,
    REGISTRY,
    Benchmark,
    Result,
    Settings,
    combine,
    format_bars,
    format_table,
    notes,
    run,
)


def _select(names: Sequence[str]) -> list[Benchmark]:
    if not names:
        return list(REGISTRY)
    wanted = [n.lower() for n in names]
    return [b for b in REGISTRY if any(w in b.name.lower() or w == b.suite for w in wanted)]


def _profile(benchmarks: Sequence[Benchmark], calls: int) -> None:
    for bench in benchmarks:
        impl = next(i for i in bench.implementations if i.name == REFERENCE)
        impl.runner.call_once()  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            impl.runner.call_once()
        profiler.disable()
        print(f"== {bench.name} / {REFERENCE}: {calls} runs of {bench.ops:,} ops")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)


def _worker(benchmarks: Sequence[Benchmark], settings: Settings, label: str) -> int:
    """Measure in this process; print the results as JSON on stdout."""
    results = run(
        benchmarks,
        settings,
        progress=lambda text: print(f"  [{label}] timing {text}", file=sys.stderr, flush=True),
    )
    rows = [
        [r.benchmark.name, r.implementation, r.rounds[0], r.rounds_gc[0] if r.rounds_gc else None]
        for r in results
    ]
    print(json.dumps(rows))
    return 0


def _worker_command(label: str, settings: Settings, names: Sequence[str]) -> list[str]:
    """The command line of worker `label` (`1/5`): this module, measuring in-process."""
    command = [sys.executable, "-m", "bench", "--worker", label]
    command += ["--repeats", str(settings.repeats), "--min-time", str(settings.min_time)]
    command.append("--gc" if settings.gc else "--no-gc")
    return [*command, "--", *names]


def _measure_in_workers(
    benchmarks: Sequence[Benchmark], names: Sequence[str], settings: Settings
) -> list[Result]:
    """Run `settings.processes` workers one after another; combine their results."""
    by_name = {b.name: b for b in benchmarks}
    notes_of = {(b.name, i.name): i.note for b in benchmarks for i in b.implementations}
    root = Path(__file__).resolve().parent.parent
    runs: list[list[Result]] = []
    for index in range(settings.processes):
        label = f"{index + 1}/{settings.processes}"
        done = subprocess.run(
            _worker_command(label, settings, names),
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"benchmark worker {label} failed (exit {done.returncode})")
        rows = json.loads(done.stdout.splitlines()[-1])
        runs.append(
            [
                Result(
                    by_name[bench],
                    impl,
                    (tuple(rounds),),
                    notes_of[(bench, impl)],
                    (tuple(rounds_gc),) if rounds_gc is not None else (),
                )
                for bench, impl, rounds, rounds_gc in rows
            ]
        )
    return combine(runs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="run only benchmarks matching NAME"
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument(
        "--gc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the bars with the garbage collector on, as in a real program "
        "(default: on; the table is timed with it paused, as timeit does)",
    )
    parser.add_argument(
        "--processes", type=int, metavar="N", help="worker processes (default: 5, --quick: 1)"
    )
    parser.add_argument("--worker", metavar="I/N", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--min-time", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="profile effectpy with cProfile")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The settings the options ask for (`--processes` is checked by `main`)."""
    settings = dataclasses.replace(QUICK if args.quick else FULL, gc=args.gc)
    if args.worker is not None:
        settings = dataclasses.replace(
            settings,
            repeats=args.repeats or settings.repeats,
            min_time=args.min_time or settings.min_time,
        )
    if args.processes is not None:
        settings = dataclasses.replace(settings, processes=args.processes)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    load_suites()
    benchmarks = _select(args.names)
    if not benchmarks:
        known = ", ".join(b.name for b in REGISTRY)
        parser.error(f"no benchmark matches {' '.join(args.names)!r}; known: {known}")
    if args.profile:
        _profile(benchmarks, calls=5 if args.quick else 20)
        return 0

    settings = _settings(args)
    if args.worker is not None:
        return _worker(benchmarks, settings, args.worker)
    if args.processes is not None and args.processes < 1:
        parser.error(f"--processes must be at least 1, got {args.processes}")
    processes = (
        f"the median of {settings.processes} processes" if settings.processes > 1 else "one process"
    )
    collector = (
        "; the bars also with the collector on"
        if settings.gc and any(b.bars for b in benchmarks)
        else ""
    )
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{processes}, each {settings.repeats} rounds of at least {settings.min_time:g} s"
        f"{collector}",
        flush=True,
    )
    results = _measure_in_workers(benchmarks, args.names, settings)
    print()
    print(format_table(results))
    print()
    print("ns/op: each process's best round, the median over the processes.")
    print(
        "effectpy/peer: effectpy's time divided by the peer's in the same round (2.00x: "
        "twice as slow),\n  the median over a process's rounds, then over the processes; "
        "range: the lowest and highest process."
    )
    print("All with the garbage collector paused, as timeit does.")
    bars = format_bars(results)
    if bars:
        print()
        print(bars)
        print()
        print("at most: the highest ratio effectpy/peer the bar allows; a verdict is on a median.")
        if settings.gc:
            print(
                "gc on: effectpy and the peer timed again in each round with the collector on, "
                "as in a real program."
            )
    print()
    for bench in benchmarks:
        print(f"{bench.name}: {bench.summary}")
    extra = notes(results)
    if extra:
        print()
        for line in extra:
            print(f"note: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
