"""Imports flow one way: down through the layers, and no cycle among heliqa's modules (imports inside functions count).

The layers, top to bottom: the surfaces (`heliqa/`: CLI, REPL, Slack, serve, charts), the agent (`agent/`), the
prompts and word tables the agent plans with (`prompts/`), and the tools every layer stands on (`tools/`: request
models, backends, settings, logging, errors). A module may import its own layer and the layers below it only.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def package_dirs() -> dict[str, Path]:
    """Each heliqa package and the repository folder it is installed from (pyproject's package-dir)."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    return {package: ROOT / folder for package, folder in setup["package-dir"].items()}


def modules() -> dict[str, Path]:
    """Every heliqa module name and its file."""
    found = {}
    for package, folder in package_dirs().items():
        for path in folder.rglob("*.py"):  # subpackages too (agent/rules/ ...), each named from its folder
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The heliqa modules a file imports anywhere in it (top level, functions, TYPE_CHECKING blocks)."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # `from heliqa.agent import rules`
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    """Module -> the heliqa modules it imports."""
    found = modules()
    return {name: imported(path, name, set(found)) for name, path in found.items()}


# Package prefix -> rank; the longest matching prefix decides a module's layer. The root package `heliqa` is only
# the namespace every module lives in (importing `heliqa.tools.x` runs it), so it counts as the bottom.
LAYERS = {"heliqa": 3, "heliqa.agent": 2, "heliqa.prompts": 1, "heliqa.tools": 0}
LAYER_NAMES = {3: "surfaces (heliqa/)", 2: "agent/", 1: "prompts/", 0: "tools/"}


def rank(module: str) -> int:
    """The layer of `module`: 3 surfaces, 2 agent, 1 prompts, 0 tools."""
    if module == "heliqa":
        return 0
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(prefixes, key=len)]


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Every import from a module into a layer above its own, as `module -> imported (layer -> layer)`."""
    return [
        f"{name} -> {target} ({LAYER_NAMES[rank(name)]} -> {LAYER_NAMES[rank(target)]})"
        for name, targets in sorted(edges.items())
        for target in sorted(targets)
        if rank(target) > rank(name)
    ]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walk_finds_every_package_and_its_imports():
    edges = graph()
    assert {"heliqa.cli", "heliqa.agent.planner", "heliqa.tools.store", "heliqa.prompts"} <= set(edges)
    assert "heliqa.agent.spec" in edges["heliqa.agent.conversation"]  # a top-level import
    assert "heliqa.tools.store" in edges["heliqa.tools.backends"]  # an import inside a function


def test_cycles_are_detected():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_each_module_has_the_layer_of_its_folder():
    assert rank("heliqa.cli") == rank("heliqa.serve") == 3
    assert rank("heliqa.agent.planner") == 2
    assert rank("heliqa.prompts.lexicon") == 1
    assert rank("heliqa.tools.settings") == rank("heliqa.tools") == rank("heliqa") == 0
    assert {rank(m) for m in graph()} == {0, 1, 2, 3}  # every layer is found on disk


def test_imports_running_up_the_layers_are_detected():
    edges = {
        "heliqa.cli": {"heliqa.agent.planner", "heliqa.tools.store"},  # down: fine
        "heliqa.agent.planner": {"heliqa.prompts.lexicon", "heliqa.tools.settings", "heliqa"},  # down: fine
        "heliqa.tools.store": {"heliqa.settings", "heliqa.agent.spec"},  # up twice
        "heliqa.prompts.lexicon": {"heliqa.agent.rules"},  # up
    }
    assert upward(edges) == [
        "heliqa.prompts.lexicon -> heliqa.agent.rules (prompts/ -> agent/)",
        "heliqa.tools.store -> heliqa.agent.spec (tools/ -> agent/)",
        "heliqa.tools.store -> heliqa.settings (tools/ -> surfaces (heliqa/))",
    ]


def test_no_layer_imports_from_a_layer_above_it():
    found = upward(graph())
    assert found == [], "imports running up the layers (move what both need down to tools/): " + "; ".join(found)


# A statement's skeleton in a string literal: SELECT ... FROM, INSERT INTO, UPDATE ... SET, DELETE FROM.
SQL = re.compile(r"\bSELECT\b.+\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\b.+\bSET\b|\bDELETE\s+FROM\b", re.S)


def sql_in(source: str, name: str) -> list[str]:
    """The string literals (f-strings included) of a module's source that hold a SQL statement, with their line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append(f"{name}:{node.lineno} {text[:60]!r}")
    return found


def test_sql_in_string_literals_is_found():
    source = (
        'sql = f"SELECT {cols} FROM requests r WHERE {where}"\n'
        'text = "select the model from the list, then UPDATE nothing"\n'
        'more = ("DELETE FROM scores "\n        "WHERE x")\n'
    )
    assert sql_in(source, "m") == [
        "m:1 'SELECT {} FROM requests r WHERE {}'",
        "m:3 'DELETE FROM scores WHERE x'",
    ]


def test_the_surfaces_build_no_sql():
    """The surfaces call the backends' methods; every SQL statement is built under tools/."""
    found = [
        hit
        for name, path in sorted(modules().items())
        if rank(name) == 3
        for hit in sql_in(path.read_text(encoding="utf-8"), name)
    ]
    assert found == [], "SQL built in a surface (move it behind the backend interface in tools/): " + "; ".join(found)


def test_no_import_cycle_among_heliqa_modules():
    found = cycles(graph())
    assert found == [], "import cycles (move the shared part to a module both can import): " + "; ".join(
        " <-> ".join(c) for c in found
    )
