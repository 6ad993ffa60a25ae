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


class CrowdRequest:
    """The stand-in for FaceEngine's ``CrowdRequest`` flags, the SDK's ``EstimationTargets`` values.

    A flag is equal only to itself: not to its name or any string, as the core's flags are not, so code that
    compares ``targets.value`` with a string fails here as it would in the service. The core's integer values
    are not in the SDK's sources and are not reproduced.
    """

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    # By name among flags only (a pickled copy, as a research worker process gets it, is the same flag).
    def __eq__(self, other: object) -> bool:
        return isinstance(other, CrowdRequest) and other.name == self.name

    def __hash__(self) -> int:
        return hash((CrowdRequest, self.name))

    def __repr__(self) -> str:
        return f"<CrowdRequest.{self.name} (the workbench's stand-in for the FaceEngine flag)>"


class EstimationTargets(Enum):
    """PeopleCount estimation targets: members' values are (stand-ins for) FaceEngine ``CrowdRequest`` flags."""

    # return people count and coordinates
    T1 = CrowdRequest("estimateHeadCountAndCoords")
    # return only people count
    T2 = CrowdRequest("estimateHeadCount")


class PeopleCount(BaseEstimation):
    """The people count of one image, as the SDK's estimator returns it.

    Built from the core estimation: any object with ``.count`` and ``.points.getPoints()`` (points with ``.x``
    and ``.y`` in original-image pixels), read on demand as the SDK does.
    """

    # No __slots__, as in the SDK: BaseEstimation has them, PeopleCount does not, so its instances take new
    # attributes (``result.extra = ...``) there and here.

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
