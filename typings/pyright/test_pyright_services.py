"""Services, scopes, fibers and catch_all narrowing under pyright (strict), no plugin.

Only accepted programs live here; mypy checks this file too, with and without the
effectpy plugin, and the rejections are in `typings/` and `tests/typesafety/`.
"""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Context, Effect, Exit, Fiber, Layer, Scope, Tag, run_sync


class Port(Tag[int]):
    """A service: the port to listen on."""


class Host(Tag[str]):
    """A service: the host name."""


class NotFound(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def server() -> Effect[str, OSError, Host | Port]:
    return Effect.succeed("up")


def release(handle: str, exit: Exit[object, object]) -> Effect[None]:
    return Effect.unit()


def load() -> Effect[int, NotFound | ValueError]:
    return Effect.fail(NotFound("k"))


def recover(error: NotFound | ValueError) -> Effect[int, ValueError]:
    if isinstance(error, NotFound):
        return Effect.succeed(len(error.key))
    return Effect.fail(error)


def recover_by_match(error: NotFound | ValueError) -> Effect[int]:
    match error:
        case NotFound(key=key):
            return Effect.succeed(len(key))
        case ValueError():
            return Effect.succeed(0)


# -- catch_all narrows with isinstance and match, no plugin needed --------------------------

assert_type(load().catch_all(recover), Effect[int, ValueError, Never])
assert_type(run_sync(load().catch_all(recover_by_match)), int)

# -- provide with a context or layers that cover R -------------------------------------------

services = Port.of(80).add(Host, "h")
assert_type(services, Context[Port | Host])
assert_type(server().provide(services), Effect[str, OSError, Never])
layers = Layer.succeed(Port, 80).merge(Layer.succeed(Host, "h"))
assert_type(layers, Layer[Port | Host, Never, Never])
assert_type(server().provide(layers), Effect[str, OSError, Never])

# -- scopes ----------------------------------------------------------------------------------

opened = Effect.acquire_release(Effect.succeed("handle"), release)
assert_type(opened, Effect[str, Never, Scope])
assert_type(Effect.scoped(opened), Effect[str, Never, Never])

# -- fibers ------------------------------------------------------------------------------------

forked = load().fork()
assert_type(forked, Effect[Fiber[int, NotFound | ValueError], Never, Never])
assert_type(forked.flat_map(lambda fiber: fiber.join()), Effect[int, NotFound | ValueError, Never])
assert_type(
    forked.flat_map(lambda fiber: fiber.await_()),
    Effect[Exit[int, NotFound | ValueError], Never, Never],
)
assert_type(load().timeout(1.0), Effect[int, NotFound | ValueError | TimeoutError, Never])


# -- issue 15: contexts say what they hold; provide_merge --------------------------------------

assert_type(Context({Port: 80}), Context[Never])
Port.get().provide(Context({Port: 80}))  # type: ignore[arg-type]
assert_type(Port.of(80).merge(Host.of("h")).get(Host), str)
Host.of("h").get(Port)  # type: ignore[arg-type]
port_layer = Layer.succeed(Port, 80)
host_from_port = Layer.effect(Host, Port.get().map(str))
assert_type(port_layer.provide_merge(host_from_port), Layer[Port | Host, Never, Never])
