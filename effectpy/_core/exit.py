"""Exit: how an effect ended, `Success(value)` or `Failure(cause)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Never, TypeVar

from .cause import Cause, Die, Fail

A_co = TypeVar("A_co", covariant=True)
E_co = TypeVar("E_co", covariant=True)
A = TypeVar("A")
E = TypeVar("E")
B = TypeVar("B")
C = TypeVar("C")


class Exit(Generic[A_co, E_co]):
    """Base of `Success` and `Failure`; use them in `match` statements."""

    __slots__ = ()

    @staticmethod
    def succeed(value: A) -> Exit[A, Never]:
        return Success(value)

    @staticmethod
    def fail(error: E) -> Exit[Never, E]:
        return Failure(Fail(error))

    @staticmethod
    def fail_cause(cause: Cause[E]) -> Exit[Never, E]:
        return Failure(cause)

    @staticmethod
    def die(defect: BaseException) -> Exit[Never, Never]:
        return Failure(Die(defect))

    @staticmethod
    def unit() -> Exit[None, Never]:
        return _UNIT

    def is_success(self) -> bool:
        return isinstance(self, Success)

    def is_failure(self) -> bool:
        return isinstance(self, Failure)

    def is_interrupted(self) -> bool:
        """Whether this is a failure whose cause holds an interruption."""
        return isinstance(self, Failure) and self.cause.is_interrupted()

    def match(
        self, *, on_success: Callable[[A_co], B], on_failure: Callable[[Cause[E_co]], C]
    ) -> B | C:
        """Fold the exit: `on_success(value)` or `on_failure(cause)`."""
        if isinstance(self, Success):
            return on_success(self.value)
        assert isinstance(self, Failure)
        return on_failure(self.cause)

    def get_or_raise(self) -> A_co:
        """The value of a success; for a failure, raises `cause.to_exception()`."""
        if isinstance(self, Success):
            value: A_co = self.value
            return value
        assert isinstance(self, Failure)
        raise self.cause.to_exception()


@dataclass(frozen=True, slots=True)
class Success(Exit[A_co, Never]):
    """The effect succeeded with `value`."""

    value: A_co


@dataclass(frozen=True, slots=True)
class Failure(Exit[Never, E_co]):
    """The effect failed; `cause` says why."""

    cause: Cause[E_co]


_UNIT: Exit[None, Never] = Success(None)

_new = object.__new__
_set_value: Callable[[Any, Any], None] = vars(Success)["value"].__set__
_set_cause: Callable[[Any, Any], None] = vars(Failure)["cause"].__set__


def success_of(value: A) -> Success[A]:
    """`Success(value)` for the runtime, without the frozen dataclass's `__init__`
    (a finalizer gets one per scope that closes)."""
    exit: Success[A] = _new(Success)
    _set_value(exit, value)
    return exit


def failure_of(cause: Cause[E]) -> Failure[E]:
    """`Failure(cause)` for the runtime, as `success_of`."""
    exit: Failure[E] = _new(Failure)
    _set_cause(exit, cause)
    return exit
