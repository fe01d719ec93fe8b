"""The effectpy mypy plugin: exact error and service types where plain typing can only
over-approximate.

Turn it on in the mypy configuration (`pyproject.toml`)::

    [tool.mypy]
    plugins = ["effectpy.mypy_plugin"]

What it adds (docs/typing.md tells the whole story):

* `effect.catch(cls, handler)`, and `pf.catch(cls, handler)` as a step of `pipe(...)`,
  remove `cls` and its subclasses from `E`; catching a subclass of a member leaves the
  member in place. A class that cannot be part of `E` is an error naming both. The
  caught class is bound before the handler is inferred, so a lambda handler sees it and
  never leaks `Any`.
* `effect.provide_service(tag, impl)` and `effect.provide_some(context)` remove the
  provided tags from `R`. A tag the effect does not need, or an implementation of the
  wrong type, is an error.
* `Effect.scoped`, `scope.extend`, `scope.use` and `Layer.scoped` remove `Scope` from
  `R` however many services `R` holds (plain mypy joins three or more to `object`).
* `@gen` rejects a generator whose annotation leaves `E` or `R` as `Any`, and keeps the
  type variables of a generic generator function, in `E` and `R` too.
* `branch(entry)` (`effectpy.structured`) turns every `Spawned[E2]` of the entry's `R`
  into part of its error type, beside other services and however many spawns.
* `pipe(...)` and `effect.pipe(...)` are inferred one step at a time, like a chain of
  method calls, which closes the pipe holes of plain mypy (two lambdas in a row, a
  step after a widening step). `pf.catch(cls)(handler)` steps subtract too (pyright
  does so with no plugin). A call with `*steps` keeps its own overload.
* `zip_with(that, f)` binds `that`'s types before a lambda `f` is inferred.
* `Context.add`, `Layer.succeed`, `Layer.effect` and `Layer.scoped` bind their tag to
  the class given: plain mypy may widen it to what the surrounding `provide` expects.
* Tags are exact keys, as at run time: subclassing a tag and a generic tag are errors, and
  so is a tag that is the base `Tag[X]` or a union of tags (`A if c else B`), where a
  tag class is needed (`Tag.of`, `Context.add`, the `Layer` constructors).
  `ctx.get(tag)` names the tags a context holds when `tag` is not one of them.
* `Any` does not pass for "cannot fail / needs nothing": an `Any` in `E` (at `run_sync`,
  `run_async`) or in `R` (at every runner, and at `provide`), a `Context[Any]` given to
  `provide`, and `yield from` an `Any` in a `@gen` body are errors that say where the
  `Any` came from.
* An `Effect` expression statement in a `@gen` body (a forgotten `yield from`) is an
  error with the code `unused-effect`.
* `effect.provide(layer)` with a layer for part of `R` leaves the rest in `R`, and
  `provide_to`/`provide_merge` may leave some of the second layer's needs for later.
* `Effect.scoped`, `scope.extend/use` and `branch` keep their handling as `pipe` steps,
  and an inline generic call in `Layer.scoped`/`Effect.scoped` is inferred on its own.

Without the plugin every signature is still sound: it keeps the caught class or the
provided tag in the type (an over-approximation), so nothing unhandled gets through;
the plugin only makes the types exact (docs/typing.md lists the holes plain typing
leaves: `Any`, a forgotten `yield from`, a conditional tag). `catch` subtracts a class
only where the expression names that class itself: a value of type `type[C]` may hold
a subclass of `C`, which would catch less than `C`. A tag cannot be subclassed, so a
`type[Db]` is `Db`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Final

from mypy.checker import TypeChecker
from mypy.errorcodes import ARG_TYPE, MISC, ErrorCode
from mypy.expandtype import expand_type
from mypy.maptype import map_instance_to_supertype
from mypy.messages import format_type
from mypy.nodes import (
    ARG_POS,
    ARG_STAR,
    Block,
    CallExpr,
    ClassDef,
    Context,
    Decorator,
    Expression,
    ExpressionStmt,
    FuncDef,
    MemberExpr,
    NameExpr,
    RefExpr,
    Statement,
    TempNode,
    TypeAlias,
    TypeInfo,
)
from mypy.plugin import (
    CheckerPluginInterface,
    ClassDefContext,
    FunctionContext,
    FunctionSigContext,
    MethodContext,
    MethodSigContext,
    Plugin,
)
from mypy.subtypes import is_subtype
from mypy.traverser import YieldFromCollector
from mypy.typeops import make_simplified_union
from mypy.types import (
    AnyType,
    CallableType,
    ErasedType,
    FunctionLike,
    Instance,
    LiteralType,
    ProperType,
    Type,
    TypeOfAny,
    TypeType,
    TypeVarId,
    TypeVarType,
    UninhabitedType,
    UnionType,
    flatten_nested_unions,
    get_proper_type,
)
from mypy.typevars import fill_typevars_with_any

__all__ = ["UNUSED_EFFECT", "EffectpyPlugin", "plugin"]

_EFFECT: Final = "effectpy.effect.Effect"
_TAG: Final = "effectpy.context.Tag"
_CONTEXT: Final = "effectpy.context.Context"
_LAYER: Final = "effectpy.context.Layer"
_SCOPE: Final = "effectpy.scope.Scope"
_GENERATOR: Final = "typing.Generator"
_SPAWNED: Final = "effectpy.structured.Spawned"
_POINTFREE_CATCH: Final = "effectpy.pointfree.catch"
_POINTFREE_PROVIDE_SERVICE: Final = "effectpy.pointfree.provide_service"
_POINTFREE_CATCH_STEP: Final = "effectpy.pointfree.CatchStep"
_BRANCH: Final = "effectpy.structured.branch"

UNUSED_EFFECT: Final = ErrorCode(
    "unused-effect", "An effect built and dropped inside a @gen generator", "General"
)
"""The error code of an `Effect` expression statement in a `@gen` body."""

# The runners, whose effect's `R` must not be `Any` (it passes for `Never`), nor its `E`
# where they take only `E = Never` (the others give the error back, in an `Exit`).
_RUNNER_NAMES: Final = {
    "run_sync": True,
    "run_async": True,
    "run_sync_exit": False,
    "run_async_exit": False,
    "run_main": False,
    "run_fork": False,
}
_RUNNERS: Final = {f"effectpy.runtime.{name}" for name in _RUNNER_NAMES}
_RUNNER_METHODS: Final = {f"effectpy.runtime.Runtime.{name}" for name in _RUNNER_NAMES}

# Methods and static methods whose effect argument may need `Scope`, which they provide.
_SCOPE_PROVIDERS: Final = {
    "effectpy.effect.Effect.scoped",
    "effectpy.scope.Scope.extend",
    "effectpy.scope.CloseableScope.extend",
    "effectpy.scope.CloseableScope.use",
    "effectpy.context.Layer.scoped",
}


# Functions with a `tag: Callable[[S], T]` parameter, and how messages name them.
_TAG_TAKERS: Final = {
    f"{_CONTEXT}.add": "Context.add",
    f"{_LAYER}.succeed": "Layer.succeed",
    f"{_LAYER}.effect": "Layer.effect",
    f"{_LAYER}.scoped": "Layer.scoped",
}


class EffectpyPlugin(Plugin):
    """Hooks on the effectpy combinators whose exact types subtract from a union."""

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], FunctionLike] | None:
        if fullname == f"{_EFFECT}.catch":
            return _catch_method_signature
        if fullname == f"{_EFFECT}.provide_service":
            return _provide_service_signature
        if fullname == f"{_EFFECT}.provide_some":
            return _provide_some_signature
        if fullname == f"{_EFFECT}.pipe":
            return _pipe_method_signature
        if fullname == f"{_EFFECT}.zip_with":
            return _zip_with_signature
        if fullname in _TAG_TAKERS:
            return _tag_signature(_TAG_TAKERS[fullname])
        if fullname == f"{_EFFECT}.provide":
            return _provide_signature
        if fullname in (f"{_LAYER}.provide_to", f"{_LAYER}.provide_merge"):
            return _layer_feed_signature(merge=fullname.endswith("merge"))
        if fullname == f"{_TAG}.of":
            return _tag_of_signature
        if fullname == f"{_CONTEXT}.get":
            return _context_get_signature
        return None

    def get_function_signature_hook(
        self, fullname: str
    ) -> Callable[[FunctionSigContext], FunctionLike] | None:
        if fullname == _POINTFREE_CATCH:
            return _catch_function_signature
        if fullname == "effectpy.pointfree.pipe":
            return _pipe_function_signature
        if fullname == "effectpy.pointfree.zip_with":
            return _zip_with_signature
        return None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        if fullname in _SCOPE_PROVIDERS:
            return _remove_scope
        if fullname == f"{_EFFECT}.provide":
            return _check_provide_any
        if fullname in _RUNNER_METHODS:
            return _check_runner
        return None

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        if fullname == "effectpy.effect.gen":
            return _check_gen
        if fullname == _BRANCH:
            return _converge_branch
        if fullname in _RUNNERS:
            return _check_runner
        return None

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        if fullname == _TAG:
            return _check_tag_class
        symbol = self.lookup_fully_qualified(fullname)
        node = None if symbol is None else symbol.node
        if isinstance(node, TypeInfo) and node.fullname != _TAG and node.has_base(_TAG):
            return _refuse_tag_subclass
        return None


def plugin(version: str) -> type[Plugin]:
    """The entry point mypy calls with its version."""
    return EffectpyPlugin


# -- types: unions, effects, classes ---------------------------------------------------


def _members(typ: Type) -> list[ProperType]:
    """The members of a union; one member for any other type, none for `Never`."""
    members = [get_proper_type(t) for t in flatten_nested_unions([typ])]
    return [m for m in members if not isinstance(m, UninhabitedType)]


def _supertype(typ: Type, fullname: str) -> Instance | None:
    """`typ` seen as an instance of the class `fullname`, if it is one."""
    proper = get_proper_type(typ)
    if not isinstance(proper, Instance):
        return None
    for info in proper.type.mro:
        if info.fullname == fullname:
            return map_instance_to_supertype(proper, info)
    return None


def _with_arg(instance: Instance, index: int, arg: Type) -> Instance:
    args = list(instance.args)
    args[index] = arg
    return instance.copy_modified(args=args)


def _named_class(expr: Expression) -> TypeInfo | None:
    """The class an expression names itself (`KeyError`, `mod.Db`, an alias of one).

    A variable of type `type[C]` is not such an expression: it may hold a subclass.
    """
    if not isinstance(expr, RefExpr):
        return None
    node = expr.node
    if isinstance(node, TypeInfo):
        return node
    if isinstance(node, TypeAlias) and node.no_args:  # `Missing = KeyError`
        target = get_proper_type(node.target)
        if isinstance(target, Instance):
            return target.type
    return None


def _instance_type(typ: Type) -> ProperType | None:
    """The type of the instances of a class object or of a `type[...]` value."""
    proper = get_proper_type(typ)
    if isinstance(proper, FunctionLike) and proper.is_type_obj():
        return get_proper_type(fill_typevars_with_any(proper.type_object()))
    if isinstance(proper, TypeType):
        return get_proper_type(proper.item)
    return None


def _is_unsolved(typ: ProperType) -> bool:
    """`Any`, or a class or callable given by a type variable (generic code)."""
    if isinstance(typ, TypeType):
        typ = get_proper_type(typ.item)
    elif isinstance(typ, CallableType) and not typ.is_type_obj():
        typ = get_proper_type(typ.ret_type)
    return isinstance(typ, AnyType | TypeVarType)


def _always_instance(member: ProperType, info: TypeInfo) -> bool:
    """Every value of type `member` is an instance of `info` (so `isinstance` catches it)."""
    if isinstance(member, Instance):
        return member.type.has_base(info.fullname)
    if isinstance(member, LiteralType):
        return member.fallback.type.has_base(info.fullname)
    if isinstance(member, TypeVarType):
        if member.values:
            return all(_always_instance(get_proper_type(v), info) for v in member.values)
        return _always_instance(get_proper_type(member.upper_bound), info)
    return False


def _may_be_instance(member: ProperType, info: TypeInfo) -> bool:
    """Some value of type `member` may be an instance of `info`."""
    if isinstance(member, AnyType):
        return True
    if isinstance(member, Instance):
        return (
            member.type.has_base(info.fullname)
            or info.has_base(member.type.fullname)
            or member.type.is_protocol
            or member.type.fallback_to_any
        )
    if isinstance(member, LiteralType):
        return _may_be_instance(member.fallback, info)
    if isinstance(member, TypeVarType):
        if member.values:
            return any(_may_be_instance(get_proper_type(v), info) for v in member.values)
        return any(_may_be_instance(m, info) for m in _members(member.upper_bound))
    return False


def _is_open(members: list[ProperType]) -> bool:
    """The type has a member that stands for types not known here (`Any`, a type variable)."""
    return any(isinstance(m, AnyType | TypeVarType) for m in members)


def _show(api: CheckerPluginInterface, typ: Type) -> str:
    return format_type(typ, api.options)


# -- catch -------------------------------------------------------------------------------


def _catch_method_signature(ctx: MethodSigContext) -> FunctionLike:
    """`effect.catch(cls, handler)`: bind the caught class, subtract it from `E`."""
    signature = ctx.default_signature
    if len(ctx.args) < 2 or len(ctx.args[0]) != 1:
        return signature
    bound = _bind_caught_class(ctx.api, signature, ctx.args[0][0])
    if bound is None:
        return signature
    signature, caught = bound
    effect = _supertype(ctx.type, _EFFECT)
    if caught is None or effect is None:
        return signature
    remaining = _subtract_caught(ctx.api, effect.args[1], caught, ctx.args[0][0])
    handler = get_proper_type(signature.arg_types[1])
    result = _supertype(signature.ret_type, _EFFECT)
    if remaining is None or not isinstance(handler, CallableType) or result is None:
        return signature
    handler_effect = _supertype(handler.ret_type, _EFFECT)
    if handler_effect is None:
        return signature
    error = make_simplified_union([*remaining, handler_effect.args[1]])
    return signature.copy_modified(ret_type=_with_arg(result, 1, error))


def _catch_function_signature(ctx: FunctionSigContext) -> FunctionLike:
    """`pf.catch(cls, handler)`: bind the caught class (the `pipe` hook subtracts it)."""
    signature = ctx.default_signature
    if len(ctx.args) < 2 or len(ctx.args[0]) != 1:
        return signature
    bound = _bind_caught_class(ctx.api, signature, ctx.args[0][0])
    return signature if bound is None else bound[0]


def _bind_caught_class(
    api: CheckerPluginInterface, signature: CallableType, cls: Expression
) -> tuple[CallableType, TypeInfo | None] | None:
    """The signature with its type variable `X` (from `cls: type[X]`) replaced by the
    caught class, so that a lambda handler is inferred with it; and the class, when it
    is known (`cls` names it, or is a `type[C]`). None when there is nothing to bind
    (mypy reports the rest).
    """
    cls_param = get_proper_type(signature.arg_types[0])
    if not isinstance(cls_param, TypeType):
        return None
    variable = get_proper_type(cls_param.item)
    if not isinstance(variable, TypeVarType):
        return None
    caught = _instance_type(api.get_expression_type(cls))
    if caught is None or not is_subtype(caught, variable.upper_bound):
        return None
    bound = expand_type(signature, {variable.id: caught})
    assert isinstance(bound, CallableType)
    variables = [v for v in signature.variables if v.id != variable.id]
    known = caught.type if isinstance(caught, Instance) else None
    return bound.copy_modified(variables=variables), known


def _subtract_caught(
    api: CheckerPluginInterface, error: Type, caught: TypeInfo, cls: Expression
) -> list[ProperType] | None:
    """The members of `error` that `catch(cls, ...)` lets through; None when `E` stays
    whole: `cls` cannot be part of `error` (reported), or it does not name its class
    (a `type[C]` value may hold a subclass of `C`, which catches less)."""
    members = _members(error)
    if not any(_may_be_instance(m, caught) for m in members):
        api.fail(
            f"Cannot catch {_show(api, fill_typevars_with_any(caught))}: it is not part of "
            f"the effect's error type {_show(api, error)}",
            cls,
            code=ARG_TYPE,
        )
        return None
    if _named_class(cls) is not caught:
        return None
    return [m for m in members if not _always_instance(m, caught)]


# -- services ----------------------------------------------------------------------------


def _tag_service_type(info: TypeInfo) -> Type | None:
    """`S` of a tag class `class Db(Tag[S])`; None if `info` is not a tag class."""
    tag = _supertype(fill_typevars_with_any(info), _TAG)
    return None if tag is None else tag.args[0]


def _remove_tags(
    api: CheckerPluginInterface,
    requirements: Type,
    tags: list[TypeInfo],
    contexts: list[Expression],
) -> Type:
    """`requirements` without `tags` (by identity: a subclass is another key); a tag that
    is not required is reported at its context."""
    members = _members(requirements)
    for tag, context in zip(tags, contexts, strict=True):
        required = any(isinstance(m, Instance) and m.type is tag for m in members)
        if not required and not _is_open(members):
            api.fail(
                f"Cannot provide {_show(api, fill_typevars_with_any(tag))}: it is not part "
                f"of the effect's requirements {_show(api, requirements)}",
                context,
                code=ARG_TYPE,
            )
    return make_simplified_union(
        [m for m in members if not (isinstance(m, Instance) and m.type in tags)]
    )


def _bind_tag(
    api: CheckerPluginInterface,
    signature: CallableType,
    args: list[list[Expression]],
    what: str,
) -> tuple[CallableType, TypeInfo | None, Expression] | None:
    """Bind the type variables of a `tag: Callable[[S], T]` parameter to the tag class
    the call passes and to its service type, and check the `service` argument.

    Left to the solver, `T` would take its type from the context of the call: in
    `effect.provide(ctx.add(Host, h))`, mypy widens `T` to all of the effect's `R`, and a
    context holding only `Host` would pass for one holding every service.
    None when the signature has no such parameter (mypy checks the rest).
    """
    if "tag" not in signature.arg_names:
        return None
    index = signature.arg_names.index("tag")
    tag_param = get_proper_type(signature.arg_types[index])
    if index >= len(args) or len(args[index]) != 1 or not isinstance(tag_param, CallableType):
        return None
    service_var = get_proper_type(tag_param.arg_types[0]) if tag_param.arg_types else None
    key_var = get_proper_type(tag_param.ret_type)
    if not isinstance(service_var, TypeVarType) or not isinstance(key_var, TypeVarType):
        return None
    tag_expr = args[index][0]
    tag_type = get_proper_type(api.get_expression_type(tag_expr))
    tag_instance = _instance_type(tag_type)
    tag_class = tag_instance.type if isinstance(tag_instance, Instance) else None
    service_type = None if tag_class is None else _tag_service_type(tag_class)
    if tag_instance is None or tag_class is None or service_type is None:
        if _is_unsolved(tag_type):
            return None
        if isinstance(tag_type, UnionType):
            message = (
                f"{what} needs one Tag class, got {_show(api, tag_type)}: at run time it is "
                f"one of them, so the others would be missing; write an if statement"
            )
        else:
            message = f"{what} needs a Tag class, got {_show(api, tag_type)}"
        api.fail(message, tag_expr, code=ARG_TYPE)
        return _refused_tag(signature, key_var, service_var), None, tag_expr
    if tag_class.fullname == _TAG:
        api.fail(_not_a_concrete_tag(what, tag_type, api), tag_expr, code=ARG_TYPE)
        return _refused_tag(signature, key_var, service_var), None, tag_expr
    # `S` is bound only for a plain `service: S` argument, where it gives the argument
    # its expected type (for `[]`, a lambda...). In `effect: Effect[S, E, R]` it is left
    # to the solver: as an expected type it would make mypy solve a generic call there
    # (`Effect.acquire_release(...)`) to the tag's service type before its arguments.
    binding: dict[TypeVarId, Type] = {key_var.id: tag_instance}
    if "service" in signature.arg_names:
        binding[service_var.id] = service_type
    bound = expand_type(signature, binding)
    assert isinstance(bound, CallableType)
    bound = bound.copy_modified(variables=[v for v in signature.variables if v.id not in binding])
    if "service" in signature.arg_names:
        bound = _check_service(api, bound, args, "service", tag_instance, service_type)
    elif "effect" in signature.arg_names:
        bound = _check_service(api, bound, args, "effect", tag_instance, service_type)
    # A tag cannot be subclassed (`_refuse_tag_subclass`), so a `type[Db]` holds `Db`.
    return bound, tag_class, tag_expr


def _refused_tag(
    signature: CallableType, key_var: TypeVarType, service_var: TypeVarType
) -> CallableType:
    """The signature after a reported tag: it accepts anything and provides nothing."""
    bound = expand_type(
        signature,
        {key_var.id: UninhabitedType(), service_var.id: AnyType(TypeOfAny.from_error)},
    )
    assert isinstance(bound, CallableType)
    return bound.copy_modified(
        arg_types=[AnyType(TypeOfAny.from_error)] * len(signature.arg_types),
        variables=[v for v in signature.variables if v.id not in (key_var.id, service_var.id)],
    )


def _check_service(
    api: CheckerPluginInterface,
    signature: CallableType,
    args: list[list[Expression]],
    name: str,
    tag: Type,
    service_type: Type,
) -> CallableType:
    """Report a `service` argument (or the value of an `effect` argument) that is not of
    the tag's service type, naming both; the parameter then accepts it, so that mypy
    does not report it again in its own words."""
    at = signature.arg_names.index(name)
    if at >= len(args) or len(args[at]) != 1:
        return signature
    expr = args[at][0]
    if name == "service":
        given: Type | None = api.get_expression_type(expr, type_context=service_type)
    else:
        made = _supertype(api.get_expression_type(expr), _EFFECT)
        given = None if made is None else made.args[0]
    if given is None or is_subtype(given, service_type):
        return signature
    api.fail(
        f"Service {_show(api, tag)} needs an implementation of type "
        f"{_show(api, service_type)}, got {_show(api, given)}",
        expr,
        code=ARG_TYPE,
    )
    arg_types = list(signature.arg_types)
    parameter = _supertype(arg_types[at], _EFFECT)
    if name == "service" or parameter is None:
        arg_types[at] = AnyType(TypeOfAny.from_error)
    else:
        arg_types[at] = _with_arg(parameter, 0, AnyType(TypeOfAny.from_error))
    tag_at = signature.arg_names.index("tag")
    tag_param = get_proper_type(arg_types[tag_at])
    if isinstance(tag_param, CallableType):
        arg_types[tag_at] = tag_param.copy_modified(arg_types=[AnyType(TypeOfAny.from_error)])
    return signature.copy_modified(arg_types=arg_types)


def _tag_signature(what: str) -> Callable[[MethodSigContext], FunctionLike]:
    """`Context.add`, `Layer.succeed/effect/scoped`: the tag's key type is the tag class."""

    def hook(ctx: MethodSigContext) -> FunctionLike:
        bound = _bind_tag(ctx.api, ctx.default_signature, ctx.args, what)
        return ctx.default_signature if bound is None else bound[0]

    return hook


