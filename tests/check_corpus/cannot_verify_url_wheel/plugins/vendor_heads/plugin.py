"""Wraps the vendor's head counter; the vendor module is loaded when the estimator is created."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Heads:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class VendorEstimator(EstimatorBase):
    def __init__(self):
        import hcvendor  # provided by headcount-vendor-sdk

        self.counter = hcvendor.HeadCounter()

    def close(self):
        self.counter.release()

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            image, area = (item, item.rect) if isinstance(item, VLImage) else (item[0], item[1])
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            pixels = np.ascontiguousarray(image.asNPArray()[y0:y0 + int(area.height), x0:x0 + int(area.width)])
            centres = [(x0 + int(x), y0 + int(y)) for x, y in self.counter.heads(pixels)]
            results.append(PeopleCount(Heads(centres, estimationTargets == EstimationTargets.T1)))
        return results


class VendorHeadsPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return VendorEstimator()

    def close(self) -> None:
        pass
