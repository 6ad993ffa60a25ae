"""Lightweight results: a namedtuple with the same fields PeopleCount exposes (count, coordinates)."""
from collections import namedtuple

import numpy as np
from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import EstimationTargets
from lunavl.sdk.image_utils.geometry import Vec2D
from lunavl.sdk.image_utils.image import VLImage

Count = namedtuple("Count", ["count", "coordinates"])


class LightEstimator(EstimatorBase):
    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        results = []
        for item in images:
            image, area = (item, item.rect) if isinstance(item, VLImage) else (item[0], item[1])
            x0, y0 = max(0, int(area.x)), max(0, int(area.y))
            gray = image.asNPArray().mean(axis=-1)[y0:y0 + int(area.height), x0:x0 + int(area.width)]
            ys, xs = np.nonzero(gray[::8, ::8] < 40)
            points = tuple(Vec2D(x0 + int(x) * 8, y0 + int(y) * 8) for y, x in zip(ys, xs))
            results.append(Count(len(points), points if estimationTargets == EstimationTargets.T1 else ()))
        return results


class LightCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        return LightEstimator()

    def close(self) -> None:
        pass
