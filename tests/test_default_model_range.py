"""Issue 15, range: a model description declares its training range, results say whether they are inside it,
and the default model declares the range its card states; issue 30: the range is calibrated for the very model
it ships with, and results carry it so that compare can judge annotated images by it."""
from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.fake_estimators import BrightPixelCounter
from helpers.spots import DENSITY_PLUGIN
from workbench import Workbench
from workbench.cli import main
from workbench.estimators import ModelDescription, ModelDescriptionError, OnnxDensityEstimator
from workbench.estimators._range import ANNOTATIONS, ESTIMATE, ESTIMATOR, TrainingRange
from workbench.research import Explorer, compare
from workbench.research.widgets import OUTSIDE_RANGE
from workbench.result import TRAINING_RANGE_KEY
from workbench.sdk import VLImage
from workbench.training.calibrate_range import _sha256

WBCOUNT_FIELDS = {"name": "wbcount", "layout": "NCHW", "dtype": "float32", "channels": "RGB",
                  "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "stride": 8}


def _heads(n: int, spacing: float) -> np.ndarray:
    """``n`` heads on a row, ``spacing`` pixels apart."""
    return np.column_stack([np.arange(n) * spacing, np.zeros(n)])


def test_annotations_judge_people_density_and_head_spacing() -> None:
    declared = TrainingRange.from_dict({"people": [5, 50], "people_per_megapixel": [None, 100],
                                        "head_spacing_px": [20, None], "head_size_px": [5, 60]})
    inside = declared.judge_annotated(_heads(40, 25), 1_000_000)
    assert (inside.in_range, inside.evidence) == (True, ANNOTATIONS)
    assert declared.judge_annotated(_heads(60, 25), 1_000_000).reason == "annotated people 60 outside [5, 50]"
    assert "per megapixel 400" in declared.judge_annotated(_heads(40, 25), 100_000).reason
    assert "head spacing 10 px outside [20, -]" in declared.judge_annotated(_heads(40, 10), 1_000_000).reason
    assert declared.judge_annotated(_heads(3, 25), 1_000_000).in_range is False  # fewer people than trained on
    assert TrainingRange().judge_annotated(_heads(10**3, 1), 1).in_range is None  # nothing declared
    assert declared.to_dict()["people_per_megapixel"] == [None, 100.0]


def test_a_count_alone_never_shows_an_image_is_inside() -> None:
    """The issue's finding: an under-count lands inside bounds, so an estimate inside them says nothing; an
    estimate above them says outside (the scene or the estimator is beyond them)."""
    declared = TrainingRange.from_dict({"people": [0, 50], "people_per_megapixel": [None, 100]})
    cannot_tell = declared.judge_estimate(None, 30, 1_000_000)
    assert (cannot_tell.in_range, cannot_tell.evidence) == (None, None)
    assert "a count cannot show it is inside" in cannot_tell.reason
    above = declared.judge_estimate(None, 60, 1_000_000)
    assert (above.in_range, above.evidence, above.reason) == (False, ESTIMATE, "estimated people 60 above 50")
    assert declared.judge_estimate(None, 30, 100_000).in_range is False  # 300 estimated per megapixel


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"peple": [0, 5]}, "unknown 'range' key(s) 'peple'"),
        ({"people": 50}, "range.people must be [low, high]"),
        ({"people": [60, 50]}, "low <= high"),
        ({"people": [-1, 50]}, "numbers >= 0 or null"),
        ({"people": ["0", 50]}, "numbers >= 0 or null"),
        ([0, 50], "'range' must be a JSON object"),
    ],
)
def test_a_bad_range_says_what_is_wrong(data: object, message: str) -> None:
    fields = {**WBCOUNT_FIELDS, "range": data}
    with pytest.raises(ModelDescriptionError, match=re.escape(message)) as raised:
        ModelDescription.from_dict(fields, source="my_model.json")
    assert "my_model.json" in str(raised.value)


def test_range_survives_the_description_json_round_trip(tmp_path: Path) -> None:
    description = ModelDescription.from_dict({**WBCOUNT_FIELDS, "range": {"people": [0, 70]}})
    path = tmp_path / "model.json"
    description.to_json(path)
    assert json.loads(path.read_text())["range"] == {"people": [0, 70]}
    assert ModelDescription.load(path).range == TrainingRange(people=(0.0, 70.0))
    assert "range" not in ModelDescription.from_dict(WBCOUNT_FIELDS).to_dict()


def _estimate(model: Path, description: ModelDescription, images: list) -> list:
    estimator = OnnxDensityEstimator(model, description)
    try:
        return estimator.estimate(images)
    finally:
        estimator.close()


def test_results_carry_the_declared_range_and_in_range_from_the_description(repo_root: Path) -> None:
    model = repo_root / "models" / "wbcount.onnx"
    image = VLImage(np.full((96, 128, 3), 120, np.uint8))
    undeclared = _estimate(model, ModelDescription.from_dict(WBCOUNT_FIELDS), [image])[0]
    assert undeclared.inRange is None and TRAINING_RANGE_KEY not in undeclared.extras
    roomy = ModelDescription.from_dict({**WBCOUNT_FIELDS, "range": {"people": [0, 1000]}})
    result = _estimate(model, roomy, [image])[0]
    # Bounds alone cannot vouch for an image (the count is all they judge), but they travel with the result.
    assert result.inRange is None and result.asDict()["extras"][TRAINING_RANGE_KEY] == {"people": [0.0, 1000.0]}
    # A bound every estimate is above: the same image's result says it is outside.
    impossible = ModelDescription.from_dict({**WBCOUNT_FIELDS, "range": {"people": [0, 0]}})
    flagged = _estimate(model, impossible, [image])[0]
    assert flagged.inRange is (False if float(flagged.densityMap.sum()) > 0 else None)


