"""The benchmark harness (`bench/`): results of several worker processes are combined
per implementation; the ratio of a process is the median of its rounds' ratios (both
times of a ratio from the same round), the ratio shown the median over the processes,
with their range, and a bar is judged on it. `python -m bench` runs its workers and
prints the combined table. (These tests live in `bench`, not `tests`: nothing else
imports the benchmarks.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import (
    Benchmark,
    Result,
    combine,
    format_bars,
    format_table,
    ratio_samples,
    ratios,
)

ROOT = Path(__file__).resolve().parent.parent
"""The project's root, where `python -m bench` runs."""


def benchmark(bar: float = 1.0) -> Benchmark:
    bench = Benchmark("suite", "Work", ops=10, expected=None, summary="some work")
    bench.require("peer", bar)
    return bench


def results(
    bench: Benchmark, ours: float | tuple[float, ...], peer: float | tuple[float, ...]
) -> list[Result]:
    """One process's results: seconds per call of effectpy and of the peer, in each
    round (a number: one round)."""

    def rounds(times: float | tuple[float, ...]) -> tuple[tuple[float, ...], ...]:
        return ((times,),) if isinstance(times, float) else (times,)

    return [
        Result(bench, "effectpy", rounds(ours), ""),
        Result(bench, "peer", rounds(peer), ""),
    ]


def test_combine_keeps_every_processs_rounds_per_implementation_in_order() -> None:
    bench = benchmark()
    combined = combine([results(bench, (1.0, 1.5), 2.0), results(bench, (3.0, 2.5), 4.0)])
    assert [(r.implementation, r.rounds) for r in combined] == [
        ("effectpy", ((1.0, 1.5), (3.0, 2.5))),
        ("peer", ((2.0,), (4.0,))),
    ]
    assert combined[0].samples == (1.0, 2.5)  # the best of each process
    assert combined[0].seconds_per_call == 1.75  # their median
    assert combine([]) == []


def test_combine_refuses_processes_that_measured_different_things() -> None:
    bench = benchmark()
    other = [Result(bench, "effectpy", ((1.0,),), "")]  # the peer is missing
    with pytest.raises(ValueError, match="Work/peer: results of 1 processes out of 2"):
        combine([results(bench, 1.0, 2.0), other])


def test_the_ratio_of_a_process_pairs_the_times_of_each_round() -> None:
    # The machine runs three times slower in the second round, for both: the ratio of
    # each round is 0.5, whatever the best times of the two are.
    bench = benchmark()
    slower = combine([results(bench, (1.0, 3.0, 1.1), (2.0, 6.0, 2.2))])
    assert ratio_samples(slower) == {("Work", "peer"): [0.5]}
    assert ratio_samples(combine([results(bench, (1.2, 3.0), (2.0, 6.0))])) == {
        ("Work", "peer"): [0.55]  # the median of 0.6 and 0.5; best over best gives 0.6
    }


def test_a_ratio_is_the_median_of_the_per_process_ratios_not_a_ratio_of_medians() -> None:
    bench = benchmark()
    runs = [results(bench, 1.0, 2.0), results(bench, 2.0, 2.0), results(bench, 3.0, 10.0)]
    combined = combine(runs)
    assert ratio_samples(combined) == {("Work", "peer"): [0.5, 1.0, 0.3]}
    assert ratios(combined) == {("Work", "peer"): 0.5}  # medians alone would give 1.0


def test_a_bar_is_judged_on_the_median_and_shows_the_range() -> None:
    bench = benchmark(bar=0.6)
    runs = [results(bench, 1.0, 2.0), results(bench, 2.0, 2.0), results(bench, 3.0, 10.0)]
    [line] = format_bars(combine(runs))
    assert line == (
        "bar: Work effectpy/peer = 0.50x (median of 3 processes: 0.30-1.00x), "
        "at most 0.6x allowed: meets"
    )
    [missed] = format_bars(combine(runs[1:2]))
    assert missed == "bar: Work effectpy/peer = 1.00x, at most 0.6x allowed: MISSES"


def test_the_table_shows_the_range_of_the_ratio_only_over_several_processes() -> None:
    bench = benchmark()
    one = format_table(combine([results(bench, 1.0, 2.0)])).splitlines()
    assert one[0].split("|")[5:7] == [" effectpy/peer ", " range "]
    assert one[-1].split("|")[5:7] == ["         0.50x ", "     - "]
    two = format_table(combine([results(bench, 1.0, 2.0), results(bench, 3.0, 4.0)]))
    assert two.splitlines()[-1].split("|")[5:7] == ["         0.62x ", " 0.50-0.75 "]


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_python_m_bench_measures_in_worker_processes_and_prints_the_combined_table() -> None:
    done = run_bench("--quick", "--processes", "2", "EmptyRace")
    assert done.returncode == 0, done.stderr
    assert "the median of 2 processes" in done.stdout
    assert "[1/2] timing EmptyRace" in done.stderr and "[2/2] timing EmptyRace" in done.stderr
    row = next(line for line in done.stdout.splitlines() if "asyncio" in line and "x |" in line)
    low, high = (float(x) for x in row.split("|")[6].strip().split("-"))
    assert 0 < low <= high


def test_python_m_bench_refuses_a_number_of_processes_below_one() -> None:
    done = run_bench("--processes", "0", "EmptyRace")
    assert done.returncode == 2
    assert "--processes must be at least 1, got 0" in done.stderr
