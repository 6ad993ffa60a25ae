"""OnnxDensityEstimator and the default estimator factory, on tiny pooling models.

The pooling model's map cell is the sum of its block's normalised channel sums, so an image that is black
except for a few white pixels has a known count (one per white pixel) and known peak cells.
"""
from __future__ import annotations

import asyncio
import threading
import warnings

import numpy as np
import onnxruntime as ort
import pytest

from helpers.onnx_models import counting, dots, make_conv_model, make_pool_model, random_images
from workbench import AppConfig, CountResult, EstimationTargets, ImageForPeopleEstimation, Rect, VLImage
from workbench.estimators import GpuUnavailableWarning, ModelDescription, ModelDescriptionError, OnnxDensityEstimator
from workbench.estimators.default import DEFAULT_ESTIMATORS, MODELS_DIR_ENV, create_default_people_counter
from workbench.images import rgb_pixels
from workbench.plugins import EstimatorSettings, EstimatorsSettings


@pytest.fixture
def pool_model(tmp_path):
    return make_pool_model(tmp_path / "pool.onnx", stride=4)


@pytest.fixture
def estimator(pool_model):
    est = OnnxDensityEstimator(pool_model, intra_op_threads=1)
    yield est
    est.close()


def test_count_points_map_and_area(estimator):
    [result] = estimator.estimate([dots(64, 96, [(10, 10), (50, 30), (90, 60)])])
    assert isinstance(result, CountResult)
    assert result.count == 3 and result.estimatorName == "pool"
    # Each white pixel's cell centre: col = x // 4, centre = (col + 0.5) * 4.
    expected = {(10.0, 10.0), (50.0, 30.0), (90.0, 62.0)}
    assert {tuple(p) for p in result.pointsArray.tolist()} == expected
    assert result.densityMap.shape == (16, 24) and result.densityArea == Rect(0, 0, 96, 64)
    assert result.elapsed is not None and result.elapsed >= 0


@pytest.mark.parametrize("form", ["image_for_estimation", "tuple"])
def test_detect_area_is_cropped_and_points_mapped_back(estimator, form):
    image = dots(64, 96, [(10, 10), (50, 30), (70, 45)])
    area = Rect(40, 20, 40, 32)  # holds the 2nd and 3rd pixel only
    entry = ImageForPeopleEstimation(image, area) if form == "image_for_estimation" else (image, area)
    [result] = estimator.estimate([entry])
    assert result.count == 2
    # In the crop the pixels are at (10, 10) and (30, 25) -> cell centres (10, 10), (30, 26); plus the offset.
    assert {tuple(p) for p in result.pointsArray.tolist()} == {(50.0, 30.0), (70.0, 46.0)}
    assert result.densityArea == Rect(40, 20, 40, 32) and result.densityMap.shape == (8, 10)


def test_non_multiple_size_is_padded_and_edge_points_clipped(estimator):
    # 37x50: a white pixel in the last partial row/column block still counts.
    [result] = estimator.estimate([dots(37, 50, [(49, 36), (5, 5)])])
    assert result.count == 2 and result.densityMap.shape == (10, 13)
    assert result.densityArea == Rect(0, 0, 52, 40)
    # The edge cell's centre (50, 38) lies in the padding: clipped to the last pixel centre.
    assert {tuple(p) for p in result.pointsArray.tolist()} == {(49.5, 36.5), (6.0, 6.0)}


def test_fractional_detect_area_offset_uses_the_crop_pixels(estimator):
    image = dots(64, 96, [(41, 21)])
    [result] = estimator.estimate([(image, Rect(40.5, 20.5, 20, 20))])
    # The crop starts at pixel (40, 20) and is 21x21 (rounded outwards).
    assert result.count == 1 and result.densityArea.x == 40 and result.densityArea.y == 20
    np.testing.assert_array_equal(result.pointsArray, [[42.0, 22.0]])


def test_same_size_images_share_one_run_and_order_is_kept(pool_model):
    estimator = OnnxDensityEstimator(pool_model, intra_op_threads=1, max_batch=8, graph_preprocessing=False)
    try:
        spy = counting(estimator)
        images = [dots(64, 96, [(8, 8)] * 1), dots(32, 32, [(1, 1), (20, 20)]), dots(64, 96, [(8, 8), (60, 40)]),
                  dots(64, 96, [])]
        results = estimator.estimate(images)
        assert [r.count for r in results] == [1, 2, 2, 0]
        assert estimator.preprocessing == "numpy"
        assert sorted(shape for shape, _ in spy.runs) == [(1, 3, 32, 32), (3, 3, 64, 96)]
    finally:
        estimator.close()


def test_parallel_runs_split_a_group_between_workers(pool_model):
    est = OnnxDensityEstimator(pool_model, parallel_runs=2, max_batch=8)
    try:
        assert est.parallel_runs == 2
        spy = counting(est)
        images = [dots(32, 32, [(i, i), (20, 20)][: i % 3]) for i in range(5)]
        assert [r.count for r in est.estimate(images)] == [i % 3 for i in range(5)]
        assert sorted(shape[0] for shape, _ in spy.runs) == [2, 3]
        assert len({thread for _, thread in spy.runs}) <= 2
    finally:
        est.close()


