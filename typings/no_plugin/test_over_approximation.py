"""Without the plugin every signature still over-approximates soundly (checked only with
typings/mypy-no-plugin.ini): `catch` keeps `E` whole, `provide_service`/`provide_some`
keep `R` whole, `Effect.scoped` joins three or more services to `object`. A program
that mypy accepts here still handles every error and gets every service; it is only
less precise. The same programs with the plugin: `typings/plugin/test_plugin_types.py`.
"""

from __future__ import annotations

from typing import Any, Never, assert_type

from effectpy import Context, Do, Effect, Layer, Scope, Tag, gen, run_sync


class NotFound(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class Port(Tag[int]):
    """A service: the port to listen on."""


class Host(Tag[str]):
    """A service: the host name."""


def load() -> Effect[str, NotFound | ValueError]:
    return Effect.fail(NotFound("k"))


def server() -> Effect[str, Never, Host | Port]:
    return Effect.succeed("up")


def connect() -> Effect[str, OSError, Scope | Port | Host]:
    return Effect.succeed("conn")


# `catch` keeps E whole; finish with `catch_all` to run it.
caught = load().catch(NotFound, lambda e: Effect.succeed(""))
assert_type(caught, Effect[str, NotFound | ValueError, Never])
run_sync(caught.catch(ValueError, lambda e: Effect.succeed("")))  # type: ignore[arg-type]
assert_type(run_sync(caught.catch_all(lambda e: Effect.succeed(""))), str)
# A class outside E is not reported.
assert_type(
    load().catch(KeyError, lambda e: Effect.succeed("")), Effect[str, NotFound | ValueError, Never]
)
# A lambda handler of `catch` leaks `Any` into the value type.
assert_type(
    load().catch(NotFound, lambda e: Effect.succeed(e.key)),
    Effect[str | Any, NotFound | ValueError, Never],
)

# `provide_service` and `provide_some` keep R whole; `provide` with a full context runs.
assert_type(server().provide_service(Port, 80), Effect[str, Never, Host | Port])
assert_type(server().provide_some(Port.of(80)), Effect[str, Never, Host | Port])
run_sync(server().provide_service(Port, 80).provide_service(Host, "h"))  # type: ignore[arg-type]
assert_type(run_sync(server().provide(Port.of(80).merge(Host.of("h")))), str)

# `Effect.scoped` with Scope and two more services: R is joined to `object`.
assert_type(Effect.scoped(connect()), Effect[str, OSError, object])
assert_type(Layer.scoped(Port, connect().as_(1)), Layer[Port, OSError, object])


# `@gen` with an `Any` error type is accepted, and so is running it.
@gen
def loose() -> Do[str, Any]:
    return (yield from load())


run_sync(loose())  # type: ignore[no-untyped-call]

# A context or a layer built inside `provide(...)` is widened to what is needed: Host is
# missing here and mypy says nothing. Build it in a statement of its own.
run_sync(server().provide(Context.empty().add(Port, 80)))
run_sync(server().provide(Layer.succeed(Port, 80)))
only_port = Layer.succeed(Port, 80)
server().provide(only_port)  # type: ignore[arg-type]


# -- issue 15: plain typing needs a layer that covers all of R; Any passes as "cannot fail" --

port_only = Layer.succeed(Port, 80)
Host.get().zip(Port.get()).provide(port_only)  # type: ignore[arg-type]
assert_type(
    Host.get().zip(Port.get()).provide(port_only.merge(Layer.succeed(Host, "h"))),
    Effect[tuple[str, int], Never, Never],
)
# A hole without the plugin (documented in docs/typing.md): `e.args[0]` is Any.
assert_type(run_sync(load().map_error(lambda e: e.args[0])), str)
