"""The typing contract of schedules, retry/repeat, sharing work (dedupe, cached,
cached_function) and structured convergence (branch/spawn).

A line with `# type: ignore[code]` is a line mypy must reject with that code; under
`warn_unused_ignores` a rejection that went missing fails the check.
"""

from __future__ import annotations

from typing import Never, assert_type

from effectpy import Effect, Fiber, Schedule, Singleflight, cached_function, run_sync
from effectpy.structured import Spawned, branch, spawn


class Database:
    """A service marker: an effect that needs it has `Database` in `R`."""


def load_user(user_id: int) -> Effect[str, KeyError, Database]:
    return Effect.fail(KeyError(user_id))


def flaky() -> Effect[int, ConnectionError]:
    return Effect.fail(ConnectionError("refused"))


def fetch_posts(user_id: int) -> Effect[list[str], TimeoutError]:
    return Effect.succeed([f"post of {user_id}"])


# -- schedules: outputs and inputs ---------------------------------------------------------

assert_type(Schedule.recurs(3), Schedule[int, object])
assert_type(Schedule.spaced(1.0), Schedule[int, object])
assert_type(Schedule.fixed(1.0), Schedule[int, object])
assert_type(Schedule.exponential(0.1), Schedule[float, object])
assert_type(Schedule.fibonacci(0.1), Schedule[float, object])
assert_type(Schedule.exponential_backoff(), Schedule[float, object])
assert_type(Schedule.spaced(1.0).jittered(), Schedule[int, object])
assert_type(Schedule.spaced(1.0).up_to(10.0), Schedule[int, object])
assert_type(Schedule.recurs(3).map(str), Schedule[str, object])
assert_type(
    Schedule.exponential(0.1).intersect(Schedule.recurs(3)), Schedule[tuple[float, int], object]
)
assert_type(
    Schedule.spaced(1.0).union(Schedule.fibonacci(1.0)), Schedule[tuple[int, float], object]
)
assert_type(Schedule.recurs(1).and_then(Schedule.exponential(1.0)), Schedule[int | float, object])
assert_type(Schedule.recurs(3).while_output(lambda n: n < 2), Schedule[int, object])
assert_type(Schedule.recurs(3).until_output(lambda n: n > 2), Schedule[int, object])
assert_type(Schedule.recurs(3).tap_output(lambda n: Effect.unit()), Schedule[int, object])


def is_retryable(error: ConnectionError) -> bool:
    return not isinstance(error, ConnectionRefusedError)


def connection_policy() -> Schedule[int, ConnectionError]:
    # A schedule that reads any input is a schedule that reads connection errors (the
    # input is contravariant): annotating it says which inputs it will be given.
    return Schedule.recurs(3)


# `while_input`, `until_input` and `tap_input` take a predicate on the schedule's input:
# on a schedule of connection errors the lambda's parameter is a `ConnectionError`.
assert_type(connection_policy().while_input(is_retryable), Schedule[int, ConnectionError])
assert_type(
    connection_policy().while_input(lambda e: e.errno is not None), Schedule[int, ConnectionError]
)
assert_type(connection_policy().until_input(is_retryable), Schedule[int, ConnectionError])
assert_type(connection_policy().tap_input(lambda e: Effect.unit()), Schedule[int, ConnectionError])
connection_policy().while_input(lambda e: e.upper() == "")  # type: ignore[attr-defined]
assert_type(Schedule.recurs(3).while_input(lambda e: True), Schedule[int, object])

# A schedule of connection errors fits `retry` on an effect failing with
# `ConnectionError`, and not one that fails with another error.
only_retryable = connection_policy().while_input(is_retryable)
assert_type(flaky().retry(only_retryable), Effect[int, ConnectionError, Never])
load_user(1).retry(only_retryable)  # type: ignore[arg-type]
# Combined with a general schedule (as the receiver), the narrower input is kept.
assert_type(
    only_retryable.intersect(Schedule.spaced(1.0)), Schedule[tuple[int, int], ConnectionError]
)
assert_type(only_retryable.union(Schedule.spaced(1.0)), Schedule[tuple[int, int], ConnectionError])
assert_type(only_retryable.and_then(Schedule.spaced(1.0)), Schedule[int, ConnectionError])

# Known holes: the combinators bind the input type from the receiver alone (a self-type),
# so a general receiver does not narrow. Both lines should be accepted and give
# `Schedule[..., ConnectionError]`; mypy (and pyright) reject them.
Schedule.recurs(3).while_input(is_retryable)  # type: ignore[arg-type]
Schedule.spaced(1.0).intersect(only_retryable)  # type: ignore[arg-type]


