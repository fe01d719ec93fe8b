"""The LOG node: a record on the `effectpy` logger, with the fiber's annotations and
spans (the fiber refs `LOG_ANNOTATIONS` and `LOG_SPANS`, see `effectpy.log`)."""

from __future__ import annotations

import logging
from typing import Any, Final

from .._core import opcodes as op
from .._core.clock import span_time
from .._core.refs import LOG_ANNOTATIONS, LOG_SPANS
from .loop import FiberRuntime, handles
from .supervise import UNIT

LOGGER_NAME: Final = "effectpy"
_logger = logging.getLogger(LOGGER_NAME)

_RESERVED: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "fiber_id", "annotations", "spans"}
)
"""Names an annotation cannot take as an attribute of the record of its own."""


@handles(op.LOG)
def run_log(fiber: FiberRuntime, node: Any) -> Any:
    level = node.level
    if _logger.isEnabledFor(level):
        annotations: Any = fiber.get_ref(LOG_ANNOTATIONS)
        merged: dict[str, object] = {**annotations, **node.annotations}
        spans: Any = fiber.get_ref(LOG_SPANS)
        extra: dict[str, object] = {
            "fiber_id": str(fiber.id),
            "annotations": merged,
            "spans": {
                label: round((span_time(clock) - start) * 1000, 3) for label, clock, start in spans
            },
        }
        for key, value in merged.items():
            if key not in _RESERVED:
                extra[key] = value
        _logger.log(level, node.message, extra=extra, stacklevel=1)
    return UNIT
