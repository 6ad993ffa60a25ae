"""Counting, localisation and speed metrics for people-count estimators.

Inputs are deliberately loose so that notebook code stays short:

* a *count list* may hold numbers, or objects with a ``.count`` (``CountResult`` results, dataset ``Sample``s);
* a *point set* may be an ``(N, 2)`` array-like of ``(x, y)`` pixels, a ``CountResult`` (its ``pointsArray``)
  or a dataset ``Sample`` (its ``points``).

Aggregates follow the literature: MAE/RMSE/NAE over per-image counts, GAME averaged over images, localisation
scores micro-averaged (true/false positives summed over images before the ratios are taken). Localisation
matches within one fixed distance, or within a distance per head (NWPU-Crowd's protocol, :func:`box_thresholds`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..result import CountResult, as_counts, as_points

__all__ = [
    "BOX_THRESHOLD_KINDS",
    "GAME_CONVENTIONS",
    "LatencyStats",
    "Localisation",
    "LocalisationSummary",
    "box_thresholds",
    "density_count",
    "game",
    "game_image",
    "game_levels",
    "grid_counts_from_density",
    "grid_counts_from_points",
    "latency_stats",
    "localisation",
    "localisation_summary",
    "mae",
    "nae",
    "rmse",
    "throughput",
]

GameSource = Literal["auto", "density", "points"]
#: How the GAME grid is cut when the image size is not divisible by ``2^L`` (see :func:`game_image`).
GameConvention = Literal["exact", "blocks"]
GAME_CONVENTIONS = ("exact", "blocks")
#: NWPU-Crowd's two per-head match distances, from each head's box (see :func:`box_thresholds`).
BoxThresholdKind = Literal["large", "small"]
BOX_THRESHOLD_KINDS = ("large", "small")


# --- counts --------------------------------------------------------------------------------------------------


def _count_pair(true_counts: Iterable[Any], pred_counts: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    true = as_counts(true_counts, "true_counts")
    pred = as_counts(pred_counts, "pred_counts")
    if true.shape != pred.shape:
        raise ValueError(f"true_counts has {true.size} values but pred_counts has {pred.size}; pass one per image")
    if true.size == 0:
        raise ValueError("no counts given: the metric of zero images is undefined")
    return true, pred


def density_count(result: CountResult) -> float:
    """The count an estimate gives before rounding: its density map's sum, or its ``count`` where it has no map.

    The literature scores density counters on this sum (MCNN's, CSRNet's published MAE); ``CountResult.count``
    is the sum rounded to a whole number, as the service answers. A result without a map (a plugin's count
    only) has nothing finer than its count.
    """
    density = result.densityMap
    return float(result.count) if density is None else float(density.sum(dtype=np.float64))


def mae(true_counts: Iterable[Any], pred_counts: Iterable[Any]) -> float:
    """Mean absolute error of the per-image counts."""
    true, pred = _count_pair(true_counts, pred_counts)
    return float(np.mean(np.abs(pred - true)))


def rmse(true_counts: Iterable[Any], pred_counts: Iterable[Any]) -> float:
    """Root mean squared error of the per-image counts (called "MSE" in much of the crowd-counting literature)."""
    true, pred = _count_pair(true_counts, pred_counts)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def nae(true_counts: Iterable[Any], pred_counts: Iterable[Any]) -> float:
    """Normalised absolute error: the mean of ``|pred - true| / true`` over the images whose true count is above 0.

    An image with a true count of 0 has no ratio (any error over zero people is infinitely large), so it is left
    out of the mean, as NWPU-Crowd's evaluation code leaves out its negative samples; its error still counts in
    MAE and RMSE.

    Raises:
        ValueError: no image has a true count above 0 (NAE is undefined), or the lists do not pair up.
    """
    true, pred = _count_pair(true_counts, pred_counts)
    people = true > 0
    if not people.any():
        raise ValueError(
            f"NAE is undefined: all {true.size} images have a true count of 0; use MAE for images without people"
        )
    return float(np.mean(np.abs(pred[people] - true[people]) / true[people]))


# --- GAME ----------------------------------------------------------------------------------------------------


def _check_grid(image_size: tuple[int, int], level: int) -> tuple[float, float, int]:
    if int(level) != level or level < 0:
        raise ValueError(f"GAME level must be a non-negative integer, got {level!r}")
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image_size must be a positive (width, height), got {image_size!r}")
    return float(width), float(height), 2 ** int(level)


def _cell_edges(extent: float, cells: int, convention: GameConvention) -> np.ndarray:
    """Edges of the grid's cells along one image axis, in pixels."""
    if convention == "exact":
        return extent * np.arange(cells + 1) / cells
    if convention == "blocks":
        # Whole-pixel blocks of floor(extent / cells); the pixels past the last block belong to no cell.
        return (int(extent) // cells) * np.arange(cells + 1, dtype=np.float64)
    raise ValueError(f"GAME convention must be one of {', '.join(map(repr, GAME_CONVENTIONS))}, got {convention!r}")


def grid_counts_from_points(
    points: Any, image_size: tuple[int, int], level: int, *, convention: GameConvention = "exact"
) -> np.ndarray:
    """Count points in each cell of a ``2^level x 2^level`` grid over the image; shape ``(rows, cols)``.

    ``"exact"``: points on a cell border go to the right/lower cell; points slightly outside the image
    (annotation tolerance) go to the nearest border cell, so no point is lost. ``"blocks"``: each point is
    first put on its pixel (``floor``, clipped to the image, as the published code rasterises its ground-truth
    map), and points on pixels past the last whole block are not counted.
    """
    width, height, cells = _check_grid(image_size, level)
    xy = as_points(points, "points")
    if convention == "blocks":
        block_w, block_h = _cell_edges(width, cells, convention)[1], _cell_edges(height, cells, convention)[1]
        if block_w == 0 or block_h == 0:
            raise ValueError(f"GAME({level}) blocks of a {width:g}x{height:g} image would be empty; use a lower level")
        col = np.clip(np.floor(xy[:, 0]), 0, width - 1) // block_w
        row = np.clip(np.floor(xy[:, 1]), 0, height - 1) // block_h
        inside = (col < cells) & (row < cells)
        col, row = col[inside].astype(np.intp), row[inside].astype(np.intp)
    elif convention == "exact":
        col = np.clip(np.floor(xy[:, 0] * cells / width), 0, cells - 1).astype(np.intp)
        row = np.clip(np.floor(xy[:, 1] * cells / height), 0, cells - 1).astype(np.intp)
    else:
        _cell_edges(width, cells, convention)  # raises the message naming the conventions
    return np.bincount(row * cells + col, minlength=cells * cells).reshape(cells, cells).astype(np.float64)


def _overlap(
    start: float, length: float, n_pixels: int, image_extent: float, cells: int, convention: GameConvention
) -> np.ndarray:
    """Fraction of each map pixel (rows) that falls in each grid cell (columns), along one axis."""
    pixel_edges = start + length * np.arange(n_pixels + 1) / n_pixels
    cell_edges = _cell_edges(image_extent, cells, convention)
    lo = np.maximum(pixel_edges[:-1, None], cell_edges[None, :-1])
    hi = np.minimum(pixel_edges[1:, None], cell_edges[None, 1:])
    return np.clip(hi - lo, 0.0, None) / (length / n_pixels)


def grid_counts_from_density(
    density_map: np.ndarray,
    density_area: Any,
    image_size: tuple[int, int],
    level: int,
    *,
    convention: GameConvention = "exact",
) -> np.ndarray:
    """Integrate a density map over each cell of a ``2^level x 2^level`` grid over the image.

    The map covers ``density_area`` (a ``Rect``-like with ``x, y, width, height``; ``None`` = the whole
    image) and each map pixel's mass is taken as spread evenly over its footprint in image pixels, so the
    integration is exact for that piecewise-constant reading and conserves the map's sum (mass that falls
    outside the image is dropped). It equals box-upsampling the map to full resolution (each value divided
    among the pixels it covers) and summing per cell, without building the full-resolution map. With
    ``convention="blocks"`` the cells are the whole-pixel blocks of :func:`game_image`.
    """
    width, height, cells = _check_grid(image_size, level)
    density = np.asarray(density_map, dtype=np.float64)
    if density.ndim != 2 or density.size == 0:
        raise ValueError(f"density_map must be a non-empty 2-D array (H', W'), got shape {density.shape}")
    if density_area is None:
        x, y, w, h = 0.0, 0.0, width, height
    else:
        x, y, w, h = (float(density_area.x), float(density_area.y),
                      float(density_area.width), float(density_area.height))
        if w <= 0 or h <= 0:
            raise ValueError(f"density_area must have a positive size, got {density_area!r}")
    along_x = _overlap(x, w, density.shape[1], width, cells, convention)
    along_y = _overlap(y, h, density.shape[0], height, cells, convention)
    return along_y.T @ density @ along_x


def _predicted_grid(
    result: Any, image_size: tuple[int, int], level: int, source: GameSource, convention: GameConvention
) -> np.ndarray:
    if source not in ("auto", "density", "points"):
        raise ValueError(f"source must be 'auto', 'density' or 'points', got {source!r}")
    # Only a CountResult carries a density map; a plain point array has neither a map nor a count of its own.
    density = result.densityMap if isinstance(result, CountResult) else None
    area = result.densityArea if isinstance(result, CountResult) else None
    if source == "density" or (source == "auto" and density is not None):
        if density is None:
            raise ValueError("source='density' but the result has no densityMap; use source='points'")
        return grid_counts_from_density(density, area, image_size, level, convention=convention)
    points = as_points(result, "prediction")
    count = result.count if isinstance(result, CountResult) else None
    if len(points) == 0 and count:
        # A count-only result still has a whole-image count, which is all GAME(0) needs.
        if level == 0:
            _check_grid(image_size, level)
            return np.array([[float(count)]])
        raise ValueError(
            f"the result counts {count} people but has neither a densityMap nor points, so GAME({level}) "
            "cannot place them; use an estimator that returns either, or only level 0"
        )
    return grid_counts_from_points(points, image_size, level, convention=convention)


def game_image(
    result: Any,
    gt_points: Any,
    image_size: tuple[int, int],
    level: int,
    *,
    source: GameSource = "auto",
    convention: GameConvention = "exact",
) -> float:
    """GAME(level) of one image: sum over the ``4^level`` cells of ``|predicted - true|`` cell counts.

    ``source="auto"`` integrates the result's ``densityMap`` over its ``densityArea`` when it has one, and
    counts its predicted points otherwise; ``"density"``/``"points"`` force one. ``result`` may also be a
    plain ``(N, 2)`` point array. ``image_size`` is ``(width, height)`` of the original image.

    The two conventions agree when width and height are divisible by ``2^level`` and differ otherwise:

    * ``"exact"`` (default): the cells split the image exactly (``width / 2^L`` pixels, fractional), so every
      person and all the predicted mass is in some cell;
    * ``"blocks"``: whole-pixel blocks of ``floor(width / 2^L) x floor(height / 2^L)`` pixels from the top
      left, as the common published evaluation code slices its maps (``map[i*h:(i+1)*h, j*w:(j+1)*w]``); the
      last rows and columns that fill no whole block are left out of both sides. Use it to reproduce
      published GAME tables.
    """
    pred = _predicted_grid(result, image_size, level, source, convention)
    true = grid_counts_from_points(gt_points, image_size, level, convention=convention)
    return float(np.abs(pred - true).sum())


def _per_image(results: Sequence[Any], gt_points: Sequence[Any], image_sizes: Sequence[tuple[int, int]]) -> int:
    n = len(results)
    if len(gt_points) != n or len(image_sizes) != n:
        raise ValueError(
            f"got {n} results, {len(gt_points)} ground-truth point sets and {len(image_sizes)} image sizes; "
            "pass one of each per image, in the same order"
        )
    if n == 0:
        raise ValueError("no images given: GAME of zero images is undefined")
    return n


def game(
    results: Sequence[Any],
    gt_points: Sequence[Any],
    image_sizes: Sequence[tuple[int, int]],
    level: int = 0,
    *,
    source: GameSource = "auto",
    convention: GameConvention = "exact",
) -> float:
    """Grid Average Mean absolute Error at ``level``: :func:`game_image` averaged over the images.

    GAME(0) is the MAE of the counts, computed from the same source as the higher levels (for a density
    result: the map's float sum, not the rounded ``.count``, as in the literature).
    """
    _per_image(results, gt_points, image_sizes)
    errors = [
        game_image(r, g, s, level, source=source, convention=convention)
        for r, g, s in zip(results, gt_points, image_sizes)
    ]
    return float(np.mean(errors))


def game_levels(
    results: Sequence[Any],
    gt_points: Sequence[Any],
    image_sizes: Sequence[tuple[int, int]],
    levels: Iterable[int] = (0, 1, 2, 3),
    *,
    source: GameSource = "auto",
    convention: GameConvention = "exact",
) -> dict[int, float]:
    """``{level: GAME(level)}`` for several levels (by default 0..3, the usual table)."""
    return {
        int(level): game(results, gt_points, image_sizes, level, source=source, convention=convention)
        for level in levels
    }


# --- localisation ---------------------------------------------------------------------------------------------


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from true/false positive and false negative counts (the report sums its own)."""
    # 0/0 happens only when one side is empty. Both empty is a perfect answer (1.0); otherwise the image has
    # an error and the undefined ratio counts as 0.0, so it never flatters an estimator.
    if tp + fp + fn == 0:
        return 1.0, 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn)
    return precision, recall, f1


@dataclass(frozen=True)
class Localisation:
    """One-to-one matching of predicted to ground-truth points in one image.

    ``matches`` is an ``(tp, 2)`` int array of ``(pred_index, gt_index)`` pairs and ``distances`` their
    distances in pixels; ``unmatched_pred`` (false positives) and ``unmatched_gt`` (misses) index the rest.
    ``threshold`` is the match distance: one number, or an array of one per ground-truth point.
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    matches: np.ndarray
    distances: np.ndarray
    threshold: float | np.ndarray

    @property
    def unmatched_pred(self) -> np.ndarray:
        """Indices of predicted points with no ground-truth partner (false positives)."""
        return np.setdiff1d(np.arange(self.tp + self.fp), self.matches[:, 0])

    @property
    def unmatched_gt(self) -> np.ndarray:
        """Indices of ground-truth points that no prediction matched (false negatives)."""
        return np.setdiff1d(np.arange(self.tp + self.fn), self.matches[:, 1])


def box_thresholds(boxes: Any, kind: BoxThresholdKind = "large") -> np.ndarray:
    """NWPU-Crowd's per-head match distances, in pixels, from the heads' boxes ``(x1, y1, x2, y2)``.

    ``"large"`` (the benchmark's headline scores): ``sigma_l = sqrt(w^2 + h^2) / 2``, half the box's diagonal;
    ``"small"``: ``sigma_s = min(w, h) / 2``, half its shorter side. A big head near the camera is thus allowed a
    far larger miss than a small one in the back of a crowd, which one fixed distance cannot do.

    Raises:
        ValueError: ``boxes`` is not ``(N, 4)`` finite numbers with ``x2 >= x1`` and ``y2 >= y1``, or a bad ``kind``.
    """
    if kind not in BOX_THRESHOLD_KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, BOX_THRESHOLD_KINDS))}, got {kind!r}")
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return np.zeros(0, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4 or not np.isfinite(array).all():
        raise ValueError(f"boxes must be finite (x1, y1, x2, y2) rows, shape (N, 4); got shape {array.shape}")
    width, height = array[:, 2] - array[:, 0], array[:, 3] - array[:, 1]
    flipped = np.flatnonzero((width < 0) | (height < 0))
    if len(flipped):
        raise ValueError(
            f"box {flipped[0]} is {array[flipped[0]].tolist()}: x2 < x1 or y2 < y1; boxes are (x1, y1, x2, y2), "
            "top left then bottom right"
        )
    if kind == "large":
        return np.hypot(width, height) / 2
    return np.minimum(width, height) / 2


def _match_distances(threshold: float | Any, n_gt: int) -> np.ndarray:
    """The match distance of each ground-truth head: one number for all, or one each (checked)."""
    if np.ndim(threshold) == 0:
        value = float(threshold)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"threshold must be a finite distance >= 0 in pixels, got {threshold!r}")
        return np.full(n_gt, value)
    per_head = np.asarray(threshold, dtype=np.float64)
    if per_head.shape != (n_gt,):
        raise ValueError(
            f"per-head thresholds must be one distance per ground-truth point: {n_gt} point(s), got shape "
            f"{per_head.shape} (make them with box_thresholds(boxes) from the same annotation)"
        )
    if not np.isfinite(per_head).all() or (per_head < 0).any():
        raise ValueError("per-head thresholds must be finite distances >= 0 in pixels")
    return per_head


