"""The service's import paths (``luna_plugins...``, ``lunavl...``) for plugins run in the workbench.

A finder placed *last* on ``sys.meta_path`` answers these names only when no other finder does, so the
service's real packages always win where they are installed. A name is only answered inside a top-level
package this finder created, so the real packages are never mixed with these stand-ins.

Every module of the SDK's public tree is answered (the reference snapshot, ``workbench.surface``), with every
public name: the stand-in's object where the workbench implements it (``STAND_IN_MODULES``), a generated
placeholder raising ``NotImplementedError`` elsewhere (``workbench.sdk._placeholders``). The framework's paths
offer exactly the names the service's documentation shows (``FRAMEWORK_MODULES``). Alias targets are resolved
relative to this package, never as ``workbench.*``.
"""
from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ._version import __version__
from .sdk._placeholders import CoreOnlyValue, placeholder_class, placeholder_constant, placeholder_function
from .surface import STAND_IN_MODULES, ModuleSurface, shipped_surface

# The service's plugin framework as its documentation shows it (reference/service-plugins.txt and
# estimator-replacement-plugins.txt): module -> exactly the names it offers. The workbench's own framework
# (``workbench.plugins``) has more (``Route``, ``PluginError``...): those are not on the service's paths.
FRAMEWORK_MODULES: dict[str, frozenset[str]] = {
    "luna_plugins.base.plugins_meta.base_plugins": frozenset(
        {"BaseEventPlugin", "BaseBackgroundPlugin", "BaseBackgroundHandler", "pluginHTTPResponse"}
    ),
    "luna_plugins.estimator_plugins.estimator_replacement_plugin": frozenset(
        {"EstimatorBase", "EstimatorReplacementPlugin"}
    ),
}
# Where the framework's names live, relative to this package (the workbench may run under another package
# name: ``check --install`` loads it privately so that ``import workbench`` fails there, as in the service).
_FRAMEWORK_SOURCE = ".plugins"
# Imports of the SDK's modules from outside it that name the core: never imported, always placeholders.
_CORE_MODULES = frozenset({"FaceEngine", "TrackEngine"})

# The service's top-level packages the aliases stand in for.
SERVICE_PACKAGES = ("lunavl", "luna_plugins")


def _sdk_modules() -> dict[str, ModuleSurface]:
    """The SDK's modules, from the reference snapshot (parsed once, shared with ``workbench.sdk.error_codes``)."""
    return shipped_surface().modules


@functools.lru_cache(maxsize=1)
def _packages() -> frozenset[str]:
    """Every package above a module the stand-in answers (``lunavl``, ``lunavl.sdk``...), computed once."""
    return frozenset(name.rsplit(".", depth)[0] for name in [*FRAMEWORK_MODULES, *_sdk_modules()]
                     for depth in range(1, name.count(".") + 1))


def _is_answered(fullname: str) -> bool:
    """Whether ``fullname`` is a module or package of the service that the stand-in answers."""
    if fullname.split(".")[0] not in SERVICE_PACKAGES:
        return False
    return fullname in FRAMEWORK_MODULES or fullname in _sdk_modules() or _is_package(fullname)


def _is_package(fullname: str) -> bool:
    return fullname in _packages()


def _imported(module: ModuleSurface, name: str) -> Any:
    """What ``module`` binds to ``name`` by importing it: the SDK's own object (through these aliases), the
    real module outside the SDK where it is importable, a ``CoreOnlyValue`` for the core's."""
    source = module.import_sources[name]
    path, _, attribute = source.partition(":")
    top = path.split(".")[0]
    if top in _CORE_MODULES:
        return CoreOnlyValue(source.replace(":", "."))
    try:
        target = importlib.import_module(path)
    except ImportError:
        return CoreOnlyValue(source.replace(":", "."))
    if not attribute:
        return target
    if hasattr(target, attribute):
        return getattr(target, attribute)
    return importlib.import_module(f"{path}.{attribute}")  # ``from package import submodule``


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        if name in FRAMEWORK_MODULES:
            source = importlib.import_module(_FRAMEWORK_SOURCE, __package__)
            module.__dict__.update({n: getattr(source, n) for n in FRAMEWORK_MODULES[name]})
            module.__doc__ = f"The workbench's stand-in for {name}: the names the service's plugin docs show."
        elif name in _sdk_modules():
            _fill_sdk_module(module, _sdk_modules()[name])


