"""The source tree's structure: no import cycles, no private names across modules, the engine and
the games' names kept where they belong (read from the source with ``ast``, nothing imported)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vlmgym
from vlmgym.core.registry import game_names

SRC = Path(vlmgym.__file__).resolve().parents[1]
PACKAGES = ("vlmgym", "vlmgym_rl")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((SRC / pkg).rglob("*.py")):
            parts = list(path.relative_to(SRC).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk_runtime(tree: ast.AST):
    """Every node, except those under ``if TYPE_CHECKING:`` (imports only for annotations)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_pkg = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> list[tuple[str, str | None, ast.AST]]:
    """(imported module, imported name or None, node) for every runtime import of ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    out: list[tuple[str, str | None, ast.AST]] = []
    for node in _walk_runtime(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub, None, node) if sub in MODULES else (target, a.name, node))
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _, _ in _imports(m):
            if target in MODULES and target != m:
                graph[m].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_what_it_looks_for():
    assert "vlmgym.core.state" in MODULES and "vlmgym_rl.multiturn" in MODULES
    assert "vlmgym.core.state" in _graph()["vlmgym.core.game"]  # a known runtime edge
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def _private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__")


def test_no_private_names_imported_across_modules():
    bad = []
    for m in MODULES:
        tree = ast.parse(MODULES[m].read_text())
        bound: set[str] = set()  # local names of imported project modules
        for target, name, node in _imports(m):
            if target.split(".")[0] not in PACKAGES:
                continue
            if _private(name) or any(_private(p) for p in target.split(".")[1:]):
                bad.append(f"{m}: from {target} import {name}")
            if name is None and isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    bound.add((a.asname or a.name).split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in bound):
                bad.append(f"{m}: {node.value.id}.{node.attr}")
    assert bad == []


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """String constants that are not docstrings."""
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


OUTSIDE_GAMES = [m for m in MODULES if not m.startswith("vlmgym.games") and m != "vlmgym.registration"]


@pytest.mark.parametrize("module", OUTSIDE_GAMES)
def test_no_module_outside_games_names_a_game(module):
    tree = ast.parse(MODULES[module].read_text())
    names = set(game_names())
    assert names >= {"2048", "shisensho", "swap"}
    named = [n.value for n in _code_strings(tree) if n.value in names]
    reaches = [f"line {n.lineno}: .{n.attr}" for n in ast.walk(tree) if isinstance(n, ast.Attribute)
               and (n.attr == "action_kind" or (n.attr == "engine" and not module.startswith("vlmgym.envs")))]
    probes = [f"line {n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name) and n.func.id == "hasattr" and n.args
              and "game" in ast.unparse(n.args[0])]
    assert (named, reaches, probes) == ([], [], [])
