"""Issue 15, range: a model description declares its training range, results say whether they are inside it,
and the default model declares the range its card states."""
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
from workbench.estimators._range import TrainingRange
from workbench.research import Explorer, compare
from workbench.research.widgets import OUTSIDE_RANGE
from workbench.sdk import VLImage
from workbench.training.data import load_split, mosaic_samples

WBCOUNT_FIELDS = {"name": "wbcount", "layout": "NCHW", "dtype": "float32", "channels": "RGB",
                  "scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "stride": 8}


def test_range_checks_people_and_density_of_the_analysed_area() -> None:
    declared = TrainingRange.from_dict({"people": [0, 50], "people_per_megapixel": [None, 100],
                                        "head_size_px": [5, 60]})
    assert declared.contains(40, 1_000_000)
    assert not declared.contains(60, 1_000_000)  # too many people
    assert not declared.contains(40, 100_000)  # 400 people per megapixel
    assert TrainingRange().contains(10**6, 1)  # nothing declared: nothing to be outside of
    assert declared.to_dict()["people_per_megapixel"] == [None, 100.0]


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


def test_results_carry_in_range_from_the_description(repo_root: Path) -> None:
    model = repo_root / "models" / "wbcount.onnx"
    image = VLImage(np.full((96, 128, 3), 120, np.uint8))
    undeclared = ModelDescription.from_dict(WBCOUNT_FIELDS)
    assert _estimate(model, undeclared, [image])[0].inRange is None
    roomy = ModelDescription.from_dict({**WBCOUNT_FIELDS, "range": {"people": [0, 1000]}})
    result = _estimate(model, roomy, [image])[0]
    assert result.inRange is True and result.asDict()["inRange"] is True
    # A range nothing fits into: the same image's result says it is outside.
    impossible = ModelDescription.from_dict({**WBCOUNT_FIELDS, "range": {"people": [10**6, None]}})
    assert _estimate(model, impossible, [image])[0].inRange is False


def _card_range(repo_root: Path) -> dict[str, list[float]]:
    card = (repo_root / "models" / "MODEL_CARD.md").read_text()
    block = re.search(r"```json\n(\{\s*\"range\".*?\})\n```", card, re.S)
    assert block, "the model card must state the training range as a ```json {\"range\": ...}``` block"
    return json.loads(block.group(1))["range"]


def test_default_model_declares_the_range_its_card_states(repo_root: Path) -> None:
    declared = json.loads((repo_root / "models" / "wbcount.json").read_text())["range"]
    assert declared == _card_range(repo_root)
    assert set(declared) == {"people", "people_per_megapixel", "head_size_px"}
    assert ModelDescription.load(repo_root / "models" / "wbcount.json").range is not None


@pytest.mark.slow  # the default model over a dataset
@pytest.mark.shared
def test_default_model_flags_dense_mosaics_and_not_the_photos(repo_root: Path, crowd_mini: Path) -> None:
    """The issue's finding, with exact ground truth: 16 test photos shrunk into one frame (about 16 times the
    people per pixel, heads 4 times smaller) lie outside the range; the photos themselves lie inside."""
    photos = load_split(crowd_mini, "test")
    dense = mosaic_samples(photos, grid=4, n=4, seed=0)
    description = ModelDescription.load(repo_root / "models" / "wbcount.json")
    results = _estimate(repo_root / "models" / "wbcount.onnx", description,
                        [VLImage(np.asarray(s.image)) for s in photos + dense])
    in_range = [r.inRange for r in results]
    assert in_range[: len(photos)] == [True] * len(photos)
    assert in_range[len(photos):] == [False] * len(dense)


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
    assert flags["DensityPlugin"].isna().all(), "no range declared: nothing flagged"
    assert report.summary.loc["default", "outside range"] == 1
    assert math.isnan(report.summary.loc["DensityPlugin", "outside range"])
    note = "default: 1 of 3 images outside its declared training range"
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
    # A range no image can meet, so the check does not depend on what the model counts.
    (tmp_path / "narrow.json").write_text(json.dumps({**WBCOUNT_FIELDS, "name": "narrow",
                                                      "range": {"people": [10**6, None]}}))
    (tmp_path / "plugins").mkdir()
    status = main(["compare", "synthetic", "--out", str(tmp_path / "report"), "--limit", "2", "--no-progress",
                   "--estimators", "default", "--plugins-dir", str(tmp_path / "plugins"), "--active", "",
                   "--default-model", str(model)])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert "warning: default: 2 of 2 images outside its declared training range" in printed.out
    assert "False" in (tmp_path / "report" / "per_image.csv").read_text()
