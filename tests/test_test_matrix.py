"""`make test-matrix` (tools/test_matrix.py): every supported Python is either tested or
reported as skipped, never passed over; a failed check fails the matrix."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "test_matrix_tool", ROOT / "tools" / "test_matrix.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


tool = _load()


def test_the_default_versions_are_those_pyproject_claims() -> None:
    claimed = (ROOT / "pyproject.toml").read_text()
    for version in tool.DEFAULT_PYTHONS:
        assert f"Programming Language :: Python :: {version}" in claimed


def test_each_python_runs_the_suite_and_mypy_for_its_own_version() -> None:
    names = [name for name, _ in tool.checks(Path("py"), "3.12")]
    _, mypy = tool.checks(Path("py"), "3.12")[1]
    assert names == ["pytest", "mypy"]
    assert mypy[mypy.index("--python-version") + 1] == "3.12"


def test_a_missing_python_is_reported_as_skipped_and_does_not_fail_the_matrix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert tool.main(["0.1"]) == 0
    assert "  0.1: SKIPPED: no python0.1 on PATH that runs" in capsys.readouterr().out


def test_a_failed_check_fails_the_matrix_and_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    current = f"{sys.version_info.major}.{sys.version_info.minor}"

    def failing(spec: str, interpreter: Any) -> Any:
        return tool.Verdict(spec, interpreter, "FAILED", "mypy failed", 3.0)

    monkeypatch.setattr(tool, "run_under", failing)
    assert tool.main([sys.executable, "0.1"]) == 1
    out = capsys.readouterr().out
    assert (
        f"  {sys.executable} ({sys.executable}, .venv-{current}): FAILED: mypy failed in 3 s" in out
    )
    assert "  0.1: SKIPPED" in out
