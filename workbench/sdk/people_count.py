"""People-count types with the service's names: what a people-count estimator takes and returns.

``PeopleCount`` is the SDK's result, what a plugin estimator returns; the workbench's research result is
``workbench.result.CountResult`` (see docs/architecture.md).
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from .base import BaseEstimation
from .geometry import Rect, Vec2D
from .image import VLImage, pixelBounds

__all__ = ["EstimationTargets", "ImageForPeopleEstimation", "PeopleCount"]


class EstimationTargets(Enum):
    """What a people-count estimator is asked for."""

    T1 = 1
    """The count and the head points."""
    T2 = 2
    """The count only (points may be left empty)."""

    @classmethod
    def parse(cls, value: EstimationTargets | str) -> EstimationTargets:
        """Accept a member or its name in any case (``"T1"``, ``"t2"``), as configs and query strings give it.

        Raises:
            ValueError: ``value`` is not one of the names.
            TypeError: ``value`` is neither a member nor a string.
        """
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise TypeError(
                f"estimation targets must be an EstimationTargets or a string, got {type(value).__name__} "
                f"{value!r}"
            )
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown estimation targets {value!r}: expected 'T1' (count and points) or 'T2' (count only)"
            ) from None


class ImageForPeopleEstimation:
    """An image with an optional area to count people in.

    Args:
        image: the image.
        detectArea: the area to count in; ``None`` means the whole image. It must have a positive size and
            lie inside the image (checked here, so a bad area fails where it is made).

    Raises:
        TypeError: ``image`` is not a ``VLImage`` or ``detectArea`` not a ``Rect``.
        ValueError: ``detectArea`` is empty or not inside the image.
    """

    __slots__ = ("_image", "_detectArea")

    def __init__(self, image: VLImage, detectArea: Rect | None = None) -> None:
        if not isinstance(image, VLImage):
            raise TypeError(f"image must be a VLImage, got {type(image).__name__}")
        if detectArea is not None:
            pixelBounds(detectArea, image.width, image.height, "detectArea")
        self._image = image
        self._detectArea = detectArea

    @property
    def image(self) -> VLImage:
        """The whole image."""
        return self._image

    @property
    def detectArea(self) -> Rect | None:
        """The area to count in, or ``None`` for the whole image."""
        return self._detectArea

    @property
    def area(self) -> Rect:
        """The area to count in: ``detectArea``, or the whole image's rectangle."""
        return self._detectArea if self._detectArea is not None else self._image.rect

    def __repr__(self) -> str:
        return f"ImageForPeopleEstimation({self._image!r}, detectArea={self._detectArea!r})"


class PeopleCount(BaseEstimation):
    """The people count of one image, as the SDK's estimator returns it.

    Built from the core estimation: any object with ``.count`` and ``.points.getPoints()`` (points with ``.x``
    and ``.y`` in original-image pixels), read on demand as the SDK does. The workbench's research data
    (points array, density map, timing) is not here: see ``workbench.result.CountResult``.
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
