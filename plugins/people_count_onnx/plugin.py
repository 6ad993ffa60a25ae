"""People-count estimator replacement: an ONNX density-map model with RGB uint8 input.

Compared with a one-request-per-image design, this estimator

* stacks the images (or detect areas) of one size into one inference run,
* runs all the work (stacking, inference, head points) in one dedicated worker thread, so the service's
  event loop never waits on it and one estimator's runs never compete for the same cores,
* pads every image to a multiple of the model's output stride, so no edge row or column is lost,
* rounds the count to the nearest whole number (instead of truncating it), and
* puts head points on the density map's local maxima at cell centres, in original-image pixels.

See README.md for the model and its configuration.
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import onnxruntime as ort
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage

logger = logging.getLogger(__name__)

MODEL_ENV = "PEOPLE_COUNT_ONNX_MODEL"
MODEL_FILE = "wbcount_uint8.onnx"
PLUGIN_DIR = Path(__file__).resolve().parent
# Deployed: the model sits in the plugin folder. In the workbench checkout: <repo>/models.
MODEL_LOCATIONS = (PLUGIN_DIR / MODEL_FILE, PLUGIN_DIR.parents[1] / "models" / MODEL_FILE)
# The copy an installed workbench ships as package data, in <site-packages>/workbench/_models.
WORKBENCH_MODELS = ("workbench", "_models")

# A head point is a density-map cell that is the maximum of its 3x3 neighbourhood and above this density;
# the strongest `count` of them are kept, so that the points agree with the count.
PEAK_THRESHOLD = 1e-3
PEAK_SIZE = 3
# Images stacked into one run at most: bounds the memory of a large request.
MAX_BATCH = 8


def installedWorkbenchModel() -> Path | None:
    """The model an installed workbench ships, found without importing the workbench (absent in the service)."""
    package, folder = WORKBENCH_MODELS
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / folder / MODEL_FILE
        if path.is_file():
            return path
    return None


def resolveModelPath() -> Path:
    """The model: $PEOPLE_COUNT_ONNX_MODEL when set, else the first of MODEL_LOCATIONS that exists, else the copy
    an installed workbench ships."""
    configured = os.environ.get(MODEL_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{MODEL_ENV}={configured}: no such model file")
        return path
    for path in MODEL_LOCATIONS:
        if path.is_file():
            return path
    installed = installedWorkbenchModel()
    if installed is not None:
        return installed
    raise FileNotFoundError(
        f"people-count model not found (looked for {' and '.join(map(str, MODEL_LOCATIONS))}); copy "
        f"{MODEL_FILE} into the plugin folder or set {MODEL_ENV} to the model's path"
    )


def declaredRange(modelPath: Path) -> dict | None:
    """The training range the model's description declares (``"range"`` in the JSON beside the model), without
    its calibration record; None when there is no description or it declares none."""
    descriptionPath = modelPath.with_suffix(".json")
    if not descriptionPath.is_file():
        logger.info("%s: no model description beside the model, so no training range is declared", modelPath)
        return None
    declared = json.loads(descriptionPath.read_text()).get("range")
    if isinstance(declared, dict) and isinstance(declared.get("evidence"), dict):
        # How the evidence was calibrated stays in the file; each answer carries only what judges an image.
        declared = {**declared, "evidence": {k: v for k, v in declared["evidence"].items() if k != "calibration"}}
    return declared


class Estimation:
    """What PeopleCount is built from (``PeopleCount(estimation)``, as the SDK's own estimator does).

    The SDK reads ``count`` and ``points.getPoints()``. ``densityMap`` and ``densityArea`` (the image rectangle
    the map covers) and ``trainingRange`` (the model's declared training range) are extras that the SDK ignores
    and the workbench reads from ``PeopleCount.coreEstimation`` to show and score the map and to judge whether
    an image lies in the model's range: harmless in the service, useful in research.
    """

    class Points:
        """Head points as (x, y) pairs in original-image pixels."""

        def __init__(self, coordinates: list[tuple[float, float]]):
            self.coordinates = coordinates

        def getPoints(self) -> list[Vec2D]:
            """The points as Vec2D."""
            return [Vec2D(x, y) for x, y in self.coordinates]

    def __init__(
        self,
        count: int,
        coordinates: list[tuple[float, float]],
        densityMap: np.ndarray | None = None,
        densityArea: Rect | None = None,
        trainingRange: dict | None = None,
    ):
        self.count = count
        self.points = self.Points(coordinates)
        self.densityMap = densityMap
        self.densityArea = densityArea
        self.trainingRange = trainingRange


def peakCells(densityMap: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the `count` strongest local maxima above PEAK_THRESHOLD, strongest first."""
    if count == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    radius = PEAK_SIZE // 2
    padded = np.pad(densityMap, radius, constant_values=-np.inf)
    neighbourhoodMax = np.lib.stride_tricks.sliding_window_view(padded, (PEAK_SIZE, PEAK_SIZE)).max(axis=(-2, -1))
    flat = np.flatnonzero((densityMap == neighbourhoodMax) & (densityMap > PEAK_THRESHOLD))
    values = densityMap.ravel()[flat]
    if count < len(flat):
        keep = np.argpartition(-values, count - 1)[:count]
        flat, values = flat[keep], values[keep]
    flat = flat[np.lexsort((flat, -values))]
    return np.divmod(flat, densityMap.shape[1])


class BatchedOnnxPeopleCountEstimator(EstimatorBase):
    """People counting with an ONNX density-map model that takes RGB uint8 pixels.

    The model input is [N, H, W, 3] (batched) or [H, W, 3] (one image per run); the output is the density
    map with its rows and columns in the last two axes ([N, 1, H/s, W/s]); the count is the map's sum.
    """

    def __init__(self, modelPath: Path, useGpu: bool = False, gpuDeviceId: int = 0) -> None:
        providers: list = ["CPUExecutionProvider"]
        if useGpu:
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": gpuDeviceId}))
            else:
                logger.warning("GPU requested but onnxruntime has no CUDA provider here; using the CPU")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(modelPath), sess_options=options, providers=providers)
        modelInput = self.session.get_inputs()[0]
        self.inputName = modelInput.name
        self.outputName = self.session.get_outputs()[0].name
        channels = modelInput.shape[-1] if modelInput.shape else None
        wrongChannels = isinstance(channels, int) and channels != 3
        if modelInput.type != "tensor(uint8)" or len(modelInput.shape) not in (3, 4) or wrongChannels:
            raise ValueError(
                f"{modelPath}: input {modelInput.name!r} is {modelInput.type} {modelInput.shape}; this plugin needs "
                "RGB uint8 pixels, [N, H, W, 3] or [H, W, 3] (put the preprocessing inside the model)"
            )
        self.batched = len(modelInput.shape) == 4
        self.stride = self._measureStride(modelPath)
        self.trainingRange = declaredRange(modelPath)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="people-count-onnx")

    def _measureStride(self, modelPath: Path) -> int:
        """Input pixels per map cell, from one small blank run (64 and 96 are multiples of any usual stride)."""
        probe = np.zeros((1, 64, 96, 3) if self.batched else (64, 96, 3), np.uint8)
        mapH, mapW = self.session.run([self.outputName], {self.inputName: probe})[0].shape[-2:]
        if mapH == 0 or 64 % mapH or 96 % mapW or 64 // mapH != 96 // mapW:
            raise ValueError(f"{modelPath}: a 96x64 input gives a {mapW}x{mapH} map, not a whole stride")
        return 64 // mapH

    def close(self) -> None:
        """Wait for a running batch, then release the worker thread and the session."""
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.session = None

    @staticmethod
    def _unpack(image) -> tuple[VLImage, Rect | None]:
        """The image and the area to count in (None: all of it)."""
        if isinstance(image, ImageForPeopleEstimation):
            vlImage, detectArea = image.image, image.detectArea
        elif isinstance(image, VLImage):
            vlImage, detectArea = image, None
        elif isinstance(image, tuple) and len(image) == 2 and isinstance(image[0], VLImage) and isinstance(image[1], Rect):
            vlImage, detectArea = image
        else:
            raise ValueError(f"unsupported image {type(image).__name__}: pass VLImage, ImageForPeopleEstimation or (VLImage, Rect)")
        return vlImage, detectArea

    @staticmethod
    def _pixels(vlImage: VLImage, detectArea: Rect | None) -> tuple[np.ndarray, int, int]:
        """The pixels to count in and their offset in the original image."""
        if detectArea is None:
            return vlImage.asNPArray(), 0, 0
        # The crop starts at the area's top-left pixel (coordinates rounded down).
        return vlImage.crop(detectArea).asNPArray(), int(detectArea.x), int(detectArea.y)

    def _estimateAll(self, requests: list[tuple[VLImage, Rect | None]], withPoints: bool) -> list[Estimation]:
        """Runs in the worker thread (pixel copies included): one inference run per chunk of same-size crops."""
        crops = [self._pixels(vlImage, detectArea) for vlImage, detectArea in requests]
        results: list[Estimation | None] = [None] * len(crops)
        bySize: dict[tuple[int, int], list[int]] = {}
        for index, (pixels, _, _) in enumerate(crops):
            bySize.setdefault(pixels.shape[:2], []).append(index)
        chunkSize = MAX_BATCH if self.batched else 1
        s = self.stride
        for (height, width), indices in bySize.items():
            padH, padW = -height % s, -width % s
            for start in range(0, len(indices), chunkSize):
                chunk = indices[start:start + chunkSize]
                batch = np.stack([crops[i][0] for i in chunk])
                if padH or padW:
                    batch = np.pad(batch, ((0, 0), (0, padH), (0, padW), (0, 0)))
                feed = batch if self.batched else batch[0]
                output = self.session.run([self.outputName], {self.inputName: feed})[0]
                maps = output.reshape(len(chunk), *output.shape[-2:])
                for index, densityMap in zip(chunk, maps):
                    _, left, top = crops[index]
                    count = max(0, round(float(densityMap.sum(dtype=np.float64))))
                    coordinates = []
                    if withPoints:
                        rows, cols = peakCells(densityMap, count)
                        xs = np.clip(left + (cols + 0.5) * s, left, left + width - 0.5)
                        ys = np.clip(top + (rows + 0.5) * s, top, top + height - 0.5)
                        coordinates = list(zip(xs.tolist(), ys.tolist()))
                    mapH, mapW = densityMap.shape
                    area = Rect(left, top, mapW * s, mapH * s)
                    results[index] = Estimation(count, coordinates, densityMap, area, self.trainingRange)
        return results

    async def estimateBatch(
        self,
        images: list[VLImage | ImageForPeopleEstimation | tuple[VLImage, Rect]],
        estimationTargets: EstimationTargets = EstimationTargets.T1,
        asyncEstimate: bool = True,
    ) -> list[PeopleCount]:
        """One PeopleCount per image, in order: T1 with head points, T2 the count only."""
        if self.session is None:
            raise RuntimeError("the estimator is closed")
        requests = [self._unpack(image) for image in images]
        future = self.executor.submit(self._estimateAll, requests, estimationTargets == EstimationTargets.T1)
        estimations = await asyncio.wrap_future(future) if asyncEstimate else future.result()
        return [PeopleCount(estimation) for estimation in estimations]


