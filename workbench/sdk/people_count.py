"""People-count types with the SDK's names (``lunavl.sdk.estimators.image_estimators.people_count``): what a
people-count estimator takes (``ImageForPeopleEstimation``, ``EstimationTargets``) and returns (``PeopleCount``).

``PeopleCount`` is the SDK's result, what a plugin estimator returns; the workbench's research result is
``workbench.result.CountResult`` (see docs/architecture.md). The estimator classes themselves
(``PeopleCountEstimatorV1``/``V2``) drive the vendor's core and are not part of the stand-in.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, NamedTuple

from .base import BaseEstimation
from .geometry import Rect, Vec2D
from .image import VLImage

__all__ = ["EstimationTargets", "ImageForPeopleEstimation", "PeopleCount"]


class EstimationTargets(Enum):
    """PeopleCount estimation targets.

    The SDK's values are FaceEngine's ``CrowdRequest`` flags; the stand-in uses their names.
    """

    # return people count and coordinates
    T1 = "estimateHeadCountAndCoords"
    # return only people count
    T2 = "estimateHeadCount"


class PeopleCount(BaseEstimation):
    """The people count of one image, as the SDK's estimator returns it.

    Built from the core estimation: any object with ``.count`` and ``.points.getPoints()`` (points with ``.x``
    and ``.y`` in original-image pixels), read on demand as the SDK does.
    """

    __slots__ = ()

    @property
    def count(self) -> Any:
        """The number of people."""
        return self._coreEstimation.count

    @property
    def coordinates(self) -> tuple[Vec2D, ...]:
        """Head points in original-image pixels."""
        return tuple(Vec2D(point.x, point.y) for point in self._coreEstimation.points.getPoints())

    def asDict(self) -> dict:
        """``{"count": count, "coordinates": coordinates}``."""
        return {"count": self.count, "coordinates": self.coordinates}


class ImageForPeopleEstimation(NamedTuple):
    """
    Structure for transfer image and detect area to people estimator

    Attributes:
        image: image for detection
        detectArea: area for people detection
    """

    image: VLImage
    detectArea: Rect
