"""The public surface: every public module's `__all__` says exactly what it offers.

A module's offer is what it defines at top level under a public name, plus what it
re-exports in the explicit `from x import Y as Y` form. Type variables are not part of
it. Private modules (a name part starting with `_`) are not checked.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

import effectpy
from effectpy import Effect

TYPE_PARAMETER_FACTORIES = {"TypeVar", "ParamSpec", "TypeVarTuple"}

# DESIGN.md section 4: the names tests, docs and users import from `effectpy`.
SECTION_4_NAMES = [
    "Effect",
    "Exit",
    "Success",
    "Failure",
    "Cause",
    "Fiber",
    "Scope",
    "CloseableScope",
    "ExecutionStrategy",
    "Tag",
    "Context",
    "Layer",
    "Schedule",
    "Ref",
    "Deferred",
    "Queue",
    "Semaphore",
    "TestClock",
    "Do",
    "gen",
    "pipe",
    "run_sync",
    "run_sync_exit",
    "run_async",
    "run_async_exit",
    "run_fork",
    "run_main",
]


def _public_module_names() -> list[str]:
    names = ["effectpy"]
    for info in pkgutil.walk_packages(effectpy.__path__, "effectpy."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


PUBLIC_MODULES = _public_module_names()


def _top_level_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The module's statements, looking into `if`/`try` blocks but not into
    `if TYPE_CHECKING:` (imports there exist for the type checker only)."""
    for statement in body:
        if isinstance(statement, ast.If):
            test = statement.test
            if not (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"):
                yield from _top_level_statements(statement.body)
            yield from _top_level_statements(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, statement.orelse, statement.finalbody):
                yield from _top_level_statements(block)
            for handler in statement.handlers:
                yield from _top_level_statements(handler.body)
        else:
            yield statement


def _is_type_parameter(value: ast.expr | None) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in TYPE_PARAMETER_FACTORIES


@dataclass(frozen=True)
class Offer:
    """The public names of a module's source."""

    required: frozenset[str]
    """Defined at top level, or re-exported as `from x import Y as Y`: must be in __all__."""
    imported: frozenset[str]
    """Imported without the explicit form: may be listed in __all__ (a re-export)."""


def offer_of(module: ModuleType) -> Offer:
    return offer_in_source(inspect.getsource(module))


def offer_in_source(source: str) -> Offer:
    required: set[str] = set()
    imported: set[str] = set()
    for statement in _top_level_statements(ast.parse(source).body):
        if isinstance(statement, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            required.add(statement.name)
        elif isinstance(statement, ast.Assign) and not _is_type_parameter(statement.value):
            required.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if not _is_type_parameter(statement.value):
                required.add(statement.target.id)
        elif isinstance(statement, ast.ImportFrom | ast.Import):
            for alias in statement.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.asname is not None and alias.asname == alias.name.split(".")[-1]:
                    required.add(bound)
                else:
                    imported.add(bound)

    def public(names: set[str]) -> frozenset[str]:
        return frozenset(name for name in names if not name.startswith("_"))

    return Offer(public(required), public(imported - required))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_declares_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert hasattr(module, "__all__"), f"{module_name} has no __all__"
    exported = module.__all__
    assert all(isinstance(name, str) for name in exported)
    assert len(set(exported)) == len(exported), f"{module_name}.__all__ has duplicates"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in getattr(module, "__all__", []) if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_matches_what_the_module_defines_and_reexports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(getattr(module, "__all__", []))
    offer = offer_of(module)
    unlisted = sorted(offer.required - exported)
    assert not unlisted, f"public in {module_name} but not in its __all__: {unlisted}"
    unknown = sorted(exported - offer.required - offer.imported)
    assert not unknown, f"in {module_name}.__all__ but neither defined nor imported: {unknown}"


def test_the_offer_finder_tells_api_names_from_helper_imports() -> None:
    # The check above must be able to fail: it has to tell an API name from an import.
    source = (
        "from typing import TypeVar, Any\n"
        "from .x import Y as Y\n"
        "from .x import Z as W\n"
        "import os\n"
        "import os.path as path\n"
        "T = TypeVar('T')\n"
        "P = typing.ParamSpec('P')\n"
        "CONSTANT = 1\n"
        "Alias = dict[str, int]\n"
        "_private = 2\n"
        "def function(): ...\n"
        "class Klass: ...\n"
        "if TYPE_CHECKING:\n"
        "    from .y import Hidden as Hidden\n"
    )
    offer = offer_in_source(source)
    assert offer.required == {"Y", "path", "CONSTANT", "Alias", "function", "Klass"}
    assert offer.imported == {"TypeVar", "Any", "W", "os"}


def _names_offered_anywhere() -> set[str]:
    offered: set[str] = set()
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        offered |= offer_of(module).required | set(getattr(module, "__all__", []))
    return offered


def test_the_package_exports_every_section_4_name_that_exists() -> None:
    existing = _names_offered_anywhere() | set(dir(effectpy))
    expected = [name for name in SECTION_4_NAMES if name in existing]
    assert "Effect" in expected and "run_sync" in expected
    missing = [name for name in expected if name not in effectpy.__all__]
    assert missing == [], f"defined by effectpy but not exported from the package: {missing}"
    for name in expected:
        assert getattr(effectpy, name) is not None


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, Any] = {}
    exec("from effectpy import *", namespace)
    namespace.pop("__builtins__")
    assert set(namespace) == set(effectpy.__all__)


# -- the Effect node classes (internals: looked at on purpose) ------------------------


def _effect_node_classes() -> list[type[Any]]:
    found: list[type[Any]] = []
    pending: list[type[Any]] = [Effect]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__ == "effectpy.effect" and sub not in found:
                found.append(sub)
                pending.append(sub)
    return sorted(found, key=lambda cls: cls.__qualname__)


NODE_CLASSES = _effect_node_classes()


def test_there_are_effect_node_classes_to_check() -> None:
    assert len(NODE_CLASSES) >= 5


@pytest.mark.parametrize("cls", NODE_CLASSES, ids=lambda cls: cls.__qualname__)
def test_effect_nodes_are_slotted(cls: type[Any]) -> None:
    """No node carries a `__dict__`, on every supported Python. (What is asked of the
    instances, not of each class's namespace: from 3.12 `typing.Generic`, a base of
    `Effect`, is a C type that declares no `__slots__` yet adds no `__dict__`.)"""
    node = object.__new__(cls)
    assert not hasattr(node, "__dict__"), f"{cls.__qualname__} instances get a __dict__"
    with pytest.raises(AttributeError):
        node.not_a_slot = 1
    python_bases = [k for k in cls.__mro__ if k.__module__.startswith("effectpy")]
    without_slots = [k.__qualname__ for k in python_bases if "__slots__" not in vars(k)]
    assert without_slots == [], f"{cls.__qualname__}: effectpy classes without __slots__"


@pytest.mark.parametrize("cls", NODE_CLASSES, ids=lambda cls: cls.__qualname__)
def test_effect_nodes_carry_an_opcode_the_loop_knows(cls: type[Any]) -> None:
    from effectpy._core import opcodes  # internal: the loop's opcode table

    known = {
        value
        for name, value in vars(opcodes).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool)
    }
    op = getattr(cls, "_op", None)
    assert isinstance(op, int) and not isinstance(op, bool), f"{cls.__qualname__}._op = {op!r}"
    assert op in known


