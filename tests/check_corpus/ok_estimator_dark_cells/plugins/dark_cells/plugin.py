"""People count by dark cells: a toy estimator replacement written from the service's estimator docs.

The image (or its detect area) is cut into 16 x 16 cells; each cell much darker than the image's median is
counted as one head, at the cell's centre.
"""
import asyncio
from typing import Literal

import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage

CELL = 16


class Estimation:
    """What PeopleCount reads: count, and points.getPoints()."""

    class Points:
        def __init__(self, coordinates):
            self.coordinates = coordinates

        def getPoints(self):
            return [Vec2D(x, y) for x, y in self.coordinates]

    def __init__(self, count, coordinates):
        self.count = count
        self.points = self.Points(coordinates)


def splitInput(image):
    if isinstance(image, VLImage):
        return image, None
    if isinstance(image, ImageForPeopleEstimation):
        return image.image, image.detectArea
    if isinstance(image, tuple) and len(image) == 2 and isinstance(image[0], VLImage) and isinstance(image[1], Rect):
        return image[0], image[1]
    raise ValueError(f"unsupported image: {type(image).__name__}")


def darkCells(pixels: np.ndarray) -> list[tuple[int, int]]:
    gray = pixels.astype(np.float32).mean(axis=2) if pixels.ndim == 3 else pixels.astype(np.float32)
    height, width = gray.shape
    threshold = np.median(gray) * 0.5
    centres = []
    for top in range(0, height, CELL):
        for left in range(0, width, CELL):
            cell = gray[top:top + CELL, left:left + CELL]
            if cell.size and cell.mean() < threshold:
                centres.append((left + cell.shape[1] // 2, top + cell.shape[0] // 2))
    return centres


class DarkCellsEstimator(EstimatorBase):
    def close(self):
        pass

    def estimateOne(self, image, estimationTargets):
        vlImage, area = splitInput(image)
        offsetX = offsetY = 0
        if area is not None:
            full = vlImage.rect
            left, top = max(int(area.x), 0), max(int(area.y), 0)
            right = min(int(area.x + area.width), full.width)
            bottom = min(int(area.y + area.height), full.height)
            if right <= left or bottom <= top:
                return PeopleCount(Estimation(0, []))
            vlImage = vlImage.crop(Rect(left, top, right - left, bottom - top))
            offsetX, offsetY = left, top
        centres = darkCells(vlImage.asNPArray())
        if estimationTargets == EstimationTargets.T2:
            return PeopleCount(Estimation(len(centres), []))
        return PeopleCount(Estimation(len(centres), [(x + offsetX, y + offsetY) for x, y in centres]))

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        if not asyncEstimate:
            raise NotImplementedError("only asynchronous estimation is supported")
        loop = asyncio.get_running_loop()
        return await asyncio.gather(
            *[loop.run_in_executor(None, self.estimateOne, image, estimationTargets) for image in images]
        )


class DarkCellsPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    @property
    def deviceClass(self) -> Literal["cpu", "gpu"]:
        settings = self.appConfig.estimatorsSettings.peopleCounter
        if settings.deviceClass == "global":
            return self.globalDeviceClass
        return settings.deviceClass

    def createReplacementEstimator(self) -> DarkCellsEstimator:
        return DarkCellsEstimator()

    def close(self) -> None:
        pass
