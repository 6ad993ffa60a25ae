"""People-count types with the service's names: what a people-count estimator takes and returns.

``PeopleCount`` is the workbench's central result type (see docs/architecture.md): every estimator returns
``list[PeopleCount]``, and metrics, plots, the comparison and the server consume it.
"""
from __future__ import annotations

import html
import numbers
from collections.abc import Iterable
from enum import Enum
from typing import Any, Protocol

import numpy as np

from .geometry import Rect, Vec2D
from .image import VLImage, pixelBounds

__all__ = ["EstimationTargets", "ImageForPeopleEstimation", "PeopleCount", "PeopleCountEstimation"]


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


class _Points(Protocol):
    def getPoints(self) -> Iterable[Vec2D]: ...


class PeopleCountEstimation(Protocol):
    """What ``PeopleCount`` is built from: the shape of the service's estimation object."""

    @property
    def count(self) -> Any: ...

    @property
    def points(self) -> _Points: ...


class _PointList:
    def __init__(self, points: list[Vec2D]) -> None:
        self._points = points

    def getPoints(self) -> list[Vec2D]:
        return list(self._points)


class _Estimation:
    """The estimation object ``PeopleCount.fromPoints`` builds, shaped like the service's."""

    def __init__(self, count: int, points: list[Vec2D]) -> None:
        self.count = count
        self.points = _PointList(points)


class PeopleCount:
    """The people count in one image, with head points and, optionally, the density map behind them.

    Args:
        estimation: any object with ``.count`` (the number of people) and ``.points.getPoints()`` (a list
            of ``Vec2D`` in original-image pixels), as the service's estimator builds it.
        densityMap: the model's raw density map; leading size-1 axes (batch, channel) are dropped, so
            ``(1, 1, H, W)`` and ``(1, H, W)`` become ``(H, W)``. Stored as float32.
        densityArea: the rectangle of the original image that ``densityMap`` covers.
        elapsed: seconds the estimator spent on this image.
        estimatorName: the estimator's name.

    ``count`` must be a non-negative whole number: an ``int``, a numpy integer, or a float with no
    fractional part (``3.0``, as ``np.round`` returns); anything else is rejected rather than silently
    truncated, because a fractional count means the estimator forgot to decide how to round.
    The number of points need not equal ``count``: a T2 estimation has a count and no points.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: the count is negative or fractional, or the density map is not 2-D.
    """

    __slots__ = ("_count", "_points", "_pointsArray", "_densityMap", "_densityArea", "_elapsed", "_estimatorName")

    def __init__(
        self,
        estimation: PeopleCountEstimation,
        *,
        densityMap: np.ndarray | None = None,
        densityArea: Rect | None = None,
        elapsed: float | None = None,
        estimatorName: str | None = None,
    ) -> None:
        if not hasattr(estimation, "count") or not hasattr(estimation, "points"):
            raise TypeError(
                "estimation must have .count and .points.getPoints() (like the service's estimation object), "
                f"got {type(estimation).__name__}; with raw arrays use PeopleCount.fromPoints(points, count)"
            )
        self._count = _checkCount(estimation.count)
        self._points = tuple(_toVec(point, index) for index, point in enumerate(estimation.points.getPoints()))
        pointsArray = np.array([(p.x, p.y) for p in self._points], dtype=np.float64).reshape(-1, 2)
        pointsArray.flags.writeable = False
        self._pointsArray = pointsArray
        self._densityMap = _checkDensityMap(densityMap)
        if densityArea is not None and not isinstance(densityArea, Rect):
            raise TypeError(f"densityArea must be a Rect or None, got {type(densityArea).__name__}")
        self._densityArea = densityArea
        self._elapsed: float | None = None
        self._estimatorName: str | None = None
        self.elapsed = elapsed
        self.estimatorName = estimatorName

    @classmethod
    def fromPoints(
        cls,
        points: np.ndarray | Iterable[Vec2D] | Iterable[tuple[float, float]],
        count: int | None = None,
        **kwargs: Any,
    ) -> PeopleCount:
        """Build from raw points, for estimators that hold arrays rather than an estimation object.

        Args:
            points: an ``(N, 2)`` array-like of ``x, y`` in original-image pixels, or ``Vec2D``s.
            count: the count; defaults to the number of points.
            **kwargs: ``densityMap``, ``densityArea``, ``elapsed``, ``estimatorName`` as for the constructor.
        """
        if isinstance(points, np.ndarray):
            coords = points
        else:
            coords = np.array([tuple(p) for p in points], dtype=np.float64)
        if coords.size == 0:
            coords = np.empty((0, 2))
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(f"points must have shape (N, 2) (columns x, y), got {coords.shape}")
        vecs = [Vec2D(x, y) for x, y in coords.tolist()]
        return cls(_Estimation(len(vecs) if count is None else count, vecs), **kwargs)

    @property
    def count(self) -> int:
        """The number of people."""
        return self._count

    @property
    def points(self) -> list[Vec2D]:
        """Head points in original-image pixels (a new list each call)."""
        return list(self._points)

    @property
    def pointsArray(self) -> np.ndarray:
        """The points as a read-only ``(N, 2)`` float64 array, columns x, y."""
        return self._pointsArray

    @property
    def densityMap(self) -> np.ndarray | None:
        """The raw 2-D float32 density map ``(H', W')``, or ``None``."""
        return self._densityMap

    @property
    def densityArea(self) -> Rect | None:
        """The rectangle of the original image that ``densityMap`` covers, or ``None``."""
        return self._densityArea

    @property
    def elapsed(self) -> float | None:
        """Seconds spent on this image; the host fills it when the estimator left it ``None``."""
        return self._elapsed

    @elapsed.setter
    def elapsed(self, value: float | None) -> None:
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"elapsed must be seconds as a float or None, got {type(value).__name__}")
            value = float(value)
            if not value >= 0:  # also rejects NaN
                raise ValueError(f"elapsed must be a non-negative number of seconds, got {value!r}")
        self._elapsed = value

    @property
    def estimatorName(self) -> str | None:
        """The estimator's name; the host fills it when the estimator left it ``None``."""
        return self._estimatorName

    @estimatorName.setter
    def estimatorName(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"estimatorName must be a str or None, got {type(value).__name__}")
        self._estimatorName = value

    def asDict(self) -> dict[str, Any]:
        """``{"count", "points": [[x, y], ...], "estimator", "elapsed"}`` with plain JSON types."""
        return {
            "count": self._count,
            "points": [[p.x, p.y] for p in self._points],
            "estimator": self._estimatorName,
            "elapsed": self._elapsed,
        }

    def __repr__(self) -> str:
        density = "" if self._densityMap is None else f", densityMap={self._densityMap.shape}"
        return (
            f"PeopleCount(count={self._count}, points={len(self._points)}{density}, "
            f"estimator={self._estimatorName!r}, elapsed={self._elapsed!r})"
        )

    def _repr_html_(self) -> str:
        rows = {
            "count": str(self._count),
            "points": str(len(self._points)),
            "estimator": html.escape(self._estimatorName) if self._estimatorName is not None else "&mdash;",
            "elapsed, ms": f"{self._elapsed * 1000:.1f}" if self._elapsed is not None else "&mdash;",
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{key}</th><td>{value}</td></tr>" for key, value in rows.items()
        )
        return f"<table><caption>PeopleCount</caption>{body}</table>"


