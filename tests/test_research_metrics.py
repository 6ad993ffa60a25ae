"""Metrics against hand-computed cases."""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.research.metrics import (
    game,
    game_image,
    game_levels,
    grid_counts_from_density,
    grid_counts_from_points,
    latency_stats,
    localisation,
    localisation_summary,
    mae,
    rmse,
    throughput,
)
from workbench.result import CountResult
from workbench.sdk import Rect, Vec2D


def people_count(points: list[tuple[float, float]], count: int | None = None, **kwargs: object) -> CountResult:
    return CountResult(len(points) if count is None else count, [Vec2D(x, y) for x, y in points], **kwargs)


# --- MAE / RMSE ----------------------------------------------------------------------------------------------


def test_mae_rmse_by_hand() -> None:
    true, pred = [10, 20, 30], [12, 18, 30]
    assert mae(true, pred) == pytest.approx(4 / 3)
    assert rmse(true, pred) == pytest.approx(math.sqrt(8 / 3))
    assert mae(np.array([5.0]), np.array([5.0])) == 0.0


def test_counts_may_be_results_or_samples() -> None:
    results = [people_count([(1, 1)] * 3), people_count([], count=7)]
    samples = [SimpleNamespace(count=4), SimpleNamespace(count=7)]
    assert mae(samples, results) == pytest.approx(0.5)


