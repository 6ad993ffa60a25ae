"""Counts people as dark 8 x 8 blocks, reading the image size from the core image (no pixel copy needed)."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Found:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class CoreSizeEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            image = item if isinstance(item, VLImage) else item[0]
            core = image.coreImage
            if core.getWidth() < 8 or core.getHeight() < 8:
                results.append(PeopleCount(Found([], False)))
                continue
            gray = image.asNPArray().mean(axis=-1)
            ys, xs = np.nonzero(gray[::8, ::8] < 40)
            centres = [(int(x) * 8, int(y) * 8) for y, x in zip(ys, xs)]
            if not isinstance(item, VLImage):
                area = item[1]
                centres = [(x, y) for x, y in centres
                           if area.x <= x < area.x + area.width and area.y <= y < area.y + area.height]
            results.append(PeopleCount(Found(centres, estimationTargets == EstimationTargets.T1)))
        return results


class CoreWidthPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return CoreSizeEstimator()

    def close(self) -> None:
        pass
