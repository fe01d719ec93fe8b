"""The documentation is tested: every ```python block in docs/ runs, and the site builds.

Conventions for code blocks in ``docs/**/*.md``:

* A block fenced with ```python runs.  All blocks of one markdown file run in order
  in one shared namespace, so later blocks can use what earlier blocks defined.
* ```python no-run marks a block that is shown but not executed.
* A python block *immediately* followed (only blank lines in between) by a block fenced
  with ```text output (or ```output) must print exactly that text.  Trailing
  whitespace on each line and trailing blank lines are ignored.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import subprocess
import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "docs"
MKDOCS_CONFIG = ROOT / "mkdocs.yml"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block of a markdown file."""

    info: tuple[str, ...]
    """The words of the fence's info string, e.g. ``("python", "no-run")``."""
    code: str
    line: int
    """1-based line number of the opening fence."""
    end: int
    """1-based line number of the closing fence (or the last line if unclosed)."""

    @property
    def is_python(self) -> bool:
        return bool(self.info) and self.info[0] == "python"

    @property
    def runs(self) -> bool:
        return self.is_python and "no-run" not in self.info

    @property
    def is_output(self) -> bool:
        return bool(self.info) and self.info[0] in ("text", "output") and "output" in self.info


def parse_blocks(text: str) -> list[CodeBlock]:
    """Return the fenced code blocks of a markdown document, in order."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        indent = len(opening["indent"])
        info = tuple(opening["info"].strip().split())
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            # Content lines lose up to `indent` spaces, as in CommonMark.
            line = lines[j]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        code = "\n".join(body) + "\n" if body else ""
        end = j + 1 if j < len(lines) else len(lines)
        blocks.append(CodeBlock(info=info, code=code, line=i + 1, end=end))
        i = j + 1
    return blocks


def expected_output(blocks: list[CodeBlock], index: int, lines: list[str]) -> CodeBlock | None:
    """The output block immediately following ``blocks[index]``, if there is one."""
    if index + 1 >= len(blocks):
        return None
    block, following = blocks[index], blocks[index + 1]
    if not following.is_output:
        return None
    # Lines strictly between the closing fence and the next opening fence must be blank.
    between = lines[block.end : following.line - 1]
    if any(line.strip() for line in between):
        return None
    return following


def _normalize(text: str) -> list[str]:
    result = [line.rstrip() for line in text.splitlines()]
    while result and not result[-1]:
        result.pop()
    return result


def _markdown_files() -> list[Path]:
    if not DOCS_DIR.is_dir():
        return []
    return sorted(DOCS_DIR.rglob("*.md"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("md_file", _markdown_files(), ids=_rel)
def test_doc_code_blocks(md_file: Path) -> None:
    rel = _rel(md_file)
    text = md_file.read_text(encoding="utf-8")
    lines = text.splitlines()
    blocks = parse_blocks(text)

    # Each markdown file runs as its own throwaway module, so that classes, dataclasses
    # and pickling defined in the docs behave as they would in a real module.
    module_name = "_effectpy_docs_" + re.sub(r"\W", "_", rel)
    module = types.ModuleType(module_name)
    module.__file__ = str(md_file)
    sys.modules[module_name] = module
    try:
        for index, block in enumerate(blocks):
            if not block.runs:
                continue
            # Pad with newlines so tracebacks point at the right markdown line.
            source = "\n" * block.line + block.code
            stdout = io.StringIO()
            error: str | None = None
            try:
                compiled = compile(source, str(md_file), "exec")
                with contextlib.redirect_stdout(stdout):
                    exec(compiled, module.__dict__)
            except Exception as exc:
                # Drop this module's own frame: the traceback starts in the markdown file.
                tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
                error = "".join(traceback.format_exception(exc.with_traceback(tb)))
            if error is not None:
                pytest.fail(
                    f"{rel}:{block.line}: python block raised an exception\n{error}"
                    f"--- stdout of the block ---\n{stdout.getvalue()}",
                    pytrace=False,
                )

            output_block = expected_output(blocks, index, lines)
            if output_block is None:
                continue
            expected = _normalize(output_block.code)
            actual = _normalize(stdout.getvalue())
            if actual != expected:
                diff = "\n".join(
                    difflib.unified_diff(
                        expected,
                        actual,
                        fromfile=f"expected ({rel}:{output_block.line})",
                        tofile="actual stdout",
                        lineterm="",
                    )
                )
                pytest.fail(
                    f"{rel}:{block.line}: printed output differs from the output block "
                    f"at line {output_block.line}\n{diff}",
                    pytrace=False,
                )
    finally:
        sys.modules.pop(module_name, None)


def test_docs_site_builds(tmp_path: Path) -> None:
    """`mkdocs build --strict` succeeds (no broken links, no missing nav pages)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(MKDOCS_CONFIG),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, (
        f"mkdocs build --strict failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
    )


# --------------------------------------------------------------------------- self-tests


_SAMPLE = """\
# Title

```python
x = 1
print(x)
```

```text output
1
```

```python no-run
raise RuntimeError("never runs")
```

```python
print(x + 1)
```
Some prose.

```output
not checked: prose in between
```
"""


def test_parse_blocks_sample() -> None:
    blocks = parse_blocks(_SAMPLE)
    assert [b.info for b in blocks] == [
        ("python",),
        ("text", "output"),
        ("python", "no-run"),
        ("python",),
        ("output",),
    ]
    assert [b.line for b in blocks] == [3, 8, 12, 16, 21]
    assert blocks[0].code == "x = 1\nprint(x)\n"
    assert [b.runs for b in blocks] == [True, False, False, True, False]
    lines = _SAMPLE.splitlines()
    assert expected_output(blocks, 0, lines) is blocks[1]
    assert expected_output(blocks, 3, lines) is None
