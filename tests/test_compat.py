"""The service's import paths resolve to the workbench, and never shadow the real packages."""
from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

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


REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def test_luna_plugins_paths_offer_exactly_the_documented_names(monkeypatch):
    """Issue 28, finding 12: the framework's paths offer the service's documented names only, not the
    workbench's own (``Route``, ``PluginError``, ``PLUGIN_KINDS``, ``parse_active_plugins``...)."""
    forget("luna_plugins", monkeypatch)
    for path, names in workbench._compat.FRAMEWORK_MODULES.items():
        module = importlib.import_module(path)
        assert {n for n in dir(module) if not n.startswith("_")} == names, path
        assert all(getattr(module, n) is getattr(plugins, n) for n in names), "the very same objects"
    base = importlib.import_module("luna_plugins.base.plugins_meta.base_plugins")
    for extra in ("Route", "PluginError", "PLUGIN_KINDS", "parse_active_plugins", "BasePlugin", "MonitoringPoint"):
        assert not hasattr(base, extra), extra
    with pytest.raises(ImportError):
        exec("from luna_plugins.base.plugins_meta.base_plugins import Route", {})


def test_the_documented_names_are_the_docs_imports():
    """Issue 28, finding 12: FRAMEWORK_MODULES is what the service's plugin docs import from luna_plugins."""
    docs = [REFERENCE / "service-plugins.txt", REFERENCE / "estimator-replacement-plugins.txt"]
    if not all(doc.is_file() for doc in docs):
        pytest.skip(f"needs the service's plugin docs in {REFERENCE}")
    imported: dict[str, set[str]] = {}
    for doc in docs:
        for module, names in re.findall(r"from (luna_plugins[\w.]*) import ([\w, ]+)", doc.read_text(encoding="utf-8")):
            imported.setdefault(module, set()).update(name.strip() for name in names.split(","))
    assert imported == {path: set(names) for path, names in workbench._compat.FRAMEWORK_MODULES.items()}


def test_aliases_resolve_under_a_private_package_name_without_workbench(tmp_path):
    """The finder resolves its targets relative to its own package: with the tree loaded under another name
    and ``import workbench`` failing (as in the service), the service's paths still import."""
    program = f"""
import importlib, importlib.machinery, sys, types
sys.modules["workbench"] = None  # `import workbench` fails, as in the service
spec = importlib.machinery.ModuleSpec("wb_private", None, is_package=True)
spec.submodule_search_locations = [{str(Path(workbench.__file__).parent)!r}]
package = importlib.util.module_from_spec(spec)
sys.modules["wb_private"] = package
importlib.import_module("wb_private._compat").install()
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
from lunavl.sdk.image_utils.image import VLImage
from lunavl.sdk.estimators.image_estimators.people_count import PeopleCountEstimatorV2, PeopleCount
from lunavl.sdk.errors.errors import LunaVLError
print(EstimatorReplacementPlugin.__module__, VLImage.__module__, PeopleCount.__module__)
print(sorted(name for name in sys.modules if name == "workbench" or name.startswith("workbench.")))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    modules, leaked = result.stdout.splitlines()
    assert modules == "wb_private.plugins._estimator wb_private.sdk.image wb_private.sdk.people_count"
    assert leaked == "['workbench']", "only the blocked entry: nothing was imported as workbench.*"


def test_no_absolute_workbench_imports_where_the_service_paths_lead():
    """What the service's paths load (the SDK stand-in, the framework, the finder and the surface) imports the
    rest of the tree relatively, so that it works under a private package name."""
    root = Path(workbench.__file__).parent
    files = [root / "_compat.py", root / "surface.py", *(root / "sdk").glob("*.py"), *(root / "plugins").glob("*.py")]
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            names += [node.value for node in [node] if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and node.value.startswith("workbench.") and " " not in node.value]
            offenders += [f"{path.name}: {name}" for name in names
                          if name == "workbench" or name.startswith("workbench.")]
    assert not offenders
