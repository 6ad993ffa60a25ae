"""The static half of ``workbench check``: read a plugin's files (ast) without running them.

Rules in the style of ruff's banned-api and deptry: imports of ``workbench``; third-party imports its
``requirements.txt`` does not declare (import statements, and ``importlib.import_module``/``__import__`` calls
and ``exec``/``eval``/``compile`` code strings whose name or code is a constant expression; an import in a
``try`` counts as optional only where the handler gives a fallback); names and members the service's SDK and plugin framework lack
(through the names a file imports from the service's modules, instances made from them, ``self`` in plugin
classes and ``self.app``); absolute imports of plugin modules (the duplicate-activation pitfall).
"""
from __future__ import annotations

import ast
import collections
from dataclasses import dataclass, field
from pathlib import Path

from ..host._surface import APP_MEMBERS, ServiceSurface
from ._findings import (
    CANNOT_VERIFY,
    DUPLICATE_ACTIVATION,
    SDK_SURFACE,
    SYNTAX,
    UNDECLARED_IMPORT,
    WORKBENCH_IMPORT,
    Finding,
    display_path,
)
from ._import_sites import (
    import_finding,
    imports_made_by_call,
    local_module_names,
    makes_imports_optional,
    module_constants,
    name_loads,
    qualified_name,
    requirements_location,
)
from ._requirements import Requirements, judge_import, read_requirements


def plugin_files(plugins_dir: Path, package: str) -> list[Path]:
    """The Python files of the plugin whose top-level package (or single module) is ``package``."""
    folder = plugins_dir / package
    if folder.is_dir():
        return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    single = plugins_dir / f"{package}.py"
    return [single] if single.is_file() else []


def scan_plugin(plugins_dir: Path, package: str, surface: ServiceSurface) -> list[Finding]:
    """Every static finding in the plugin ``package`` of ``plugins_dir``, its requirements.txt included."""
    requirements = read_requirements(plugins_dir / package / "requirements.txt")
    findings = list(requirements.findings)
    local_modules = local_module_names(plugins_dir)
    for file in plugin_files(plugins_dir, package):
        try:
            tree = ast.parse(file.read_text(), filename=str(file))
        except SyntaxError as error:
            findings.append(Finding(display_path(file), error.lineno or 1, f"syntax error: {error.msg}",
                                    "fix the file; the service cannot import it either", SYNTAX))
            continue
        scanner = _FileScanner(file, package, plugins_dir, local_modules, surface, requirements)
        scanner.visit(tree)
        findings.extend(scanner.findings)
    return findings


@dataclass
class _Scope:
    """Names bound in one function or module body: local name -> service class name."""

    instances: dict[str, str] = field(default_factory=dict)


