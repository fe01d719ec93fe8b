"""The showcase (`make demo`) runs to completion on its real parts, a loopback HTTP
server and a SQLite file: it retries, dedupes, bounds its requests, commits, then
shows failure convergence, the debug tree and the pretty cause, tears everything down
and leaves no file behind, in plain mode (a log) and in live mode (rich)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SHOWCASE = Path(__file__).resolve().parent.parent / "examples" / "showcase.py"

HANG_GUARD = 30.0
"""Seconds: the showcase is meant to end in about two; this only catches a hang."""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    temp_dir: Path
    work_dir: Path


def run_showcase(root: Path, *args: str) -> Run:
    """Run the showcase as `make demo` does, with its own empty temp and work dirs."""
    temp_dir, work_dir = root / "tmp", root / "work"
    temp_dir.mkdir()
    work_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_dir), "PYTHONIOENCODING": "utf-8", "COLUMNS": "100"}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(SHOWCASE), *args],
        cwd=work_dir,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=HANG_GUARD,
        check=False,
    )
    seconds = time.monotonic() - started
    return Run(result.returncode, result.stdout, result.stderr, seconds, temp_dir, work_dir)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A run with stdout a pipe: the task tree is printed as log lines."""
    return run_showcase(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A run forced into the rich live view (on a pipe, rich prints the last frame)."""
    return run_showcase(tmp_path_factory.mktemp("live"), "--live")


def test_the_showcase_runs_to_completion_well_within_its_budget(plain: Run) -> None:
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert plain.stderr == ""
    assert "done in" in plain.stdout
    assert plain.seconds < HANG_GUARD


def test_a_failed_request_is_retried_and_then_succeeds(plain: Run) -> None:
    out = plain.stdout
    assert "GET /users/2: HTTP Error 503: Service Unavailable; retrying" in out
    assert "GET /users/2 -> 200" in out
    assert "GET /users/2 reached the server 2 times (503, then 200)" in out


def test_a_stalled_attempt_times_out_and_is_retried(plain: Run) -> None:
    out = plain.stdout
    assert re.search(r"GET /users/3/posts: (timed out after 0\.5s|.*timed out); retrying", out)
    assert "GET /users/3/posts -> 200" in out
    assert "GET /users/3/posts 2 times (timed out, then 200)" in out


def test_concurrent_requests_for_one_user_share_one_fetch(plain: Run) -> None:
    assert "user 1 was asked for 2 times and fetched 1 time" in plain.stdout
    assert plain.stdout.count("GET /users/1 -> 200") == 1


def test_no_more_requests_are_in_flight_than_the_limit(plain: Run) -> None:
    match = re.search(r"at most (\d+) requests in flight at once \(the limit is 3\)", plain.stdout)
    assert match is not None
    assert 1 <= int(match[1]) <= 3


def test_log_lines_carry_request_ids_and_spans(plain: Run) -> None:
    lines = [line for line in plain.stdout.splitlines() if "log INFO" in line and "GET" in line]
    assert lines
    for line in lines:
        assert re.search(r"\[request_id=r\d+ .*request=\d+ms\]$", line), line


def test_the_import_commits_one_transaction(plain: Run) -> None:
    assert "transaction committed" in plain.stdout
    assert "saved 4 users and 8 posts in one transaction" in plain.stdout


def test_the_plain_view_logs_the_task_tree(plain: Run) -> None:
    out = plain.stdout
    for line in [
        "[running]   Import",
        "[progress]  Import > Fetch users: 5/5 (100%)",
        "[progress]  Import > Fetch posts: 4/4 (100%)",
        "[output]    Import > Fetch users: retrying: GET /users/2",
        "[completed] Import > Save to SQLite",
        "[completed] Import",
    ]:
        assert line in out
    assert out.index("[completed] Import > Save to SQLite") < out.index("[completed] Import\n")


def test_the_live_view_draws_the_finished_tree(live: Run) -> None:
    assert live.returncode == 0, live.stdout + live.stderr
    assert live.stderr == ""
    out = live.stdout
    assert "[running]" not in out  # not the plain view
    assert re.search(r"✔ Import\s*\n├── ✔ Fetch users\s+━+ 5/5", out)
    assert "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} retrying: GET /users/2" in out
    assert re.search(r"└── ✔ Save to SQLite ━+ 12/12", out)
    assert "failure convergence" in out


def test_a_failing_branch_interrupts_its_siblings_and_rolls_back(plain: Run) -> None:
    out = plain.stdout
    assert "draft 1 written (inside the transaction)" in out
    assert re.search(r"draft 2 interrupted \(sibling fiber #\d+ \(draft 3\) failed\)", out)
    assert "its finalizer ran" in out
    assert "transaction rolled back" in out
    assert "failure convergence: the branch failed, the rest was stopped, 0 drafts saved" in out


def test_the_debug_tree_shows_live_fibers_and_scopes(plain: Run) -> None:
    out = plain.stdout
    after = out[out.index("as debug_tree() draws it:\n") :].splitlines()[1:]
    tree = "\n" + "\n".join(itertools.takewhile(lambda line: line.startswith("    "), after))
    assert re.search(r"\n    fiber #\d+ \(showcase\) suspended\n", tree)
    assert "── scope 'transaction' sequential, 1 finalizer" in tree
    assert "── scope sequential, 3 finalizers" in tree
    assert re.search(r"── fiber #\d+ \(publish drafts\) running", tree)
    for draft in (1, 2, 3):
        assert re.search(rf"── fiber #\d+ \(draft {draft}\) suspended", tree)
        assert re.search(rf"\n    fiber #\d+ \(GET /drafts/{draft}\) suspended", tree)
    assert re.search(r"└── fiber #\d+ \(urlopen\) suspended", tree)


def test_the_pretty_cause_names_the_failure(plain: Run) -> None:
    expected = "the cause, as effectpy reports it (cause.pretty()):\n"
    expected += "    Fail: InvalidDraft: draft 3 has no title\n"
    assert expected in plain.stdout


def test_everything_is_torn_down_in_reverse_order(plain: Run) -> None:
    out = plain.stdout
    closed = out.index("database closed")
    removed = out.index("temporary directory removed: True")
    stopped = out.index("API server stopped, after 13 requests")  # 11 GETs, 2 retries
    assert closed < removed < stopped < out.index("done in")


@pytest.mark.parametrize("mode", ["plain", "live"])
def test_no_file_is_left_behind(mode: str, request: pytest.FixtureRequest) -> None:
    run: Run = request.getfixturevalue(mode)
    assert list(run.temp_dir.iterdir()) == []
    assert list(run.work_dir.iterdir()) == []
