"""Strict mode: plugin code using what the service lacks is named with its file and line."""
from __future__ import annotations

import warnings

import pytest
from helpers.fake_estimators import default_factories
from helpers.waiting import wait_until

from workbench import Workbench
from workbench.host._strict import StrictAttributeError, StrictModeWarning
from workbench.plugins import BaseBackgroundPlugin, MonitoringPoint

SOURCE = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin
from lunavl.sdk.image_utils.geometry import Rect


class Uses(BaseBackgroundPlugin):
    async def initialize(self):
        rect = Rect(0, 0, 10, 10)
        self.found = rect.width
        self.known = len(self.routes)
        self.folder = self.app.plugins_dir
        import workbench.sdk
"""


def _host(plugin_folder, strict):
    module = plugin_folder.add("uses_extras", SOURCE)
    return Workbench(plugin_folder.root, [module], strict=strict, default_estimators=default_factories()), module


def test_strict_raise_fails_the_plugin_at_the_line_naming_member_and_fix(plugin_folder):
    wb, module = _host(plugin_folder, True)
    with wb:
        record = wb.plugins["Uses"]
        assert record.status == "failed"
        file = plugin_folder.root / "uses_extras" / "plugin.py"
        assert f"{file}:9: uses BaseBackgroundPlugin.routes" in record.error
        assert "keep your own list of the paths you pass to addRoute" in record.error
        assert [str(v).split(":")[1] for v in wb.strict_violations] == ["9"]


def test_strict_warn_reports_every_use_and_goes_on(plugin_folder):
    wb, module = _host(plugin_folder, "warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with wb:
            assert wb.plugins["Uses"].status == "active"
            assert wb.plugins["Uses"].instance.known == 0
    file = str(plugin_folder.root / "uses_extras" / "plugin.py")
    lines = [(v.member, v.file, v.line) for v in wb.strict_violations]
    assert lines == [("BaseBackgroundPlugin.routes", file, 9), ("plugins_dir", file, 10), ("workbench.sdk", file, 11)]
    strict_warnings = [w for w in caught if issubclass(w.category, StrictModeWarning)]
    assert [(w.filename, w.lineno) for w in strict_warnings] == [(file, 9), (file, 10), (file, 11)]
    assert "app.plugins_dir" in str(strict_warnings[1].message)


def test_without_strict_nothing_is_reported_and_hooks_are_gone_after_close(plugin_folder):
    wb, _ = _host(plugin_folder, False)
    with wb:
        assert wb.plugins["Uses"].status == "active"
        assert wb.strict_violations == []
    strict, _ = _host(plugin_folder, True)
    with strict:
        assert not isinstance(vars(BaseBackgroundPlugin)["routes"], property)
    assert isinstance(vars(BaseBackgroundPlugin)["routes"], property)


def test_workbench_code_may_use_its_own_members_under_strict(plugin_folder):
    wb, _ = _host(plugin_folder, True)
    with wb:
        # This test file is not plugin code: the workbench's conveniences stay available to it.
        assert MonitoringPoint("request").asDict()["series"] == "request"
        assert wb.routes == []


def test_strict_errors_are_the_errors_the_service_would_raise():
    assert issubclass(StrictAttributeError, AttributeError)


def test_bad_strict_value_is_refused(plugin_folder):
    with pytest.raises(ValueError, match="strict must be"):
        Workbench(plugin_folder.root, [], strict="loud")


def test_cli_strict_option_reaches_the_host(plugin_folder, capsys):
    from workbench.cli import main

    module = plugin_folder.add("uses_extras", SOURCE)
    code = main(["plugins", "--plugins-dir", str(plugin_folder.root), "--active", module, "--strict"])
    assert code == 1
    assert "StrictAttributeError" in capsys.readouterr().out


def test_strict_raise_names_a_top_level_workbench_import_not_a_missing_requirement(plugin_folder):
    """Strict mode's refusal of ``import workbench`` at a module's top level is said as strict mode says it; it
    was reported as "it imports '', which is not installed: add it to requirements.txt" (issue 28)."""
    module = plugin_folder.add("top_level", "import workbench\n" + SOURCE)
    with Workbench(plugin_folder.root, [module], strict=True, default_estimators=default_factories()) as wb:
        [record] = wb.plugins.failed
    error = record.error
    assert "which the service does not have" in error and "not installed" not in error, error



def test_an_import_called_straight_from_c_on_a_bare_thread_is_not_an_error(plugin_folder, monkeypatch):
    """An import hook called from C with no Python frame under it (ONNX Runtime's run_async callback thread)
    raised "call stack is not deep enough" inside strict mode, and the estimator hung to its deadline."""
    import _thread
    import builtins
    import sys

    unraisable: list[object] = []
    module = plugin_folder.add("idle", "from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin\n")
    with Workbench(plugin_folder.root, [module], strict=True, default_estimators=default_factories()):
        # Set here, not in setup: pytest puts its own hook in place for the test's body.
        monkeypatch.setattr(sys, "unraisablehook", lambda report: unraisable.append(report.exc_value))
        running = _thread._count()
        # The thread's C code calls the hooked builtin itself: the hook's own frames are the whole stack.
        _thread.start_new_thread(builtins.__import__, ("numpy",))
        assert wait_until(lambda: _thread._count() <= running, poll_s=0.01), "the importing thread never ended"
    assert unraisable == []


PICKLES = """\
import pickle

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin
from lunavl.sdk.image_utils.geometry import Rect


class Keeps(BaseEventPlugin):
    eventName = "monitoring_event"

    async def handleEvent(self, points, logger):
        self.last = pickle.loads(pickle.dumps(Rect(0, 0, 4, 4)))
"""


def test_pickling_a_stand_in_object_is_not_a_workbench_import(plugin_folder):
    """pickle's C code imports the module of each class it reads (the stand-in's workbench.sdk.geometry for a
    Rect) with the plugin's line as the caller: that was reported as the plugin importing workbench."""
    module = plugin_folder.add("pickles", PICKLES)
    with Workbench(plugin_folder.root, [module], strict=True, default_estimators=default_factories()) as wb:
        [delivery] = wb.emit("monitoring_event", [MonitoringPoint("request", tags={}, fields={})])
        assert delivery.error is None, delivery.error
        assert wb.strict_violations == []
