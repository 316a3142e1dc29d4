"""Imports flow one way: no cycle among heliqa's modules, counting imports inside functions too."""

from __future__ import annotations

import ast
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
        for path in folder.rglob("*.py"):  # subpackages too (heliqa.agent.rules)
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
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


def test_no_import_cycle_among_heliqa_modules():
    found = cycles(graph())
    assert found == [], "import cycles (move the shared part to a module both can import): " + "; ".join(
        " <-> ".join(c) for c in found
    )


def test_every_subpackage_is_listed_so_a_wheel_installs_it():
    """pyproject lists packages one by one: a new folder (such as agent/rules/) missing there is left out of a wheel."""
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = {
        ".".join([package, *init.parent.relative_to(folder).parts])
        for package, folder in package_dirs().items()
        for init in folder.rglob("__init__.py")
    }
    assert found <= set(setup["packages"]), sorted(found - set(setup["packages"]))
