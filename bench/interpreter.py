"""The interpreter suite: the cost of the fiber loop itself, one bind at a time.

The workloads and their names come from the ZIO and cats-effect benchmark suites. Each
is written four ways:

* effectpy: the effect, run with `run_sync`;
* plain: ordinary Python functions, one call per bind (the floor: no effect system);
* asyncio: a chain of coroutines, one `await` per bind (what an asyncio program pays);
* returns: `Result` containers, one `bind`/`map`/`lash` per op (eager: nothing to run).

A peer gets a workload only when it has a faithful version of it; the table says why
when it does not.
"""

from __future__ import annotations

from collections.abc import Callable

from returns.result import Failure, Result, Success

from effectpy import Effect, run_sync

from .harness import register

SUITE = "interpreter"


class Boom(Exception):
    """The typed error of the attempt benchmarks."""


def _inc(n: int) -> int:
    return n + 1


# -- NarrowFlatMap: succeed(i + 1).flat_map(loop) until n ---------------------------------

NARROW = 10_000


def _narrow_effect(i: int) -> Effect[int]:
    if i < NARROW:
        return Effect.succeed(i + 1).flat_map(_narrow_effect)
    return Effect.succeed(i)


def narrow_effectpy() -> int:
    return run_sync(_narrow_effect(0))


def _pure(n: int) -> int:
    return n


def narrow_plain() -> int:
    i = 0
    while i < NARROW:
        i = _pure(i + 1)
    return i


async def _apure(n: int) -> int:
    return n


async def narrow_asyncio() -> int:
    i = 0
    while i < NARROW:
        i = await _apure(i + 1)
    return i


def _narrow_step(i: int) -> Result[int, Boom]:
    return Success(i + 1)


def narrow_returns() -> int:
    result: Result[int, Boom] = Success(0)
    for _ in range(NARROW):
        result = result.bind(_narrow_step)
    return result.unwrap()


narrow = register(
    SUITE,
    "NarrowFlatMap",
    ops=NARROW,
    expected=NARROW,
    summary="succeed(i + 1).flat_map(loop) until i reaches 10k: one bind per step",
)
narrow.add("effectpy", narrow_effectpy)
narrow.add("plain", narrow_plain)
narrow.add_async("asyncio", narrow_asyncio)
narrow.add("returns", narrow_returns, note="a loop of Result.bind (eager)")
narrow.require("asyncio", 4.0)


# -- DeepFlatMap: fib(20) through nested flat_maps ----------------------------------------

FIB_N = 20


def _fib_effect(n: int) -> Effect[int]:
    if n <= 1:
        return Effect.succeed(n)
    return _fib_effect(n - 1).flat_map(
        lambda a: _fib_effect(n - 2).flat_map(lambda b: Effect.succeed(a + b))
    )


def deep_effectpy() -> int:
    return run_sync(_fib_effect(FIB_N))


def _fib_plain(n: int) -> int:
    if n <= 1:
        return n
    a = _fib_plain(n - 1)
    b = _fib_plain(n - 2)
    return a + b


def deep_plain() -> int:
    return _fib_plain(FIB_N)


async def _fib_asyncio(n: int) -> int:
    if n <= 1:
        return n
    a = await _fib_asyncio(n - 1)
    b = await _fib_asyncio(n - 2)
    return a + b


async def deep_asyncio() -> int:
    return await _fib_asyncio(FIB_N)


def _fib_returns(n: int) -> Result[int, Boom]:
    if n <= 1:
        return Success(n)
    return _fib_returns(n - 1).bind(lambda a: _fib_returns(n - 2).bind(lambda b: Success(a + b)))


def deep_returns() -> int:
    return _fib_returns(FIB_N).unwrap()


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def _fib_binds(n: int) -> int:
    """Binds `_fib_effect(n)` performs: two per call with n > 1."""
    calls_above_one = [0, 0]
    for k in range(2, n + 1):
        calls_above_one.append(1 + calls_above_one[k - 1] + calls_above_one[k - 2])
    return 2 * calls_above_one[n]


deep = register(
    SUITE,
    "DeepFlatMap",
    ops=_fib_binds(FIB_N),
    expected=_fib(FIB_N),
    summary="fib(20) as fib(n-1).flat_map(a => fib(n-2).flat_map(b => succeed(a + b)))",
)
deep.add("effectpy", deep_effectpy)
deep.add("plain", deep_plain, note="plain recursion, one call per bind")
deep.add_async("asyncio", deep_asyncio, note="one await per bind")
deep.add("returns", deep_returns)


# -- LeftBind: 10k left-nested flat_maps, built then run ---------------------------------

LEFT = 10_000


def _left_step(n: int) -> Effect[int]:
    return Effect.succeed(n + 1)


def left_effectpy() -> int:
    effect: Effect[int] = Effect.succeed(0)
    for _ in range(LEFT):
        effect = effect.flat_map(_left_step)
    return run_sync(effect)


def left_plain() -> int:
    steps: list[Callable[[int], int]] = []
    for _ in range(LEFT):
        steps.append(_inc)
    value = 0
    for step in steps:
        value = step(value)
    return value


def _left_returns_step(n: int) -> Result[int, Boom]:
    return Success(n + 1)


def left_returns() -> int:
    result: Result[int, Boom] = Success(0)
    for _ in range(LEFT):
        result = result.bind(_left_returns_step)
    return result.unwrap()


