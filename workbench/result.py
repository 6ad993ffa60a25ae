"""``CountResult``: the workbench's own research result for one image, built from any people-count estimation.

The service's SDK result (``PeopleCount``) has a count and head coordinates and nothing else, and plugins must
keep to it. Research needs more: a points array to score, the density map behind it, the time the estimator
spent, which estimator answered. Those live here, off the SDK surface a plugin sees:

* the workbench's own estimators return ``CountResult`` directly;
* the host wraps each plugin ``PeopleCount`` with ``CountResult.fromPeopleCount`` (duck-typed: any object with
  ``.count`` and ``.coordinates``, so the service's real SDK class works too) and fills ``elapsed`` and
  ``estimatorName`` on the wrapper, never on the plugin's object.

A plugin may hand its density map over without leaving the SDK surface: ``PeopleCount`` keeps the object it
was built from as ``coreEstimation``, and the adapter reads optional ``densityMap`` (2-D array) and
``densityArea`` (``Rect``) attributes there. The real SDK ignores such attributes, so the same plugin runs in
the service unchanged. A result without a density map (any real SDK result) is normal.

This module is the bottom layer beside ``workbench.sdk``: it imports only the SDK stand-in and numpy.
"""
from __future__ import annotations

import html
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .sdk import Rect, Vec2D

__all__ = ["CountResult"]

_UNSET: Any = object()


