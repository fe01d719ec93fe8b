"""The generated typing blocks are up to date.

The `pipe` overloads of effect.py and pointfree.py and the data-last signatures of
pointfree.py are written by tools/gen_typing.py (`make gen-typing`) into marked blocks.
These tests run the generator and compare. `tools/` is not a package: the generator is
imported by path.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "gen_typing.py"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_typing", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def test_generated_blocks_are_up_to_date() -> None:
    stale: list[str] = []
    for path, (current, generated) in gen.generate(ROOT).items():
        if current != generated:
            stale += difflib.unified_diff(
                current.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                f"a/{path.as_posix()}",
                f"b/{path.as_posix()}",
            )
    assert not stale, "run `make gen-typing`:\n" + "".join(stale)


def test_check_mode_exits_zero_when_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the files the generator reads and writes (and ruff's settings)."""
    for relative in ("pyproject.toml", "effectpy/effect.py", "effectpy/pointfree.py"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    return tmp_path


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_check_mode_reports_an_edited_block_and_the_generator_restores_it(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pointfree = project / "effectpy" / "pointfree.py"
    original = pointfree.read_text(encoding="utf-8")
    _replace(
        pointfree,
        "def pipe(value: _P0, f1: Callable[[_P0], _P1], /) -> _P1: ...",
        "def pipe(value: _P0, f1: Callable[[_P0], _P1], /) -> int: ...",
    )

    assert gen.main(["--check"], root=project) == 1
    out = capsys.readouterr().out
    assert "-def pipe(value: _P0, f1: Callable[[_P0], _P1], /) -> int: ..." in out
    assert "+def pipe(value: _P0, f1: Callable[[_P0], _P1], /) -> _P1: ..." in out

    assert gen.main([], root=project) == 0
    assert pointfree.read_text(encoding="utf-8") == original


def test_data_last_signatures_follow_the_methods(project: Path) -> None:
    """A signature changed in effect.py changes the pointfree function; the docstring
    written in pointfree.py stays, as does everything outside the blocks."""
    _replace(
        project / "effectpy" / "effect.py",
        "def as_(self, value: B) -> Effect[B, E_co, R_co]:",
        "def as_(self, value: B, *, times: int) -> Effect[B, E_co, R_co]:",
    )
    _, today = gen.generate(ROOT)[gen.POINTFREE_PY]
    _, edited = gen.generate(project)[gen.POINTFREE_PY]
    changed = [
        line
        for line in difflib.unified_diff(today.splitlines(), edited.splitlines(), lineterm="")
        if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))
    ]
    assert changed == [
        "-def as_(value: B) -> Callable[[Effect[object, E, R]], Effect[B, E, R]]:",
        "+def as_(value: B, *, times: int) -> Callable[[Effect[object, E, R]], Effect[B, E, R]]:",
        "-    return lambda effect: effect.as_(value)",
        "+    return lambda effect: effect.as_(value, times=times)",
    ]


def test_pointfree_functions_are_the_table() -> None:
    """pointfree.py defines `pipe`, the functions of the generator's table, in order, and
    `catch` and `provide_service`, written by hand."""
    tree = ast.parse((ROOT / gen.POINTFREE_PY).read_text(encoding="utf-8"))
    defined = list(dict.fromkeys(s.name for s in tree.body if isinstance(s, ast.FunctionDef)))
    table = [name for _, names in gen.DATA_LAST for name in names]
    assert defined == ["pipe", *table, "catch", "provide_service"]


def test_blocks_are_required(project: Path) -> None:
    _replace(
        project / "effectpy" / "effect.py",
        "    # --- END GENERATED: pipe overloads ---\n",
        "",
    )
    with pytest.raises(gen.GenerationError, match="not closed"):
        gen.generate(project)
