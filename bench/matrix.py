"""`python -m bench.matrix [PYTHON ...] [-- ARG ...]`: run `python -m bench ARG ...`
under several CPythons, one after another (`make bench-matrix`).

PYTHON is a version (`3.12`) or an interpreter (`python3.12`, a path); by default 3.11,
3.12 and 3.13. A version is looked for as `python3.12` on PATH, then among the versions
pyenv has installed (a pyenv shim on PATH that is not active does not count). An
interpreter found nowhere is reported as skipped at the end, beside the others' bars,
never passed over in silence.

Each interpreter runs in a venv of its own at the project's root, `.venv-3.12` and so
on, made on first use (and reinstalled when pyproject.toml changes) with effectpy
installed editable, so its dependencies with it, and the peers the benchmarks compare
with (trio, as the `dev` extra pins it). Without `--`, ARG is `fibers`, the suite whose
ForkJoin bar must hold on every version; `--` and nothing after it runs every benchmark.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The project's root: where the venvs are made and `python -m bench` runs."""

DEFAULT_PYTHONS = ("3.11", "3.12", "3.13")
DEFAULT_ARGS = ("fibers",)

PEERS = ("trio",)
"""The libraries the benchmarks compare with that effectpy does not depend on."""

VERSION = re.compile(r"(?:.*python)?(\d+\.\d+)")
"""A version (`3.12`) or an interpreter named after one (`python3.12`, a path to it)."""


@dataclass(frozen=True)
class Interpreter:
    command: str
    """What runs it: a name on PATH or a path."""
    version: str
    """Its `major.minor`, which names its venv."""