def _provide_service_signature(ctx: MethodSigContext) -> FunctionLike:
    """`effect.provide_service(tag, impl)`: check `impl` against the tag's service type,
    subtract the tag from `R`."""
    signature = ctx.default_signature
    effect = _supertype(ctx.type, _EFFECT)
    if effect is None:
        return signature
    bound = _bind_tag(ctx.api, signature, ctx.args, "provide_service")
    if bound is None:
        return signature
    signature, tag_class, tag_expr = bound
    result = _supertype(signature.ret_type, _EFFECT)
    if result is None or tag_class is None:
        return signature
    requirements = _remove_tags(ctx.api, effect.args[2], [tag_class], [tag_expr])
    return signature.copy_modified(ret_type=_with_arg(result, 2, requirements))


def _provide_some_signature(ctx: MethodSigContext) -> FunctionLike:
    """`effect.provide_some(context)`: subtract the context's tags from `R`."""
    signature = ctx.default_signature
    effect = _supertype(ctx.type, _EFFECT)
    result = _supertype(signature.ret_type, _EFFECT)
    if effect is None or result is None or len(ctx.args) < 1 or len(ctx.args[0]) != 1:
        return signature
    context_expr = ctx.args[0][0]
    context = _supertype(ctx.api.get_expression_type(context_expr), _CONTEXT)
    if context is None:
        return signature
    provided = _members(context.args[0])
    if _is_open(provided):
        return signature
    tags = [m.type for m in provided if isinstance(m, Instance)]
    requirements = _remove_tags(ctx.api, effect.args[2], tags, [context_expr] * len(tags))
    return signature.copy_modified(ret_type=_with_arg(result, 2, requirements))


