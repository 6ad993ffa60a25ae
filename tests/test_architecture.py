"""The layering of ``docs/architecture.md`` held against the imports of the code.

The table there ("package | what it holds | may import") is the one statement of the layers: this test parses
it and reads every import statement under ``workbench/`` with ``ast`` (absolute and relative, at module level,
inside functions and under ``TYPE_CHECKING``: a lazy import is how a cycle or an upward edge hides). It fails
on an edge the table does not allow, on an allowance nothing uses (the table must stay true both ways), on a
module no row covers, on a row allowing a layer above it, and on an import cycle between modules.

In the "may import" column, the names in backticks before any ``;`` are the workbench's layers (``host`` means
``workbench.host``), ``everything`` allows every row below, and the rest is a note (third-party packages,
imports by name) that this test does not read.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
PACKAGE = "workbench"


@dataclass(frozen=True)
class Layer:
    name: str
    allowed: frozenset[str]
    everything_below: bool


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str
    path: Path
    line: int

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root.parent)}:{self.line}"


def parse_layers(markdown: str, package: str = PACKAGE) -> list[Layer]:
    """The table's rows, top (may import the most) to bottom."""
    rows = []
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or not re.fullmatch(rf"`{package}(\.\w+)?`", cells[0]):
            continue
        name = cells[0].strip("`")
        allowed = frozenset(f"{package}.{short}" for short in re.findall(r"`([\w.]+)`", cells[2].partition(";")[0]))
        rows.append(Layer(name, allowed, cells[2].startswith("everything")))
    return rows


def module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_edges(root: Path) -> Iterator[Edge]:
    """Every import of the package by its own modules, as (importing module, imported module or package)."""
    modules = {module_name(root, path): path for path in root.rglob("*.py")}
    seen = set()
    for importer, path in sorted(modules.items()):
        package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    source = f"{base}.{node.module}" if node.module else base
                else:
                    source = node.module or ""
                # ``from package import submodule`` imports the submodule; ``from module import name``, the module.
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                           for alias in node.names]
            else:
                continue
            for target in targets:
                inside = target == root.name or target.startswith(root.name + ".")
                if inside and target != importer and (importer, target, node.lineno) not in seen:
                    seen.add((importer, target, node.lineno))
                    yield Edge(importer, target, path, node.lineno)


def layer_of(module: str, layers: list[Layer]) -> Layer | None:
    """The row covering ``module``: the longest row name that is the module or a package holding it. The
    package's own row covers its ``__init__`` only, so a new top-level module needs a row of its own."""
    package = module.partition(".")[0]
    covering = [layer for layer in layers
                if module == layer.name or (layer.name != package and module.startswith(layer.name + "."))]
    return max(covering, key=lambda layer: len(layer.name), default=None)


def layering_problems(root: Path, layers: list[Layer]) -> list[str]:
    problems = []
    position = {layer.name: index for index, layer in enumerate(layers)}
    for layer in layers:
        for allowed in sorted(layer.allowed):
            if allowed not in position:
                problems.append(f"`{layer.name}` may import `{allowed}`, which is no row of the table")
            elif position[allowed] <= position[layer.name]:
                problems.append(f"`{layer.name}` may import `{allowed}`, a row above it (imports go downwards)")
    used = set()
    for path in sorted(root.rglob("*.py")):
        if layer_of(module_name(root, path), layers) is None:
            problems.append(f"{path.relative_to(root.parent)}: no row of the table covers `{module_name(root, path)}`")
    for edge in read_edges(root):
        importer, target = layer_of(edge.importer, layers), layer_of(edge.target, layers)
        if importer is None or target is None or importer == target:
            continue
        used.add((importer.name, target.name))
        below = position[target.name] > position[importer.name]
        if target.name not in importer.allowed and not (importer.everything_below and below):
            rule = "everything below" if importer.everything_below else (
                ", ".join(f"`{name}`" for name in sorted(importer.allowed)) or "nothing of the workbench")
            problems.append(f"{edge.where(root)}: `{edge.importer}` imports `{edge.target}`, but `{importer.name}` "
                            f"may import {rule}")
    for layer in layers:
        unused = (layer.allowed & position.keys()) - {target for importer, target in used if importer == layer.name}
        for allowed in sorted(unused):
            problems.append(f"`{layer.name}` may import `{allowed}`, but none of its modules does: "
                            f"drop it from the table")
    return problems


