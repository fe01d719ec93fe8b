"""The Cause algebra: why an effect failed, as a tree that loses nothing.

A cause is `Empty`, a typed failure `Fail(error)`, a defect `Die(exception)`, an
`Interrupt(fiber_id, reason)`, or a combination: `Sequential` (one happened, then the
other: an effect failed and then its finalizer failed) or `Parallel` (they happened in
concurrent fibers). All nodes are frozen; traversals are iterative, so a deep cause
never exhausts the Python stack.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Never, TypeVar, cast

from .ids import FiberId, InterruptReason

E_co = TypeVar("E_co", covariant=True)
E2 = TypeVar("E2")


class FiberFailure(Exception):
    """Raised by `run_sync` when a failure has no exception of its own to raise.

    That is a typed error that is not an exception (`Effect.fail("oops")`), or an
    interruption. `.cause` holds the whole `Cause`.
    """

    def __init__(self, cause: Cause[object]) -> None:
        super().__init__(cause.pretty())
        self.cause = cause


class Cause(Generic[E_co]):
    """Base of the cause nodes. Build causes with the static constructors."""

    __slots__ = ()

    # -- constructors -------------------------------------------------------------

    @staticmethod
    def empty() -> Cause[Never]:
        return _EMPTY

    @staticmethod
    def fail(error: E2) -> Cause[E2]:
        return Fail(error)

    @staticmethod
    def die(defect: BaseException) -> Cause[Never]:
        return Die(defect)

    @staticmethod
    def interrupt(fiber_id: FiberId, reason: InterruptReason) -> Cause[Never]:
        return Interrupt(fiber_id, reason)

    @staticmethod
    def sequential(left: Cause[E2], right: Cause[E2]) -> Cause[E2]:
        """`left` happened, then `right`; an `Empty` side disappears."""
        if isinstance(left, Empty):
            return right
        if isinstance(right, Empty):
            return left
        return Sequential(left, right)

    @staticmethod
    def parallel(left: Cause[E2], right: Cause[E2]) -> Cause[E2]:
        """`left` and `right` happened in concurrent fibers; an `Empty` side disappears."""
        if isinstance(left, Empty):
            return right
        if isinstance(right, Empty):
            return left
        return Parallel(left, right)

    # -- queries ------------------------------------------------------------------

    def leaves(self) -> Iterator[Cause[E_co]]:
        """The `Fail`, `Die` and `Interrupt` nodes, left to right."""
        stack: list[Cause[E_co]] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, Sequential | Parallel):
                stack.append(node.right)
                stack.append(node.left)
            elif not isinstance(node, Empty):
                yield node

    def failures(self) -> list[E_co]:
        """The typed errors, left to right."""
        return [leaf.error for leaf in self.leaves() if isinstance(leaf, Fail)]

    def defects(self) -> list[BaseException]:
        """The defects (unexpected exceptions), left to right."""
        return [leaf.defect for leaf in self.leaves() if isinstance(leaf, Die)]

    def interruptions(self) -> list[Interrupt]:
        """The interruptions, each with the interrupting fiber's id and the reason."""
        return [leaf for leaf in self.leaves() if isinstance(leaf, Interrupt)]

    def is_empty(self) -> bool:
        return next(self.leaves(), None) is None

    def is_failure(self) -> bool:
        """Whether the cause holds at least one typed error."""
        if type(self) is Fail:  # a single leaf (the common case): no walk
            return True
        return any(isinstance(leaf, Fail) for leaf in self.leaves())

    def is_die(self) -> bool:
        return any(isinstance(leaf, Die) for leaf in self.leaves())

    def is_interrupted(self) -> bool:
        if type(self) is Interrupt:
            return True
        return any(isinstance(leaf, Interrupt) for leaf in self.leaves())

    def is_interrupted_only(self) -> bool:
        """Whether the cause holds interruptions and nothing else."""
        if type(self) is Interrupt:
            return True
        found = False
        for leaf in self.leaves():
            if not isinstance(leaf, Interrupt):
                return False
            found = True
        return found

    # -- transformations ----------------------------------------------------------

    def map(self, f: Callable[[E_co], E2]) -> Cause[E2]:
        """The same tree with every typed error passed through `f`."""

        def on_leaf(leaf: Cause[E_co]) -> Cause[E2]:
            if isinstance(leaf, Fail):
                return Fail(f(leaf.error))
            return cast("Cause[E2]", leaf)  # Die, Interrupt: no typed error inside

        return self._rebuild(on_leaf)

    def strip_failures(self) -> Cause[Never]:
        """The same tree without its typed errors (defects and interruptions stay)."""

        def on_leaf(leaf: Cause[E_co]) -> Cause[Never]:
            return _EMPTY if isinstance(leaf, Fail) else cast("Cause[Never]", leaf)

        return self._rebuild(on_leaf)

    def keep_defects_and_elect_failures(self) -> Cause[Never]:
        """The defects of the tree, each typed error turned into a defect (the error
        itself if it is an exception, else a `FiberFailure` around it), interruptions
        left out: what `or_else` fails with when the cause holds a defect.

        >>> from effectpy import Cause
        >>> cause = Cause.parallel(Cause.fail(KeyError("k")), Cause.die(ValueError("v")))
        >>> cause.keep_defects_and_elect_failures()
        Parallel(left=Die(defect=KeyError('k')), right=Die(defect=ValueError('v')))
        """

        def on_leaf(leaf: Cause[E_co]) -> Cause[Never]:
            if isinstance(leaf, Fail):
                return Die(_as_exception(leaf.error, leaf))
            return cast("Cause[Never]", leaf) if isinstance(leaf, Die) else _EMPTY

        return self._rebuild(on_leaf)

    def _rebuild(self, on_leaf: Callable[[Cause[E_co]], Cause[E2]]) -> Cause[E2]:
        # Post-order without recursion: ("visit", node) expands, ("join", node) combines.
        work: list[tuple[bool, Cause[E_co]]] = [(False, self)]
        done: list[Cause[E2]] = []
        while work:
            joining, node = work.pop()
            if isinstance(node, Sequential | Parallel):
                if joining:
                    right = done.pop()
                    left = done.pop()
                    combine = Cause.sequential if isinstance(node, Sequential) else Cause.parallel
                    done.append(combine(left, right))
                else:
                    work.append((True, node))
                    work.append((False, node.right))
                    work.append((False, node.left))
            else:
                done.append(on_leaf(node))
        return done[0]

    # -- conversion to exceptions -------------------------------------------------

    def squash(self) -> BaseException:
        """The one exception that best stands for the cause: the first typed error,
        else the first defect, else a `FiberFailure` (an interruption)."""
        for leaf in self.leaves():
            if isinstance(leaf, Fail):
                return _as_exception(leaf.error, leaf)
        for leaf in self.leaves():
            if isinstance(leaf, Die):
                return leaf.defect
        return FiberFailure(self)

    def to_exception(self) -> BaseException:
        """What `run_sync` raises for this cause.

        One typed error or defect: that exception itself (a non-exception error is
        wrapped in `FiberFailure`). Several: a `BaseExceptionGroup` (an `ExceptionGroup`
        when all are `Exception`s) of them, so `except*` works. Interruptions sitting
        beside a failure are consequences and are left out; a cause of interruptions
        only becomes a `FiberFailure`.
        """
        errors: list[BaseException] = []
        for leaf in self.leaves():
            if isinstance(leaf, Fail):
                errors.append(_as_exception(leaf.error, leaf))
            elif isinstance(leaf, Die):
                errors.append(leaf.defect)
        if not errors:
            return FiberFailure(self)
        if len(errors) == 1:
            return errors[0]
        return BaseExceptionGroup(f"effect failed with {len(errors)} errors", errors)

    # -- rendering ----------------------------------------------------------------

    def pretty(self) -> str:
        """A readable tree of the cause; a defect shows its traceback. Nested
        combinations of one kind are shown flat, as one node with several children."""
        lines: list[str] = []
        # (node, prefix for its first line, prefix for the lines under it)
        stack: list[tuple[Cause[object], str, str]] = [(self, "", "")]
        while stack:
            node, first, rest = stack.pop()
            if isinstance(node, Sequential | Parallel):
                lines.append(first + type(node).__name__)
                children = _flatten(node)
                stack.append((children[-1], rest + "└── ", rest + "    "))
                stack.extend((child, rest + "├── ", rest + "│   ") for child in children[-2::-1])
            else:
                body = node._describe()
                lines.append(first + body[0])
                lines.extend(rest + line for line in body[1:])
        return "\n".join(lines)

    def _describe(self) -> list[str]:
        return ["Empty"]

    def __str__(self) -> str:
        return self.pretty()


