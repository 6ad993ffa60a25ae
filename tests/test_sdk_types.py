"""The SDK stand-in's geometry and people-count types against the behaviour the reference sources define
(``../shared/reference/lunavl``: geometry.py, people_count.py, base.py). The geometry module's own docstring
examples run in ``test_sdk_surface.py``."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import workbench.sdk as sdk
from workbench.images import parse_targets
from workbench.sdk import (
    BaseEstimation,
    EstimationTargets,
    ImageForPeopleEstimation,
    PeopleCount,
    Point,
    Rect,
    Size,
    Vec2D,
    VLImage,
)
from helpers.sdk_like import Estimation


@pytest.fixture
def image() -> VLImage:
    return VLImage(np.arange(20 * 30 * 3, dtype=np.uint32).reshape(20, 30, 3).astype(np.uint8))


def test_only_the_sdks_names_are_public() -> None:
    assert set(sdk.__all__) == {
        "BaseEstimation", "ColorFormat", "EstimationTargets", "ImageForPeopleEstimation", "ImageFormat",
        "LunaSDKException", "MemoryResidence", "PeopleCount", "Point", "Rect", "RotationAngle", "Size", "VLImage",
        "Vec2D",
    }
    for leaked in ("ImageDecodeError", "Number", "ImageSource", "PeopleCountEstimation", "pixelBounds"):
        assert not hasattr(sdk, leaked), leaked


# --- Vec2D, Point, Size ------------------------------------------------------------------------------------------


def test_vec2d_is_a_named_tuple() -> None:
    vec = Vec2D(3, 4.5)
    assert isinstance(vec, tuple) and vec._fields == ("x", "y")
    assert (vec.x, vec.y) == (3, 4.5) and tuple(vec) == (3, 4.5) and vec == (3, 4.5)
    assert Vec2D(x=1, y=2) == Vec2D(1, 2) and hash(Vec2D(1, 2)) == hash((1, 2))
    with pytest.raises(AttributeError):
        vec.x = 1  # type: ignore[misc]


def test_point() -> None:
    point = Point(1.7, 2.2)
    assert repr(point) == "x = 1.7, y = 2.2"
    assert point.asDict() == (1, 2)
    point.x = 5
    assert point.x == 5
    assert Point(1, 2) != Point(1, 2), "the SDK's Point defines no __eq__: it compares by identity"
    copied = Point.fromVector2(Vec2D(3, 4))
    assert (copied.x, copied.y) == (3, 4)
    with pytest.raises(NotImplementedError, match="C\\+\\+ core"):
        point.toVector2()


def test_size() -> None:
    size = Size(3, 4)
    assert repr(size) == "width = 3, height = 4"
    assert size.asDict() == {"width": 3, "height": 4}
    size.width = 7
    assert size.asDict()["width"] == 7


# --- Rect ----------------------------------------------------------------------------------------------------


def test_rect_defaults_kinds_and_repr() -> None:
    assert Rect().asDict() == {"x": 0, "y": 0, "width": 0, "height": 0}
    assert repr(Rect(1, 2, 3, 4)) == "x = 1, y = 2, width = 3, height = 4"
    assert repr(Rect(1.0, 2.0, 3.0, 4.0)) == "x = 1.000000, y = 2.000000, width = 3.000000, height = 4.000000"
    mixed = Rect(1.0, 2, 3.0, 4.0)
    assert mixed.asDict() == {"x": 1.0, "y": 2.0, "width": 3.0, "height": 4.0}
    assert all(type(v) is float for v in mixed.asDict().values())
    assert all(type(v) is int for v in Rect(np.int64(1), 2, 3, 4).asDict().values())


def test_rect_edges_corners_size() -> None:
    rect = Rect(1, 2, 3, 4)
    assert (rect.left, rect.top, rect.right, rect.bottom) == (1, 2, 4, 6)
    assert (rect.topLeft.x, rect.topLeft.y, rect.bottomRight.x, rect.bottomRight.y) == (1, 2, 4, 6)
    assert isinstance(rect.topLeft, Point) and isinstance(rect.size, Size)
    assert rect.size.asDict() == {"width": 3, "height": 4}
    assert (Rect(1, 2, -3, 4).left, Rect(1, 2, -3, 4).right) == (1, -2)


@pytest.mark.parametrize(
    ("rect", "center"),
    [(Rect(1, 2, 3, 4), (2, 4)), (Rect(1, 2, 3, 5), (2, 4)), (Rect(1, 2, 4, 4), (3, 4)),
     (Rect(1.0, 2.0, 4.0, 5.0), (3.0, 4.5))],
)
def test_rect_center(rect: Rect, center: tuple[float, float]) -> None:
    assert (rect.center.x, rect.center.y) == center


def test_rect_area_inside_valid() -> None:
    assert Rect(1, 2, 3, 4).getArea() == 12 and Rect(1.0, 2.0, 3.5, 4.5).getArea() == 15.75
    first, second = Rect(1, 2, 3, 4), Rect(1, 2, 3, 3)
    assert not first.isInside(second) and second.isInside(first) and first.isInside(first)
    assert Rect(1, 2, 3, 4).isValid() and not Rect(1, 2, -3, 3).isValid() and not Rect().isValid()


def test_rect_init_by_corners() -> None:
    assert Rect.initByCorners(Point(1, 2), Point(4, 6)) == Rect(1, 2, 3, 4)
    floats = Rect.initByCorners(Point(0.5, 1.0), Point(2.0, 3.5))
    assert floats.asDict() == {"x": 0.5, "y": 1.0, "width": 1.5, "height": 2.5}


def test_rect_from_core_rect_reads_its_fields() -> None:
    assert Rect.fromCoreRect(Rect(1, 2, 3, 4)) == Rect(1, 2, 3, 4)


def test_rect_and_is_what_the_sdks_code_does_not_an_intersection() -> None:
    """Issue 28, finding 3: the SDK's ``Rect.__and__`` returns ``self.coreRect and other.coreRect`` (the second
    rect's core rect), so ``&`` must not compute an intersection here; it fails saying why and what to use."""
    with pytest.raises(NotImplementedError, match=r"not an intersection.*self\.coreRect and other\.coreRect"):
        _ = Rect(1, 2, 3, 4) & Rect(2, 1, 3, 3)
    with pytest.raises(NotImplementedError, match=r"Rect\.initByCorners\(Point\(max\(a\.x, b\.x\)"):
        _ = Rect(0.0, 0.0, 2.5, 2.5) & Rect(1, 1, 5, 5)
    with pytest.raises(TypeError):
        _ = Rect(1, 2, 3, 4) | Rect(2, 1, 3, 3)  # type: ignore[operator]  # the SDK defines no other operator


