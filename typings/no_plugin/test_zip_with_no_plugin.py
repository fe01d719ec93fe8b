"""`zip_with(that, f)` with a lambda under plain mypy: when `that` cannot fail or needs
nothing (its `E` or `R` is `Never`) mypy infers the lambda again as first seen, before
`that`'s value type was known. Its result is then wrong (an error on correct code) or
`Any`. Workaround: a named function, or `zip` then `map`. The plugin is right
(typings/plugin/test_zip_with_plugin.py)."""

from __future__ import annotations

from typing import Any, Never, assert_type

from effectpy import Effect


def name() -> Effect[str, KeyError]:
    return Effect.succeed("db")


def repeat(n: int, s: str) -> str:
    return s * n


Effect.succeed(2).zip_with(Effect.succeed("ab"), lambda n, s: s * n)  # type: ignore[arg-type, return-value]
assert_type(
    Effect.succeed(2).zip_with(name(), lambda n, s: s.upper()), Effect[Any, KeyError, Never]
)
assert_type(Effect.succeed(2).zip_with(Effect.succeed("ab"), repeat), Effect[str, Never, Never])
assert_type(
    Effect.succeed(2).zip(Effect.succeed("ab")).map(lambda p: p[1] * p[0]),
    Effect[str, Never, Never],
)
