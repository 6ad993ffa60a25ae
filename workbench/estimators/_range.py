"""A model's training range, and whether an image lies inside it, judged by evidence that says what it is.

A model description may declare it (``"range"`` in the JSON; ``python -m workbench.training.calibrate_range``
writes it from training data, see ``models/MODEL_CARD.md`` for the default's):

    "range": {"people": [7, 53], "head_spacing_px": [27, 135], "head_size_px": [10, 100],
              "evidence": {...the density-map evidence, below...}}

Each bound pair is ``[low, high]`` (a ``null`` side is open). What each one is judged on:

* ``people`` (per image, or per ``detectArea``), ``people_per_megapixel`` (per million analysed pixels) and
  ``head_spacing_px`` (the median distance from each head to its nearest neighbour: the crowding, in pixels,
  whatever the image's resolution) are read from the **annotations** when an image has them (``compare``
  does). Without annotations an estimate *above* ``people`` or ``people_per_megapixel`` still says "outside"
  (either the scene or the estimator is beyond them); an estimate inside them says nothing, because an
  estimator that under-counts a denser scene lands inside too.
* ``head_size_px`` states the head heights the model saw: documentation, not checked.
* ``evidence`` judges an image without annotations by its **density map**, not by the count: six statistics of
  the map (``MAP_STATISTICS``) scored by a logistic model fitted on training images to tell where the model
  was within its error tolerance and where it was not. A score above ``outside_above`` is "outside"; a score at
  or below ``inside_below`` with every statistic within the ``inside`` bounds is "inside"; anything between is
  "cannot tell" (``None``), as is a map holding less than ``min_people``.

``Verdict.evidence`` names what decided (``ANNOTATIONS``, ``DENSITY_MAP``, ``ESTIMATE``, or the estimator's own
flag, ``ESTIMATOR``), so a report can say which kind of evidence gave each flag. The declared range travels
with every result of an estimator that has one (``CountResult.extras[TRAINING_RANGE_KEY]``, calibration
details left out), so ``compare`` can judge annotated images by it, for the default model and plugins alike.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..result import TRAINING_RANGE_KEY, CountResult

__all__ = [
    "ANNOTATIONS",
    "DENSITY_MAP",
    "ESTIMATE",
    "ESTIMATOR",
    "MAP_STATISTICS",
    "NO_RANGE",
    "DensityEvidence",
    "TrainingRange",
    "Verdict",
    "head_spacing",
    "judge_result",
    "map_statistics",
]

Bounds = tuple[float | None, float | None]

#: What decided a verdict: the annotated heads, the density map's statistics, the estimate alone (only ever
#: "outside": above a declared upper bound), or the flag the estimator set itself (no range declared).
ANNOTATIONS = "annotations"
DENSITY_MAP = "density map"
ESTIMATE = "estimate"
ESTIMATOR = "estimator"
#: ``Verdict.reason`` where the result declares no range and the estimator set no flag: nothing to judge.
NO_RANGE = "no training range declared"

#: The density map's statistics the evidence scores, in people per map cell (so they belong to one model):
#: ``local_crowding`` people within one cell of where the people are (density-weighted 3x3 sum);
#: ``peak_height`` the median height of the map's peaks (3x3 local maxima above ``PEAK_FLOOR``);
#: ``people_per_peak`` people per peak (above 1: the model sees heads it cannot separate);
#: ``occupied_share`` the share of cells above ``OCCUPIED_FLOOR``; ``cell_p99`` the 99th percentile cell;
#: ``top_cell_share`` the share of the count in the top 1 % of cells.
MAP_STATISTICS = ("local_crowding", "peak_height", "people_per_peak", "occupied_share", "cell_p99", "top_cell_share")
PEAK_FLOOR = 0.01
OCCUPIED_FLOOR = 1e-3


@dataclass(frozen=True)
class Verdict:
    """Whether an image is inside a training range (``None``: cannot tell), what decided it, and why."""

    in_range: bool | None
    evidence: str | None
    reason: str


def head_spacing(points: np.ndarray) -> float | None:
    """The median distance in pixels from each head to its nearest neighbour; ``None`` for fewer than 2 heads."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) < 2:
        return None
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(points).query(points, k=2)
    return float(np.median(distances[:, 1]))


