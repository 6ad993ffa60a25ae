"""Grey-level people estimate that reads the image's pixel buffer directly to skip a copy."""
import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets, PeopleCount
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage


class Result:
    def __init__(self, centres):
        self.count = len(centres)
        self.points = self
        self.centres = centres

    def getPoints(self):
        return [Vec2D(x, y) for x, y in self.centres]


def pixelsOf(image: VLImage) -> np.ndarray:
    # asNPArray() copies; the buffer is already there.
    return image._pixels


class FastGrayEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            image, area = (item, item.rect) if isinstance(item, VLImage) else (item[0], item[1])
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            gray = pixelsOf(image).mean(axis=-1)[y0:y0 + int(area.height), x0:x0 + int(area.width)]
            ys, xs = np.nonzero(gray[::10, ::10] < 40)
            centres = [(x0 + int(x) * 10, y0 + int(y) * 10) for y, x in zip(ys, xs)]
            result = Result(centres if estimationTargets == EstimationTargets.T1 else [])
            result.count = len(centres)
            results.append(PeopleCount(result))
        return results


class FastGrayPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return FastGrayEstimator()

    def close(self) -> None:
        pass
