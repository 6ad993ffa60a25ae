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
``densityArea`` (``Rect``) attributes there, and ``trainingRange`` (the ``"range"`` object of its model's
description, kept in ``extras[TRAINING_RANGE_KEY]`` so that ``compare`` judges its images against it). The real
SDK ignores such attributes, so the same plugin runs in the service unchanged. A result without a density map
(any real SDK result) is normal.

**One shape for every export**: ``asDict()`` is the result as JSON-ready values under a ``"version"`` key, and
``CountResult.fromDict`` reads it back exactly; the server's estimate answer, the prediction cache and the report's
JSON all use it. ``as_counts`` and ``as_points`` turn results (and the loose inputs metrics accept) into arrays, so
no caller probes a result's attributes.

This module is the bottom layer beside ``workbench.sdk``: it imports only the SDK stand-in and numpy.
"""
from __future__ import annotations

import copy
import html
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .sdk import Rect, Vec2D

__all__ = ["RESULT_DICT_VERSION", "TRAINING_RANGE_KEY", "CountResult", "as_counts", "as_points"]

#: The ``"version"`` of ``CountResult.asDict()``; ``fromDict`` reads this version only.
RESULT_DICT_VERSION = 1
#: The keys every ``asDict()`` has; ``densityMap`` is there only when asked for.
_DICT_KEYS = ("version", "count", "coordinates", "estimator", "elapsed", "inRange", "densityArea", "extras")
#: The extra holding the training range an estimator declares (its model description's ``"range"``), which
#: ``compare`` judges annotated images against (``workbench.estimators._range``).
TRAINING_RANGE_KEY = "trainingRange"


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
        inRange: whether the image lies in the estimator's declared training range, as the estimator could
            judge it without annotations (``workbench.estimators._range``): ``True`` inside, ``False`` outside,
            ``None`` cannot tell (no range declared, or no evidence either way; a count alone never shows an
            image is inside).
        extras: anything else an estimator wants to report, by name: JSON values only (str, finite numbers,
            bool, None, and lists and str-keyed dicts of those; numpy scalars become Python numbers, tuples
            lists), so every export carries them as they are.

    Results are immutable: ``replace(**fields)`` returns a changed copy.

    Raises:
        TypeError: an argument has the wrong type, or an extra is not a JSON value (the error names its key).
        ValueError: the count is negative or fractional, a point or an extra is not finite, or the density map
            is not 2-D.
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
        self._extras = _jsonValue(dict(extras or {}), "extras")

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
        # Coordinates the caller has read already (the SDK's PeopleCount builds them again on each read).
        coordinates = fields.pop("coordinates", None)
        if not hasattr(peopleCount, "count") or (coordinates is None and not hasattr(peopleCount, "coordinates")):
            raise TypeError(
                f"expected a PeopleCount (an object with .count and .coordinates), got {type(peopleCount).__name__}"
            )
        core = getattr(peopleCount, "coreEstimation", None)
        for name in ("densityMap", "densityArea"):
            if name not in fields and getattr(core, name, None) is not None:
                fields[name] = getattr(core, name)
        declared = getattr(core, TRAINING_RANGE_KEY, None)
        if declared is not None and "extras" not in fields:
            fields["extras"] = {TRAINING_RANGE_KEY: declared}
        area = fields.get("densityArea")
        if area is not None and not isinstance(area, Rect) and all(hasattr(area, n) for n in ("x", "y", "width", "height")):
            # A Rect of the service's real lunavl (where it is installed, plugins build those).
            fields["densityArea"] = Rect(area.x, area.y, area.width, area.height)
        return cls(peopleCount.count, peopleCount.coordinates if coordinates is None else coordinates, **fields)

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
        """Whether the image is in the estimator's training range by the estimator's evidence; ``None``: cannot
        tell (see the constructor)."""
        return self._inRange

    @property
    def extras(self) -> dict[str, Any]:
        """Further values the estimator reported (a copy)."""
        return dict(self._extras)

    def asDict(self, *, includeDensityMap: bool = False) -> dict[str, Any]:
        """The result as plain JSON values, the one shape every export uses; ``fromDict`` reads it back exactly.

        ``{"version": 1, "count", "coordinates": [[x, y], ...], "estimator", "elapsed" (seconds), "inRange",
        "densityArea": {"x", "y", "width", "height"} | None, "extras"}``. The density map is left out by default
        (a 1080p map is some 30,000 numbers, too many for an HTTP answer or a report); ``includeDensityMap=True``
        adds it as ``"densityMap": [[...], ...]`` (float32 values, exact through JSON), or ``None`` without one.
        """
        data = {
            "version": RESULT_DICT_VERSION,
            "count": self._count,
            "coordinates": self._pointsArray.tolist(),
            "estimator": self._estimatorName,
            "elapsed": self._elapsed,
            "inRange": self._inRange,
            "densityArea": _areaDict(self._densityArea),
            "extras": copy.deepcopy(self._extras),
        }
        if includeDensityMap:
            data["densityMap"] = None if self._densityMap is None else self._densityMap.tolist()
        return data

    @classmethod
    def fromDict(cls, data: Mapping[str, Any]) -> CountResult:
        """The result ``asDict()`` gave (version 1); a ``"densityMap"`` may be nested lists or an array.

        Keys beside the result's own (the report's ``"image"``, the server's ``"request_id"`` and its aliases
        ``"points"`` and ``"elapsed_ms"``) are ignored, so those documents read back too.

        Raises:
            TypeError: ``data`` is not a mapping, or a value has the wrong type.
            ValueError: the version is missing or not one this workbench reads, or a key is missing.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"CountResult.fromDict takes the dict asDict() made, got {type(data).__name__}")
        if "version" not in data:
            raise ValueError(
                "not a CountResult dict: it has no 'version' key (asDict() always writes one); "
                f"keys given: {sorted(map(str, data))}"
            )
        if data["version"] != RESULT_DICT_VERSION:
            raise ValueError(
                f"CountResult dict version {data['version']!r} is not supported: this workbench reads version "
                f"{RESULT_DICT_VERSION}; re-create the dict with this workbench, or update the workbench"
            )
        missing = [key for key in _DICT_KEYS if key not in data]
        if missing:
            raise ValueError(f"CountResult dict (version {RESULT_DICT_VERSION}) lacks the key(s) {missing}")
        area = data["densityArea"]
        if area is not None and not isinstance(area, Mapping):
            raise TypeError(f"densityArea must be {{'x', 'y', 'width', 'height'}} or None, got {type(area).__name__}")
        return cls(
            data["count"],
            data["coordinates"],
            densityMap=data.get("densityMap"),
            densityArea=None if area is None else Rect(**area),
            elapsed=data["elapsed"],
            estimatorName=data["estimator"],
            inRange=data["inRange"],
            extras=data["extras"],
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountResult):
            return NotImplemented
        return self.asDict() == other.asDict() and _sameArray(self._densityMap, other._densityMap)

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