class PeopleCountOnnxPlugin(EstimatorReplacementPlugin):
    """Replaces the people-count estimator with BatchedOnnxPeopleCountEstimator."""

    @property
    def estimatorBrokerName(self) -> str:
        """The estimator this plugin replaces."""
        return "peopleCountEstimator"

    @property
    def deviceClass(self) -> Literal["cpu", "gpu"]:
        """The people counter's own device setting, or the global one when it says "global"."""
        device = self.appConfig.estimatorsSettings.peopleCounter.deviceClass
        return self.globalDeviceClass if device == "global" else device

    def identityInputs(self) -> dict:
        """What decides this estimator's answers beside this plugin folder, for the workbench's prediction cache
        (the service never calls it): the model and its description wherever they are found, the variable that
        chooses the model, and the device."""
        model = resolveModelPath()
        return {
            "files": [model, model.with_suffix(".json")],
            "environment": [MODEL_ENV],
            "settings": {"deviceClass": self.deviceClass},
        }

    def createReplacementEstimator(self) -> BatchedOnnxPeopleCountEstimator:
        """One estimator per worker."""
        return BatchedOnnxPeopleCountEstimator(
            modelPath=resolveModelPath(),
            useGpu=self.deviceClass == "gpu",
            gpuDeviceId=self.defaultGpuDevice,
        )

    def close(self) -> None:
        """Nothing to release at plugin level: the host closes the estimators."""