def import_cycles(root: Path) -> list[str]:
    """Each cycle between modules (one per strongly connected group), as the chain of its imports."""
    graph: dict[str, dict[str, Edge]] = {}
    for edge in read_edges(root):
        graph.setdefault(edge.importer, {}).setdefault(edge.target, edge)
    cycles = []
    for group in _strongly_connected(graph):
        start = min(group)
        chain = _path_back(graph, start, group)
        cycles.append(" -> ".join(f"{edge.importer} ({edge.where(root)})" for edge in chain) + f" -> {start}")
    return cycles


def _strongly_connected(graph: dict[str, dict[str, Edge]]) -> list[set[str]]:
    """Tarjan's groups of more than one module, iteratively (the package is deep enough for recursion to be a risk)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, {})))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
    return groups


def _path_back(graph: dict[str, dict[str, Edge]], start: str, group: set[str]) -> list[Edge]:
    """The shortest chain of imports from ``start`` back to itself inside ``group`` (breadth first)."""
    came_by: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target, edge in sorted(graph.get(node, {}).items()):
                if target == start:
                    chain = [edge]
                    while chain[0].importer != start:
                        chain.insert(0, came_by[chain[0].importer])
                    return chain
                if target in group and target not in came_by:
                    came_by[target] = edge
                    following.append(target)
        frontier = following
    raise AssertionError(f"{start} is in a cycle but has no way back")  # Tarjan's group guarantees one


@pytest.fixture(scope="module")
def layers() -> list[Layer]:
    return parse_layers(ARCHITECTURE.read_text(encoding="utf-8"))


def test_the_table_has_every_layer(layers: list[Layer]) -> None:
    names = [layer.name for layer in layers]
    assert len(names) == len(set(names)), f"a row twice in {ARCHITECTURE.name}: {names}"
    for expected in (PACKAGE, "workbench.sdk", "workbench.host", "workbench.server", "workbench.research"):
        assert expected in names


def test_imports_follow_the_table(layers: list[Layer]) -> None:
    problems = layering_problems(REPO_ROOT / PACKAGE, layers)
    assert not problems, f"{ARCHITECTURE.relative_to(REPO_ROOT)} and the code disagree:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    cycles = import_cycles(REPO_ROOT / PACKAGE)
    assert not cycles, "import cycles between modules:\n" + "\n".join(cycles)


# The checks themselves, on a small package of known faults: they must catch what they exist for.
TOY_TABLE = """
| package | what it holds | may import |
|---|---|---|
| `toy` | the public names | `top`, `low` |
| `toy.top` | the top layer | everything |
| `toy.mid` | the middle | `low`, `unused` |
| `toy.low` | the bottom | nothing of the workbench (stdlib only) |
| `toy.unused` | nothing imports it | — |
"""


def _write_toy(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "toy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "toy"


def test_the_checks_catch_upward_lazy_imports_unused_rules_and_cycles(tmp_path: Path) -> None:
    toy = _write_toy(tmp_path, {
        "__init__.py": "from . import top\nfrom .low import value\n",
        "top.py": "from toy import mid\n",
        "mid/__init__.py": "from ..low import value\n",
        "mid/_inner.py": "import toy.mid\n",
        "low.py": "value = 1\n\ndef later():\n    from .mid import _inner\n    return _inner\n",
        "unused.py": "",
        "stray.py": "",
    })

    problems = layering_problems(toy, parse_layers(TOY_TABLE, "toy"))

    assert problems == [
        "toy/stray.py: no row of the table covers `toy.stray`",
        "toy/low.py:4: `toy.low` imports `toy.mid._inner`, but `toy.low` may import nothing of the workbench",
        "`toy.mid` may import `toy.unused`, but none of its modules does: drop it from the table",
    ]
    assert import_cycles(toy) == [
        "toy.low (toy/low.py:4) -> toy.mid._inner (toy/mid/_inner.py:1) -> toy.mid (toy/mid/__init__.py:1) -> toy.low"
    ]


def test_a_rule_pointing_upwards_or_nowhere_is_refused(tmp_path: Path) -> None:
    toy = _write_toy(tmp_path, {"__init__.py": "", "a.py": "", "b.py": "from . import a\n"})
    table = """
| `toy` | the public names | — |
| `toy.a` | the top | `b` |
| `toy.b` | the bottom | `a`, `c` |
"""

    assert layering_problems(toy, parse_layers(table, "toy")) == [
        "`toy.b` may import `toy.a`, a row above it (imports go downwards)",
        "`toy.b` may import `toy.c`, which is no row of the table",
        "`toy.a` may import `toy.b`, but none of its modules does: drop it from the table",
    ]
