"""Vectorised per image size: the batch is grouped by shape and each group is thresholded as one array."""
from collections import defaultdict

import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Rect, Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Counted:
    def __init__(self, centres, withPoints):
        self.count = len(centres)
        self.points = self
        self.centres = centres if withPoints else []

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


def region(item) -> tuple[np.ndarray, int, int]:
    """The pixels to look at and their offset in the original image."""
    if isinstance(item, VLImage):
        return item.asNPArray(), 0, 0
    image, area = item[0], item[1]
    bounds = image.rect
    x0, y0 = max(0, int(area.x)), max(0, int(area.y))
    x1, y1 = min(bounds.width, int(area.x + area.width)), min(bounds.height, int(area.y + area.height))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0, 3), np.uint8), x0, y0
    return image.crop(Rect(x0, y0, x1 - x0, y1 - y0)).asNPArray(), x0, y0


class GroupedEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        regions = [region(item) for item in images]
        groups = defaultdict(list)
        for index, (pixels, _, _) in enumerate(regions):
            groups[pixels.shape].append(index)
        results: list[PeopleCount | None] = [None] * len(images)
        for shape, indices in groups.items():
            stack = np.stack([regions[i][0] for i in indices]).astype(np.float32)
            dark = stack.mean(axis=-1)[:, ::8, ::8] < 40 if stack.size else np.zeros((len(indices), 0, 0), bool)
            for mask, i in zip(dark, indices):
                _, x0, y0 = regions[i]
                ys, xs = np.nonzero(mask)
                centres = [(x0 + int(x) * 8, y0 + int(y) * 8) for y, x in zip(ys, xs)]
                results[i] = PeopleCount(Counted(centres, estimationTargets == EstimationTargets.T1))
        return results


class GroupedBatchPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return GroupedEstimator()

    def close(self) -> None:
        pass
