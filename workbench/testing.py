"""pytest fixtures for plugin authors (registered as the ``workbench`` pytest plugin on install).

``workbench_factory`` starts hosts for a test and closes them at its end::

    def test_my_plugin(workbench_factory):
        wb = workbench_factory("plugins", ["my_plugin.plugin"])
        assert wb.plugins["MyPlugin"].status == "active"

``workbench_client`` serves a host over HTTP with aiohttp's test client (it needs ``pytest-aiohttp``, in
the ``test`` extra) and closes both after the test. A plugin author's repository needs no pytest
configuration for it: ``async def`` tests that use it are run by pytest-asyncio without ``asyncio_mode = auto``
(this plugin marks them ``asyncio``). Options named like ``build_app``'s
(``allow_estimator_switching``, ``max_body_size``, ``service_name``, ``token``...) go to the server, the others to
``Workbench`` (``device``, ``workers``, ``default_estimators``...); ``client.app[WORKBENCH]`` is the host::

    async def test_my_route(workbench_client):
        client = await workbench_client("plugins", ["my_plugin.plugin"])
        response = await client.get("/my/route")
        assert response.status == 200 and await response.text() == "hello"
        assert response.headers["X-Request-Id"]
"""
from __future__ import annotations

import inspect
from collections.abc import Generator
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest
from aiohttp import web

from .host import Workbench

WORKBENCH = web.AppKey("workbench", Workbench)
"""The key of the served host in ``client.app`` for clients made by ``workbench_client``."""


ASYNC_FIXTURES = ("workbench_client",)
"""Fixtures only ``async def`` tests can use: such tests are marked ``asyncio`` when they are not already."""


@pytest.hookimpl(trylast=True, wrapper=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Generator[None, Any, Any]:
    """Mark the ``async def`` tests that request an async fixture of this plugin as ``asyncio`` tests.

    pytest-asyncio's strict mode (its default) runs only marked coroutine tests, so without this an author's
    repository would need ``asyncio_mode = auto`` for the test docs/plugin-authors.md shows. This wrapper is
    the innermost one (``trylast``), so the mark is on the items before pytest-asyncio's own wrapper turns
    marked coroutine tests into its items.
    """
    collected = yield
    if not inspect.iscoroutinefunction(obj) or not collector.config.pluginmanager.hasplugin("asyncio"):
        return collected
    items = collected if isinstance(collected, list) else [collected]
    for item in items:
        uses_async_fixture = any(fixture in getattr(item, "fixturenames", ()) for fixture in ASYNC_FIXTURES)
        if isinstance(item, pytest.Function) and uses_async_fixture and item.get_closest_marker("asyncio") is None:
            item.add_marker(pytest.mark.asyncio)
    return collected


@pytest.fixture
def workbench_factory() -> Iterator[Callable[..., Workbench]]:
    """Call it like ``Workbench(...)``; the host comes back started and is closed after the test."""
    hosts: list[Workbench] = []

    def start(plugins_dir: str | Path, active_plugins: Any = None, **kwargs: Any) -> Workbench:
        host = Workbench(plugins_dir, active_plugins, **kwargs).start()
        hosts.append(host)
        return host

    yield start
    for host in reversed(hosts):
        host.close()


@pytest.fixture
def workbench_client(workbench_factory: Callable[..., Workbench], aiohttp_client: Any) -> Callable[..., Awaitable[Any]]:
    """``await workbench_client(plugins_dir, active, **options)``: a test client on ``build_app`` of a new host.

    The client closes before the host does (the fixtures are torn down in reverse order of these
    arguments), so the monitoring points of the last requests still reach the event plugins.
    """
    from .server import build_app

    server_options = set(inspect.signature(build_app).parameters) - {"wb"}

    async def serve(plugins_dir: str | Path, active_plugins: Any = None, **options: Any) -> Any:
        app_options = {name: value for name, value in options.items() if name in server_options}
        host_options = {name: value for name, value in options.items() if name not in server_options}
        wb = workbench_factory(plugins_dir, active_plugins, **host_options)
        app = build_app(wb, **app_options)
        app[WORKBENCH] = wb
        return await aiohttp_client(app)

    return serve
