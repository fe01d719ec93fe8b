"""How the fiber loop picks its case and counts its budget (`_core/fiber_runtime.py`).

The dispatch is written for CPython 3.11's specializing interpreter: these tests hold
the properties its speed depends on (every comparison can be specialized, the composite
table matches the opcodes) and the op budget's exact count, which the loop keeps in two
small ints instead of one large one.
"""

from __future__ import annotations

import dis
import sys
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from effectpy import Effect, ExecutionStrategy, Exit, Failure, Runtime, Scope, run_sync_exit
from effectpy._core import opcodes
from effectpy._core.scheduler import SyncScheduler
from effectpy._interpreter.loop import FiberRuntime, new_fiber

# -- the dispatch ----------------------------------------------------------------------

LOOP_FUNCTIONS: list[Callable[..., Any]] = [
    FiberRuntime.run,
    FiberRuntime._finalize_next,
    FiberRuntime._unwind,
    FiberRuntime._special,
]


@pytest.mark.skipif(sys.implementation.name != "cpython", reason="CPython bytecode")
@pytest.mark.parametrize("function", LOOP_FUNCTIONS, ids=lambda f: f.__qualname__)
def test_every_comparison_in_the_loop_is_directly_followed_by_its_jump(
    function: Callable[..., Any],
) -> None:
    # CPython 3.11 never specializes a comparison whose jump needs an EXTENDED_ARG (a
    # jump over a long body); such a test costs about three times a specialized one.
    instructions = list(dis.get_instructions(function))
    unspecializable = [
        f"line {current.positions.lineno if current.positions else '?'}: "
        f"{current.argrepr} followed by {following.opname}"
        for current, following in pairwise(instructions)
        if current.opname == "COMPARE_OP" and not following.opname.startswith("POP_JUMP")
    ]
    assert unspecializable == []


def opcode_values() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(opcodes).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }


def test_the_composite_table_marks_exactly_the_opcodes_from_extended_up() -> None:
    table = opcodes.IS_COMPOSITE
    assert len(table) == 64
    assert table == tuple(code >= opcodes.EXTENDED for code in range(64))
    values = opcode_values()
    assert all(0 <= value < len(table) for value in values.values()), values
    composite = {name for name, value in values.items() if table[value]}
    assert {"FORK", "JOIN", "FOR_EACH", "SCOPED", "ACQUIRE_RELEASE", "BRACKET"} <= composite
    assert {"SUCCEED", "FLAT_MAP", "MAP", "SYNC", "FAIL", "THEN"}.isdisjoint(composite)


def test_opcodes_are_cached_small_ints_so_identity_is_equality() -> None:
    # The loop tests `code is FLAT_MAP`: only ints CPython keeps one object of.
    for name, value in opcode_values().items():
        assert -5 <= value <= 256, name
        assert int(str(value)) is value, name


NOT_EFFECTS: list[tuple[object, str]] = [
    (object(), "expected an Effect"),
    (42, "expected an Effect"),
    ("effect", "expected an Effect"),
    # A scope is its own SCOPE_EXIT frame, so it has an opcode, one the composite table
    # marks: the composite branch must still refuse it as an effect.
    (Scope(ExecutionStrategy.sequential), "is not an Effect"),
]


@pytest.mark.parametrize(("bad", "message"), NOT_EFFECTS, ids=lambda v: type(v).__name__)
def test_running_something_that_is_not_an_effect_is_a_type_error_defect(
    bad: object, message: str
) -> None:
    not_an_effect: Any = bad
    exit = run_sync_exit(Effect.unit().flat_map(lambda _: not_an_effect))
    assert isinstance(exit, Failure)
    [defect] = exit.cause.defects()
    assert isinstance(defect, TypeError)
    assert message in str(defect)


# -- the op budget ---------------------------------------------------------------------


def chain_of_syncs(count: int, log: list[int]) -> Effect[None]:
    """`sync; sync; ...` nested to the right: the k-th thunk runs at op 2k (a THEN, then
    its SYNC; the frame pops in between are not ops)."""
    effect: Effect[None] = Effect.sync(lambda: log.append(count))
    for index in reversed(range(1, count)):
        effect = Effect.sync(lambda index=index: log.append(index)).and_then(effect)  # type: ignore[misc]
    return effect


@pytest.mark.parametrize("budget", [1, 2, 3, 254, 255, 256, 257, 511, 512, 513, 2048, 2049])
def test_a_fiber_runs_exactly_its_budget_of_ops_then_goes_back_to_the_queue(budget: int) -> None:
    scheduler = SyncScheduler(budget=budget)
    fiber = new_fiber(scheduler)
    log: list[int] = []
    fiber.start(chain_of_syncs(budget + 10, log))
    queued = scheduler.ready.popleft()
    assert queued is fiber

    fiber.run()

    assert len(log) == budget // 2  # thunk k ran at op 2k: the ops up to `budget` ran
    assert list(scheduler.ready) == [fiber]  # spent: queued again, not done
    assert exit_of(fiber) is None
    while scheduler.ready:
        scheduler.ready.popleft().run()
    assert log == list(range(1, budget + 11))
    assert exit_of(fiber) == Exit.unit()
    scheduler.close()


def exit_of(fiber: FiberRuntime) -> Exit[Any, Any] | None:
    return fiber.exit


def not_an_effect(_: object) -> Any:
    return "not an effect"


@pytest.mark.parametrize("budget", [1, 2, 3, 256, 257])
def test_a_function_that_returns_a_non_effect_as_the_budget_runs_out_is_still_named(
    budget: int,
) -> None:
    # The value of the op that spends the budget is kept for the next run: a non-effect
    # must be refused there, naming the function that made it, at every alignment.
    for syncs in range(4):
        effect: Effect[None] = Effect.unit()
        for _ in range(syncs):
            effect = Effect.sync(lambda: None).and_then(effect)
        exit = Runtime(budget=budget).run_sync_exit(effect.flat_map(not_an_effect))
        assert isinstance(exit, Failure)
        [defect] = exit.cause.defects()
        assert isinstance(defect, TypeError)
        assert f"{not_an_effect.__qualname__} (" in str(defect)
        assert "returned str 'not an effect', expected an Effect" in str(defect)