def test_count_errors() -> None:
    with pytest.raises(ValueError, match="2 values but pred_counts has 3"):
        mae([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="no counts given"):
        rmse([], [])
    with pytest.raises(ValueError, match=r"true_counts\[1\] has no count"):
        mae([1, SimpleNamespace(count=None)], [1, 2])


# --- GAME ----------------------------------------------------------------------------------------------------

# A 4x4 image. GT heads, one per quadrant: TL (0.5, 0.5), TR (3.5, 0.5), BL (1.5, 2.5), BR (3.5, 3.5).
GT = np.array([[0.5, 0.5], [3.5, 0.5], [1.5, 2.5], [3.5, 3.5]])
# Predictions: two in TL, one in BR.
PRED = np.array([[0.2, 0.2], [1.0, 1.0], [3.5, 3.5]])
SIZE = (4, 4)


def test_grid_counts_from_points_by_hand() -> None:
    np.testing.assert_array_equal(grid_counts_from_points(GT, SIZE, 0), [[4]])
    np.testing.assert_array_equal(grid_counts_from_points(GT, SIZE, 1), [[1, 1], [1, 1]])
    np.testing.assert_array_equal(grid_counts_from_points(PRED, SIZE, 1), [[2, 0], [0, 1]])
    level2 = np.zeros((4, 4))
    level2[0, 0] = level2[1, 1] = level2[3, 3] = 1  # [row, col] = floor(y), floor(x)
    np.testing.assert_array_equal(grid_counts_from_points(PRED, SIZE, 2), level2)


def test_grid_counts_border_and_outside_points() -> None:
    # On the border between cells -> the right/lower cell; on or just beyond the image edge -> the edge cell.
    pts = np.array([[2.0, 2.0], [4.0, 4.0], [-1.0, 4.5]])
    np.testing.assert_array_equal(grid_counts_from_points(pts, SIZE, 1), [[0, 0], [1, 2]])
    np.testing.assert_array_equal(grid_counts_from_points(np.zeros((0, 2)), SIZE, 1), np.zeros((2, 2)))


def test_game_from_points_by_hand() -> None:
    # level 0: |3 - 4| = 1; level 1: |2-1| + |0-1| + |0-1| + |1-1| = 3;
    # level 2: pred (1,1) has no GT (+1), GT (0,3) and (2,1) missed (+2), the rest agree -> 3.
    assert game_image(PRED, GT, SIZE, 0) == 1
    assert game_image(PRED, GT, SIZE, 1) == 3
    assert game_image(PRED, GT, SIZE, 2) == 3
    result = people_count([tuple(p) for p in PRED])
    assert game_levels([result], [GT], [SIZE], levels=(0, 1, 2)) == {0: 1.0, 1: 3.0, 2: 3.0}


def test_grid_counts_from_density_by_hand() -> None:
    density = np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(grid_counts_from_density(density, None, SIZE, 0), [[3]])
    np.testing.assert_allclose(grid_counts_from_density(density, None, SIZE, 1), [[1, 0], [0, 2]])
    # Each map pixel covers 2x2 image pixels, i.e. 2x2 cells of the level-2 grid, its mass spread evenly.
    expected = np.array([[.25, .25, 0, 0], [.25, .25, 0, 0], [0, 0, .5, .5], [0, 0, .5, .5]])
    np.testing.assert_allclose(grid_counts_from_density(density, None, SIZE, 2), expected)


def test_grid_counts_from_density_with_area() -> None:
    one = np.array([[4.0]])
    # The map covers the top-right quadrant only.
    np.testing.assert_allclose(grid_counts_from_density(one, Rect(2, 0, 2, 2), SIZE, 1), [[0, 4], [0, 0]])
    np.testing.assert_allclose(grid_counts_from_density(one, Rect(2, 0, 2, 2), SIZE, 2)[:2, 2:], np.ones((2, 2)))
    # A centred area straddles all four quadrants equally.
    np.testing.assert_allclose(grid_counts_from_density(one, Rect(1, 1, 2, 2), SIZE, 1), np.ones((2, 2)))


def test_density_integration_conserves_mass_on_uneven_grids() -> None:
    rng = np.random.default_rng(0)
    density = rng.random((17, 23))
    for level in range(4):
        cells = grid_counts_from_density(density, Rect(10, 7, 90, 61), (101, 77), level)
        assert cells.shape == (2 ** level, 2 ** level)
        assert cells.sum() == pytest.approx(density.sum())


def test_game_prefers_density_and_can_be_forced() -> None:
    # The map puts 1 in TL and 2 in BR; the points put all 3 in TL. GT: one per quadrant.
    result = people_count([(0.5, 0.5)] * 3, densityMap=np.array([[1.0, 0.0], [0.0, 2.0]], np.float32),
                          densityArea=Rect(0, 0, 4, 4))
    assert game_image(result, GT, SIZE, 1) == pytest.approx(0 + 1 + 1 + 1)
    assert game_image(result, GT, SIZE, 1, source="points") == pytest.approx(2 + 1 + 1 + 1)
    without_map = people_count([(0.5, 0.5)])
    with pytest.raises(ValueError, match="no densityMap"):
        game_image(without_map, GT, SIZE, 1, source="density")


def test_game_level0_uses_map_sum_not_rounded_count() -> None:
    result = people_count([], count=4, densityMap=np.full((2, 2), 0.9, np.float32))
    assert game([result], [GT], [SIZE], 0) == pytest.approx(0.4, abs=1e-6)


def test_game_count_only_result() -> None:
    result = people_count([], count=6)
    assert game_image(result, GT, SIZE, 0) == 2
    with pytest.raises(ValueError, match="neither a densityMap nor points"):
        game_image(result, GT, SIZE, 1)


def test_game_averages_over_images_and_checks_lengths() -> None:
    perfect = people_count([tuple(p) for p in GT])
    off = people_count([tuple(p) for p in PRED])
    assert game([perfect, off], [GT, GT], [SIZE, SIZE], 1) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="one of each per image"):
        game([perfect], [GT, GT], [SIZE], 1)
    with pytest.raises(ValueError, match="non-negative integer"):
        game_image(perfect, GT, SIZE, -1)


# --- localisation --------------------------------------------------------------------------------------------


def test_both_empty_is_perfect() -> None:
    loc = localisation([], [])
    assert (loc.tp, loc.fp, loc.fn) == (0, 0, 0)
    assert (loc.precision, loc.recall, loc.f1) == (1.0, 1.0, 1.0)
    assert loc.matches.shape == (0, 2)


def test_no_predictions() -> None:
    loc = localisation(np.zeros((0, 2)), [[1, 1], [5, 5]])
    assert (loc.tp, loc.fp, loc.fn) == (0, 0, 2)
    assert (loc.precision, loc.recall, loc.f1) == (0.0, 0.0, 0.0)
    np.testing.assert_array_equal(loc.unmatched_gt, [0, 1])


def test_no_ground_truth() -> None:
    loc = localisation([[1, 1], [5, 5]], [])
    assert (loc.tp, loc.fp, loc.fn) == (0, 2, 0)
    assert (loc.precision, loc.recall, loc.f1) == (0.0, 0.0, 0.0)
    np.testing.assert_array_equal(loc.unmatched_pred, [0, 1])


