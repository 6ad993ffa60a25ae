"""Hostile plugins against the host: exits, hangs, swallowed cancellations, bad module names, blocking code.

Each test names the numbered failure of issue 9 it covers; all of them hung or failed on the code before it.
"""
from __future__ import annotations

import sys
import threading
import time

import pytest

from helpers.fake_estimators import spot_image
from helpers.hostile import HUNG_ESTIMATOR
from helpers.waiting import finishes, wait_until
from workbench.host import PluginTimeoutError

EXITS = ["sys.exit(3)", "raise KeyboardInterrupt('plugin')"]


def _alive_after(wb) -> None:
    """The host still answers: an estimate works and its loop thread lives."""
    [result] = wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])
    assert result.count == 1


# -- 1. SystemExit / KeyboardInterrupt from plugin code ------------------------------------------------------


@pytest.mark.parametrize("exit_call", EXITS)
def test_exit_at_import_fails_that_plugin_only(plugin_folder, make_host, exit_call):
    bad = plugin_folder.add("quitter", f"import sys\n{exit_call}\n")
    wb = make_host([bad])
    record = wb.plugins[bad]
    assert record.status == "failed" and ("SystemExit" in record.error or "KeyboardInterrupt" in record.error)
    _alive_after(wb)


@pytest.mark.parametrize("step", ["initialize", "start"])
@pytest.mark.parametrize("exit_call", EXITS)
def test_exit_in_initialize_or_start_fails_that_plugin(plugin_folder, make_host, step, exit_call):
    bad = plugin_folder.add("quitter", f"""
        import sys
        from workbench.plugins import BaseBackgroundPlugin

        class Quitter(BaseBackgroundPlugin):
            async def {step}(self):
                {exit_call}
    """)
    good = plugin_folder.add("fine", """
        from workbench.plugins import BaseEventPlugin

        class Fine(BaseEventPlugin):
            eventName = "x"
            async def handleEvent(self, points, logger):
                pass
    """)
    wb = make_host([bad, good])
    assert wb.plugins["Quitter"].status == "failed"
    assert f"{step}()" in wb.plugins["Quitter"].error
    assert wb.plugins["Fine"].status == "active"
    _alive_after(wb)


@pytest.mark.parametrize("exit_call", EXITS)
def test_exit_in_estimate_batch_raises_and_host_goes_on(plugin_folder, make_host, exit_call):
    module = plugin_folder.add("quitting_estimator", f"""
        import sys
        from workbench.plugins import EstimatorBase, EstimatorReplacementPlugin

        class Quits(EstimatorBase):
            async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
                {exit_call}
            def close(self):
                pass

        class QuitPlugin(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"
            def createReplacementEstimator(self):
                return Quits()
    """)
    wb = make_host([module])
    with pytest.raises(Exception, match="QuitPlugin") as caught:
        wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])])
    assert not isinstance(caught.value, (SystemExit, KeyboardInterrupt))
    wb.use("peopleCountEstimator", "default")
    _alive_after(wb)


@pytest.mark.parametrize("exit_call", EXITS)
def test_exit_in_close_and_handle_event_does_not_block_close(plugin_folder, make_host, exit_call):
    module = plugin_folder.add("quitter", f"""
        import sys
        from workbench.plugins import BaseEventPlugin

        class Quitter(BaseEventPlugin):
            eventName = "x"
            async def handleEvent(self, points, logger):
                {exit_call}
            async def close(self):
                {exit_call}
    """)
    wb = make_host([module])
    [delivery] = wb.emit("x", [1])
    assert not delivery.ok and ("SystemExit" in delivery.error or "KeyboardInterrupt" in delivery.error)
    _alive_after(wb)
    finishes(wb.close)
    assert wb.plugins["Quitter"].status == "closed" and "close() failed" in wb.plugins["Quitter"].error


def test_exit_scheduled_on_the_loop_does_not_kill_it(plugin_folder, make_host):
    """Plugin code that escapes asyncio's own handling (a callback calling sys.exit) leaves the loop running."""
    module = plugin_folder.add("saboteur", """
        import asyncio, sys
        from workbench.plugins import BaseBackgroundPlugin

        class Saboteur(BaseBackgroundPlugin):
            async def start(self):
                asyncio.get_running_loop().call_soon(sys.exit, 4)
    """)
    wb = make_host([module])
    time.sleep(0.05)
    assert wb.running
    _alive_after(wb)