def test_max_batch_splits_a_large_group(pool_model):
    est = OnnxDensityEstimator(pool_model, max_batch=2, parallel_runs=1)
    try:
        spy = counting(est)
        est.estimate([dots(32, 32, [(3, 3)])] * 5)
        assert [shape[0] for shape, _ in spy.runs] == [2, 2, 1]
    finally:
        est.close()


def test_hwc_uint8_model_runs_one_image_at_a_time(tmp_path):
    model = make_pool_model(tmp_path / "hwc.onnx", layout="HWC", dtype="uint8")
    est = OnnxDensityEstimator(model)
    try:
        spy = counting(est)
        results = est.estimate([dots(32, 32, [(3, 3)]), dots(32, 32, [])])
        # Raw pixels: a white pixel is 3 * 255 in the channel sum.
        assert [r.count for r in results] == [765, 0]
        assert [shape for shape, _ in spy.runs] == [(32, 32, 3), (32, 32, 3)]
    finally:
        est.close()


def test_one_image_that_fills_the_run_is_fed_to_the_model_without_a_copy(tmp_path):
    # A model that takes the image's own pixels (uint8 RGB, in the graph or HWC) reads them where they are; a
    # copy per run was a millisecond of a busy core per 1024x768 photo.
    hwc = make_pool_model(tmp_path / "hwc.onnx", layout="HWC", dtype="uint8")
    graph = make_conv_model(tmp_path / "conv.onnx")
    for est in (OnnxDensityEstimator(hwc), OnnxDensityEstimator(graph, graph_preprocessing=True)):
        try:
            spy = counting(est)
            image = VLImage(random_images(1, 32, 48, seed=2)[0])
            [result] = est.estimate([image])
            assert np.shares_memory(spy.inputs[0], rgb_pixels(image)), "the run's input is a copy of the image"
            assert result.densityMap.shape == (8, 12)
        finally:
            est.close()


def test_static_batch_of_one_runs_per_image(tmp_path):
    model = make_pool_model(tmp_path / "b1.onnx", static_batch=1)
    est = OnnxDensityEstimator(model, graph_preprocessing=False)
    try:
        spy = counting(est)
        assert [r.count for r in est.estimate([dots(32, 32, [(3, 3)])] * 2)] == [1, 1]
        assert [shape for shape, _ in spy.runs] == [(1, 3, 32, 32)] * 2
    finally:
        est.close()


@pytest.mark.parametrize("model_kind", ["conv_rgb_normalised", "pool_gray"])
def test_graph_and_numpy_preprocessing_agree(tmp_path, model_kind):
    if model_kind == "pool_gray":
        model = make_pool_model(tmp_path / "g.onnx", channels="gray", description={"scale": 1 / 255, "mean": 0.5})
    else:
        model = make_conv_model(tmp_path / "conv.onnx")
    images = [VLImage(im) for im in random_images(2, 45, 70, seed=4)]
    requests = [images[0], images[1], (images[0], Rect(3, 5, 33, 29))]
    graph = OnnxDensityEstimator(model, graph_preprocessing=True)
    numpy_ = OnnxDensityEstimator(model, graph_preprocessing=False)
    try:
        assert (graph.preprocessing, numpy_.preprocessing) == ("graph", "numpy")
        for a, b in zip(graph.estimate(requests), numpy_.estimate(requests)):
            np.testing.assert_allclose(a.densityMap, b.densityMap, rtol=1e-4, atol=1e-5)
            assert a.count == b.count
    finally:
        graph.close()
        numpy_.close()


def test_t2_gives_the_count_without_points(estimator):
    [result] = estimator.estimate([dots(64, 96, [(10, 10), (50, 30)])], "T2")
    assert result.count == 2 and result.coordinates == () and result.densityMap is not None


def test_count_is_rounded_not_truncated(tmp_path):
    # Gray raw-pixel model: each pixel adds its luma; 0.6 of a person rounds to 1, 0.4 to 0.
    model = make_pool_model(tmp_path / "g.onnx", channels="gray", description={"scale": 1 / 255})
    est = OnnxDensityEstimator(model)
    try:
        pixels = np.zeros((32, 32, 3), np.uint8)
        pixels[4, 4] = 153  # luma 153 -> 0.6
        more = pixels.copy()
        more[20, 20] = 102  # + 0.4 -> 1.0
        low = np.zeros_like(pixels)
        low[4, 4] = 102
        assert [r.count for r in est.estimate([VLImage(pixels), VLImage(more), VLImage(low)])] == [1, 1, 0]
    finally:
        est.close()


async def test_estimate_batch_runs_off_the_event_loop(estimator):
    spy = counting(estimator)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    results = await estimator.estimateBatch([dots(64, 96, [(10, 10)])] * 3, EstimationTargets.T1)
    task.cancel()
    assert [r.count for r in results] == [1, 1, 1]
    assert spy.runs[0][1].startswith("onnx-density-pool") and spy.runs[0][1] != threading.current_thread().name
    assert ticks > 0
    # The synchronous mode of the contract gives the same results.
    again = await estimator.estimateBatch([dots(64, 96, [(10, 10)])], EstimationTargets.T2, asyncEstimate=False)
    assert again[0].count == 1 and again[0].coordinates == ()


