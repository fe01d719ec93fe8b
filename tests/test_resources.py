"""Resources: what is acquired is released exactly once, whatever happens.

`acquire_release` acquires uninterruptibly and registers the release in the current
scope, which gives it the scope's exit; `acquire_use_release` releases right after
`use` (which is interruptible); fibers forked into a scope are interrupted (reason
`ScopeClosed`) and awaited when it closes.

The runtime may run a lone `Effect.sync` acquire or release as one atomic step: the
tests that build them run both ways (`each_path`, in conftest).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Never, TypeVar

import pytest
from conftest import (
    BODY_DEFECT,
    SEEDS,
    Collect,
    Latch,
    Outcome,
    Path,
    each_closing_exit,
    each_outcome,
    each_path,
    each_seed,
    expected_exit,
    on_path,
    run_seeded,
    run_wrapped,
    yields,
)

from effectpy import (
    Clock,
    CloseableScope,
    Die,
    Do,
    Effect,
    ExecutionStrategy,
    Exit,
    Fail,
    Failure,
    Fiber,
    FiberId,
    FiberRef,
    Interrupt,
    Manual,
    Runtime,
    Scope,
    ScopeClosed,
    Sequential,
    Success,
    TestClock,
    Timeout,
    gen,
    run_sync,
    run_sync_exit,
)

A = TypeVar("A")

RELEASE_DEFECT = RuntimeError("defect in the release")
ACQUIRE_DEFECT = RuntimeError("defect in the acquire")


def record(log: list[Any], entry: object) -> Effect[None]:
    return Effect.sync(lambda: log.append(entry))


def logged(log: list[Any], entry: object, value: A) -> A:
    """Append `entry` to `log`; give back `value`."""
    log.append(entry)
    return value


def acquiring(path: Path, log: list[Any], name: str) -> Effect[str]:
    """An acquire of `name` along `path` that logs `acquire <name>`."""
    return on_path(path, lambda: logged(log, f"acquire {name}", name))


def recording_release(
    log: list[Any], path: Path = "sync"
) -> Callable[[str, Exit[Any, Any]], Effect[None]]:
    """A release along `path` that logs `(resource, exit)`."""
    return lambda resource, exit: on_path(path, lambda: log.append((resource, exit)))


class Resource:
    """Counts its own acquisitions and releases, and the exits releases were given;
    its acquire and release are built along `path`."""

    def __init__(
        self, name: str = "resource", log: list[str] | None = None, path: Path = "sync"
    ) -> None:
        self.name = name
        self.log = [] if log is None else log
        self.path: Path = path
        self.acquired = 0
        self.released: list[Exit[Any, Any]] = []

    def acquire(self) -> Effect[Resource]:
        def run() -> Resource:
            self.acquired += 1
            self.log.append(f"acquire {self.name}")
            return self

        return on_path(self.path, run)

    def release(self, resource: Resource, exit: Exit[Any, Any]) -> Effect[None]:
        assert resource is self

        def run() -> None:
            self.released.append(exit)
            self.log.append(f"release {self.name}")

        return on_path(self.path, run)

    def scoped(self) -> Effect[Resource, Never, Scope]:
        return Effect.acquire_release(self.acquire(), self.release)


def only_defect(exit: Exit[Any, Any]) -> BaseException:
    """The one defect of a failed exit (and nothing else in its cause)."""
    assert isinstance(exit, Failure), exit
    [defect] = exit.cause.defects()
    assert exit == Failure(Die(defect))
    return defect


# -- acquire_release ------------------------------------------------------------------


@each_path
@each_outcome
@pytest.mark.parametrize("seed", SEEDS[:10])
def test_acquire_release_releases_exactly_once_with_the_scopes_exit(
    path: Path, outcome: Outcome, seed: int
) -> None:
    log: list[str] = []
    resource = Resource(log=log, path=path)
    exit, me = run_wrapped(
        outcome,
        lambda body: Effect.scoped(resource.scoped().and_then(record(log, "used")).and_then(body)),
        seed,
        success=on_path(path, lambda: 1),
    )
    assert exit == expected_exit(outcome, me)
    assert resource.acquired == 1
    assert resource.released == [exit]
    assert log == ["acquire resource", "used", "release resource"]


@each_path
def test_acquire_release_gives_the_acquired_value_to_the_rest(path: Path) -> None:
    resource = Resource(path=path)
    assert run_sync(Effect.scoped(resource.scoped().map(lambda r: r.name))) == "resource"


@each_path
def test_the_release_runs_when_the_scope_closes_not_when_acquire_release_returns(
    path: Path,
) -> None:
    log: list[str] = []
    resource = Resource(log=log, path=path)
    program = Effect.scoped(
        resource.scoped().flat_map(lambda r: record(log, f"use {r.name}").as_(r.name.upper()))
    )
    assert run_sync(program) == "RESOURCE"
    assert log == ["acquire resource", "use resource", "release resource"]


def test_a_failed_acquire_registers_no_release() -> None:
    released: list[str] = []
    acquire: Effect[str, str] = Effect.fail("could not acquire")
    program = Effect.scoped(Effect.acquire_release(acquire, lambda r, exit: record(released, r)))
    assert run_sync_exit(program) == Failure(Fail("could not acquire"))
    assert released == []


@each_path
def test_an_acquire_that_dies_registers_no_release_and_the_earlier_ones_are_released(
    path: Path,
) -> None:
    log: list[Any] = []
    first = Effect.acquire_release(acquiring(path, log, "first"), recording_release(log, path))

    def explode() -> str:
        raise ACQUIRE_DEFECT

    broken = Effect.acquire_release(on_path(path, explode), recording_release(log, path))
    after: Effect[None, Never, Scope] = record(log, "after the broken acquire")

    exit = run_sync_exit(Effect.scoped(first.and_then(broken).and_then(after)))

    assert exit == Failure(Die(ACQUIRE_DEFECT))
    assert log == ["acquire first", ("first", exit)]


def test_several_resources_are_released_in_reverse_order() -> None:
    log: list[str] = []
    first, second, third = (Resource(name, log) for name in ("first", "second", "third"))
    run_sync(Effect.scoped(first.scoped().and_then(second.scoped()).and_then(third.scoped())))
    assert log == [
        "acquire first",
        "acquire second",
        "acquire third",
        "release third",
        "release second",
        "release first",
    ]


AcquireKind = Literal["sync", "succeed", "map", "flat_map", "suspend", "yield"]
ACQUIRE_KINDS: list[AcquireKind] = ["sync", "succeed", "map", "flat_map", "suspend", "yield"]
each_acquire_kind = pytest.mark.parametrize("kind", ACQUIRE_KINDS)


def acquire_of(kind: AcquireKind, log: list[Any], name: str) -> Effect[str]:
    """An acquire of `name` that logs `acquire <name>`, built in one of six ways: a lone
    `Effect.sync` (which the runtime may run as one atomic step), or longer effects."""
    acquires: dict[AcquireKind, Effect[str]] = {
        "sync": acquiring("sync", log, name),
        "succeed": record(log, f"acquire {name}").and_then(Effect.succeed(name)),
        "map": Effect.succeed(name).map(lambda n: logged(log, f"acquire {n}", n)),
        "flat_map": Effect.unit().flat_map(lambda _: acquiring("sync", log, name)),
        "suspend": Effect.suspend(lambda: acquiring("sync", log, name)),
        "yield": acquiring("effectful", log, name),
    }
    return acquires[kind]


@pytest.mark.parametrize("body_fails", [False, True], ids=["success", "failure"])
@pytest.mark.parametrize("first_kind", ACQUIRE_KINDS)
def test_resources_are_released_last_acquired_first_however_each_was_acquired(
    first_kind: AcquireKind, body_fails: bool
) -> None:
    log: list[Any] = []

    def resource(kind: AcquireKind, name: str) -> Effect[str, Never, Scope]:
        return Effect.acquire_release(
            acquire_of(kind, log, name), lambda r, exit: record(log, (f"release {r}", exit))
        )

    # Alternate the acquire kinds, starting with `first_kind`.
    start = ACQUIRE_KINDS.index(first_kind)
    names = [f"r{i}" for i in range(len(ACQUIRE_KINDS) + 2)]
    chain: Effect[Any, Never, Scope] = Effect.unit()
    for i, name in enumerate(names):
        chain = chain.and_then(resource(ACQUIRE_KINDS[(start + i) % len(ACQUIRE_KINDS)], name))
    failing: Effect[int, str] = Effect.fail("body failed")
    body: Effect[int, str, Scope] = chain.and_then(failing if body_fails else Effect.succeed(7))

    exit = run_sync_exit(Effect.scoped(body))

    assert exit == (Failure(Fail("body failed")) if body_fails else Success(7))
    acquired = [f"acquire {name}" for name in names]
    released = [(f"release {name}", exit) for name in reversed(names)]
    assert log == acquired + released


@each_acquire_kind
def test_acquire_release_outside_any_scope_is_a_defect_that_points_to_effect_scoped(
    kind: AcquireKind,
) -> None:
    log: list[Any] = []
    resource = Effect.acquire_release(acquire_of(kind, log, "r"), recording_release(log))

    defect = only_defect(run_sync_exit(resource))  # type: ignore[arg-type]

    assert isinstance(defect, LookupError)
    assert "Effect.scoped" in str(defect)
    assert log == []  # nothing acquired without a scope to release it in


@each_path
def test_acquire_release_after_a_top_level_effect_scoped_ended_has_no_scope_again(
    path: Path,
) -> None:
    log: list[Any] = []
    resource = Effect.acquire_release(acquiring(path, log, "r"), recording_release(log, path))
    program = Effect.scoped(Scope.get()).and_then(resource)

    defect = only_defect(run_sync_exit(program))  # type: ignore[arg-type]

    assert isinstance(defect, LookupError)
    assert "Effect.scoped" in str(defect)
    assert log == []


@each_path
def test_acquire_release_in_an_uninterruptible_region_is_released_like_any_other(
    path: Path,
) -> None:
    released: list[Any] = []
    resource = Effect.acquire_release(on_path(path, lambda: "r"), recording_release(released, path))
    assert run_sync(Effect.scoped(resource.uninterruptible())) == "r"
    assert released == [("r", Success("r"))]


def test_a_failing_release_does_not_stop_the_other_releases() -> None:
    log: list[str] = []
    first, third = Resource("first", log), Resource("third", log)
    failing = Effect.acquire_release(
        Effect.succeed("second"),
        lambda r, exit: record(log, "release second").and_then(Effect.die(RELEASE_DEFECT)),
    )
    exit = run_sync_exit(Effect.scoped(first.scoped().and_then(failing).and_then(third.scoped())))
    assert exit == Failure(Die(RELEASE_DEFECT))
    assert log[-3:] == ["release third", "release second", "release first"]


@each_seed
def test_acquire_is_uninterruptible_and_an_interrupt_waits_for_it(seed: int) -> None:
    log: list[str] = []
    seen: list[Exit[Any, Any]] = []
    started = Latch()
    slow_acquire = (
        started.open().and_then(Effect.sleep(5)).and_then(record(log, "acquired")).as_("connection")
    )
    resource = Effect.acquire_release(
        slow_acquire,
        lambda c, exit: record(log, f"released {c}").and_then(
            Effect.sync(lambda: seen.append(exit))
        ),
    )

    @gen
    def program() -> Do[tuple[Exit[Any, Any] | None, list[str], Exit[None, Any], FiberId]]:
        fiber = yield from Effect.scoped(
            resource.and_then(record(log, "used")).and_then(Effect.never())
        ).fork()
        yield from started.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(4)
        during = yield from interrupter.poll()
        log_during = list(log)
        yield from TestClock.adjust(1)
        exit = yield from interrupter.join()
        return during, log_during, exit, interrupter.id

    during, log_during, exit, interruptor = run_seeded(TestClock.provide(program()), seed)
    assert during is None
    assert log_during == []
    assert log == ["acquired", "released connection"]  # never "used": interrupted after
    assert exit == Failure(Interrupt(interruptor, Manual()))
    assert seen == [exit]


@each_seed
def test_an_interrupt_racing_acquire_releases_exactly_what_was_acquired(seed: int) -> None:
    resource = Resource()
    slow_acquire = yields(seed % 4).and_then(resource.acquire())

    @gen
    def program() -> Do[Exit[None, Any]]:
        scoped = Effect.scoped(Effect.acquire_release(slow_acquire, resource.release).as_unit())
        fiber = yield from scoped.fork()
        yield from yields(seed % 3)
        return (yield from fiber.interrupt())

    run_seeded(program(), seed)
    assert resource.acquired in (0, 1)
    assert len(resource.released) == resource.acquired


def test_a_resource_in_a_fiber_stopped_by_a_timeout_is_released() -> None:
    resource = Resource()

    @gen
    def program() -> Do[tuple[Exit[None, TimeoutError], float]]:
        work = Effect.scoped(resource.scoped().and_then(Effect.sleep(10)))
        fiber = yield from work.timeout(1).exit().fork()
        yield from TestClock.adjust(1)
        exit = yield from fiber.join()
        return exit, (yield from Clock.now())

    exit, now = run_sync(TestClock.provide(program()))
    assert now == 1.0
    assert isinstance(exit, Failure)
    [error] = exit.cause.failures()
    assert isinstance(error, TimeoutError)
    assert resource.acquired == 1
    [released_with] = resource.released
    assert isinstance(released_with, Failure)
    assert [i.reason for i in released_with.cause.interruptions()] == [Timeout(1)]


def test_a_timeout_waits_for_the_release_of_what_was_acquired() -> None:
    log: list[str] = []
    slow_release = Effect.acquire_release(
        Effect.succeed("conn"),
        lambda c, exit: Effect.sleep(2).and_then(record(log, "released")),
    )

    @gen
    def program() -> Do[tuple[list[str], bool]]:
        work = Effect.scoped(slow_release.and_then(Effect.never()))
        fiber = yield from work.timeout(1).either().fork()
        yield from TestClock.adjust(2)  # timed out at 1; the release sleeps until 3
        returned_before_release = (yield from fiber.poll()) is not None
        yield from TestClock.adjust(1)
        result = yield from fiber.join()
        return list(log), returned_before_release and result.failure() is not None

    log_at_return, returned_early = run_sync(TestClock.provide(program()))
    assert not returned_early
    assert log_at_return == ["released"]


# -- where finalizers run: under the fiber refs they were registered with --------------

CALLER: FiberRef[str] = FiberRef("outer", "caller")

How = Literal["acquire_release", "add_finalizer"]
each_how = pytest.mark.parametrize("how", ["acquire_release", "add_finalizer"])


def registered(how: How, path: Path, seen: list[str], label: str) -> Effect[None, Never, Scope]:
    """A finalizer, registered along `path`, that records the CALLER it runs under."""
    release = CALLER.get().flat_map(
        lambda who: on_path(path, lambda: seen.append(f"{label}:{who}"))
    )
    if how == "acquire_release":
        return Effect.acquire_release(
            on_path(path, lambda: label), lambda _r, _e: release
        ).as_unit()
    return Effect.add_finalizer(lambda _exit: release)


@each_how
@each_path
@each_outcome
def test_a_finalizer_runs_under_the_fiber_refs_of_where_it_was_registered(
    how: How, path: Path, outcome: Outcome
) -> None:
    """Whoever closes the scope, and however the body ended: a release reads what was
    set (`locally`) where its resource was acquired, the others what was set where
    they were."""
    seen: list[str] = []

    def wrap(body: Effect[int, str]) -> Effect[int, str]:
        registering = (
            CALLER.locally("inner", registered(how, path, seen, "first"))
            .and_then(registered(how, path, seen, "second"))
            .and_then(CALLER.locally("later", registered(how, path, seen, "third")))
        )
        return CALLER.locally("outer", Effect.scoped(registering.and_then(body)))

    exit, interruptor = run_wrapped(outcome, wrap)
    assert exit == expected_exit(outcome, interruptor)
    assert seen == ["third:later", "second:outer", "first:inner"]


@each_how
@each_path
def test_a_lone_finalizer_runs_under_the_fiber_refs_it_was_registered_with(
    how: How, path: Path
) -> None:
    seen: list[str] = []
    run_sync(Effect.scoped(CALLER.locally("inner", registered(how, path, seen, "only"))))
    assert seen == ["only:inner"]


@each_path
def test_a_parallel_scopes_finalizers_run_under_the_refs_they_were_registered_with(
    path: Path,
) -> None:
    seen: list[str] = []

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make(ExecutionStrategy.parallel)
        yield from scope.extend(CALLER.locally("a", registered("acquire_release", path, seen, "1")))
        yield from scope.extend(CALLER.locally("b", registered("add_finalizer", path, seen, "2")))
        yield from scope.close(Exit.unit())

    run_sync(program())
    assert sorted(seen) == ["1:a", "2:b"]


def test_a_finalizer_run_by_another_fiber_closing_the_scope_sees_its_own_refs() -> None:
    seen: list[str] = []

    @gen
    def program() -> Do[None]:
        scope = yield from Scope.make()
        yield from scope.extend(
            CALLER.locally("owner", registered("acquire_release", "effectful", seen, "r"))
        )
        closer = yield from CALLER.locally("closer", scope.close(Exit.unit())).fork()
        yield from closer.join()

    run_sync(program())
    assert seen == ["r:owner"]


def test_a_release_logs_with_the_annotations_of_where_it_was_acquired(
    effectpy_logs: Collect,
) -> None:
    release = Effect.log("closing connection")
    acquire = Effect.acquire_release(Effect.sync(lambda: "conn"), lambda _c, _e: release)
    run_sync(Effect.scoped(acquire.annotate_logs(request_id="r-7").and_then(Effect.log("done"))))
    by_message = {r.getMessage(): r.__dict__["annotations"] for r in effectpy_logs.records}
    assert by_message == {"done": {}, "closing connection": {"request_id": "r-7"}}


def test_a_finalizer_does_not_leak_its_refs_to_the_fiber_after_it() -> None:
    acquire = Effect.acquire_release(
        Effect.yield_now().as_("r"), lambda _r, _e: CALLER.set("set by the release")
    )
    program = Effect.scoped(CALLER.locally("inner", acquire)).and_then(CALLER.get())
    assert run_sync(CALLER.locally("outer", program)) == "outer"


# -- acquiring into a scope that is closed --------------------------------------------


@each_closing_exit
@each_acquire_kind
def test_acquiring_into_a_closed_scope_releases_at_once_with_the_stored_exit_and_returns_it(
    kind: AcquireKind, closed_with: Exit[Any, Any]
) -> None:
    released: list[tuple[str, Exit[Any, Any]]] = []
    resource = Effect.acquire_release(acquire_of(kind, [], "r"), recording_release(released))

    @gen
    def closer(scope: CloseableScope) -> Do[None]:
        yield from scope.close(closed_with)

    @gen
    def program() -> Do[tuple[str, list[tuple[str, Exit[Any, Any]]], int]]:
        scope = yield from Scope.make()
        yield from (yield from closer(scope).fork()).join()  # closed by another fiber
        value = yield from scope.extend(resource)
        return value, list(released), scope.finalizer_count()

    value, released_on_return, left = run_sync(program())
    assert value == "r"
    assert released_on_return == [("r", closed_with)]  # before `extend` returned
    assert released == [("r", closed_with)]  # and only once
    assert left == 0


@each_seed
def test_an_acquire_still_running_when_another_fiber_closes_the_scope_is_released_at_its_end(
    seed: int,
) -> None:
    released: list[tuple[str, Exit[Any, Any]]] = []
    started, gate = Latch(), Latch()
    slow_acquire = started.open().and_then(gate.wait()).as_("r")
    resource = Effect.acquire_release(slow_acquire, recording_release(released))
    closed_with: Exit[None, str] = Exit.fail("closed")

    @gen
    def program() -> Do[tuple[str, list[tuple[str, Exit[Any, Any]]]]]:
        scope = yield from Scope.make()
        acquirer = yield from scope.extend(resource).fork()
        yield from started.wait()
        yield from scope.close(closed_with)
        released_by_close = list(released)
        yield from gate.open()
        return (yield from acquirer.join()), released_by_close

    value, released_by_close = run_seeded(program(), seed)
    assert value == "r"
    assert released_by_close == []
    assert released == [("r", closed_with)]


@each_path
@each_seed
def test_acquires_in_many_fibers_sharing_a_scope_are_each_released_once(
    path: Path, seed: int
) -> None:
    released: list[int] = []

    def resource(i: int) -> Effect[int, Never, Scope]:
        return Effect.acquire_release(
            on_path(path, lambda: i), lambda r, exit: on_path(path, lambda: released.append(r))
        )

    @gen
    def program() -> Do[list[int]]:
        scope = yield from Scope.make()
        fibers = []
        for i in range(20):
            fibers.append((yield from scope.extend(resource(i)).fork()))
        yield from Effect.yield_now()
        closer = yield from scope.close(Exit.unit()).fork()
        values = []
        for fiber in fibers:
            values.append((yield from fiber.join()))
        yield from closer.join()
        return values

    values = Runtime(seed=seed, budget=3).run_sync(program())
    assert values == list(range(20))
    assert sorted(released) == list(range(20))


# -- acquire_use_release --------------------------------------------------------------


@each_outcome
def test_acquire_use_release_releases_exactly_once_with_uses_exit(outcome: Outcome) -> None:
    resource = Resource()
    exit, me = run_wrapped(
        outcome,
        lambda body: Effect.acquire_use_release(
            resource.acquire(), lambda r: body, resource.release
        ),
    )
    assert exit == expected_exit(outcome, me)
    assert resource.acquired == 1
    assert resource.released == [exit]


def test_acquire_use_release_gives_the_resource_to_use_and_returns_uses_value() -> None:
    resource = Resource()
    program = Effect.acquire_use_release(
        resource.acquire(), lambda r: Effect.succeed(r.name.upper()), resource.release
    )
    assert run_sync(program) == "RESOURCE"  # type: ignore[arg-type]  # an Any on purpose
    assert resource.released == [Success("RESOURCE")]


@each_seed
def test_acquire_use_release_use_is_interruptible(seed: int) -> None:
    resource = Resource()

    @gen
    def program() -> Do[tuple[Exit[None, Any], FiberId]]:
        started = Latch()
        fiber = yield from Effect.acquire_use_release(
            resource.acquire(), lambda r: started.open().and_then(Effect.never()), resource.release
        ).fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()  # would wait forever if use were shielded
        return exit, (yield from Effect.fiber_id())

    exit, me = run_seeded(program(), seed)
    assert exit == Failure(Interrupt(me, Manual()))
    assert resource.released == [exit]


@each_seed
def test_acquire_use_release_acquire_is_uninterruptible(seed: int) -> None:
    log: list[str] = []
    started = Latch()
    slow_acquire = started.open().and_then(Effect.sleep(3)).and_then(record(log, "acquired"))

    @gen
    def program() -> Do[Exit[Any, Any] | None]:
        fiber = yield from Effect.acquire_use_release(
            slow_acquire,
            lambda _: record(log, "used"),
            lambda _, exit: record(log, "released"),
        ).fork()
        yield from started.wait()
        interrupter = yield from fiber.interrupt().fork()
        yield from TestClock.adjust(2)
        during = yield from interrupter.poll()
        yield from TestClock.adjust(1)
        yield from interrupter.join()
        return during

    assert run_seeded(TestClock.provide(program()), seed) is None
    assert log == ["acquired", "released"]


def test_acquire_use_release_when_use_and_release_fail_keeps_both_in_order() -> None:
    failing_use: Effect[int, str] = Effect.fail("use failed")
    program = Effect.acquire_use_release(
        Effect.succeed("r"), lambda r: failing_use, lambda r, exit: Effect.die(RELEASE_DEFECT)
    )
    assert run_sync_exit(program) == Failure(Sequential(Fail("use failed"), Die(RELEASE_DEFECT)))


def test_acquire_use_release_when_use_dies_and_release_fails_keeps_both_in_order() -> None:
    program = Effect.acquire_use_release(
        Effect.succeed("r"),
        lambda r: Effect.die(BODY_DEFECT),
        lambda r, exit: Effect.die(RELEASE_DEFECT),
    )
    assert run_sync_exit(program) == Failure(Sequential(Die(BODY_DEFECT), Die(RELEASE_DEFECT)))


def test_acquire_use_release_when_only_release_fails_fails_with_the_release_defect() -> None:
    program = Effect.acquire_use_release(
        Effect.succeed("r"), lambda r: Effect.succeed(1), lambda r, exit: Effect.die(RELEASE_DEFECT)
    )
    assert run_sync_exit(program) == Failure(Die(RELEASE_DEFECT))


def test_acquire_use_release_when_use_is_interrupted_and_release_fails_keeps_both() -> None:
    @gen
    def program() -> Do[tuple[Exit[None, Any], FiberId]]:
        started = Latch()
        fiber = yield from Effect.acquire_use_release(
            Effect.succeed("r"),
            lambda r: started.open().and_then(Effect.never()),
            lambda r, exit: Effect.die(RELEASE_DEFECT),
        ).fork()
        yield from started.wait()
        exit = yield from fiber.interrupt()
        return exit, (yield from Effect.fiber_id())

    exit, me = run_sync(program())
    assert exit == Failure(Sequential(Interrupt(me, Manual()), Die(RELEASE_DEFECT)))


def test_acquire_use_release_with_a_failed_acquire_neither_uses_nor_releases() -> None:
    log: list[str] = []
    acquire: Effect[str, str] = Effect.fail("no resource")
    program = Effect.acquire_use_release(
        acquire, lambda r: record(log, "used"), lambda r, exit: record(log, "released")
    )
    assert run_sync_exit(program) == Failure(Fail("no resource"))
    assert log == []


def test_acquire_use_release_releases_before_what_follows() -> None:
    log: list[str] = []
    program = Effect.acquire_use_release(
        Effect.succeed("r"), lambda r: record(log, "used"), lambda r, exit: record(log, "released")
    ).and_then(record(log, "after"))
    run_sync(program)
    assert log == ["used", "released", "after"]


# -- bad input is refused when the effect is built ------------------------------------

NOT_EFFECTS: list[Any] = [42, None, lambda: "resource", "resource"]
each_not_effect = pytest.mark.parametrize(
    "not_effect", NOT_EFFECTS, ids=["int", "none", "function", "str"]
)


@each_not_effect
def test_acquire_release_with_a_non_effect_acquire_is_a_type_error_when_built(
    not_effect: Any,
) -> None:
    with pytest.raises(TypeError, match=r"Effect\.acquire_release expects an Effect"):
        Effect.acquire_release(not_effect, lambda r, exit: Effect.unit())


@each_not_effect
def test_acquire_use_release_with_a_non_effect_acquire_is_a_type_error_when_built(
    not_effect: Any,
) -> None:
    with pytest.raises(TypeError, match=r"Effect\.acquire_use_release expects an Effect"):
        Effect.acquire_use_release(not_effect, Effect.succeed, lambda r, exit: Effect.unit())


# -- fibers owned by a scope ----------------------------------------------------------


def stops_recorded(seen: list[Interrupt], started: Latch) -> Effect[None]:
    """Open `started`, then wait forever; record the interruptions that stop it."""
    return (
        started.open()
        .and_then(Effect.never())
        .on_interrupt(lambda stops: Effect.sync(lambda: seen.extend(stops)))
    )


@each_seed
def test_fork_scoped_fibers_are_interrupted_with_scope_closed_when_the_scope_closes(
    seed: int,
) -> None:
    seen: list[Interrupt] = []

    @gen
    def body() -> Do[Fiber[None, Any], Never, Scope]:
        started = Latch()
        fiber = yield from stops_recorded(seen, started).fork_scoped()
        yield from started.wait()
        return fiber

    fiber = run_seeded(Effect.scoped(body()), seed)
    assert [stop.reason for stop in seen] == [ScopeClosed(None)]
    exit = run_sync(fiber.await_())
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()


@each_seed
def test_a_fork_scoped_fiber_outlives_the_fiber_that_forked_it(seed: int) -> None:
    seen: list[Interrupt] = []

    @gen
    def program() -> Do[tuple[Exit[Any, Any] | None, list[Interrupt]]]:
        scope = yield from Scope.make(name="request")
        started = Latch()
        forker = yield from scope.extend(stops_recorded(seen, started).fork_scoped()).fork()
        worker = yield from forker.join()
        yield from started.wait()
        yield from yields(5)
        while_open = yield from worker.poll()
        seen_while_open = list(seen)
        yield from scope.close(Exit.unit())
        return while_open, seen_while_open

    while_open, seen_while_open = run_seeded(program(), seed)
    assert while_open is None
    assert seen_while_open == []
    assert [stop.reason for stop in seen] == [ScopeClosed("request")]


@each_seed
def test_fork_in_ties_the_fiber_to_the_given_scope(seed: int) -> None:
    seen: list[Interrupt] = []

    @gen
    def program() -> Do[tuple[int, Exit[Any, Any]]]:
        scope = yield from Scope.make(name="jobs")
        started = Latch()
        fiber = yield from stops_recorded(seen, started).fork_in(scope)
        yield from started.wait()
        count = scope.finalizer_count()
        yield from scope.close(Exit.unit())
        exit = yield from fiber.poll()  # close waited for the fiber: it is over
        assert exit is not None
        return count, exit

    count, exit = run_seeded(program(), seed)
    assert count == 1
    assert [stop.reason for stop in seen] == [ScopeClosed("jobs")]
    assert isinstance(exit, Failure) and exit.cause.is_interrupted_only()


@each_seed
def test_closing_a_scope_waits_for_its_fibers_finalizers(seed: int) -> None:
    log: list[str] = []

    @gen
    def program() -> Do[float]:
        scope = yield from Scope.make()
        started = Latch()
        worker = (
            started.open()
            .and_then(Effect.never())
            .ensuring(Effect.sleep(2).and_then(record(log, "worker cleaned up")))
        )
        yield from worker.fork_in(scope)
        yield from started.wait()
        closing = yield from scope.close(Exit.unit()).and_then(record(log, "closed")).fork()
        yield from TestClock.adjust(2)
        yield from closing.join()
        return (yield from Clock.now())

    assert run_seeded(TestClock.provide(program()), seed) == 2.0
    assert log == ["worker cleaned up", "closed"]


@each_seed
def test_a_fork_in_fiber_that_ends_on_its_own_leaves_no_finalizer_behind(seed: int) -> None:
    @gen
    def program() -> Do[tuple[int, int, Any]]:
        scope = yield from Scope.make()
        release = Latch()
        fiber = yield from release.wait().as_("done").fork_in(scope)
        while_running = scope.finalizer_count()
        yield from release.open()
        value = yield from fiber.join()
        yield from yields(3)
        after = scope.finalizer_count()
        yield from scope.close(Exit.unit())
        return while_running, after, value

    assert run_seeded(program(), seed) == (1, 0, "done")


@each_seed
def test_many_fork_in_fibers_that_end_on_their_own_leave_no_finalizers(seed: int) -> None:
    @gen
    def program() -> Do[int]:
        scope = yield from Scope.make()
        fibers = yield from Effect.for_each(
            range(50), lambda i: yields(i % 4).as_(i).fork_in(scope)
        )
        yield from Effect.for_each(fibers, lambda fiber: fiber.join())
        yield from yields(3)
        count = scope.finalizer_count()
        yield from scope.close(Exit.unit())
        return count

    assert run_seeded(program(), seed) == 0


def test_fork_in_a_closed_scope_interrupts_the_fiber_at_once() -> None:
    log: list[str] = []

    @gen
    def program() -> Do[Exit[None, Any]]:
        scope = yield from Scope.make(name="gone")
        yield from scope.close(Exit.unit())
        fiber = yield from record(log, "ran").fork_in(scope)
        return (yield from fiber.await_())

    exit = run_sync(program())
    assert isinstance(exit, Failure)
    assert [stop.reason for stop in exit.cause.interruptions()] == [ScopeClosed("gone")]
    assert log == []


def test_a_scoped_fibers_failure_does_not_fail_the_scope() -> None:
    @gen
    def program() -> Do[Exit[Any, Any]]:
        scope = yield from Scope.make()
        failing: Effect[None, str] = Effect.fail("worker failed")
        fiber = yield from failing.fork_in(scope)
        yield from fiber.await_()
        return (yield from scope.close(Exit.unit()).exit())

    assert run_sync(program()) == Success(None)


def test_fork_scoped_fibers_are_stopped_before_earlier_resources_are_released() -> None:
    log: list[str] = []
    resource = Resource(log=log)

    @gen
    def body() -> Do[None, Never, Scope]:
        yield from resource.scoped()
        started = Latch()
        yield from (
            started.open()
            .and_then(Effect.never())
            .ensuring(record(log, "worker stopped"))
            .fork_scoped()
        )
        yield from started.wait()
        return None

    run_sync(Effect.scoped(body()))
    assert log == ["acquire resource", "worker stopped", "release resource"]
