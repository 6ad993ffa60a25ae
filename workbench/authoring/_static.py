"""The static half of ``workbench check``: read a plugin's files (ast) without running them.

Rules in the style of ruff's banned-api and deptry: imports of ``workbench``; third-party imports its
``requirements.txt`` does not declare (import statements, and ``importlib.import_module``/``__import__`` calls
and ``exec``/``eval``/``compile`` code strings whose name or code is a constant expression; an import in a
``try`` counts as optional only where the handler gives a fallback); names and members the service's SDK and plugin framework lack
(through the names a file imports from the service's modules, instances made from them, ``self`` in plugin
classes, the application and the monitoring points the service hands plugins; see ``_bindings``), private
members included, and ``rect & other``; absolute imports of plugin modules (the duplicate-activation pitfall).
Every branch is read, so a member used only behind a query flag or for a rare status code is found too.
"""
from __future__ import annotations

import ast
import collections
from dataclasses import dataclass, field
from pathlib import Path

from ..host._standin_private import (
    RECT_AND_INSTEAD,
    RECT_AND_PROBLEM,
    is_framework_class,
    is_private,
    private_member_instead,
    private_member_problem,
    sdk_has_private,
    standin_private_names_of,
)
from ..host._surface import APP_MEMBERS, FRAMEWORK_MODULES, ServiceSurface
from ._bindings import (
    APP,
    APP_TAKING_BASES,
    MEMBER_CLASSES,
    SELF,
    UNPACKED_CLASSES,
    FileFacts,
    batch_of_annotation,
    class_of_annotation,
    positional_parameters,
    read_file_facts,
)
from ._findings import (
    DUPLICATE_ACTIVATION,
    SDK_SURFACE,
    SYNTAX,
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
    """Names bound in one function or module body: local name -> service class name (or ``APP``, the service's
    application); and names bound to a batch of them (``points``) -> the class of its items."""

    instances: dict[str, str] = field(default_factory=dict)
    batches: dict[str, str] = field(default_factory=dict)

    def copy(self) -> _Scope:
        return _Scope(dict(self.instances), dict(self.batches))

    def bind(self, name: str, cls: str | None, batch: str | None = None) -> None:
        """``name`` now holds a ``cls`` (or a batch of ``batch``), or, both None, something unknown."""
        for known, value in ((self.instances, cls), (self.batches, batch)):
            if value is None:
                known.pop(name, None)
            else:
                known[name] = value


@dataclass(frozen=True)
class _PluginClass:
    """A class built on a service class: its base, what it defines itself, and its methods' nodes."""

    base: str
    own: set[str]
    methods: tuple[ast.AST, ...]


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
        self.plugin_class: list[_PluginClass] = []
        self.facts = FileFacts({}, frozenset(), frozenset())
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
            self.facts = read_file_facts(node, set(FRAMEWORK_MODULES))
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
        methods = tuple(item for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
        self.plugin_class.append(_PluginClass(base, _own_attributes(node), methods))
        self.generic_visit(node)
        self.plugin_class.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # A function sees the names of the scopes around it (a closure, a global) until it binds its own.
        scope = self.scopes[-1].copy()
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            scope.bind(arg.arg, class_of_annotation(arg.annotation, self.classes, self.facts.local_classes),
                       batch_of_annotation(arg.annotation, self.classes, self.facts.local_classes))
        for name in self.facts.app_parameters.get(node.name, ()) if len(self.scopes) == 1 else ():
            scope.bind(name, APP)
        self._bind_framework_arguments(node, scope)
        self.scopes.append(scope)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _bind_framework_arguments(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope) -> None:
        """What the service passes a plugin class's methods: the application to ``__init__``, the monitoring
        points to an event plugin's ``handleEvent(self, points, logger)``."""
        if not self.plugin_class or node not in self.plugin_class[-1].methods:
            return
        base, params = self.plugin_class[-1].base, positional_parameters(node)
        if len(params) < 2:
            return
        if node.name == "__init__" and base in APP_TAKING_BASES:
            scope.bind(params[1], APP)
        elif node.name == "handleEvent" and base == "BaseEventPlugin":
            scope.bind(params[1], None, "MonitoringPoint")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind_target(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name):
            annotated = class_of_annotation(node.annotation, self.classes, self.facts.local_classes)
            if annotated is not None or node.value is None:
                self.scopes[-1].bind(node.target.id, annotated,
                                     batch_of_annotation(node.annotation, self.classes, self.facts.local_classes))
            else:
                self._bind_target(node.target, node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._bind_item(node.target, node.iter, self.scopes[-1])
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        # A comprehension's names are its own: bound in a copy of the scope, gone after it.
        scope = self.scopes[-1].copy()
        self.scopes.append(scope)
        for generator in node.generators:
            self.visit(generator.iter)
            self._bind_item(generator.target, generator.iter, scope)
            self.visit(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        for part in (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,):
            self.visit(part)
        self.scopes.pop()

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def _bind_item(self, target: ast.AST, iterable: ast.AST, scope: _Scope) -> None:
        """``for target in iterable``: an item of a known batch, else unknown."""
        item = scope.batches.get(iterable.id) if isinstance(iterable, ast.Name) else None
        if isinstance(target, ast.Name):
            scope.bind(target.id, item)
        else:
            self._forget(target, scope)

    def _bind_target(self, target: ast.AST, value: ast.AST) -> None:
        scope = self.scopes[-1]
        if isinstance(target, ast.Name):
            batch = scope.batches.get(value.id) if isinstance(value, ast.Name) else None
            scope.bind(target.id, self._class_of(value), batch)
        elif isinstance(target, (ast.Tuple, ast.List)):
            fields = UNPACKED_CLASSES.get(self._class_of(value) or "")
            if fields is not None and len(fields) == len(target.elts):
                for element, cls in zip(target.elts, fields):
                    if isinstance(element, ast.Name):
                        scope.bind(element.id, cls)
            else:
                self._forget(target, scope)

    @staticmethod
    def _forget(target: ast.AST, scope: _Scope) -> None:
        for name in ast.walk(target):
            if isinstance(name, ast.Name):
                scope.bind(name.id, None)

    def _class_of(self, value: ast.AST) -> str | None:
        """The service class (or ``APP``) an expression evaluates to, where the code says so."""
        if isinstance(value, ast.Name):
            if value.id == "self" and value.id not in self.scopes[-1].instances and self.plugin_class:
                return SELF
            return self.scopes[-1].instances.get(value.id)
        if isinstance(value, ast.Call):
            return self._class_made_by(value)
        if isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name):
            return self.scopes[-1].batches.get(value.value.id)
        if isinstance(value, ast.Attribute):
            owner = self._class_of(value.value)
            if owner == SELF and value.attr == "app":
                return APP
            return MEMBER_CLASSES.get((owner, value.attr)) if owner is not None else None
        return None

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.BitAnd):
            self._check_rect_and(node, node.left, node.right, "&")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.BitAnd):
            self._check_rect_and(node, node.target, node.value, "&=")
        self.generic_visit(node)

    def _check_rect_and(self, node: ast.AST, left: ast.AST, right: ast.AST, operator: str) -> None:
        # Only a Rect on the left runs Rect.__and__ (the class defines no __rand__; &= falls back to __and__).
        if self._class_of(left) == "Rect":
            self._add(node, f"{ast.unparse(left)} {operator} {ast.unparse(right)}: {RECT_AND_PROBLEM}",
                      RECT_AND_INSTEAD, SDK_SURFACE)

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
        """``x.member`` where ``x`` is known to be one of the service's objects, in whatever branch it lies."""
        member, value = node.attr, node.value
        loaded = isinstance(node.ctx, ast.Load)
        if member.startswith("__") and member.endswith("__"):
            return
        if isinstance(value, ast.Name) and value.id in self.modules:
            module = self.modules[value.id]
            if loaded and not member.startswith("_") and member not in self.surface.modules[module]:
                self._add(node, f"{module} has no {member} in the service",
                          self.surface.module_instead(module, member), SDK_SURFACE)
            return
        owner = self._owner_of(value, member)
        if owner is None:
            return
        if owner == APP:
            if loaded and member not in APP_MEMBERS:
                self._add(node, f"{ast.unparse(value)}.{member}: the service's application has no {member}",
                          f"the service's application offers {', '.join(sorted(APP_MEMBERS))}", SDK_SURFACE)
        elif is_private(member):
            self._check_private(node, owner, member, loaded)
        elif loaded and member not in self.surface.members[owner]:
            self._add(node, f"{owner}.{member} is not in the service's SDK or plugin framework",
                      self.surface.instead(owner, member), SDK_SURFACE)

    def _owner_of(self, value: ast.AST, member: str) -> str | None:
        """The service class whose ``member`` ``value.member`` uses: a class, an instance, ``self`` in a plugin
        class (unless the class defines ``member`` itself), ``APP``, or what an expression is known to give."""
        owner = self.classes.get(value.id) if isinstance(value, ast.Name) else None
        owner = owner or self._class_of(value)
        if owner == SELF:
            plugin_class = self.plugin_class[-1]
            return None if member in plugin_class.own else plugin_class.base
        return owner

    def _check_private(self, node: ast.Attribute, owner: str, member: str, loaded: bool) -> None:
        """``image._pixels``: a private member of the stand-in, or one the service's SDK class does not have."""
        if is_framework_class(owner):
            # The framework's own private members are not published: only the stand-in's are known to differ.
            wrong = member in standin_private_names_of(self.surface, owner)
        else:
            # The SDK's are known for the classes the stand-in implements; a name the file sets itself is the
            # plugin's own attribute.
            wrong = (loaded and owner in self.surface.standins and not sdk_has_private(owner, member)
                     and member not in self.facts.stored_attributes)
        if wrong:
            self._add(node, private_member_problem(owner, member),
                      private_member_instead(self.surface, owner, member), SDK_SURFACE)


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


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )
