"""The benchmark harness (`bench/`): results of several worker processes are combined
per implementation; the ratio of a process is the median of its rounds' ratios (both
times of a ratio from the same round), the ratio shown the median over the processes,
with their range, and a bar is judged on it. The implementations a bar compares are
timed with the garbage collector paused and, with `--gc` (the default), on as well, and
the bar is given both ways. `python -m bench` runs its workers and prints the combined
table. (These tests live in `bench`, not `tests`: nothing else imports the benchmarks.)"""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import _parser, _settings, _worker_command
from bench.harness import (
    QUICK,
    Benchmark,
    Result,
    Runner,
    Settings,
    combine,
    format_bars,
    format_table,
    measure,
    ratio_samples,
    ratios,
)

ROOT = Path(__file__).resolve().parent.parent
"""The project's root, where `python -m bench` runs."""


def benchmark(bar: float = 1.0) -> Benchmark:
    bench = Benchmark("suite", "Work", ops=10, expected=None, summary="some work")
    bench.require("peer", bar)
    return bench


Times = float | tuple[float, ...]


def results(
    bench: Benchmark,
    ours: Times,
    peer: Times,
    *,
    ours_gc: Times | None = None,
    peer_gc: Times | None = None,
) -> list[Result]:
    """One process's results: seconds per call of effectpy and of the peer, in each
    round (a number: one round), with the collector paused and, if given, on."""

    def rounds(times: Times | None) -> tuple[tuple[float, ...], ...]:
        if times is None:
            return ()
        return ((times,),) if isinstance(times, float) else (times,)

    return [
        Result(bench, "effectpy", rounds(ours), "", rounds(ours_gc)),
        Result(bench, "peer", rounds(peer), "", rounds(peer_gc)),
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
    assert format_bars(combine(runs)).splitlines() == [
        "| bar  | peer | at most | gc paused |     range | verdict |",
        "|------|------|--------:|----------:|----------:|---------|",
        "| Work | peer |    0.6x |     0.50x | 0.30-1.00 | meets   |",
    ]
    missed = format_bars(combine(runs[1:2])).splitlines()[-1]
    assert missed == "| Work | peer |    0.6x |     1.00x |     - | MISSES  |"


def test_a_bar_timed_with_the_collector_on_too_is_given_both_ways_each_judged() -> None:
    bench = benchmark(bar=0.6)
    runs = [
        results(bench, 1.0, 2.0, ours_gc=3.0, peer_gc=4.0),
        results(bench, 1.2, 2.0, ours_gc=2.0, peer_gc=4.0),
    ]
    assert format_bars(combine(runs)).splitlines() == [
        "| bar  | peer | at most | gc paused |     range | verdict | gc on |     range | verdict |",
        "|------|------|--------:|----------:|----------:|---------|------:|----------:|---------|",
        "| Work | peer |    0.6x |     0.55x | 0.50-0.60 | meets   | 0.62x | 0.50-0.75 | MISSES  |",
    ]
    # The table is timed with the collector paused only.
    assert format_table(combine(runs)) == format_table(
        combine([results(bench, 1.0, 2.0), results(bench, 1.2, 2.0)])
    )


def test_a_ratio_just_over_its_bar_is_not_shown_as_on_it() -> None:
    bench = benchmark(bar=0.5)
    over = format_bars(combine([results(bench, 1.006, 2.0, ours_gc=0.998, peer_gc=2.0)]))
    assert over.splitlines()[-1] == (
        "| Work | peer |    0.5x |    0.503x |     - | MISSES  | 0.50x |     - | meets   |"
    )


def test_no_bar_no_bar_table() -> None:
    bench = Benchmark("suite", "Work", ops=10, expected=None, summary="some work")
    assert format_bars(combine([results(bench, 1.0, 2.0)])) == ""


def test_ratios_with_the_collector_on_pair_the_rounds_timed_with_it_on() -> None:
    bench = benchmark()
    combined = combine(
        [
            results(bench, (1.0, 3.0), (2.0, 6.0), ours_gc=(1.5, 4.5), peer_gc=(2.0, 6.0)),
            results(bench, (1.0,), (4.0,), ours_gc=(3.0,), peer_gc=(4.0,)),
        ]
    )
    assert combined[0].rounds_gc == ((1.5, 4.5), (3.0,))
    assert ratio_samples(combined) == {("Work", "peer"): [0.5, 0.25]}
    assert ratio_samples(combined, gc_on=True) == {("Work", "peer"): [0.75, 0.75]}
    assert ratios(combined, gc_on=True) == {("Work", "peer"): 0.75}
    # A peer timed with the collector paused only has no such ratio.
    paused_only = combine([results(bench, 1.0, 2.0, ours_gc=1.0)])
    assert ratio_samples(paused_only, gc_on=True) == {}


def test_combine_refuses_processes_that_timed_the_collector_on_and_some_that_did_not() -> None:
    bench = benchmark()
    with pytest.raises(ValueError, match="collector on of 1 processes out of 2"):
        combine([results(bench, 1.0, 2.0, ours_gc=1.0, peer_gc=2.0), results(bench, 1.0, 2.0)])


class Recorded(Runner):
    """A runner that takes no time: it reports `number` calls as lasting `number`
    seconds with the collector paused and `3 * number` with it on, and logs each
    measurement with the collector's state."""

    def __init__(self, name: str, log: list[tuple[str, bool]]) -> None:
        self.name = name
        self.log = log

    def call_once(self) -> object:
        return None

    def measure(self, number: int) -> float:
        on = gc.isenabled()
        self.log.append((self.name, on))
        return float(number * (3 if on else 1))


def recorded_benchmark(log: list[tuple[str, bool]], *, bar: bool) -> Benchmark:
    bench = Benchmark("suite", "Work", ops=10, expected=None, summary="some work")
    for name in ("effectpy", "peer", "other peer"):
        bench.add_runner(name, Recorded(name, log))
    if bar:
        bench.require("peer", 1.0)
    return bench


SETTINGS = Settings(repeats=2, min_time=1.0, processes=1)


def test_with_gc_each_round_times_what_a_bar_compares_again_with_the_collector_on() -> None:
    log: list[tuple[str, bool]] = []
    enabled = gc.isenabled()
    timed = {r.implementation: r for r in measure(recorded_benchmark(log, bar=True), SETTINGS)}
    assert gc.isenabled() is enabled
    # Each implementation's calibration (paused), then the rounds: every implementation
    # paused, then effectpy and the bar's peer with the collector on.
    one_round = [
        ("effectpy", False),
        ("peer", False),
        ("other peer", False),
        ("effectpy", True),
        ("peer", True),
    ]
    calibration = [("effectpy", False), ("peer", False), ("other peer", False)]
    assert log == calibration + one_round * 2
    assert timed["effectpy"].rounds == ((1.0, 1.0),)
    assert timed["effectpy"].rounds_gc == ((3.0, 3.0),)
    assert timed["peer"].rounds_gc == ((3.0, 3.0),)
    assert timed["other peer"].rounds_gc == ()


def test_without_gc_or_without_a_bar_nothing_is_timed_with_the_collector_on() -> None:
    for bench_has_bar, settings in [(True, Settings(2, 1.0, 1, gc=False)), (False, SETTINGS)]:
        log: list[tuple[str, bool]] = []
        timed = measure(recorded_benchmark(log, bar=bench_has_bar), settings)
        assert [on for _, on in log] == [False] * 9
        assert [r.rounds_gc for r in timed] == [(), (), ()]
        assert [r.rounds for r in timed] == [((1.0, 1.0),)] * 3


def test_gc_is_on_by_default_and_no_gc_reaches_the_workers() -> None:
    parser = _parser()
    assert _settings(parser.parse_args(["--quick"])) == QUICK
    assert QUICK.gc and _settings(parser.parse_args([])).gc
    settings = _settings(parser.parse_args(["--quick", "--no-gc", "--processes", "2"]))
    assert settings == Settings(QUICK.repeats, QUICK.min_time, processes=2, gc=False)
    command = _worker_command("1/2", settings, ["fork"])
    assert command[command.index("--") - 1 :] == ["--no-gc", "--", "fork"]
    worker = _settings(parser.parse_args(command[3:]))
    assert worker.gc is False and worker.repeats == QUICK.repeats
    assert "--gc" in _worker_command("1/2", QUICK, [])


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


def test_python_m_bench_prints_the_bars_with_the_collector_paused_and_on() -> None:
    done = run_bench("--quick", "NarrowFlatMap")
    assert done.returncode == 0, done.stderr
    assert "the bars also with the collector on" in done.stdout
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("| bar "))
    header, row = lines[at], lines[at + 2]
    assert [cell.strip() for cell in header.split("|")[1:-1]] == [
        "bar", "peer", "at most", "gc paused", "range", "verdict", "gc on", "range", "verdict"
    ]  # fmt: skip
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[:3] == ["NarrowFlatMap", "asyncio", "4x"]
    assert cells[3].endswith("x") and cells[6].endswith("x")
    assert {cells[5], cells[8]} <= {"meets", "MISSES"}

    without = run_bench("--quick", "--no-gc", "NarrowFlatMap")
    assert without.returncode == 0, without.stderr
    assert "collector on" not in without.stdout
    header = next(line for line in without.stdout.splitlines() if line.startswith("| bar "))
    assert "gc on" not in header


def test_python_m_bench_refuses_a_number_of_processes_below_one() -> None:
    done = run_bench("--processes", "0", "EmptyRace")
    assert done.returncode == 2
    assert "--processes must be at least 1, got 0" in done.stderr
