"""The shape the fiber loop's speed depends on (`_interpreter/loop.py`; the reasons
are in docs/benchmarks.md).

These are not behaviour: they hold how the loop is written, for the interpreter's
speed. The dispatch is written for CPython 3.11's specializing interpreter: every
comparison can be specialized, opcodes are compared by identity, the composite table
matches the opcodes. And the op budget, which the loop keeps in two small ints instead
of one large one, is counted exactly. (What a user can see of the budget, that a busy
fiber gives way to the others, is tested in tests/test_runners.py.)
"""

from __future__ import annotations

import dis
import sys
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from effectpy import Effect, Exit
from effectpy._core import opcodes
from effectpy._core.scheduler import SyncScheduler
from effectpy._interpreter import finalizers
from effectpy._interpreter.loop import FiberRuntime, new_fiber

cpython_only = pytest.mark.skipif(
    sys.implementation.name != "cpython", reason="CPython's bytecode and small-int cache"
)

# -- the dispatch ----------------------------------------------------------------------

LOOP_FUNCTIONS: list[Callable[..., Any]] = [
    FiberRuntime.run,
    FiberRuntime._unwind,
    finalizers.finalize_next,
]


@pytest.mark.skipif(
    sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11),
    reason="the loop's bytecode shape is written for CPython 3.11's specializing interpreter",
)
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


@cpython_only
def test_opcodes_are_cached_small_ints_so_identity_is_equality() -> None:
    # The loop tests `code is FLAT_MAP`: only ints CPython keeps one object of.
    for name, value in opcode_values().items():
        assert -5 <= value <= 256, name
        assert int(str(value)) is value, name


# -- the op budget ---------------------------------------------------------------------


def chain_of_syncs(count: int, log: list[int]) -> Effect[None]:
    """`sync; sync; ...` nested to the right: the k-th thunk runs at op 2k (a THEN, then
    its SYNC; the frame pops in between are not ops)."""
    effect: Effect[None] = Effect.sync(lambda: log.append(count))
    for index in reversed(range(1, count)):
        effect = Effect.sync(lambda index=index: log.append(index)).and_then(effect)  # type: ignore[misc]
    return effect


def exit_of(fiber: FiberRuntime) -> Exit[Any, Any] | None:
    return fiber.exit


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