# -- Scope -------------------------------------------------------------------------------


def _remove_scope(ctx: MethodContext) -> Type:
    """`Effect.scoped(effect)`, `scope.extend/use(effect)`, `Layer.scoped(tag, effect)`:
    the result needs what `effect` needs, except `Scope`."""
    result = get_proper_type(ctx.default_return_type)
    if "effect" not in ctx.callee_arg_names or not isinstance(result, Instance):
        return ctx.default_return_type
    actual = ctx.arg_types[ctx.callee_arg_names.index("effect")]
    effect = _supertype(actual[0], _EFFECT) if len(actual) == 1 else None
    if effect is None:
        return ctx.default_return_type
    members = _members(effect.args[2])
    if not any(isinstance(m, Instance) and m.type.fullname == _SCOPE for m in members):
        # Inferred against the parameter `Effect[S, E, Scope | R]`, a generic call written
        # inline (`Effect.acquire_release(...)`) has its services joined (to `object`):
        # infer it again on its own.
        expr = ctx.args[ctx.callee_arg_names.index("effect")]
        alone = _supertype(ctx.api.get_expression_type(expr[0]), _EFFECT) if expr else None
        if alone is None:
            return ctx.default_return_type
        effect = alone
        members = _members(effect.args[2])
        if not any(isinstance(m, Instance) and m.type.fullname == _SCOPE for m in members):
            return ctx.default_return_type
        result = _with_arg(result, 1, effect.args[1])
        if result.type.fullname == _EFFECT:
            result = _with_arg(result, 0, effect.args[0])
    requirements = make_simplified_union(
        [m for m in members if not (isinstance(m, Instance) and m.type.fullname == _SCOPE)]
    )
    if result.type.fullname in (_EFFECT, _LAYER):
        return _with_arg(result, 2, requirements)
    return ctx.default_return_type