def test_dead_loop_thread_makes_calls_raise_at_once(make_host):
    wb = make_host(estimate_timeout=600)  # "at once": long before the estimate deadline could end the wait
    loop_thread = wb._loop
    loop_thread._death = "the host's loop thread ended: simulated"  # what serve() records when the thread dies
    loop_thread._fail_waiters()
    assert not wb.running and "broken" in repr(wb)
    with pytest.raises(RuntimeError, match="loop thread ended"):
        finishes(lambda: wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])]))
    loop_thread._death = None  # let the fixture close it normally


# -- 2. hangs: estimate, swap, close, start, swallowed cancellation -----------------------------------------


def test_hung_estimator_times_out_naming_it_and_swap_away_completes(plugin_folder, make_host, host_log):
    module = plugin_folder.add("hangs", HUNG_ESTIMATOR)
    wb = make_host([module])
    assert wb.estimators["peopleCountEstimator"] == "HangPlugin"
    with pytest.raises(TimeoutError, match="HangPlugin") as caught:
        finishes(lambda: wb.estimate("peopleCountEstimator", [spot_image([(1, 1)])]))
    assert isinstance(caught.value, PluginTimeoutError)
    # The old pool's batch never ends: drained up to close_timeout.
    finishes(lambda: wb.use("peopleCountEstimator", "default"))
    _alive_after(wb)
    finishes(wb.close)
    assert "abandoned" in host_log.text


def test_start_that_never_returns_fails_the_plugin(plugin_folder, make_host):
    module = plugin_folder.add("slow_start", """
        import asyncio
        from workbench.plugins import BaseBackgroundPlugin

        class NeverStarts(BaseBackgroundPlugin):
            async def start(self):
                await asyncio.Event().wait()
    """)
    wb = finishes(lambda: make_host([module]))
    record = wb.plugins["NeverStarts"]
    assert record.status == "failed" and "start()" in record.error and "0.5 s" in record.error


def test_task_swallowing_cancellation_does_not_hang_close(plugin_folder, make_host, host_log):
    module = plugin_folder.add("stubborn", """
        import asyncio
        from workbench.plugins import BaseBackgroundPlugin

        async def forever():
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass

        class Stubborn(BaseBackgroundPlugin):
            async def start(self):
                self.task = asyncio.get_running_loop().create_task(forever(), name="stubborn-task")
    """)
    wb = make_host([module])
    finishes(wb.close)
    assert "stubborn-task" in host_log.text and "abandoned" in host_log.text


def test_deadlines_are_validated():
    from workbench.host import Workbench

    with pytest.raises(ValueError, match="estimate_timeout"):
        Workbench(".", [], estimate_timeout=0)


# -- 5. only modules of the plugins folder -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["numpy", "this", "sys", "json.decoder", "x" * 300, "../etc", "a b"])
def test_reload_refuses_names_outside_the_plugins_folder(make_host, name):
    import numpy

    wb = make_host()
    before = set(sys.modules)
    with pytest.raises(ValueError, match="cannot reload"):
        wb.reload(name)
    assert sys.modules["numpy"] is numpy
    assert "this" not in set(sys.modules) - before  # `import this` prints the Zen: nothing was executed


def test_active_stdlib_name_is_refused_without_running_it(plugin_folder, make_host, capsys):
    wb = make_host(["this", "sys", "y" * 300])
    assert all(record.status == "failed" for record in wb.plugins)
    assert "standard-library" in wb.plugins["this"].error
    assert "Beautiful is better" not in capsys.readouterr().out


def test_plugins_folder_does_not_shadow_the_standard_library(plugin_folder, make_host):
    import json

    shadow = plugin_folder.root / "json"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise RuntimeError('shadowed')\n")
    wb = make_host(["json"])
    assert wb.plugins["json"].status == "failed"
    assert sys.path[0] != str(plugin_folder.root)
    sys.modules.pop("json")
    try:
        import json as again  # resolves to the standard library, not the plugin folder

        assert "plugins" not in (again.__file__ or "")
    finally:
        sys.modules["json"] = json


