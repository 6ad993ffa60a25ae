"""A notebook run headless beside the service's real ``luna_plugins`` and ``lunavl`` (issue 13).

Separate from test_real_packages.py because test_notebooks (whose helpers and kernel fixture this reuses)
skips its whole module where nbclient is not installed.
"""
from __future__ import annotations

import re

from service_packages import LUNA_PLUGINS_VERSION, LUNAVL_VERSION
from test_notebooks import _cell, _html, _text, kernel_env, run_notebook  # noqa: F401  (kernel_env: fixture)
from test_real_packages import _env, service_root  # noqa: F401  (service_root: fixture)


def test_quickstart_notebook_runs_against_the_service_packages(kernel_env, monkeypatch, tmp_path, service_root):
    """The kernel imports the service's packages first; the plugin's CountResult keeps its density map."""
    monkeypatch.setenv("PYTHONPATH", _env(service_root)["PYTHONPATH"])
    code = run_notebook("01_quickstart", kernel_env, monkeypatch, tmp_path, after=(
        "from workbench._compat import service_providers\n"
        "print(service_providers()['luna_plugins'].label, service_providers()['lunavl'].label)\n"
        "print('map kept:', by_plugin.densityMap is not None, type(by_plugin.densityArea).__module__)"
    ))
    assert f"luna_plugins {LUNA_PLUGINS_VERSION} (service)" in _html(_cell(code, "wb = Workbench("))
    assert re.search(r": PeopleCountOnnxPlugin counts \d+", _text(_cell(code, "[by_plugin] = wb.estimate")))
    labels, kept = _text(code[-1]).splitlines()
    assert labels.split() == ["luna_plugins", LUNA_PLUGINS_VERSION, "(service)", "lunavl", LUNAVL_VERSION, "(service)"]
    assert kept == "map kept: True workbench.sdk.geometry", "the real SDK's Rect is taken over as the workbench's"
