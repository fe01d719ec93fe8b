"""`python -m bench.matrix` (`make bench-matrix`): how it finds the interpreters and
what it reports; an interpreter it cannot find is reported as skipped, never passed."""

from __future__ import annotations

import sys

import pytest

from bench.matrix import Interpreter, Outcome, find, main, summary

CURRENT = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_an_interpreter_given_by_path_is_found_with_its_version() -> None:
    assert find(sys.executable) == Interpreter(sys.executable, CURRENT)


def test_a_version_installed_nowhere_is_not_found_and_says_where_it_was_looked_for() -> None:
    assert find("0.1") == "no python0.1 on PATH that runs, and no 0.1 installed with pyenv"
    assert find("no-such-python") == "no-such-python does not run"


def test_the_summary_gives_each_interpreter_and_the_bars_of_those_that_ran() -> None:
    output = [
        "| benchmark | ops/run |",
        "",
        "| bar      | peer    |",
        "|----------|---------|",
        "| ForkJoin | asyncio |",
        "",
        "ForkJoin: ...",
    ]
    ran = Outcome("3.12", Interpreter("python3.12", "3.12"), "ran", output=output)
    skipped = Outcome("3.13", reason="no python3.13 on PATH that runs")
    assert ran.bars() == output[2:5]
    assert summary([ran, skipped]) == [
        "bench-matrix:",
        "  3.12 (python3.12, .venv-3.12): ran",
        "  3.13: SKIPPED: no python3.13 on PATH that runs",
        "",
        "Python 3.12:",
        *output[2:5],
    ]


def test_nothing_found_is_a_failure_not_a_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["0.1", "0.2", "--", "--quick", "fork"]) == 1
    out = capsys.readouterr().out
    assert "  0.1: SKIPPED: no python0.1 on PATH" in out
    assert "  0.2: SKIPPED: no python0.2 on PATH" in out
