"""``workbench.result.CountResult``: the research result, and its adapter from the SDK's ``PeopleCount``."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import workbench
from helpers.sdk_like import Estimation
from workbench.result import CountResult
from workbench.sdk import PeopleCount, Rect, Vec2D


def test_exported_from_workbench() -> None:
    assert workbench.CountResult is CountResult


def test_from_a_people_count_built_the_sdk_way() -> None:
    result = CountResult.fromPeopleCount(PeopleCount(Estimation(3, [(1, 2), (3, 4), (5.5, 6)])))
    assert result.count == 3
    assert result.coordinates == (Vec2D(1, 2), Vec2D(3, 4), Vec2D(5.5, 6))
    assert result.pointsArray.dtype == np.float64
    np.testing.assert_array_equal(result.pointsArray, [[1, 2], [3, 4], [5.5, 6]])
    assert result.densityMap is None and result.densityArea is None
    assert (result.elapsed, result.estimatorName, result.inRange, result.extras) == (None, None, None, {})


def test_from_any_object_with_count_and_coordinates() -> None:
    class RealSdkLike:  # the service's own PeopleCount is not our class: only its shape counts
        count = 2
        coordinates = (Vec2D(1, 1), Vec2D(2, 2))

    result = CountResult.fromPeopleCount(RealSdkLike(), estimatorName="real", elapsed=0.5)
    assert (result.count, result.pointsArray.tolist(), result.estimatorName, result.elapsed) == (
        2, [[1, 1], [2, 2]], "real", 0.5
    )
    with pytest.raises(TypeError, match=r"\.count and \.coordinates.*got dict"):
        CountResult.fromPeopleCount({"count": 1})


def test_density_map_rides_on_the_core_estimation() -> None:
    density = np.ones((1, 1, 3, 4), np.float64)
    people = PeopleCount(Estimation(12, [], densityMap=density, densityArea=Rect(0, 0, 32, 24)))
    assert people.asDict() == {"count": 12, "coordinates": ()}, "the SDK surface does not show the extras"
    result = CountResult.fromPeopleCount(people)
    assert result.densityMap.shape == (3, 4) and result.densityMap.dtype == np.float32
    assert result.densityArea == Rect(0, 0, 32, 24)
    overridden = CountResult.fromPeopleCount(people, densityMap=None)
    assert overridden.densityMap is None, "explicit fields win over what the core estimation carries"


def test_a_count_result_passes_through_with_fields_applied() -> None:
    original = CountResult(1, [(1, 1)], estimatorName="a")
    copy = CountResult.fromPeopleCount(original, elapsed=0.25)
    assert (copy.estimatorName, copy.elapsed, original.elapsed) == ("a", 0.25, None)


def test_t2_has_a_count_and_no_points() -> None:
    result = CountResult(7)
    assert (result.count, result.coordinates, result.pointsArray.shape) == (7, (), (0, 2))


def test_immutable() -> None:
    result = CountResult(1, [(1, 2)], densityMap=np.zeros((2, 2)), densityArea=Rect(0, 0, 4, 4))
    with pytest.raises(AttributeError):
        result.elapsed = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.pointsArray[0, 0] = 99
    with pytest.raises(ValueError):
        result.densityMap[0, 0] = 99
    result.densityArea.x = 3
    assert result.densityArea == Rect(0, 0, 4, 4), "the SDK Rect is mutable; the result hands out copies"
    result.extras["x"] = 1
    assert result.extras == {}


@pytest.mark.parametrize(("count", "expected"), [(np.int64(4), 4), (np.uint8(4), 4), (4.0, 4), (np.float32(0), 0)])
def test_accepts_whole_numbers(count: object, expected: int) -> None:
    result = CountResult(count)  # type: ignore[arg-type]
    assert result.count == expected and type(result.count) is int


@pytest.mark.parametrize(
    ("count", "error", "message"),
    [
        (-1, ValueError, "count must be non-negative, got -1"),
        (np.int32(-3), ValueError, "non-negative"),
        (2.5, ValueError, r"whole number, got 2.5; round it first"),
        (math.nan, ValueError, "whole number"),
        (True, TypeError, "got bool"),
        ("3", TypeError, "count must be an int, got str"),
        (None, TypeError, "got NoneType"),
    ],
)
def test_rejects_bad_counts(count: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        CountResult(count)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("coordinates", "error", "message"),
    [
        (["xyz"], TypeError, "point 0 must be a Vec2D or an"),
        (np.zeros((2, 3)), ValueError, r"shape \(N, 2\).*\(2, 3\)"),
        ([(1, math.inf)], ValueError, "finite"),
        (5, TypeError, "got int"),
    ],
)
def test_rejects_bad_coordinates(coordinates: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        CountResult(1, coordinates)  # type: ignore[arg-type]


@pytest.mark.parametrize("empty", [[], np.empty((0, 2)), np.array([]), ()])
def test_empty_coordinates(empty: object) -> None:
    assert CountResult(3, empty).pointsArray.shape == (0, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(2, 6, 8), (1, 2, 6, 8), (8,), (0, 5)])
def test_density_map_must_be_2d(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=rf"non-empty 2-D \(H, W\).*{re.escape(str(shape))}"):
        CountResult(0, densityMap=np.zeros(shape, dtype=np.float32))


def test_field_types_are_checked() -> None:
    with pytest.raises(TypeError, match="densityArea must be a Rect"):
        CountResult(0, densityArea=(0, 0, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative number of seconds"):
        CountResult(0, elapsed=-1.0)
    with pytest.raises(ValueError, match="non-negative"):
        CountResult(0, elapsed=math.nan)
    with pytest.raises(TypeError, match="elapsed must be seconds"):
        CountResult(0, elapsed="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="estimatorName must be a str"):
        CountResult(0, estimatorName=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="inRange must be True, False or None"):
        CountResult(0, inRange="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="extras must be a mapping"):
        CountResult(0, extras=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"no field\(s\) \['points'\]"):
        CountResult(0).replace(points=[])


def test_as_dict_is_json_ready() -> None:
    result = CountResult(
        np.int64(2), [(np.int64(1), np.int64(2)), (3, 4)], densityMap=np.ones((2, 2)), elapsed=np.float32(0.25),
        estimatorName="onnx", inRange=np.bool_(True), extras={"model": "wbcount"},
    )
    data = result.asDict()
    assert data == {
        "version": 1, "count": 2, "coordinates": [[1, 2], [3, 4]], "estimator": "onnx", "elapsed": 0.25,
        "inRange": True, "densityArea": None, "extras": {"model": "wbcount"},
    }
    assert json.loads(json.dumps(data)) == data


def test_equality_compares_every_field() -> None:
    base = CountResult(1, [(1, 2)], densityMap=np.ones((2, 2)), densityArea=Rect(0, 0, 2, 2))
    assert base == base.replace()
    assert base != base.replace(densityMap=np.zeros((2, 2)))
    assert base != base.replace(densityArea=None)
    assert base != base.replace(elapsed=0.1)


def test_reprs() -> None:
    result = CountResult(2, [(1, 1), (2, 2)], densityMap=np.zeros((3, 4)), estimatorName="<b>x</b>", elapsed=0.0123)
    text = repr(result)
    assert "count=2" in text and "points=2" in text and "densityMap=(3, 4)" in text and "elapsed=0.0123" in text
    page = result._repr_html_()
    assert page.startswith("<table>") and "3&times;4" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "12.3" in page
    assert "&mdash;" in CountResult(0)._repr_html_()