# -- branch ------------------------------------------------------------------------------


def _converge_branch(ctx: FunctionContext) -> Type:
    """`branch(entry)`: every `Spawned[E2]` in the entry's `R` becomes part of `E`.

    Plain mypy solves `Spawned[E2]` against a union of several `Spawned[...]` by joining
    their errors (to `Exception`, say), and cannot take `Spawned[...]` out of an `R` that
    holds other services."""
    result = _supertype(ctx.default_return_type, _EFFECT)
    if "entry" not in ctx.callee_arg_names or result is None:
        return ctx.default_return_type
    actual = ctx.arg_types[ctx.callee_arg_names.index("entry")]
    entry = _supertype(actual[0], _EFFECT) if len(actual) == 1 else None
    if entry is None:
        return ctx.default_return_type
    members = _members(entry.args[2])
    spawned = [m for m in members if isinstance(m, Instance) and m.type.fullname == _SPAWNED]
    if not spawned:
        return ctx.default_return_type
    errors = make_simplified_union([entry.args[1], *(m.args[0] for m in spawned)])
    rest = make_simplified_union([m for m in members if m not in spawned])
    return result.copy_modified(args=[result.args[0], errors, rest])


# -- zip_with ------------------------------------------------------------------------------


def _zip_with_signature(ctx: MethodSigContext | FunctionSigContext) -> FunctionLike:
    """`zip_with(that, f)`: bind `B`, `E2` and `R2` to the type of `that` before `f` is
    inferred. mypy solves them with `f`; with `E2` or `R2` solved to `Never` it infers
    again, from the lambda as first seen (before `B` was known), and `lambda a, b: b * a`
    gets a wrong result type, `lambda a, b: b.upper()` an `Any`."""
    signature = ctx.default_signature
    if len(ctx.args) != 2 or len(ctx.args[0]) != 1 or not signature.arg_types:
        return signature
    formal = get_proper_type(signature.arg_types[0])
    actual = _supertype(ctx.api.get_expression_type(ctx.args[0][0]), _EFFECT)
    if not isinstance(formal, Instance) or actual is None:
        return signature
    bound: dict[TypeVarId, Type] = {}
    for variable, value in zip(formal.args, actual.args, strict=True):
        variable = get_proper_type(variable)
        if not isinstance(variable, TypeVarType):
            return signature
        bound[variable.id] = value
    return signature.copy_modified(
        arg_types=[expand_type(t, bound) for t in signature.arg_types],
        ret_type=expand_type(signature.ret_type, bound),
        variables=[v for v in signature.variables if v.id not in bound],
    )


