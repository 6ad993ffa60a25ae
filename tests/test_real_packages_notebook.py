"""A notebook run headless beside the service's real ``luna_plugins`` and ``lunavl`` (issue 13).

Separate from test_real_packages.py because it needs nbclient (``helpers.notebooks`` runs the notebook), which
may be absent where the rest runs.
"""
from __future__ import annotations

import re

import pytest

from helpers.notebooks import code_cell, html_output, run_notebook, stream_text
from helpers.service_packages import LUNA_PLUGINS_VERSION, LUNAVL_VERSION, service_env

pytest.importorskip("nbclient")
pytestmark = pytest.mark.slow


def test_quickstart_notebook_runs_against_the_service_packages(kernel_env, monkeypatch, tmp_path, service_root):
    """The kernel imports the service's packages first; the plugin's CountResult keeps its density map."""
    monkeypatch.setenv("PYTHONPATH", service_env(service_root)["PYTHONPATH"])
    code = run_notebook("01_quickstart", kernel_env, monkeypatch, tmp_path, after=(
        "from workbench._compat import service_providers\n"
        "print(service_providers()['luna_plugins'].label, service_providers()['lunavl'].label)\n"
        "print('map kept:', by_plugin.densityMap is not None, type(by_plugin.densityArea).__module__)"
    ))
    assert f"luna_plugins {LUNA_PLUGINS_VERSION} (service)" in html_output(code_cell(code, "wb = Workbench("))
    assert re.search(r": PeopleCountOnnxPlugin counts \d+", stream_text(code_cell(code, "[by_plugin] = wb.estimate")))
    labels, kept = stream_text(code[-1]).splitlines()
    assert labels.split() == ["luna_plugins", LUNA_PLUGINS_VERSION, "(service)", "lunavl", LUNAVL_VERSION, "(service)"]
    assert kept == "map kept: True workbench.sdk.geometry", "the real SDK's Rect is taken over as the workbench's"