class _FileScanner(ast.NodeVisitor):
    def __init__(
        self, file: Path, package: str, plugins_dir: Path, local_modules: set[str], surface: ServiceSurface,
        requirements: Requirements,
    ) -> None:
        self.file = display_path(file)
        self.package = package
        self.plugins_dir = plugins_dir
        self.local_modules = local_modules
        self.surface = surface
        self.requirements = requirements
        self.findings: list[Finding] = []
        self.classes: dict[str, str] = {}          # local name -> service class name
        self.modules: dict[str, str] = {}          # local name -> service module path
        self.scopes: list[_Scope] = [_Scope()]
        self.plugin_class: list[tuple[str, set[str]]] = []   # (service base, the class's own attributes)
        self.optional_import_depth = 0
        self.imported: dict[str, str] = {}         # local name -> the module or module.name imported under it
        self.loads_in_file: collections.Counter[str] | None = None
        self.constants: dict[str, str] = {}          # module-level name -> the constant string it always holds

    def _add(self, node: ast.AST, message: str, fix: str, kind: str) -> None:
        self.findings.append(Finding(self.file, getattr(node, "lineno", 1), message, fix, kind))

    # -- imports ---------------------------------------------------------------------------------------

    def visit_Module(self, node: ast.Module) -> None:
        # The file's own tree comes first; a code string an exec call runs is parsed into a Module later.
        if self.loads_in_file is None:
            self.loads_in_file = name_loads(node)
            self.constants = module_constants(node)
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = makes_imports_optional(node, self.loads_in_file or collections.Counter())
        self.optional_import_depth += guarded
        for statement in node.body:
            self.visit(statement)
        self.optional_import_depth -= guarded
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for part in node.orelse:
                self.visit(part)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name, ())
            local = alias.asname or alias.name.split(".")[0]
            self.imported[local] = alias.name if alias.asname else local
            if alias.name in self.surface.modules:
                if alias.asname:
                    self.modules[alias.asname] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        names = [alias.name for alias in node.names]
        self._check_module(node, node.module, names)
        self.imported.update({alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names})
        known = self.surface.modules.get(node.module)
        if known is None:
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            if alias.name not in known:
                self._add(node, f"{node.module} has no {alias.name} in the service",
                          self.surface.module_instead(node.module, alias.name), SDK_SURFACE)
            elif alias.name in self.surface.members:
                self.classes[alias.asname or alias.name] = alias.name

    def _check_module(self, node: ast.AST, module: str, names: list[str] | tuple[()]) -> None:
        top = module.split(".")[0]
        if top == "workbench":
            providers = sorted({path for name in names for path, known in self.surface.modules.items() if name in known})
            fix = (f"import from the service's module {', '.join(providers)}" if providers
                   else "use the service's modules (lunavl..., luna_plugins...) instead")
            self._add(node, f"imports {module}, which the service does not have", fix, WORKBENCH_IMPORT)
        elif top in self.local_modules or top == self.plugins_dir.name:
            self._add(
                node, f"absolute import of the plugin module {module}: the service activates every plugin class a "
                "module's namespace holds, so a class reached under a second name is activated twice",
                "use a relative import (from .module import Name)", DUPLICATE_ACTIVATION,
            )
        elif not self.optional_import_depth:
            verdict = judge_import(module, self.requirements, requirements_location(self.plugins_dir, self.package))
            finding = import_finding(self.file, getattr(node, "lineno", 1), verdict)
            if finding is not None:
                self.findings.append(finding)

    def _check_dynamic_import(self, node: ast.Call) -> None:
        """``importlib.import_module("x")``, ``__import__("x")``, ``exec("import x")``: checked as the import
        statements they amount to, where the name or code is a constant expression."""
        for statement in imports_made_by_call(node, qualified_name(node.func, self.imported), self.constants):
            self.visit(statement)

    # -- classes, functions, names ---------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        base = next((self.classes[b.id] for b in node.bases if isinstance(b, ast.Name) and b.id in self.classes), None)
        if base is None:
            self.generic_visit(node)
            return
        self.plugin_class.append((base, _own_attributes(node)))
        self.generic_visit(node)
        self.plugin_class.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        scope = _Scope()
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            annotated = _class_of_annotation(arg.annotation, self.classes)
            if annotated:
                scope.instances[arg.arg] = annotated
        self.scopes.append(scope)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Assign(self, node: ast.Assign) -> None:
        made = self._class_made_by(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                if made:
                    self.scopes[-1].instances[target.id] = made
                else:
                    self.scopes[-1].instances.pop(target.id, None)
        self.generic_visit(node)

    def _class_made_by(self, value: ast.AST) -> str | None:
        """The service class ``value`` constructs (``Rect(...)``, ``VLImage.load(...)``), if any."""
        if not isinstance(value, ast.Call):
            return None
        func = value.func
        if isinstance(func, ast.Name):
            return self.classes.get(func.id)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.classes:
            owner = self.classes[func.value.id]
            if func.attr in ("load", "fromNumpyArray", "initByCorners") and func.attr in self.surface.members[owner]:
                return owner
        return None

    def visit_Call(self, node: ast.Call) -> None:
        self._check_dynamic_import(node)
        method = self._service_method(node.func)
        if method is not None:
            self._check_call(node, method)
        self.generic_visit(node)

    def _service_method(self, func: ast.AST) -> str | None:
        """``"Class.method"`` for a call of a service class or of a method on one (or an instance made of one)."""
        if isinstance(func, ast.Name) and func.id in self.classes:
            return f"{self.classes[func.id]}.__init__"
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = self.classes.get(func.value.id) or self.scopes[-1].instances.get(func.value.id)
            if owner is not None:
                return f"{owner}.{func.attr}"
        return None

    def _check_call(self, node: ast.Call, method: str) -> None:
        owner, name = method.split(".")
        shown = owner if name == "__init__" else method
        if method == "VLImage.__init__":
            body = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "body"), None)
            if isinstance(body, ast.JoinedStr) or (isinstance(body, ast.Constant) and isinstance(body.value, str)):
                self._add(node, "VLImage(...) takes the image's bytes, a numpy array or a PIL image, not a path",
                          "use VLImage.load(filename=path)", SDK_SURFACE)
        accepted = self.surface.parameters.get(method)
        if accepted is None:
            return
        unknown = [k.arg for k in node.keywords if k.arg is not None and k.arg not in accepted]
        if unknown:
            self._add(node, f"{shown}() has no parameter {', '.join(unknown)} in the service's SDK",
                      f"its parameters are {', '.join(sorted(accepted)) or 'none'}", SDK_SURFACE)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_attribute(node)
        self.generic_visit(node)

    def _check_attribute(self, node: ast.Attribute) -> None:
        member = node.attr
        if member.startswith("_") or not isinstance(node.ctx, ast.Load):
            return
        value = node.value
        if isinstance(value, ast.Name):
            if value.id in self.modules:
                module = self.modules[value.id]
                if member not in self.surface.modules[module]:
                    self._add(node, f"{module} has no {member} in the service",
                              self.surface.module_instead(module, member), SDK_SURFACE)
                return
            owner = self.classes.get(value.id) or self.scopes[-1].instances.get(value.id)
            if owner is None and value.id == "self" and self.plugin_class:
                base, own = self.plugin_class[-1]
                if member in own:
                    return
                owner = base
            if owner is not None and member not in self.surface.members[owner]:
                self._add(node, f"{owner}.{member} is not in the service's SDK or plugin framework",
                          self.surface.instead(owner, member), SDK_SURFACE)
        elif (
            isinstance(value, ast.Attribute) and value.attr == "app" and isinstance(value.value, ast.Name)
            and value.value.id == "self" and self.plugin_class and member not in APP_MEMBERS
        ):
            self._add(node, f"self.app.{member}: the service's application has no {member}",
                      f"the service's application offers {', '.join(sorted(APP_MEMBERS))}", SDK_SURFACE)


def _own_attributes(node: ast.ClassDef) -> set[str]:
    """What a plugin class defines itself: methods, class attributes and every ``self.X = ...``."""
    names: set[str] = set()
    for item in ast.walk(node):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item in node.body:
            names.add(item.name)
        elif isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store):
            names.add(item.id)
        elif (
            isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store)
            and isinstance(item.value, ast.Name) and item.value.id == "self"
        ):
            names.add(item.attr)
    return names


def _class_of_annotation(annotation: ast.AST | None, classes: dict[str, str]) -> str | None:
    if isinstance(annotation, ast.Name):
        return classes.get(annotation.id)
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return classes.get(annotation.value)
    return None


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
