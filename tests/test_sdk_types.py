"""Rect, Vec2D, EstimationTargets, ImageForPeopleEstimation and PeopleCount."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import workbench.sdk as sdk
from workbench.sdk import EstimationTargets, ImageForPeopleEstimation, PeopleCount, Rect, Vec2D, VLImage


class Estimation:
    """Built the way the service's reference estimator builds its result: a count and (x, y) tuples."""

    class Points:
        def __init__(self, coordinates: list[tuple[int, int]]) -> None:
            self.coordinates = coordinates

        def getPoints(self) -> list[Vec2D]:
            return [Vec2D(x, y) for x, y in self.coordinates]

    def __init__(self, count: object, coordinates: list[tuple[int, int]]) -> None:
        self.count = count
        self.points = self.Points(coordinates)


@pytest.fixture
def image() -> VLImage:
    return VLImage(np.arange(20 * 30 * 3, dtype=np.uint32).reshape(20, 30, 3).astype(np.uint8))


def test_public_api_is_flat() -> None:
    assert set(sdk.__all__) >= {
        "VLImage",
        "ImageDecodeError",
        "Rect",
        "Vec2D",
        "ImageForPeopleEstimation",
        "EstimationTargets",
        "PeopleCount",
    }
    for name in sdk.__all__:
        assert getattr(sdk, name) is not None


# --- Vec2D -------------------------------------------------------------------------------------------------------


def test_vec2d() -> None:
    point = Vec2D(3, 4.5)
    assert (point.x, point.y) == (3, 4.5)
    x, y = point
    assert (x, y) == (3, 4.5)
    assert point == Vec2D(3.0, 4.5)
    assert point != Vec2D(4.5, 3)
    assert len({point, Vec2D(3, 4.5)}) == 1
    assert repr(point) == "Vec2D(x=3, y=4.5)"


def test_vec2d_converts_numpy_scalars_to_plain_numbers() -> None:
    point = Vec2D(np.int64(2), np.float32(1.5))
    assert type(point.x) is int and type(point.y) is float
    json.dumps(list(point))


@pytest.mark.parametrize(
    ("x", "error"), [("1", TypeError), (None, TypeError), (True, TypeError), (math.nan, ValueError)]
)
def test_vec2d_rejects_non_numbers(x: object, error: type) -> None:
    with pytest.raises(error, match="Vec2D.x"):
        Vec2D(x, 0)  # type: ignore[arg-type]


def test_vec2d_is_immutable() -> None:
    with pytest.raises(AttributeError):
        Vec2D(1, 2).x = 5  # type: ignore[misc]


# --- Rect ----------------------------------------------------------------------------------------------------


def test_rect_properties() -> None:
    rect = Rect(10, 20, 30, 40)
    assert (rect.x, rect.y, rect.width, rect.height) == (10, 20, 30, 40)
    assert rect.topLeft == Vec2D(10, 20)
    assert rect.bottomRight == Vec2D(40, 60)
    assert rect.center == Vec2D(25, 40)
    assert type(rect.center.x) is int
    assert rect.area == 1200
    assert rect.isValid()
    assert repr(rect) == "Rect(x=10, y=20, width=30, height=40)"


def test_rect_defaults_and_floats() -> None:
    assert Rect() == Rect(0, 0, 0, 0)
    assert not Rect().isValid()
    assert Rect().area == 0
    rect = Rect(0.5, 1, 2, 3.5)
    assert rect.center == Vec2D(1.5, 2.75)
    assert rect.area == 7.0
    assert Rect(1, 1, -2, 3).area == 0


def test_rect_from_coordinates_in_any_order() -> None:
    assert Rect.fromCoordinates(1, 2, 11, 22) == Rect(1, 2, 10, 20)
    assert Rect.fromCoordinates(11, 22, 1, 2) == Rect(1, 2, 10, 20)


def test_rect_intersection() -> None:
    a = Rect(0, 0, 10, 10)
    b = Rect(5, 6, 10, 10)
    assert a.intersection(b) == Rect(5, 6, 5, 4)
    assert (a & b) == (b & a) == Rect(5, 6, 5, 4)
    assert (a & Rect(20, 20, 1, 1)) == Rect()
    assert not (a & Rect(10, 0, 5, 5)).isValid(), "touching edges do not overlap"


