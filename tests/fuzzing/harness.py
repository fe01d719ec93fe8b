"""Running programs: three runners, a watchdog, and campaigns with counts.

Every program runs under each runner:

* `sync`: `run_sync_exit` with the default runtime;
* `seeded`: `Runtime(seed=..., budget=1..4)`: the ready queue shuffled by the
  program's seed, and every fiber preempted after 1 to 4 ops;
* `async`: `run_async_exit` on an asyncio loop.

Runs happen on a worker thread; the caller waits for each with a wall-clock deadline,
so a program that hangs is reported (with its seed) instead of blocking the suite, and
the stuck worker is abandoned for a fresh one.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from effectpy import Effect, Exit, Runtime, Success, live_fiber_count

from .build import Builder, Run, driver, violations
from .model import Ambiguous, Prediction, Unmodelled, predict
from .tree import FAMILIES, FORK_EACH, Family, Program, generate, kinds, show

RunnerName = Literal["sync", "seeded", "async", "cancelled", "cancelled twice"]
RUNNERS: Final[tuple[RunnerName, ...]] = ("sync", "seeded", "async", "cancelled", "cancelled twice")
"""The runners of the fast slice and of a default campaign."""
ALL_RUNNERS: Final[tuple[RunnerName, ...]] = RUNNERS

CANCELLED: Final = ("cancelled", "cancelled twice")
"""Runners that cancel the asyncio task awaiting `run_async_exit` after a number of
loop iterations drawn from the seed (the second one cancels it again a little later):
the effect is interrupted at an arbitrary point, so only the invariants about
finalizers and fibers are checked, not the program's outcome. They run `clock`
programs on the live clock and `foreign` ones; `shared` programs (whose takes may wait
until the driver's horizon) are left to the other runners."""

DEADLINES: Final[dict[Family, float]] = {
    "clock": 15.0,
    "shared": 15.0,
    "foreign": 30.0,
    "fork_each": 15.0,
}
"""Wall-clock seconds a run may take before it counts as a hang."""

MIX: Final[tuple[Family, ...]] = ("clock",) * 6 + ("shared",) * 3 + ("foreign",) + (FORK_EACH,)
"""A campaign's programs, by family: program i is of family MIX[i % len(MIX)], among
the families asked for (by default `FAMILIES`)."""


def runtime_for(runner: RunnerName, seed: int) -> Runtime:
    if runner == "seeded":
        return Runtime(seed=seed, budget=1 + seed % 4)
    return Runtime()


class Worker:
    """A thread that runs programs one at a time (with an asyncio loop of its own)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="fuzz-worker", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            while (job := self._jobs.get()) is not None:
                job()
        finally:
            loop.close()

    def _let_finish(self) -> None:
        """Give fibers a run left behind on this worker's loop (a run that returned
        too early) two seconds to end, so that they do not count against the next."""
        deadline = time.monotonic() + 2.0
        while live_fiber_count() and time.monotonic() < deadline:
            self.loop.run_until_complete(asyncio.sleep(0.001))

    def close(self) -> None:
        """Let the thread end once it is done with the current job (a stuck one never
        ends: it is a daemon)."""
        self._jobs.put(None)

    def run(
        self,
        program: Program,
        runner: RunnerName,
        deadline: float,
        builder: type[Builder] = Builder,
    ) -> tuple[Run, list[str]]:
        """Run `program` once; the run's record and what went wrong at the runner's
        level (a hang, a fiber left running, a driver that failed)."""
        box = Run()
        done = threading.Event()
        problems: list[str] = []

        def job() -> None:
            try:
                exit = self._run(program, runner, box, builder)
                if not isinstance(exit, Success):
                    problems.append(f"the driver ended with {exit!r}")
                live = live_fiber_count()
                if live:
                    problems.append(f"{live} fiber(s) still running after the runner returned")
                    self._let_finish()
            except BaseException as exc:  # a runner must not raise: report it
                problems.append(f"the runner raised {exc!r}")
            finally:
                done.set()

        self._jobs.put(job)
        if not done.wait(deadline):
            problems.append(f"hang: still running after {deadline:g}s of wall-clock time")
        return box, problems

    def _run(
        self, program: Program, runner: RunnerName, box: Run, builder: type[Builder]
    ) -> Exit[None, Any]:
        runtime = runtime_for(runner, program.seed)
        effect = driver(program, box, builder, live=runner in CANCELLED)
        if runner == "async":
            return self.loop.run_until_complete(runtime.run_async_exit(effect))
        if runner in CANCELLED:
            rng = random.Random(program.seed)
            first = rng.randint(0, 12)
            again = rng.randint(0, 6) if runner == "cancelled twice" else None
            return self.loop.run_until_complete(_cancelled(runtime, effect, first, again))
        return runtime.run_sync_exit(effect)


async def _cancelled(
    runtime: Runtime, effect: Effect[None], first: int, again: int | None
) -> Exit[None, Any]:
    """Run `effect` in a task, cancel the task after `first` loop iterations (and
    again `again` iterations later); its exit, or a success if it was cancelled (the
    `CancelledError` is the expected end)."""
    task = asyncio.ensure_future(runtime.run_async_exit(effect))
    for count in (first, again):
        if count is None:
            break
        for _ in range(count):
            await asyncio.sleep(0)
        task.cancel()
    try:
        return await task
    except asyncio.CancelledError:
        return Exit.unit()


@dataclass(frozen=True)
class FailedRun:
    family: Family
    seed: int
    runner: RunnerName
    problems: tuple[str, ...]

    def report(self, program: Program | None = None) -> str:
        lines = [
            f"FUZZ FAILURE family={self.family} seed={self.seed} runner={self.runner}",
            *(f"  - {problem}" for problem in self.problems),
            f"  replay: python -m tests.fuzzing --replay {self.seed} --family {self.family}",
        ]
        if program is not None:
            lines += ["  program:", show(program.root, "    ")]
        return "\n".join(lines)


@dataclass
class Tally:
    """A campaign's counts."""

    programs: Counter[str] = field(default_factory=Counter)
    modelled: Counter[str] = field(default_factory=Counter)
    ambiguous: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    failed_runs: Counter[str] = field(default_factory=Counter)
    node_kinds: Counter[str] = field(default_factory=Counter)
    failures: list[FailedRun] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"{sum(self.programs.values())} programs in {self.seconds:.1f}s"]
        for family in FAMILIES:
            if self.programs[family]:
                lines.append(
                    f"  {family:8} {self.programs[family]:7} programs"
                    f"  ({self.modelled[family]} checked against the model,"
                    f" {self.ambiguous[family]} ambiguous)"
                )
        for runner in ALL_RUNNERS:
            if not self.runs[runner]:
                continue
            lines.append(
                f"  runner {runner:7} {self.runs[runner]:7} runs  {self.failed_runs[runner]} failed"
            )
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(self.node_kinds.items()))
        lines.append(f"  programs using each node: {shown}")
        lines.append(f"  failures: {len(self.failures)}")
        return "\n".join(lines)


