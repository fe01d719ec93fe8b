"""Stack safety: deep chains of binds run in constant Python stack.

Each test runs under a recursion limit only a little above the depth the test starts
at, so a single Python frame per bind (or per handler, or per finalizer) would raise
`RecursionError`. Where it is cheap, the test also samples the Python stack depth seen
by user code at several points of the chain and checks that it never changes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import (
    HEADROOM,
    Step,
    and_then_chain,
    each_step,
    stack_depth,
    tight_recursion_limit,
)

from effectpy import Do, Effect, Exit, Fail, Failure, Sequential, gen, run_sync, run_sync_exit

MILLION = 1_000_000
SAMPLE_EVERY = 250_000

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def without_cyclic_gc() -> Iterator[None]:
    """Keep the cyclic garbage collector out of the measurement: building a million
    live nodes makes it rescan them over and over, which tests the collector, not the
    fiber loop. Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def run_tight(effect: Effect[Any]) -> Any:
    with tight_recursion_limit():
        return run_sync(effect)


def run_exit_tight(effect: Effect[Any, Any]) -> Exit[Any, Any]:
    with tight_recursion_limit():
        return run_sync_exit(effect)


class DepthProbe:
    """Records the Python stack depth at sampled points of a chain."""

    def __init__(self) -> None:
        self.depths: list[int] = []

    def at(self, i: int) -> None:
        if i % SAMPLE_EVERY == 0:
            self.depths.append(stack_depth())

    def assert_constant(self, expected_samples: int) -> None:
        assert len(self.depths) == expected_samples
        assert len(set(self.depths)) == 1, f"stack depth changed along the chain: {self.depths}"


def test_the_tight_recursion_limit_catches_python_recursion() -> None:
    # The harness itself must be able to fail: plain recursion of a few hundred frames
    # is refused under the limit the other tests run with.
    def recurse(n: int) -> int:
        return 0 if n == 0 else 1 + recurse(n - 1)

    with tight_recursion_limit(), pytest.raises(RecursionError):
        recurse(HEADROOM * 2)


# -- flat_map -------------------------------------------------------------------------