# -- @gen --------------------------------------------------------------------------------


_LOOSE: Final = {"E": "its error type E", "R": "its service type R"}


def _check_gen(ctx: FunctionContext) -> Type:
    """`@gen`: `E` and `R` come from the generator's annotation, so they must not be `Any`."""
    if len(ctx.arg_types) != 1 or len(ctx.arg_types[0]) != 1:
        return ctx.default_return_type
    _check_gen_body(ctx.api, ctx.context)
    function = get_proper_type(ctx.arg_types[0][0])
    if not isinstance(function, CallableType):
        return ctx.default_return_type
    returned = get_proper_type(function.ret_type)
    generator = _supertype(returned, _GENERATOR)
    if isinstance(returned, AnyType):
        loose = ["E", "R"]
    elif generator is None:
        return ctx.default_return_type
    else:
        yielded = _members(generator.args[0])
        if any(isinstance(m, AnyType) for m in yielded):
            loose = ["E", "R"]
        else:
            effects = [e for e in (_supertype(m, _EFFECT) for m in yielded) if e is not None]
            loose = [
                name
                for name, index in (("E", 1), ("R", 2))
                if any(isinstance(m, AnyType) for e in effects for m in _members(e.args[index]))
            ]
    if loose:
        described = " and ".join(_LOOSE[name] for name in loose)
        generator_name = (function.name or "generator").split(" of ")[0]
        ctx.api.fail(
            f'@gen generator "{generator_name}" leaves {described} as Any: annotate it '
            f'"-> Do[A, E, R]"',
            ctx.context,
            code=ARG_TYPE,
        )
    elif function.variables and generator is not None:
        return _generic_gen(ctx.default_return_type, function, generator)
    return ctx.default_return_type


def _generic_gen(default: Type, function: CallableType, generator: Instance) -> Type:
    """`@gen` on a generic generator function: the same function, returning `Effect[A, E,
    R]` read off its generator. (mypy keeps the type variables only where none of `gen`'s
    is solved to `Never`; an `E` or `R` of the function's own may become `Never`.)"""
    made = get_proper_type(default)
    if not isinstance(made, CallableType):
        return default
    effect = get_proper_type(made.ret_type)
    yielded = [_supertype(m, _EFFECT) for m in _members(generator.args[0])]
    if not isinstance(effect, Instance) or any(e is None for e in yielded):
        return default
    effects = [e for e in yielded if e is not None]
    error, service = (make_simplified_union([e.args[i] for e in effects]) for i in (1, 2))
    returned = effect.copy_modified(args=[generator.args[2], error, service])
    return function.copy_modified(ret_type=returned, fallback=made.fallback)


# -- pipe ----------------------------------------------------------------------------------
#
# mypy solves the type variables of all steps of a `pipe(...)` overload at once, which
# is where the pipe holes come from (a widening step followed by another, two lambdas
# in a row, a lambda inside a pointfree step). With the plugin, a pipe is inferred the
# way a chain of method calls is: one step at a time, each step given the type of the
# value so far as its context, then applied to it. `pf.catch` steps subtract their class.


def _pipe_function_signature(ctx: FunctionSigContext) -> FunctionLike:
    """`pipe(value, f1, ..., fn)`."""
    signature = _without_star_steps(ctx.default_signature, ctx.context)
    if not _pipe_arity_matches(signature, ctx.args, ctx.context) or len(ctx.args) < 2:
        return signature
    value_type = _widened(ctx.api.get_expression_type(ctx.args[0][0]))
    inferred = _infer_pipe(ctx.api, value_type, [a[0] for a in ctx.args[1:]])
    if inferred is None:
        return signature
    steps, result = inferred
    return signature.copy_modified(arg_types=[value_type, *steps], ret_type=result, variables=[])


def _pipe_method_signature(ctx: MethodSigContext) -> FunctionLike:
    """`effect.pipe(f1, ..., fn)`."""
    signature = _without_star_steps(ctx.default_signature, ctx.context)
    if not _pipe_arity_matches(signature, ctx.args, ctx.context):
        return signature
    inferred = _infer_pipe(ctx.api, ctx.type, [a[0] for a in ctx.args])
    if inferred is None:
        return signature
    steps, result = inferred
    return signature.copy_modified(arg_types=steps, ret_type=result, variables=[])


def _without_star_steps(signature: CallableType, call: Context) -> CallableType:
    """The `*steps` overload, for a call that passes its steps one by one: steps of type
    `Never`, so that it matches only `pipe(value)`. The steps are inferred one at a time
    by the overload of their number; the `*steps` one would make any step typed `Any`
    (a lambda) ambiguous, and the whole pipe `Any`."""
    if (
        isinstance(call, CallExpr)
        and ARG_STAR not in call.arg_kinds
        and ARG_STAR in signature.arg_kinds
    ):
        star = signature.arg_kinds.index(ARG_STAR)
        arg_types = list(signature.arg_types)
        arg_types[star] = UninhabitedType()
        return signature.copy_modified(arg_types=arg_types)
    return signature


