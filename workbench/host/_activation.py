"""Activation: importing a host's plugin modules, one record per plugin class, starting the plugins,
registering replacement estimators, closing and reloading them.

The host (``Workbench``) owns the records and the estimator slots; an ``Activation`` works on the same
list and dict, on the host's loop for everything that awaits plugin code.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from ..plugins import EstimatorReplacementPlugin, PluginError, Route, plugin_kind
from .._compat import service_providers
from ..plugins._base import adopt_routes, routes_of
from ..plugins._loader import (
    check_plugin_module_name,
    check_requirements,
    class_origin,
    find_plugin_classes,
    import_plugin_module,
)
from ._estimators import DEFAULT, EstimatorSlot, close_quietly
from ._loop import PLUGIN_FAILURES, Deadlines, describe_failure, within
from ._modules import PluginModules
from ._records import ACTIVE, CLOSED, PluginRecord
from ._routes import RESERVED_PATHS, is_reserved_path


class DuplicateActivationWarning(UserWarning):
    """A plugin class reached the host twice through an import; it was activated once."""


def active_routes(records: list[PluginRecord]) -> list[Route]:
    """The routes registered by the active background plugins among ``records``."""
    return [
        route
        for record in records
        if record.status == ACTIVE and record.kind == "background"
        for route in routes_of(record.instance)
    ]


class Activation:
    """Loads, starts, closes and reloads the plugins of one host.

    ``records`` and ``slots`` are the host's own (shared, not copied); ``plugin_app`` is what plugins get as
    ``app`` (the host, or its strict view).
    """

    def __init__(
        self,
        modules: PluginModules,
        records: list[PluginRecord],
        slots: dict[str, EstimatorSlot],
        *,
        plugin_app: Any,
        logger: logging.Logger,
        deadlines: Deadlines,
        require_installed: bool,
    ) -> None:
        self.modules = modules
        self.records = records
        self.slots = slots
        self.plugin_app = plugin_app
        self.logger = logger
        self.deadlines = deadlines
        self.require_installed = require_installed
        # Each plugin class's origin (its file and qualified name) -> the active module that activated it first.
        self._origins: dict[tuple[str, str], str] = {}
        self._pending_warnings: list[str] = []

    @property
    def plugins_dir(self) -> Path:
        return self.modules.plugins_dir

    def flush_warnings(self) -> None:
        """Issue the duplicate-activation warnings met so far, attributed to the caller of the host's method
        that calls this (``wb.start()``, ``wb.reload()``)."""
        for message in self._pending_warnings:
            warnings.warn(message, DuplicateActivationWarning, stacklevel=3)
        self._pending_warnings.clear()

    # -- loading ---------------------------------------------------------------------------------------

    def load_module(self, module: str) -> list[PluginRecord]:
        """Import ``module`` and make one record per plugin class it activates (a failed one on error)."""
        try:
            check_plugin_module_name(self.plugins_dir, module)
            self.modules.forget_other_hosts_module(module)
            if self.require_installed:
                check_requirements(self.plugins_dir, module)
            imported = import_plugin_module(self.plugins_dir, module)
            classes = find_plugin_classes(module, imported)
        except PluginError as error:
            self.logger.error("%s", error)
            record = PluginRecord(name=module, module=module, kind="module")
            record.fail(error.reason, error)
            self.records.append(record)
            return [record]
        self.modules.note_loaded()
        records = []
        provider = service_providers()["luna_plugins"].label
        for cls in classes:
            if not self._first_activation(cls, module):
                continue
            record = PluginRecord(name=cls.__name__, module=module, kind=plugin_kind(cls), provider=provider)
            try:
                record.instance = cls(self.plugin_app)
                if record.kind == "background":
                    adopt_routes(record.instance)
            except PLUGIN_FAILURES as error:
                record.fail(f"__init__ failed with {describe_failure(error)}", error)
            records.append(record)
        self.records.extend(records)
        return records

    def _first_activation(self, cls: type, module: str) -> bool:
        """Whether ``cls`` is new to the host; warns, naming the import, when it is not."""
        origin = class_origin(cls)
        first_module = self._origins.get(origin)
        if first_module is None:
            self._origins[origin] = module
            return True
        if cls.__module__ == module or first_module == cls.__module__:
            how = f"active module {module!r} imports it from {cls.__module__!r}"
        else:
            how = f"active module {module!r} imports it as {cls.__module__}.{cls.__qualname__}, a second copy of the same file"
        message = (
            f"plugin class {cls.__qualname__} was already activated from {first_module!r}; {how}. "
            "Activated once. The service would activate it twice: use relative imports (from .foo import Bar) "
            "and do not import plugin classes into other active modules"
        )
        self.logger.warning("%s", message)
        self._pending_warnings.append(message)
        return False

    # -- starting and closing --------------------------------------------------------------------------

    async def activate(self, records: list[PluginRecord], *, startup: bool) -> None:
        """Initialise and start event and background plugins; register replacement estimators."""
        for record in records:
            if record.status != ACTIVE:
                continue
            if record.kind == "estimator":
                await self._register_replacement(record, take_over=startup)
                continue
            step = "initialize"
            try:
                await within(record.instance.initialize(), self.deadlines.start, f"plugin {record.name!r} initialize()")
                if record.kind == "background":
                    step = "start"
                    await within(record.instance.start(), self.deadlines.start, f"plugin {record.name!r} start()")
                    self._check_routes(record)
            except PLUGIN_FAILURES as error:
                record.fail(error.reason if isinstance(error, PluginError) else f"{step}() failed with "
                            f"{describe_failure(error)}", error)
                self.logger.error("plugin %r: %s", record.name, record.error)
                await close_quietly(record.instance, f"plugin {record.name}", self.logger, self.deadlines.close)

    def _check_routes(self, record: PluginRecord) -> None:
        """Refuse a plugin whose routes take a reserved path or one an earlier plugin holds (it keeps it)."""
        held = {route.path: route.plugin for route in active_routes(self.records) if route.plugin != record.name}
        for route in routes_of(record.instance):
            if is_reserved_path(route.path):
                raise PluginError(
                    record.name,
                    f"route {route.path!r} is reserved for the workbench's own API ({', '.join(RESERVED_PATHS)}, "
                    "/estimators/...); choose another path",
                )
            if route.path in held:
                raise PluginError(
                    record.name, f"route {route.path!r} is already registered by plugin {held[route.path]!r}, "
                    "which keeps it; choose another path",
                )

    async def _register_replacement(self, record: PluginRecord, *, take_over: bool) -> None:
        plugin: EstimatorReplacementPlugin = record.instance
        try:
            broker = plugin.estimatorBrokerName
            slot = self.slots.get(broker)
            if slot is None:
                raise PluginError(
                    record.name,
                    f"estimatorBrokerName is {broker!r}, which the workbench cannot replace; known: "
                    f"{', '.join(map(repr, self.slots)) or 'none'}",
                )
            if record.name in slot.models:
                raise PluginError(
                    record.name,
                    f"its class name is also the name of a model estimator of {broker!r} (models= / --model); "
                    "rename the model estimator or the plugin's class",
                )
            slot.replacements[record.name] = plugin
            in_use = slot.active
            if take_over and in_use == DEFAULT:
                await slot.use(record.name)
            elif take_over:
                self.logger.warning(
                    "plugin %r also replaces %r; %r stays in use (switch with wb.use(%r, %r))",
                    record.name, broker, in_use, broker, record.name,
                )
        except PLUGIN_FAILURES as error:
            reason = error.reason if isinstance(error, PluginError) else describe_failure(error)
            record.fail(reason, error)
            self.logger.error("plugin %r: %s", record.name, reason)
            await self._drop_replacement(record)
            await close_quietly(plugin, f"plugin {record.name}", self.logger, self.deadlines.close)

    async def _drop_replacement(self, record: PluginRecord) -> None:
        for slot in self.slots.values():
            if slot.replacements.get(record.name) is record.instance:
                await slot.drop_replacement(record.name)

    async def close_record(self, record: PluginRecord) -> None:
        if record.status != ACTIVE:
            return
        if record.kind == "estimator":
            await self._drop_replacement(record)
        error = await close_quietly(record.instance, f"plugin {record.name}", self.logger, self.deadlines.close)
        record.status = CLOSED
        if error:
            record.error = f"close() failed with {error}"

    # -- reloading -------------------------------------------------------------------------------------

    async def reload(self, module: str, active_modules: list[str]) -> list[PluginRecord]:
        """Close ``module``'s plugins, forget its files and import them again; the estimators they served
        are served again. ``active_modules`` (the host's) gains ``module``. Returns the new records."""
        if module not in active_modules:
            active_modules.append(module)
        old = [record for record in self.records if record.module == module]
        in_use = {slot.broker: slot.active for slot in self.slots.values()}
        for record in old:
            await self.close_record(record)
        for record in old:
            self.records.remove(record)
        self._origins = {origin: first for origin, first in self._origins.items() if first != module}
        self.modules.forget_package(module, keep=set(active_modules) - {module})
        records = self.load_module(module)
        await self.activate(records, startup=False)
        for broker, name in in_use.items():
            slot = self.slots[broker]
            if name in slot.replacements and slot.active != name:
                await slot.use(name)
        return records