def _card_range(repo_root: Path) -> dict[str, list[float]]:
    card = (repo_root / "models" / "MODEL_CARD.md").read_text()
    block = re.search(r"```json\n(\{\s*\"range\".*?\})\n```", card, re.S)
    assert block, "the model card must state the training range as a ```json {\"range\": ...}``` block"
    return json.loads(block.group(1))["range"]


def test_default_model_declares_the_range_its_card_states(repo_root: Path) -> None:
    declared = json.loads((repo_root / "models" / "wbcount.json").read_text())["range"]
    # The card states the bounds; the fitted evidence (weights and thresholds) is in the JSON only.
    assert {key: value for key, value in declared.items() if key != "evidence"} == _card_range(repo_root)
    assert set(declared) == {"people", "head_spacing_px", "head_size_px", "evidence"}
    assert ModelDescription.load(repo_root / "models" / "wbcount.json").range is not None


@pytest.mark.parametrize("model", ["wbcount", "wbcount_uint8"])
def test_each_bundled_range_was_calibrated_for_its_model_on_training_splits(repo_root: Path, model: str) -> None:
    """A retrained or requantised model must be calibrated again: the record names the model file it fitted."""
    record = json.loads((repo_root / "models" / f"{model}.json").read_text())["range"]["evidence"]["calibration"]
    assert record["model_sha256"] == _sha256(repo_root / "models" / f"{model}.onnx"), (
        f"models/{model}.json's range was calibrated for another {model}.onnx: rerun {record['command']}")
    assert record["data"] and all(spec.endswith(":train") for spec in record["data"])
    assert record["command"].startswith("python -m workbench.training.calibrate_range ")


# --- the flags downstream: compare, the report, the CLI and the Explorer ---------------------------------------


class RangedCounter(BrightPixelCounter):
    """Counts bright pixels and declares a training range of at most 3 people per image."""

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        results = await super().estimateBatch(images, estimationTargets, asyncEstimate)
        return [result.replace(inRange=result.count <= 3) for result in results]


@pytest.fixture
def ranged_wb(plugin_folder):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module],
                   default_estimators={"peopleCountEstimator": lambda config: RangedCounter(200)}) as host:
        yield host


@pytest.mark.slow  # the default model over a dataset
def test_compare_and_report_count_the_images_outside_the_range(ranged_wb, spots_dataset, tmp_path):
    report = compare(ranged_wb, spots_dataset, ["default", "DensityPlugin"], progress=False)
    flags = report.per_image.set_index(["estimator", "image"])["in_range"]
    assert [flags["default", name] for name in ("spots_1", "spots_2", "spots_3")] == [True, True, False]
    # It declares no range with its results: its own flags are shown, and said to be its own.
    assert set(report.per_image.query("estimator == 'default'")["range_evidence"]) == {ESTIMATOR}
    assert flags["DensityPlugin"].isna().all(), "no range declared: nothing flagged"
    assert report.summary.loc["default", "outside range"] == 1
    assert math.isnan(report.summary.loc["DensityPlugin", "outside range"])
    note = "default: 1 of 3 images outside its declared training range (1 as the estimator flagged them"
    assert any(line.startswith(note) for line in report.notes)
    assert note in report.to_html(tmp_path / "report").read_text()


def test_the_explorer_flags_an_image_outside_the_range(ranged_wb, spots_dataset):
    explorer = Explorer(ranged_wb, spots_dataset)
    explorer.estimator.value = "default"
    assert OUTSIDE_RANGE not in explorer.status.value  # spots_1: 3 people
    explorer.index.value = 2  # spots_3: 4 bright pixels
    assert OUTSIDE_RANGE in explorer.status.value


@pytest.mark.slow  # the default model over a dataset
def test_workbench_compare_says_how_many_images_are_outside(repo_root, tmp_path, capsys):
    model = tmp_path / "narrow.onnx"
    shutil.copy(repo_root / "models" / "wbcount.onnx", model)
    # A range no image can meet, so the check does not depend on what the model counts: the synthetic images
    # are annotated, so compare judges them by their annotated people.
    (tmp_path / "narrow.json").write_text(json.dumps({**WBCOUNT_FIELDS, "name": "narrow",
                                                      "range": {"people": [10**6, None]}}))
    (tmp_path / "plugins").mkdir()
    status = main(["compare", "synthetic", "--out", str(tmp_path / "report"), "--limit", "2", "--no-progress",
                   "--estimators", "default", "--plugins-dir", str(tmp_path / "plugins"), "--active", "",
                   "--default-model", str(model)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    # The note names the default by its label, as the report's tables and figures do.
    assert ("warning: default (narrow): 2 of 2 images outside its declared training range (2 by their annotated "
            "people and head spacing;") in printed.out
    assert "False" in (tmp_path / "report" / "per_image.csv").read_text()
