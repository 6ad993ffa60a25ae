"""Head-point strategies on synthetic density maps with known peaks."""
from __future__ import annotations

import numpy as np
import pytest

from workbench.estimators.points import (
    Peaks,
    TopK,
    cell_centres,
    get_point_strategy,
    peaks,
    resolve_point_strategy,
    topk,
)


def blob_map(shape: tuple[int, int], centres: list[tuple[int, int]], heights: list[float], sigma: float = 1.0) -> np.ndarray:
    """A map with a Gaussian bump of the given height on each (row, col) centre."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    density = np.zeros(shape, np.float32)
    for (r, c), h in zip(centres, heights):
        density += h * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * sigma**2))
    return density


def test_cell_centres_map_to_image_pixels():
    points = cell_centres(np.array([0, 2]), np.array([0, 5]), scale=8, offset=(100, 40))
    np.testing.assert_array_equal(points, [[104.0, 44.0], [100 + 5.5 * 8, 40 + 2.5 * 8]])


def test_topk_returns_the_highest_cells_at_their_centres_with_offset():
    density = np.zeros((6, 8), np.float32)
    density[1, 2], density[4, 7], density[0, 0] = 0.9, 0.5, 0.1
    points = topk(density, 2, scale=4, offset=(10, 20))
    np.testing.assert_array_equal(points, [[10 + 2.5 * 4, 20 + 1.5 * 4], [10 + 7.5 * 4, 20 + 4.5 * 4]])
    assert points.dtype == np.float64
    assert topk(density, 0, scale=4).shape == (0, 2)
    assert len(topk(density, 1000, scale=4)) == density.size


def test_topk_puts_several_points_on_one_wide_blob_where_peaks_puts_one():
    density = blob_map((20, 20), [(5, 5), (14, 14)], [1.0, 0.4], sigma=1.5)
    assert len({tuple(p) for p in topk(density, 2, scale=1)}) == 2
    top = topk(density, 2, scale=1)
    # Both top cells belong to the strong blob...
    assert np.all(np.abs(top - 5.5).max(axis=1) <= 1.0)
    # ...while peaks finds one point per blob.
    np.testing.assert_array_equal(peaks(density, 2, scale=1), [[5.5, 5.5], [14.5, 14.5]])


def test_peaks_finds_exact_positions_strongest_first_with_detect_area_offset():
    centres = [(3, 4), (10, 15), (17, 2)]
    density = blob_map((20, 24), centres, [0.3, 0.8, 0.5])
    points = peaks(density, 3, scale=8, offset=(64, 32))
    expected = [[64 + (c + 0.5) * 8, 32 + (r + 0.5) * 8] for r, c in [(10, 15), (17, 2), (3, 4)]]
    np.testing.assert_array_equal(points, expected)


def test_peaks_limit_threshold_and_border():
    density = blob_map((12, 12), [(0, 0), (6, 6), (11, 11)], [0.5, 0.9, 0.002])
    # A peak on the border is found (compared only with in-map neighbours).
    assert [0.5, 0.5] in peaks(density, 3, scale=1).tolist()
    # The count limits the points; limit=None keeps every peak above the threshold.
    np.testing.assert_array_equal(peaks(density, 1, scale=1), [[6.5, 6.5]])
    assert len(peaks(density, None, scale=1, limit=None)) == 3
    assert len(peaks(density, None, scale=1, limit=None, threshold=0.01)) == 2
    assert len(peaks(density, 5, scale=1, limit=2)) == 2
    assert peaks(density, 0, scale=1).shape == (0, 2)


def test_peaks_neighbourhood_merges_close_maxima():
    density = np.zeros((9, 9), np.float32)
    density[4, 3], density[4, 5] = 0.5, 0.4  # two maxima two cells apart
    assert len(peaks(density, 2, scale=1, size=3)) == 2
    np.testing.assert_array_equal(peaks(density, 2, scale=1, size=5), [[3.5, 4.5]])


def test_flat_zero_map_gives_no_points():
    density = np.zeros((10, 10), np.float32)
    assert peaks(density, 3, scale=4).shape == (0, 2)
    assert peaks(density, None, scale=4, limit=None, threshold=0).shape == (0, 2)


def test_leading_unit_axes_are_accepted_and_bad_maps_rejected():
    density = np.zeros((1, 1, 4, 4), np.float32)
    density[0, 0, 1, 2] = 1
    np.testing.assert_array_equal(peaks(density, 1, scale=2), [[5.0, 3.0]])
    with pytest.raises(ValueError, match="2-D map"):
        topk(np.zeros((2, 4, 4)), 1, scale=1)
    with pytest.raises(ValueError, match="count must be a whole number"):
        topk(density, 1.5, scale=1)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        topk(density, 1, scale=0)
    with pytest.raises(ValueError, match="offset must be an"):
        topk(density, 1, scale=1, offset=5)
    with pytest.raises(ValueError, match="needs the count"):
        peaks(density, None, scale=1)


def test_strategy_api():
    assert isinstance(get_point_strategy("topk"), TopK)
    strategy = get_point_strategy("peaks", threshold=0.01, size=5)
    assert isinstance(strategy, Peaks) and (strategy.threshold, strategy.size, strategy.limit) == (0.01, 5, "count")
    density = blob_map((10, 10), [(2, 3)], [1.0])
    np.testing.assert_array_equal(strategy.locate(density, 1, scale=4, offset=(1, 2)), [[1 + 3.5 * 4, 2 + 2.5 * 4]])
    assert resolve_point_strategy(strategy) is strategy
    assert isinstance(resolve_point_strategy("peaks"), Peaks)
    assert "Peaks(threshold=0.01" in repr(strategy)


def test_strategy_api_errors():
    with pytest.raises(ValueError, match="unknown point strategy 'nms'.*'topk', 'peaks'"):
        get_point_strategy("nms")
    with pytest.raises(TypeError, match="'topk' takes no parameters; got threshold"):
        get_point_strategy("topk", threshold=0.1)
    with pytest.raises(TypeError, match="takes threshold, size, limit; got radius"):
        get_point_strategy("peaks", radius=2)
    with pytest.raises(ValueError, match="odd whole number"):
        Peaks(size=4)
    with pytest.raises(ValueError, match=r"^peaks threshold must be a finite number >= 0 \(a density\), got -1$"):
        Peaks(threshold=-1)
    with pytest.raises(ValueError, match=r"^peaks limit must be a whole number >= 0 or None \(or 'count': as many as the count\), got 'all'$"):
        Peaks(limit="all")
    with pytest.raises(TypeError, match="strategy name"):
        resolve_point_strategy(3)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint8])
def test_peak_neighbourhoods_are_scipys_maximum_filter_with_the_border_left_out(size, dtype):
    from scipy.ndimage import maximum_filter

    from workbench.estimators.points import _neighbourhood_max

    rng = np.random.default_rng(size)
    # Few distinct values, so that ties between neighbours are common.
    array = rng.integers(0, 6, (13, 21)).astype(dtype)
    border = np.iinfo(dtype).min if np.issubdtype(dtype, np.integer) else -np.inf
    expected = maximum_filter(array, size=size, mode="constant", cval=border)
    actual = _neighbourhood_max(array, size)
    assert actual.dtype == array.dtype
    np.testing.assert_array_equal(actual, expected)

