"""What the effectpy mypy plugin makes exact (checked only with the plugin on).

`catch` removes the caught class from `E`, `provide_service`/`provide_some` remove tags
from `R`, the scope providers remove `Scope`, `@gen` refuses `Any`, and a `pipe` is
inferred one step at a time. The same programs without the plugin are in
`typings/no_plugin/test_over_approximation.py`.
"""

from __future__ import annotations

from typing import Any, Never, assert_type

from effectpy import Context, Do, Effect, Layer, Scope, Tag, gen, pipe, run_sync
from effectpy import pointfree as pf
from effectpy.structured import branch, spawn


class NotFound(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


class Timeout(Exception):
    """A second error class."""


class Port(Tag[int]):
    """A service: the port to listen on."""


class Host(Tag[str]):
    """A service: the host name."""


class Debug(Tag[bool]):
    """A service: the debug flag."""


def call() -> Effect[str, NotFound | Timeout | KeyError | ValueError | OSError]:
    return Effect.fail(Timeout())


def server() -> Effect[str, Never, Host | Port | Debug]:
    return Effect.succeed("up")


def missing(error: NotFound) -> Effect[str]:
    return Effect.succeed(error.key)


# -- catch ------------------------------------------------------------------------------

assert_type(
    call().catch(NotFound, missing), Effect[str, Timeout | KeyError | ValueError | OSError, Never]
)
assert_type(
    call().catch(LookupError, lambda e: Effect.succeed(str(e))),
    Effect[str, NotFound | Timeout | ValueError | OSError, Never],
)
assert_type(call().catch(Exception, lambda e: Effect.succeed("")), Effect[str, Never, Never])
assert_type(
    call().catch(NotFound, lambda e: Effect.succeed(len(e.key))),
    Effect[str | int, Timeout | KeyError | ValueError | OSError, Never],
)
assert_type(
    call().catch(ConnectionError, lambda e: Effect.succeed("")),
    Effect[str, NotFound | Timeout | KeyError | ValueError | OSError, Never],
)
call().catch(ArithmeticError, lambda e: Effect.succeed(""))  # type: ignore[arg-type]
assert_type(
    pipe(call(), pf.catch(Timeout, lambda e: Effect.fail(OSError())), pf.map(len)),
    Effect[int, NotFound | KeyError | ValueError | OSError, Never],
)
everything = (
    call()
    .catch(NotFound, missing)
    .catch(Timeout, lambda e: Effect.succeed("late"))
    .catch(LookupError, lambda e: Effect.succeed("no key"))
    .catch(ValueError, lambda e: Effect.succeed("bad"))
)
run_sync(everything)  # type: ignore[arg-type]
assert_type(run_sync(everything.catch(OSError, lambda e: Effect.succeed("io"))), str)

# -- services ---------------------------------------------------------------------------

assert_type(server().provide_service(Port, 80), Effect[str, Never, Host | Debug])
assert_type(server().provide_some(Port.of(80).add(Debug, True)), Effect[str, Never, Host])
ready = server().provide_service(Port, 80).provide_some(Host.of("h")).provide_service(Debug, True)
assert_type(run_sync(ready), str)
server().provide_service(Port, "80")  # type: ignore[arg-type]
Port.get().provide_service(Host, "h")  # type: ignore[arg-type]
Port.get().provide_some(Host.of("h"))  # type: ignore[arg-type]
assert_type(server().provide(Layer.succeed(Host, "h")), Effect[str, Never, Port | Debug])
assert_type(
    Layer.succeed(Host, "h").provide_to(Layer.effect(Debug, Port.get().zip(Host.get()).as_(True))),
    Layer[Debug, Never, Port],
)
assert_type(
    Layer.succeed(Host, "h").provide_merge(
        Layer.effect(Debug, Port.get().zip(Host.get()).as_(True))
    ),
    Layer[Host | Debug, Never, Port],
)
Context.empty().get(Port)  # type: ignore[arg-type]


class TestPort(Port):  # type: ignore[misc]
    """A subclass of a tag would be another key: refused (TypeError at run time)."""


def any_port(tag: type[Tag[int]]) -> None:
    tag.of(80)  # type: ignore[arg-type]
    Layer.succeed(tag, 80)  # type: ignore[arg-type]


# -- Any at the runners ------------------------------------------------------------------

run_sync(call().map_error(lambda e: e.args[0]))  # type: ignore[arg-type]
run_sync(call().map_error(lambda e: str(e)).catch_all(lambda e: Effect.succeed("")))
server().provide(Port.of(80).add(Host, "h"))  # type: ignore[arg-type]


# -- Scope ------------------------------------------------------------------------------


def connect() -> Effect[str, OSError, Scope | Port | Host]:
    return Effect.succeed("conn")


assert_type(Effect.scoped(connect()), Effect[str, OSError, Port | Host])
assert_type(Layer.scoped(Debug, connect().as_(True)), Layer[Debug, OSError, Port | Host])
assert_type(pipe(connect(), Effect.scoped), Effect[str, OSError, Port | Host])
assert_type(connect().pipe(Effect.scoped), Effect[str, OSError, Port | Host])
inline = Effect.acquire_release(Port.get().zip(Host.get()), lambda c, exit: Effect.unit())
assert_type(Layer.scoped(Debug, inline.as_(True)), Layer[Debug, Never, Port | Host])


# -- @gen -------------------------------------------------------------------------------


@gen  # type: ignore[arg-type]
def loose() -> Do[str, Any]:
    return (yield from call())


@gen
def forgetful() -> Do[str, NotFound | Timeout | KeyError | ValueError | OSError]:
    call()  # type: ignore[unused-effect]
    return (yield from call())


@gen
def strict() -> Do[str, NotFound | Timeout | KeyError | ValueError | OSError, Port]:
    port = yield from Port.get()
    return (yield from call()) + str(port)


assert_type(
    strict().catch(OSError, lambda e: Effect.succeed("")).provide_service(Port, 1),
    Effect[str, NotFound | Timeout | KeyError | ValueError, Never],
)


# -- pipe, one step at a time -------------------------------------------------------------

assert_type(
    pipe(Effect.succeed(1), lambda e: e.map(str), lambda e: e.map(len)), Effect[int, Never, Never]
)
assert_type(
    pipe(call(), pf.flat_map(lambda s: Effect.fail(Timeout())), pf.map(str)),
    Effect[str, NotFound | Timeout | KeyError | ValueError | OSError, Never],
)


# -- branch -------------------------------------------------------------------------------


def audit() -> Effect[str, ValueError]:
    return Effect.fail(ValueError("audit"))


def notify() -> Effect[None, ConnectionError, Port]:
    return Effect.fail(ConnectionError("refused"))


spawned_two = spawn(audit()).and_then(spawn(notify())).and_then(Host.get())
assert_type(branch(spawned_two), Effect[str, ValueError | ConnectionError, Port | Host])
