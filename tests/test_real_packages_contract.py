"""Plugin classes, handlers and route answers recognised by the service's names, not the stand-ins' identity.

In-process and fast: the "service" classes here are look-alikes whose qualified names are the service's, as
the real ``luna_plugins`` classes' are; test_real_packages.py runs the same against an importable package tree.
"""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import ModuleType

import pytest

from workbench._compat import service_providers
from workbench.plugins import PluginError, plugin_kind
from workbench.plugins._base import adopt_routes, routes_of
from workbench.plugins._loader import find_plugin_classes

SERVICE_MODULE = "luna_plugins.base.plugins_meta.base_plugins"


def _service_class(name: str, *bases: type, **members: object) -> type:
    return type(name, bases or (ABC,), {"__module__": SERVICE_MODULE, "__qualname__": name, **members})


class _Answer:  # the real package's response type: read by its fields
    def __init__(self, statusCode: int, body: object, headers: dict) -> None:
        self.statusCode, self.body, self.headers = statusCode, body, headers


@abstractmethod
async def _handle_event(self, points, logger):  # noqa: ANN001  (abstract, as in the service's BaseEventPlugin)
    pass


ServiceBasePlugin = _service_class("BasePlugin", __init__=lambda self, app: setattr(self, "app", app))
ServiceEventPlugin = _service_class("BaseEventPlugin", ServiceBasePlugin, handleEvent=_handle_event)
ServiceBackgroundPlugin = _service_class(
    "BaseBackgroundPlugin", ServiceBasePlugin, addRoute=lambda self, *a, **k: self.app.add_route(*a, **k)
)
ServiceHandler = _service_class(
    "BaseBackgroundHandler", object, __init__=lambda self, app: None,
    response=lambda self, body=None, headers=None, statusCode=200: _Answer(statusCode, body, headers or {}),
)


def _module(**classes: type) -> ModuleType:
    module = ModuleType("evt.plugin")
    vars(module).update(classes)
    return module


def test_subclasses_of_the_service_classes_are_plugins_and_the_bases_are_not():
    class Collecting(ServiceEventPlugin):
        async def handleEvent(self, points, logger):
            pass

    class Abstract(ServiceEventPlugin):
        pass

    found = find_plugin_classes("evt.plugin", _module(BaseEventPlugin=ServiceEventPlugin, Abstract=Abstract, Collecting=Collecting))
    assert found == [Collecting] and plugin_kind(Collecting) == "event"
    with pytest.raises(PluginError, match="only abstract plugin classes.*handleEvent"):
        find_plugin_classes("evt.plugin", _module(Abstract=Abstract))
    with pytest.raises(PluginError, match="defines no plugin class"):
        find_plugin_classes("evt.plugin", _module(BaseEventPlugin=ServiceEventPlugin, Other=type("Other", (), {})))


def test_a_real_background_plugin_registers_its_routes_with_the_workbench_and_they_answer():
    class Teapot(ServiceHandler):
        async def get(self, request):
            return self.response(body="I am teapot", statusCode=418)

    class Background(ServiceBackgroundPlugin):
        pass

    plugin = Background(app=object())  # an app without add_route: the service's own addRoute would fail here
    adopt_routes(plugin)
    plugin.addRoute("/teapot", Teapot)
    with pytest.raises(TypeError, match="must subclass BaseBackgroundHandler"):
        plugin.addRoute("/other", type("NotAHandler", (), {"get": lambda self, request: None}))
    [route] = routes_of(plugin)
    assert route.path == "/teapot" and route.methods == {"get"}
    answer = asyncio.run(route.dispatch("GET", request=None, app=None))
    assert (answer.statusCode, answer.bodyBytes()) == (418, b"I am teapot")


def test_service_providers_name_the_stand_in_and_its_version_here():
    import workbench

    providers = service_providers()
    assert set(providers) == {"lunavl", "luna_plugins"}
    for provider in providers.values():
        assert not provider.real and provider.version == workbench.__version__
        assert provider.label == f"stand-in (workbench {workbench.__version__})"