def test_topk_strategy_and_custom_name(pool_model):
    est = OnnxDensityEstimator(pool_model, points="topk", name="mine")
    try:
        [result] = est.estimate([dots(64, 96, [(10, 10), (50, 30)])])
        assert result.estimatorName == "mine" and len(result.coordinates) == 2
    finally:
        est.close()


def test_gpu_falls_back_to_cpu_with_a_warning(pool_model):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the fallback cannot be observed")
    with pytest.warns(GpuUnavailableWarning, match="no CUDA provider.*running on the CPU"):
        est = OnnxDensityEstimator(pool_model, device_class="gpu")
    try:
        assert est.device_class == "cpu" and est.providers == ["CPUExecutionProvider"]
        assert est.estimate([dots(32, 32, [(1, 1)])])[0].count == 1
    finally:
        est.close()


def test_load_errors(tmp_path, pool_model):
    with pytest.raises(FileNotFoundError, match="absent.onnx not found"):
        OnnxDensityEstimator(tmp_path / "absent.onnx")
    with pytest.raises(ModelDescriptionError, match="field 'input' is 'pixels'"):
        OnnxDensityEstimator(pool_model, ModelDescription(name="x", layout="NCHW", dtype="float32", channels="RGB", input="pixels"))
    with pytest.raises(ModelDescriptionError, match="field 'layout' is 'HWC'"):
        OnnxDensityEstimator(pool_model, ModelDescription(name="x", layout="HWC", dtype="float32", channels="RGB"))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="onnxruntime cannot load"):
        OnnxDensityEstimator(broken, ModelDescription(name="x", layout="NCHW", dtype="float32", channels="RGB"))
    with pytest.raises(ValueError, match="device_class must be one of 'cpu', 'gpu'"):
        OnnxDensityEstimator(pool_model, device_class="tpu")
    with pytest.raises(ValueError, match="max_batch"):
        OnnxDensityEstimator(pool_model, max_batch=0)
    with pytest.raises(ValueError, match="parallel_runs"):
        OnnxDensityEstimator(pool_model, parallel_runs=0)
    with pytest.raises(ValueError, match="unknown point strategy"):
        OnnxDensityEstimator(pool_model, points="centroids")


def test_input_errors_and_closed_estimator(estimator):
    image = dots(32, 32, [])
    with pytest.raises(TypeError, match="image 1: expected a VLImage"):
        estimator.estimate([image, np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(TypeError, match="wrap one image as"):
        estimator.estimate(image)
    with pytest.raises(ValueError, match="image 0: detectArea .* not inside"):
        estimator.estimate([(image, Rect(20, 20, 20, 20))])
    with pytest.raises(ValueError, match="unknown estimation targets"):
        estimator.estimate([image], "T3")
    assert estimator.estimate([]) == []
    estimator.close()
    estimator.close()
    with pytest.raises(RuntimeError, match="is closed"):
        estimator.estimate([image])


# -- the default estimator ------------------------------------------------------------------------------


def config(device: str, people_counter: str = "global") -> AppConfig:
    return AppConfig(globalDeviceClass=device, estimatorsSettings=EstimatorsSettings(EstimatorSettings(people_counter)))


def test_default_factory_loads_wbcount_from_the_models_dir(tmp_path, monkeypatch):
    make_pool_model(tmp_path / "wbcount.onnx", stride=8)
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    assert DEFAULT_ESTIMATORS["peopleCountEstimator"] is create_default_people_counter
    est = create_default_people_counter(config("cpu"))
    try:
        assert est.model_path == tmp_path / "wbcount.onnx" and est.stride == 8 and est.device_class == "cpu"
    finally:
        est.close()


def test_default_factory_resolves_the_device(tmp_path, monkeypatch):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the fallback cannot be observed")
    make_pool_model(tmp_path / "wbcount.onnx")
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    for cfg in (config("gpu"), config("cpu", "gpu")):
        with pytest.warns(GpuUnavailableWarning):
            create_default_people_counter(cfg).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        create_default_people_counter(config("gpu", "cpu")).close()


def test_default_factory_missing_model_names_the_folder_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        create_default_people_counter(config("cpu"))
    message = str(error.value)
    assert str(tmp_path / "wbcount.onnx") in message and MODELS_DIR_ENV in message and "models" in message


def test_host_builds_the_default_estimator_per_worker(tmp_path, monkeypatch):
    make_pool_model(tmp_path / "wbcount.onnx", stride=8)
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    from workbench import Workbench

    with Workbench(plugins, [], workers=2) as wb:
        results = wb.estimate("peopleCountEstimator", [dots(64, 64, [(3, 3), (40, 40)]), (dots(64, 64, [(3, 3)]), Rect(0, 0, 32, 32))])
    assert [r.count for r in results] == [2, 1]
    assert results[0].estimatorName == "wbcount" and sorted(results[0].pointsArray.tolist()) == [[4.0, 4.0], [44.0, 44.0]]
