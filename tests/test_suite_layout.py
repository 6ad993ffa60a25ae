"""The test suite's own structure: test modules share code through ``tests/helpers`` only, never by importing one
another, so that any one of them can be run, moved or deleted alone."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# Plugin folders read by `workbench check`: sources under test, not modules of the suite.
NOT_SUITE = {"check_corpus", "screenshots"}


def _suite_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if not NOT_SUITE & set(path.relative_to(TESTS).parts))


def _outside_helpers() -> set[str]:
    """The import names of the suite's modules and folders that are not the helpers package: importable because
    ``tests/`` is on the path (and each test folder under pytest's prepend import mode), but never to be imported."""
    names = set()
    for path in _suite_files():
        parts = path.relative_to(TESTS).parts
        if parts[0] == "helpers":
            continue
        names.add(path.stem)
        names.update(parts[:-1])
    return names


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def forbidden_imports() -> list[str]:
    """``path:line: module`` for each import of a test module, a conftest or any other module outside helpers."""
    forbidden = _outside_helpers()
    found = []
    for path in _suite_files():
        for line, module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if module.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(TESTS)}:{line}: {module}")
    return found


def test_test_modules_share_code_through_helpers_only():
    found = forbidden_imports()
    assert not found, "import these from tests/helpers instead (move what they need there):\n" + "\n".join(found)


def test_the_check_sees_an_import_of_a_test_module(tmp_path, monkeypatch):
    """The check itself: a test module importing another is reported, naming the file and line."""
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "shared.py").write_text("VALUE = 1\n")
    (tmp_path / "test_one.py").write_text("from helpers.shared import VALUE\nHELPER = VALUE\n")
    (tmp_path / "test_two.py").write_text("import pytest\n\nfrom test_one import HELPER\n")
    monkeypatch.setattr(sys.modules[__name__], "TESTS", tmp_path)
    assert forbidden_imports() == ["test_two.py:3: test_one"]

