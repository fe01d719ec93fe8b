"""`pf.provide_service(tag, service)` as a step removes the tag from `R`, in pyright and
in mypy, with and without the plugin (this file is checked by all three): tags are
exact keys, so removing the tag is what the run time does."""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, Tag, pipe, run_sync
from effectpy import pointfree as pf


class Port(Tag[int]):
    """A service: the port to listen on."""


class Host(Tag[str]):
    """A service: the host name."""


def address() -> Effect[str, OSError, Host | Port]:
    return Effect.succeed("localhost:80")


def port_only() -> Effect[int, Never, Port]:
    return Port.get()


# The one service it needs: nothing is left.
assert_type(pipe(port_only(), pf.provide_service(Port, 80)), Effect[int, Never, Never])
assert_type(pf.provide_service(Port, 80)(port_only()), Effect[int, Never, Never])

# One of two: the other is left, and the error type is kept.
assert_type(pf.provide_service(Port, 80)(address()), Effect[str, OSError, Host])
assert_type(
    pipe(address(), pf.provide_service(Port, 80), pf.provide_service(Host, "localhost")),
    Effect[str, OSError, Never],
)


def serve() -> str:
    provided = pipe(port_only(), pf.provide_service(Port, 80), pf.map(str))
    return run_sync(provided)
