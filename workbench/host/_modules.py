"""A host's plugin modules in the process: its plugins folder on ``sys.path`` and the modules it imported.

``sys.path`` and ``sys.modules`` are the process's, shared by every host in it: a host appends its folder
once and removes it only if it added it, and forgets (purges) only modules whose files lie in its own folder.
Two hosts may use the same module name for different files, so a host forgets a same-named package another
host left imported before importing its own.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

from ..plugins._loader import purge_modules

# Plugin module names any host in this process imported; another host may reuse a name for other files.
_MODULES_LOADED_BY_HOSTS: set[str] = set()


class PluginModules:
    """The plugin modules of one host, whose plugins folder is ``plugins_dir`` (resolved)."""

    def __init__(self, plugins_dir: Path) -> None:
        self.plugins_dir = plugins_dir
        self._added_to_path = False

    def add_folder_to_path(self) -> None:
        # Appended, not prepended: a plugin folder named like a standard or installed module must not shadow it
        # (check_plugin_module_name refuses such a plugin instead).
        if str(self.plugins_dir) not in sys.path:
            sys.path.append(str(self.plugins_dir))
            self._added_to_path = True

    def forget_all(self) -> None:
        """Purge every module of this host's folder and take the folder off ``sys.path`` if this host put it there."""
        purge_modules(name for name in list(sys.modules) if self.owns(name))
        if self._added_to_path and str(self.plugins_dir) in sys.path:
            sys.path.remove(str(self.plugins_dir))

    def forget_other_hosts_module(self, module: str) -> None:
        """Drop a same-named plugin package another host left imported, so this host reads its own files."""
        purge_modules(
            name for name in _package_modules(module) if name in _MODULES_LOADED_BY_HOSTS and not self.owns(name)
        )

    def forget_package(self, module: str, keep: set[str]) -> None:
        """Purge ``module``'s package and its submodules of this host's folder, except the modules in ``keep``
        (other active modules), so that the next import reads the edited files."""
        purge_modules(name for name in _package_modules(module) if name not in keep and self.owns(name))

    def note_loaded(self) -> None:
        """Record the modules of this host's folder now imported, for other hosts' ``forget_other_hosts_module``."""
        _MODULES_LOADED_BY_HOSTS.update(name for name in sys.modules if self.owns(name))

    def owns(self, name: str) -> bool:
        """Whether the imported module ``name`` is a file of this host's plugins folder."""
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if not file:
            return False
        return self.plugins_dir in _resolved_folders(file)


def _package_modules(module: str) -> list[str]:
    """The imported modules of ``module``'s top-level package: the package and its submodules."""
    package = module.split(".")[0]
    return [name for name in list(sys.modules) if name == package or name.startswith(package + ".")]


@functools.lru_cache(maxsize=8192)
def _resolved_folders(file: str) -> frozenset[Path]:
    """The folders that hold a module's file, links resolved. Cached: every close and every plugin load asks
    for each of the modules a research session has loaded, thousands (measured: ``docs/benchmarks.md``)."""
    return frozenset(Path(file).resolve().parents)