def test_rect_equality_is_by_value_and_strict_like_the_sdk() -> None:
    assert Rect(1, 2, 3, 4) == Rect(1, 2, 3, 4) and Rect(1, 2, 3, 4) != Rect(1, 2, 3, 3)
    assert not (Rect(1, 2, 3, 4) != Rect(1, 2, 3, 4))
    with pytest.raises(NotImplementedError):
        _ = Rect(1, 2, 3, 4) == (1, 2, 3, 4)
    assert (Rect() != "rect") is False, "the SDK's __ne__ answers False for a non-Rect"
    with pytest.raises(TypeError, match="unhashable"):
        hash(Rect())


def test_rect_setters_keep_the_kind() -> None:
    rect = Rect(1, 2, 3, 4)
    rect.x, rect.y, rect.width, rect.height = 5, 6, 7, 8
    assert rect == Rect(5, 6, 7, 8)
    with pytest.raises(TypeError, match="cannot store the float 1.5 in an integer Rect"):
        rect.x = 1.5
    floats = Rect(0.0, 0.0, 1.0, 1.0)
    floats.width = 3
    assert floats.width == 3.0 and type(floats.width) is float
    with pytest.raises(TypeError, match="Rect.y must be an int or a float, got str"):
        floats.y = "2"  # type: ignore[assignment]


def test_rect_adjust_and_adjusted() -> None:
    rect = Rect(1, 2, 3, 4)
    moved = rect.adjusted(1, 1, -1, 2)
    assert moved == Rect(2, 3, 2, 6) and rect == Rect(1, 2, 3, 4)
    assert rect.adjust(1, 1, -1, 2) is None
    assert rect == Rect(2, 3, 2, 6)


