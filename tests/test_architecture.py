"""The project's shape, checked: packaging, file sizes, imports (cycles, laziness, private names).

The layer contracts themselves are import-linter's (pyproject.toml, run by `make test`); these
checks cover what import-linter does not: module-level import cycles inside a layer, imports
inside functions that are there for a reason, and names private to a module.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "muspsy_sim"
CARD_FOLDERS = ("agents", "memory", "scenarios", "simulation", "bench")
MAX_LINES = 400
# A comment with this word says why an import waits inside a function (a heavy library, in short).
LAZY_REASON = re.compile(r"#.*\blazy\b", re.IGNORECASE)


def product_files() -> Iterator[tuple[Path, str]]:
    """Every product module with its dotted name under the namespace."""
    for folder in CARD_FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield path, ".".join((NAMESPACE, *parts))


def test_every_package_and_data_folder_is_listed_for_the_wheel():
    """Code packages and data folders (prompts, templates, the library) alike: setuptools treats a folder
    left out as an ambiguous namespace package and warns at every install."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join((NAMESPACE, *p.relative_to(REPO).parts))
               for folder in CARD_FOLDERS for p in [REPO / folder, *(REPO / folder).rglob("*")]
               if p.is_dir() and p.name != "__pycache__"}
    assert listed == folders


def test_no_product_file_is_over_the_limit():
    long = {str(path.relative_to(REPO)): n for path, _ in product_files()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")[: -node.level] if node.level else []
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[ast.stmt, list[str]]]:
    anchor = module if is_package else module.rpartition(".")[0] + ".x"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield node, [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(anchor, node)
            yield node, [target, *(f"{target}.{alias.name}" for alias in node.names)]


def _module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Top-level statements, descending into if/try blocks but not TYPE_CHECKING ones or functions."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.If, ast.Try)):
            stack.extend(node.body + node.orelse + getattr(node, "finalbody", [])
                         + [s for h in getattr(node, "handlers", []) for s in h.body])
        else:
            yield node


def _parsed() -> dict[str, tuple[Path, ast.Module]]:
    return {name: (path, ast.parse(path.read_text(encoding="utf-8"))) for path, name in product_files()}


def test_no_module_level_import_cycle():
    modules = _parsed()
    graph: dict[str, set[str]] = {}
    for name, (path, tree) in modules.items():
        edges = set()
        for node in _module_level(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for _, targets in _imports(ast.Module(body=[node], type_ignores=[]), name,
                                           path.name == "__init__.py"):
                    edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    cycles = _cycles(graph)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            # A package importing its own submodules is how packages work, not a cycle.
            if len(component) > 1 and not _package_and_children(component):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_and_children(component: list[str]) -> bool:
    shortest = min(component, key=len)
    return all(m == shortest or m.startswith(shortest + ".") for m in component)


def test_imports_inside_functions_say_why():
    unexplained = []
    for name, (path, tree) in _parsed().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and not _has_reason(lines, function, node):
                    unexplained.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert unexplained == [], "imports inside functions without a '# lazy: ...' reason: " + ", ".join(
        sorted(set(unexplained)))


def _has_reason(lines: list[str], function: ast.AST, node: ast.stmt) -> bool:
    """A `lazy` comment on the import's lines, or earlier in the same function."""
    return any(LAZY_REASON.search(line) for line in lines[function.lineno - 1: node.end_lineno])


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for name, (path, tree) in _parsed().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or node.level):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {', '.join(private)}")
    assert offenders == []


def test_project_imports_go_through_the_namespace():
    """`from muspsy_sim.agents ...`, never `from agents ...`: the card's folders install under the namespace."""
    files = [path for path, _ in product_files()] + sorted((REPO / "tests").rglob("*.py")) + [REPO / "run_sim.py"]
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(n.split(".")[0] in CARD_FOLDERS for n in names):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
