"""``workbench check --install``: the clean environment holds what the service image holds and nothing of the
workbench (issue 28, finding 1, its ``--install`` half). Empty requirements files keep these tests offline: a
virtual environment without pip is created without the network."""
from __future__ import annotations

import pytest

from workbench.authoring import check_plugins
from workbench.authoring._findings import INSTALL

SERVICE_IMPORTS = """
import importlib
import importlib.util

from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin
from lunavl.sdk.image_utils.geometry import Rect

{probe}


class Probe(BaseEventPlugin):
    eventName = "e"

    async def handleEvent(self, points, logger):
        pass
"""

REACHES_WORKBENCH = {
    "import_statement": "import workbench",
    "import_module": 'importlib.import_module("workbench")',
    "dunder_import": '__import__("workbench.sdk")',
    "exec": 'exec("from workbench import VLImage")',
}


def _install_findings(plugin_folder, modules):
    report = check_plugins(plugin_folder.root, modules, run=False, install=True)
    return {f.file.split("/")[-2]: f for f in report.findings if f.kind == INSTALL}


@pytest.mark.slow  # installs the requirements into a clean environment
def test_workbench_is_not_importable_in_the_clean_environment(plugin_folder):
    """Finding 1: every way of reaching ``workbench`` fails there, as in the service; the service's own
    ``lunavl``/``luna_plugins`` paths work, and nothing finds a ``workbench`` package."""
    modules = [plugin_folder.add(name, SERVICE_IMPORTS.format(probe=probe), requirements="")
               for name, probe in REACHES_WORKBENCH.items()]
    clean = plugin_folder.add("clean", SERVICE_IMPORTS.format(probe=(
        'assert importlib.util.find_spec("workbench") is None, "a workbench package is visible"\n'
        'assert Rect(0, 0, 2, 2).width == 2\n')), requirements="# nothing to install\n")
    found = _install_findings(plugin_folder, [*modules, clean])
    assert sorted(found) == sorted(REACHES_WORKBENCH), {name: f.message for name, f in found.items()}
    for finding in found.values():
        assert "No module named 'workbench'" in finding.message