def _checkCount(count: object) -> int:
    if isinstance(count, (bool, np.bool_)):
        raise TypeError(f"count must be a whole number, got bool {count!r}")
    if isinstance(count, numbers.Integral):
        value = int(count)
    elif isinstance(count, numbers.Real) and float(count).is_integer():
        value = int(count)
    elif isinstance(count, numbers.Real):
        raise ValueError(f"count must be a whole number, got {count!r}; round it first, e.g. int(round(total))")
    else:
        raise TypeError(f"count must be an int, got {type(count).__name__} {count!r}")
    if value < 0:
        raise ValueError(f"count must be non-negative, got {value}")
    return value


def _toVec(point: object, index: int) -> Vec2D:
    if isinstance(point, Vec2D):
        return point
    try:
        x, y = point  # type: ignore[misc]
    except (TypeError, ValueError):
        raise TypeError(f"point {index} must be a Vec2D or an (x, y) pair, got {point!r}") from None
    return Vec2D(x, y)


def _checkDensityMap(densityMap: object) -> np.ndarray | None:
    if densityMap is None:
        return None
    array = np.asarray(densityMap)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"densityMap must be a numeric array, got dtype {array.dtype}")
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"densityMap must be a non-empty 2-D (H, W) map after dropping leading size-1 axes, got shape "
            f"{np.shape(densityMap)}"
        )
    return np.asarray(array, dtype=np.float32)
