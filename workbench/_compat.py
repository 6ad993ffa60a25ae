"""The service's import paths (``luna_plugins...``, ``lunavl...``) for plugins run in the workbench.

A finder placed *last* on ``sys.meta_path`` answers these names only when no other finder does, so the
service's real packages always win where they are installed. A name is only answered inside a top-level
package this finder created, so the real packages are never mixed with these stand-ins.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass
from types import ModuleType

# Service module path -> the workbench module that provides its names.
ALIASES: dict[str, str] = {
    "luna_plugins.base.plugins_meta.base_plugins": "workbench.plugins",
    "luna_plugins.estimator_plugins.estimator_replacement_plugin": "workbench.plugins",
    "lunavl.sdk.base": "workbench.sdk.base",
    "lunavl.sdk.errors.exceptions": "workbench.sdk.errors",
    "lunavl.sdk.estimators.image_estimators.people_count": "workbench.sdk.people_count",
    "lunavl.sdk.image_utils.geometry": "workbench.sdk.geometry",
    "lunavl.sdk.image_utils.image": "workbench.sdk.image",
}
_PACKAGES = {alias.rsplit(".", i)[0] for alias in ALIASES for i in range(1, alias.count(".") + 1)}


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        target = ALIASES.get(module.__name__)
        if target is not None:
            source = importlib.import_module(target)
            public = getattr(source, "__all__", None) or [n for n in vars(source) if not n.startswith("_")]
            module.__dict__.update({name: getattr(source, name) for name in public})
            module.__doc__ = f"The workbench's stand-in for {module.__name__} (names from {target})."


class ServiceAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves the service's module names to the workbench's, when nothing else provides them."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ALIASES and fullname not in _PACKAGES:
            return None
        top = fullname.split(".")[0]
        if top != fullname:
            parent = sys.modules.get(top)
            if parent is None or not isinstance(getattr(parent.__spec__, "loader", None), _AliasLoader):
                return None
        spec = importlib.machinery.ModuleSpec(fullname, _AliasLoader(), is_package=fullname in _PACKAGES)
        if fullname in _PACKAGES:
            spec.submodule_search_locations = []
        return spec


def install() -> None:
    """Append the finder to ``sys.meta_path`` once."""
    if not any(isinstance(finder, ServiceAliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(ServiceAliasFinder())


# The service's top-level packages the aliases stand in for.
SERVICE_PACKAGES = ("lunavl", "luna_plugins")


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
            from . import __version__

            providers[package] = Provider(package, False, __version__, "workbench")
        else:
            where = spec.origin or next(iter(spec.submodule_search_locations or []), "?")
            providers[package] = Provider(package, True, _distribution_version(package), str(where))
    return providers