def _flatten(node: Sequential[object] | Parallel[object]) -> list[Cause[object]]:
    """The children of `node`, with nested nodes of the same kind spliced in."""
    kind = type(node)
    children: list[Cause[object]] = []
    stack: list[Cause[object]] = [node]
    while stack:
        current = stack.pop()
        if type(current) is kind:
            assert isinstance(current, Sequential | Parallel)
            stack.append(current.right)
            stack.append(current.left)
        else:
            children.append(current)
    return children


def _as_exception(error: object, leaf: Cause[object]) -> BaseException:
    return error if isinstance(error, BaseException) else FiberFailure(leaf)


def _exception_lines(label: str, exc: BaseException) -> list[str]:
    message = str(exc)
    name = type(exc).__qualname__
    head = f"{label}: {name}: {message}" if message else f"{label}: {name}"
    if exc.__traceback__ is None:
        return [head]
    body = "".join(traceback.format_exception(exc)).rstrip().splitlines()
    return [head, *("  " + line for line in body)]


@dataclass(frozen=True, slots=True)
class Empty(Cause[Never]):
    """No failure at all."""


@dataclass(frozen=True, slots=True)
class Fail(Cause[E_co]):
    """A typed error: part of the effect's `E`."""

    error: E_co

    def _describe(self) -> list[str]:
        if isinstance(self.error, BaseException):
            return _exception_lines("Fail", self.error)
        return [f"Fail: {self.error!r}"]


