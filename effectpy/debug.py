"""The live structure of a running program: `debug_tree()`.

`debug_tree(format="ascii")` is an effect that draws every fiber of the runtime it runs
in, with the scopes each fiber opened (their strategy and how many finalizers wait in
them), child scopes under their parents, and the fibers a scope owns (`fork_in`,
`fork_scoped`) under that scope. `format="mermaid"` gives the same as a Mermaid graph.

>>> from effectpy import Effect, debug_tree, run_sync
>>> started = Effect.never().fork().and_then(Effect.yield_now())  # let the child park
>>> program = started.and_then(debug_tree()).named("main")
>>> print(run_sync(program))
fiber #... (main) running
└── fiber #... suspended
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ._core.scope import lineage
from ._interpreter.loop import FiberRuntime
from .effect import Effect
from .effect import _with_fiber as with_fiber
from .scope import Scope, _open_scopes_now

__all__ = ["DebugNode", "Format", "debug_nodes", "debug_tree"]

Format = Literal["ascii", "mermaid"]


@dataclass(slots=True)
class DebugNode:
    """One node of the tree: a fiber or a scope."""

    kind: Literal["fiber", "scope"]
    label: str
    children: list[DebugNode] = field(default_factory=list)


def _fiber_label(fiber: FiberRuntime) -> str:
    status = fiber.status
    interrupted = ", interrupting" if fiber.is_interrupted and status != "done" else ""
    return f"fiber {fiber.id} {status}{interrupted}"


def _scope_label(scope: Scope) -> str:
    name = "" if scope.name is None else f" {scope.name!r}"
    count = scope.finalizer_count()
    plural = "" if count == 1 else "s"
    strategy = scope.strategy
    kind = strategy.kind if strategy.limit is None else f"{strategy.kind}({strategy.limit})"
    return f"scope{name} {kind}, {count} finalizer{plural}"


def debug_nodes(fiber: FiberRuntime) -> list[DebugNode]:
    """The tree (as data) for the runtime `fiber` runs in: its root fibers first."""
    fibers = fiber.scheduler.fibers()
    lineages = {scope: lineage(scope) for scope in _open_scopes_now(fibers)}
    scopes = sorted(lineages, key=lambda scope: lineages[scope][0])
    owned: set[FiberRuntime] = {f for scope in scopes for f in scope.owned_fibers()}
    scopes_by_owner: dict[FiberRuntime, list[Scope]] = {}
    children_scopes: dict[object, list[Scope]] = {}
    for scope in scopes:
        _created, parent, owner = lineages[scope]
        if parent is not None:
            children_scopes.setdefault(parent, []).append(scope)
        elif owner is not None and owner.scheduler is fiber.scheduler:
            scopes_by_owner.setdefault(owner, []).append(scope)

    def scope_node(scope: Scope) -> DebugNode:
        node = DebugNode("scope", _scope_label(scope))
        node.children.extend(scope_node(child) for child in children_scopes.get(scope, []))
        node.children.extend(fiber_node(f) for f in scope.owned_fibers() if f.exit is None)
        return node

    def fiber_node(current: FiberRuntime) -> DebugNode:
        node = DebugNode("fiber", _fiber_label(current))
        node.children.extend(scope_node(s) for s in scopes_by_owner.get(current, []))
        node.children.extend(fiber_node(child) for child in list(current.children or ()))
        return node

    roots = [f for f in list(fiber.scheduler.daemons) if f not in owned]
    return [fiber_node(root) for root in roots]


def _render_ascii(nodes: list[DebugNode]) -> str:
    lines: list[str] = []
    stack: list[tuple[DebugNode, str, str]] = [(n, "", "") for n in reversed(nodes)]
    while stack:
        node, first, rest = stack.pop()
        lines.append(first + node.label)
        last = len(node.children) - 1
        for index in range(last, -1, -1):
            child = node.children[index]
            if index == last:
                stack.append((child, rest + "└── ", rest + "    "))
            else:
                stack.append((child, rest + "├── ", rest + "│   "))
    return "\n".join(lines)


def _render_mermaid(nodes: list[DebugNode]) -> str:
    lines = ["graph TD"]
    counter = 0
    stack: list[tuple[DebugNode, str | None]] = [(n, None) for n in reversed(nodes)]
    while stack:
        node, parent = stack.pop()
        counter += 1
        name = f"n{counter}"
        text = node.label.replace('"', "'")
        shape = f'{name}["{text}"]' if node.kind == "fiber" else f'{name}(["{text}"])'
        lines.append(f"    {shape}")
        if parent is not None:
            lines.append(f"    {parent} --> {name}")
        stack.extend((child, name) for child in reversed(node.children))
    return "\n".join(lines)


def debug_tree(format: Format = "ascii") -> Effect[str]:
    """An effect that draws the current tree of fibers and scopes.

    >>> from effectpy import Effect, debug_tree, run_sync
    >>> print(run_sync(debug_tree("mermaid")))
    graph TD
        n1["fiber #... running"]
    """
    if format not in ("ascii", "mermaid"):
        raise ValueError(f'debug_tree format must be "ascii" or "mermaid", got {format!r}')
    render = _render_ascii if format == "ascii" else _render_mermaid
    return with_fiber(lambda fiber: Effect.succeed(render(debug_nodes(fiber))))