def _fill_sdk_module(module: ModuleType, reference: ModuleSurface) -> None:
    """Every public name of the SDK's module: the stand-in's object where it implements it, else a placeholder;
    names the module imports are resolved on first use (``from lunavl.sdk.base import Rect``)."""
    name = reference.name
    target = STAND_IN_MODULES.get(name)
    stand_in = importlib.import_module(target, __package__) if target else None
    implemented = set(getattr(stand_in, "__all__", ()))
    for class_name, cls in reference.classes.items():
        module.__dict__[class_name] = (getattr(stand_in, class_name) if class_name in implemented
                                       else placeholder_class(name, class_name, cls.members))
    for member_name, member in reference.names.items():
        if member_name in implemented:
            module.__dict__[member_name] = getattr(stand_in, member_name)
        elif member.kind == "function":
            module.__dict__[member_name] = placeholder_function(name, member_name)
        else:
            module.__dict__[member_name] = placeholder_constant(name, member_name, member.value)

    def __getattr__(attribute: str) -> Any:
        if attribute not in reference.import_sources or attribute in reference.classes or attribute in reference.names:
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        value = _imported(reference, attribute)
        module.__dict__[attribute] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*module.__dict__, *reference.import_sources})

    module.__dict__.update(__getattr__=__getattr__, __dir__=__dir__)
    implemented_here = "the stand-in's objects and " if stand_in is not None else ""
    module.__doc__ = f"The workbench's stand-in for {name}: {implemented_here}placeholders for what needs the core."


class ServiceAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves the service's module names to the workbench's, when nothing else provides them."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if not _is_answered(fullname):
            return None
        top = fullname.split(".")[0]
        if top != fullname:
            parent = sys.modules.get(top)
            if parent is None or not isinstance(getattr(parent.__spec__, "loader", None), _AliasLoader):
                return None
        package = _is_package(fullname)
        spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(), is_package=package)
        if package:
            spec.submodule_search_locations = []
        return spec


def install() -> None:
    """Append the finder to ``sys.meta_path`` once."""
    if not any(isinstance(finder, ServiceAliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(ServiceAliasFinder())


@dataclass(frozen=True)
class Provider:
    """Who answers ``import <package>`` in this process, and at which version."""

    package: str
    real: bool
    version: str
    location: str

    @property
    def label(self) -> str:
        """Short: ``luna_plugins 5.2.0 (service)`` or ``stand-in (workbench 0.1.0)``."""
        return f"{self.package} {self.version} (service)" if self.real else f"stand-in (workbench {self.version})"

    def __str__(self) -> str:
        if self.real:
            return f"the service's {self.package} {self.version} ({self.location})"
        return f"the workbench's stand-in (workbench {self.version})"


def _distribution_version(package: str) -> str:
    """The installed distribution's version for an import name (``luna_plugins`` may ship as ``luna-plugins``)."""
    names = [package, package.replace("_", "-"), *importlib.metadata.packages_distributions().get(package, [])]
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown version (no distribution metadata)"


def service_providers() -> dict[str, Provider]:
    """For ``lunavl`` and ``luna_plugins``: the service's real package where one is importable, else the stand-in."""
    install()
    providers = {}
    for package in SERVICE_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or isinstance(spec.loader, _AliasLoader):
            providers[package] = Provider(package, False, __version__, "workbench")
        else:
            where = spec.origin or next(iter(spec.submodule_search_locations or []), "?")
            providers[package] = Provider(package, True, _distribution_version(package), str(where))
    return providers
