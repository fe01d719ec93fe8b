"""Services: `Tag`, `Context` and `Layer`.

An effect reads a service through its `Tag`; `provide` gives it a `Context` or a
`Layer` that builds one. A layer is built once per `provide` (shared where it appears
twice in the graph), torn down when the provided effect ends (`Layer.scoped` services
are released then, whatever happened), and a layer that fails to build says which
service failed.
"""

from __future__ import annotations

from typing import Any, Never

import pytest
from conftest import Latch, Path, each_path, each_seed, on_path, run_seeded

from effectpy import (
    Context,
    Die,
    Do,
    Effect,
    Exit,
    Fail,
    Failure,
    Interrupt,
    Layer,
    Manual,
    MissingService,
    Scope,
    Success,
    Tag,
    gen,
    run_sync,
    run_sync_exit,
)


class Port(Tag[int]):
    """The port a server listens on."""


class Host(Tag[str]):
    """The host name of a server."""


class Url(Tag[str]):
    """A url, made from the host and port."""


class Connection:
    """A service with a lifetime: open until disposed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.disposed_with: Exit[Any, Any] | None = None

    def query(self) -> str:
        assert self.disposed_with is None, f"{self.name} used after it was disposed"
        return f"rows from {self.name}"


class Db(Tag[Connection]):
    """The database connection."""


class ConnectionRefused(Exception):
    """A service that could not be built."""


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def url_from_host_and_port() -> Effect[str, Never, Host | Port]:
    return Host.get().zip_with(Port.get(), lambda host, port: f"http://{host}:{port}")


def connection_layer(log: list[str], name: str = "db-1") -> Layer[Db, Never, Never]:
    """A `Layer.scoped` Db: opened with `acquire_release`, disposed at the end."""

    def open_connection() -> Connection:
        log.append(f"open {name}")
        return Connection(name)

    def dispose(connection: Connection, exit: Exit[Any, Any]) -> Effect[None]:
        def run() -> None:
            connection.disposed_with = exit
            log.append(f"dispose {name}")

        return Effect.sync(run)

    return Layer.scoped(Db, Effect.acquire_release(Effect.sync(open_connection), dispose))


# -- Tag and Context ------------------------------------------------------------------


def test_tag_of_and_get_provide_and_read_a_service() -> None:
    assert run_sync(Port.get().map(lambda p: p + 1).provide(Port.of(8080))) == 8081


def test_tag_of_is_a_context_with_just_that_service() -> None:
    context = Port.of(80)
    assert len(context) == 1
    assert Port in context
    assert context.get(Port) == 80
    assert repr(context) == "Context(Port=80)"


def test_context_empty_holds_nothing() -> None:
    empty = Context.empty()
    assert len(empty) == 0
    assert Port not in empty


def test_context_add_gives_a_new_context_and_leaves_the_old_one_alone() -> None:
    base = Context.empty().add(Port, 80)
    more = base.add(Host, "localhost")
    assert (more.get(Port), more.get(Host)) == (80, "localhost")
    assert len(base) == 1
    assert Host not in base


def test_context_add_replaces_a_service_under_the_same_tag() -> None:
    context = Port.of(80).add(Port, 443)
    assert context.get(Port) == 443
    assert len(context) == 1


def test_context_merge_has_both_and_the_right_side_wins() -> None:
    left = Port.of(80).add(Host, "left")
    right = Host.of("right")
    merged = left.merge(right)
    assert (merged.get(Port), merged.get(Host)) == (80, "right")
    assert (left.get(Host), len(right)) == ("left", 1)


def test_context_get_of_a_missing_service_is_missing_service_naming_the_tag() -> None:
    with pytest.raises(MissingService, match=r"no service for Port.*Port\.of"):
        Host.of("h").get(Port)  # type: ignore[arg-type]  # the checkers see it too


def test_context_add_with_something_that_is_not_a_tag_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"Context\.add expects a Tag class"):
        Context.empty().add(int, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Context\.add expects a Tag class"):
        Context.empty().add("Port", 3)  # type: ignore[arg-type]


def test_a_service_never_provided_is_a_missing_service_that_says_how_to_provide_it() -> None:
    with pytest.raises(MissingService) as info:
        run_sync(Port.get())  # type: ignore[arg-type]
    message = str(info.value)
    assert "no service for Port" in message
    assert "provide" in message and "Port.of(...)" in message and "Layer" in message


def test_provide_some_with_an_unrelated_context_leaves_the_service_missing() -> None:
    exit = run_sync_exit(Port.get().provide_some(Host.of("h")))  # type: ignore[arg-type]
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, MissingService)
    assert "Port" in str(defect)


# -- provide, provide_service, provide_some --------------------------------------------


def test_provide_with_a_context_gives_every_service() -> None:
    context = Host.of("example.org").add(Port, 443)
    assert run_sync(url_from_host_and_port().provide(context)) == "http://example.org:443"


def test_provide_service_provides_one_service() -> None:
    program = Port.get().provide_service(Port, 80)
    assert run_sync(program) == 80


def test_provide_some_then_provide_covers_the_rest() -> None:
    program = url_from_host_and_port().provide_some(Host.of("h")).provide(Port.of(1))
    assert run_sync(program) == "http://h:1"


def test_the_innermost_provide_wins() -> None:
    assert run_sync(Port.get().provide(Port.of(1)).provide(Port.of(2))) == 1


def test_a_provided_service_does_not_leak_out_of_the_provide() -> None:
    inside = Port.get().provide(Port.of(1))
    exit = run_sync_exit(inside.and_then(Port.get()))  # type: ignore[arg-type]
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, MissingService)


def test_a_forked_fiber_sees_the_services_of_its_parent() -> None:
    program = Port.get().fork().flat_map(lambda fiber: fiber.join())
    assert run_sync(program.provide(Port.of(7))) == 7


def test_provide_with_neither_a_context_nor_a_layer_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="provide expects a Context or a Layer, got dict"):
        Port.get().provide({Port: 80})  # type: ignore[call-overload]


def test_provide_some_with_something_that_is_not_a_context_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="provide_some expects a Context"):
        Port.get().provide_some(Layer.succeed(Port, 80))  # type: ignore[arg-type]


# -- Layer.succeed, Layer.effect, merge, provide_to ------------------------------------


def test_layer_succeed_provides_its_service() -> None:
    assert run_sync(Port.get().provide(Layer.succeed(Port, 8080))) == 8080


def test_layer_effect_builds_its_service_when_provided_not_when_made() -> None:
    builds: list[str] = []

    def build() -> int:
        builds.append("built")
        return 80

    layer = Layer.effect(Port, Effect.sync(build))
    assert builds == []
    assert run_sync(Port.get().provide(layer)) == 80
    assert builds == ["built"]


def test_layer_effect_can_read_a_service_from_around_the_provide() -> None:
    url = Layer.effect(Url, url_from_host_and_port())
    program = Url.get().provide(url).provide(Host.of("h").add(Port, 1))
    assert run_sync(program) == "http://h:1"


def test_merge_provides_the_services_of_both_layers() -> None:
    layer = Layer.succeed(Host, "h").merge(Layer.succeed(Port, 2))
    assert run_sync(url_from_host_and_port().provide(layer)) == "http://h:2"


def test_provide_to_feeds_one_layers_services_to_anothers_construction() -> None:
    config = Layer.succeed(Host, "example.org").merge(Layer.succeed(Port, 443))
    url = Layer.effect(Url, url_from_host_and_port())
    assert run_sync(Url.get().provide(config.provide_to(url))) == "http://example.org:443"


def test_provide_to_gives_only_the_fed_layers_output() -> None:
    url = (
        Layer.succeed(Host, "h")
        .merge(Layer.succeed(Port, 1))
        .provide_to(Layer.effect(Url, url_from_host_and_port()))
    )
    exit = run_sync_exit(Port.get().provide(url))  # type: ignore[arg-type]
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, MissingService)


# -- memoization ----------------------------------------------------------------------


def counted_port(builds: list[str]) -> Layer[Port, Never, Never]:
    def build() -> int:
        builds.append("port")
        return 80

    return Layer.effect(Port, Effect.sync(build))


def test_a_layer_used_twice_in_one_provide_graph_is_built_once() -> None:
    builds: list[str] = []
    base = counted_port(builds)
    url = Layer.effect(Url, Port.get().map(lambda p: f"http://h:{p}"))
    host = Layer.effect(Host, Port.get().map(lambda p: f"host-{p}"))
    graph = base.provide_to(url).merge(base.provide_to(host))

    assert run_sync(Effect.all(Url.get(), Host.get()).provide(graph)) == ("http://h:80", "host-80")
    assert builds == ["port"]


def test_a_layer_merged_with_itself_is_built_once() -> None:
    builds: list[str] = []
    base = counted_port(builds)
    assert run_sync(Port.get().provide(base.merge(base))) == 80
    assert builds == ["port"]


def test_two_separate_provides_build_the_layer_twice() -> None:
    builds: list[str] = []
    base = counted_port(builds)
    url = Layer.effect(Url, Port.get().map(lambda p: f"http://h:{p}"))
    host = Layer.effect(Host, Port.get().map(lambda p: f"host-{p}"))
    program = Url.get().provide(base.provide_to(url)).zip(Host.get().provide(base.provide_to(host)))

    assert run_sync(program) == ("http://h:80", "host-80")
    assert builds == ["port", "port"]


def test_running_a_provided_effect_twice_builds_its_layer_each_time() -> None:
    builds: list[str] = []
    program = Port.get().provide(counted_port(builds))
    run_sync(program)
    run_sync(program)
    assert builds == ["port", "port"]


def test_a_scoped_layer_used_twice_in_one_graph_is_acquired_and_released_once() -> None:
    log: list[str] = []
    db = connection_layer(log)
    first = db.provide_to(Layer.effect(Host, Db.get().map(lambda c: c.name)))
    second = db.provide_to(Layer.effect(Url, Db.get().map(lambda c: f"db://{c.name}")))
    program = Effect.all(Host.get(), Url.get()).provide(first.merge(second))

    assert run_sync(program) == ("db-1", "db://db-1")
    assert log == ["open db-1", "dispose db-1"]


# -- Layer.scoped: services with a lifetime --------------------------------------------


def test_a_scoped_service_is_released_after_the_effect_that_uses_it() -> None:
    log: list[str] = []
    program = Db.get().flat_map(lambda c: record(log, c.query())).provide(connection_layer(log))
    run_sync(program)
    assert log == ["open db-1", "rows from db-1", "dispose db-1"]


def test_a_service_acquired_with_acquire_release_is_disposed_with_the_effects_exit() -> None:
    log: list[str] = []

    @gen
    def use() -> Do[tuple[Connection, bool], Never, Db]:
        connection = yield from Db.get()
        return connection, connection.disposed_with is None

    connection, open_while_used = run_sync(use().provide(connection_layer(log)))
    assert open_while_used
    assert connection.disposed_with is not None
    assert connection.disposed_with.is_success()


def test_a_scoped_service_is_released_when_the_effect_fails() -> None:
    log: list[str] = []
    failing: Effect[None, str] = Effect.fail("query failed")
    seen: list[Connection] = []
    program = Db.get().flat_map(lambda c: Effect.sync(lambda: seen.append(c)).and_then(failing))

    exit = run_sync_exit(program.provide(connection_layer(log)))
    assert exit == Failure(Fail("query failed"))
    assert log == ["open db-1", "dispose db-1"]
    assert seen[0].disposed_with == exit


def test_a_scoped_service_is_released_when_the_effect_dies() -> None:
    log: list[str] = []
    defect = RuntimeError("bug")
    program = Db.get().and_then(Effect.die(defect))
    assert run_sync_exit(program.provide(connection_layer(log))) == Failure(Die(defect))
    assert log == ["open db-1", "dispose db-1"]


@each_seed
def test_a_scoped_service_is_released_when_the_effect_is_interrupted(seed: int) -> None:
    log: list[str] = []
    started = Latch()
    program = Db.get().and_then(started.open()).and_then(Effect.never())

    @gen
    def run() -> Do[tuple[Exit[None, Any], Any]]:
        fiber = yield from program.provide(connection_layer(log)).fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()
        return exit, (yield from Effect.fiber_id())

    exit, me = run_seeded(run(), seed)
    assert exit == Failure(Interrupt(me, Manual()))
    assert log == ["open db-1", "dispose db-1"]


def test_scoped_services_are_released_in_reverse_order_of_construction() -> None:
    log: list[str] = []

    def opened(name: str) -> Effect[str, Never, Scope]:
        return Effect.acquire_release(
            record(log, f"open {name}").as_(name), lambda n, _: record(log, f"close {n}")
        )

    layer = Layer.scoped(Host, opened("first")).merge(Layer.scoped(Url, opened("second")))
    run_sync(Effect.all(Host.get(), Url.get()).provide(layer).as_unit())
    assert log == ["open first", "open second", "close second", "close first"]


def test_a_scoped_layer_fed_to_another_outlives_its_construction() -> None:
    log: list[str] = []
    uses_db = connection_layer(log).provide_to(Layer.effect(Host, Db.get().map(lambda c: c.name)))
    program = Host.get().flat_map(lambda name: record(log, f"using {name}"))
    run_sync(program.provide(uses_db))
    assert log == ["open db-1", "using db-1", "dispose db-1"]


def pool_layer(log: list[str], path: Path) -> Layer[Db, Never, Host]:
    """A `Layer.scoped` Db that needs the Host both to open and to close its pool."""

    def acquire(host: str) -> Connection:
        log.append(f"open pool on {host}")
        return Connection(f"pool@{host}")

    def release(connection: Connection, _: Exit[Any, Any]) -> Effect[None, Never, Host]:
        return Host.get().flat_map(
            lambda host: on_path(path, lambda: log.append(f"close {connection.name} on {host}"))
        )

    opened = Host.get().flat_map(lambda host: on_path(path, lambda: acquire(host)))
    return Layer.scoped(Db, Effect.acquire_release(opened, release))


@each_path
def test_a_scoped_layers_release_reads_a_service_fed_through_provide_to(path: Path) -> None:
    """The release runs in the context its acquire ran in: the Host it was built with
    (the resource is released, not lost to a `MissingService` at teardown)."""
    log: list[str] = []
    layer = Layer.succeed(Host, "db.internal").provide_to(pool_layer(log, path))
    run_sync(Db.get().map(lambda c: c.name).tap(lambda name: record(log, name)).provide(layer))
    assert log == [
        "open pool on db.internal",
        "pool@db.internal",
        "close pool@db.internal on db.internal",
    ]


@each_path
def test_a_scoped_layers_release_reads_a_service_fed_through_merge(path: Path) -> None:
    log: list[str] = []
    both = Layer.succeed(Host, "db.internal").merge(Layer.succeed(Port, 5432))
    layer = both.provide_to(pool_layer(log, path).merge(Layer.succeed(Url, "x")))
    run_sync(Db.get().as_unit().provide(layer))
    assert log == ["open pool on db.internal", "close pool@db.internal on db.internal"]


# -- layers that fail to build ---------------------------------------------------------


def refusing_db() -> Layer[Db, ConnectionRefused, Never]:
    def connect() -> Connection:
        raise ConnectionRefused("connection refused by db.example.org")

    return Layer.effect(Db, Effect.attempt(connect, ConnectionRefused))


def notes_of(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


def test_a_layer_that_fails_to_build_says_which_service_failed_and_why() -> None:
    log: list[str] = []
    program = Db.get().flat_map(lambda c: record(log, "effect ran"))

    exit = run_sync_exit(program.provide(refusing_db()))
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert isinstance(error, ConnectionRefused)
    assert "connection refused" in str(error)
    assert "Db" in notes_of(error)
    assert log == []


def test_run_sync_raises_the_build_failure_with_the_service_named_in_its_notes() -> None:
    program = Db.get().map(lambda c: c.name).provide(refusing_db())
    with pytest.raises(ConnectionRefused) as info:
        run_sync(program)  # type: ignore[arg-type]
    assert "while building the layer for service Db" in notes_of(info.value)


def test_a_failing_layer_fed_through_provide_to_is_the_one_named() -> None:
    config = Layer.succeed(Port, 5432)
    graph = config.provide_to(refusing_db())
    exit = run_sync_exit(Db.get().provide(graph))
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    notes = notes_of(error)
    assert "service Db" in notes
    assert "service Port" not in notes


def test_a_scoped_layer_that_dies_while_building_names_the_service() -> None:
    def open_connection() -> Connection:
        raise RuntimeError("driver crashed")

    layer = Layer.scoped(
        Db, Effect.acquire_release(Effect.sync(open_connection), lambda c, _: Effect.unit())
    )
    exit = run_sync_exit(Db.get().provide(layer))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, RuntimeError)
    assert "Db" in notes_of(defect)


def test_a_layer_failing_after_a_scoped_one_was_built_releases_the_scoped_one() -> None:
    log: list[str] = []
    layer = connection_layer(log).merge(refusing_db())
    exit = run_sync_exit(Db.get().flat_map(lambda c: record(log, "effect ran")).provide(layer))
    assert exit.is_failure()
    assert log == ["open db-1", "dispose db-1"]


def test_a_building_failure_is_noted_once_even_if_the_layer_is_reached_twice() -> None:
    error = ConnectionRefused("refused")
    layer = Layer.effect(Db, Effect.fail(error))
    run_sync_exit(Db.get().provide(layer))
    run_sync_exit(Db.get().provide(layer))
    assert notes_of(error).count("while building the layer for service Db") == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: Layer.succeed(int, 1),  # type: ignore[arg-type]
        lambda: Layer.effect(str, Effect.succeed("x")),  # type: ignore[arg-type]
        lambda: Layer.scoped(str, Effect.succeed("x")),  # type: ignore[arg-type]
    ],
    ids=["succeed", "effect", "scoped"],
)
def test_a_layer_keyed_by_something_that_is_not_a_tag_is_a_type_error(make: Any) -> None:
    with pytest.raises(TypeError, match="expects a Tag class"):
        make()


def test_a_successful_layer_build_leaves_the_exit_of_the_effect_alone() -> None:
    assert run_sync_exit(Port.get().provide(Layer.succeed(Port, 1))) == Success(1)


# -- a tag is an exact key: no subclass, no generic tag -------------------------------------


def test_subclassing_a_tag_is_a_type_error_that_says_to_declare_a_tag_of_its_own() -> None:
    with pytest.raises(TypeError, match=r"cannot subclass the tag Port.*class TestPort\(Tag"):

        class TestPort(Port):  # type: ignore[misc]  # the plugin reports it too
            pass


def test_a_generic_tag_is_a_type_error() -> None:
    from typing import Generic, TypeVar

    T = TypeVar("T")
    with pytest.raises(TypeError, match="tag Repo is generic"):

        class Repo(Tag[list[T]]):  # type: ignore[misc]
            pass

    with pytest.raises(TypeError, match="tag Store is generic"):

        class Store(Tag[dict[str, T]], Generic[T]):  # type: ignore[misc]
            pass


def test_a_tag_without_its_service_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"tag Bare does not say its service type"):

        class Bare(Tag):  # type: ignore[type-arg]
            pass


def test_a_tag_chosen_by_a_conditional_provides_one_tag_at_run_time() -> None:
    # What the plugin rejects (`Context.add needs one Tag class`): the context holds one.
    tag = Host if len("x") == 1 else Url
    context = Context.empty().add(tag, "h")  # type: ignore[arg-type]
    with pytest.raises(MissingService, match="no service for Url"):
        run_sync(Url.get().provide(context))  # type: ignore[arg-type]


# -- Context(...) is checked --------------------------------------------------------------


def test_context_from_a_dict_holds_its_tags_at_run_time() -> None:
    context = Context({Port: 80, Host: "h"})
    assert (context.get(Port), context.get(Host)) == (80, "h")  # type: ignore[arg-type]
    assert repr(Context()) == "Context()"


@pytest.mark.parametrize("key", [int, "Port", Tag], ids=["class", "string", "Tag itself"])
def test_context_keyed_by_something_that_is_not_a_tag_is_a_type_error(key: Any) -> None:
    with pytest.raises(TypeError, match=r"Context expects a Tag class \(a subclass of Tag"):
        Context({key: 80})


def test_context_add_of_tag_itself_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"Context\.add expects a Tag class"):
        Context.empty().add(Tag, 80)  # type: ignore[arg-type]


# -- a layer for part of R; provide_to leaving needs for later; provide_merge --------------


def test_provide_with_a_layer_for_some_services_leaves_the_rest_to_an_outer_provide() -> None:
    half = url_from_host_and_port().provide(Layer.succeed(Port, 80))
    assert run_sync(half.provide(Layer.succeed(Host, "h"))) == "http://h:80"
    with pytest.raises(MissingService, match="no service for Host"):
        run_sync(half)  # type: ignore[arg-type]


def test_provide_to_leaves_the_needs_it_does_not_feed_to_an_outer_provide() -> None:
    url = Layer.effect(Url, url_from_host_and_port())
    half = Layer.succeed(Port, 80).provide_to(url)
    assert run_sync(Url.get().provide(half).provide(Host.of("h"))) == "http://h:80"


def test_provide_merge_provides_the_services_of_both_layers() -> None:
    url = Layer.effect(Url, Port.get().map(lambda p: f"http://h:{p}"))
    both = Layer.succeed(Port, 80).provide_merge(url)
    assert run_sync(Url.get().zip(Port.get()).provide(both)) == ("http://h:80", 80)
    assert repr(both) == "Layer(Port + (Url <- Port))"


def test_provide_merge_builds_the_first_layer_once() -> None:
    builds: list[str] = []
    url = Layer.effect(Url, Port.get().map(lambda p: f"http://h:{p}"))
    both = counted_port(builds).provide_merge(url)
    assert run_sync(Url.get().zip(Port.get()).provide(both)) == ("http://h:80", 80)
    assert builds == ["port"]


def test_provide_merge_may_leave_needs_of_the_second_layer_for_later() -> None:
    url = Layer.effect(Url, url_from_host_and_port())
    both = Layer.succeed(Port, 80).provide_merge(url)
    program = Url.get().zip(Port.get()).provide(both).provide(Host.of("h"))
    assert run_sync(program) == ("http://h:80", 80)


def test_provide_merge_releases_scoped_services_of_both_layers_in_reverse_order() -> None:
    log: list[str] = []
    port = Layer.scoped(
        Port,
        Effect.acquire_release(
            Effect.sync(lambda: 80), lambda p, exit: Effect.sync(lambda: log.append("port"))
        ),
    )
    url = Layer.scoped(
        Url,
        Effect.acquire_release(
            Port.get().map(lambda p: f"u:{p}"),
            lambda u, exit: Effect.sync(lambda: log.append("url")),
        ),
    )
    assert run_sync(Url.get().provide(port.provide_merge(url))) == "u:80"
    assert log == ["url", "port"]
