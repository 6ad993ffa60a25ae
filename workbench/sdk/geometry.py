"""Plane geometry with the service's names: ``Vec2D`` (a point) and ``Rect`` (an axis-aligned rectangle).

Coordinates are image pixels: x grows to the right, y grows downwards, ``(0, 0)`` is the top-left corner of
the top-left pixel. Both types are immutable and hashable, so a rectangle that was checked against an image
(``ImageForPeopleEstimation``) cannot be changed behind the check's back.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

__all__ = ["Number", "Rect", "Vec2D"]

Number = int | float


def _coordinate(value: object, name: str) -> Number:
    """Return ``value`` as a plain Python ``int`` or ``float``, or raise a clear error.

    numpy scalars are converted so that results stay JSON-serialisable and reprs stay readable.
    """
    # bool is an Integral too, but True/False as a coordinate is always a bug in the caller.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an int or a float, got {type(value).__name__} {value!r}")
    converted: Number = int(value) if isinstance(value, numbers.Integral) else float(value)
    if not math.isfinite(converted):
        raise ValueError(f"{name} must be finite, got {converted!r}")
    return converted


class Vec2D:
    """A 2-D point or vector ``(x, y)``; unpacks as ``x, y = vec``."""

    __slots__ = ("_x", "_y")

    def __init__(self, x: Number, y: Number) -> None:
        self._x = _coordinate(x, "Vec2D.x")
        self._y = _coordinate(y, "Vec2D.y")

    @property
    def x(self) -> Number:
        """Horizontal coordinate."""
        return self._x

    @property
    def y(self) -> Number:
        """Vertical coordinate."""
        return self._y

    def __iter__(self) -> Iterator[Number]:
        yield self._x
        yield self._y

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vec2D):
            return NotImplemented
        return (self._x, self._y) == (other._x, other._y)

    def __hash__(self) -> int:
        return hash((Vec2D, self._x, self._y))

    def __repr__(self) -> str:
        return f"Vec2D(x={self._x!r}, y={self._y!r})"


class Rect:
    """An axis-aligned rectangle: top-left corner ``(x, y)`` and size ``width`` x ``height``.

    Coordinates may be ints or floats. A rectangle with a non-positive width or height can be built (it is
    what ``intersection`` returns for disjoint rectangles) but is not valid: see ``isValid``.
    """

    __slots__ = ("_x", "_y", "_width", "_height")

    def __init__(self, x: Number = 0, y: Number = 0, width: Number = 0, height: Number = 0) -> None:
        self._x = _coordinate(x, "Rect.x")
        self._y = _coordinate(y, "Rect.y")
        self._width = _coordinate(width, "Rect.width")
        self._height = _coordinate(height, "Rect.height")

    @classmethod
    def fromCoordinates(cls, x1: Number, y1: Number, x2: Number, y2: Number) -> Rect:
        """Build the rectangle spanned by two opposite corners, given in any order."""
        left, right = sorted((_coordinate(x1, "x1"), _coordinate(x2, "x2")))
        top, bottom = sorted((_coordinate(y1, "y1"), _coordinate(y2, "y2")))
        return cls(left, top, right - left, bottom - top)

    @property
    def x(self) -> Number:
        """Left edge."""
        return self._x

    @property
    def y(self) -> Number:
        """Top edge."""
        return self._y

    @property
    def width(self) -> Number:
        """Width (may be non-positive for an invalid rectangle)."""
        return self._width

    @property
    def height(self) -> Number:
        """Height (may be non-positive for an invalid rectangle)."""
        return self._height

    @property
    def topLeft(self) -> Vec2D:
        """The corner ``(x, y)``."""
        return Vec2D(self._x, self._y)

    @property
    def bottomRight(self) -> Vec2D:
        """The corner ``(x + width, y + height)`` (exclusive, like a slice end)."""
        return Vec2D(self._x + self._width, self._y + self._height)

    @property
    def center(self) -> Vec2D:
        """The centre point; float coordinates unless both halves are whole."""
        cx = self._x + self._width / 2
        cy = self._y + self._height / 2
        return Vec2D(int(cx) if cx.is_integer() else cx, int(cy) if cy.is_integer() else cy)

    @property
    def area(self) -> Number:
        """``width * height``, or 0 for an invalid rectangle (never negative)."""
        return self._width * self._height if self.isValid() else 0

    def asDict(self) -> dict[str, Number]:
        """``{"x", "y", "width", "height"}``."""
        return {"x": self._x, "y": self._y, "width": self._width, "height": self._height}

    def isValid(self) -> bool:
        """True when the rectangle has a positive width and height."""
        return self._width > 0 and self._height > 0

    def contains(self, other: Rect) -> bool:
        """True when ``other`` lies entirely inside this rectangle; shared edges count as inside."""
        if not isinstance(other, Rect):
            raise TypeError(f"Rect.contains expects a Rect, got {type(other).__name__}")
        return (
            other._x >= self._x
            and other._y >= self._y
            and other._x + other._width <= self._x + self._width
            and other._y + other._height <= self._y + self._height
        )

    def intersection(self, other: Rect) -> Rect:
        """The overlap of two rectangles; ``Rect()`` (all zeros, not valid) when they do not overlap."""
        if not isinstance(other, Rect):
            raise TypeError(f"Rect.intersection expects a Rect, got {type(other).__name__}")
        left = max(self._x, other._x)
        top = max(self._y, other._y)
        right = min(self._x + self._width, other._x + other._width)
        bottom = min(self._y + self._height, other._y + other._height)
        if right <= left or bottom <= top:
            return Rect()
        return Rect(left, top, right - left, bottom - top)

    def __and__(self, other: Rect) -> Rect:
        if not isinstance(other, Rect):
            return NotImplemented
        return self.intersection(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rect):
            return NotImplemented
        return self._astuple() == other._astuple()

    def __hash__(self) -> int:
        return hash((Rect, *self._astuple()))

    def __repr__(self) -> str:
        return f"Rect(x={self._x!r}, y={self._y!r}, width={self._width!r}, height={self._height!r})"

    def _astuple(self) -> tuple[Number, Number, Number, Number]:
        return self._x, self._y, self._width, self._height
