"""Every way plugin code reaches a module, for ``workbench check``.

Statically: calls that import by name (``importlib.import_module("x")``, ``__import__("x")``) and code strings
run through ``exec``/``eval``/``compile``, where the name or the code is a constant expression; they become the
``import`` statements they amount to, so the static scan holds them to the same rules. Whether a ``try``
really makes its imports optional (its handler gives a fallback). At run time: the third-party modules strict
mode saw plugin code import, judged against the plugin's requirements.txt as the static scan judges statements.
"""
from __future__ import annotations

import ast
import collections
from pathlib import Path
from typing import Iterable, Mapping

from ..host._strict import StrictImport
from ._findings import CANNOT_VERIFY, UNDECLARED_IMPORT, Finding, display_path
from ._requirements import ImportVerdict, Requirements, judge_import, read_requirements

# Qualified names of the functions that import a module named by their first argument.
_IMPORT_FUNCTIONS = {"importlib.import_module", "importlib.__import__", "builtins.__import__"}
# Qualified names of the functions that run code given as a string, with the parse mode of that string.
_CODE_RUNNERS = {"builtins.exec": "exec", "builtins.eval": "eval", "builtins.compile": "exec"}
# Builtins a plugin calls without importing them.
BUILTIN_IMPORTERS = {"__import__": "builtins.__import__", "exec": "builtins.exec", "eval": "builtins.eval",
                     "compile": "builtins.compile"}
_EXITS = {"sys.exit", "exit", "quit", "os._exit", "os.abort"}
_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
_NO_CONSTANTS: Mapping[str, str] = {}


def constant_string(node: ast.AST | None, constants: Mapping[str, str] = _NO_CONSTANTS) -> str | None:
    """The value of a string expression built only of constants (literals, ``+``, f-strings, and names in
    ``constants``: see ``module_constants``); else None."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = constant_string(node.left, constants), constant_string(node.right, constants)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                # A conversion or format spec changes the text; only a plain constant substitutes as it is.
                plain = value.conversion == -1 and value.format_spec is None
                part = constant_string(value.value, constants) if plain else None
            else:
                part = constant_string(value, constants)
            if part is None:
                return None
            parts.append(part)
        return "".join(parts)
    return None


def module_constants(tree: ast.Module) -> dict[str, str]:
    """Names a module binds once, at its top level, to a constant string (``BACKEND = "redis"``), and never
    binds otherwise anywhere in the file (no reassignment, parameter, loop target, ``global``, import of that
    name): where such a name is read, it can only hold that string."""
    bindings = collections.Counter[str]()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bindings[node.id] += 1
        elif isinstance(node, ast.arg):
            bindings[node.arg] += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bindings.update({name: 2 for name in node.names})
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bindings.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bindings[node.name] += 1
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bindings[node.name] += 1
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bindings[node.name] += 1
    constants: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name) and bindings[target.id] == 1:
            text = constant_string(value, constants)
            if text is not None:
                constants[target.id] = text
    return constants


def imports_made_by_call(
    call: ast.Call, function: str | None, constants: Mapping[str, str] = _NO_CONSTANTS
) -> list[ast.AST]:
    """What the call ``function(...)`` imports, as the statements it amounts to, placed at the call's line.

    ``function`` is the qualified name of the called function (``importlib.import_module``); ``constants``
    the file's ``module_constants``. Nothing when the name or the code is not a constant expression: the
    run-time hooks see those when the code runs.
    """
    if function in _IMPORT_FUNCTIONS:
        statement = _import_statement(call, function, constants)
        return [] if statement is None else [ast.copy_location(statement, call)]
    if function in _CODE_RUNNERS:
        return _code_string_tree(call, function, constants)
    return []


def _argument(call: ast.Call, position: int, keyword: str) -> ast.AST | None:
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _import_statement(call: ast.Call, function: str, constants: Mapping[str, str]) -> ast.stmt | None:
    name = constant_string(_argument(call, 0, "name"), constants)
    if not name:
        return None
    if function == "importlib.import_module":
        # A relative name (".sub") is the plugin's own module, as a relative import statement is.
        return None if name.startswith(".") else ast.Import(names=[ast.alias(name=name)])
    level = _argument(call, 4, "level")
    if level is not None and not (isinstance(level, ast.Constant) and level.value == 0):
        return None
    fromlist = _argument(call, 3, "fromlist")
    if fromlist is None or (isinstance(fromlist, (ast.Tuple, ast.List)) and not fromlist.elts):
        return ast.Import(names=[ast.alias(name=name)])
    items = fromlist.elts if isinstance(fromlist, (ast.Tuple, ast.List)) else []
    names = [constant_string(item, constants) for item in items]
    # A fromlist that is not made of constants still imports the module: its names are not checked.
    known = [ast.alias(name=n) for n in names if n] if all(names) else []
    return ast.ImportFrom(module=name, names=known, level=0)


def _code_string_tree(call: ast.Call, function: str, constants: Mapping[str, str]) -> list[ast.AST]:
    source = constant_string(_argument(call, 0, "source"), constants)
    if source is None:
        return []
    mode = _CODE_RUNNERS[function]
    if function == "builtins.compile":
        given = constant_string(_argument(call, 2, "mode"), constants)
        mode = given if given in ("exec", "eval", "single") else mode
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError:
        # The call raises where it runs; the strict run reports that, not the static scan.
        return []
    for node in ast.walk(tree):
        if "lineno" in node._attributes:
            ast.copy_location(node, call)
    return [tree]


def qualified_name(func: ast.AST, imported: dict[str, str]) -> str | None:
    """``importlib.import_module`` for ``importlib.import_module``, ``il.import_module`` (``import importlib as
    il``) or ``import_module`` (``from importlib import import_module``); ``imported`` maps local names to what
    the file imported under them."""
    if isinstance(func, ast.Name):
        return imported.get(func.id) or BUILTIN_IMPORTERS.get(func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in imported:
        return f"{imported[func.value.id]}.{func.attr}"
    return None


# -- try/except: optional or mandatory ------------------------------------------------------------------


def name_loads(tree: ast.AST) -> collections.Counter[str]:
    """How often each name is read in ``tree``."""
    return collections.Counter(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def makes_imports_optional(node: ast.Try, loads_in_file: collections.Counter[str]) -> bool:
    """Whether the imports in ``node``'s body may fail without breaking the plugin: a handler that catches the
    import's error gives a fallback (binds the imported name, sets a flag, imports another module under the name,
    leaves with return/continue/break), or only logs while nothing outside the ``try`` reads the imported names.
    A handler that re-raises or exits makes them mandatory."""
    bound = _names_bound(node.body)
    loads_in_body = collections.Counter[str]()
    for statement in node.body:
        loads_in_body.update(name_loads(statement))
    read_elsewhere = any(loads_in_file[name] > loads_in_body[name] for name in bound)
    return any(
        _catches_import_error(handler) and _gives_fallback(handler, bound, read_elsewhere) for handler in node.handlers
    )


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return caught is None or any(_dotted(n) in _IMPORT_ERRORS for n in names)


def _gives_fallback(handler: ast.ExceptHandler, bound: set[str], read_elsewhere: bool) -> bool:
    nodes = list(_handler_nodes(handler.body))
    # Another module imported under the same name is the fallback, even where the handler raises when that
    # one is missing too.
    if any(isinstance(n, (ast.Import, ast.ImportFrom)) and _names_bound([n]) & bound for n in nodes):
        return True
    if any(isinstance(n, ast.Raise) or (isinstance(n, ast.Call) and _dotted(n.func) in _EXITS) for n in nodes):
        return False
    for node in nodes:
        if isinstance(node, (ast.Return, ast.Continue, ast.Break)):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            stored = {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
            # Binding the imported name is a fallback; so is setting a flag (HAS_SCIPY = False, scipy = None).
            if stored & bound or isinstance(node.value, ast.Constant):
                return True
    # Only logging or ``pass``: the import is optional as long as nothing else reads what it would have bound.
    return not read_elsewhere


def _handler_nodes(body: list[ast.stmt]) -> Iterable[ast.AST]:
    """The nodes of a handler's body, not those of functions or classes it defines (they do not run there)."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            pending.extend(ast.iter_child_nodes(node))


