"""Vectorised: stacks the batch into one array and thresholds it in one go."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Counted:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class StackedEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        plain = [item if isinstance(item, VLImage) else item[0] for item in images]
        batch = np.stack([image.asNPArray() for image in plain]).astype(np.float32)  # N x H x W x 3
        dark = batch.mean(axis=-1)[:, ::8, ::8] < 40
        results = []
        for mask in dark:
            ys, xs = np.nonzero(mask)
            centres = [(int(x) * 8, int(y) * 8) for y, x in zip(ys, xs)]
            results.append(PeopleCount(Counted(centres, estimationTargets == EstimationTargets.T1)))
        return results


class StackedBatchPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return StackedEstimator()

    def close(self) -> None:
        pass
