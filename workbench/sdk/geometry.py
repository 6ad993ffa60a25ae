"""Plane geometry with the SDK's names and behaviour (``lunavl.sdk.image_utils.geometry``): ``Rect``, ``Point``,
``Size`` and ``Vec2D``.

Coordinates are image pixels: x grows to the right, y downwards. As in the SDK, a ``Rect`` built from ints is
an integer rectangle and one built with any float is a float rectangle (the SDK keeps a ``FaceEngine.Rect`` or
``RectFloat`` inside); rectangles are mutable (setters, ``adjust``), compare by value and are not hashable.
What needs the vendor's C++ core (``coreRect``, ``coreRectI``, ``coreRectF``, ``Point.toVector2``, and ``&``,
which in the SDK returns a core rect rather than an intersection) raises ``NotImplementedError`` saying so.
As in the SDK, a ``Rect`` takes new attributes (the SDK's has no ``__slots__``) while ``Size`` and ``Point``
do not; the stand-in's own state is class-private, so nothing the SDK lacks answers under a plain name.
"""
from __future__ import annotations

import numbers
from typing import Generic, NamedTuple, TypeVar

from ._placeholders import NEEDS_CORE, CoreOnlyError

__all__ = ["COORDINATE_TYPE", "Point", "Rect", "Size", "Vec2D"]

COORDINATE_TYPE = TypeVar("COORDINATE_TYPE", float, int)  #: generic type for allowed values type of coordinates

# The SDK's ``Rect.__and__`` evaluates ``self.coreRect and other.coreRect``: Python's ``and`` of two FaceEngine
# rects, i.e. the second one (a core rect, not a ``Rect``, and not the intersection its docstring promises).
_AND_IS_NOT_AN_INTERSECTION = (
    f"rect & other {NEEDS_CORE}; and in the SDK it is not an intersection: Rect.__and__ returns "
    "`self.coreRect and other.coreRect`, i.e. other's FaceEngine rect (not a Rect). For the intersection "
    "compute it from x, y, width and height: Rect.initByCorners(Point(max(a.x, b.x), max(a.y, b.y)), Point(min(a.right, b.right), min(a.bottom, b.bottom))) "
    "when it is valid (isValid())"
)


def _noCore(member: str) -> CoreOnlyError:
    return CoreOnlyError(f"{member} {NEEDS_CORE}; use x, y, width, height (or asDict()) instead")


