"""Services, scopes, fibers and the time combinators: what mypy --strict infers, with
and without the effectpy plugin (the lines here mean the same in both).

A line with `# type: ignore[code]` is a line mypy must reject with that code.
"""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import (
    Context,
    Effect,
    Exit,
    Fiber,
    Layer,
    Schedule,
    Scope,
    Tag,
    run_sync,
    run_sync_exit,
)


class Port(Tag[int]):
    """A service: the port to listen on."""


class Host(Tag[str]):
    """A service: the host name."""


class Debug(Tag[bool]):
    """A service: the debug flag."""


def server() -> Effect[str, OSError, Host | Port | Debug]:
    return Effect.succeed("up")


def release(handle: str, exit: Exit[object, object]) -> Effect[None]:
    return Effect.unit()


def parse(text: str) -> Effect[int, ValueError]:
    return Effect.attempt(lambda: int(text), ValueError)


# -- provide: a context must cover every service (contravariant Context[R]) ---------------

everything = Port.of(80).add(Host, "h").add(Debug, True)
assert_type(everything, Context[Port | Host | Debug])
assert_type(server().provide(everything), Effect[str, OSError, Never])
assert_type(Port.get().provide(everything), Effect[int, Never, Never])
partial = Port.of(80).add(Host, "h")
server().provide(partial)  # type: ignore[arg-type]
run_sync(server().provide(everything))  # type: ignore[arg-type]
assert_type(run_sync_exit(server().provide(everything)), Exit[str, OSError])

# -- layers -----------------------------------------------------------------------------

port_layer = Layer.succeed(Port, 80)
assert_type(port_layer, Layer[Port, Never, Never])
host_layer = Layer.effect(Host, Effect.attempt(lambda: "localhost", OSError))
assert_type(host_layer, Layer[Host, OSError, Never])
url_layer = Layer.effect(Host, Port.get().map(str))
assert_type(url_layer, Layer[Host, Never, Port])
all_layers = port_layer.merge(host_layer).merge(Layer.succeed(Debug, False))
assert_type(all_layers, Layer[Port | Host | Debug, OSError, Never])
assert_type(server().provide(all_layers), Effect[str, OSError, Never])
assert_type(port_layer.provide_to(url_layer), Layer[Host, Never, Never])
assert_type(port_layer.provide_merge(url_layer), Layer[Port | Host, Never, Never])
assert_type(
    Host.get().zip(Port.get()).provide(port_layer.provide_merge(url_layer)),
    Effect[tuple[str, int], Never, Never],
)

# -- contexts: a dict says nothing to the checkers; `get` reads only what is held -----------

assert_type(Context({Port: 80}), Context[Never])
Port.get().provide(Context({Port: 80}))  # type: ignore[arg-type]
Context({int: 80})  # type: ignore[dict-item]
assert_type(Port.of(80).merge(Host.of("h")).get(Host), str)
Host.of("h").get(Port)  # type: ignore[arg-type]
Context.empty().get(Port)  # type: ignore[arg-type]

# -- scopes: Scope is a service that Effect.scoped provides -------------------------------

opened = Effect.acquire_release(Effect.succeed("handle"), release)
assert_type(opened, Effect[str, Never, Scope])
assert_type(Effect.scoped(opened), Effect[str, Never, Never])
assert_type(Effect.scoped(opened.zip(Port.get())), Effect[tuple[str, int], Never, Port])
run_sync(opened)  # type: ignore[arg-type]
assert_type(run_sync(Effect.scoped(opened)), str)
assert_type(Effect.add_finalizer(lambda exit: Effect.unit()), Effect[None, Never, Scope])
assert_type(Layer.scoped(Host, opened), Layer[Host, Never, Never])

# -- fibers -----------------------------------------------------------------------------

forked = parse("1").fork()
assert_type(forked, Effect[Fiber[int, ValueError], Never, Never])
assert_type(forked.flat_map(lambda fiber: fiber.join()), Effect[int, ValueError, Never])
assert_type(
    forked.flat_map(lambda fiber: fiber.await_()), Effect[Exit[int, ValueError], Never, Never]
)
assert_type(parse("1").fork_scoped(), Effect[Fiber[int, ValueError], Never, Scope])
joined = forked.flat_map(lambda fiber: fiber.join())
run_sync(joined)  # type: ignore[arg-type]

# -- time and repetition ----------------------------------------------------------------

assert_type(parse("1").timeout(1.0), Effect[int, ValueError | TimeoutError, Never])
assert_type(parse("1").retry(Schedule.recurs(3)), Effect[int, ValueError, Never])
assert_type(parse("1").retry(times=2), Effect[int, ValueError, Never])
assert_type(parse("1").delay(0.5), Effect[int, ValueError, Never])
assert_type(
    Effect.all(parse("1"), server(), concurrency="unbounded"),
    Effect[tuple[int, str], ValueError | OSError, Host | Port | Debug],
)
assert_type(Effect.race(parse("1"), Port.get()), Effect[int, ValueError, Port])
