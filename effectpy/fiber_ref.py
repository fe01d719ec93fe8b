"""Fiber-local variables: `FiberRef`.

A `FiberRef[A]` holds one value per fiber. A forked (or spawned) fiber starts with a
copy of its parent's values, so request ids, tenants or log annotations set in a parent
flow to the work it starts; a child's changes stay its own.

>>> from effectpy import Effect, FiberRef, run_sync
>>> def program(request_id: FiberRef[str]) -> Effect[str]:
...     child = request_id.get().map(lambda rid: f"child sees {rid}")
...     return request_id.locally("req-42", child.fork().flat_map(lambda f: f.join()))
>>> run_sync(FiberRef.make("none").flat_map(program))
'child sees req-42'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, final

from ._core.refs import FiberRef as _RefKey
from ._interpreter.loop import FiberRuntime
from .effect import Effect
from .effect import _locally as locally
from .effect import _with_fiber as with_fiber

A = TypeVar("A")
B = TypeVar("B")
E = TypeVar("E")
R = TypeVar("R")

__all__ = ["FiberRef"]


@final
class FiberRef(Generic[A]):
    """A value per fiber, inherited by the fibers it starts."""

    __slots__ = ("_key",)

    def __init__(self, initial: A, name: str = "FiberRef") -> None:
        self._key = _RefKey(initial, name)

    def __repr__(self) -> str:
        return f"FiberRef({self._key.name})"

    @staticmethod
    def make(initial: A, name: str = "FiberRef") -> Effect[FiberRef[A]]:
        """A new fiber ref whose value is `initial` in every fiber until set.

        >>> from effectpy import FiberRef, run_sync
        >>> run_sync(FiberRef.make(0, name="depth"))
        FiberRef(depth)
        """
        return Effect.sync(lambda: FiberRef(initial, name))

    def get(self) -> Effect[A]:
        """The value in the running fiber.

        >>> from effectpy import FiberRef, run_sync
        >>> run_sync(FiberRef(7).get())
        7
        """
        return with_fiber(lambda fiber: Effect.succeed(self._read(fiber)))

    def _read(self, fiber: FiberRuntime) -> A:
        value: A = fiber.get_ref(self._key)  # type: ignore[assignment]
        return value

    def set(self, value: A) -> Effect[None]:
        """Set the value in the running fiber (fibers it starts later inherit it).

        >>> from effectpy import FiberRef, run_sync
        >>> ref = FiberRef(0)
        >>> run_sync(ref.set(5).and_then(ref.get()))
        5
        """
        key = self._key

        def write(fiber: FiberRuntime) -> Effect[None]:
            fiber.set_ref(key, value)
            return Effect.unit()

        return with_fiber(write)

    def update(self, f: Callable[[A], A]) -> Effect[None]:
        """Replace the value `v` with `f(v)` in the running fiber."""
        return self.get().flat_map(lambda value: self.set(f(value)))

    def locally(self, value: A, effect: Effect[B, E, R]) -> Effect[B, E, R]:
        """Run `effect` with the value set to `value`, then restore the old one.

        >>> from effectpy import FiberRef, run_sync
        >>> ref = FiberRef("outer")
        >>> run_sync(ref.locally("inner", ref.get()).zip(ref.get()))
        ('inner', 'outer')
        """
        return locally(self._key, value, effect)