def _version_of(command: str) -> str | None:
    """The `major.minor` of the interpreter `command`, or None if it does not run (a
    pyenv shim of an inactive version exits with an error)."""
    if shutil.which(command) is None:
        return None
    try:
        done = subprocess.run(
            [command, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _from_pyenv(version: str) -> str | None:
    """The path of the newest `version` (`3.12`) pyenv has installed, or None."""
    if shutil.which("pyenv") is None:
        return None

    def pyenv(*args: str, version_env: str | None = None) -> str | None:
        env = dict(os.environ)
        if version_env is not None:
            env["PYENV_VERSION"] = version_env
        done = subprocess.run(
            ["pyenv", *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None

    full = pyenv("latest", version)  # the newest installed 3.12.x
    if full is None:
        return None
    return pyenv("which", f"python{version}", version_env=full)


def find(spec: str) -> Interpreter | str:
    """The interpreter `spec` names (a version, a command or a path), or why none was
    found."""
    match = VERSION.fullmatch(spec)
    wanted = match.group(1) if match else None
    command = f"python{spec}" if match and match.group(0) == wanted else spec
    candidates = [command]
    if wanted is not None:
        found = _from_pyenv(wanted)
        if found is not None:
            candidates.append(found)
    for candidate in candidates:
        version = _version_of(candidate)
        if version is not None and (wanted is None or version == wanted):
            return Interpreter(candidate, version)
    if wanted is None:
        return f"{spec} does not run"
    return f"no {command} on PATH that runs, and no {wanted} installed with pyenv"


def _requirements() -> list[str]:
    """What the benchmarks need beside effectpy: the `PEERS`, as the `dev` extra of
    pyproject.toml pins them."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        dev: list[str] = tomllib.load(file)["project"]["optional-dependencies"]["dev"]
    named = {re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower(): spec for spec in dev}
    return [named.get(peer, peer) for peer in PEERS]


def venv_of(interpreter: Interpreter) -> Path:
    return ROOT / f".venv-{interpreter.version}"


def ensure_venv(
    interpreter: Interpreter,
    packages: Sequence[str] | None = None,
    stamp_name: str = ".installed",
    who: str = "bench-matrix",
) -> Path:
    """The Python of the interpreter's venv, made (and `pip install -e .` run in it,
    with `packages`: by default the benchmarks' peers) if it is missing or its
    `stamp_name` is older than pyproject.toml."""
    venv = venv_of(interpreter)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    stamp = venv / stamp_name
    pyproject = ROOT / "pyproject.toml"
    if stamp.exists() and stamp.stat().st_mtime >= pyproject.stat().st_mtime:
        return python
    if not python.exists():
        print(f"{who}: making {venv.name} with {interpreter.command}", flush=True)
        subprocess.run([interpreter.command, "-m", "venv", str(venv)], check=True)
    wanted = ["-e", ".", *_requirements()] if packages is None else list(packages)
    print(f"{who}: {venv.name}: pip install {' '.join(wanted)}", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted], cwd=ROOT, check=True)
    stamp.touch()
    return python


@dataclass
class Outcome:
    spec: str
    interpreter: Interpreter | None = None
    status: str = "skipped"
    """`ran`, `failed` or `skipped`."""
    reason: str = ""
    output: list[str] = field(default_factory=list)

    def bars(self) -> list[str]:
        """The bars table of the run's output (`harness.format_bars`)."""
        lines: list[str] = []
        for line in self.output:
            if line.startswith("| bar ") or (lines and line.startswith("|")):
                lines.append(line)
            elif lines:
                break
        return lines


def run_under(spec: str, interpreter: Interpreter, args: Sequence[str]) -> Outcome:
    """`python -m bench ARGS` in the interpreter's venv, its output shown as it comes
    and kept."""
    outcome = Outcome(spec, interpreter)
    try:
        python = ensure_venv(interpreter)
    except subprocess.CalledProcessError as error:
        outcome.status, outcome.reason = "failed", f"making its venv failed: {error}"
        return outcome
    print(f"bench-matrix: Python {interpreter.version}: python -m bench {' '.join(args)}")
    with subprocess.Popen(
        [str(python), "-m", "bench", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            outcome.output.append(line.rstrip("\n"))
    if process.returncode == 0:
        outcome.status = "ran"
    else:
        outcome.status, outcome.reason = "failed", f"exit {process.returncode}"
    return outcome


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    """Each interpreter's verdict, and the bars table of those that ran."""
    lines = ["bench-matrix:"]
    for outcome in outcomes:
        interpreter = outcome.interpreter
        where = f" ({interpreter.command}, {venv_of(interpreter).name})" if interpreter else ""
        status = "SKIPPED" if outcome.status == "skipped" else outcome.status
        reason = f": {outcome.reason}" if outcome.reason else ""
        lines.append(f"  {outcome.spec}{where}: {status}{reason}")
    for outcome in outcomes:
        bars = outcome.bars()
        if outcome.status == "ran" and bars:
            lines += ["", f"Python {outcome.spec}:", *bars]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.matrix",
        description=__doc__.splitlines()[0],
        epilog=f"After --, the arguments of python -m bench (default: {' '.join(DEFAULT_ARGS)}).",
    )
    parser.add_argument(
        "pythons",
        nargs="*",
        metavar="PYTHON",
        help=f"a version or an interpreter (default: {' '.join(DEFAULT_PYTHONS)})",
    )
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--" in raw:  # even with nothing after it: then every benchmark
        split = raw.index("--")
        args, bench_args = parser.parse_args(raw[:split]), raw[split + 1 :]
    else:
        args, bench_args = parser.parse_args(raw), list(DEFAULT_ARGS)
    outcomes: list[Outcome] = []
    for spec in args.pythons or DEFAULT_PYTHONS:
        found = find(spec)
        if isinstance(found, str):
            print(f"bench-matrix: {spec}: skipped, {found}", flush=True)
            outcomes.append(Outcome(spec, reason=found))
        else:
            outcomes.append(run_under(spec, found, bench_args))
        print(flush=True)
    print("\n".join(summary(outcomes)))
    if any(o.status == "failed" for o in outcomes):
        return 1
    if not any(o.status == "ran" for o in outcomes):
        print("bench-matrix: no interpreter ran", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
