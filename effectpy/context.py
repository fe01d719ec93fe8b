"""Services: `Tag`, `Context` and `Layer`.

A service is named by a `Tag` class, never by the service class itself:

>>> from effectpy import Context, Effect, Tag, run_sync
>>> class Greeter:
...     def greet(self, name: str) -> str:
...         return f"hello {name}"
>>> class GreeterTag(Tag[Greeter]): ...
>>> program = GreeterTag.get().map(lambda g: g.greet("ada"))   # Effect[str, Never, GreeterTag]
>>> run_sync(program.provide(GreeterTag.of(Greeter())))
'hello ada'

`Context[R]` is contravariant in `R`: a context that holds more services can stand in
for one that holds fewer, so `effect.provide(ctx)` type-checks only when `ctx` covers
every service in the effect's `R`. A `Layer` builds services (maybe from other
services, maybe with finalizers) when an effect is provided with it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Final,
    Generic,
    Never,
    Self,
    TypeVar,
    final,
    overload,
)

from ._core.refs import FiberRef
from .effect import Effect
from .effect import _locally as locally
from .effect import _with_fiber as with_fiber
from .scope import CloseableScope, Scope

if TYPE_CHECKING:
    from ._interpreter.loop import FiberRuntime

S = TypeVar("S")
T = TypeVar("T")
A = TypeVar("A")
E = TypeVar("E")
E2 = TypeVar("E2")
R = TypeVar("R")
R2 = TypeVar("R2")
R_contra = TypeVar("R_contra", contravariant=True)
ROut_contra = TypeVar("ROut_contra", contravariant=True)
ROut2 = TypeVar("ROut2")
E_co = TypeVar("E_co", covariant=True)
RIn_co = TypeVar("RIn_co", covariant=True)

__all__ = ["Context", "Layer", "MissingService", "Tag"]


class MissingService(LookupError):
    """A service was read that no `provide` gave (only possible past the type checker)."""


class Tag(Generic[S]):
    """The key of a service of type `S`: declare one class per service.

    `Db.get()` is an `Effect[Database, Never, Db]`: it needs `Db` in its `R`.
    `Db.of(impl)` is a `Context[Db]`. An instance, `Db(impl)`, is the service tagged
    with its key (what `Context.add(Db, impl)` and `Layer.succeed(Db, impl)` store).

    A service is looked up by its exact tag class, so a tag is a direct subclass of
    `Tag[X]` with a concrete `X`: subclassing a tag, or a generic tag, is a `TypeError`.

    >>> from effectpy import Tag
    >>> class Port(Tag[int]): ...
    >>> Port.of(8080)
    Context(Port=8080)
    """

    __slots__ = ("service",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A tag is a key looked up by its exact class, so the types and the run time
        agree only for a direct, concrete subclass of `Tag[X]`: a subclass of a tag would
        be another key that the types let stand for its parent, and a generic tag
        (`Tag[list[T]]`) one key for as many services as `T` has types."""
        super().__init_subclass__(**kwargs)
        for base in cls.__mro__[1:]:
            if base is not Tag and isinstance(base, type) and issubclass(base, Tag):
                raise TypeError(
                    f"cannot subclass the tag {base.__name__}: a service is looked up by "
                    f"its exact tag class, so {cls.__name__} would be another key that "
                    f"the types let stand for {base.__name__}; declare a tag of its own, "
                    f"class {cls.__name__}(Tag[...])"
                )
        if getattr(cls, "__parameters__", ()):
            raise TypeError(
                f"tag {cls.__name__} is generic: a tag is one key, so its service type "
                f"must be concrete; declare one tag per service type, "
                f"class {cls.__name__}(Tag[list[int]])"
            )
        if not any(getattr(b, "__origin__", None) is Tag for b in _orig_bases(cls)):
            raise TypeError(
                f"tag {cls.__name__} does not say its service type: class {cls.__name__}(Tag[...])"
            )

    def __init__(self, service: S) -> None:
        self.service = service

    @classmethod
    def get(cls) -> Effect[S, Never, Self]:
        """The service, read from the running fiber's context.

        >>> from effectpy import Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> run_sync(Port.get().provide(Port.of(8080)))
        8080
        """
        return with_fiber(lambda fiber: Effect.succeed(_current_context(fiber).get(cls)))

    @classmethod
    def of(cls, service: S) -> Context[Self]:
        """A context holding just this service.

        >>> from effectpy import Tag
        >>> class Port(Tag[int]): ...
        >>> len(Port.of(80))
        1
        """
        return _single(cls, service)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.service!r})"


