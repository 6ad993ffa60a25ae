"""Caps implausible counts at the venue's capacity after estimating."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage

CAPACITY = 5


class Found:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class CappedEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            image, area = (item, item.rect) if isinstance(item, VLImage) else (item[0], item[1])
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            gray = image.asNPArray().mean(axis=-1)[y0:y0 + int(area.height), x0:x0 + int(area.width)]
            ys, xs = np.nonzero(gray[::8, ::8] < 200)
            centres = [(x0 + int(x) * 8, y0 + int(y) * 8) for y, x in zip(ys, xs)]
            result = PeopleCount(Found(centres, estimationTargets == EstimationTargets.T1))
            if result.count > CAPACITY:
                result.count = CAPACITY
            results.append(result)
        return results


class CappedCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return CappedEstimator()

    def close(self) -> None:
        pass