def prediction_for(program: Program) -> tuple[Prediction | None, bool]:
    """The model's prediction (None where there is none) and whether it was ambiguous."""
    if program.family not in ("clock", FORK_EACH):
        return None, False
    try:
        return predict(program), False
    except Ambiguous:
        return None, True
    except Unmodelled:
        return None, False


def runners_for(program: Program, runners: Sequence[RunnerName]) -> list[RunnerName]:
    if program.family == "shared":
        return [runner for runner in runners if runner not in CANCELLED]
    return list(runners)


def check(
    program: Program, worker: Worker, runners: Sequence[RunnerName] = RUNNERS
) -> tuple[list[FailedRun], bool, bool]:
    """Run `program` under `runners`; its failed runs, whether the model checked it,
    and whether the model found it ambiguous."""
    prediction, ambiguous = prediction_for(program)
    failed: list[FailedRun] = []
    for runner in runners_for(program, runners):
        box, problems = worker.run(program, runner, DEADLINES[program.family])
        if not any(p.startswith("hang") for p in problems):
            problems += violations(program, box, prediction, whole=runner not in CANCELLED)
        if problems:
            failed.append(FailedRun(program.family, program.seed, runner, tuple(problems)))
    return failed, prediction is not None, ambiguous


def campaign(
    programs: int,
    seed: int = 0,
    families: Iterable[Family] = FAMILIES,
    runners: Sequence[RunnerName] = RUNNERS,
    progress: Callable[[str], None] | None = None,
) -> Tally:
    """Run `programs` programs (program i has seed `seed + i`, its family by `MIX`)."""
    allowed = set(families)
    mix = [family for family in MIX if family in allowed]
    tally = Tally()
    worker = Worker()
    started = time.monotonic()
    for i in range(programs):
        family = mix[i % len(mix)]
        program = generate(family, seed + i)
        failed, modelled, ambiguous = check(program, worker, runners)
        tally.programs[family] += 1
        tally.modelled[family] += modelled
        tally.ambiguous[family] += ambiguous
        tally.node_kinds.update(kinds(program.root))
        for runner in runners_for(program, runners):
            tally.runs[runner] += 1
        for run in failed:
            tally.failed_runs[run.runner] += 1
            tally.failures.append(run)
            if progress is not None:
                progress(run.report(program))
        if any("hang" in p for run in failed for p in run.problems):
            worker.close()
            worker = Worker()  # the old one is stuck
        if progress is not None and (i + 1) % 1000 == 0:
            progress(f"... {i + 1} programs, {len(tally.failures)} failed runs")
    worker.close()
    tally.seconds = time.monotonic() - started
    return tally


def replay(seed: int, family: Family) -> int:
    """Print a program, the model's prediction and each runner's run."""
    program = generate(family, seed)
    print(show(program.root))
    prediction, ambiguous = prediction_for(program)
    print("model:", "ambiguous" if ambiguous else prediction)
    worker = Worker()
    status = 0
    for runner in runners_for(program, ALL_RUNNERS):
        box, problems = worker.run(program, runner, DEADLINES[family])
        problems += violations(program, box, prediction, whole=runner not in CANCELLED)
        print(f"{runner}: exit={box.exit!r} end={box.end} trace={box.trace}")
        for problem in problems:
            print(f"  - {problem}")
            status = 1
    worker.close()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzzing", description=__doc__)
    parser.add_argument("--programs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=None, help="first program's seed")
    parser.add_argument("--family", choices=FAMILIES, action="append", dest="families")
    parser.add_argument("--replay", type=int, default=None, help="replay one program's seed")
    parser.add_argument(
        "--runner", choices=ALL_RUNNERS, action="append", dest="runners", help="default: all"
    )
    args = parser.parse_args(argv)
    if args.replay is not None:
        return replay(args.replay, (args.families or ["clock"])[0])
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000 * 100_000
    print(f"fuzz: {args.programs} programs from seed {seed}", flush=True)
    tally = campaign(
        args.programs,
        seed,
        args.families or FAMILIES,
        args.runners or RUNNERS,
        progress=lambda line: print(line, flush=True),
    )
    print(tally.summary())
    return 1 if tally.failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