def _widened(typ: Type) -> Type:
    """`int` for the type of the literal `1` (what a type variable would be solved to)."""
    proper = get_proper_type(typ)
    if isinstance(proper, Instance) and proper.last_known_value is not None:
        return proper.copy_modified(last_known_value=None)
    return typ


def _pipe_arity_matches(
    signature: FunctionLike, args: list[list[Expression]], call: Context
) -> bool:
    """The call passes each step positionally (no `*steps`), and the overload item has
    one parameter per argument."""
    return (
        isinstance(call, CallExpr)
        and all(kind == ARG_POS for kind in call.arg_kinds)
        and isinstance(signature, CallableType)
        and all(kind == ARG_POS for kind in signature.arg_kinds)
        and all(len(actuals) == 1 for actuals in args)
        and len(signature.arg_types) == len(args)
    )


def _infer_pipe(
    api: CheckerPluginInterface, value: Type, steps: list[Expression]
) -> tuple[list[Type], Type] | None:
    """The type of each step and of the result, inferred one step at a time."""
    if not isinstance(api, TypeChecker):
        return None
    checker = api.expr_checker
    function = api.named_type("builtins.function")
    current = value
    step_types: list[Type] = []
    for step in steps:
        caught = _pointfree_catch_class(api, step)
        if caught is None and not _is_call_to(step, _POINTFREE_PROVIDE_SERVICE):
            context: Type | None = CallableType(
                [current], [ARG_POS], [None], ret_type=ErasedType(), fallback=function
            )
        else:
            # No expected type for `pf.catch(...)`: its `E` must stay a type variable, to
            # tell the errors it lets through from the handler's; nor for
            # `pf.provide_service(tag, service)`, whose tag and service say it all.
            context = None
        step_type = api.get_expression_type(step, type_context=context)
        # Applied with no expected type: the one around the `pipe(...)` call is for its
        # result, not for this step's. A step that is one of the hooked callables
        # (`Effect.scoped`, `branch`...) is applied under its name, so its hook runs.
        name, receiver = _hooked_step(api, step)
        checker.type_context.append(None)
        try:
            applied, _ = checker.check_call(
                step_type,
                [TempNode(current, context=step)],
                [ARG_POS],
                step,
                callable_name=name,
                object_type=receiver,
            )
        finally:
            checker.type_context.pop()
        if caught is not None:
            applied = _subtract_in_step(api, current, step_type, applied, caught)
        step_types.append(step_type)
        current = applied
    return step_types, current


def _hooked_step(api: TypeChecker, step: Expression) -> tuple[str | None, Type | None]:
    """The full name of a step that names a callable with a return hook (`branch`,
    `Effect.scoped`, `scope.extend`...), and the type of its receiver for a method."""
    if isinstance(step, NameExpr) and step.fullname == _BRANCH:
        return step.fullname, None
    if not isinstance(step, MemberExpr):
        return None, None
    if step.fullname == _BRANCH:
        return step.fullname, None
    receiver = api.lookup_type_or_none(step.expr)
    instance = None if receiver is None else _instance_type(receiver)
    if instance is None and receiver is not None:
        instance = get_proper_type(receiver)
    if not isinstance(instance, Instance):
        return None, None
    for info in instance.type.mro:
        if step.name in info.names:
            fullname = f"{info.fullname}.{step.name}"
            return (fullname, receiver) if fullname in _SCOPE_PROVIDERS else (None, None)
    return None, None


def _is_call_to(step: Expression, fullname: str) -> bool:
    return (
        isinstance(step, CallExpr)
        and isinstance(step.callee, RefExpr)
        and step.callee.fullname == fullname
    )


def _pointfree_catch_class(
    api: CheckerPluginInterface, step: Expression
) -> tuple[TypeInfo, Expression] | None:
    """The caught class and the `cls` argument, when `step` is `pf.catch(cls, handler)`
    or `pf.catch(cls)(handler)`."""
    if isinstance(step, CallExpr) and isinstance(step.callee, CallExpr):
        step = step.callee  # `pf.catch(cls)`, applied to the handler
    if not (
        isinstance(step, CallExpr)
        and isinstance(step.callee, RefExpr)
        and step.callee.fullname == _POINTFREE_CATCH
        and step.args
    ):
        return None
    cls = step.args[0]
    caught = _instance_type(api.get_expression_type(cls))
    return (caught.type, cls) if isinstance(caught, Instance) else None


def _subtract_in_step(
    api: CheckerPluginInterface,
    incoming: Type,
    step_type: Type,
    applied: Type,
    caught: tuple[TypeInfo, Expression],
) -> Type:
    """The result of a `pf.catch` step: the incoming `E` without the caught class, plus
    the handler's errors."""
    incoming_effect = _supertype(incoming, _EFFECT)
    result = _supertype(applied, _EFFECT)
    step_callable = get_proper_type(step_type)
    if (
        isinstance(step_callable, Instance)
        and step_callable.type.fullname == _POINTFREE_CATCH_STEP
        and incoming_effect is not None
        and result is not None
    ):
        # `pf.catch(cls)(handler)`: a `CatchStep[X, B, E2, R2]`, the handler's errors E2.
        # Where nothing is subtracted, `E` stays whole: mypy may have taken the overload
        # for an effect failing with `X` alone, wrong for a `type[X]` holding a subclass.
        remaining = _subtract_caught(api, incoming_effect.args[1], caught[0], caught[1])
        if remaining is None:
            remaining = _members(incoming_effect.args[1])
        errors = [*remaining, *_members(step_callable.args[2])]
        return _with_arg(result, 1, make_simplified_union(errors))
    if incoming_effect is None or result is None or not isinstance(step_callable, CallableType):
        return applied
    parameter = _supertype(step_callable.arg_types[0], _EFFECT) if step_callable.arg_types else None
    returned = _supertype(step_callable.ret_type, _EFFECT)
    if parameter is None or returned is None:
        return applied
    passed_through = get_proper_type(parameter.args[1])
    if not isinstance(passed_through, TypeVarType):
        return applied
    handler_errors = [m for m in _members(returned.args[1]) if m != passed_through]
    remaining = _subtract_caught(api, incoming_effect.args[1], caught[0], caught[1])
    if remaining is None:
        return applied
    return _with_arg(result, 1, make_simplified_union([*remaining, *handler_errors]))


# -- tags ----------------------------------------------------------------------------------
#
# A service is looked up by its exact tag class, so the plugin holds the rule the run
# time enforces (`Tag.__init_subclass__`): a tag is a direct subclass of `Tag[X]` with a
# concrete `X`. Then `type[Db]` holds `Db` itself, and a tag is the key its type says.


