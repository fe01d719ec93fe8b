"""Benchmarks of effectpy against its peers; `python -m bench` runs them all.

Each suite is a module of this package that registers its benchmarks with
`bench.harness.register` when imported. To add a suite, write the module and add its
name to `SUITES`.
"""

from __future__ import annotations

import importlib

SUITES: tuple[str, ...] = ("interpreter", "fibers", "scopes")
"""The suite modules, in the order their benchmarks are run and shown."""


def load_suites() -> None:
    """Import every suite module, which registers its benchmarks."""
    for suite in SUITES:
        importlib.import_module(f"{__name__}.{suite}")
