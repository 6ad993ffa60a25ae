"""Handles a whole image and an ImageForPeopleEstimation; anything else is rejected."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Counted:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class AreaEstimator(EstimatorBase):
    def close(self):
        pass

    def one(self, item, targets):
        if isinstance(item, VLImage):
            image, area = item, item.rect
        elif isinstance(item, ImageForPeopleEstimation):
            image, area = item.image, item.detectArea
        else:
            raise ValueError("Unsupported image format")
        x0, y0 = max(0, int(area.x)), max(0, int(area.y))
        gray = image.asNPArray().mean(axis=-1)[y0:y0 + int(area.height), x0:x0 + int(area.width)]
        ys, xs = np.nonzero(gray[::8, ::8] < 40)
        centres = [(x0 + int(x) * 8, y0 + int(y) * 8) for y, x in zip(ys, xs)]
        return PeopleCount(Counted(centres, targets == EstimationTargets.T1))

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        return [self.one(item, estimationTargets) for item in images]


class AreaOnlyPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return AreaEstimator()

    def close(self) -> None:
        pass
