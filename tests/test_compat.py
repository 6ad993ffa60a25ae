"""The service's import paths resolve to the workbench, and never shadow the real packages."""
from __future__ import annotations

import importlib
import sys

import pytest

import workbench
from workbench import plugins, sdk


def forget(top: str, monkeypatch) -> None:
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        monkeypatch.delitem(sys.modules, name)


def test_service_paths_resolve_to_workbench_classes(monkeypatch):
    forget("luna_plugins", monkeypatch)
    forget("lunavl", monkeypatch)
    base = importlib.import_module("luna_plugins.base.plugins_meta.base_plugins")
    assert base.BaseEventPlugin is plugins.BaseEventPlugin
    assert base.pluginHTTPResponse is plugins.pluginHTTPResponse
    replacement = importlib.import_module("luna_plugins.estimator_plugins.estimator_replacement_plugin")
    assert replacement.EstimatorReplacementPlugin is plugins.EstimatorReplacementPlugin
    people = importlib.import_module("lunavl.sdk.estimators.image_estimators.people_count")
    assert (people.PeopleCount, people.EstimationTargets) == (sdk.PeopleCount, sdk.EstimationTargets)
    assert importlib.import_module("lunavl.sdk.image_utils.geometry").Rect is sdk.Rect
    assert importlib.import_module("lunavl.sdk.image_utils.image").VLImage is sdk.VLImage
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("lunavl.sdk.no_such_module")


def test_real_packages_win_and_are_not_mixed(tmp_path, monkeypatch):
    real = tmp_path / "luna_plugins"
    (real / "base").mkdir(parents=True)
    (real / "__init__.py").write_text("REAL = True\n")
    (real / "base" / "__init__.py").write_text("")
    forget("luna_plugins", monkeypatch)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert importlib.import_module("luna_plugins").REAL
    with pytest.raises(ModuleNotFoundError):
        # present in the stand-in, absent from the "real" package: the real one is not patched up
        importlib.import_module("luna_plugins.base.plugins_meta.base_plugins")


def test_finder_is_installed_once():
    workbench._compat.install()
    assert sum(isinstance(f, workbench._compat.ServiceAliasFinder) for f in sys.meta_path) == 1
