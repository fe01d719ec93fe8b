"""`zip_with(that, f)` with a lambda `f` (issue 15): the plugin binds `that`'s types
before the lambda is inferred. Plain mypy infers the lambda first and gets a wrong type
or `Any` (typings/no_plugin/test_zip_with_no_plugin.py); pyright is right
(typings/pyright/test_pyright_parity.py)."""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, Tag


class Port(Tag[int]): ...


def name() -> Effect[str, KeyError]:
    return Effect.succeed("db")


assert_type(
    Effect.succeed(2).zip_with(Effect.succeed("ab"), lambda n, s: s * n), Effect[str, Never, Never]
)
assert_type(
    Effect.succeed(2).zip_with(name(), lambda n, s: s.upper()), Effect[str, KeyError, Never]
)
assert_type(
    name().zip_with(Port.get(), lambda host, port: f"{host}:{port}"), Effect[str, KeyError, Port]
)
Effect.succeed(2).zip_with(name(), lambda n, s: s.uper())  # type: ignore[attr-defined]
