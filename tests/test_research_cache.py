"""The prediction cache: hits, invalidation (model file, plugin file, image), resume after an interrupted run.

Runs the real default model (a copy of ``models/wbcount.onnx``, so that the test can change it) on small
synthetic images.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import Workbench
from workbench.research import compare, make_synthetic_dataset
from workbench.research.cache import PredictionCache, image_digest, prediction_key
from workbench.result import CountResult
from workbench.sdk import Rect

MODELS = Path(__file__).resolve().parents[1] / "models"
BROKER = "peopleCountEstimator"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    for name in ("wbcount.onnx", "wbcount.json"):
        shutil.copy(MODELS / name, tmp_path / name)
    return tmp_path / "wbcount.onnx"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    make_synthetic_dataset(tmp_path / "data", n=4, size=(160, 120))
    return tmp_path / "data"


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    (tmp_path / "plugins").mkdir()
    return tmp_path / "plugins"


class Interrupted(Exception):
    """Stands for Ctrl-C or a crash in the middle of a run (pytest treats a real KeyboardInterrupt as its own)."""


class CountingEstimate:
    """Wraps ``wb.estimate`` to count the images it is asked for; ``fail_after`` images interrupt the run."""

    def __init__(self, wb: Workbench, fail_after: int | None = None) -> None:
        self.real = type(wb).estimate.__get__(wb)  # the host's own method, not an earlier wrapper
        self.images, self.fail_after = 0, fail_after

    def __call__(self, broker, images, targets="T1", *, estimator=None):  # noqa: ANN001, ANN204 - the host's
        if self.fail_after is not None and self.images >= self.fail_after:
            raise Interrupted(f"interrupted after {self.images} images")
        self.images += len(images)
        return self.real(broker, images, targets, estimator=estimator)


def _per_image(report) -> list[tuple]:  # noqa: ANN001
    table = report.per_image
    return list(zip(table["image"], table["pred_count"], table["game_1"].round(9), table["f1@10"]))


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    result = CountResult(2, [(1.5, 2.5), (3.0, 4.0)], densityMap=np.arange(6, dtype=np.float32).reshape(2, 3),
                         densityArea=Rect(1, 2, 30, 20), elapsed=0.25, estimatorName="x", inRange=True,
                         extras={"note": "a"})
    with PredictionCache(tmp_path / "c.sqlite") as cache:
        cache.put("k", result, estimator="e", image_sha256="d")
        assert cache.get_many(["k", "missing"]) == {"k": result} and len(cache) == 1
        assert cache.counts(["k", "missing"]) == {"k": 2}  # the count alone, the density map left unread


def test_second_run_is_all_hits_and_not_timed(model: Path, data: Path, plugins: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    with Workbench(plugins, [], default_model=model) as wb:
        cold = compare(wb, data, ["default"], cache=cache, progress=False)
        spy = wb.estimate = CountingEstimate(wb)
        warm = compare(wb, data, ["default"], cache=cache, progress=False)
    assert spy.images == 0
    assert not cold.per_image["cached"].any() and warm.per_image["cached"].all()
    assert _per_image(warm) == _per_image(cold)
    assert warm.per_image["latency_ms"].isna().all() and warm.busy_seconds["default"] == 0.0
    assert all(r.extras.get("cached") for r in warm.results["default"])


def test_changed_model_file_misses(model: Path, data: Path, plugins: Path, tmp_path: Path) -> None:
    import onnx

    cache = tmp_path / "cache.sqlite"
    with Workbench(plugins, [], default_model=model) as wb:
        compare(wb, data, ["default"], cache=cache, progress=False)
        before = wb.estimator_identity(BROKER, "default")
    proto = onnx.load(str(model))
    onnx.helper.set_model_props(proto, {"retrained": "yes"})  # the same weights, a different file
    onnx.save(proto, str(model))
    with Workbench(plugins, [], default_model=model) as wb:
        assert wb.estimator_identity(BROKER, "default") != before
        spy = wb.estimate = CountingEstimate(wb)
        report = compare(wb, data, ["default"], cache=cache, progress=False)
    assert spy.images == 4 and not report.per_image["cached"].any()


def test_changed_image_alone_is_recomputed(model: Path, data: Path, plugins: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    with Workbench(plugins, [], default_model=model) as wb:
        compare(wb, data, ["default"], cache=cache, progress=False)
        changed = sorted((data / "images").glob("*.jpg"))[1]
        Image.open(changed).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(changed)
        spy = wb.estimate = CountingEstimate(wb)
        report = compare(wb, data, ["default"], cache=cache, progress=False)
    assert spy.images == 1
    assert report.per_image.set_index("image")["cached"].to_dict() == {
        p.stem: p != changed for p in sorted((data / "images").glob("*.jpg"))
    }


def test_edited_plugin_changes_its_identity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Path(__file__).resolve().parents[1] / "plugins" / "people_count_onnx"
    monkeypatch.setenv("PEOPLE_COUNT_ONNX_MODEL", str(MODELS / "wbcount_uint8.onnx"))
    shutil.copytree(source, tmp_path / "plugins" / "people_count_onnx")
    with Workbench(tmp_path / "plugins", ["people_count_onnx.plugin"]) as wb:
        before = wb.estimator_identity(BROKER, "PeopleCountOnnxPlugin")
        assert before != wb.estimator_identity(BROKER, "default")
    readme = tmp_path / "plugins" / "people_count_onnx" / "README.md"
    readme.write_text(readme.read_text() + "\nedited\n")
    with Workbench(tmp_path / "plugins", ["people_count_onnx.plugin"]) as wb:
        assert wb.estimator_identity(BROKER, "PeopleCountOnnxPlugin") != before


def test_interrupted_run_resumes(model: Path, data: Path, plugins: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    with Workbench(plugins, [], default_model=model) as wb:
        reference = compare(wb, data, ["default"], progress=False)  # no cache: the numbers to get back
        wb.estimate = CountingEstimate(wb, fail_after=3)
        with pytest.raises(Interrupted):
            compare(wb, data, ["default"], cache=cache, progress=False)
        with PredictionCache(cache) as store:
            assert len(store) == 3  # every image finished before the interruption was kept
        spy = wb.estimate = CountingEstimate(wb)
        resumed = compare(wb, data, ["default"], cache=cache, progress=False)
    assert spy.images == 1 and resumed.per_image["cached"].sum() == 3
    assert _per_image(resumed) == _per_image(reference)


def test_key_covers_targets_and_detect_area(data: Path) -> None:
    digest = image_digest(next((data / "images").glob("*.jpg")))
    keys = {prediction_key("e", digest, area, targets)
            for area in (None, Rect(0, 0, 10, 10)) for targets in ("T1", "T2")}
    assert len(keys) == 4


def test_not_a_cache_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ValueError, match="is not a usable prediction cache"):
        PredictionCache(bad)