def test_effect_node_classes_have_distinct_opcodes() -> None:
    ops = [cls._op for cls in NODE_CLASSES]
    assert len(set(ops)) == len(ops)


EFFECTS_FROM_THE_PUBLIC_API: dict[str, Effect[Any, Any, Any]] = {
    "succeed": Effect.succeed(1),
    "fail": Effect.fail("e"),
    "die": Effect.die(OSError()),
    "sync": Effect.sync(lambda: 1),
    "suspend": Effect.suspend(lambda: Effect.succeed(1)),
    "attempt": Effect.attempt(lambda: 1),
    "unit": Effect.unit(),
    "map": Effect.succeed(1).map(str),
    "flat_map": Effect.succeed(1).flat_map(Effect.succeed),
    "catch_all": Effect.fail("e").catch_all(Effect.succeed),
    "ensuring": Effect.succeed(1).ensuring(Effect.unit()),
    "zip": Effect.succeed(1).zip(Effect.succeed(2)),
    "async_": Effect.async_(lambda resume: None),
    "yield_now": Effect.yield_now(),
    "and_then": Effect.unit().and_then(Effect.succeed(1)),
    "fork": Effect.unit().fork(),
    "join": Effect.unit().fork().flat_map(lambda fiber: fiber.join()),
    "for_each": Effect.for_each([1], Effect.succeed),
    "scoped": Effect.scoped(Effect.unit()),
    "acquire_release": Effect.acquire_release(Effect.unit(), lambda _, __: Effect.unit()),
    "acquire_use_release": Effect.acquire_use_release(
        Effect.unit(), Effect.succeed, lambda _, __: Effect.unit()
    ),
}


@pytest.mark.parametrize(
    "effect", EFFECTS_FROM_THE_PUBLIC_API.values(), ids=EFFECTS_FROM_THE_PUBLIC_API.keys()
)
def test_effects_have_no_instance_dict(effect: Effect[Any, Any]) -> None:
    assert not hasattr(effect, "__dict__")
    with pytest.raises(AttributeError):
        effect.extra = 1  # type: ignore[attr-defined]