def _orig_bases(cls: type) -> tuple[object, ...]:
    bases: tuple[object, ...] = cls.__dict__.get("__orig_bases__", ())
    return bases


@final
class Context(Generic[R_contra]):
    """An immutable map from tags to services; `R` names the tags it provides.

    >>> from effectpy import Context, Tag
    >>> class Port(Tag[int]): ...
    >>> class Host(Tag[str]): ...
    >>> ctx = Context.empty().add(Port, 80).add(Host, "localhost")
    >>> ctx.get(Host)
    'localhost'
    """

    __slots__ = ("_services",)
    _is_context: ClassVar[bool] = True
    """What `Effect.provide_some` accepts (it does not import this module)."""

    _services: Mapping[object, object]

    def __new__(cls, services: Mapping[type[Tag[Any]], object] | None = None, /) -> Context[Never]:
        """A context over `services`, a map from tag classes to services.

        Its type is `Context[Never]`, whatever it holds: a checker cannot tell which tags
        a dict holds, so build a context the checkers can follow with `Tag.of(impl)`,
        `Context.empty().add(Tag, impl)` and `merge`.
        """
        held: dict[object, object] = dict(services.items()) if services else {}
        for tag in held:
            _check_tag(tag, "Context")
        context: Context[Never] = object.__new__(cls)
        context._services = held
        return context

    @staticmethod
    def _owning(services: dict[object, object]) -> Context[Any]:
        """A context over `services`, a fresh dict nobody else holds (no copy)."""
        context: Context[Any] = object.__new__(Context)
        context._services = services
        return context

    @staticmethod
    def empty() -> Context[Never]:
        """The context with no service."""
        return _EMPTY

    def add(self, tag: Callable[[S], T], service: S) -> Context[R_contra | T]:
        """This context plus `service` under `tag` (which replaces an earlier one).

        mypy checks `service` against the tag's service type.
        """
        _check_tag(tag, "Context.add")
        return Context._owning({**self._services, tag: service})

    def merge(self, other: Context[R2]) -> Context[R_contra | R2]:
        """Both contexts; where both hold a tag, `other`'s service wins."""
        if not other._services:
            return self  # type: ignore[return-value]  # `other` is empty: nothing to add
        if not self._services:
            return other  # type: ignore[return-value]
        return Context._owning({**self._services, **other._services})

    def get(self: Context[T], tag: Callable[[S], T]) -> S:
        """The service under `tag`; `MissingService` if there is none.

        The checkers accept only a tag the context's type holds: `Context[Port]` has a
        `Port`, `Context[Port | Host]` both.
        """
        try:
            service: Any = self._services[tag]
        except KeyError:
            raise MissingService(
                f"no service for {_tag_name(tag)}: provide it with "
                f".provide({_tag_name(tag)}.of(...)) or a Layer"
            ) from None
        return service  # type: ignore[no-any-return]

    def _provide_to(self, effect: Effect[A, E, Any]) -> Effect[A, E, Any]:
        """`effect.provide(self)`: run `effect` with these services added."""
        return _provide_context(effect, self)

    def unsafe_get(self, key: object) -> object:
        """Library-internal: the value under any key (the current `Scope`, say)."""
        return self._services[key]

    def __contains__(self, tag: object) -> bool:
        return tag in self._services

    def __len__(self) -> int:
        return len(self._services)

    def __repr__(self) -> str:
        items = ", ".join(f"{_tag_name(k)}={v!r}" for k, v in self._services.items())
        return f"Context({items})"


_EMPTY: Final[Context[Never]] = Context()
_CURRENT_CONTEXT: Final = FiberRef(_EMPTY, "context")


def _current_context(fiber: FiberRuntime) -> Context[Any]:
    """Library-internal: the context of a running fiber."""
    context: Any = fiber.get_ref(_CURRENT_CONTEXT)
    return context  # type: ignore[no-any-return]


