"""Estimator output, checked once where it enters the workbench: the host's estimator pool.

Every answer an estimator gives (a plugin's ``PeopleCount``, the default's ``CountResult``, the vendor SDK's) is
wrapped as a ``CountResult`` in ``EstimatorPool.estimate`` and checked here against the image it answers, before
the server, ``compare``, the prediction cache or the Explorer see it. What passes is safe for all of them:

* the count is at most the pixels it was counted in (a count of 1e30 overflowed SQLite's integers in the cache);
* head points lie inside the image (give or take ``POINT_MARGIN``: one at 1e12 passed), are no more than the count
  (each point is a counted person: 300 points for a count of 3 made the report's MAE and GAME(0) disagree by 236
  people) and at most ``MAX_POINTS`` (a million points took 20 s and 40 MB to send);
* a density map is finite (an infinite one ended ``compare`` in its JSON export; NaN made GAME NaN silently), not
  negative beyond ``NEGATIVE_DENSITY_FLOOR``, and no larger than its image.

A result that fails fails its image alone: ``EstimatorOutputError`` names the estimator and what was wrong with
each failed image, and carries the other images' results, so ``compare`` scores those and reports the rest.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..images import image_size
from ..plugins import EstimatorContractError
from ..result import CountResult

__all__ = [
    "MAX_POINTS", "NEGATIVE_DENSITY_FLOOR", "POINT_MARGIN", "EstimatorOutputError", "checked_output", "output_problem",
]

#: Head points one result may hold: four times the most any public benchmark annotates in one image
#: (JHU-Crowd++: 25,791), some 4 MB of JSON.
MAX_POINTS = 100_000
#: The lowest density a map cell may hold, in people: models without a final ReLU (CSRNet's 1x1 output
#: convolution) leave cells slightly below zero; a cell further down is not a density.
NEGATIVE_DENSITY_FLOOR = -0.01
#: Pixels a head point may lie outside its image: the centre of a partly covered edge cell of a model with a stride
#: up to 32 (a 257-pixel-wide image's last 8-pixel cell is centred at 260, and the service takes that answer).
POINT_MARGIN = 16
#: Map cells a density map may have beyond one per image pixel, across and down: room for the padding a model's
#: stride needs (the default model pads to a multiple of 8).
MAP_PADDING = 64
#: Failed images the error's message lists; all of them are in ``failures``.
_LISTED = 3


class EstimatorOutputError(EstimatorContractError):
    """An estimator answered some images of a call with results the workbench cannot use.

    Attributes:
        failures: the failed images' positions in the call -> what was wrong, in words.
        results: the call's results in order, ``None`` where the image failed.
    """

    def __init__(self, estimator: str, failures: Mapping[int, str], results: Sequence[CountResult | None]) -> None:
        self.failures = dict(failures)
        self.results = list(results)
        listed = "; ".join(f"image {position}: {reason}" for position, reason in list(self.failures.items())[:_LISTED])
        more = f"; {len(self.failures) - _LISTED} more" if len(self.failures) > _LISTED else ""
        super().__init__(
            estimator, f"unusable output for {len(self.failures)} of {len(self.results)} image(s): {listed}{more}"
        )


def checked_output(
    estimator: str, results: Sequence[Any], images: Sequence[Any], complete: Callable[[CountResult], CountResult]
) -> list[CountResult]:
    """Each of ``results`` as a ``CountResult`` (a ``PeopleCount`` wrapped, then ``complete``d: the host fills
    the timing and the name), checked against its image (``output_problem``).

    Raises:
        EstimatorOutputError: some results could not be wrapped or failed a check; it carries the good ones.
    """
    checked: list[CountResult | None] = []
    failures: dict[int, str] = {}
    for position, (result, image) in enumerate(zip(results, images)):
        try:
            wrapped = complete(_as_count_result(result))
        except (TypeError, ValueError) as error:  # CountResult's own checks (a fractional count, NaN points)
            failures[position] = f"unusable PeopleCount: {error}"
            checked.append(None)
            continue
        problem = output_problem(wrapped, image)
        if problem is not None:
            failures[position] = problem
        checked.append(None if problem is not None else wrapped)
    if failures:
        raise EstimatorOutputError(estimator, failures, checked)
    return checked  # type: ignore[return-value]  # no None without a failure


def _as_count_result(result: Any) -> CountResult:
    """``result`` as a ``CountResult``; a ``PeopleCount``'s coordinates (built anew on each read) read once and
    counted before they are copied: a million of them held the host's loop for seconds."""
    if isinstance(result, CountResult):
        return result
    try:
        coordinates = result.coordinates
    except AttributeError as error:  # the estimation it was built from has no points.getPoints()
        raise TypeError(f"its coordinates cannot be read: {error}") from None
    if len(coordinates) > MAX_POINTS:
        raise ValueError(_too_many_points(len(coordinates)))
    return CountResult.fromPeopleCount(result, coordinates=coordinates)


def _too_many_points(points: int) -> str:
    return f"{points} head points, more than the {MAX_POINTS} a result may hold"


def output_problem(result: CountResult, image: Any) -> str | None:
    """What is wrong with ``result`` as the answer for ``image`` (a ``VLImage``, or an ``(image, detectArea)``
    pair as the host hands estimators), or ``None`` when nothing is."""
    picture, area = image if isinstance(image, tuple) else (image, None)
    width, height = image_size(picture)
    counted = width * height if area is None else int(np.ceil(area.width) * np.ceil(area.height))
    if result.count > counted:
        return f"count {result.count} is more than the {counted} pixels it was counted in"
    points = result.pointsArray
    if len(points) > MAX_POINTS:
        return _too_many_points(len(points))
    if len(points) > result.count:
        return (
            f"{len(points)} head points for a count of {result.count}: each point is a counted person, so there "
            "cannot be more points than the count"
        )
    xs, ys = points[:, 0], points[:, 1]
    outside = (xs < -POINT_MARGIN) | (xs > width + POINT_MARGIN) | (ys < -POINT_MARGIN) | (ys > height + POINT_MARGIN)
    if outside.any():
        x, y = points[np.argmax(outside)]
        return (
            f"{int(outside.sum())} head point(s) outside the {width}x{height} image (by more than {POINT_MARGIN} "
            f"pixels), e.g. ({x:.6g}, {y:.6g})"
        )
    return _map_problem(result.densityMap, width, height)


def _map_problem(density: np.ndarray | None, width: int, height: int) -> str | None:
    if density is None:
        return None
    cells_high, cells_wide = density.shape
    if cells_wide > width + MAP_PADDING or cells_high > height + MAP_PADDING:
        return (
            f"density map of {cells_wide}x{cells_high} cells for a {width}x{height} image: a map has at most one cell "
            f"per pixel (and {MAP_PADDING} more across and down for padding)"
        )
    finite = np.isfinite(density)
    if not finite.all():
        bad = density[~finite]
        kinds = ", ".join(kind for kind, found in (
            ("NaN", np.isnan(bad).any()), ("inf", np.isposinf(bad).any()), ("-inf", np.isneginf(bad).any())
        ) if found)
        return f"density map has {bad.size} non-finite cell(s) ({kinds})"
    lowest = float(density.min())
    if lowest < NEGATIVE_DENSITY_FLOOR:
        return (
            f"density map has cells down to {lowest:.6g} people; a density cannot be negative (down to "
            f"{NEGATIVE_DENSITY_FLOOR} is tolerated as a model's rounding)"
        )
    return None
