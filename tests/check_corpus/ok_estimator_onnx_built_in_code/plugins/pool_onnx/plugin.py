"""ONNX Runtime people estimate in the style of the service's example plugin (run_async + a future)."""
import asyncio
from typing import Literal

import numpy as np
import onnxruntime as ort
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage

from .model import darknessPoolModel


def _settle(future, result, error):
    if not future.done():
        future.set_result((error, result))


def _callback(result, waiter, error):
    loop, future = waiter
    loop.call_soon_threadsafe(_settle, future, result, error)


class Estimation:
    def __init__(self, coordinates, count):
        self.count = count
        self.coordinates = coordinates
        self.points = self

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.coordinates]


class PoolEstimator(EstimatorBase):
    def __init__(self, useGpu: bool = False):
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if useGpu else ["CPUExecutionProvider"]
        available = set(ort.get_available_providers())
        self.session = ort.InferenceSession(darknessPoolModel(), providers=[p for p in providers if p in available])

    def close(self):
        self.session = None

    async def _run(self, darkness: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.session.run_async(["pooled"], {"image": darkness}, _callback, (loop, future))
        error, outputs = await future
        if error:
            raise RuntimeError(f"ONNX inference error: {error}")
        return outputs[0]

    async def _estimate(self, item, targets) -> PeopleCount:
        if isinstance(item, VLImage):
            image, area = item, None
        elif isinstance(item, ImageForPeopleEstimation):
            image, area = item.image, item.detectArea
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], VLImage) and isinstance(item[1], Rect):
            image, area = item
        else:
            raise ValueError("Unsupported image format")
        offsetX = offsetY = 0
        if area is not None:
            bounds = image.rect
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            x1, y1 = min(bounds.width, int(area.x + area.width)), min(bounds.height, int(area.y + area.height))
            if x1 <= x0 or y1 <= y0:
                return PeopleCount(Estimation([], 0))
            image = image.crop(Rect(x0, y0, x1 - x0, y1 - y0))
            offsetX, offsetY = x0, y0
        darkness = 1.0 - image.asNPArray().astype(np.float32).mean(axis=2) / 255.0
        pooled = (await self._run(darkness[None, None]))[0, 0]
        ys, xs = np.nonzero(pooled > 0.75)
        coordinates = [(offsetX + int(x) * 8 + 4, offsetY + int(y) * 8 + 4) for y, x in zip(ys, xs)]
        if targets == EstimationTargets.T2:
            return PeopleCount(Estimation([], len(coordinates)))
        return PeopleCount(Estimation(coordinates, len(coordinates)))

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate: Literal[True] = True):
        if not asyncEstimate:
            raise NotImplementedError("Synchronous estimation is not supported")
        return await asyncio.gather(*[self._estimate(item, estimationTargets) for item in images])


class PoolOnnxPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    @property
    def deviceClass(self) -> Literal["cpu", "gpu"]:
        estimatorDeviceType = self.appConfig.estimatorsSettings.peopleCounter.deviceClass
        if estimatorDeviceType == "global":
            return self.globalDeviceClass
        return estimatorDeviceType

    def createReplacementEstimator(self) -> PoolEstimator:
        return PoolEstimator(useGpu=self.deviceClass == "gpu")

    def close(self) -> None:
        pass
