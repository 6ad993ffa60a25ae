"""Start and close in every style; close() leaves nothing behind."""
from __future__ import annotations

import asyncio
import gc
import sys
import threading
import warnings

import pytest

from helpers.fake_estimators import default_factories, spot_image
from workbench import Workbench

SESSION_PLUGIN = """
    import asyncio
    from aiohttp import ClientSession
    from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin

    class Sessions(BaseBackgroundPlugin):
        async def initialize(self):
            self.session = ClientSession()
        async def start(self):
            self.task = asyncio.create_task(asyncio.sleep(3600))
            self.forgotten = asyncio.create_task(asyncio.sleep(3600))  # never cancelled by the plugin
        async def close(self):
            self.task.cancel()
            await self.session.close()
"""


def host_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "workbench-host"]


def test_close_leaves_no_task_session_thread_or_module(plugin_folder):
    module = plugin_folder.add("sessions", SESSION_PLUGIN)
    before = len(host_threads())
    wb = Workbench(plugin_folder.root, [module], default_estimators=default_factories()).start()
    plugin = wb.plugins["Sessions"].instance
    wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])
    estimator = wb._slots["peopleCountEstimator"].pool.instances[0]
    loop = wb.loop
    wb.close()
    assert plugin.task.done() and plugin.forgotten.cancelled(), "tasks a plugin forgets are cancelled too"
    assert plugin.session.closed
    assert estimator.closed, "the estimators in use are closed"
    assert loop.is_closed() and len(host_threads()) == before
    assert "sessions.plugin" not in sys.modules
    assert str(plugin_folder.root) not in sys.path
    wb.close()  # a second close is a no-op


def test_closed_host_cannot_be_used_or_restarted(plugin_folder):
    wb = Workbench(plugin_folder.root, [], default_estimators=default_factories())
    with pytest.raises(RuntimeError, match="call wb.start"):
        wb.estimate("peopleCountEstimator", [spot_image([])])
    wb.start().close()
    with pytest.raises(RuntimeError, match="Workbench is closed"):
        wb.use("peopleCountEstimator", "default")
    with pytest.raises(RuntimeError, match="create a new Workbench"):
        wb.start()


async def test_async_lifecycle_leaves_no_unclosed_session_warning(plugin_folder):
    module = plugin_folder.add("sessions", SESSION_PLUGIN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Workbench(plugin_folder.root, [module], default_estimators={}) as wb:
            assert wb.plugins["Sessions"].status == "active"
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_blocking_call_from_the_host_loop_is_refused_with_the_async_form(plugin_folder):
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        async def plugin_code():
            return wb.estimate("peopleCountEstimator", [spot_image([])])

        with pytest.raises(RuntimeError, match="use `await wb.aestimate"):
            asyncio.run_coroutine_threadsafe(plugin_code(), wb.loop).result(timeout=5)


def test_active_plugins_from_the_environment(plugin_folder, project_plugins, monkeypatch):
    monkeypatch.setenv("LUNA_REMOTE_SDK_ACTIVE_PLUGINS", " loop_watch.plugin ,, request_stats.plugin,loop_watch.plugin")
    with Workbench(project_plugins, default_estimators={}) as wb:
        assert wb.active_plugins == ["loop_watch.plugin", "request_stats.plugin"]
        assert [p.status for p in wb.plugins] == ["active", "active"]


def test_plugins_table_renders(project_plugins):
    with Workbench(project_plugins, ["loop_watch.plugin", "missing.plugin"], default_estimators={}) as wb:
        html = wb.plugins._repr_html_()
        assert "<table>" in html and "LoopWatchPlugin" in html and "failed" in html
        text = repr(wb.plugins)
        assert text.splitlines()[0].split() == ["name", "module", "kind", "status", "error", "provider"]
        assert "stand-in (workbench" in text.splitlines()[1], "which luna_plugins the plugin's base class came from"
        assert "Workbench" in wb._repr_html_()
