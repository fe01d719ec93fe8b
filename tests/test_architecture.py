"""The architecture, held by tests (DESIGN.md section 1).

* Layers: `_core` (values and state) <- the language (`effect.py`, `fiber.py`,
  `scope.py`) <- `_interpreter` (runs the nodes) <- the public feature modules. A module
  imports only modules of its own layer or lower, at run time, function-level imports
  included (imports under `if TYPE_CHECKING:` do not run, and do not count).
* No import cycle among effectpy's modules.
* Every opcode of a node has exactly one place that runs it: the loop's own branches
  or exactly one registered handler.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import effectpy
from effectpy._core import opcodes
from effectpy._interpreter import loop

PACKAGE = Path(effectpy.__file__).parent

LAYERS: dict[str, int] = {
    "effectpy._core": 0,
    "effectpy.cause": 0,
    "effectpy.exit": 0,
    "effectpy.schedule": 0,  # values only: it imports no Effect at run time
    "effectpy.effect": 1,
    "effectpy.fiber": 1,
    "effectpy.scope": 1,
    "effectpy._interpreter": 2,
}
"""The layer of a module: the longest prefix listed here; any other module is 3."""

OPTIONAL = frozenset({"rich", "opentelemetry", "dask", "distributed", "mypy"})
"""Third-party packages imported only by optional features (not effectpy modules)."""


def layer_of(module: str) -> int:
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    return LAYERS[best] if best else 3


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def run_time_imports(path: Path) -> set[str]:
    """The effectpy modules `path` imports when it runs (any depth of nesting)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # `from . import loop` names a module
                candidate = f"{target}.{alias.name}"
                if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
                    found.add(candidate)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {m for m in found if m == "effectpy" or m.startswith("effectpy.")}


MODULES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(path): run_time_imports(path) for path in MODULES}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_a_module_imports_only_its_own_layer_or_lower(module: str) -> None:
    if module in ("effectpy", "effectpy.mypy_plugin"):
        return  # the public surface re-exports everything; the plugin runs inside mypy
    upward = sorted(
        f"{imported} (layer {layer_of(imported)})"
        for imported in GRAPH[module]
        if layer_of(imported) > layer_of(module) and imported != "effectpy"
    )
    assert upward == [], f"{module} (layer {layer_of(module)}) imports upward: {upward}"


def test_no_module_imports_the_package_root() -> None:
    # `import effectpy` from inside would import every feature: a cycle by another name.
    assert [m for m, imports in GRAPH.items() if "effectpy" in imports and m != "effectpy"] == []


def test_the_modules_have_no_import_cycle() -> None:
    def resolve(name: str) -> str | None:
        while name and name not in GRAPH:
            name = name.rpartition(".")[0]
        return name or None

    edges = {
        module: {
            target
            for imported in imports
            if (target := resolve(imported)) is not None and target != module
        }
        for module, imports in GRAPH.items()
        if module != "effectpy"
    }
    # A package's __init__ importing its own submodules is not a cycle of design.
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in edges.items()}
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def walk(module: str) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append([*visiting[visiting.index(module) :], module])
            return
        visiting.append(module)
        for target in sorted(edges.get(module, ())):
            walk(target)
        visiting.pop()
        done.add(module)

    for module in sorted(edges):
        walk(module)
    assert cycles == []


def test_the_layer_test_sees_function_level_imports(tmp_path: Path) -> None:
    # The guard itself: an import inside a function counts, one under TYPE_CHECKING not.
    source = PACKAGE / "_core" / "probe_for_the_layer_test.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..context import Context\n"
        "def f():\n    from ..log import log\n    return log\n"
    )
    try:
        assert run_time_imports(source) == {"effectpy.log"}
    finally:
        source.unlink()


# -- one handler per opcode -----------------------------------------------------------


def node_opcodes() -> dict[str, int]:
    """The opcodes of effect nodes (frames, at 40 and above, are not nodes)."""
    return {
        name: value
        for name, value in vars(opcodes).items()
        if name.isupper() and isinstance(value, int) and name != "EXTENDED" and value < 40
    }


INLINE: frozenset[int] = frozenset(
    {
        opcodes.SUCCEED, opcodes.FLAT_MAP, opcodes.MAP, opcodes.SYNC,
        opcodes.FOLD, opcodes.ON_EXIT, opcodes.THEN,
        opcodes.FORK, opcodes.JOIN, opcodes.SCOPED, opcodes.ACQUIRE_RELEASE,
    }
)  # fmt: skip
"""The nodes `FiberRuntime.run` evaluates in its own branches."""


def test_every_node_opcode_has_exactly_one_handler() -> None:
    places: dict[str, list[str]] = {}
    for name, code in node_opcodes().items():
        where = []
        if code in INLINE:
            where.append("the loop")
        if loop.CORE[code] is not loop.CORE[-1]:
            where.append(f"CORE: {loop.CORE[code].__qualname__}")
        if code >= opcodes.EXTENDED and loop.HANDLERS[code] is not loop.HANDLERS[-1]:
            where.append(f"HANDLERS: {loop.HANDLERS[code].__module__}")
        places[name] = where
    # ADD_FINALIZER: the loop registers into an open scope; its handler runs a finalizer
    # added to a closed one. Both are in loop.py.
    assert places.pop("ADD_FINALIZER") == ["HANDLERS: effectpy._interpreter.loop"]
    assert {name: len(where) for name, where in places.items()} == dict.fromkeys(places, 1), places


def test_registering_a_second_handler_for_an_opcode_is_refused() -> None:
    with pytest.raises(RuntimeError, match="already has a handler"):
        loop.handles(opcodes.PROMISE)(lambda fiber, node: node)


def test_an_unknown_frame_is_an_error_not_a_guess() -> None:
    class Stray:
        _op = 60  # a frame code nothing registered

    with pytest.raises(RuntimeError, match="unknown frame"):
        loop.ON_VALUE[Stray._op](None, Stray(), None)  # type: ignore[arg-type]
