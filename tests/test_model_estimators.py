"""Model estimators by name: ``Workbench(models={NAME: MODEL.onnx})`` / ``--model NAME=MODEL.onnx`` put more ONNX
density models beside the default, so that one ``compare`` scores a published model, a candidate and the default
in the same run (issue 30: MCNN's rows beside the default's)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.onnx_models import dots, make_conv_model
from workbench import UnknownEstimatorError, Workbench
from workbench.research import compare

BROKER = "peopleCountEstimator"


@pytest.fixture
def other_model(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    return make_conv_model(tmp_path / "models" / "tiny_conv.onnx", stride=4, seed=3)


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    return folder


def test_a_named_model_runs_beside_the_default_and_is_shown_with_its_model(plugins, other_model):
    image = dots(96, 128, [(20, 30), (90, 60)])
    with Workbench(plugins, "", models={"tiny": other_model}) as wb:
        assert wb.estimator_choices[BROKER] == ["default", "tiny"]
        named = wb.estimate(BROKER, [image], estimator="tiny")[0]
        default = wb.estimate(BROKER, [image])[0]
        assert wb.estimators[BROKER] == "default", "running a named model does not change what is served"
        assert wb.estimator_label(BROKER, "tiny") == "tiny (tiny_conv)"
        assert wb.estimator_identity(BROKER, "tiny") != wb.estimator_identity(BROKER, "default")
    density = named.densityMap
    assert density is not None and density.shape == (96 // 4, 128 // 4)
    assert abs(named.count - float(density.sum())) <= 0.5  # the count is the map's sum, rounded
    assert default.densityMap is not None and default.densityMap.shape == (96 // 8, 128 // 8)


def test_the_identity_of_a_named_model_follows_its_file(plugins, other_model):
    with Workbench(plugins, "", models={"tiny": other_model}) as wb:
        before = wb.estimator_identity(BROKER, "tiny")
    make_conv_model(other_model, stride=4, seed=4)  # other weights, same path
    with Workbench(plugins, "", models={"tiny": other_model}) as wb:
        assert wb.estimator_identity(BROKER, "tiny") != before


@pytest.mark.parametrize("name", ["default", "", "a b", "../x"])
def test_a_name_that_is_not_a_plain_name_is_refused(plugins, other_model, name):
    with pytest.raises(ValueError, match=f"model estimator name {name!r} must be a plain name"):
        Workbench(plugins, "", models={name: other_model})


def test_a_missing_model_file_is_named_with_its_flag(plugins, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"model estimator .*nowhere\.onnx \(from --model mcnn_A=\.\.\.\) "
                                                 r"not found; give the path of an ONNX density-map model"):
        Workbench(plugins, "", models={"mcnn_A": tmp_path / "nowhere.onnx"})


def test_an_unknown_name_lists_the_models(plugins, other_model):
    with Workbench(plugins, "", models={"tiny": other_model}) as wb:
        with pytest.raises(UnknownEstimatorError, match="tiny"):
            wb.estimate(BROKER, [dots(32, 32, [])], estimator="tyni")


def test_a_plugin_named_like_a_model_is_refused_by_name(plugin_folder, other_model):
    module = plugin_folder.add("tiny_plugin", """
        from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
        from helpers.fake_estimators import BrightPixelCounter

        class tiny(EstimatorReplacementPlugin):
            estimatorBrokerName = "peopleCountEstimator"

            def createReplacementEstimator(self):
                return BrightPixelCounter()
    """)
    with Workbench(plugin_folder.root, module, models={"tiny": other_model}) as wb:
        (record,) = wb.plugins.failed
        assert "also the name of a model estimator of 'peopleCountEstimator'" in str(record.error)
        assert wb.estimator_choices[BROKER] == ["default", "tiny"]


def test_compare_scores_the_named_models_in_one_run(plugins, other_model, spots_dataset):
    with Workbench(plugins, "", models={"tiny": other_model}) as wb:
        report = compare(wb, spots_dataset, ["default", "tiny"], progress=False)
    assert list(report.summary.index) == ["default", "tiny"]
    assert report.labels["tiny"] == "tiny (tiny_conv)"
    counts = report.per_image.pivot(index="image", columns="estimator", values="pred_count")
    assert not np.allclose(counts["default"], counts["tiny"])


@pytest.mark.slow  # the command line in a subprocess
def test_the_compare_command_takes_model_flags(tmp_path, plugins, other_model, spots_dataset):
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "compare", str(spots_dataset.root), "--out", "report", "--active", "",
         "--no-progress", "--model", f"tiny={other_model}", "--estimators", "default,tiny"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["labels"]["tiny"] == "tiny (tiny_conv)"
    bad = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "compare", str(spots_dataset.root), "--out", "report2", "--active",
         "", "--model", "tiny"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert bad.returncode == 2 and "expected NAME=MODEL.onnx" in bad.stderr