# -- 6. route collisions and reserved paths -----------------------------------------------------------------

ROUTE_PLUGIN = """
    from workbench.plugins import BaseBackgroundPlugin

    def hello(request):
        return None

    class {name}(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("{path}", hello, methods=["get"])
"""


def test_route_collision_fails_the_later_plugin(plugin_folder, make_host):
    first = plugin_folder.add("first", ROUTE_PLUGIN.format(name="First", path="/same"))
    second = plugin_folder.add("second", ROUTE_PLUGIN.format(name="Second", path="/same"))
    wb = make_host([first, second])
    assert wb.plugins["First"].status == "active"
    assert wb.plugins["Second"].status == "failed" and "'First'" in wb.plugins["Second"].error
    assert [route.plugin for route in wb.routes] == ["First"]


@pytest.mark.parametrize("path", ["/health", "/plugins", "/estimators", "/estimators/peopleCountEstimator/estimate"])
def test_reserved_path_fails_the_plugin(plugin_folder, make_host, path):
    module = plugin_folder.add("squatter", ROUTE_PLUGIN.format(name="Squatter", path=path))
    wb = make_host([module])
    assert wb.plugins["Squatter"].status == "failed" and "reserved" in wb.plugins["Squatter"].error
    assert wb.routes == []


def test_server_built_in_routes_are_all_reserved():
    from workbench.host import is_reserved_path
    from workbench.server._api import BUILT_IN_ROUTES

    assert all(is_reserved_path(path.replace("{broker}", "b")) for _, path, _ in BUILT_IN_ROUTES)


# -- 8. a blocking plugin call is named -----------------------------------------------------------------------


def test_watchdog_names_the_plugin_blocking_the_loop(plugin_folder, make_host, host_log):
    module = plugin_folder.add("sleeper", """
        import time
        from workbench.plugins import BaseEventPlugin

        class Sleeper(BaseEventPlugin):
            eventName = "x"
            async def handleEvent(self, points, logger):
                time.sleep(0.6)
    """)
    wb = make_host([module])
    wb.emit("x", [1])
    wait_until(lambda: any("sleeper" in s.where for s in wb.loop_stalls))
    # Other stalls may be listed too: on a loaded machine, startup work can hold the loop past 0.2 s.
    [stall] = [stall for stall in wb.loop_stalls if "sleeper.plugin" in stall.where]
    assert "sleeper.plugin" in stall.where and "handleEvent" in stall.where and stall.seconds >= 0.4
    assert "sleeper.plugin" in host_log.text
    assert threading.active_count() < 50


def test_close_that_never_returns_is_abandoned(plugin_folder, make_host, host_log):
    module = plugin_folder.add("never_closes", """
        import asyncio
        from workbench.plugins import BaseEventPlugin

        class NeverCloses(BaseEventPlugin):
            eventName = "x"
            async def handleEvent(self, points, logger):
                pass
            async def close(self):
                await asyncio.Event().wait()
    """)
    wb = make_host([module])
    finishes(wb.close)
    record = wb.plugins["NeverCloses"]
    assert record.status == "closed" and "close() did not finish within 0.3 s" in record.error


def test_estimator_construction_that_never_returns_fails_the_plugin(plugin_folder, make_host):
    module = plugin_folder.add("never_built", """
        import threading
        from workbench.plugins import EstimatorReplacementPlugin

        RELEASE = threading.Event()

        class NeverBuilt(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"
            def createReplacementEstimator(self):
                RELEASE.wait(30)  # blocks its worker thread, as a stuck model load would
    """)
    wb = finishes(lambda: make_host([module]))
    release = sys.modules["never_built.plugin"].RELEASE
    try:
        record = wb.plugins["NeverBuilt"]
        assert record.status == "failed" and "createReplacementEstimator() did not finish within 0.5 s" in record.error
        assert wb.estimators["peopleCountEstimator"] == "default"
        _alive_after(wb)
    finally:
        release.set()