def test_duplicate_predictions_match_once() -> None:
    loc = localisation([[11, 10], [10, 12]], [[10, 10]], threshold=5)
    assert (loc.tp, loc.fp, loc.fn) == (1, 1, 0)
    np.testing.assert_array_equal(loc.matches, [[0, 0]])  # the nearer one (distance 1) wins
    np.testing.assert_allclose(loc.distances, [1.0])
    np.testing.assert_array_equal(loc.unmatched_pred, [1])
    assert loc.precision == 0.5 and loc.recall == 1.0 and loc.f1 == pytest.approx(2 / 3)


def test_threshold_boundary_is_inclusive() -> None:
    assert localisation([[6, 8]], [[0, 0]], threshold=10).tp == 1  # distance exactly 10
    assert localisation([[6, 8]], [[0, 0]], threshold=9.999).tp == 0
    assert localisation([[3, 3]], [[3, 3]], threshold=0).tp == 1
    with pytest.raises(ValueError, match="threshold"):
        localisation([[0, 0]], [[0, 0]], threshold=-1)


def test_hungarian_maximises_matches_where_greedy_would_not() -> None:
    # p0 is equally close to both GT points; taking A for p0 would leave p1 (12 px from B) unmatched.
    gt = [[0, 0], [8, 0]]
    pred = [[4, 0], [-4, 0]]
    loc = localisation(pred, gt, threshold=5)
    assert loc.tp == 2
    np.testing.assert_array_equal(loc.matches, [[0, 1], [1, 0]])


def test_localisation_accepts_results_and_samples() -> None:
    result = people_count([(10, 10), (50, 50)])
    sample = SimpleNamespace(points=np.array([[12.0, 10.0]]), count=1)
    loc = localisation(result, sample, threshold=3)
    assert (loc.tp, loc.fp, loc.fn) == (1, 1, 0)
    assert localisation(result.coordinates, sample, threshold=3).tp == 1  # a list of Vec2D
    with pytest.raises(ValueError, match="no points"):
        localisation(result, SimpleNamespace(points=None))


def test_localisation_summary_is_micro_averaged() -> None:
    a = localisation([[0, 0]], [[0, 0], [50, 50]])  # tp 1, fn 1
    b = localisation([[0, 0], [50, 50]], [])  # fp 2
    summary = localisation_summary([a, b])
    assert (summary.tp, summary.fp, summary.fn, summary.n_images) == (1, 2, 1, 2)
    assert summary.precision == pytest.approx(1 / 3)
    assert summary.recall == pytest.approx(1 / 2)
    assert summary.f1 == pytest.approx(0.4)


# --- speed ---------------------------------------------------------------------------------------------------


def test_latency_stats_by_hand() -> None:
    stats = latency_stats([0.01 * i for i in range(1, 11)])  # 10 .. 100 ms
    assert stats.n == 10
    assert stats.mean_ms == pytest.approx(55.0)
    assert stats.p50_ms == pytest.approx(55.0)
    assert stats.p90_ms == pytest.approx(91.0)  # linear interpolation at rank 8.1
    assert stats.p99_ms == pytest.approx(99.1)
    assert (stats.min_ms, stats.max_ms) == (pytest.approx(10.0), pytest.approx(100.0))
    assert stats.images_per_s == pytest.approx(1000 / 55)


def test_latency_from_results() -> None:
    results = [people_count([], count=0, elapsed=0.2), people_count([], count=0, elapsed=0.4)]
    assert latency_stats(results).mean_ms == pytest.approx(300.0)
    with pytest.raises(ValueError, match=r"elapsed\[0\] is None"):
        latency_stats([people_count([], count=0)])
    with pytest.raises(ValueError, match="no timings"):
        latency_stats([])


def test_throughput() -> None:
    assert throughput(100, 4.0) == 25.0
    with pytest.raises(ValueError, match="positive"):
        throughput(10, 0)


@pytest.mark.shared
def test_perfect_points_on_real_data(crowd_mini: Path) -> None:
    from workbench.research.datasets import load_dataset

    ds = load_dataset(crowd_mini, split="test")
    results = [people_count([tuple(p) for p in s.points]) for s in ds]
    assert mae(ds, results) == 0.0
    assert game_levels(results, ds, [s.size for s in ds]) == {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}
    summary = localisation_summary(localisation(r, s) for r, s in zip(results, ds))
    assert summary.f1 == 1.0 and summary.tp == sum(ds.counts)
