"""Issue 30, an honest range: with annotations an image is judged by its annotated people and head spacing;
without, by the density map's calibrated evidence (a count alone never says "inside"); "cannot tell" is None.
The calibration reads training splits only and the measurement held-out data; the example plugin declares the
range of the model it wraps, and the demo does not open with a false alarm."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.onnx_models import make_pool_model
from workbench import Workbench
from workbench.estimators._range import (
    ANNOTATIONS,
    DENSITY_MAP,
    ESTIMATOR,
    MAP_STATISTICS,
    DensityEvidence,
    TrainingRange,
    judge_result,
    map_statistics,
)
from workbench.research import compare, make_synthetic_dataset
from workbench.result import TRAINING_RANGE_KEY, CountResult
from workbench.sdk import PeopleCount
from workbench.training import calibrate_range, measure_range
from workbench.training._range_data import Observation, load_spec
from workbench.training.calibrate_range import fit_range


def _blobs(n: int, size: int = 48) -> np.ndarray:
    """A map of ``n`` separate heads: one person each, spread over a 3x3 patch, 4 cells apart."""
    density = np.zeros((size, size))
    for i in range(n):
        row, col = 2 + 4 * (i // 10), 2 + 4 * (i % 10)
        density[row - 1:row + 2, col - 1:col + 2] = [[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]]
    return density


def _crowd(people: float, spread: float = 5.0, size: int = 48) -> np.ndarray:
    """One broad bump holding ``people``: heads the model cannot separate."""
    rows, cols = np.mgrid[:size, :size]
    bump = np.exp(-((rows - size / 2) ** 2 + (cols - size / 2) ** 2) / (2 * spread**2))
    return people * bump / bump.sum()


def _observation(density: np.ndarray, truth: int, name: str = "image") -> Observation:
    rng = np.random.default_rng(truth)
    return Observation("fixture:train", name, rng.uniform(0, 384, (truth, 2)), 384 * 384, density)


def test_map_statistics_tell_separate_heads_from_a_plateau() -> None:
    heads, crowd = map_statistics(_blobs(20)), map_statistics(_crowd(20))
    assert heads is not None and crowd is not None and list(heads) == list(MAP_STATISTICS)
    assert heads["people_per_peak"] == pytest.approx(1.0)  # each peak holds one person
    assert crowd["people_per_peak"] == pytest.approx(20.0)  # one bump holding them all
    assert heads["peak_height"] > crowd["peak_height"]
    assert map_statistics(np.zeros((8, 8))) is None  # nothing on the map: nothing to measure


def _evidence(**changes: object) -> DensityEvidence:
    """Evidence scoring people per peak only: above 3 people per peak outside, below 1.5 inside."""
    settings: dict = dict(
        mean=(0.0,) * 6, scale=(1.0,) * 6, weights=(0, 0, 1, 0, 0, 0), bias=0.0, outside_above=3.0,
        inside_below=1.5, inside={key: (0.0, 100.0) for key in MAP_STATISTICS},
    )
    settings.update(changes)
    return DensityEvidence(**settings)


def test_the_density_evidence_says_outside_inside_or_cannot_tell() -> None:
    evidence = _evidence()
    outside = evidence.judge(_crowd(20))
    assert (outside.in_range, outside.evidence) == (False, DENSITY_MAP)
    assert (evidence.judge(_blobs(20)).in_range, evidence.judge(_blobs(20)).evidence) == (True, DENSITY_MAP)
    between = evidence.judge(_crowd(2))  # 2 people on 1 peak: neither threshold
    assert (between.in_range, between.evidence) == (None, None) and "cannot tell" in between.reason
    # A statistic outside what calibration saw never passes as inside, whatever the score.
    strange = _evidence(inside={**{key: (0.0, 100.0) for key in MAP_STATISTICS}, "peak_height": (0.5, 1.0)})
    assert strange.judge(_blobs(20)).in_range is None
    assert "peak_height outside what calibration saw" in strange.judge(_blobs(20)).reason
    assert evidence.judge(_blobs(20) * 0.01).in_range is None  # 0.2 people on the map: too little to judge


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"statistics": ["peak_height"]}, "statistics must be"),
        ({"weights": [1, 2]}, "weights must be a list of 6 numbers"),
        ({"inside_below": 5.0}, "inside_below (5.0) must not exceed outside_above (3.0)"),
        ({"scale": [0] * 6}, "scale must be positive"),
        ({"bias": None}, "bias must be a finite number"),
    ],
)
def test_malformed_evidence_says_what_is_wrong(change: dict, message: str) -> None:
    data = {**_evidence().to_dict(), **change}
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        TrainingRange.from_dict({"evidence": data}, "my_model.json")
    assert "my_model.json: range.evidence" in str(raised.value)
    with pytest.raises(ValueError, match=r"missing key\(s\) \['bias'\]"):
        TrainingRange.from_dict({"evidence": {k: v for k, v in _evidence().to_dict().items() if k != "bias"}})


def test_compare_judges_an_undercount_by_its_annotations() -> None:
    """The issue's finding: 413 people estimated as 30, which the estimator's own bounds call inside."""
    declared = TrainingRange(people=(0, 55), head_spacing_px=(20, None), evidence=_evidence())
    result = CountResult(30, densityMap=_blobs(30), inRange=True,
                         extras={TRAINING_RANGE_KEY: declared.to_dict(calibration=False)})
    heads = np.random.default_rng(0).uniform(0, 1024, (413, 2))
    by_annotations = judge_result(result, heads, 1024 * 768)
    assert (by_annotations.in_range, by_annotations.evidence) == (False, ANNOTATIONS)
    assert by_annotations.reason == "annotated people 413 outside [0, 55]"
    without = judge_result(result, None, 1024 * 768)  # unannotated: the map's evidence
    assert (without.in_range, without.evidence) == (True, DENSITY_MAP)
    undeclared = judge_result(CountResult(3, inRange=False), heads, 1024 * 768)
    assert (undeclared.in_range, undeclared.evidence) == (False, ESTIMATOR)  # its own flag, said to be its own
    assert judge_result(CountResult(3), heads, 1).in_range is None


def test_a_plugin_hands_its_range_over_on_the_sdk_surface() -> None:
    class Estimation:
        count, densityMap, densityArea = 2, None, None
        trainingRange = {"people": [0, 55]}

        class points:
            @staticmethod
            def getPoints():
                return []

    result = CountResult.fromPeopleCount(PeopleCount(Estimation()))
    assert result.extras == {TRAINING_RANGE_KEY: {"people": [0, 55]}}


def _calibration_set() -> list[Observation]:
    within = [_observation(_blobs(n), n, f"heads_{n}") for n in range(8, 30, 3)]
    off = [_observation(_crowd(n, spread=2 + n / 10), 3 * n, f"crowd_{n}") for n in range(10, 50, 5)]
    return within + off


def test_calibration_fits_bounds_and_evidence_from_training_images() -> None:
    fitted = fit_range(_calibration_set(), head_size_px=(10.0, 100.0), calibration={"data": ["fixture:train"]})
    assert fitted.people == (8.0, 29.0)  # the span of the images counted within 30 %
    assert fitted.head_size_px == (10.0, 100.0)
    assert fitted.evidence is not None
    assert fitted.evidence.judge(_crowd(27, spread=4.5)).in_range is False
    assert fitted.evidence.judge(_blobs(15)).in_range is True
    record = fitted.evidence.calibration
    assert record["data"] == ["fixture:train"]
    assert record["on_calibration_data"]["off"] == {"images": 8, "outside": 8, "cannot tell": 0, "inside": 0}
    assert "calibration" not in fitted.to_dict(calibration=False)["evidence"]
    with pytest.raises(ValueError, match="needs 5 of each: add training images"):
        fit_range(_calibration_set()[:10])


def _write_split(root: Path, split: str) -> None:
    """White pixels on black for the pool model (one white pixel = one person on its map): images of separate
    people, annotated as they are, and crowds drawn as a packed block, annotated with three times as many."""
    for folder in ("images", "points"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split))
    for i in range(6):
        pixels = np.zeros((96, 128, 3), np.uint8)
        spots = [(6 + 12 * (j % 10), 6 + 12 * (j // 10)) for j in range(8 + 3 * i)]
        for x, y in spots:
            pixels[y, x] = 255
        _save(root, f"{split}_heads_{i}", pixels, spots)
        crowd = np.zeros((96, 128, 3), np.uint8)
        crowd[20:28 + 4 * i:2, 20:28 + 4 * i:2] = 255
        heads = rng.uniform(0, 96, (3 * int((crowd[..., 0] > 0).sum()), 2)).tolist()
        _save(root, f"{split}_crowd_{i}", crowd, heads)


def _save(root: Path, name: str, pixels: np.ndarray, heads: list) -> None:
    Image.fromarray(pixels).save(root / "images" / f"{name}.png")
    (root / "points" / f"{name}.json").write_text(json.dumps({"points": [list(map(float, h)) for h in heads]}))


def test_calibrate_then_measure_on_a_model_whose_failures_are_known(tmp_path: Path, capsys) -> None:
    model = make_pool_model(tmp_path / "pool.onnx", stride=4)
    data = tmp_path / "data"
    _write_split(data, "train")
    _write_split(data, "test")
    # --false-alarms 0: the test images are drawn as the training ones, so none may be called outside.
    assert calibrate_range.main(["--model", str(model), "--data", f"{data}:train", "--write", "--no-progress",
                                 "--false-alarms", "0"]) == 0
    written = json.loads(model.with_suffix(".json").read_text())["range"]
    assert written["evidence"]["calibration"]["data"] == [f"{data}:train"]
    assert measure_range.main(["--model", str(model), "--data", f"{data}:test", "--no-progress"]) == 0
    total = capsys.readouterr().out.split("total (12 images)\n")[1]
    # Every packed crowd is off (a third counted) and flagged both ways; no image of separate people is.
    assert "by annotations  off by > 30 %: flagged 6/6 (cannot tell 0, inside 0) | within 30 %: flagged 0/6" in total
    assert "by evidence     off by > 30 %: flagged 6/6 (cannot tell 0, inside 0) | within 30 %: flagged 0/6" in total


def test_calibration_reads_training_splits_only_and_measurement_held_out_data(capsys) -> None:
    with pytest.raises(SystemExit):
        calibrate_range.main(["--model", "m.onnx", "--data", "/data/ShanghaiTech_A:test"])
    assert "calibration reads training data only; give PATH:train" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        measure_range.main(["--model", "m.onnx", "--data", "/data/ShanghaiTech_A:train"])
    assert "the range was calibrated on training splits" in capsys.readouterr().err


def test_the_mall_dataset_is_read_from_its_ground_truth(tmp_path: Path) -> None:
    from scipy.io import savemat

    (tmp_path / "frames").mkdir()
    frames = np.empty((1, 2), dtype=object)  # a MATLAB cell array of structs with a `loc` field, as Mall's
    for i, heads in enumerate(([[10.0, 20.0], [30.0, 5.0]], [[1.0, 2.0]])):
        Image.new("RGB", (64, 48)).save(tmp_path / "frames" / f"seq_{i + 1:06d}.jpg")
        frames[0, i] = {"loc": np.array(heads)}
    savemat(tmp_path / "mall_gt.mat", {"frame": frames})
    mall = load_spec(str(tmp_path))
    assert [s.count for s in mall] == [2, 1] and mall[0].points.tolist() == [[10.0, 20.0], [30.0, 5.0]]


@pytest.mark.slow  # the default model and the example plugin over the demo's generated images
def test_the_plugin_declares_its_models_range_and_the_demo_opens_without_a_false_alarm(
    repo_root: Path, tmp_path: Path
) -> None:
    data = make_synthetic_dataset(tmp_path / "demo", n=12, seed=0)  # what `make demo` runs without ../shared
    with Workbench(repo_root / "plugins", ["people_count_onnx.plugin"]) as wb:
        report = compare(wb, data, ["default", "PeopleCountOnnxPlugin"], progress=False)
    declared = json.loads((repo_root / "models" / "wbcount_uint8.json").read_text())["range"]
    declared["evidence"].pop("calibration")
    plugin = report.results["PeopleCountOnnxPlugin"][0]
    assert plugin.extras[TRAINING_RANGE_KEY] == declared
    rows = report.per_image
    assert set(rows["range_evidence"]) == {ANNOTATIONS}  # both judged by the same annotations
    assert rows["in_range"].tolist() == [True] * len(rows)
    assert not [note for note in report.notes if "training range" in note]
