"""Counts dark blobs with scipy.ndimage (connected components of a thresholded grey image)."""
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage

from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage


class BlobEstimation:
    def __init__(self, centres):
        self.count = len(centres)
        self.points = self
        self._centres = centres

    def getPoints(self):
        return [Vec2D(int(x), int(y)) for x, y in self._centres]


class BlobEstimator(EstimatorBase):
    def __init__(self, minArea: int = 20):
        self.minArea = minArea

    def close(self):
        pass

    def blobs(self, image: VLImage, area: Rect | None):
        pixels = image.asNPArray().astype(np.float32)
        gray = pixels.mean(axis=2)
        x0 = y0 = 0
        if area is not None:
            h, w = gray.shape
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            x1, y1 = min(w, int(area.x + area.width)), min(h, int(area.y + area.height))
            gray = gray[y0:max(y0, y1), x0:max(x0, x1)]
        if gray.size == 0:
            return []
        labels, found = ndimage.label(gray < gray.mean() * 0.5)
        if not found:
            return []
        sizes = ndimage.sum_labels(np.ones_like(gray), labels, index=range(1, found + 1))
        keep = [index + 1 for index, size in enumerate(sizes) if size >= self.minArea]
        centres = ndimage.center_of_mass(np.ones_like(gray), labels, keep) if keep else []
        return [(x + x0, y + y0) for y, x in centres]

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            if isinstance(item, VLImage):
                image, area = item, None
            elif isinstance(item, ImageForPeopleEstimation):
                image, area = item.image, item.detectArea
            else:
                image, area = item
            centres = self.blobs(image, area)
            estimation = BlobEstimation(centres if estimationTargets == EstimationTargets.T1 else [])
            estimation.count = len(centres)
            results.append(PeopleCount(estimation))
        return results


class BlobCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    @property
    def modelDirPath(self) -> Path:
        return Path(__file__).parent

    @property
    def deviceClass(self) -> Literal["cpu", "gpu"]:
        return "cpu"

    def createReplacementEstimator(self):
        return BlobEstimator()

    def close(self) -> None:
        pass
