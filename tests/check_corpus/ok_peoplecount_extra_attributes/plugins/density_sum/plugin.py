"""Density-sum estimator that keeps its density map on each result for a debugging route elsewhere."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Density:
    def __init__(self, density: np.ndarray, withPoints: bool, offset=(0, 0)):
        self.count = int(round(float(density.sum())))
        peaks = np.argsort(density, axis=None)[::-1][: self.count] if withPoints else []
        width = density.shape[1]
        self.coordinates = [(int(i % width) + offset[0], int(i // width) + offset[1]) for i in peaks]
        self.points = self

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.coordinates]


def densityOf(pixels: np.ndarray) -> np.ndarray:
    darkness = 1.0 - pixels.astype(np.float32).mean(axis=2) / 255.0
    return np.where(darkness > 0.8, darkness, 0.0) / 100.0


class DensityEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            image, area = (item, None) if isinstance(item, VLImage) else (item[0], item[1])
            pixels = image.asNPArray()
            offset = (0, 0)
            if area is not None:
                x0, y0 = max(0, int(area.x)), max(0, int(area.y))
                pixels = pixels[y0:y0 + max(0, int(area.height)), x0:x0 + max(0, int(area.width))]
                offset = (x0, y0)
            density = densityOf(pixels) if pixels.size else np.zeros((1, 1), np.float32)
            result = PeopleCount(Density(density, estimationTargets == EstimationTargets.T1, offset))
            # PeopleCount has no __slots__ of its own: extra attributes are fine and travel with the result.
            result.densityMap = density
            result.densityOffset = offset
            results.append(result)
        return results


class DensitySumPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return DensityEstimator()

    def close(self) -> None:
        pass
