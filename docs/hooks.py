"""MkDocs hooks for the effectpy guide (registered under `hooks:` in mkdocs.yml).

The guide's code fences carry words for the test suite after the language:
```` ```python no-run ```` (shown, not run) and ```` ```text output ```` (what the block
above prints). Python-Markdown's `fenced_code` accepts only a bare language there: with
an extra word it does not see a fence at all, and the block and the rest of the page
render garbled. `on_page_markdown` keeps only the language of each opening fence.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

# The same fences the docs tests recognise: up to three spaces, then ``` or ~~~.
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def strip_fence_words(markdown: str) -> str:
    """Reduce each opening fence's info string to its first word (the language).

    Closing fences and the lines inside a block are left untouched, so a block that
    shows a fence as its content keeps it verbatim. An attribute list (`{...}`) is
    left as it is.
    """
    lines = markdown.split("\n")
    open_fence: str | None = None
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if match is None:
            continue
        fence, info = match["fence"], match["info"].strip()
        if open_fence is not None:
            # Inside a block: only a long enough fence of the same kind, with no info
            # string, closes it.
            if fence[0] == open_fence[0] and len(fence) >= len(open_fence) and not info:
                open_fence = None
            continue
        open_fence = fence
        words = info.split()
        if len(words) > 1 and not info.startswith("{"):
            lines[index] = f"{match['indent']}{fence}{words[0]}"
    return "\n".join(lines)


def on_page_markdown(markdown: str, /, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """MkDocs event: clean the fences of every page before it is rendered."""
    return strip_fence_words(markdown)