def localisation(pred_points: Any, gt_points: Any, threshold: float | Any = 10.0) -> Localisation:
    """Match predictions to ground truth one-to-one and score them within a match distance (pixels).

    ``threshold`` is one distance for every head, or one per ground-truth point (NWPU-Crowd's protocol: pass
    ``box_thresholds(sample.boxes)``); a prediction may match a head when it lies within *that head's* distance.
    The matching is a Hungarian assignment (``scipy.optimize.linear_sum_assignment``) that first maximises the
    number of pairs within reach (inclusive: a pair exactly ``threshold`` apart matches) and then minimises
    their total distance. Each point takes part in at most one pair, so two predictions on one head give one
    true positive and one false positive. Precision/recall are 1.0 when both sets are empty and 0.0 when only
    their own denominator is empty (see ``precision_recall_f1``).
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    pred = as_points(pred_points, "pred_points")
    gt = as_points(gt_points, "gt_points")
    reach = _match_distances(threshold, len(gt))
    matches = np.zeros((0, 2), dtype=np.intp)
    distances = np.zeros(0, dtype=np.float64)
    if len(pred) and len(gt):
        dist = cdist(pred, gt)
        close = dist <= reach[np.newaxis, :]
        # Points with no partner in reach cannot match; leaving them out keeps the assignment small in crowds.
        rows = np.flatnonzero(close.any(axis=1))
        cols = np.flatnonzero(close.any(axis=0))
        if len(rows):
            sub, valid = dist[np.ix_(rows, cols)], close[np.ix_(rows, cols)]
            # A penalty larger than any sum of in-reach distances makes the solver prefer one more valid pair
            # over any saving in distance; penalised pairs are dropped afterwards.
            penalty = float(reach[cols].max()) * (min(sub.shape) + 1) + 1.0
            r, c = linear_sum_assignment(np.where(valid, sub, penalty))
            keep = valid[r, c]
            matches = np.stack([rows[r[keep]], cols[c[keep]]], axis=1).astype(np.intp)
            matches = matches[np.argsort(matches[:, 0])]
            distances = dist[matches[:, 0], matches[:, 1]]
    tp = len(matches)
    fp, fn = len(pred) - tp, len(gt) - tp
    precision, recall, f1 = precision_recall_f1(tp, fp, fn)
    kept = float(threshold) if np.ndim(threshold) == 0 else reach
    return Localisation(tp, fp, fn, precision, recall, f1, matches, distances, kept)


@dataclass(frozen=True)
class LocalisationSummary:
    """Localisation over several images, micro-averaged: counts summed, then the ratios taken."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    n_images: int