class CountResult:
    """The people count in one image, its head points and, when known, the density map and timing behind it.

    Args:
        count: the number of people: an ``int``, a numpy integer, or a float with no fractional part (``3.0``);
            a fractional count is rejected rather than truncated, because it means the estimator forgot to
            decide how to round.
        coordinates: head points in original-image pixels: ``Vec2D``s, ``(x, y)`` pairs or an ``(N, 2)``
            array. Their number need not equal ``count`` (a T2 estimation has a count and no points).
        densityMap: the model's raw density map; leading size-1 axes (batch, channel) are dropped, so
            ``(1, 1, H, W)`` becomes ``(H, W)``. Stored read-only as float32.
        densityArea: the rectangle of the original image that ``densityMap`` covers.
        elapsed: seconds the estimator spent on this image.
        estimatorName: the estimator that produced the result.
        inRange: whether the image lies in the estimator's declared training range; ``None`` when the
            estimator declares none.
        extras: anything else an estimator wants to report, by name (JSON values if ``asDict`` is used).

    Results are immutable: ``replace(**fields)`` returns a changed copy.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: the count is negative or fractional, a point is not finite, or the density map is not 2-D.
    """

    __slots__ = (
        "_count", "_coordinates", "_pointsArray", "_densityMap", "_densityArea", "_elapsed", "_estimatorName",
        "_inRange", "_extras",
    )

    def __init__(
        self,
        count: int,
        coordinates: Iterable[Vec2D] | Iterable[tuple[float, float]] | np.ndarray = (),
        *,
        densityMap: np.ndarray | None = None,
        densityArea: Rect | None = None,
        elapsed: float | None = None,
        estimatorName: str | None = None,
        inRange: bool | None = None,
        extras: Mapping[str, Any] | None = None,
    ) -> None:
        self._count = _checkCount(count)
        self._pointsArray = _pointsArray(coordinates)
        self._coordinates = tuple(Vec2D(x, y) for x, y in self._pointsArray.tolist())
        self._densityMap = _checkDensityMap(densityMap)
        if densityArea is not None and not isinstance(densityArea, Rect):
            raise TypeError(f"densityArea must be a Rect or None, got {type(densityArea).__name__}")
        # The SDK's Rect has setters; a copy keeps this result's geometry from changing behind its back.
        self._densityArea = None if densityArea is None else Rect(**densityArea.asDict())
        self._elapsed = _checkElapsed(elapsed)
        if estimatorName is not None and not isinstance(estimatorName, str):
            raise TypeError(f"estimatorName must be a str or None, got {type(estimatorName).__name__}")
        self._estimatorName = estimatorName
        if inRange is not None and not isinstance(inRange, (bool, np.bool_)):
            raise TypeError(f"inRange must be True, False or None, got {type(inRange).__name__}")
        self._inRange = None if inRange is None else bool(inRange)
        if extras is not None and not isinstance(extras, Mapping):
            raise TypeError(f"extras must be a mapping of names to values, got {type(extras).__name__}")
        self._extras = dict(extras or {})

    @classmethod
    def fromPeopleCount(cls, peopleCount: Any, **fields: Any) -> CountResult:
        """Wrap an SDK ``PeopleCount`` (or any object with ``.count`` and ``.coordinates``).

        ``densityMap`` and ``densityArea`` are read from ``peopleCount.coreEstimation`` when it has them
        (the documented way for a plugin to pass its map on); ``fields`` (the constructor's keyword
        arguments) override anything read. A ``CountResult`` is returned as a copy with ``fields`` applied.

        Raises:
            TypeError: ``peopleCount`` lacks ``.count`` or ``.coordinates``.
        """
        if isinstance(peopleCount, cls):
            return peopleCount.replace(**fields)
        if not hasattr(peopleCount, "count") or not hasattr(peopleCount, "coordinates"):
            raise TypeError(
                f"expected a PeopleCount (an object with .count and .coordinates), got {type(peopleCount).__name__}"
            )
        core = getattr(peopleCount, "coreEstimation", None)
        for name in ("densityMap", "densityArea"):
            if name not in fields and getattr(core, name, None) is not None:
                fields[name] = getattr(core, name)
        area = fields.get("densityArea")
        if area is not None and not isinstance(area, Rect) and all(hasattr(area, n) for n in ("x", "y", "width", "height")):
            # A Rect of the service's real lunavl (where it is installed, plugins build those).
            fields["densityArea"] = Rect(area.x, area.y, area.width, area.height)
        return cls(peopleCount.count, peopleCount.coordinates, **fields)

    def replace(self, **fields: Any) -> CountResult:
        """A copy with the given constructor arguments changed, e.g. ``result.replace(elapsed=0.01)``."""
        current = {
            "count": self._count, "coordinates": self._pointsArray, "densityMap": self._densityMap,
            "densityArea": self._densityArea, "elapsed": self._elapsed, "estimatorName": self._estimatorName,
            "inRange": self._inRange, "extras": self._extras,
        }
        unknown = set(fields) - set(current)
        if unknown:
            raise TypeError(f"CountResult has no field(s) {sorted(unknown)}; fields: {', '.join(current)}")
        return CountResult(**{**current, **fields})

    @property
    def count(self) -> int:
        """The number of people."""
        return self._count

    @property
    def coordinates(self) -> tuple[Vec2D, ...]:
        """Head points in original-image pixels, as the SDK's ``PeopleCount.coordinates`` gives them."""
        return self._coordinates

    @property
    def pointsArray(self) -> np.ndarray:
        """The head points as a read-only ``(N, 2)`` float64 array, columns x, y."""
        return self._pointsArray

    @property
    def densityMap(self) -> np.ndarray | None:
        """The raw read-only 2-D float32 density map ``(H', W')``, or ``None`` (e.g. from the real SDK)."""
        return self._densityMap

    @property
    def densityArea(self) -> Rect | None:
        """The rectangle of the original image that ``densityMap`` covers, or ``None``."""
        return None if self._densityArea is None else Rect(**self._densityArea.asDict())

    @property
    def elapsed(self) -> float | None:
        """Seconds the estimator spent on this image (its batch time shared out where only that is known)."""
        return self._elapsed

    @property
    def estimatorName(self) -> str | None:
        """The estimator that produced the result."""
        return self._estimatorName

    @property
    def inRange(self) -> bool | None:
        """Whether the image is in the estimator's training range; ``None``: the estimator declares none."""
        return self._inRange

    @property
    def extras(self) -> dict[str, Any]:
        """Further values the estimator reported (a copy)."""
        return dict(self._extras)

    def asDict(self) -> dict[str, Any]:
        """``{"count", "coordinates": [[x, y], ...], "estimator", "elapsed", "inRange", "extras"}``, plain JSON types."""
        return {
            "count": self._count,
            "coordinates": self._pointsArray.tolist(),
            "estimator": self._estimatorName,
            "elapsed": self._elapsed,
            "inRange": self._inRange,
            "extras": dict(self._extras),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountResult):
            return NotImplemented
        return (
            self.asDict() == other.asDict()
            and _sameArray(self._densityMap, other._densityMap)
            and _areaDict(self._densityArea) == _areaDict(other._densityArea)
        )

    __hash__ = None  # type: ignore[assignment]  # equal results may hold different (unhashable) extras

    def __repr__(self) -> str:
        density = "" if self._densityMap is None else f", densityMap={self._densityMap.shape}"
        return (
            f"CountResult(count={self._count}, points={len(self._coordinates)}{density}, "
            f"estimator={self._estimatorName!r}, elapsed={self._elapsed!r})"
        )

    def _repr_html_(self) -> str:
        rows = {
            "count": str(self._count),
            "points": str(len(self._coordinates)),
            "density map": "&times;".join(map(str, self._densityMap.shape)) if self._densityMap is not None else "none",
            "estimator": html.escape(self._estimatorName) if self._estimatorName is not None else "&mdash;",
            "elapsed, ms": f"{self._elapsed * 1000:.1f}" if self._elapsed is not None else "&mdash;",
        }
        body = "".join(
            f"<tr><th style='text-align:left'>{key}</th><td>{value}</td></tr>" for key, value in rows.items()
        )
        return f"<table><caption>CountResult</caption>{body}</table>"


