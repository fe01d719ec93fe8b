"""effectpy showcase: typed errors, fibers, fail-fast concurrency, timeouts, causes.

Run it with `make demo`. Every step prints what it shows; the program ends by itself.
"""

from __future__ import annotations

import asyncio
import time

from effectpy import Cause, Do, Effect, gen, run_sync, run_sync_exit


class UserNotFound(Exception):
    """A typed error: part of the effect's type, handled explicitly."""


USERS = {1: "ada", 2: "grace", 3: "barbara"}


def fetch_user(user_id: int) -> Effect[str, UserNotFound]:
    """Simulated I/O: an asyncio coroutine, awaited by the effect."""

    async def call() -> str:
        await asyncio.sleep(0.01 * user_id)
        if user_id not in USERS:
            raise UserNotFound(f"no user {user_id}")
        return USERS[user_id]

    return Effect.try_promise(call, UserNotFound)


def cleanup(name: str) -> Effect[None]:
    return Effect.sync(lambda: print(f"  cleanup: {name}"))


@gen
def fan_out() -> Do[list[str], UserNotFound]:
    print("1. fetch three users concurrently (at most 2 at a time)")
    started = time.perf_counter()
    names = yield from Effect.for_each(
        [1, 2, 3], lambda uid: fetch_user(uid).ensuring(cleanup(f"user {uid}")), concurrency=2
    )
    print(f"  got {names} in {time.perf_counter() - started:.2f}s")
    return names


@gen
def fail_fast() -> Do[None]:
    print("2. one of four fails: the others are interrupted, their finalizers run")
    slow = [Effect.sleep(5).ensuring(cleanup(f"slow worker {i}")) for i in range(3)]
    failing = fetch_user(42).delay(0.02)
    exit = yield from Effect.all(*slow, failing, concurrency="unbounded").exit()
    print("  the cause, as effectpy reports it:")
    cause: Cause[object] = exit.match(on_success=lambda _: Cause.empty(), on_failure=lambda c: c)
    for line in cause.pretty().splitlines():
        print("   ", line)


@gen
def timeouts_and_races() -> Do[None]:
    print("3. a timeout interrupts slow work (reason: Timeout)")
    slow = Effect.sleep(10).on_interrupt(
        lambda stops: Effect.sync(lambda: print(f"  interrupted: {stops[0].reason}"))
    )
    result = yield from slow.timeout(0.05).either()
    print(f"  result: {result}")
    print("4. a race: the first success wins, the loser is interrupted")
    winner = yield from Effect.race(
        Effect.sleep(1).as_("replica A").ensuring(cleanup("replica A")),
        Effect.sleep(0.01).as_("replica B"),
    )
    print(f"  winner: {winner}")


@gen
def supervision() -> Do[None]:
    print("5. structured concurrency: a parent never leaks its children")
    fiber = yield from (
        Effect.never().ensuring(cleanup("orphan candidate")).fork().and_then(Effect.sleep(0.01))
    ).fork()
    yield from fiber.join()
    print("  the parent ended, and so did its child")


def main() -> None:
    started = time.perf_counter()
    run_sync(fan_out().catch_all(lambda e: Effect.succeed([str(e)])))
    run_sync(fail_fast())
    run_sync(timeouts_and_races())
    run_sync(supervision())
    exit = run_sync_exit(fetch_user(7))
    print("6. an unhandled typed error, as an Exit:", exit)
    print(f"done in {time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
