"""Write the typing boilerplate of effectpy: the `pipe` overloads and the data-last functions.

* `Effect.pipe` (effectpy/effect.py) and `pipe` (effectpy/pointfree.py) are typed by one
  overload per number of steps, up to `PIPE_STEPS`.
* The functions of effectpy/pointfree.py are the methods of `Effect` listed in
  `DATA_LAST`, with the effect last: `pf.map(f)` is `lambda effect: effect.map(f)`. Their
  signatures are derived from the methods' signatures in effect.py (read with `ast`):
  `self`'s type variables `A_co`, `E_co`, `R_co` become `A`, `E`, `R` (or `object` where
  the method does not use them), and the function returns
  `Callable[[Effect[A, E, R]], <the method's return type>]`. An overloaded method gives
  an overloaded function, whose implementation is typed with `Any`.

The output goes into marked blocks of those files:

    # --- BEGIN GENERATED: <block> (tools/gen_typing.py) ---
    ...
    # --- END GENERATED: <block> ---

Only the text between the markers is rewritten, and it is passed through `ruff format`
with the project's settings. In the data-last block the docstrings are the exception:
they are kept as written there (edit them in place); a new function starts with the
first sentence of its method's docstring (and needs its name in pointfree's `__all__`).

    python tools/gen_typing.py          rewrite the blocks in place (`make gen-typing`)
    python tools/gen_typing.py --check  exit 1 and print a diff if a block is out of date
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
EFFECT_PY = Path("effectpy/effect.py")
POINTFREE_PY = Path("effectpy/pointfree.py")

PIPE_STEPS = 20
ALL_ARITY = 8
"""`Effect.all` has overloads for up to this many effects (then `*effects`)."""
"""`pipe` is typed for up to this many steps."""

DATA_LAST: Sequence[tuple[str, Sequence[str]]] = (
    ("sequencing", ("map", "flat_map", "and_then", "tap", "zip", "zip_with", "as_", "as_unit")),
    (
        "errors",
        (
            "map_error",
            "catch_all",
            "catch_all_cause",
            "or_else",
            "either",
            "exit",
            "match",
            "match_effect",
            "match_cause",
            "match_cause_effect",
        ),
    ),
    ("finalization", ("on_exit", "ensuring", "on_error")),
    ("interruption", ("interruptible", "uninterruptible")),
)
"""The methods of `Effect` that have a data-last function in effectpy.pointfree, by
section of that module, in order. (`catch` is written by hand there, after the block:
its curried form returns a step with overloads.)"""

# The blocks each file must have, in order.
ALL_OVERLOADS = "all overloads"
PIPE_OVERLOADS = "pipe overloads"
TYPE_VARIABLES = "type variables"
DATA_LAST_FUNCTIONS = "data-last functions"
BLOCKS: Mapping[Path, Sequence[str]] = {
    EFFECT_PY: (ALL_OVERLOADS, PIPE_OVERLOADS),
    POINTFREE_PY: (TYPE_VARIABLES, PIPE_OVERLOADS, DATA_LAST_FUNCTIONS),
}

_BEGIN = re.compile(
    r"^(?P<indent> *)# --- BEGIN GENERATED: (?P<name>.+?) \(tools/gen_typing\.py\) ---$"
)
_END = re.compile(r"^ *# --- END GENERATED: (?P<name>.+?) ---$")
_SECTION_WIDTH = 87  # of the section comments of pointfree.py, `# -- sequencing ---...`


class GenerationError(Exception):
    """The sources are not in a shape the generator can work from."""


class Block(NamedTuple):
    """A marked block: `lines[begin]` is its BEGIN marker, `lines[end]` its END marker."""

    name: str
    begin: int
    end: int
    indent: str


def find_blocks(lines: Sequence[str], path: Path) -> dict[str, Block]:
    """The marked blocks of a file, by name."""
    blocks: dict[str, Block] = {}
    open_block: tuple[str, int, str] | None = None
    for number, line in enumerate(lines):
        line = line.rstrip("\n")
        if begin := _BEGIN.match(line):
            if open_block is not None:
                raise GenerationError(f"{path}:{number + 1}: BEGIN inside {open_block[0]!r}")
            open_block = (begin["name"], number, begin["indent"])
        elif end := _END.match(line):
            if open_block is None or open_block[0] != end["name"]:
                raise GenerationError(f"{path}:{number + 1}: END {end['name']!r} without BEGIN")
            name, begin_line, indent = open_block
            if name in blocks:
                raise GenerationError(f"{path}:{number + 1}: a second block {name!r}")
            blocks[name] = Block(name, begin_line, number, indent)
            open_block = None
    if open_block is not None:
        raise GenerationError(f"{path}:{open_block[1] + 1}: block {open_block[0]!r} not closed")
    expected = list(BLOCKS[path])
    if list(blocks) != expected:
        raise GenerationError(f"{path}: expected the blocks {expected}, found {list(blocks)}")
    return blocks


# -- pipe -------------------------------------------------------------------------------


def pipe_overloads(first: str, subject: str) -> str:
    """The overloads of a `pipe` whose first parameter, `first`, is of the type `subject`:
    one for each number of steps from 1 to `PIPE_STEPS`, then one for steps passed as
    `*steps` (or none at all).

    A `*steps` argument of unknown length may hold any number of steps, so the last
    overload asks each step to take the value or what a step returns (`subject | _P1`)
    and gives either (`subject | _P1`): `pipe(v)` and `pipe(v, *[])` are `v`'s type. mypy
    tries an overload with `*args` first for a call with `*args`; without one it took the
    zero-step overload, as if no step ran."""
    out = []
    for steps in range(1, PIPE_STEPS + 1):
        parameters = [first]
        result = subject
        for step in range(1, steps + 1):
            parameters.append(f"f{step}: Callable[[{result}], _P{step}]")
            result = f"_P{step}"
        out.append(f"@overload\ndef pipe({', '.join(parameters)}, /) -> {result}: ...\n")
    star = f"*steps: Callable[[{subject} | _P1], _P1]"
    out.append(f"@overload\ndef pipe({first}, /, {star}) -> {subject} | _P1: ...\n")
    return "".join(out)


# -- Effect.all -------------------------------------------------------------------------


def all_overloads(arity: int = ALL_ARITY) -> str:
    """The overloads of `Effect.all` for 0 to `arity` effects (the `*effects` one and the
    implementation follow the block). From 2 effects on, four per arity: every error
    type `Never` and every service type `Never`, the services alone `Never`, the errors
    alone, then neither. pyright writes a union of type variables it solved as `Never`
    as `Unknown`; with these it takes `Never` from the signature instead. (The second
    overlaps the third for mypy, which is harmless: they agree where both apply.)"""
    head = "@overload\n@staticmethod\n"
    none = "Effect[tuple[()], Never, Never]"
    out = [f"{head}def all(*, concurrency: Concurrency = None) -> {none}: ...\n"]
    out.append(
        f"{head}def all(e1: Effect[_A1, _E1, _R1], /, *, concurrency: Concurrency = None)"
        " -> Effect[tuple[_A1], _E1, _R1]: ...\n"
    )
    for n in range(2, arity + 1):
        values = f"tuple[{', '.join(f'_A{i}' for i in range(1, n + 1))}]"
        errors = " | ".join(f"_E{i}" for i in range(1, n + 1))
        services = " | ".join(f"_R{i}" for i in range(1, n + 1))
        for no_errors, no_services in ((True, True), (True, False), (False, True), (False, False)):
            parameters = ", ".join(
                f"e{i}: Effect[_A{i}, {'Never' if no_errors else f'_E{i}'}, "
                f"{'Never' if no_services else f'_R{i}'}]"
                for i in range(1, n + 1)
            )
            overlap = (
                "  # type: ignore[overload-overlap]  # see the comment above\n"
                if (no_errors and not no_services)
                else ""
            )
            result = (
                f"Effect[{values}, {'Never' if no_errors else errors}, "
                f"{'Never' if no_services else services}]"
            )
            out.append(
                f"{head}def all({overlap}{parameters}, /, *, concurrency: Concurrency = None)"
                f" -> {result}: ...\n"
            )
    return "".join(out)


# -- effect.py, read with ast -----------------------------------------------------------


class EffectSource:
    """What the generator needs from effect.py: its type variables and `Effect`'s methods."""

    def __init__(self, source: str) -> None:
        module = ast.parse(source)
        self.type_variables: dict[str, ast.Call] = {}
        for statement in module.body:
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and isinstance(statement.value, ast.Call)
                and isinstance(statement.value.func, ast.Name)
                and statement.value.func.id == "TypeVar"
            ):
                self.type_variables[statement.targets[0].id] = statement.value
        classes = [s for s in module.body if isinstance(s, ast.ClassDef) and s.name == "Effect"]
        if len(classes) != 1:
            raise GenerationError(f"{EFFECT_PY}: expected one top-level class Effect")
        effect = classes[0]
        self.self_variables = self._generic_parameters(effect)
        self.methods: dict[str, list[ast.FunctionDef]] = {}
        for statement in effect.body:
            if isinstance(statement, ast.FunctionDef):
                self.methods.setdefault(statement.name, []).append(statement)

    @staticmethod
    def _generic_parameters(effect: ast.ClassDef) -> list[str]:
        for base in effect.bases:
            if (
                isinstance(base, ast.Subscript)
                and isinstance(base.value, ast.Name)
                and base.value.id == "Generic"
                and isinstance(base.slice, ast.Tuple)
                and all(isinstance(e, ast.Name) for e in base.slice.elts)
            ):
                return [e.id for e in base.slice.elts if isinstance(e, ast.Name)]
        raise GenerationError(f"{EFFECT_PY}: class Effect has no Generic[...] base")

    def self_type(self) -> str:
        return f"Effect[{', '.join(self.self_variables)}]"

    def check_pipe_variables(self) -> None:
        """The pipe overloads of `Effect` use `_P1`... declared outside the block."""
        missing = [
            f"_P{n}" for n in range(1, PIPE_STEPS + 1) if f"_P{n}" not in self.type_variables
        ]
        if missing:
            raise GenerationError(
                f"{EFFECT_PY}: declare the type variables {', '.join(missing)} at module level"
            )


