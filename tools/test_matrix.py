"""`python tools/test_matrix.py [PYTHON ...]`: the test suite and the type check under
each supported CPython (`make test-matrix`).

PYTHON is a version (`3.12`), a command or a path; by default 3.11, 3.12 and 3.13 (the
versions pyproject.toml claims). Interpreters are found as `make bench-matrix` finds
them (`bench/matrix.py`: `python3.12` on PATH, else pyenv). Each runs in its venv at the
project's root, `.venv-3.12` and so on (the one the benchmarks use too), with effectpy
installed editable with its `dev` and `rich` extras (as `make install` does), made on
first use and again when pyproject.toml changes. Under each: `pytest` (the whole
suite, doctests included) and `mypy` over the project with `--python-version` set to
it. The slowest checks, the type-contract cases and pyright (`make typesafety`), run
once, in `make test`.

An interpreter that cannot be found is reported as SKIPPED at the end, beside the
verdicts of the others, never passed over in silence; the exit status is 1 if a run
failed, 0 otherwise (skips included: a machine without 3.13 can still test).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.matrix import (  # noqa: E402
    DEFAULT_PYTHONS,
    Interpreter,
    ensure_venv,
    find,
    venv_of,
)

TYPE_DIRS = ("effectpy", "tests", "typings", "bench", "examples", "tools")


@dataclass
class Verdict:
    spec: str
    interpreter: Interpreter | None
    status: str
    """`passed`, `FAILED` or `SKIPPED`."""
    detail: str
    seconds: float = 0.0


def ensure_dev_venv(interpreter: Interpreter) -> Path:
    """The Python of the interpreter's venv with effectpy and its `dev` and `rich`
    extras, made or brought up to date if pyproject.toml is newer than its stamp."""
    return ensure_venv(interpreter, ["-e", ".[dev,rich]"], ".installed-dev", "test-matrix")


def checks(python: Path, version: str) -> list[tuple[str, list[str]]]:
    """What runs under one interpreter: the suite, then the type check."""
    return [
        ("pytest", [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"]),
        ("mypy", [str(python), "-m", "mypy", "--python-version", version, *TYPE_DIRS]),
    ]


def run_under(spec: str, interpreter: Interpreter) -> Verdict:
    started = time.monotonic()
    try:
        python = ensure_dev_venv(interpreter)
    except subprocess.CalledProcessError as error:
        return Verdict(spec, interpreter, "FAILED", f"making its venv failed: {error}")
    failed: list[str] = []
    for name, command in checks(python, interpreter.version):
        print(f"test-matrix: Python {interpreter.version}: {name}", flush=True)
        if subprocess.run(command, cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
    seconds = time.monotonic() - started
    if failed:
        return Verdict(spec, interpreter, "FAILED", " and ".join(failed) + " failed", seconds)
    return Verdict(spec, interpreter, "passed", "pytest and mypy", seconds)


def report(verdicts: Sequence[Verdict]) -> list[str]:
    lines = ["test-matrix:"]
    for verdict in verdicts:
        interpreter = verdict.interpreter
        where = f" ({interpreter.command}, {venv_of(interpreter).name})" if interpreter else ""
        took = f" in {verdict.seconds:.0f} s" if verdict.seconds else ""
        lines.append(f"  {verdict.spec}{where}: {verdict.status}: {verdict.detail}{took}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("pythons", nargs="*", metavar="PYTHON", default=list(DEFAULT_PYTHONS))
    args = parser.parse_args(argv)
    verdicts: list[Verdict] = []
    for spec in args.pythons:
        found = find(spec)
        if isinstance(found, str):
            verdicts.append(Verdict(spec, None, "SKIPPED", found))
            continue
        verdicts.append(run_under(spec, found))
    print("\n".join(report(verdicts)), flush=True)
    return 1 if any(verdict.status == "FAILED" for verdict in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
