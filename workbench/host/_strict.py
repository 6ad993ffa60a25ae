"""Strict mode: plugin code that touches what the service does not have is reported at its own line.

While a strict host runs, three hooks watch code whose file lies in a strict host's plugins folder:

- ``import workbench...`` and names the service's modules lack (``from lunavl...image import X``), through a
  wrapper around ``builtins.__import__``;
- members the stand-in classes have and the service's do not (``BaseBackgroundPlugin.routes``, ``MonitoringPoint.asDict``),
  through descriptors put in their place on the classes;
- members of ``self.app`` other than the service application's (``ctx``, ``config``), through a view of the
  host handed to strict hosts' plugins.

Like ``unittest.mock``'s ``spec_set``, a violation raises (``strict="raise"``, which ``strict=True`` means):
``StrictAttributeError`` (an ``AttributeError``) or ``StrictImportError`` (a ``ModuleNotFoundError``), the
errors the service would raise there. ``strict="warn"`` warns (``StrictModeWarning``, attributed to the
plugin's file and line) and lets the call go on. Every violation is also kept in ``wb.strict_violations``.
The hooks are installed while at least one strict host runs and removed after the last one closes.
"""
from __future__ import annotations

import builtins
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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


@dataclass(frozen=True)
class StrictViolation:
    """One use, at one line of plugin code, of something the service lacks."""

    member: str
    file: str
    line: int
    instead: str
    kind: str = "member"  # "member", "app" or "import"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    @property
    def message(self) -> str:
        """What is wrong and what to use instead, without the location."""
        what = {
            "import": f"imports {self.member}, which the service does not have",
            "app": f"uses app.{self.member}: the workbench's host has it, the service's application does not",
        }.get(self.kind, f"uses {self.member}, which the service's SDK and plugin framework do not have")
        return f"{what}; {self.instead}"


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


class _Registry:
    """The strict scopes alive in this process and the hooks they share."""

    def __init__(self) -> None:
        self.scopes: list[StrictScope] = []
        self._lock = threading.Lock()
        self._scope_of_file: dict[str, StrictScope | None] = {}
        self._original_import: Callable[..., Any] | None = None
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
        frame = sys._getframe(depth + 1)
        file = frame.f_code.co_filename
        scope = self._scope_of_file.get(file, False)
        if scope is False:
            scope = self._find_scope(file)
            self._scope_of_file[file] = scope
        return None if scope is None else (scope, file, frame.f_lineno)

    def _find_scope(self, file: str) -> StrictScope | None:
        if file.startswith("<"):
            return None
        path = Path(file).resolve()
        return next((s for s in list(self.scopes) if s.plugins_dir in path.parents), None)

    # -- hooks -----------------------------------------------------------------------------------------

    def _install(self, surface: ServiceSurface) -> None:
        self._original_import = builtins.__import__
        builtins.__import__ = _make_import_hook(self, self._original_import, surface)
        for cls, members in workbench_only_members(surface).items():
            for member, service_class in members.items():
                original = cls.__dict__[member]
                guard = _GuardedDataMember if hasattr(original, "__set__") else _GuardedMember
                setattr(cls, member, guard(self, original, f"{service_class}.{member}", surface.instead(service_class, member)))
                self._replaced.append((cls, member, original))

    def _uninstall(self) -> None:
        if self._original_import is not None:
            builtins.__import__ = self._original_import
            self._original_import = None
        for cls, member, original in reversed(self._replaced):
            setattr(cls, member, original)
        self._replaced.clear()


_REGISTRY = _Registry()


def _make_import_hook(registry: _Registry, original: Callable[..., Any], surface: ServiceSurface) -> Callable[..., Any]:
    def strict_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level == 0 and globals is not None and registry.scopes:
            _check_import(registry, surface, name, fromlist)
        return original(name, globals, locals, fromlist, level)

    return strict_import


def _check_import(registry: _Registry, surface: ServiceSurface, name: str, fromlist: Any) -> None:
    top = name.split(".")[0]
    if top != "workbench" and (name not in surface.modules or not fromlist):
        return
    # Frames up: _check_import <- strict_import <- the importing code.
    where = registry.caller(2)
    if where is None:
        return
    scope, file, line = where
    if top == "workbench":
        scope.report(
            StrictViolation(name, file, line, _instead_of_workbench_import(surface, name, fromlist), "import"),
            StrictImportError,
        )
        return
    for item in fromlist:
        if item != "*" and item not in surface.modules[name]:
            scope.report(
                StrictViolation(f"{name}.{item}", file, line, surface.module_instead(name, item), "import"),
                StrictImportError,
            )


def _instead_of_workbench_import(surface: ServiceSurface, name: str, fromlist: Any) -> str:
    paths = sorted({
        path for item in (fromlist or ()) for path, names in surface.modules.items() if item in names
    })
    if paths:
        return f"import those names from the service's modules: {', '.join(paths)}"
    return "plugins may import only the service's modules (lunavl..., luna_plugins...) and their requirements.txt"


class _GuardedMember:
    """Stands in place of a workbench-only class member: reports plugin code that reads it, then delegates."""

    def __init__(self, registry: _Registry, original: Any, label: str, instead: str) -> None:
        self._registry = registry
        self._original = original
        self._label = label
        self._instead = instead

    def _check(self) -> None:
        # Frames up: _check <- __get__/__set__ <- the code touching the member.
        where = self._registry.caller(2)
        if where is not None:
            scope, file, line = where
            scope.report(StrictViolation(self._label, file, line, self._instead), StrictAttributeError)

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


class StrictApp:
    """What a strict host's plugins get as ``app``: the host, with uses beyond the service's app reported."""

    __slots__ = ("_host",)

    def __init__(self, host: Any) -> None:
        object.__setattr__(self, "_host", host)

    def __getattr__(self, name: str) -> Any:
        host = object.__getattribute__(self, "_host")
        if name not in APP_MEMBERS and not name.startswith("__"):
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
        return f"<strict view of {object.__getattribute__(self, '_host')!r}>"


def enter_strict(plugins_dir: Path, mode: str) -> StrictScope:
    """Start watching ``plugins_dir``'s code (installs the hooks with the first scope)."""
    scope = StrictScope(plugins_dir, mode)
    _REGISTRY.add(scope)
    return scope


def leave_strict(scope: StrictScope) -> None:
    """Stop watching (removes the hooks with the last scope)."""
    _REGISTRY.remove(scope)