class _Rename(ast.NodeTransformer):
    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.names.get(node.id, node.id), node.ctx)


def _renamed(node: ast.expr, names: Mapping[str, str]) -> ast.expr:
    result = _Rename(names).visit(copy.deepcopy(node))
    assert isinstance(result, ast.expr)
    return _dedupe_unions(result)


def _dedupe_unions(node: ast.expr) -> ast.expr:
    """`Any | Any` as `Any` (after type variables became `Any`), everywhere in `node`."""

    def members(union: ast.expr) -> Iterator[ast.expr]:
        if isinstance(union, ast.BinOp) and isinstance(union.op, ast.BitOr):
            yield from members(union.left)
            yield from members(union.right)
        else:
            yield union

    class Dedupe(ast.NodeTransformer):
        def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
            if not isinstance(node.op, ast.BitOr):
                visited = self.generic_visit(node)
                assert isinstance(visited, ast.expr)
                return visited
            unique: dict[str, ast.expr] = {}
            for member in members(node):
                member = self.visit(member)
                unique.setdefault(ast.unparse(member), member)
            result, *rest = unique.values()
            for member in rest:
                result = ast.BinOp(result, ast.BitOr(), member)
            return result

    result = Dedupe().visit(node)
    assert isinstance(result, ast.expr)
    return result


