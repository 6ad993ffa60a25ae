"""Plots: each figure holds the artists it promises (images, scatter groups, bars, legends), not just "it ran"."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from workbench.research.datasets import make_synthetic_dataset  # noqa: E402
from workbench.research.plots import (  # noqa: E402
    plot_count_scatter,
    plot_density_overlay,
    plot_estimator_grid,
    plot_points,
    plot_ranked_errors,
    upsampled_density,
)
from workbench.result import CountResult  # noqa: E402
from workbench.sdk import Rect, Vec2D, VLImage  # noqa: E402


def people_count(points: list[tuple[float, float]], count: int | None = None, **kwargs: object) -> CountResult:
    return CountResult(len(points) if count is None else count, [Vec2D(x, y) for x, y in points], **kwargs)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def image() -> VLImage:
    return VLImage(np.full((60, 80, 3), 128, np.uint8))


def _scatters(ax: matplotlib.axes.Axes) -> list[PathCollection]:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def _legend_texts(ax: matplotlib.axes.Axes) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_upsampled_density_covers_its_area_and_keeps_the_count() -> None:
    density = np.arange(12, dtype=np.float32).reshape(3, 4)
    result = people_count([], count=66, densityMap=density, densityArea=Rect(10, 5, 40, 30))
    values, extent = upsampled_density(result, (80, 60))
    assert values.shape == (30, 40)
    assert extent == (10.0, 50.0, 35.0, 5.0)
    assert values.sum() == pytest.approx(density.sum())  # people per image pixel, summed over the area
    with pytest.raises(ValueError, match="no densityMap"):
        upsampled_density(people_count([]), (80, 60))


def test_density_overlay(image: VLImage) -> None:
    result = people_count([], count=3, densityMap=np.full((15, 20), 0.01, np.float32),
                          densityArea=Rect(0, 0, 80, 60), estimatorName="mcnn")
    fig = plot_density_overlay(image, result)
    ax = fig.axes[0]
    assert len(ax.images) == 2  # the photo and the overlay
    overlay = ax.images[1]
    assert overlay.get_array().shape == (60, 80)
    assert tuple(overlay.get_extent()) == (0, 80, 60, 0)
    assert len(fig.axes) == 2 and "people / pixel" in fig.axes[1].get_ylabel()  # the colourbar
    assert "mcnn" in ax.get_title() and "count 3" in ax.get_title()


def test_density_overlay_on_a_detect_area_and_given_ax(image: VLImage) -> None:
    fig, ax = plt.subplots()
    result = people_count([], count=1, densityMap=np.ones((2, 2), np.float32), densityArea=Rect(40, 0, 40, 30))
    assert plot_density_overlay(image, result, ax=ax, alpha=0.3) is fig
    assert tuple(ax.images[1].get_extent()) == (40, 80, 30, 0)
    assert ax.images[1].get_alpha() == 0.3


def test_density_overlay_without_map_shows_points(image: VLImage) -> None:
    fig = plot_density_overlay(image, people_count([(5, 5), (10, 10)]))
    ax = fig.axes[0]
    assert len(ax.images) == 1 and len(_scatters(ax)) == 1
    assert "no density map" in ax.get_title()


def test_points_matched_and_unmatched(image: VLImage) -> None:
    gt = np.array([[10.0, 10.0], [40.0, 40.0]])
    result = people_count([(11, 10), (70, 50)])  # one near GT 0, one far from everything
    fig = plot_points(image, result, gt, threshold=5)
    ax = fig.axes[0]
    tp, fp, fn = _scatters(ax)
    np.testing.assert_array_equal(tp.get_offsets(), [[11, 10]])
    np.testing.assert_array_equal(fp.get_offsets(), [[70, 50]])
    np.testing.assert_array_equal(fn.get_offsets(), [[40, 40]])
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines) == 1 and len(lines[0].get_segments()) == 1
    assert _legend_texts(ax) == ["TP (1)", "FP (1)", "FN, missed GT (1)"]
    assert "P 0.50" in ax.get_title() and "R 0.50" in ax.get_title()


def test_points_without_gt_and_empty_prediction(image: VLImage) -> None:
    ax = plot_points(image, np.array([[1.0, 2.0], [3.0, 4.0]])).axes[0]
    assert len(_scatters(ax)) == 1 and _legend_texts(ax) == ["predicted (2)"]
    ax = plot_points(image, people_count([]), gt_points=np.array([[5.0, 5.0]])).axes[0]
    assert _legend_texts(ax) == ["TP (0)", "FP (0)", "FN, missed GT (1)"]


def test_estimator_grid(tmp_path: Path) -> None:
    ds = make_synthetic_dataset(tmp_path, n=3, size=(128, 96))
    with_map = [people_count([], count=c, densityMap=np.full((24, 32), c / 768, np.float32),
                             densityArea=Rect(0, 0, 128, 96)) for c in ds.counts]
    points_only = [people_count([tuple(p) for p in s.points]) for s in ds]
    fig = plot_estimator_grid(ds, {"dense": with_map, "points": points_only}, gt_counts=ds.counts)
    cells = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(cells) == 6
    grid = np.array(cells).reshape(3, 2)
    assert all(len(ax.images) == 2 for ax in grid[:, 0])  # photo + density
    assert all(len(ax.images) == 1 and len(_scatters(ax)) == 1 for ax in grid[:, 1])  # photo + points
    assert grid[0, 0].get_title().startswith("dense\n") and "+0 vs GT" in grid[0, 0].get_title()
    assert [ax.get_ylabel() for ax in grid[:, 0]] == ds.names
    assert len(fig.axes) - len(cells) == 3  # one shared colourbar per row


def test_estimator_grid_shares_the_colour_scale_within_a_row(image: VLImage) -> None:
    low = people_count([], count=1, densityMap=np.full((6, 8), 1 / 48, np.float32))
    high = people_count([], count=4, densityMap=np.full((6, 8), 4 / 48, np.float32))
    fig = plot_estimator_grid([image], {"low": [low], "high": [high]})
    clims = [ax.images[1].get_clim() for ax in fig.axes[:2]]
    assert clims[0] == clims[1] and clims[0][1] == pytest.approx(4 / (80 * 60))


def test_estimator_grid_rejects_mismatched_lengths(image: VLImage) -> None:
    with pytest.raises(ValueError, match="'b' has 1 results for 2 images"):
        plot_estimator_grid([image, image], {"a": [people_count([])] * 2, "b": [people_count([])]})
    with pytest.raises(ValueError, match="empty"):
        plot_estimator_grid([image], {})


def test_estimator_grid_into_given_figure(image: VLImage) -> None:
    fig = plt.figure()
    assert plot_estimator_grid([image], {"a": [people_count([(1, 1)])]}, fig=fig, names=["one"]) is fig
    assert fig.axes[0].get_ylabel() == "one"


def test_count_scatter() -> None:
    fig = plot_count_scatter([10, 20, 30], {"a": [10, 20, 30], "b": [12, 18, 36]})
    ax = fig.axes[0]
    assert len(_scatters(ax)) == 2
    assert _legend_texts(ax) == ["a (MAE 0.00)", "b (MAE 3.33)", "y = x (perfect)"]
    diagonal = ax.get_lines()[0]
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())
    assert ax.get_xlabel() == "true count" and ax.get_ylabel() == "predicted count"


def test_ranked_errors() -> None:
    names = ["a", "b", "c", "d"]
    fig = plot_ranked_errors(names, [10, 10, 10, 10], [12, 4, 10, 11], top=3)
    ax = fig.axes[0]
    bars = ax.patches
    assert len(bars) == 3
    labels = [t.get_text().split()[0] for t in ax.get_yticklabels()]
    assert labels == ["b", "a", "d"]  # |-6| > |+2| > |+1|; the exact "c" is cut by top=3
    widths = {round(b.get_y() + b.get_height() / 2): b.get_width() for b in bars}
    assert widths == {0: -6, 1: 2, 2: 1}
    assert set(_legend_texts(ax)) == {"over-count", "under-count"}
    assert "top 3 of 4" in ax.get_title()
    with pytest.raises(ValueError, match="one of each per image"):
        plot_ranked_errors(["a"], [1, 2], [1, 2])


def test_plots_take_an_image_path(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "grey.png"
    Image.fromarray(np.full((60, 80), 90, np.uint8)).save(path)
    fig = plot_points(path, people_count([(10.0, 20.0)]))
    assert fig.axes[0].images[0].get_array().shape == (60, 80, 3)