def _check_tag_class(ctx: ClassDefContext) -> None:
    """`class Repo(Tag[list[T]])`: a generic tag would be one key for many types."""
    info = ctx.cls.info
    if info.type_vars:
        ctx.api.fail(
            f'Tag "{info.name}" is generic: a tag is one key at run time, so its service '
            f"type must be concrete; declare one tag per service type (TypeError at run time)",
            ctx.cls,
            code=MISC,
        )


def _refuse_tag_subclass(ctx: ClassDefContext) -> None:
    """`class TestDb(Db)`: a subclass of a tag would be another key that the types let
    stand for its parent."""
    info = ctx.cls.info
    parent = next((b for b in info.mro[1:] if b.fullname != _TAG and b.has_base(_TAG)), None)
    if parent is None:
        return
    ctx.api.fail(
        f'Cannot subclass the tag "{parent.name}": a service is looked up by its exact tag '
        f'class, so "{info.name}" would be another key (TypeError at run time); declare '
        f"class {info.name}(Tag[...])",
        ctx.cls,
        code=MISC,
    )


def _tag_of_signature(ctx: MethodSigContext) -> FunctionLike:
    """`tag.of(impl)` through a `type[Tag[X]]`: `Context[Tag[X]]` would pass for every tag
    whose service is an `X`."""
    instance = _instance_type(ctx.type)
    if isinstance(instance, Instance) and instance.type.fullname == _TAG:
        ctx.api.fail(_not_a_concrete_tag("Tag.of", ctx.type, ctx.api), ctx.context, code=ARG_TYPE)
    return ctx.default_signature


def _context_get_signature(ctx: MethodSigContext) -> FunctionLike:
    """`ctx.get(tag)`: say which tags the context holds when `tag` is not one of them
    (plain typing reports it as a `Callable[[S], T]` mismatch)."""
    signature = ctx.default_signature
    context = _supertype(ctx.type, _CONTEXT)
    if context is None or len(ctx.args) < 1 or len(ctx.args[0]) != 1:
        return signature
    held = _closed_tags(context.args[0])
    tag = _instance_type(ctx.api.get_expression_type(ctx.args[0][0]))
    if held is None or not isinstance(tag, Instance):
        return signature
    service = _tag_service_type(tag.type)
    if service is None or tag.type.fullname == _TAG or tag.type in {m.type for m in held}:
        return signature
    ctx.api.fail(
        f"{_show(ctx.api, context)} does not hold {_show(ctx.api, tag)} (MissingService at run "
        f"time): it holds " + (_show(ctx.api, context.args[0]) if held else "no service"),
        ctx.args[0][0],
        code=ARG_TYPE,
    )
    return signature.copy_modified(
        arg_types=[AnyType(TypeOfAny.from_error)], ret_type=service, variables=[]
    )


def _not_a_concrete_tag(what: str, typ: Type, api: CheckerPluginInterface) -> str:
    return (
        f"{what} needs a tag class (a subclass of Tag[...]), got {_show(api, typ)}: it would "
        f"stand for every tag of its service type"
    )


# -- partial provide: layers ---------------------------------------------------------------


def _closed_tags(typ: Type) -> list[Instance] | None:
    """The tags of a union of services; None if it has `Any` or a type variable."""
    members = _members(typ)
    if _is_open(members) or not all(isinstance(m, Instance) for m in members):
        return None
    return [m for m in members if isinstance(m, Instance)]


def _provide_signature(ctx: MethodSigContext) -> FunctionLike:
    """`effect.provide(layer)` with a layer that builds only some of `R`: the rest stays."""
    signature = ctx.default_signature
    effect = _supertype(ctx.type, _EFFECT)
    if effect is None or len(ctx.args) < 1 or len(ctx.args[0]) != 1 or not signature.arg_types:
        return signature
    if _supertype(signature.arg_types[0], _LAYER) is None:
        return signature
    layer = _supertype(ctx.api.get_expression_type(ctx.args[0][0]), _LAYER)
    if layer is None:
        return signature
    left = _tags_left(layer.args[0], effect.args[2])
    if left is None:
        return signature
    rest, required = left
    if not rest or len(rest) == len(required):
        return signature  # all of `R` (nothing to add) or none of it (mypy reports it)
    result = effect.copy_modified(
        args=[
            effect.args[0],
            make_simplified_union([effect.args[1], layer.args[1]]),
            make_simplified_union([*rest, layer.args[2]]),
        ]
    )
    return signature.copy_modified(arg_types=[layer], ret_type=result, variables=[])


def _tags_left(provided: Type, required: Type) -> tuple[list[Instance], list[Instance]] | None:
    """The tags of `required` that `provided` does not build, and all of `required`;
    None unless both are unions of tags the plugin can read (`_closed_tags`)."""
    built, needed = _closed_tags(provided), _closed_tags(required)
    if built is None or needed is None:
        return None
    keys = {m.type for m in built}
    return [m for m in needed if m.type not in keys], needed


def _layer_feed_signature(merge: bool) -> Callable[[MethodSigContext], FunctionLike]:
    """`a.provide_to(b)`, `a.provide_merge(b)` where `a` builds only some of what `b`
    needs: the rest of `b`'s needs stay in the result's `RIn`."""

    def hook(ctx: MethodSigContext) -> FunctionLike:
        signature = ctx.default_signature
        first = _supertype(ctx.type, _LAYER)
        if first is None or len(ctx.args) < 1 or len(ctx.args[0]) != 1:
            return signature
        second = _supertype(ctx.api.get_expression_type(ctx.args[0][0]), _LAYER)
        if second is None:
            return signature
        left = _tags_left(first.args[0], second.args[2])
        if left is None or not left[0]:
            return signature
        rest = left[0]
        result = first.copy_modified(
            args=[
                make_simplified_union([first.args[0], second.args[0]]) if merge else second.args[0],
                make_simplified_union([first.args[1], second.args[1]]),
                make_simplified_union([first.args[2], *rest]),
            ]
        )
        return signature.copy_modified(arg_types=[second], ret_type=result, variables=[])

    return hook


# -- Any at the runners and at provide -----------------------------------------------------


_ANY_ORIGINS: Final = {
    TypeOfAny.unannotated: "an unannotated function",
    TypeOfAny.explicit: "an explicit Any",
    TypeOfAny.from_unimported_type: "an import mypy does not follow (an untyped package?)",
    TypeOfAny.from_omitted_generics: "a generic type without its parameters",
    TypeOfAny.special_form: "a special form",
    TypeOfAny.implementation_artifact: "a limit of mypy's inference",
}


def _any_origin(typ: Type) -> str | None:
    """Where a member `Any` of `typ` comes from; None if there is no `Any`, or only one
    from an error (already reported)."""
    for member in _members(typ):
        if isinstance(member, AnyType):
            source = member
            while source.type_of_any == TypeOfAny.from_another_any and source.source_any:
                source = source.source_any
            if source.type_of_any == TypeOfAny.from_error:
                continue
            return _ANY_ORIGINS.get(source.type_of_any, "an Any")
    return None