class DataLast(NamedTuple):
    """One data-last function, rendered without its docstring."""

    overloads: list[str]
    signature: str
    body: str


def data_last(source: EffectSource, name: str) -> DataLast:
    """The data-last function for the method `name` of `Effect`."""
    defs = source.methods.get(name)
    if not defs:
        raise GenerationError(f"{EFFECT_PY}: Effect has no method {name!r} (see DATA_LAST)")
    *overloads, implementation = defs
    plain = {v: v.removesuffix("_co") for v in source.self_variables}
    for method in defs:
        decorators = [ast.unparse(d) for d in method.decorator_list]
        expected = ["overload"] if method in overloads else []
        if decorators != expected:
            raise GenerationError(
                f"{EFFECT_PY}:{method.lineno}: Effect.{name}: decorators {decorators}, "
                f"expected {expected} (an instance method, its overloads first)"
            )
        if clash := _signature_names(method) & set(plain.values()):
            raise GenerationError(
                f"{EFFECT_PY}:{method.lineno}: Effect.{name} uses {sorted(clash)}, the names "
                "that self's type variables take in pointfree.py"
            )
    for self_variable, plain_name in plain.items():
        if plain_name not in source.type_variables:
            raise GenerationError(
                f"{EFFECT_PY}: no type variable {plain_name} (for {self_variable})"
            )
    if not overloads:
        signature = _signature(implementation, plain, _subject(implementation, plain))
        return DataLast([], signature, _call(implementation))
    # The implementation of an overloaded function is typed with `Any`, as usual.
    to_any = dict.fromkeys(source.type_variables, "Any")
    return DataLast(
        [f"@overload\n{_signature(o, plain, _subject(o, plain))} ..." for o in overloads],
        _signature(implementation, to_any, subject="Effect[Any, Any, Any]"),
        _call(implementation),
    )


