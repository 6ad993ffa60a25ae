"""Strict mode: plugin code that touches what the service does not have is reported at its own line.

While a strict host runs, three hooks watch code whose file lies in a strict host's plugins folder:

- ``import workbench...`` and names the service's modules lack (``from lunavl...image import X``), through
  wrappers around every way Python code reaches a module: ``builtins.__import__`` (the ``import`` statement and
  explicit ``__import__(...)`` calls), ``importlib.import_module``, ``importlib.__import__`` and
  ``importlib.util.module_from_spec``; an import run by code compiled from a string (``exec("import x")``,
  ``eval``, ``compile``) is attributed to the plugin line that ran that code;
- members the stand-in classes have and the service's do not (``BaseBackgroundPlugin.routes``, ``MonitoringPoint.asDict``),
  through descriptors put in their place on the classes;
- members of ``self.app`` other than the service application's (``ctx``, ``config``), through a view of the
  host handed to strict hosts' plugins;
- the stand-in's private members (its background plugin's route list, ``image._VLImage__pixels``), read or
  set, through descriptors like the members' (``_standin_private``), and ``rect & other``, which in the SDK is not an
  intersection, through one on ``Rect.__and__``.

Like ``unittest.mock``'s ``spec_set``, a violation raises (``strict="raise"``, which ``strict=True`` means):
``StrictAttributeError`` (an ``AttributeError``) or ``StrictImportError`` (a ``ModuleNotFoundError``), the
errors the service would raise there. ``strict="warn"`` warns (``StrictModeWarning``, attributed to the
plugin's file and line) and lets the call go on. Every violation is also kept in ``wb.strict_violations``.
The same import hooks keep each third-party module plugin code imports (neither the standard library, the
service's packages nor the workbench) with its line in ``StrictScope.imports``: not a violation here, since
only the plugin's requirements.txt says whether the service will have it (``workbench check`` judges them).
The hooks are installed while at least one strict host runs and removed after the last one closes.
"""
from __future__ import annotations

import builtins
import dis
import importlib
import importlib.util
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Callable

from ._standin_private import (
    RECT_AND,
    RECT_AND_INSTEAD,
    RECT_AND_PROBLEM,
    private_member_instead,
    private_member_problem,
    standin_private_members,
)
from ._surface import APP_MEMBERS, ServiceSurface, service_surface, workbench_only_members

STRICT_MODES = ("raise", "warn")


class StrictModeWarning(UserWarning):
    """Plugin code used something the service's SDK or plugin framework does not have."""


class StrictModeError(Exception):
    """Plugin code used something the service's SDK or plugin framework does not have (strict="raise")."""


class StrictAttributeError(StrictModeError, AttributeError):
    """A member the service's object lacks: the service would raise ``AttributeError`` here."""


class StrictImportError(StrictModeError, ModuleNotFoundError):
    """A module or name the service lacks: the service would raise ``ImportError`` here."""


class StrictBehaviourError(StrictModeError, NotImplementedError):
    """An operation the SDK's code performs differently (``rect & other``), which the stand-in does not imitate."""


@dataclass(frozen=True)
class StrictViolation:
    """One use, at one line of plugin code, of something the service lacks."""

    member: str
    file: str
    line: int
    instead: str
    kind: str = "member"  # "member", "private", "operator", "app" or "import"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    @property
    def message(self) -> str:
        """What is wrong and what to use instead, without the location."""
        if self.kind == "private":
            what = private_member_problem(*self.member.split(".", 1))
        elif self.kind == "operator":
            what = f"uses {self.member}: {RECT_AND_PROBLEM}"
        else:
            what = {
                "import": f"imports {self.member}, which the service does not have",
                "app": f"uses app.{self.member}: the workbench's host has it, the service's application does not",
            }.get(self.kind, f"uses {self.member}, which the service's SDK and plugin framework do not have")
        return f"{what}; {self.instead}"


@dataclass(frozen=True)
class StrictImport:
    """A third-party module plugin code imported at run time, at one line: the service has it only if the
    plugin's requirements.txt declares it."""

    module: str
    file: str
    line: int


def parse_strict(strict: bool | str) -> str | None:
    """``False`` -> None, ``True`` -> "raise", "raise"/"warn" as given; anything else is a ValueError."""
    if strict is False or strict is None:
        return None
    if strict is True:
        return "raise"
    if strict in STRICT_MODES:
        return strict
    raise ValueError(f"strict must be True, False, 'raise' or 'warn', got {strict!r}")


