"""Uses the SDK's Rect API to keep detect areas inside the image: isInside, getArea, and an intersection
computed from the corners (Rect's & is not an intersection in the SDK's code)."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage


def intersection(first: Rect, second: Rect) -> Rect | None:
    left, top = max(first.x, second.x), max(first.y, second.y)
    right = min(first.x + first.width, second.x + second.width)
    bottom = min(first.y + first.height, second.y + second.height)
    if right <= left or bottom <= top:
        return None
    return Rect(int(left), int(top), int(right - left), int(bottom - top))


class Found:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


class RectGuardEstimator(EstimatorBase):
    def close(self):
        pass

    def one(self, item, targets):
        if isinstance(item, VLImage):
            image, area = item, None
        elif isinstance(item, ImageForPeopleEstimation):
            image, area = item.image, item.detectArea
        elif isinstance(item, tuple) and len(item) == 2:
            image, area = item
        else:
            raise ValueError("Unsupported image format")
        bounds = image.rect
        if area is not None and not area.isInside(bounds):
            area = intersection(area, bounds)
            if area is None or area.getArea() == 0:
                return PeopleCount(Found([], False))
        crop = image.crop(area) if area is not None else image
        x0, y0 = (int(area.x), int(area.y)) if area is not None else (0, 0)
        gray = crop.asNPArray().astype(np.float32).mean(axis=-1)
        ys, xs = np.nonzero(gray[4::8, 4::8] < 45)
        centres = [(x0 + 4 + int(x) * 8, y0 + 4 + int(y) * 8) for y, x in zip(ys, xs)]
        return PeopleCount(Found(centres, targets == EstimationTargets.T1))

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        return [self.one(item, estimationTargets) for item in images]


class RectGuardPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return RectGuardEstimator()

    def close(self) -> None:
        pass
