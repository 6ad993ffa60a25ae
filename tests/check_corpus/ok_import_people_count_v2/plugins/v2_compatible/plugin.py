"""A replacement that declares itself against the estimator it replaces, PeopleCountEstimatorV2."""
import logging

from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
from lunavl.sdk.estimators.image_estimators.people_count import (
    EstimationTargets,
    ImageForPeopleEstimation,
    PeopleCount,
    PeopleCountEstimatorV2,
)
from lunavl.sdk.image_utils.image import VLImage

log = logging.getLogger(__name__)
REPLACES = PeopleCountEstimatorV2


class NoPeople:
    count = 0

    class points:  # noqa: N801 - mirrors the core estimation's attribute
        @staticmethod
        def getPoints():
            return []


class NullEstimator(EstimatorBase):
    """Answers 0 people for every image (a stand-in while the real model is being trained)."""

    def close(self):
        pass

    async def estimateBatch(self, images, estimationTargets=EstimationTargets.T1, asyncEstimate=True):
        for item in images:
            if not isinstance(item, (VLImage, ImageForPeopleEstimation, tuple)):
                raise TypeError(f"{REPLACES.__name__} takes VLImage or (VLImage, Rect), not {type(item).__name__}")
        return [PeopleCount(NoPeople()) for _ in images]


class NullCountPlugin(EstimatorReplacementPlugin):
    @property
    def estimatorBrokerName(self) -> str:
        return "peopleCountEstimator"

    def createReplacementEstimator(self):
        log.info("replacing %s with NullEstimator", REPLACES.__name__)
        return NullEstimator()

    def close(self) -> None:
        pass
