"""`Ref[A]`: a mutable cell that fibers share.

Fibers of one runtime run one at a time on one thread, and each operation of a `Ref`
is a single step of its fiber, so `update` and `modify` are atomic without a lock: no
other fiber can run between the read and the write. (A `Ref` belongs to the fibers of
one runtime; do not share one between runtimes on different threads.)

>>> from effectpy import Effect, run_sync
>>> from effectpy.concurrent import Ref
>>> def count_to(n: int) -> Effect[int]:
...     return Ref.make(0).flat_map(
...         lambda ref: Effect.for_each(range(n), lambda _: ref.update(lambda c: c + 1),
...                                     concurrency="unbounded").and_then(ref.get()))
>>> run_sync(count_to(100))
100
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Never, final, overload

from typing_extensions import TypeVar

from ..effect import Effect

# `Never` by default, only so that pyright reads a bare `Ref.make(...)` as the first
# overload of `make` (it would read `Ref[Unknown]`); mypy asks for `Ref[...]` in
# annotations either way.
A = TypeVar("A", default=Never)
B = TypeVar("B")
V = TypeVar("V")

__all__ = ["Ref"]


@final
class Ref(Generic[A]):
    """A mutable reference to an `A`, read and changed by effects.

    Make one with `Ref.make(value)`; each run of that effect makes a new `Ref`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: A) -> None:
        self._value = value

    def __repr__(self) -> str:
        return f"Ref({self._value!r})"

    # `Ref.make(v)` takes the type of `v`; `Ref[list[int]].make([])` the one it names.
    @overload
    @classmethod
    def make(cls: type[Ref[Never]], value: V) -> Effect[Ref[V]]: ...
    @overload
    @classmethod
    def make(cls: type[Ref[V]], value: V) -> Effect[Ref[V]]: ...
    @classmethod
    def make(cls, value: Any) -> Effect[Ref[Any]]:
        """An effect that makes a new `Ref` holding `value`: of the type of `value`, or of
        the one given, as in `Ref[list[int]].make([])`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make(1).flat_map(lambda ref: ref.get()))
        1
        >>> run_sync(Ref[list[int]].make([]).flat_map(lambda ref: ref.get()))
        []
        """
        return Effect.sync(lambda: Ref(value))

    def get(self) -> Effect[A]:
        """The current value.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make("a").flat_map(lambda ref: ref.get()))
        'a'
        """
        return Effect.sync(lambda: self._value)

    def set(self, value: A) -> Effect[None]:
        """Replace the value.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make(1).flat_map(lambda ref: ref.set(2).and_then(ref.get())))
        2
        """

        def write() -> None:
            self._value = value

        return Effect.sync(write)

    def update(self, f: Callable[[A], A]) -> Effect[None]:
        """Replace the value with `f(value)`, atomically. An exception `f` raises is
        a defect and leaves the value unchanged.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make(1).flat_map(
        ...     lambda ref: ref.update(lambda n: n + 1).and_then(ref.get())))
        2
        """

        def write() -> None:
            self._value = f(self._value)

        return Effect.sync(write)

    def modify(self, f: Callable[[A], tuple[B, A]]) -> Effect[B]:
        """Atomically compute `(result, new_value) = f(value)`, store `new_value` and
        succeed with `result`.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> next_id = Ref.make(7).flat_map(lambda ref: ref.modify(lambda n: (f"id-{n}", n + 1)))
        >>> run_sync(next_id)
        'id-7'
        """

        def write() -> B:
            result, self._value = f(self._value)
            return result

        return Effect.sync(write)

    def get_and_set(self, value: A) -> Effect[A]:
        """Replace the value; succeed with the old one.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make("old").flat_map(lambda ref: ref.get_and_set("new")))
        'old'
        """

        def swap() -> A:
            old, self._value = self._value, value
            return old

        return Effect.sync(swap)

    def get_and_update(self, f: Callable[[A], A]) -> Effect[A]:
        """Replace the value with `f(value)`, atomically; succeed with the old one.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make(1).flat_map(lambda ref: ref.get_and_update(lambda n: n * 10)))
        1
        """

        def swap() -> A:
            old = self._value
            self._value = f(old)
            return old

        return Effect.sync(swap)

    def update_and_get(self, f: Callable[[A], A]) -> Effect[A]:
        """Replace the value with `f(value)`, atomically; succeed with the new one.

        >>> from effectpy import run_sync
        >>> from effectpy.concurrent import Ref
        >>> run_sync(Ref.make(1).flat_map(lambda ref: ref.update_and_get(lambda n: n * 10)))
        10
        """

        def write() -> A:
            self._value = f(self._value)
            return self._value

        return Effect.sync(write)