class StrictScope:
    """One strict host's side: its plugins folder, its mode, and the violations found in its plugins."""

    def __init__(self, plugins_dir: Path, mode: str) -> None:
        self.plugins_dir = plugins_dir
        self.mode = mode
        self.violations: list[StrictViolation] = []
        self.imports: list[StrictImport] = []
        self._lock = threading.Lock()

    def report(self, violation: StrictViolation, error: type[StrictModeError]) -> None:
        with self._lock:
            seen = violation in self.violations
            if not seen:
                self.violations.append(violation)
        if self.mode == "raise":
            raise error(str(violation))
        if not seen:
            warnings.warn_explicit(violation.message, StrictModeWarning, violation.file, violation.line)

    def note_import(self, record: StrictImport) -> None:
        with self._lock:
            if record not in self.imports:
                self.imports.append(record)


class _Registry:
    """The strict scopes alive in this process and the hooks they share."""

    def __init__(self) -> None:
        self.scopes: list[StrictScope] = []
        self._lock = threading.Lock()
        self._scope_of_file: dict[str, StrictScope | None] = {}
        self._original_import: Callable[..., Any] | None = None
        self._replaced_functions: list[tuple[Any, str, Any]] = []
        self._replaced: list[tuple[type, str, Any]] = []

    def add(self, scope: StrictScope) -> None:
        with self._lock:
            self.scopes.append(scope)
            self._scope_of_file.clear()
            if len(self.scopes) == 1:
                self._install(service_surface())

    def remove(self, scope: StrictScope) -> None:
        with self._lock:
            if scope in self.scopes:
                self.scopes.remove(scope)
            self._scope_of_file.clear()
            if not self.scopes:
                self._uninstall()

    def caller(self, depth: int) -> tuple[StrictScope, str, int] | None:
        """The strict scope, file and line of the frame ``depth`` levels up, if it is plugin code."""
        frame = _frame_above(depth + 1)
        return None if frame is None else self._plugin_site(frame)

    def import_site(self, depth: int) -> tuple[StrictScope, str, int] | None:
        """Like ``caller``, but past frames of code compiled from a string (``exec("import x")``, ``eval``,
        ``compile(..., "", "exec")``): their file is ``<string>`` or what ``compile`` was given, so the
        import belongs to the plugin line that ran them."""
        frame = _frame_above(depth + 1)
        if frame is None:
            return None
        while _compiled_from_string(frame.f_code.co_filename) and frame.f_back is not None:
            frame = frame.f_back
        return self._plugin_site(frame)

    def _plugin_site(self, frame: FrameType) -> tuple[StrictScope, str, int] | None:
        file = frame.f_code.co_filename
        if file not in self._scope_of_file:
            self._scope_of_file[file] = self._find_scope(file)
        scope = self._scope_of_file[file]
        return None if scope is None else (scope, file, frame.f_lineno)

    def _find_scope(self, file: str) -> StrictScope | None:
        if file.startswith("<"):
            return None
        path = Path(file).resolve()
        return next((s for s in list(self.scopes) if s.plugins_dir in path.parents), None)

    # -- hooks -----------------------------------------------------------------------------------------

    def _install(self, surface: ServiceSurface) -> None:
        self._original_import = builtins.__import__
        watch = _ImportWatch(self, surface)
        builtins.__import__ = _make_import_hook(watch, self._original_import)
        for owner, name, make_hook in (
            (importlib, "__import__", _make_import_hook),
            (importlib, "import_module", _make_import_module_hook),
            (importlib.util, "module_from_spec", _make_module_from_spec_hook),
        ):
            original_function = getattr(owner, name)
            setattr(owner, name, make_hook(watch, original_function))
            self._replaced_functions.append((owner, name, original_function))
        for cls, members in workbench_only_members(surface).items():
            for member, service_class in members.items():
                self._guard(cls, member, f"{service_class}.{member}", surface.instead(service_class, member))
        for cls, members in standin_private_members(surface).items():
            for member, service_class in members.items():
                self._guard(cls, member, f"{service_class}.{member}",
                            private_member_instead(surface, service_class, member), "private")
        rect = surface.standins.get("Rect")
        if rect is not None and "__and__" in vars(rect):
            self._guard(rect, "__and__", RECT_AND, RECT_AND_INSTEAD, "operator", StrictBehaviourError)

    def _guard(
        self, cls: type, member: str, label: str, instead: str, kind: str = "member",
        error: type[StrictModeError] = StrictAttributeError,
    ) -> None:
        """Put a guard in place of ``cls.member``; one the stand-in sets on instances (``self.__routes = []``),
        absent from the class, is guarded as a descriptor over the instance's ``__dict__``."""
        original = cls.__dict__.get(member, _ABSENT)
        target = _InstanceDictMember(member) if original is _ABSENT else original
        guard = _GuardedDataMember if hasattr(target, "__set__") else _GuardedMember
        setattr(cls, member, guard(self, target, label, instead, kind, error))
        self._replaced.append((cls, member, original))

    def _uninstall(self) -> None:
        if self._original_import is not None:
            builtins.__import__ = self._original_import
            self._original_import = None
        for owner, name, original_function in reversed(self._replaced_functions):
            setattr(owner, name, original_function)
        self._replaced_functions.clear()
        for cls, member, original in reversed(self._replaced):
            if original is _ABSENT:
                delattr(cls, member)
            else:
                setattr(cls, member, original)
        self._replaced.clear()


