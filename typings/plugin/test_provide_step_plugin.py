"""`pf.provide_service` steps in one `effect.pipe(...)` call: the plugin infers the steps
one at a time, so each removes its tag. Plain mypy infers a step given to
`effect.pipe(...)` from the method's expected type and can solve the tag to `Never`:
there, apply the step (`pf.provide_service(Port, 80)(effect)`) or use the function
`pipe(effect, ...)`, as typings/pyright/test_pyright_provide_step.py does."""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, Tag
from effectpy import pointfree as pf


class Port(Tag[int]):
    """A service: the port to listen on."""


class Host(Tag[str]):
    """A service: the host name."""


def address() -> Effect[str, OSError, Host | Port]:
    return Effect.succeed("localhost:80")


assert_type(
    address().pipe(pf.provide_service(Host, "localhost"), pf.provide_service(Port, 80)),
    Effect[str, OSError, Never],
)
assert_type(
    address().pipe(pf.provide_service(Port, 80)),
    Effect[str, OSError, Host],
)
assert_type(
    address().pipe(pf.provide_service(Host, "localhost")).pipe(pf.provide_service(Port, 80)),
    Effect[str, OSError, Never],
)