def _signature(method: ast.FunctionDef, names: Mapping[str, str], subject: str) -> str:
    """`def name(<the method's parameters>) -> Callable[[subject], <its return type>]:`,
    with the type variables renamed by `names`."""
    arguments = _parameters(method)
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
        if argument.annotation is None:
            raise GenerationError(f"{EFFECT_PY}:{method.lineno}: {argument.arg} has no type")
        argument.annotation = _renamed(argument.annotation, names)
    for star in (arguments.vararg, arguments.kwarg):
        if star is not None and star.annotation is not None:
            star.annotation = _renamed(star.annotation, names)
    if method.returns is None:
        raise GenerationError(f"{EFFECT_PY}:{method.lineno}: Effect.{method.name}: no return type")
    returns = ast.unparse(_renamed(method.returns, names))
    return f"def {method.name}({ast.unparse(arguments)}) -> Callable[[{subject}], {returns}]:"


def _subject(method: ast.FunctionDef, plain: Mapping[str, str]) -> str:
    """The type of the effect a data-last function takes: `Effect[A, E, R]`, with `object`
    for those of self's type variables that the method's signature does not mention (an
    `as_` takes any value, an `or_else` any error)."""
    used = _signature_names(method)
    return f"Effect[{', '.join(plain[v] if v in used else 'object' for v in plain)}]"


def _signature_names(method: ast.FunctionDef) -> set[str]:
    """The names in the method's signature (without `self`)."""
    names = {n.id for n in ast.walk(_parameters(method)) if isinstance(n, ast.Name)}
    if method.returns is not None:
        names |= {n.id for n in ast.walk(method.returns) if isinstance(n, ast.Name)}
    return names


def _parameters(method: ast.FunctionDef) -> ast.arguments:
    """The method's parameters without `self`."""
    arguments = copy.deepcopy(method.args)
    if arguments.posonlyargs:
        del arguments.posonlyargs[0]
    elif arguments.args:
        del arguments.args[0]
    else:
        raise GenerationError(f"{EFFECT_PY}:{method.lineno}: Effect.{method.name} has no self")
    return arguments


def _call(method: ast.FunctionDef) -> str:
    """`return lambda effect: effect.name(...)`, passing the parameters on as declared."""
    arguments = _parameters(method)
    passed = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
    if arguments.vararg:
        passed.append(f"*{arguments.vararg.arg}")
    passed += [f"{a.arg}={a.arg}" for a in arguments.kwonlyargs]
    if arguments.kwarg:
        passed.append(f"**{arguments.kwarg.arg}")
    return f"return lambda effect: effect.{method.name}({', '.join(passed)})"


def default_docstring(source: EffectSource, name: str) -> str:
    """The docstring of a new function: the method's first sentence, then
    `(`Effect.name`)`."""
    doc = ast.get_docstring(source.methods[name][-1]) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    sentence = re.split(r"(?<=\.)\s", first)[0].rstrip(".")
    return f'"""{sentence} (`Effect.{name}`)."""'


def existing_docstrings(text: str, block: Block) -> dict[str, str]:
    """The docstrings of the functions in a block of pointfree.py, as written."""
    docstrings: dict[str, str] = {}
    for statement in ast.parse(text).body:
        if (
            isinstance(statement, ast.FunctionDef)
            and block.begin < statement.lineno - 1 < block.end
            and statement.body
            and isinstance(statement.body[0], ast.Expr)
            and isinstance(statement.body[0].value, ast.Constant)
            and isinstance(statement.body[0].value.value, str)
        ):
            segment = ast.get_source_segment(text, statement.body[0])
            if segment is not None:
                docstrings[statement.name] = segment
    return docstrings


def data_last_block(source: EffectSource, docstrings: Mapping[str, str]) -> tuple[str, set[str]]:
    """The data-last functions, by section, and the type variables their signatures use."""
    out: list[str] = []
    signatures: list[str] = []
    for section, names in DATA_LAST:
        header = f"# -- {section} "
        out.append(f"\n\n{header}{'-' * (_SECTION_WIDTH - len(header))}\n")
        for name in names:
            function = data_last(source, name)
            signatures += [*function.overloads, function.signature]
            docstring = docstrings.get(name) or default_docstring(source, name)
            out.append("\n\n")
            out.extend(f"{overload}\n" for overload in function.overloads)
            out.append(f"{function.signature}\n    {docstring}\n    {function.body}\n")
    used = set(re.findall(r"\w+", "\n".join(signatures))) & set(source.type_variables)
    return "".join(out).lstrip("\n"), used