_REGISTRY = _Registry()


def _frame_above(depth: int) -> FrameType | None:
    """The frame ``depth`` levels above the caller, or None where the stack is shallower: a hook called straight
    from C (an import made by an extension's callback on its own thread, as ONNX Runtime's ``run_async`` does)
    has no plugin code under it."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


def _compiled_from_string(file: str) -> bool:
    # Python's own frozen modules (<frozen importlib._bootstrap>) are not plugin code run through exec.
    return file == "" or (file.startswith("<") and not file.startswith("<frozen"))


class _ImportWatch:
    """What the import hooks share: the registry and which top-level packages are the service's."""

    def __init__(self, registry: _Registry, surface: ServiceSurface) -> None:
        self.registry = registry
        self.surface = surface
        self.service_packages = {module.split(".")[0] for module in surface.modules}

    def check(self, name: str, fromlist: Any) -> None:
        """Report a workbench import or a name the service's module lacks; note a third-party module."""
        if not self.registry.scopes:
            return
        top = name.split(".")[0]
        checked = top == "workbench" or (name in self.surface.modules and fromlist)
        third_party = not checked and top not in self.service_packages and top not in sys.stdlib_module_names
        if not (checked or third_party):
            return
        # Frames up: check <- the hook <- the importing code.
        where = self.registry.import_site(2)
        if where is None:
            return
        scope, file, line = where
        if third_party:
            scope.note_import(StrictImport(name, file, line))
        elif top == "workbench":
            scope.report(
                StrictViolation(name, file, line, _instead_of_workbench_import(self.surface, name, fromlist), "import"),
                StrictImportError,
            )
        else:
            for item in fromlist:
                if item != "*" and item not in self.surface.modules[name]:
                    scope.report(
                        StrictViolation(f"{name}.{item}", file, line, self.surface.module_instead(name, item), "import"),
                        StrictImportError,
                    )


def _make_import_hook(watch: _ImportWatch, original: Callable[..., Any]) -> Callable[..., Any]:
    def strict_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        # An explicit __import__("x") passes no globals: it is checked like the import statement.
        if level == 0 and _asked_to_import(_frame_above(1)):
            watch.check(name, fromlist)
        return original(name, globals, locals, fromlist, level)

    return strict_import


def _make_import_module_hook(watch: _ImportWatch, original: Callable[..., Any]) -> Callable[..., Any]:
    def import_module(name: str, package: str | None = None) -> Any:
        absolute = _absolute_name(name, package)
        if absolute is not None:
            watch.check(absolute, ())
        return original(name, package)

    return import_module


def _make_module_from_spec_hook(watch: _ImportWatch, original: Callable[..., Any]) -> Callable[..., Any]:
    def module_from_spec(spec: Any) -> Any:
        name = getattr(spec, "name", None)
        if isinstance(name, str):
            watch.check(name, ())
        return original(spec)

    return module_from_spec


def _absolute_name(name: str, package: str | None) -> str | None:
    """``name`` resolved against ``package`` as ``import_module`` would; None where it cannot be (it raises)."""
    if not name.startswith("."):
        return name
    try:
        return importlib.util.resolve_name(name, package)
    except (ImportError, ValueError, AttributeError):
        return None


def _instead_of_workbench_import(surface: ServiceSurface, name: str, fromlist: Any) -> str:
    paths = sorted({
        path for item in (fromlist or ()) for path, names in surface.modules.items() if item in names
    })
    if paths:
        return f"import those names from the service's modules: {', '.join(paths)}"
    return "plugins may import only the service's modules (lunavl..., luna_plugins...) and their requirements.txt"


