"""Counts dark pixels in 8 x 8 blocks; points only when the request asks for coordinates."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Counted:
    def __init__(self, count, centres):
        self.count = count
        self.points = self
        self.centres = centres

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


def wantsCoordinates(targets: EstimationTargets) -> bool:
    # The request names, as the core calls them.
    if targets.value == "estimateHeadCountAndCoords":
        return True
    if targets.value == "estimateHeadCount":
        return False
    raise ValueError(f"unknown estimation targets {targets!r}")


class BlockEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        withPoints = wantsCoordinates(estimationTargets)
        results = []
        for item in images:
            image, area = (item, item.rect) if isinstance(item, VLImage) else (item[0], item[1])
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            gray = image.asNPArray().mean(axis=-1)[y0:y0 + int(area.height), x0:x0 + int(area.width)]
            ys, xs = np.nonzero(gray[::8, ::8] < 40)
            centres = [(x0 + int(x) * 8, y0 + int(y) * 8) for y, x in zip(ys, xs)]
            results.append(PeopleCount(Counted(len(centres), centres if withPoints else [])))
        return results


class BlockCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return BlockEstimator()

    def close(self) -> None:
        pass
