"""Dark-blob people count with OpenCV (headless build: no GUI libraries in the container)."""
import cv2
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Blobs:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class OpenCvEstimator(EstimatorBase):
    def close(self):
        pass

    def one(self, item, targets):
        if isinstance(item, VLImage):
            image, area = item, item.rect
        elif isinstance(item, (ImageForPeopleEstimation, tuple)):
            image, area = item[0], item[1]
        else:
            raise ValueError("Unsupported image format")
        x0, y0 = max(0, int(area.x)), max(0, int(area.y))
        pixels = image.asNPArray()[y0:y0 + int(area.height), x0:x0 + int(area.width)]
        if pixels.size == 0:
            return PeopleCount(Blobs([], False))
        gray = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
        _, mask = cv2.threshold(gray, 40, 255, cv2.THRESH_BINARY_INV)
        found, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
        centres = [(x0 + int(cx), y0 + int(cy)) for (cx, cy), stat in zip(centroids[1:], stats[1:])
                   if stat[cv2.CC_STAT_AREA] >= 20]
        return PeopleCount(Blobs(centres, targets == EstimationTargets.T1))

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        return [self.one(item, estimationTargets) for item in images]


class OpenCvCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return OpenCvEstimator()

    def close(self) -> None:
        pass