def test_rect_rejects_what_the_core_rejects() -> None:
    with pytest.raises(TypeError, match="Rect x must be an int or a float, got str"):
        Rect("1", 2, 3, 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got bool"):
        Rect(True, 2, 3, 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Rect(1, 2, 3, 4, 5)  # type: ignore[call-arg]


@pytest.mark.parametrize("member", ["coreRect", "coreRectI", "coreRectF"])
def test_rect_core_members_say_why_they_fail(member: str) -> None:
    with pytest.raises(NotImplementedError, match=rf"Rect.{member} needs the vendor's C\+\+ core"):
        getattr(Rect(1, 2, 3, 4), member)


# --- EstimationTargets, ImageForPeopleEstimation ---------------------------------------------------------------


def test_estimation_targets() -> None:
    assert [member.name for member in EstimationTargets] == ["T1", "T2"]
    assert EstimationTargets["T1"] is EstimationTargets.T1 and EstimationTargets.T2.name == "T2"
    assert not hasattr(EstimationTargets, "parse"), "parsing names is the workbench's own: workbench.images"


def test_estimation_targets_values_are_core_flags_not_strings() -> None:
    """Issue 28, finding 3: the SDK's values are FaceEngine ``CrowdRequest`` flags, so comparing a value with
    its name is always false there and building a member from a string raises at import."""
    assert EstimationTargets.T1.value != "estimateHeadCountAndCoords"
    assert not (EstimationTargets.T2.value == "estimateHeadCount")
    assert type(EstimationTargets.T1.value).__name__ == "CrowdRequest"
    assert EstimationTargets.T1.value.name == "estimateHeadCountAndCoords"
    for name in ("estimateHeadCount", "estimateHeadCountAndCoords", "T1"):
        with pytest.raises(ValueError):
            EstimationTargets(name)
    assert EstimationTargets(EstimationTargets.T2.value) is EstimationTargets.T2
    assert pickle.loads(pickle.dumps(EstimationTargets.T1)) is EstimationTargets.T1, "a worker process gets the member"


def test_attribute_model_follows_the_sdks_slots(image: VLImage) -> None:
    """Issue 28, findings 3 and 9: the SDK's ``VLImage`` has ``__slots__`` (no ``_pixels``, no new attributes),
    its ``PeopleCount`` and ``Rect`` have none (instances take attributes), ``Point`` and ``Size`` have them.
    The stand-in's own state is class-private, so ``image._pixels`` and ``rect._x`` fail here as there."""
    for private in ("_pixels", "_format"):
        with pytest.raises(AttributeError):
            getattr(image, private)
    with pytest.raises(AttributeError):
        image._pixels = np.zeros((1, 1, 3), np.uint8)  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        image.label = "cam"  # type: ignore[attr-defined]
    result = PeopleCount(Estimation(2, [(1, 2), (3, 4)]))
    result.source = "cam"  # type: ignore[attr-defined]
    assert result.source == "cam" and result.count == 2
    rect = Rect(1, 2, 3, 4)
    rect.label = "door"  # type: ignore[attr-defined]
    assert rect.label == "door" and rect == Rect(1, 2, 3, 4)  # type: ignore[attr-defined]
    for private in ("_x", "_isFloat", "_astuple", "_store"):
        with pytest.raises(AttributeError):
            getattr(rect, private)
    for value in (Point(1, 2), Size(1, 2)):
        with pytest.raises(AttributeError):
            value.label = "x"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "expected"), [("T1", EstimationTargets.T1), (" t2 ", EstimationTargets.T2),
                                                  (EstimationTargets.T2, EstimationTargets.T2)])
def test_parse_targets(value: object, expected: EstimationTargets) -> None:
    assert parse_targets(value) is expected  # type: ignore[arg-type]


def test_parse_targets_errors() -> None:
    with pytest.raises(ValueError, match="unknown estimation targets 'T3'"):
        parse_targets("T3")
    with pytest.raises(TypeError, match="got int"):
        parse_targets(1)  # type: ignore[arg-type]


def test_image_for_people_estimation_is_a_named_tuple(image: VLImage) -> None:
    request = ImageForPeopleEstimation(image, Rect(1, 2, 3, 4))
    assert request._fields == ("image", "detectArea")
    picture, area = request
    assert picture is image and area == Rect(1, 2, 3, 4) and request[1] is request.detectArea
    with pytest.raises(TypeError):
        ImageForPeopleEstimation(image)  # type: ignore[call-arg]  # detectArea is required, as in the SDK


def test_reference_plugin_flow(image: VLImage) -> None:
    """Crop to the detect area, read pixels, shift points back by int(area.x), int(area.y), as plugins do."""
    request = ImageForPeopleEstimation(image, Rect(4.5, 3.2, 10, 8))
    crop = request.image.crop(request.detectArea)
    pixels = crop.asNPArray()
    assert pixels.shape == (8, 10, 3), "the SDK crops with coreRectI: coordinates truncated"
    offset_x, offset_y = int(request.detectArea.x), int(request.detectArea.y)
    np.testing.assert_array_equal(pixels[0, 0], image.asNPArray()[offset_y, offset_x])
    result = PeopleCount(Estimation(1, [(2 + offset_x, 1 + offset_y)]))
    assert result.coordinates == (Vec2D(6, 4),)


# --- PeopleCount ---------------------------------------------------------------------------------------------


def test_people_count_reads_the_core_estimation() -> None:
    core = Estimation(3, [(1, 2), (3, 4), (5.5, 6)])
    result = PeopleCount(core)
    assert isinstance(result, BaseEstimation) and result.coreEstimation is core
    assert result.count == 3
    assert result.coordinates == (Vec2D(1, 2), Vec2D(3, 4), Vec2D(5.5, 6))
    assert result.asDict() == {"count": 3, "coordinates": ((1, 2), (3, 4), (5.5, 6))}
    assert repr(result) == str(result.asDict())
    core.count = 4
    assert result.count == 4, "read on demand, as the SDK does"


def test_people_count_has_no_research_fields() -> None:
    result = PeopleCount(Estimation(0, []))
    for extra in ("points", "pointsArray", "densityMap", "densityArea", "elapsed", "estimatorName", "fromPoints"):
        assert not hasattr(result, extra), extra
    assert json.dumps(result.asDict()) == '{"count": 0, "coordinates": []}'


def test_base_estimation_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        BaseEstimation(None)  # type: ignore[abstract]
