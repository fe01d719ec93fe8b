"""Fiber-aware logging through Python's standard `logging`.

`Effect.log(message, **annotations)` (and `log_debug`, `log_info`, `log_warning`,
`log_error`) emit a record on the `effectpy` logger. Annotations (`annotate_logs`) and
spans (`with_log_span`) are carried by the fiber and inherited by the fibers it starts,
so every line a request's work logs carries the request's annotations. They reach
handlers through `extra`: `record.fiber_id`, `record.annotations` (a dict),
`record.spans` (span label -> milliseconds since the span began, on the fiber's clock:
monotonic time on the live one, virtual time under a `TestClock`), and each annotation
as an attribute of its own where its name does not clash with a `LogRecord` field.

>>> import logging, sys
>>> from effectpy import Effect, run_sync
>>> handler = logging.StreamHandler(sys.stdout)
>>> handler.setFormatter(logging.Formatter("%(levelname)s %(message)s user=%(user)s"))
>>> logger = logging.getLogger("effectpy")
>>> logger.addHandler(handler); logger.setLevel(logging.INFO)
>>> run_sync(Effect.log("signed in").annotate_logs(user="ada"))
INFO signed in user=ada
>>> logger.removeHandler(handler)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TypeVar

from ._interpreter.logs import LOGGER_NAME as LOGGER_NAME
from .effect import Effect, _log

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")

__all__ = ["LOGGER_NAME", "annotate_logs", "log", "with_log_span"]


def log(message: str, level: int = logging.INFO, /, **annotations: object) -> Effect[None]:
    """Emit `message` at `level` on the `effectpy` logger, with the fiber's
    annotations and spans (plus `annotations` for this line only)."""
    return _log(message, level, annotations)


def annotate_logs(effect: Effect[A, E, R], annotations: Mapping[str, object]) -> Effect[A, E, R]:
    """Run `effect` with `annotations` added to every line it (and its fibers) log."""
    return effect.annotate_logs(**annotations)


def with_log_span(effect: Effect[A, E, R], label: str) -> Effect[A, E, R]:
    """Run `effect` inside a span: its log lines carry how long the span has run, on
    the fiber's clock."""
    return effect.with_log_span(label)
