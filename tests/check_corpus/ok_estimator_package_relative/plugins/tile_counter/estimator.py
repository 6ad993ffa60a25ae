import asyncio

from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, ImageForPeopleEstimation
from lunavl.sdk.image_utils.geometry import Rect
from lunavl.sdk.image_utils.image import VLImage

from .core import countTiles
from .results import makePeopleCount


def _unpack(item):
    if isinstance(item, VLImage):
        return item, None
    if isinstance(item, (ImageForPeopleEstimation, tuple)) and len(item) == 2:
        return item[0], item[1]
    raise TypeError(f"cannot estimate on {type(item).__name__}")


def _clamped(area: Rect, image: VLImage):
    bounds = image.rect
    x0, y0 = max(0, int(area.x)), max(0, int(area.y))
    x1 = min(int(bounds.width), int(area.x) + int(area.width))
    y1 = min(int(bounds.height), int(area.y) + int(area.height))
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


class TileEstimator(EstimatorBase):
    def close(self):
        pass

    def _one(self, item, targets):
        image, area = _unpack(item)
        dx = dy = 0
        if area is not None:
            box = _clamped(area, image)
            if box is None:
                return makePeopleCount([], False)
            dx, dy = box[0], box[1]
            image = image.crop(Rect(*box))
        points = [(x + dx, y + dy) for x, y in countTiles(image.asNPArray())]
        return makePeopleCount(points, withPoints=targets == EstimationTargets.T1)

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        return await asyncio.to_thread(lambda: [self._one(item, estimationTargets) for item in images])