def map_statistics(density: np.ndarray) -> dict[str, float] | None:
    """``MAP_STATISTICS`` of a density map, or ``None`` for a map with no mass (nothing to measure)."""
    from scipy import ndimage

    cells = np.asarray(density, dtype=np.float64)
    total = float(cells.sum())
    if cells.ndim != 2 or cells.size == 0 or not total > 0:
        return None
    around = ndimage.uniform_filter(cells, 3, mode="constant") * 9
    highest_near = ndimage.maximum_filter(cells, 3, mode="constant", cval=-np.inf)
    peaks = cells[(cells == highest_near) & (cells > PEAK_FLOOR)]
    top = max(1, cells.size // 100)
    return {
        "local_crowding": float((cells * around).sum() / total),
        "peak_height": float(np.median(peaks)) if len(peaks) else 0.0,
        "people_per_peak": total / max(len(peaks), 1),
        "occupied_share": float((cells > OCCUPIED_FLOOR).mean()),
        "cell_p99": float(np.quantile(cells, 0.99)),
        "top_cell_share": float(np.partition(cells.ravel(), cells.size - top)[-top:].sum() / total),
    }


@dataclass(frozen=True)
class DensityEvidence:
    """The calibrated density-map evidence: a logistic score over ``MAP_STATISTICS`` and its thresholds.

    ``score = bias + sum(weights * (statistic - mean) / scale)``: high where the calibration images were off
    by more than the tolerance. ``calibration`` records how it was fitted (command, data, figures); it is kept
    in the model description and left out of results.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    outside_above: float
    inside_below: float
    inside: Mapping[str, Bounds]
    min_people: float = 1.0
    calibration: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: Any, where: str) -> DensityEvidence:
        """Parse ``range.evidence``; every error names ``where`` and the key."""
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be a JSON object, got {type(data).__name__}")
        required = ("statistics", "mean", "scale", "weights", "bias", "outside_above", "inside_below", "inside")
        known = (*required, "min_people", "calibration")
        missing = [key for key in required if key not in data]
        unknown = sorted(set(data) - set(known))
        if missing or unknown:
            raise ValueError(f"{where}: missing key(s) {missing}, unknown key(s) {unknown}; keys: {', '.join(known)}"
                             " (write it with `python -m workbench.training.calibrate_range`)")
        if list(data["statistics"]) != list(MAP_STATISTICS):
            raise ValueError(f"{where}.statistics must be {list(MAP_STATISTICS)} (the statistics this workbench "
                             f"computes, in that order), got {data['statistics']!r}; calibrate the model again")
        vectors = {
            key: _numbers(data[key], f"{where}.{key}", len(MAP_STATISTICS)) for key in ("mean", "scale", "weights")
        }
        if any(not s > 0 for s in vectors["scale"]):
            raise ValueError(f"{where}.scale must be positive, got {data['scale']!r}")
        bias, above, below = (_number(data[key], f"{where}.{key}") for key in ("bias", "outside_above", "inside_below"))
        if below > above:
            raise ValueError(f"{where}: inside_below ({below}) must not exceed outside_above ({above})")
        inside = data["inside"]
        if not isinstance(inside, dict) or sorted(inside) != sorted(MAP_STATISTICS):
            raise ValueError(f"{where}.inside must give [low, high] for each of {', '.join(MAP_STATISTICS)}")
        calibration = data.get("calibration", {})
        if not isinstance(calibration, dict):
            raise ValueError(f"{where}.calibration must be a JSON object, got {type(calibration).__name__}")
        return cls(
            vectors["mean"], vectors["scale"], vectors["weights"], bias, above, below,
            {key: _bounds(inside[key], f"{where}.inside.{key}") for key in MAP_STATISTICS},
            _number(data.get("min_people", 1.0), f"{where}.min_people"), calibration,
        )

    def to_dict(self, *, calibration: bool = True) -> dict[str, Any]:
        """The JSON form; ``calibration=False`` leaves out how it was fitted (what results carry)."""
        data: dict[str, Any] = {
            "statistics": list(MAP_STATISTICS), "mean": list(self.mean), "scale": list(self.scale),
            "weights": list(self.weights), "bias": self.bias, "outside_above": self.outside_above,
            "inside_below": self.inside_below, "inside": {key: list(self.inside[key]) for key in MAP_STATISTICS},
            "min_people": self.min_people,
        }
        if calibration and self.calibration:
            data["calibration"] = dict(self.calibration)
        return data

    def score(self, statistics: Mapping[str, float]) -> float:
        """The logistic score of one map's statistics (above 0: more like the calibration images that were off)."""
        values = np.array([statistics[key] for key in MAP_STATISTICS])
        standard = (values - np.array(self.mean)) / np.array(self.scale)
        return float(self.bias + standard @ np.array(self.weights))

    def judge(self, density: np.ndarray) -> Verdict:
        """Inside, outside or cannot tell, from the map alone."""
        total = float(np.asarray(density, dtype=np.float64).sum())
        statistics = map_statistics(density) if total >= self.min_people else None
        if statistics is None:
            return Verdict(None, None, f"the density map holds {total:.1f} people, under the {self.min_people:g} "
                                       "its evidence needs")
        score = self.score(statistics)
        if score > self.outside_above:
            return Verdict(False, DENSITY_MAP, f"density-map score {score:.2f} above {self.outside_above:.2f}")
        strays = [key for key in MAP_STATISTICS if not _inside(statistics[key], self.inside[key])]
        if score <= self.inside_below and not strays:
            return Verdict(True, DENSITY_MAP, f"density-map score {score:.2f} at or below {self.inside_below:.2f}")
        why = f"{', '.join(strays)} outside what calibration saw" if strays else "between the two thresholds"
        return Verdict(None, None, f"density-map score {score:.2f}, {why}: cannot tell")


@dataclass(frozen=True)
class TrainingRange:
    """Declared bounds (``None`` where not declared), the density-map evidence, and the judgements."""

    people: Bounds | None = None
    people_per_megapixel: Bounds | None = None
    head_spacing_px: Bounds | None = None
    head_size_px: Bounds | None = None
    evidence: DensityEvidence | None = None

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> TrainingRange:
        """Parse the ``"range"`` object of a model description.

        Raises:
            ValueError: not an object, an unknown key, a bound pair that is not ``[low, high]`` numbers (or null)
                with ``0 <= low <= high``, or malformed evidence; the message names the source and the key.
        """
        if not isinstance(data, dict):
            raise ValueError(f"{source}: 'range' must be a JSON object, got {type(data).__name__}")
        known = tuple(cls.__dataclass_fields__)
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{source}: unknown 'range' key(s) {', '.join(map(repr, unknown))}; known: "
                             f"{', '.join(known)}")
        fields: dict[str, Any] = {
            key: _bounds(value, f"{source}: range.{key}") for key, value in data.items() if key != "evidence"
        }
        if "evidence" in data:
            fields["evidence"] = DensityEvidence.from_dict(data["evidence"], f"{source}: range.evidence")
        return cls(**fields)

    def to_dict(self, *, calibration: bool = True) -> dict[str, Any]:
        """The JSON form (declared keys only); ``calibration=False`` leaves out how the evidence was fitted."""
        data: dict[str, Any] = {
            key: list(value) for key, value in vars(self).items() if value is not None and key != "evidence"
        }
        if self.evidence is not None:
            data["evidence"] = self.evidence.to_dict(calibration=calibration)
        return data

    def judge_annotated(self, points: np.ndarray, area_pixels: float) -> Verdict:
        """Judge an image by its annotated heads over ``area_pixels``: the estimate plays no part."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        declared = [bounds for bounds in (self.people, self.people_per_megapixel, self.head_spacing_px) if bounds]
        if not declared:
            return Verdict(None, None, "no annotated bounds declared (people, people_per_megapixel, head_spacing_px)")
        checks = [("annotated people", float(len(points)), self.people, "")]
        if area_pixels > 0:
            checks.append(("annotated people per megapixel", len(points) / (area_pixels / 1e6),
                           self.people_per_megapixel, ""))
        spacing = head_spacing(points)
        if spacing is not None:
            checks.append(("annotated head spacing", spacing, self.head_spacing_px, " px"))
        for what, value, bounds, unit in checks:
            if bounds is not None and not _inside(value, bounds):
                return Verdict(False, ANNOTATIONS, f"{what} {value:.4g}{unit} outside {_show(bounds)}")
        return Verdict(True, ANNOTATIONS, "annotated people and head spacing inside the declared bounds")

    def judge_estimate(self, density: np.ndarray | None, count: float, area_pixels: float) -> Verdict:
        """Judge an image without annotations: by the density map's evidence; the estimate alone can only say
        "outside" (above an upper bound), never "inside"."""
        checks = [("estimated people", count, self.people)]
        if area_pixels > 0:
            checks.append(("estimated people per megapixel", count / (area_pixels / 1e6), self.people_per_megapixel))
        for what, value, bounds in checks:
            if bounds is not None and bounds[1] is not None and value > bounds[1]:
                return Verdict(False, ESTIMATE, f"{what} {value:.4g} above {bounds[1]:g}")
        if self.evidence is None:
            return Verdict(None, None, "no density-map evidence declared, and a count cannot show it is inside")
        if density is None:
            return Verdict(None, None, "the estimator gave no density map to judge")
        return self.evidence.judge(density)

    def result_fields(self, density: np.ndarray, area_pixels: float) -> dict[str, Any]:
        """``inRange`` and the declared range for an estimator's ``CountResult`` from ``density``."""
        verdict = self.judge_estimate(density, float(np.sum(density, dtype=np.float64)), area_pixels)
        return {"inRange": verdict.in_range, "extras": {TRAINING_RANGE_KEY: self.to_dict(calibration=False)}}


