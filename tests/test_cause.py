"""The Cause algebra: combining, querying, transforming, rendering, raising."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effectpy import (
    Cause,
    Die,
    Effect,
    Empty,
    Exit,
    Fail,
    Failure,
    FiberFailure,
    Interrupt,
    Parallel,
    Sequential,
    Success,
    run_sync_exit,
)
from effectpy._core.cause import combine_parallel

DEEP = 100_000


def an_interrupt() -> Interrupt:
    exit = run_sync_exit(Effect.interrupt())
    assert isinstance(exit, Failure)
    [interrupt] = exit.cause.interruptions()
    return interrupt


def raised(exc: BaseException) -> BaseException:
    """`exc` after it has been raised and caught, so it carries a traceback."""
    try:
        raise exc
    except BaseException as caught:
        return caught


# -- sequential / parallel ------------------------------------------------------------


@pytest.mark.parametrize("combine", [Cause.sequential, Cause.parallel])
def test_combining_with_empty_gives_the_other_side(combine: Any) -> None:
    fail: Cause[str] = Cause.fail("x")
    assert combine(Cause.empty(), fail) is fail
    assert combine(fail, Cause.empty()) is fail
    assert combine(Cause.empty(), Cause.empty()) == Empty()


def test_sequential_and_parallel_keep_both_sides_in_order() -> None:
    left: Cause[str] = Cause.fail("left")
    right: Cause[str] = Cause.fail("right")
    assert Cause.sequential(left, right) == Sequential(left, right)
    assert Cause.parallel(left, right) == Parallel(left, right)
    assert Cause.sequential(left, right) != Cause.parallel(left, right)


LEAVES: list[Cause[str]] = [Cause.empty(), Fail("a"), Fail("b"), Die(OSError("d"))]


@given(
    st.lists(st.sampled_from(LEAVES) | st.builds(Cause.parallel, *[st.sampled_from(LEAVES)] * 2))
)
def test_combine_parallel_is_parallel_folded_from_the_left(causes: list[Cause[str]]) -> None:
    folded: Cause[str] = Cause.empty()
    for cause in causes:
        folded = Cause.parallel(folded, cause)
    combined = combine_parallel(causes)
    assert combined == folded
    assert hash(combined) == hash(folded)  # made without `__init__`, still a whole node
    assert combined.failures() == folded.failures()


def test_combine_parallel_of_one_cause_is_that_cause_and_of_none_is_empty() -> None:
    fail: Cause[str] = Fail("x")
    assert combine_parallel([fail]) is fail
    assert combine_parallel([]) == Empty()
    assert combine_parallel([Cause.empty(), fail, Cause.empty()]) is fail


def test_constructors_build_the_matching_nodes() -> None:
    defect = OSError("bug")
    interrupt = an_interrupt()
    assert Cause.fail(1) == Fail(1)
    assert Cause.die(defect) == Die(defect)
    assert Cause.interrupt(interrupt.fiber_id, interrupt.reason) == interrupt
    assert isinstance(Cause.empty(), Empty)


# -- queries ------------------------------------------------------------------------


def test_failures_defects_and_interruptions_are_listed_left_to_right() -> None:
    d1, d2 = OSError("d1"), OSError("d2")
    i1 = an_interrupt()
    i2 = an_interrupt()
    cause: Cause[str] = Cause.sequential(
        Cause.parallel(Cause.fail("a"), Cause.sequential(Cause.die(d1), i1)),
        Cause.parallel(Cause.sequential(i2, Cause.fail("b")), Cause.die(d2)),
    )
    assert cause.failures() == ["a", "b"]
    assert cause.defects() == [d1, d2]
    assert cause.interruptions() == [i1, i2]


def test_an_empty_cause_has_no_failures_defects_or_interruptions() -> None:
    empty = Cause.empty()
    assert empty.failures() == []
    assert empty.defects() == []
    assert empty.interruptions() == []
    assert empty.is_empty()


def test_is_interrupted_only_holds_only_for_interruptions_alone() -> None:
    interrupt = an_interrupt()
    assert interrupt.is_interrupted_only()
    assert Cause.parallel(interrupt, an_interrupt()).is_interrupted_only()
    assert not Cause.parallel(interrupt, Cause.fail("x")).is_interrupted_only()
    assert not Cause.sequential(Cause.die(OSError()), interrupt).is_interrupted_only()
    assert not Cause.empty().is_interrupted_only()
    assert not Cause.fail("x").is_interrupted_only()


def test_is_failure_is_die_and_is_interrupted_look_at_every_leaf() -> None:
    cause: Cause[str] = Cause.sequential(
        Cause.fail("x"), Cause.parallel(Cause.empty(), an_interrupt())
    )
    assert cause.is_failure()
    assert not cause.is_die()
    assert cause.is_interrupted()
    assert Cause.die(OSError()).is_die()
    assert not Cause.die(OSError()).is_failure()


# -- transformations ----------------------------------------------------------------


def test_map_changes_typed_errors_and_keeps_the_shape() -> None:
    defect = OSError("bug")
    interrupt = an_interrupt()
    cause: Cause[int] = Cause.sequential(
        Cause.parallel(Cause.fail(1), Cause.die(defect)), Cause.sequential(interrupt, Cause.fail(2))
    )
    mapped = cause.map(lambda e: e * 10)
    assert mapped == Sequential(Parallel(Fail(10), Die(defect)), Sequential(interrupt, Fail(20)))


def test_strip_failures_removes_typed_errors_and_the_empty_sides() -> None:
    defect = OSError("bug")
    interrupt = an_interrupt()
    cause: Cause[str] = Cause.sequential(
        Cause.parallel(Cause.fail("a"), Cause.die(defect)),
        Cause.sequential(Cause.fail("b"), interrupt),
    )
    assert cause.strip_failures() == Sequential(Die(defect), interrupt)
    assert Cause.sequential(Cause.fail("a"), Cause.fail("b")).strip_failures() == Empty()


# -- squash and to_exception -------------------------------------------------------


def test_squash_prefers_the_first_typed_error() -> None:
    error = ValueError("typed")
    defect = OSError("bug")
    cause: Cause[ValueError] = Cause.sequential(Cause.die(defect), Cause.fail(error))
    assert cause.squash() is error


def test_squash_falls_back_to_the_first_defect() -> None:
    first, second = OSError("first"), OSError("second")
    cause = Cause.parallel(an_interrupt(), Cause.parallel(Cause.die(first), Cause.die(second)))
    assert cause.squash() is first


def test_squash_of_interruptions_only_is_a_fiber_failure_carrying_the_cause() -> None:
    cause = an_interrupt()
    squashed = cause.squash()
    assert isinstance(squashed, FiberFailure)
    assert squashed.cause == cause


def test_to_exception_of_one_failure_is_the_exception_itself() -> None:
    error = ValueError("typed")
    assert Cause.fail(error).to_exception() is error
    defect = OSError("bug")
    assert Cause.die(defect).to_exception() is defect


def test_to_exception_leaves_out_interruptions_beside_a_failure() -> None:
    error = ValueError("typed")
    cause: Cause[ValueError] = Cause.parallel(Cause.fail(error), an_interrupt())
    assert cause.to_exception() is error


def test_to_exception_of_a_non_exception_error_is_a_fiber_failure_carrying_the_cause() -> None:
    exc = Cause.fail("not an exception").to_exception()
    assert isinstance(exc, FiberFailure)
    assert exc.cause == Fail("not an exception")
    assert "not an exception" in str(exc)


def test_to_exception_of_several_errors_is_an_exception_group_for_except_star() -> None:
    value_error = ValueError("v")
    key_error = KeyError("k")
    cause: Cause[Exception] = Cause.sequential(Cause.fail(value_error), Cause.die(key_error))
    group = cause.to_exception()
    assert isinstance(group, ExceptionGroup)
    assert list(group.exceptions) == [value_error, key_error]

    caught: list[BaseException] = []
    try:
        raise group
    except* ValueError as eg:
        caught.extend(eg.exceptions)
    except* KeyError as eg:
        caught.extend(eg.exceptions)
    assert caught == [value_error, key_error]


def test_to_exception_of_several_errors_wraps_non_exception_errors() -> None:
    cause: Cause[str] = Cause.parallel(Cause.fail("a"), Cause.fail("b"))
    group = cause.to_exception()
    assert isinstance(group, ExceptionGroup)
    assert all(isinstance(e, FiberFailure) for e in group.exceptions)
    assert [e.cause for e in group.exceptions if isinstance(e, FiberFailure)] == [
        Fail("a"),
        Fail("b"),
    ]


def test_to_exception_of_interruptions_only_is_a_fiber_failure() -> None:
    cause = Cause.parallel(an_interrupt(), an_interrupt())
    exc = cause.to_exception()
    assert isinstance(exc, FiberFailure)
    assert exc.cause == cause


# -- pretty -------------------------------------------------------------------------


def test_pretty_draws_the_tree_with_branch_glyphs() -> None:
    cause: Cause[str] = Cause.sequential(
        Cause.parallel(Cause.fail("a"), Cause.fail("b")), Cause.fail("c")
    )
    assert cause.pretty() == "\n".join(
        [
            "Sequential",
            "├── Parallel",
            "│   ├── Fail: 'a'",
            "│   └── Fail: 'b'",
            "└── Fail: 'c'",
        ]
    )


def test_pretty_of_a_raised_defect_shows_its_traceback() -> None:
    defect = raised(OSError("disk on fire"))
    text = Cause.sequential(Cause.fail("x"), Cause.die(defect)).pretty()
    lines = text.splitlines()
    assert lines[0] == "Sequential"
    assert lines[1] == "├── Fail: 'x'"
    assert lines[2] == "└── Die: OSError: disk on fire"
    assert "Traceback (most recent call last)" in text
    assert "in raised" in text
    # The traceback is indented under its node.
    assert all(line.startswith("    ") for line in lines[3:])


def test_pretty_of_an_exception_failure_shows_its_type_and_message() -> None:
    assert Cause.fail(ValueError("bad")).pretty() == "Fail: ValueError: bad"


def test_pretty_of_an_interruption_names_the_fiber_and_the_reason() -> None:
    interrupt = an_interrupt()
    text = interrupt.pretty()
    assert text.startswith("Interrupt: ")
    assert str(interrupt.fiber_id) in text
    assert str(interrupt.reason) in text


def test_str_of_a_cause_is_its_pretty_form() -> None:
    cause: Cause[str] = Cause.parallel(Cause.fail("a"), Cause.die(OSError("b")))
    assert str(cause) == cause.pretty()


# -- deep causes ----------------------------------------------------------------------


def _left_deep(n: int) -> Cause[int]:
    cause: Cause[int] = Cause.fail(0)
    for i in range(1, n):
        cause = Cause.sequential(cause, Cause.fail(i))
    return cause


def _right_deep(n: int) -> Cause[int]:
    cause: Cause[int] = Cause.fail(n - 1)
    for i in reversed(range(n - 1)):
        cause = Cause.parallel(Cause.fail(i), cause)
    return cause


@pytest.mark.parametrize("build", [_left_deep, _right_deep], ids=["left-deep", "right-deep"])
def test_deep_causes_are_traversed_without_recursion(build: Any) -> None:
    cause: Cause[int] = build(DEEP)
    expected = list(range(DEEP))
    assert cause.failures() == expected
    assert cause.defects() == []
    assert not cause.is_interrupted_only()
    assert cause.map(lambda e: e + 1).failures() == [e + 1 for e in expected]
    assert cause.strip_failures().is_empty()
    squashed = cause.squash()
    assert isinstance(squashed, FiberFailure)
    assert squashed.cause == Fail(0)
    group = cause.to_exception()
    assert isinstance(group, ExceptionGroup)
    assert len(group.exceptions) == DEEP


# Rendering is checked on a shallower tree: a renderer that indents every level of a
# left- or right-deep chain writes text quadratic in the depth, which at DEEP levels
# would not finish at all.
DEEP_PRETTY = 3_000


@pytest.mark.parametrize("build", [_left_deep, _right_deep], ids=["left-deep", "right-deep"])
def test_pretty_of_a_deep_cause_is_linear_in_its_size(build: Any) -> None:
    text = build(DEEP_PRETTY).pretty()
    for i in (0, DEEP_PRETTY // 2, DEEP_PRETTY - 1):
        assert f"Fail: {i}" in text
    # Every failure on a line of its own, each line of bounded width.
    assert sum(line.lstrip(" │├└─").startswith("Fail: ") for line in text.splitlines()) == (
        DEEP_PRETTY
    )
    assert max(len(line) for line in text.splitlines()) <= 80


def test_deep_cause_of_defects_and_interruptions_is_traversed_without_recursion() -> None:
    interrupt = an_interrupt()
    cause: Cause[Any] = interrupt
    for _ in range(DEEP):
        cause = Cause.sequential(cause, interrupt)
    assert cause.is_interrupted_only()
    assert len(cause.interruptions()) == DEEP + 1
    defect = OSError("bug")
    with_defect = Cause.sequential(cause, Cause.die(defect))
    assert not with_defect.is_interrupted_only()
    assert with_defect.squash() is defect
    assert with_defect.to_exception() is defect


# -- immutability -----------------------------------------------------------------------


CAUSES_AND_EXITS: list[object] = [
    Empty(),
    Fail("x"),
    Die(OSError()),
    Sequential(Fail(1), Fail(2)),
    Parallel(Fail(1), Fail(2)),
    Success(1),
    Failure(Fail("x")),
]


@pytest.mark.parametrize("value", CAUSES_AND_EXITS, ids=lambda v: type(v).__name__)
def test_causes_and_exits_are_frozen(value: object) -> None:
    for field in dataclasses.fields(value):  # type: ignore[arg-type]
        with pytest.raises(AttributeError):
            setattr(value, field.name, None)
    with pytest.raises((AttributeError, TypeError)):
        value.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(value, "__dict__")


def test_an_interrupt_is_frozen() -> None:
    interrupt = an_interrupt()
    with pytest.raises(AttributeError):
        interrupt.reason = interrupt.reason  # type: ignore[misc]


def test_an_exit_holds_its_cause_unchanged() -> None:
    cause: Cause[str] = Cause.parallel(Cause.fail("a"), Cause.fail("b"))
    assert Exit.fail_cause(cause) == Failure(cause)