class _GuardedMember:
    """Stands in place of a class member the service lacks: reports plugin code that reads it, then delegates."""

    def __init__(
        self, registry: _Registry, original: Any, label: str, instead: str, kind: str = "member",
        error: type[StrictModeError] = StrictAttributeError,
    ) -> None:
        self._registry = registry
        self._original = original
        self._label = label
        self._instead = instead
        self._kind = kind
        self._error = error

    def _check(self) -> None:
        # Frames up: _check <- __get__/__set__ <- the code touching the member.
        if self._kind == "private" and not _attribute_syntax(_frame_above(2)):
            return
        where = self._registry.caller(2)
        if where is not None:
            scope, file, line = where
            scope.report(StrictViolation(self._label, file, line, self._instead, self._kind), self._error)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        self._check()
        getter = getattr(type(self._original), "__get__", None)
        return self._original if getter is None else getter(self._original, instance, owner)


class _GuardedDataMember(_GuardedMember):
    def __set__(self, instance: Any, value: Any) -> None:
        self._check()
        type(self._original).__set__(self._original, instance, value)

    def __delete__(self, instance: Any) -> None:
        self._check()
        type(self._original).__delete__(self._original, instance)


# The instructions of ``obj.name``, ``obj.name = v``, ``del obj.name`` and ``obj.name(...)`` (3.11 and later).
_ATTRIBUTE_OPCODES = frozenset(dis.opmap[name] for name in ("LOAD_ATTR", "STORE_ATTR", "DELETE_ATTR", "LOAD_METHOD")
                               if name in dis.opmap)


def _attribute_syntax(frame: FrameType | None) -> bool:
    """Whether ``frame`` is at an attribute access of its own, rather than in a call whose C code reads the
    member: ``pickle.dumps(image)`` and ``copy.copy(rect)`` read the stand-in's slots for the plugin, which
    did not ask for them."""
    if frame is None or frame.f_lasti < 0:
        return False
    return frame.f_code.co_code[frame.f_lasti] in _ATTRIBUTE_OPCODES


_IMPORT_NAME = dis.opmap["IMPORT_NAME"]


def _asked_to_import(frame: FrameType | None) -> bool:
    """Whether the code in ``frame`` asked for the import: an import statement (also one run by ``exec``), or a
    call in code that names ``__import__``; not C code importing on its behalf, as ``pickle.loads(data)`` does
    for the classes in the data (the stand-in's ``workbench.sdk`` modules, for a pickled image)."""
    if frame is None or frame.f_lasti < 0:
        return False
    return frame.f_code.co_code[frame.f_lasti] == _IMPORT_NAME or "__import__" in frame.f_code.co_names


_ABSENT = object()  # what ``_replaced`` records for a member the class did not have before it was guarded


class _InstanceDictMember:
    """A descriptor for the attribute ``name`` kept in each instance's ``__dict__``, as it was before a guard
    took its name on the class."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:  # an instance attribute: the class itself has none
            raise AttributeError(f"type object {getattr(owner, '__name__', owner)!r} has no attribute {self._name!r}")
        try:
            return vars(instance)[self._name]
        except KeyError:
            raise AttributeError(f"{type(instance).__name__!r} object has no attribute {self._name!r}") from None

    def __set__(self, instance: Any, value: Any) -> None:
        vars(instance)[self._name] = value

    def __delete__(self, instance: Any) -> None:
        try:
            del vars(instance)[self._name]
        except KeyError:
            raise AttributeError(self._name) from None


class StrictApp:
    """What a strict host's plugins get as ``app``: the host, with uses beyond the service's app reported."""

    # Every name but dunders goes through __getattribute__, the view's own slot included: ``app._host`` or
    # ``app._StrictApp__host`` from plugin code is a use beyond the service's app like any other.
    __slots__ = ("__host",)

    def __init__(self, host: Any) -> None:
        _STRICT_APP_HOST.__set__(self, host)

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__"):
            return object.__getattribute__(self, name)
        host = _STRICT_APP_HOST.__get__(self)
        if name not in APP_MEMBERS:
            where = _REGISTRY.caller(1)
            if where is not None:
                scope, file, line = where
                scope.report(
                    StrictViolation(
                        name, file, line, f"the service's application offers {', '.join(sorted(APP_MEMBERS))}", "app"
                    ),
                    StrictAttributeError,
                )
        return getattr(host, name)

    def __repr__(self) -> str:
        return f"<strict view of {_STRICT_APP_HOST.__get__(self)!r}>"


_STRICT_APP_HOST = vars(StrictApp)["_StrictApp__host"]


def enter_strict(plugins_dir: Path, mode: str) -> StrictScope:
    """Start watching ``plugins_dir``'s code (installs the hooks with the first scope)."""
    scope = StrictScope(plugins_dir, mode)
    _REGISTRY.add(scope)
    return scope


def leave_strict(scope: StrictScope) -> None:
    """Stop watching (removes the hooks with the last scope)."""
    _REGISTRY.remove(scope)