# -- retry keeps E and R; retry_or_else replaces E; repeat gives the schedule's output -----

assert_type(flaky().retry(Schedule.recurs(3)), Effect[int, ConnectionError, Never])
assert_type(load_user(1).retry(times=3), Effect[str, KeyError, Database])
assert_type(
    load_user(1).retry(Schedule.exponential_backoff(), while_=lambda e: e.args != ()),
    Effect[str, KeyError, Database],
)
load_user(1).retry(times=3, while_=is_retryable)  # type: ignore[arg-type]


def give_up(error: ConnectionError, tries: int | None) -> Effect[int]:
    return Effect.succeed(-1)


assert_type(flaky().retry_or_else(Schedule.recurs(3), give_up), Effect[int, Never, Never])
assert_type(
    load_user(1).retry_or_else(Schedule.recurs(2), lambda e, n: Effect.fail(ValueError(e))),
    Effect[str, ValueError, Database],
)
assert_type(load_user(1).repeat(Schedule.recurs(2)), Effect[int, KeyError, Database])
assert_type(
    load_user(1).repeat(Schedule.spaced(1.0).while_input(lambda name: name != "")),
    Effect[int, KeyError, Database],
)
run_sync(flaky().retry(times=3))  # type: ignore[arg-type]
assert_type(run_sync(flaky().retry_or_else(Schedule.recurs(3), give_up)), int)


# -- dedupe and cached keep A, E and R ------------------------------------------------------

assert_type(Effect.dedupe("user:1", load_user(1)), Effect[str, KeyError, Database])
assert_type(Singleflight().run("user:1", load_user(1)), Effect[str, KeyError, Database])
assert_type(Effect.cached(load_user(1)), Effect[Effect[str, KeyError, Database], Never, Never])
assert_type(
    Effect.cached_with_ttl(load_user(1), 60.0),
    Effect[Effect[str, KeyError, Database], Never, Never],
)
assert_type(Effect.cached(flaky()).flat_map(lambda once: once), Effect[int, ConnectionError, Never])

load_user_cached = cached_function(load_user, ttl=60.0)
assert_type(load_user_cached(1), Effect[str, KeyError, Database])
load_user_cached("1")  # type: ignore[arg-type]
assert_type(
    cached_function(fetch_posts, key=lambda user_id: user_id % 10)(3).map(len),
    Effect[int, TimeoutError, Never],
)


# The key function takes the same arguments and must give a hashable key.
def key_as_list(user_id: int) -> list[int]:
    return [user_id]


cached_function(fetch_posts, key=key_as_list)  # type: ignore[arg-type]


# -- spawn records the spawned error as a requirement; branch turns it into an error --------


def entry() -> Effect[int, KeyError]:
    return Effect.fail(KeyError("entry"))


def audit() -> Effect[str, ValueError]:
    return Effect.fail(ValueError("audit"))


spawned = spawn(audit())
assert_type(spawned, Effect[Fiber[str, ValueError], Never, Spawned[ValueError]])
scope_body = spawned.and_then(entry())
assert_type(scope_body, Effect[int, KeyError, Spawned[ValueError]])
assert_type(branch(scope_body), Effect[int, KeyError | ValueError, Never])
assert_type(
    branch(scope_body, concurrency=3, name="save"), Effect[int, KeyError | ValueError, Never]
)
# A spawned fiber's handle keeps its own types: joining it adds its error to the entry.
assert_type(branch(spawned.flat_map(lambda fiber: fiber.join())), Effect[str, ValueError, Never])
# Two spawns with different errors: both end up in the branch's error. With the plugin
# the error is exactly `KeyError | ValueError | ConnectionError`; plain mypy solves
# `Spawned[E2]` against `Spawned[ValueError] | Spawned[ConnectionError]` by a join, so it
# gives their base class. Both are sound: the result fits the over-approximation.
two = spawn(audit()).and_then(spawn(flaky())).and_then(entry())
assert_type(two, Effect[int, KeyError, Spawned[ValueError] | Spawned[ConnectionError]])
converged: Effect[int, KeyError | Exception, Never] = branch(two)
same = spawn(audit()).and_then(spawn(audit())).and_then(entry())
assert_type(branch(same), Effect[int, KeyError | ValueError, Never])
# Nothing spawned: branch is the entry.
assert_type(branch(load_user(1)), Effect[str, KeyError, Database])
# spawn outside a branch is caught by the type checker: `Spawned[...]` is a requirement no
# runner accepts.
run_sync(spawned.as_unit())  # type: ignore[arg-type]
run_sync(branch(scope_body))  # type: ignore[arg-type]
assert_type(run_sync(branch(scope_body).either().as_(0)), int)