def _number(value: object, name: str) -> int | float:
    """``value`` as a plain ``int`` or ``float``; rejects what the core's bindings reject (str, None, bool...)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an int or a float, got {type(value).__name__} {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


class Size(Generic[COORDINATE_TYPE]):
    """Rect size.

    Attributes:
        width: width
        height: height
    """

    __slots__ = ("width", "height")

    def __init__(self, width: COORDINATE_TYPE, height: COORDINATE_TYPE):
        self.width: COORDINATE_TYPE = width
        self.height: COORDINATE_TYPE = height

    def __repr__(self) -> str:
        return "width = {}, height = {}".format(self.width, self.height)

    def asDict(self) -> dict:
        """``{"width": width, "height": height}``."""
        return {"width": self.width, "height": self.height}


class Point(Generic[COORDINATE_TYPE]):
    """A point ``(x, y)``; like the SDK's, it compares by identity (the SDK defines no ``__eq__``).

    Attributes:
        x: x-coordinate
        y: y-coordinate
    """

    __slots__ = ["x", "y"]

    def __init__(self, x: COORDINATE_TYPE, y: COORDINATE_TYPE):
        self.x: COORDINATE_TYPE = x
        self.y: COORDINATE_TYPE = y

    @classmethod
    def fromVector2(cls, vec2: object) -> Point:
        """A point from anything with ``.x`` and ``.y`` (the SDK passes FaceEngine's ``Vector2i``/``Vector2f``)."""
        point = Point(0, 0)
        point.x = vec2.x  # type: ignore[attr-defined]
        point.y = vec2.y  # type: ignore[attr-defined]
        return point

    def toVector2(self) -> object:
        """FaceEngine's ``Vector2i``/``Vector2f``: core-only."""
        raise _noCore("Point.toVector2()")

    def asDict(self) -> tuple[int, int]:
        """``(int(x), int(y))``."""
        return int(self.x), int(self.y)

    def __repr__(self) -> str:
        return "x = {}, y = {}".format(self.x, self.y)


class Vec2D(NamedTuple):
    """Point on image"""

    # x pixel coordinate
    x: int
    # y pixel coordinate
    y: int


class Rect(Generic[COORDINATE_TYPE]):
    """An axis-aligned rectangle: top-left corner ``(x, y)``, ``width`` and ``height``.

    Integer unless any argument is a float, as in the SDK; the setters keep the kind (a float cannot be
    stored in an integer rectangle, as FaceEngine's bindings refuse it).
    """

    # The SDK's Rect has no __slots__ (instances take attributes) and keeps only ``coreRect``: the stand-in's
    # own numbers live under class-private names, so ``rect._x`` fails here as it does there.
    __slots__ = ("__dict__", "__isFloat", "__x", "__y", "__width", "__height")

    def __init__(
        self,
        x: COORDINATE_TYPE = 0,
        y: COORDINATE_TYPE = 0,
        width: COORDINATE_TYPE = 0,
        height: COORDINATE_TYPE = 0,
    ):
        values = [_number(value, f"Rect {name}") for name, value in zip(("x", "y", "width", "height"), (x, y, width, height))]
        self.__isFloat = any(isinstance(value, float) for value in values)
        self.__x, self.__y, self.__width, self.__height = (float(v) if self.__isFloat else v for v in values)

    @property
    def coreRect(self) -> object:
        """The FaceEngine rectangle the SDK keeps inside: core-only."""
        raise _noCore("Rect.coreRect")

    @property
    def coreRectI(self) -> object:
        """FaceEngine's integer rectangle: core-only."""
        raise _noCore("Rect.coreRectI")

    @property
    def coreRectF(self) -> object:
        """FaceEngine's float rectangle: core-only."""
        raise _noCore("Rect.coreRectF")

    @classmethod
    def fromCoreRect(cls, rect: object) -> Rect:
        """A rectangle from anything with ``x``, ``y``, ``width``, ``height`` (in the SDK: a FaceEngine rect)."""
        return cls(x=rect.x, y=rect.y, width=rect.width, height=rect.height)  # type: ignore[attr-defined]

    @classmethod
    def initByCorners(cls, topLeftCorner: Point, bottomRightBottom: Point) -> Rect:
        """The rectangle from its top-left and bottom-right corners."""
        return cls(
            topLeftCorner.x, topLeftCorner.y,
            bottomRightBottom.x - topLeftCorner.x, bottomRightBottom.y - topLeftCorner.y,
        )

    def __store(self, value: object, name: str) -> int | float:
        number = _number(value, f"Rect.{name}")
        if self.__isFloat:
            return float(number)
        if isinstance(number, float):
            raise TypeError(
                f"Rect.{name}: cannot store the float {number!r} in an integer Rect (the SDK's FaceEngine.Rect "
                "takes ints); build the Rect with floats, e.g. Rect(0.0, 0.0, 10.0, 10.0), or pass int(value)"
            )
        return number

    @property
    def x(self) -> COORDINATE_TYPE:
        """Left edge."""
        return self.__x  # type: ignore[return-value]

    @x.setter
    def x(self, value: COORDINATE_TYPE) -> None:
        self.__x = self.__store(value, "x")

    @property
    def y(self) -> COORDINATE_TYPE:
        """Top edge."""
        return self.__y  # type: ignore[return-value]

    @y.setter
    def y(self, value: COORDINATE_TYPE) -> None:
        self.__y = self.__store(value, "y")

    @property
    def width(self) -> COORDINATE_TYPE:
        """Width."""
        return self.__width  # type: ignore[return-value]

    @width.setter
    def width(self, value: COORDINATE_TYPE) -> None:
        self.__width = self.__store(value, "width")

    @property
    def height(self) -> COORDINATE_TYPE:
        """Height."""
        return self.__height  # type: ignore[return-value]

    @height.setter
    def height(self, value: COORDINATE_TYPE) -> None:
        self.__height = self.__store(value, "height")

    @property
    def bottom(self) -> COORDINATE_TYPE:
        """``y + height``."""
        return self.__y + self.__height  # type: ignore[return-value]

    @property
    def bottomRight(self) -> Point:
        """The corner ``(x + width, y + height)``."""
        return Point(self.__x + self.__width, self.__y + self.__height)

    @property
    def top(self) -> COORDINATE_TYPE:
        """``y``."""
        return self.__y  # type: ignore[return-value]

    @property
    def topLeft(self) -> Point:
        """The corner ``(x, y)``."""
        return Point(self.__x, self.__y)

    @property
    def left(self) -> COORDINATE_TYPE:
        """``x``."""
        return self.__x  # type: ignore[return-value]

    @property
    def right(self) -> COORDINATE_TYPE:
        """``x + width``."""
        return self.__x + self.__width  # type: ignore[return-value]

    @property
    def center(self) -> Point:
        """The centre; an integer rectangle rounds it down, as FaceEngine's integer arithmetic does."""
        if self.__isFloat:
            return Point(self.__x + self.__width / 2, self.__y + self.__height / 2)
        return Point(self.__x + self.__width // 2, self.__y + self.__height // 2)

    def getArea(self) -> COORDINATE_TYPE:
        """``width * height``."""
        return self.__width * self.__height  # type: ignore[return-value]

    def isInside(self, other: Rect) -> bool:
        """True when this rectangle lies inside ``other`` (shared edges count as inside)."""
        return (
            self.__x >= other.__x
            and self.__y >= other.__y
            and self.__x + self.__width <= other.__x + other.__width
            and self.__y + self.__height <= other.__y + other.__height
        )

    def isValid(self) -> bool:
        """True when width and height are positive."""
        return self.__width > 0 and self.__height > 0

    @property
    def size(self) -> Size:
        """``Size(width, height)``."""
        return Size(self.__width, self.__height)

    def __and__(self, other: Rect) -> Rect:
        """What the SDK's ``&`` does: core-only, and not an intersection (see ``_AND_IS_NOT_AN_INTERSECTION``)."""
        raise CoreOnlyError(_AND_IS_NOT_AN_INTERSECTION)

    def __eq__(self, other: object) -> bool:
        # The SDK raises here rather than returning NotImplemented; so does the stand-in.
        if not isinstance(other, Rect):
            raise NotImplementedError
        return self.__astuple() == other.__astuple()

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Rect):
            return False
        return self.__astuple() != other.__astuple()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: unhashable, as in the SDK

    def adjust(self, dx: COORDINATE_TYPE, dy: COORDINATE_TYPE, dw: COORDINATE_TYPE, dh: COORDINATE_TYPE) -> None:
        """Move the top-left corner by ``(dx, dy)`` and grow the size by ``(dw, dh)``, in place."""
        x, y, width, height = (
            self.__store(value + delta, name)
            for name, value, delta in zip(("x", "y", "width", "height"), self.__astuple(), (dx, dy, dw, dh))
        )
        self.__x, self.__y, self.__width, self.__height = x, y, width, height

    def adjusted(self, dx: COORDINATE_TYPE, dy: COORDINATE_TYPE, dw: COORDINATE_TYPE, dh: COORDINATE_TYPE) -> Rect:
        """A copy changed as ``adjust`` would change this one."""
        copy = Rect(*self.__astuple())
        copy.adjust(dx, dy, dw, dh)
        return copy

    def asDict(self) -> dict:
        """``{"x", "y", "width", "height"}``."""
        return {"x": self.__x, "y": self.__y, "width": self.__width, "height": self.__height}

    def __repr__(self) -> str:
        if self.__isFloat:
            return "x = {:f}, y = {:f}, width = {:f}, height = {:f}".format(*self.__astuple())
        return "x = {}, y = {}, width = {}, height = {}".format(*self.__astuple())

    def __astuple(self) -> tuple[int | float, int | float, int | float, int | float]:
        return self.__x, self.__y, self.__width, self.__height