def _checkCount(count: object) -> int:
    if isinstance(count, (bool, np.bool_)):
        raise TypeError(f"count must be a whole number, got bool {count!r}")
    if isinstance(count, numbers.Integral):
        value = int(count)
    elif isinstance(count, numbers.Real) and float(count).is_integer():
        value = int(float(count))
    elif isinstance(count, numbers.Real):
        raise ValueError(f"count must be a whole number, got {count!r}; round it first, e.g. int(round(total))")
    else:
        raise TypeError(f"count must be an int, got {type(count).__name__} {count!r}")
    if value < 0:
        raise ValueError(f"count must be non-negative, got {value}")
    return value


def _pointsArray(coordinates: object) -> np.ndarray:
    if isinstance(coordinates, (str, bytes)) or not isinstance(coordinates, (Iterable, np.ndarray)):
        raise TypeError(
            f"coordinates must be Vec2D points, (x, y) pairs or an (N, 2) array, got {type(coordinates).__name__}"
        )
    raw: np.ndarray | list[tuple[Any, Any]]
    if isinstance(coordinates, np.ndarray):
        raw = coordinates
    else:
        pairs = []
        for index, point in enumerate(coordinates):
            try:
                x, y = point  # Vec2D is a NamedTuple in the SDK; other points are (x, y) pairs
            except (TypeError, ValueError):
                raise TypeError(f"point {index} must be a Vec2D or an (x, y) pair, got {point!r}") from None
            pairs.append((x, y))
        raw = pairs
    try:
        points = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"coordinates must hold numbers, got {raw!r:.200}") from None
    if points.size == 0:
        points = np.zeros((0, 2), dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"coordinates must have shape (N, 2) (columns x, y), got {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("coordinates must be finite; drop NaN/inf points before building the result")
    points.flags.writeable = False
    return points


def _checkElapsed(elapsed: object) -> float | None:
    if elapsed is None:
        return None
    if isinstance(elapsed, bool) or not isinstance(elapsed, numbers.Real):
        raise TypeError(f"elapsed must be seconds as a float or None, got {type(elapsed).__name__}")
    value = float(elapsed)
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"elapsed must be a non-negative number of seconds, got {value!r}")
    return value


def _checkDensityMap(densityMap: object) -> np.ndarray | None:
    if densityMap is None:
        return None
    array = np.asarray(densityMap)
    given_shape = array.shape
    if array.dtype.kind not in "fiu":
        raise TypeError(f"densityMap must be a numeric array, got dtype {array.dtype}")
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"densityMap must be a non-empty 2-D (H, W) map after dropping leading size-1 axes, got shape "
            f"{given_shape}"
        )
    stored = np.array(array, dtype=np.float32)  # a copy: the estimator may reuse its buffer
    stored.flags.writeable = False
    return stored


def _areaDict(area: Rect | None) -> dict | None:
    # The SDK's Rect raises on == with anything but a Rect, None included.
    return None if area is None else area.asDict()


def _sameArray(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))