left = register(
    SUITE,
    "LeftBind",
    ops=LEFT,
    expected=LEFT,
    summary="((succeed(0).flat_map(f)).flat_map(f))... 10k deep, built then run",
)
left.add("effectpy", left_effectpy)
left.add("plain", left_plain, note="a list of 10k functions, built then applied")
left.add("returns", left_returns, note="eager: building the chain is running it")
left.skip("asyncio", "a 10k-deep chain of awaiting coroutines exceeds the recursion limit")


# -- ShallowAttempt: fail at depth 1, recover, 1000 times ---------------------------------

SHALLOW = 1000


def _shallow_effect(i: int) -> Effect[int]:
    if i >= SHALLOW:
        return Effect.succeed(i)
    attempt: Effect[int, Boom] = Effect.fail(Boom())
    return attempt.catch_all(lambda _: Effect.succeed(i + 1)).flat_map(_shallow_effect)


def shallow_effectpy() -> int:
    return run_sync(_shallow_effect(0))


def _raise_boom(n: int) -> int:
    raise Boom()


def shallow_plain() -> int:
    i = 0
    while i < SHALLOW:
        try:
            i = _raise_boom(i)
        except Boom:
            i += 1
    return i


async def _araise_boom(n: int) -> int:
    raise Boom()


async def shallow_asyncio() -> int:
    i = 0
    while i < SHALLOW:
        try:
            i = await _araise_boom(i)
        except Boom:
            i += 1
    return i


def _shallow_returns_step(i: int) -> Result[int, Boom]:
    failed: Result[int, Boom] = Failure(Boom())
    return failed.lash(lambda _: Success(i + 1))


def shallow_returns() -> int:
    i = 0
    while i < SHALLOW:
        i = _shallow_returns_step(i).unwrap()
    return i


shallow = register(
    SUITE,
    "ShallowAttempt",
    ops=SHALLOW,
    expected=SHALLOW,
    summary="fail(Boom()).catch_all(recover) then continue, 1000 times",
)
shallow.add("effectpy", shallow_effectpy)
shallow.add("plain", shallow_plain, note="raise and except")
shallow.add_async("asyncio", shallow_asyncio, note="a coroutine that raises, awaited in try")
shallow.add("returns", shallow_returns, note="Failure(...).lash(recover)")


# -- DeepAttempt: a failure 1000 binds down, recovered at the top --------------------------

DEEP_ATTEMPT = 1000


def _deep_attempt_effect() -> Effect[int, Boom]:
    effect: Effect[int, Boom] = Effect.fail(Boom())
    for _ in range(DEEP_ATTEMPT):
        effect = effect.flat_map(_left_step)
    return effect


def deep_attempt_effectpy() -> int:
    recovered = _deep_attempt_effect().catch_all(lambda _: Effect.succeed(DEEP_ATTEMPT))
    return run_sync(recovered)


def _descend_plain(n: int) -> int:
    if n == 0:
        raise Boom()
    return _descend_plain(n - 1) + 1


def deep_attempt_plain() -> int:
    try:
        return _descend_plain(DEEP_ATTEMPT)
    except Boom:
        return DEEP_ATTEMPT


async def _descend_asyncio(n: int) -> int:
    if n == 0:
        raise Boom()
    return await _descend_asyncio(n - 1) + 1


async def deep_attempt_asyncio() -> int:
    try:
        return await _descend_asyncio(DEEP_ATTEMPT)
    except Boom:
        return DEEP_ATTEMPT


def deep_attempt_returns() -> int:
    result: Result[int, Boom] = Failure(Boom())
    for _ in range(DEEP_ATTEMPT):
        result = result.bind(_left_returns_step)
    return result.lash(lambda _: Success(DEEP_ATTEMPT)).unwrap()


deep_attempt = register(
    SUITE,
    "DeepAttempt",
    ops=DEEP_ATTEMPT,
    expected=DEEP_ATTEMPT,
    summary="fail at the bottom of 1000 flat_maps, catch_all at the top",
    recursion_limit=DEEP_ATTEMPT + 500,
)
deep_attempt.add("effectpy", deep_attempt_effectpy)
deep_attempt.add("plain", deep_attempt_plain, note="1000-deep recursion, except at the top")
deep_attempt.add_async("asyncio", deep_attempt_asyncio, note="1000 nested awaits")
deep_attempt.add("returns", deep_attempt_returns, note="eager: bind on a Failure is a no-op")


# -- MapChain: 10k maps, built then run -----------------------------------------------------

MAPS = 10_000


def map_chain_effectpy() -> int:
    effect: Effect[int] = Effect.succeed(0)
    for _ in range(MAPS):
        effect = effect.map(_inc)
    return run_sync(effect)


def map_chain_plain() -> int:
    value = 0
    for _ in range(MAPS):
        value = _inc(value)
    return value


async def map_chain_asyncio() -> int:
    value = 0
    for _ in range(MAPS):
        value = _inc(await _apure(value))
    return value


def map_chain_returns() -> int:
    result: Result[int, Boom] = Success(0)
    for _ in range(MAPS):
        result = result.map(_inc)
    return result.unwrap()


map_chain = register(
    SUITE,
    "MapChain",
    ops=MAPS,
    expected=MAPS,
    summary="succeed(0).map(inc).map(inc)... 10k maps, built then run",
)
map_chain.add("effectpy", map_chain_effectpy)
map_chain.add("plain", map_chain_plain, note="one call per map")
map_chain.add_async("asyncio", map_chain_asyncio, note="one await and one call per map")
map_chain.add("returns", map_chain_returns, note="eager Result.map")