def judge_result(result: CountResult, points: np.ndarray | None, area_pixels: float) -> Verdict:
    """One image's verdict for ``compare``: by its annotations when it has them, else by the result's evidence,
    against the range the result declares (``extras[TRAINING_RANGE_KEY]``); without one, the estimator's own
    flag (``ESTIMATOR``), or cannot tell.

    Raises:
        ValueError: the declared range in the result is malformed (names the estimator).
    """
    declared = result.extras.get(TRAINING_RANGE_KEY)
    if declared is None:
        if result.inRange is None:
            return Verdict(None, None, NO_RANGE)
        return Verdict(result.inRange, ESTIMATOR, "as the estimator flagged it (no range declared with the result)")
    bounds = TrainingRange.from_dict(declared, f"estimator {result.estimatorName!r}")
    if points is not None:
        return bounds.judge_annotated(points, area_pixels)
    return bounds.judge_estimate(result.densityMap, _estimate(result), area_pixels)


def _estimate(result: CountResult) -> float:
    # The map's sum where there is one: the count before rounding, as the estimator's own verdict read it.
    return float(result.densityMap.sum(dtype=np.float64)) if result.densityMap is not None else float(result.count)


def _inside(value: float, bounds: Bounds) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def _show(bounds: Bounds) -> str:
    low, high = bounds
    return f"[{'-' if low is None else f'{low:g}'}, {'-' if high is None else f'{high:g}'}]"


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _numbers(value: Any, where: str, length: int) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise ValueError(f"{where} must be a list of {length} numbers (one per statistic), got {value!r}")
    return tuple(_number(item, where) for item in value)


def _bounds(value: Any, where: str) -> Bounds:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where} must be [low, high], got {value!r}")
    parsed = []
    for side in value:
        if side is not None and (isinstance(side, bool) or not isinstance(side, (int, float))
                                 or not math.isfinite(side) or side < 0):
            raise ValueError(f"{where} bounds must be numbers >= 0 or null, got {value!r}")
        parsed.append(None if side is None else float(side))
    low, high = parsed
    if low is not None and high is not None and low > high:
        raise ValueError(f"{where} is [low, high] with low <= high, got {value!r}")
    return low, high