def localisation_summary(items: Iterable[Localisation]) -> LocalisationSummary:
    """Sum per-image :class:`Localisation` results into one dataset-level score."""
    items = list(items)
    if not items:
        raise ValueError("no localisation results given; pass one per image")
    tp = sum(i.tp for i in items)
    fp = sum(i.fp for i in items)
    fn = sum(i.fn for i in items)
    return LocalisationSummary(tp, fp, fn, *precision_recall_f1(tp, fp, fn), n_images=len(items))


# --- speed ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyStats:
    """Per-image latency in milliseconds and the throughput it implies for one-at-a-time processing."""

    n: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    images_per_s: float


def latency_stats(elapsed: Iterable[Any]) -> LatencyStats:
    """Latency statistics from per-image times in **seconds** (numbers, or results with ``.elapsed``).

    Percentiles interpolate linearly (numpy's default). ``images_per_s`` is ``1000 / mean_ms``: the rate of
    one worker processing images back to back. For parallel or batched runs measure the wall clock and use
    :func:`throughput` instead.
    """
    times = [value.elapsed if isinstance(value, CountResult) else value for value in elapsed]
    for index, time in enumerate(times):
        if time is None:
            raise ValueError(f"elapsed[{index}] is None: the result carries no timing; time the call yourself")
    ms = np.asarray(times, dtype=np.float64) * 1000.0
    if ms.size == 0:
        raise ValueError("no timings given")
    if (ms < 0).any() or not np.isfinite(ms).all():
        raise ValueError("timings must be finite and non-negative seconds")
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    mean = float(ms.mean())
    return LatencyStats(
        n=int(ms.size),
        mean_ms=mean,
        std_ms=float(ms.std()),
        min_ms=float(ms.min()),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        max_ms=float(ms.max()),
        images_per_s=1000.0 / mean if mean > 0 else float("inf"),
    )


def throughput(n_images: int, wall_seconds: float) -> float:
    """Images per second over a measured wall-clock interval."""
    if wall_seconds <= 0:
        raise ValueError(f"wall_seconds must be positive, got {wall_seconds!r}")
    if n_images < 0:
        raise ValueError(f"n_images must be >= 0, got {n_images!r}")
    return n_images / wall_seconds