def _provide_context(effect: Effect[A, E, Any], context: Context[Any]) -> Effect[A, E, Any]:
    """Library-internal: run `effect` with `context` added to the current one."""
    return with_fiber(
        lambda fiber: locally(_CURRENT_CONTEXT, _current_context(fiber).merge(context), effect)
    )


def _single(tag: type[Tag[Any]], service: object) -> Context[Any]:
    """Library-internal: the context holding `service` under a checked `tag`."""
    return Context._owning({tag: service})  # noqa: SLF001


def _tag_name(tag: object) -> str:
    return getattr(tag, "__qualname__", repr(tag))


# -- layers ---------------------------------------------------------------------------

_layer_ids = itertools.count(1)
_MemoMap = dict[int, Context[Any]]
"""Layers built during one `provide`, by layer id: a layer used twice is built once."""


@final
class Layer(Generic[ROut_contra, E_co, RIn_co]):
    """A recipe for services `ROut`: it may fail with `E` and needs services `RIn`.

    Built when an effect is provided with it, at most once per `provide` (a layer
    that appears twice in a graph is shared), inside a scope that closes when the
    provided effect ends, so `Layer.scoped` services are released then.

    >>> from effectpy import Effect, Layer, Tag, run_sync
    >>> class Port(Tag[int]): ...
    >>> run_sync(Port.get().provide(Layer.succeed(Port, 8080)))
    8080
    """

    __slots__ = ("_build", "_id", "_name")

    def __init__(
        self,
        build: Callable[[_MemoMap, CloseableScope], Effect[Context[Any], Any, Any]],
        name: str,
    ) -> None:
        self._build = build
        self._name = name
        self._id = next(_layer_ids)

    def __repr__(self) -> str:
        return f"Layer({self._name})"

    def _provide_to(self, effect: Effect[A, Any, Any]) -> Effect[A, Any, Any]:
        """`effect.provide(self)`: build the layer in a scope of its own, run `effect`
        with its services, then close the scope (tearing the layer down)."""

        def build_and_run(scope: CloseableScope) -> Effect[A, Any, Any]:
            memo: _MemoMap = {}
            return self.build(memo, scope).flat_map(lambda ctx: _provide_context(effect, ctx))

        return Scope.make().flat_map(
            lambda scope: Effect.acquire_use_release(
                Effect.succeed(scope), build_and_run, lambda s, exit: s.close(exit)
            )
        )

    def build(
        self, memo: _MemoMap, scope: CloseableScope
    ) -> Effect[Context[ROut_contra], E_co, RIn_co]:
        """Library-internal: the effect that builds this layer's context (memoized)."""
        key = self._id

        def run() -> Effect[Context[Any], Any, Any]:
            if key in memo:
                return Effect.succeed(memo[key])
            return self._build(memo, scope).tap(
                lambda ctx: Effect.sync(lambda: _remember(memo, key, ctx))
            )

        return Effect.suspend(run)

    @staticmethod
    def succeed(tag: Callable[[S], T], service: S) -> Layer[T, Never, Never]:
        """A layer that provides `service` under `tag`.

        >>> from effectpy import Layer, Tag
        >>> class Port(Tag[int]): ...
        >>> Layer.succeed(Port, 80)
        Layer(Port)
        """
        key = _check_tag(tag, "Layer.succeed")
        return Layer(lambda memo, scope: Effect.succeed(_single(key, service)), _tag_name(key))

    @staticmethod
    def effect(tag: Callable[[S], T], effect: Effect[S, E, R]) -> Layer[T, E, R]:
        """A layer whose service is made by `effect` (which may need other services).

        >>> from effectpy import Effect, Layer, Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> run_sync(Port.get().provide(Layer.effect(Port, Effect.sync(lambda: 8000 + 80))))
        8080
        """
        key = _check_tag(tag, "Layer.effect")
        name = _tag_name(key)
        return Layer(
            lambda memo, scope: _annotate(effect, name).map(lambda s: _single(key, s)),
            name,
        )

    @overload
    @staticmethod
    def scoped(tag: Callable[[S], T], effect: Effect[S, E, Scope]) -> Layer[T, E, Never]: ...
    @overload
    @staticmethod
    def scoped(tag: Callable[[S], T], effect: Effect[S, E, Scope | R]) -> Layer[T, E, R]: ...
    @staticmethod
    def scoped(tag: Callable[[S], T], effect: Effect[S, E, Any]) -> Layer[T, E, Any]:
        """A layer whose service is made by a scoped `effect`: its finalizers (from
        `acquire_release`, `add_finalizer`) run when the provided effect ends.

        This is how a service gets its disposal: acquire it with `acquire_release`.

        >>> from effectpy import Effect, Layer, Tag, run_sync
        >>> class Conn(Tag[str]): ...
        >>> conn = Effect.acquire_release(
        ...     Effect.succeed("conn-1"), lambda c, exit: Effect.sync(lambda: print("closed", c)))
        >>> run_sync(Conn.get().provide(Layer.scoped(Conn, conn)))
        closed conn-1
        'conn-1'
        """
        key = _check_tag(tag, "Layer.scoped")
        name = _tag_name(key)
        return Layer(
            lambda memo, scope: scope.extend(_annotate(effect, name)).map(
                lambda s: _single(key, s)
            ),
            name,
        )

    def merge(
        self, other: Layer[ROut2, E2, R2]
    ) -> Layer[ROut_contra | ROut2, E_co | E2, RIn_co | R2]:
        """Both layers' services (built one after the other).

        >>> from effectpy import Layer, Tag
        >>> class Port(Tag[int]): ...
        >>> class Host(Tag[str]): ...
        >>> Layer.succeed(Port, 80).merge(Layer.succeed(Host, "h"))
        Layer(Port + Host)
        """
        first, second = self, other
        return Layer(
            lambda memo, scope: first.build(memo, scope).zip_with(
                second.build(memo, scope), lambda a, b: a.merge(b)
            ),
            f"{self._name} + {other._name}",
        )

    def provide_to(self, other: Layer[ROut2, E2, ROut_contra]) -> Layer[ROut2, E_co | E2, RIn_co]:
        """Feed this layer's services to the construction of `other`; the result
        provides `other`'s services.

        >>> from effectpy import Effect, Layer, Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> class Url(Tag[str]): ...
        >>> url = Layer.effect(Url, Port.get().map(lambda p: f"http://localhost:{p}"))
        >>> run_sync(Url.get().provide(Layer.succeed(Port, 80).provide_to(url)))
        'http://localhost:80'
        """
        first, second = self, other
        return Layer(
            lambda memo, scope: first.build(memo, scope).flat_map(
                lambda ctx: _provide_context(second.build(memo, scope), ctx)
            ),
            f"{other._name} <- {self._name}",
        )

    def provide_merge(
        self, other: Layer[ROut2, E2, ROut_contra]
    ) -> Layer[ROut_contra | ROut2, E_co | E2, RIn_co]:
        """Feed this layer's services to the construction of `other`; the result
        provides the services of both (Effect-TS `Layer.provideMerge`).

        >>> from effectpy import Effect, Layer, Tag, run_sync
        >>> class Port(Tag[int]): ...
        >>> class Url(Tag[str]): ...
        >>> url = Layer.effect(Url, Port.get().map(lambda p: f"http://localhost:{p}"))
        >>> both = Port.get().zip(Url.get())
        >>> run_sync(both.provide(Layer.succeed(Port, 80).provide_merge(url)))
        (80, 'http://localhost:80')
        """
        first, second = self, other
        return Layer(
            lambda memo, scope: first.build(memo, scope).flat_map(
                lambda ctx: _provide_context(second.build(memo, scope), ctx).map(ctx.merge)
            ),
            f"{self._name} + ({other._name} <- {self._name})",
        )


def _remember(memo: _MemoMap, key: int, context: Context[Any]) -> None:
    memo[key] = context


def _check_tag(tag: object, what: str) -> type[Tag[Any]]:
    if not (isinstance(tag, type) and issubclass(tag, Tag)) or tag is Tag:
        raise TypeError(f"{what} expects a Tag class (a subclass of Tag[...]), got {tag!r}")
    return tag


def _annotate(effect: Effect[A, E, R], name: str) -> Effect[A, E, R]:
    """On failure, note on the exception which service failed to build."""

    def note(cause: Any) -> Effect[None]:
        def add() -> None:
            for error in [*cause.failures(), *cause.defects()]:
                if isinstance(error, BaseException):
                    message = f"while building the layer for service {name}"
                    if message not in getattr(error, "__notes__", ()):
                        error.add_note(message)

        return Effect.sync(add)

    return effect.on_error(note)
