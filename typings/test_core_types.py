"""The core typing contract: what mypy --strict infers for effects and their combinators,
and which programs the runners reject.

A line with `# type: ignore[code]` is a line mypy must reject with that code; under
`warn_unused_ignores` a rejection that went missing fails the check.
"""

from __future__ import annotations

from typing import Never, assert_type

from returns.result import Result

from effectpy import Effect, Exit, run_sync, run_sync_exit


class Database:
    """A service marker: an effect that needs it has `Database` in `R`."""


class Mailer:
    """A second service marker."""


def load_user(user_id: int) -> Effect[str, KeyError, Database]:
    return Effect.fail(KeyError(user_id))


def parse_age(text: str) -> Effect[int, ValueError, Mailer]:
    return Effect.fail(ValueError(text))


def pure_count() -> Effect[int]:
    return Effect.succeed(1)


def query() -> Effect[int, Never, Database]:
    return Effect.succeed(1)


def failing() -> Effect[int, ValueError]:
    return Effect.fail(ValueError("bad"))


# -- defaults: `Effect[int]` is pure ----------------------------------------------------

assert_type(Effect.succeed(1), Effect[int, Never, Never])
assert_type(Effect.fail(KeyError("k")), Effect[Never, KeyError, Never])
assert_type(pure_count(), Effect[int, Never, Never])


# -- sequencing: map keeps E and R, flat_map and zip widen them ---------------------------

assert_type(load_user(1).map(len), Effect[int, KeyError, Database])
assert_type(load_user(1).flat_map(parse_age), Effect[int, KeyError | ValueError, Database | Mailer])
assert_type(
    load_user(1).zip(parse_age("7")),
    Effect[tuple[str, int], KeyError | ValueError, Database | Mailer],
)
assert_type(load_user(1).and_then(pure_count()), Effect[int, KeyError, Database])
assert_type(pure_count().flat_map(lambda n: failing()), Effect[int, ValueError, Never])
assert_type(load_user(1).as_unit(), Effect[None, KeyError, Database])


# -- errors: catch_all replaces E; either and exit make the error a value -----------------


def recover(error: KeyError) -> Effect[str, ValueError]:
    return Effect.fail(ValueError(str(error)))


assert_type(load_user(1).catch_all(recover), Effect[str, ValueError, Database])
assert_type(load_user(1).catch_all(lambda e: Effect.succeed(0)), Effect[str | int, Never, Database])
assert_type(load_user(1).map_error(str), Effect[str, str, Database])
assert_type(load_user(1).either(), Effect[Result[str, KeyError], Never, Database])
assert_type(load_user(1).exit(), Effect[Exit[str, KeyError], Never, Database])
assert_type(failing().either(), Effect[Result[int, ValueError], Never, Never])


# -- attempt: the catch classes are the typed error ---------------------------------------

assert_type(Effect.attempt(lambda: int("1")), Effect[int, Exception, Never])
assert_type(Effect.attempt(lambda: int("1"), ValueError), Effect[int, ValueError, Never])
assert_type(Effect.attempt(lambda: int("1"), (ValueError,)), Effect[int, ValueError, Never])
assert_type(
    Effect.attempt(lambda: int("1"), (ValueError, KeyError)),
    Effect[int, ValueError | KeyError, Never],
)
Effect.attempt(lambda: 1, str)  # type: ignore[type-var]


# -- runners: only an effect with no unhandled error and no missing service runs ----------

assert_type(run_sync(pure_count()), int)
assert_type(run_sync(failing().either()), Result[int, ValueError])
assert_type(run_sync(failing().catch_all(lambda e: Effect.succeed(0))), int)
run_sync(failing())  # type: ignore[arg-type]
run_sync(query())  # type: ignore[arg-type]
run_sync(load_user(1).either())  # type: ignore[arg-type]

# run_sync_exit hands the typed error back in the Exit, but still needs every service.
assert_type(run_sync_exit(failing()), Exit[int, ValueError])
run_sync_exit(query())  # type: ignore[arg-type]
