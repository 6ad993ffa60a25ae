"""Mean-brightness people estimate that reports bad input the way the SDK does (LunaSDKException + LunaVLError)."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.errors.errors import LunaVLError
from lunavl.sdk.errors.exceptions import LunaSDKException
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Found:
    def __init__(self, centres):
        self.count = len(centres)
        self.points = self
        self.centres = centres

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class GuardedEstimator(EstimatorBase):
    def close(self):
        pass

    def one(self, item, targets) -> PeopleCount:
        if isinstance(item, VLImage):
            image, area = item, item.rect
        elif isinstance(item, (ImageForPeopleEstimation, tuple)) and isinstance(item[1], Rect):
            image, area = item[0], item[1]
        else:
            raise LunaSDKException(LunaVLError.InvalidInput.format(f"unexpected {type(item).__name__}"))
        pixels = image.asNPArray()
        if pixels.size == 0:
            raise LunaSDKException(LunaVLError.InvalidImageSize.format("empty image"))
        x0, y0 = max(0, int(area.x)), max(0, int(area.y))
        gray = pixels.mean(axis=-1)[y0:y0 + max(0, int(area.height)), x0:x0 + max(0, int(area.width))]
        ys, xs = np.nonzero(gray[::8, ::8] < 50)
        centres = [(x0 + int(x) * 8, y0 + int(y) * 8) for y, x in zip(ys, xs)]
        found = Found(centres if targets == EstimationTargets.T1 else [])
        found.count = len(centres)
        return PeopleCount(found)

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        return [self.one(item, estimationTargets) for item in images]


class GuardedCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return GuardedEstimator()

    def close(self) -> None:
        pass