@runtime_checkable
class _Counted(Protocol):
    """What a count list may hold besides numbers and results: an object with a ``count`` (a dataset ``Sample``,
    whose count is ``None`` when it is unannotated)."""

    count: Any


@runtime_checkable
class _Pointed(Protocol):
    """What a point set may be besides an array and a result: an object with ``points`` (a dataset ``Sample``)."""

    points: Any


@runtime_checkable
class _Point(Protocol):
    """A head point with ``x`` and ``y`` (the SDK's ``Vec2D``, the stand-in's or the service's)."""

    x: Any
    y: Any


def as_counts(values: Iterable[Any], what: str = "counts") -> np.ndarray:
    """The counts of ``values`` as a float64 array: numbers, ``CountResult``s, or objects with a ``count`` (a
    dataset ``Sample``).

    Raises:
        ValueError: a value has no count (an unannotated sample); the message names ``what`` and its index.
    """
    counts = []
    for index, value in enumerate(values):
        count: Any
        if isinstance(value, CountResult):
            count = value.count
        elif isinstance(value, (numbers.Number, np.generic)) or not isinstance(value, _Counted):
            count = value  # a number, or whatever numpy may turn into one (and explains when it cannot)
        else:
            count = value.count
        if count is None:
            raise ValueError(f"{what}[{index}] has no count (an unannotated sample?); drop it before scoring")
        counts.append(count)
    return np.asarray(counts, dtype=np.float64)


def as_points(value: Any, what: str = "points") -> np.ndarray:
    """A point set as an ``(N, 2)`` float64 array of ``(x, y)`` pixels: an array-like, a list of ``Vec2D``
    (``PeopleCount.coordinates``), a ``CountResult`` (its ``pointsArray``) or an object with ``points`` (a
    dataset ``Sample``).

    Raises:
        ValueError: the points are ``None`` (an unannotated sample) or not ``(N, 2)``; the message names ``what``.
    """
    if isinstance(value, CountResult):
        return value.pointsArray
    if not isinstance(value, (np.ndarray, list, tuple)) and isinstance(value, _Pointed):
        value = value.points
        if value is None:
            raise ValueError(f"{what} has no points (an unannotated sample?); drop it before scoring")
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], _Point):
        value = [(point.x, point.y) for point in value]
    points = np.asarray(value, dtype=np.float64)
    if points.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{what} must be an (N, 2) array of (x, y) points, got shape {points.shape}")
    return points


def _jsonValue(value: Any, where: str) -> Any:
    """``value`` as plain JSON values (numpy scalars as Python numbers, tuples as lists); ``where`` names it in
    the error for anything JSON cannot carry as it is."""
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value!r}, which JSON cannot carry; use None for a missing number")
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonValue(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; JSON objects take str keys only")
        return {key: _jsonValue(item, f"{where}[{key!r}]") for key, item in value.items()}
    raise TypeError(
        f"{where} is of type {type(value).__name__}, not a JSON value (str, number, bool, None, or a list or str-keyed "
        "dict of those); convert it first, e.g. str(value) or array.tolist()"
    )


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
