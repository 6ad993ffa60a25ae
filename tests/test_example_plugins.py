"""Issue 32, finding 1 in this environment (tests/test_packaging.py does it from the installed wheel): the example
plugins ship with the package, ``workbench demo`` compares the default with the example plugin from them, and
neither ``Workbench()`` nor the CLI needs a plugins folder while no plugin is active."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from workbench import VLImage, Workbench
from workbench.cli import main
from workbench.host import example_plugins_dir
from workbench.plugins import ACTIVE_PLUGINS_ENV


@pytest.fixture
def no_plugins_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder (no ./plugins), and no active plugins named by the service's variable."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ACTIVE_PLUGINS_ENV, raising=False)
    return tmp_path


def test_the_example_plugins_folder_is_the_packages_and_holds_each_plugin_with_its_requirements():
    folder = example_plugins_dir()
    for plugin in ("people_count_onnx", "loop_watch", "request_stats"):
        assert {"__init__.py", "plugin.py", "requirements.txt", "README.md"} <= {p.name for p in (folder / plugin).iterdir()}


def test_workbench_with_no_active_plugin_needs_no_plugins_folder(no_plugins_folder):
    with Workbench() as wb:
        [result] = wb.estimate("peopleCountEstimator", [VLImage(np.full((120, 160, 3), 90, np.uint8))])
    assert result.count >= 0
    assert not (no_plugins_folder / "plugins").exists()


def test_a_missing_plugins_folder_is_named_with_the_plugins_it_was_to_hold(no_plugins_folder):
    with pytest.raises(FileNotFoundError, match=r"plugins folder .*nowhere does not exist.*my_plugin\.plugin.*--plugins-dir"):
        Workbench(no_plugins_folder / "nowhere", ["my_plugin.plugin"])


@pytest.mark.slow  # a compare run writes its report and figures
def test_compare_with_the_default_alone_needs_no_plugins_folder(no_plugins_folder):
    out = no_plugins_folder / "report"
    assert main(["compare", "synthetic", "--estimators", "default", "--out", str(out), "--limit", "1",
                 "--no-progress"]) == 0
    assert (out / "report.html").is_file()


@pytest.mark.slow  # a compare run writes its report and figures
def test_workbench_demo_compares_the_default_with_the_example_plugin_where_there_is_no_plugins_folder(no_plugins_folder):
    assert main(["demo", "--limit", "2", "--no-progress"]) == 0
    with open(no_plugins_folder / "reports" / "demo" / "summary.csv", newline="") as summary:
        estimators = {row["estimator"] for row in csv.DictReader(summary)}
    assert {"PeopleCountOnnxPlugin"} < estimators and any(name.startswith("default") for name in estimators)