def test_rect_contains() -> None:
    outer = Rect(0, 0, 10, 10)
    assert outer.contains(Rect(0, 0, 10, 10))
    assert outer.contains(Rect(2.5, 3, 1, 1))
    assert not outer.contains(Rect(5, 5, 6, 1))
    assert not outer.contains(Rect(-1, 0, 2, 2))
    with pytest.raises(TypeError, match="expects a Rect"):
        outer.contains((0, 0, 1, 1))  # type: ignore[arg-type]


def test_rect_equality_and_hash() -> None:
    assert Rect(1, 2, 3, 4) == Rect(1.0, 2.0, 3.0, 4.0)
    assert Rect(1, 2, 3, 4) != Rect(1, 2, 3, 5)
    assert Rect(1, 2, 3, 4) != (1, 2, 3, 4)
    assert {Rect(1, 2, 3, 4): "a"}[Rect(1, 2, 3, 4)] == "a"


def test_rect_rejects_bad_coordinates() -> None:
    with pytest.raises(TypeError, match="Rect.width must be an int or a float"):
        Rect(0, 0, "10", 10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Rect.x must be finite"):
        Rect(math.inf, 0, 1, 1)


# --- EstimationTargets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("T1", EstimationTargets.T1),
        ("t2", EstimationTargets.T2),
        (" t1 ", EstimationTargets.T1),
        (EstimationTargets.T2, EstimationTargets.T2),
    ],
)
def test_estimation_targets_parse(value: object, expected: EstimationTargets) -> None:
    assert EstimationTargets.parse(value) is expected  # type: ignore[arg-type]


def test_estimation_targets_parse_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown estimation targets 'T3'.*'T1' \(count and points\).*'T2'"):
        EstimationTargets.parse("T3")
    with pytest.raises(TypeError, match="EstimationTargets or a string, got int"):
        EstimationTargets.parse(1)  # type: ignore[arg-type]


# --- ImageForPeopleEstimation --------------------------------------------------------------------------------


def test_image_for_people_estimation(image: VLImage) -> None:
    whole = ImageForPeopleEstimation(image)
    assert whole.image is image
    assert whole.detectArea is None
    assert whole.area == Rect(0, 0, 30, 20)

    area = Rect(5, 5, 10, 10)
    part = ImageForPeopleEstimation(image, area)
    assert part.detectArea == area
    assert part.area == area
    assert "detectArea=Rect(x=5" in repr(part)


@pytest.mark.parametrize(
    ("area", "message"),
    [
        (Rect(25, 0, 10, 10), r"detectArea Rect\(x=25, .*\) is not inside the image \(30x20\)"),
        (Rect(-5, -5, 100, 100), r"is not inside the image \(30x20\)"),
        (Rect(1, 1, 0, 5), r"detectArea Rect\(.*\) is empty"),
    ],
)
def test_image_for_people_estimation_checks_the_area(image: VLImage, area: Rect, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ImageForPeopleEstimation(image, area)


def test_image_for_people_estimation_types(image: VLImage) -> None:
    with pytest.raises(TypeError, match="image must be a VLImage"):
        ImageForPeopleEstimation(np.zeros((2, 2, 3)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="detectArea must be a Rect"):
        ImageForPeopleEstimation(image, (0, 0, 5, 5))  # type: ignore[arg-type]


def test_reference_plugin_flow(image: VLImage) -> None:
    """Crop to the detect area, read pixels, shift points back by int(area.x), int(area.y), as plugins do."""
    request = ImageForPeopleEstimation(image, Rect(4.5, 3.2, 10, 8))
    crop = request.image.crop(request.detectArea)
    pixels = crop.asNPArray()
    assert pixels.shape == (crop.rect.height, crop.rect.width, 3)
    offset_x, offset_y = int(request.detectArea.x), int(request.detectArea.y)
    np.testing.assert_array_equal(pixels[0, 0], image.asNPArray()[offset_y, offset_x])
    result = PeopleCount(Estimation(1, [(2 + offset_x, 1 + offset_y)]))
    assert result.coordinates == (Vec2D(6, 4),)