def _loose_effect(typ: Type, errors: bool = True) -> list[tuple[str, str]]:
    """`(what, origin)` for each of `E` (if `errors`) and `R` of an effect type that is
    `Any`."""
    proper = get_proper_type(typ)
    if isinstance(proper, AnyType):
        origin = _any_origin(proper)
        return [] if origin is None else [("the effect", origin)]
    effect = _supertype(proper, _EFFECT)
    if effect is None:
        return []
    found = []
    for what, index in (("error type E", 1), ("service type R", 2)):
        if index == 1 and not errors:
            continue
        origin = _any_origin(effect.args[index])
        if origin is not None:
            found.append((f"its {what}", origin))
    return found


def _report_loose(
    api: CheckerPluginInterface, loose: list[tuple[str, str]], where: str, context: Context
) -> None:
    for what, origin in loose:
        meaning = "cannot fail" if "E" in what else "needs nothing"
        if what == "the effect":
            meaning = "needs nothing"
        api.fail(
            f"{where} cannot check an effect when {what} is Any (from {origin}): Any passes "
            f'for "{meaning}"; give it a type',
            context,
            code=ARG_TYPE,
        )


def _check_runner(ctx: FunctionContext | MethodContext) -> Type:
    """`run_sync(effect)`, the other runners, and the `Runtime` methods of the same
    names: `Any` in `E` or `R` passes for `Never`. The effect is inferred again without
    the runner's expected type, from which mypy solves an `Any` handler's `E` to `Never`."""
    callee = getattr(ctx.context, "callee", None)
    if not (ctx.arg_types and len(ctx.arg_types[0]) == 1 and len(ctx.args[0]) == 1):
        return ctx.default_return_type
    if not (isinstance(callee, NameExpr | MemberExpr) and callee.name in _RUNNER_NAMES):
        return ctx.default_return_type
    errors = _RUNNER_NAMES[callee.name]
    expr = ctx.args[0][0]
    loose = _loose_effect(ctx.arg_types[0][0], errors)
    if not loose and not isinstance(expr, RefExpr | TempNode):
        loose = _loose_effect(ctx.api.get_expression_type(expr), errors)
    _report_loose(ctx.api, loose, f'"{callee.name}"', expr)
    return ctx.default_return_type


def _check_provide_any(ctx: MethodContext) -> Type:
    """`effect.provide(services)`: an `R` that is `Any` takes any services, and a
    `Context[Any]` or `Layer[Any, ...]` passes for every service."""
    effect = _supertype(ctx.type, _EFFECT)
    if effect is not None:
        origin = _any_origin(effect.args[2])
        if origin is not None:
            ctx.api.fail(
                f'"provide" cannot check an effect when its service type R is Any (from '
                f"{origin}): any services pass for it; give it a type",
                ctx.context,
                code=ARG_TYPE,
            )
    if ctx.arg_types and len(ctx.arg_types[0]) == 1:
        given = ctx.arg_types[0][0]
        services = _supertype(given, _CONTEXT) or _supertype(given, _LAYER)
        origin = None if services is None else _any_origin(services.args[0])
        if services is not None and origin is not None:
            ctx.api.fail(
                f"{_show(ctx.api, given)} passes for every service (Any from {origin}): "
                f"build it from Tag.of, Context.add or Layer constructors",
                ctx.args[0][0],
                code=ARG_TYPE,
            )
    return ctx.default_return_type


# -- @gen bodies: a forgotten `yield from`, `yield from` an Any ---------------------------


def _statements(block: Block) -> Iterator[Statement]:
    """The statements of `block` and of the blocks inside them, not of nested functions
    or classes (a nested generator is checked by its own `@gen`)."""
    for statement in block.body:
        if isinstance(statement, FuncDef | Decorator | ClassDef):
            continue
        yield statement
        for name in ("body", "else_body", "finally_body", "handlers", "bodies"):
            inner = getattr(statement, name, None)
            for child in inner if isinstance(inner, list) else [inner]:
                if isinstance(child, Block):
                    yield from _statements(child)


def _check_gen_body(api: CheckerPluginInterface, context: Context) -> None:
    """A `@gen` body: an `Effect` expression statement is an effect built and dropped (a
    forgotten `yield from`); a `yield from` of an `Any` passes unchecked."""
    if not (isinstance(context, Decorator) and isinstance(api, TypeChecker)):
        return
    with _reported(api):
        _check_gen_body_now(api, context)


@contextlib.contextmanager
def _reported(api: TypeChecker) -> Iterator[None]:
    """Errors reported for real. mypy infers the call of the overloaded `gen` with its
    errors filtered (it tries each overload), and this hook only runs there: what a
    generator's body says is the same whichever overload is chosen. (mypy may report
    one twice; it drops duplicates.)"""
    errors = api.msg.errors
    # mypy's stack of `ErrorWatcher`s, which it has no public way to set aside.
    watchers = errors._watchers  # noqa: SLF001
    errors._watchers = []  # noqa: SLF001
    try:
        yield
    finally:
        errors._watchers = watchers  # noqa: SLF001


def _check_gen_body_now(api: TypeChecker, context: Decorator) -> None:
    func = context.func
    name = func.name
    if not api.recurse_into_functions and not func.def_or_infer_vars:
        # mypy checks the bodies of module-level functions after their decorators (its
        # "implementation phase"): check this one now, as mypy does for a function
        # whose body defines variables, and mark it so that it is not checked twice.
        with api.tscope.function_scope(func), api.set_recurse_into_functions():
            api.check_func_item(func, name=name)
        func.def_or_infer_vars = True
    for statement in _statements(func.body):
        if not isinstance(statement, ExpressionStmt):
            continue
        typ = api.lookup_type_or_none(statement.expr)
        if typ is not None and _supertype(typ, _EFFECT) is not None:
            api.fail(
                f'Effect built and dropped in @gen generator "{name}": it never runs; '
                f'did you forget "yield from"?',
                statement.expr,
                code=UNUSED_EFFECT,
            )
    collector = YieldFromCollector()
    func.accept(collector)
    for expr, _ in collector.yield_from_expressions:
        typ = api.lookup_type_or_none(expr.expr)
        if typ is None:
            continue
        generator = _supertype(typ, _GENERATOR)
        loose = _loose_effect(typ if generator is None else generator.args[0])
        if generator is not None and not loose:
            loose = [found for m in _members(generator.args[0]) for found in _loose_effect(m)]
        for what, origin in loose[:1]:
            value = "an Any" if what == "the effect" else f"an effect whose {what[4:]} is Any"
            api.fail(
                f'"yield from" {value} (from {origin}) in @gen generator "{name}": its errors '
                f"and services are not checked; give it a type",
                expr.expr,
                code=ARG_TYPE,
            )