def type_variable_block(source: EffectSource, used: set[str]) -> str:
    """Declarations of the type variables the data-last functions and `pipe` use."""
    out = []
    for name, call in source.type_variables.items():
        if name in used:
            if any(k.arg == "default" for k in call.keywords):
                raise GenerationError(f"{EFFECT_PY}: {name} has a default (typing_extensions)")
            out.append(f"{name} = {ast.unparse(call)}\n")
    out.append("\n")
    out.extend(f'_P{n} = TypeVar("_P{n}")\n' for n in range(PIPE_STEPS + 1))
    return "".join(out)


# -- files -----------------------------------------------------------------------------


def ruff_format(text: str, path: Path, root: Path) -> str:
    """`text` formatted by ruff as the file `path` of the project at `root`."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    if result.returncode != 0:
        raise GenerationError(f"ruff format failed on the generated {path}:\n{result.stderr}")
    return result.stdout


def render(text: str, path: Path, contents: Mapping[str, str], root: Path) -> str:
    """`text` with the blocks' contents replaced by `contents` (formatted by ruff); all
    the lines outside the blocks are kept as they are."""
    lines = text.splitlines(keepends=True)
    blocks = find_blocks(lines, path)

    def splice(lines: list[str], blocks: Mapping[str, Block], new: Mapping[str, str]) -> str:
        out: list[str] = []
        position = 0
        for block in sorted(blocks.values(), key=lambda b: b.begin):
            out += lines[position : block.begin + 1]
            out.append(new[block.name])
            position = block.end
        out += lines[position:]
        return "".join(out)

    indented = {
        name: "".join(
            f"{blocks[name].indent}{line}" if line.strip() else line
            for line in content.splitlines(keepends=True)
        )
        for name, content in contents.items()
    }
    formatted = ruff_format(splice(lines, blocks, indented), path, root)
    formatted_lines = formatted.splitlines(keepends=True)
    formatted_blocks = find_blocks(formatted_lines, path)
    new = {
        name: "".join(formatted_lines[block.begin + 1 : block.end])
        for name, block in formatted_blocks.items()
    }
    return splice(lines, blocks, new)


def generate(root: Path = ROOT) -> dict[Path, tuple[str, str]]:
    """For each generated file (relative to `root`): its text now, and as generated."""
    effect_text = (root / EFFECT_PY).read_text(encoding="utf-8")
    pointfree_text = (root / POINTFREE_PY).read_text(encoding="utf-8")
    source = EffectSource(effect_text)
    source.check_pipe_variables()

    effect_contents = {
        ALL_OVERLOADS: all_overloads(),
        PIPE_OVERLOADS: pipe_overloads("self", source.self_type()),
    }
    pointfree_blocks = find_blocks(pointfree_text.splitlines(keepends=True), POINTFREE_PY)
    docstrings = existing_docstrings(pointfree_text, pointfree_blocks[DATA_LAST_FUNCTIONS])
    functions, used = data_last_block(source, docstrings)
    pointfree_contents = {
        TYPE_VARIABLES: type_variable_block(source, used),
        PIPE_OVERLOADS: pipe_overloads("value: _P0", "_P0"),
        DATA_LAST_FUNCTIONS: functions,
    }
    return {
        EFFECT_PY: (effect_text, render(effect_text, EFFECT_PY, effect_contents, root)),
        POINTFREE_PY: (
            pointfree_text,
            render(pointfree_text, POINTFREE_PY, pointfree_contents, root),
        ),
    }


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="print a diff and exit 1 if a block is out of date"
    )
    args = parser.parse_args(argv)
    try:
        files = generate(root)
    except GenerationError as error:
        print(f"gen_typing: {error}", file=sys.stderr)
        return 2
    stale = False
    for path, (current, generated) in files.items():
        if current == generated:
            continue
        stale = True
        if args.check:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    f"a/{path.as_posix()}",
                    f"b/{path.as_posix()}",
                )
            )
        else:
            (root / path).write_text(generated, encoding="utf-8")
            print(f"gen_typing: rewrote {path.as_posix()}")
    if args.check and stale:
        print(
            "gen_typing: generated blocks are out of date; run `make gen-typing`", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
