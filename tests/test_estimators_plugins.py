"""Replacement plugins in the host: the service's reference estimator verbatim, and plugins/people_count_onnx."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from helpers.onnx_models import dots, make_pool_model
from helpers.reference_plugins import write_reference_plugins
from workbench import Rect, VLImage, Workbench
from workbench.images import load_image
from workbench.estimators import ModelDescription, OnnxDensityEstimator
from workbench.estimators.tools import wrap_preprocessing

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "plugins"
SHIPPED = REPO / "models" / "wbcount_uint8.onnx"
MCNN = ModelDescription(name="mcnn", layout="NCHW", dtype="float32", channels="gray")


def never_default(config):
    raise AssertionError("the default estimator must not be built while a replacement plugin is in use")


def crowd_images(crowd_mini: Path, n: int) -> list[VLImage]:
    return [load_image(p) for p in sorted((crowd_mini / "images").glob("*_test_*.jpg"))[:n]]


def test_reference_estimator_plugin_runs_verbatim_and_matches(tmp_path, reference_docs, mcnn_model, crowd_mini):
    plugins = tmp_path / "plugins"
    modules = write_reference_plugins(reference_docs, plugins)
    wrap_preprocessing(mcnn_model, MCNN, plugins / "reference_estimator" / "csrnet_uint8.onnx")
    image = crowd_images(crowd_mini, 1)[0]
    with Workbench(plugins, [modules["reference_estimator"]], default_estimators={"peopleCountEstimator": never_default}) as wb:
        assert wb.estimators == {"peopleCountEstimator": "PeopleCountReplacementPlugin"}
        reference = wb.estimate("peopleCountEstimator", [image, (image, Rect(256, 192, 512, 384))])
    ours = OnnxDensityEstimator(mcnn_model, MCNN, intra_op_threads=2)
    try:
        mine = ours.estimate([image, (image, Rect(256, 192, 512, 384))])
    finally:
        ours.close()
    for theirs, own in zip(reference, mine):
        # The reference truncates the map's sum, the workbench rounds it.
        assert theirs.count <= own.count <= theirs.count + 1
        assert len(theirs.coordinates) == theirs.count
    assert mine[0].count > 0


@pytest.fixture
def uint8_model(tmp_path) -> Path:
    """A tiny stride-4 counter with RGB uint8 NHWC input: one person per white pixel."""
    float_model = make_pool_model(tmp_path / "pool.onnx", stride=4)
    out = tmp_path / "pool_uint8.onnx"
    wrap_preprocessing(float_model, None, out, batched=True)
    return out


def plugin_host(monkeypatch, model: Path) -> Workbench:
    monkeypatch.setenv("PEOPLE_COUNT_ONNX_MODEL", str(model))
    return Workbench(PLUGINS, ["people_count_onnx.plugin"], default_estimators={"peopleCountEstimator": never_default})


def test_people_count_onnx_imports_only_what_the_service_has():
    tree = ast.parse((PLUGINS / "people_count_onnx" / "plugin.py").read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    tops = {name.split(".")[0] for name in modules}
    assert tops <= {"__future__", "asyncio", "importlib", "json", "logging", "os", "concurrent", "pathlib", "typing", "numpy",
                    "onnxruntime", "luna_plugins", "lunavl"}
    assert "workbench" not in tops


def test_people_count_onnx_matches_the_workbench_estimator(monkeypatch, uint8_model):
    images = [
        dots(64, 96, [(10, 10), (50, 30), (90, 60)]),
        dots(64, 96, [(11, 13)]),
        dots(37, 50, [(49, 36), (5, 5), (20, 20)]),
    ]
    requests = [*images, (images[0], Rect(40, 20, 40, 32))]
    with plugin_host(monkeypatch, uint8_model) as wb:
        assert wb.estimators == {"peopleCountEstimator": "PeopleCountOnnxPlugin"}
        from_plugin = wb.estimate("peopleCountEstimator", requests)
        count_only = wb.estimate("peopleCountEstimator", requests, "T2")
    est = OnnxDensityEstimator(uint8_model)
    try:
        expected = est.estimate(requests)
    finally:
        est.close()
    assert [r.count for r in from_plugin] == [r.count for r in expected] == [3, 1, 3, 1]
    for theirs, own in zip(from_plugin, expected):
        np.testing.assert_array_equal(theirs.pointsArray, own.pointsArray)
        # The plugin hands its map on through PeopleCount.coreEstimation, staying on the SDK surface.
        np.testing.assert_allclose(theirs.densityMap, own.densityMap, atol=1e-6)
        assert theirs.densityArea == own.densityArea
    assert [r.count for r in count_only] == [3, 1, 3, 1] and all(r.coordinates == () for r in count_only)


def test_people_count_onnx_with_a_one_image_model(monkeypatch, tmp_path):
    model = make_pool_model(tmp_path / "pool.onnx", stride=8)
    hwc = tmp_path / "pool_hwc.onnx"
    wrap_preprocessing(model, None, hwc)
    with plugin_host(monkeypatch, hwc) as wb:
        results = wb.estimate("peopleCountEstimator", [dots(64, 64, [(3, 3)]), dots(64, 64, [(3, 3), (40, 40)])])
    assert [r.count for r in results] == [1, 2]
    assert sorted(results[1].pointsArray.tolist()) == [[4.0, 4.0], [44.0, 44.0]]


def test_people_count_onnx_missing_model_fails_clearly(monkeypatch, tmp_path):
    with plugin_host(monkeypatch, tmp_path / "absent.onnx") as wb:
        [record] = list(wb.plugins)
        assert record.status == "failed" and "PEOPLE_COUNT_ONNX_MODEL" in record.error


@pytest.mark.skipif(not SHIPPED.is_file(), reason=f"{SHIPPED} not built yet (see bench/README.md)")
def test_shipped_uint8_model_is_the_plugin_default(monkeypatch):
    monkeypatch.delenv("PEOPLE_COUNT_ONNX_MODEL", raising=False)
    description = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert (description["layout"], description["dtype"], description["channels"]) == ("NHWC", "uint8", "RGB")
    image = VLImage(np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8))
    with Workbench(PLUGINS, ["people_count_onnx.plugin"], default_estimators={"peopleCountEstimator": never_default}) as wb:
        [from_plugin] = wb.estimate("peopleCountEstimator", [image])
    est = OnnxDensityEstimator(SHIPPED)
    try:
        [expected] = est.estimate([image])
    finally:
        est.close()
    assert from_plugin.count == expected.count
    np.testing.assert_array_equal(from_plugin.pointsArray, expected.pointsArray)
