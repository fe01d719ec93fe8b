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
import time
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from ._core.clock import LIVE_CLOCK, ClockService, clock_of
from ._core.refs import FiberRef
from ._interpreter.loop import FiberRuntime
from .effect import Effect
from .effect import _locally as locally
from .effect import _with_fiber as with_fiber

A = TypeVar("A")
E = TypeVar("E")
R = TypeVar("R")

__all__ = ["LOGGER_NAME", "annotate_logs", "log", "with_log_span"]

LOGGER_NAME: Final = "effectpy"
_logger = logging.getLogger(LOGGER_NAME)

_LOG_ANNOTATIONS: Final = FiberRef({}, "log annotations")
"""The running fiber's log annotations (a dict never changed in place)."""
_LOG_SPANS: Final = FiberRef((), "log spans")
"""The running fiber's open spans: a tuple of (label, clock, start), the start read
from the clock the span began on (see `_span_time`)."""

_Span = tuple[str, ClockService, float]

_RESERVED: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "fiber_id", "annotations", "spans"}
)


def log(message: str, level: int = logging.INFO, /, **annotations: object) -> Effect[None]:
    """Emit `message` at `level` on the `effectpy` logger, with the fiber's
    annotations and spans (plus `annotations` for this line only)."""

    def emit(fiber: FiberRuntime) -> Effect[None]:
        if _logger.isEnabledFor(level):
            merged: dict[str, object] = {**_annotations(fiber), **annotations}
            spans = {
                label: round((_span_time(clock) - start) * 1000, 3)
                for label, clock, start in _spans(fiber)
            }
            extra: dict[str, object] = {
                "fiber_id": str(fiber.id),
                "annotations": merged,
                "spans": spans,
            }
            for key, value in merged.items():
                if key not in _RESERVED:
                    extra[key] = value
            _logger.log(level, message, extra=extra, stacklevel=1)
        return Effect.unit()

    return with_fiber(emit)


def annotate_logs(effect: Effect[A, E, R], annotations: Mapping[str, object]) -> Effect[A, E, R]:
    """Run `effect` with `annotations` added to every line it (and its fibers) log."""
    added = dict(annotations)
    return with_fiber(
        lambda fiber: locally(_LOG_ANNOTATIONS, {**_annotations(fiber), **added}, effect)
    )


def with_log_span(effect: Effect[A, E, R], label: str) -> Effect[A, E, R]:
    """Run `effect` inside a span: its log lines carry how long the span has run, on
    the fiber's clock."""

    def open_span(fiber: FiberRuntime) -> Effect[A, E, R]:
        clock = clock_of(fiber)
        span: _Span = (label, clock, _span_time(clock))
        return locally(_LOG_SPANS, (*_spans(fiber), span), effect)

    return with_fiber(open_span)


def _span_time(clock: ClockService) -> float:
    """Seconds on `clock`, for spans: the live clock's `now` is the wall clock, which
    may jump, so spans on it read monotonic time; any other clock's `now`."""
    return time.monotonic() if clock is LIVE_CLOCK else clock.now()


def _annotations(fiber: FiberRuntime) -> dict[str, object]:
    value: Any = fiber.get_ref(_LOG_ANNOTATIONS)
    return value  # type: ignore[no-any-return]


def _spans(fiber: FiberRuntime) -> tuple[_Span, ...]:
    value: Any = fiber.get_ref(_LOG_SPANS)
    return value  # type: ignore[no-any-return]