@dataclass(frozen=True, slots=True)
class Die(Cause[Never]):
    """A defect: an exception nobody declared, such as a bug in user code."""

    defect: BaseException

    def _describe(self) -> list[str]:
        return _exception_lines("Die", self.defect)


@dataclass(frozen=True, slots=True)
class Interrupt(Cause[Never]):
    """An interruption by fiber `fiber_id`, with the typed reason why."""

    fiber_id: FiberId
    reason: InterruptReason

    def _describe(self) -> list[str]:
        return [f"Interrupt: by fiber {self.fiber_id}, {self.reason}"]


@dataclass(frozen=True, slots=True)
class Sequential(Cause[E_co]):
    """`left` happened, then `right` (a failure, then its finalizer's failure)."""

    left: Cause[E_co]
    right: Cause[E_co]


@dataclass(frozen=True, slots=True)
class Parallel(Cause[E_co]):
    """`left` and `right` happened in concurrent fibers."""

    left: Cause[E_co]
    right: Cause[E_co]


_EMPTY: Cause[Never] = Empty()


_new = object.__new__
_set_left: Callable[[Any, Any], None] = vars(Parallel)["left"].__set__
_set_right: Callable[[Any, Any], None] = vars(Parallel)["right"].__set__


def combine_parallel(causes: Iterable[Cause[E2]]) -> Cause[E2]:
    """`Cause.parallel` folded over `causes`, left to right: the cause of a group of
    concurrent fibers. Empty causes disappear; no cause at all gives `Empty`. (It
    makes each node without the dataclass `__init__`: a group of a thousand fibers
    that all failed makes a thousand nodes.)"""
    result: Cause[E2] = _EMPTY
    for cause in causes:
        if isinstance(cause, Empty):
            continue
        if result is _EMPTY:
            result = cause
            continue
        node = _new(Parallel)
        _set_left(node, result)
        _set_right(node, cause)
        result = node
    return result