def test_a_million_left_nested_flat_maps_run_in_constant_stack() -> None:
    probe = DepthProbe()

    def step(x: int) -> Effect[int]:
        probe.at(x)
        return Effect.succeed(x + 1)

    effect: Effect[int] = Effect.succeed(0)
    for _ in range(MILLION):
        effect = effect.flat_map(step)
    assert run_tight(effect) == MILLION
    probe.assert_constant(MILLION // SAMPLE_EVERY)


def test_a_million_left_nested_flat_maps_over_a_sync_run_in_constant_stack() -> None:
    # The first effect is not a plain value, so every bind is pushed on the fiber's
    # continuation stack instead of taking the loop's shortcut for `succeed`.
    effect: Effect[int] = Effect.sync(lambda: 0)
    for _ in range(MILLION):
        effect = effect.flat_map(lambda x: Effect.sync(lambda: x + 1))
    assert run_tight(effect) == MILLION


def _right_nested(n: int, innermost: Effect[int]) -> Effect[int]:
    effect = innermost
    for i in range(n):
        effect = _bind_to(i, effect)
    return effect


def _bind_to(i: int, rest: Effect[int]) -> Effect[int]:
    return Effect.sync(lambda: i).flat_map(lambda _: rest)


def test_a_million_right_nested_flat_maps_run_in_constant_stack() -> None:
    assert run_tight(_right_nested(MILLION, Effect.succeed(-1))) == -1


def test_a_recursive_flat_map_loop_of_a_million_iterations_runs_in_constant_stack() -> None:
    probe = DepthProbe()

    def loop(n: int) -> Effect[int]:
        probe.at(n)
        if n == MILLION:
            return Effect.succeed(n)
        return Effect.sync(lambda: n + 1).flat_map(loop)

    assert run_tight(Effect.succeed(0).flat_map(loop)) == MILLION
    probe.assert_constant(MILLION // SAMPLE_EVERY + 1)


def test_a_million_deep_non_tail_recursion_through_suspend_runs_in_constant_stack() -> None:
    # sum(n) = sum(n - 1) + 1 builds a million pending `map`s lazily, while running.
    def total(n: int) -> Effect[int]:
        if n == 0:
            return Effect.succeed(0)
        return Effect.suspend(lambda: total(n - 1)).map(lambda s: s + 1)

    assert run_tight(total(MILLION)) == MILLION


# -- and_then -------------------------------------------------------------------------

HUNDRED_THOUSAND = 100_000
each_nesting = pytest.mark.parametrize("right", [False, True], ids=["left-nested", "right-nested"])


@each_nesting
@each_step
def test_a_hundred_thousand_and_thens_run_in_order_in_constant_stack(
    step: Step, right: bool
) -> None:
    log: list[int] = []
    chain = and_then_chain(step, HUNDRED_THOUSAND, log, right=right)
    assert run_tight(chain) == HUNDRED_THOUSAND - 1
    assert log == ([] if step == "plain value" else list(range(HUNDRED_THOUSAND)))


@each_nesting
@each_step
def test_a_failure_in_a_long_and_then_chain_skips_the_rest_in_constant_stack(
    step: Step, right: bool
) -> None:
    log: list[int] = []
    skipped: list[int] = []
    half = HUNDRED_THOUSAND // 2
    failing: Effect[int, str] = Effect.fail("stop")
    first = and_then_chain(step, half, log, right=right)
    second = and_then_chain(step, half, skipped, right=right)
    chain = (
        first.and_then(failing).and_then(second)
        if not right
        else first.and_then(failing.and_then(second))
    )
    assert run_exit_tight(chain) == Failure(Fail("stop"))
    assert log == ([] if step == "plain value" else list(range(half)))
    assert skipped == []


# -- map ------------------------------------------------------------------------------


def test_a_million_left_nested_maps_run_in_constant_stack() -> None:
    probe = DepthProbe()

    def inc(x: int) -> int:
        probe.at(x)
        return x + 1

    effect: Effect[int] = Effect.sync(lambda: 0)
    for _ in range(MILLION):
        effect = effect.map(inc)
    assert run_tight(effect) == MILLION
    probe.assert_constant(MILLION // SAMPLE_EVERY)


def test_a_million_maps_nested_on_the_right_run_in_constant_stack() -> None:
    # Each level is a bind whose continuation maps the next level: a million pending
    # `map` frames pile up on the fiber's stack, none on Python's.
    def level(rest: Effect[int]) -> Effect[int]:
        return Effect.unit().flat_map(lambda _: rest.map(lambda x: x + 1))

    effect: Effect[int] = Effect.succeed(0)
    for _ in range(MILLION):
        effect = level(effect)
    assert run_tight(effect) == MILLION


# -- catch_all ------------------------------------------------------------------------


def test_a_million_left_nested_catch_alls_run_in_constant_stack() -> None:
    probe = DepthProbe()

    def handler(e: int) -> Effect[Any, int]:
        probe.at(e)
        return Effect.fail(e + 1)

    effect: Effect[Any, int] = Effect.fail(0)
    for _ in range(MILLION):
        effect = effect.catch_all(handler)
    assert run_exit_tight(effect) == Exit.fail(MILLION)
    probe.assert_constant(MILLION // SAMPLE_EVERY)


def test_a_million_right_nested_catch_alls_run_in_constant_stack() -> None:
    caught: list[int] = []

    def level(i: int, rest: Effect[str, int]) -> Effect[str, int]:
        def handler(e: int) -> Effect[str, int]:
            if e % SAMPLE_EVERY == 0:
                caught.append(e)
            return rest

        return Effect.fail(i).catch_all(handler)

    effect: Effect[str, int] = Effect.succeed("recovered")
    for i in range(MILLION):
        effect = level(i, effect)
    assert run_exit_tight(effect) == Exit.succeed("recovered")
    # Handlers ran outermost first: the outermost level failed with MILLION - 1.
    assert caught == sorted(range(0, MILLION, SAMPLE_EVERY), reverse=True)


def test_a_failure_unwinds_through_a_million_maps_in_constant_stack() -> None:
    mapped: list[int] = []

    def record(x: int) -> int:
        mapped.append(x)
        return x

    effect: Effect[int, str] = Effect.fail("early")
    for _ in range(MILLION):
        effect = effect.map(record)
    recovered = effect.catch_all(lambda e: Effect.succeed(len(e)))
    assert run_tight(recovered) == len("early")
    assert mapped == []


# -- generators -----------------------------------------------------------------------


def test_a_gen_loop_of_a_hundred_thousand_steps_runs_in_constant_stack() -> None:
    steps = 100_000
    depths: list[int] = []

    def one(i: int) -> Effect[int]:
        def run() -> int:
            if i % (steps // 4) == 0:
                depths.append(stack_depth())
            return 1

        return Effect.sync(run)

    @gen
    def count(n: int) -> Do[int]:
        total = 0
        for i in range(n):
            total += yield from one(i)
        return total

    assert run_tight(count(steps)) == steps
    assert len(depths) == 4
    assert len(set(depths)) == 1, depths


# -- finalizers -----------------------------------------------------------------------

NESTED = 10_000


def _nested_ensuring(effect: Effect[Any, Any], finalizer: Callable[[int], Effect[Any]]) -> Any:
    for i in range(NESTED):
        effect = effect.ensuring(finalizer(i))
    return effect


def test_ten_thousand_nested_ensurings_all_run_innermost_first() -> None:
    ran: list[int] = []
    effect = _nested_ensuring(Effect.succeed("value"), lambda i: Effect.sync(lambda: ran.append(i)))
    assert run_tight(effect) == "value"
    assert ran == list(range(NESTED))


def test_ten_thousand_nested_ensurings_run_and_keep_the_failure() -> None:
    ran: list[int] = []
    effect = _nested_ensuring(Effect.fail("boom"), lambda i: Effect.sync(lambda: ran.append(i)))
    assert run_exit_tight(effect) == Exit.fail("boom")
    assert ran == list(range(NESTED))


def test_ten_thousand_failing_nested_finalizers_are_all_kept_in_order() -> None:
    errors = [OSError(i) for i in range(NESTED)]
    effect = _nested_ensuring(Effect.fail("boom"), lambda i: Effect.die(errors[i]))
    exit = run_exit_tight(effect)
    assert isinstance(exit, Failure)
    assert isinstance(exit.cause, Sequential)
    assert exit.cause.failures() == ["boom"]
    defects = exit.cause.defects()
    assert len(defects) == NESTED
    assert all(found is expected for found, expected in zip(defects, errors, strict=True))
