"""`python -m bench [--quick] [--profile] [NAME ...]`: run the benchmarks, print the table.

NAME filters benchmarks by a case-insensitive substring of their name or suite
(`python -m bench narrow map`). `--quick` takes fewer, shorter repeats. `--profile`
runs the effectpy implementation of the selected benchmarks under cProfile instead of
timing them, and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import sys
from collections.abc import Sequence

from . import load_suites
from .harness import (
    FULL,
    QUICK,
    REFERENCE,
    REGISTRY,
    Benchmark,
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="run only benchmarks matching NAME"
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--profile", action="store_true", help="profile effectpy with cProfile")
    args = parser.parse_args(argv)

    load_suites()
    benchmarks = _select(args.names)
    if not benchmarks:
        known = ", ".join(b.name for b in REGISTRY)
        parser.error(f"no benchmark matches {' '.join(args.names)!r}; known: {known}")
    if args.profile:
        _profile(benchmarks, calls=5 if args.quick else 20)
        return 0

    settings = QUICK if args.quick else FULL
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"best of {settings.repeats} repeats of at least {settings.min_time:g} s each",
        flush=True,
    )
    results = run(
        benchmarks,
        settings,
        progress=lambda label: print(f"  timing {label}", file=sys.stderr, flush=True),
    )
    print()
    print(format_table(results))
    print()
    print("effectpy/peer: effectpy's time per op divided by the peer's (2.00x: twice as slow).")
    for line in format_bars(results):
        print(line)
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