def _names_bound(statements: list[ast.stmt]) -> set[str]:
    """The names the imports among ``statements`` bind (``import a.b`` binds ``a``), and names assigned there
    (``x = importlib.import_module(...)``)."""
    bound: set[str] = set()
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Import):
                bound.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                bound.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
    return bound


def _dotted(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def optional_import_lines(tree: ast.AST) -> set[int]:
    """The lines of ``try`` bodies that make their imports optional (see ``makes_imports_optional``)."""
    loads = name_loads(tree)
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and node.body and makes_imports_optional(node, loads):
            lines.update(range(node.body[0].lineno, (node.body[-1].end_lineno or node.body[-1].lineno) + 1))
    return lines


# -- judging ------------------------------------------------------------------------------------------


def local_module_names(plugins_dir: Path) -> set[str]:
    """The top-level names the plugins folder's own modules and packages are imported under."""
    return {p.stem if p.suffix == ".py" else p.name for p in plugins_dir.iterdir() if not p.name.startswith(".")}


def requirements_location(plugins_dir: Path, package: str) -> str:
    """Where the plugin ``package`` declares its requirements, as advice shows it."""
    if (plugins_dir / package).is_dir():
        return display_path(plugins_dir / package / "requirements.txt")
    return "a requirements.txt in a plugin folder"


def import_finding(file: str, line: int, verdict: ImportVerdict) -> Finding | None:
    """The finding an import's verdict amounts to: undeclared -> a finding, unknown -> cannot verify."""
    if verdict.status == "undeclared":
        return Finding(file, line, verdict.message, verdict.fix, UNDECLARED_IMPORT)
    if verdict.status == "unknown":
        return Finding(file, line, verdict.message, verdict.fix, CANNOT_VERIFY)
    return None


def run_time_import_findings(plugins_dir: Path, imports: Iterable[StrictImport]) -> list[Finding]:
    """Each third-party module plugin code imported while strict mode watched, judged against its plugin's
    requirements.txt (``importlib.import_module(name)`` in a route is seen only here), except imports the
    static scan takes for optional (a ``try`` with a fallback) and the plugins folder's own modules."""
    folder = plugins_dir.resolve()
    local = local_module_names(folder)
    optional_lines: dict[Path, set[int]] = {}
    requirements: dict[str, Requirements] = {}
    findings = []
    for record in imports:
        file = Path(record.file).resolve()
        if record.module.split(".")[0] in local or folder not in file.parents:
            continue
        if file not in optional_lines:
            optional_lines[file] = _optional_lines_of(file)
        if record.line in optional_lines[file]:
            continue
        package = Path(file.relative_to(folder).parts[0]).stem
        if package not in requirements:
            requirements[package] = read_requirements(folder / package / "requirements.txt")
        verdict = judge_import(record.module, requirements[package], requirements_location(folder, package))
        finding = import_finding(display_path(file), record.line, verdict)
        if finding is not None:
            findings.append(finding)
    return findings


def _optional_lines_of(file: Path) -> set[int]:
    try:
        return optional_import_lines(ast.parse(file.read_text(), filename=str(file)))
    except (OSError, SyntaxError, ValueError):
        # The strict run already reported a file it could not import; nothing here is optional then.
        return set()
