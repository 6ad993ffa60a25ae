"""The two readings of a density counter's estimate (its map's sum, its rounded count) and NAE, by hand, in the
metrics and in ``compare``'s report."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers.fake_estimators import default_factories
from helpers.spots import DENSITY_PLUGIN
from workbench import Workbench
from workbench.research import ComparisonReport, compare, density_count, mae, nae, rmse
from workbench.result import CountResult


def test_nae_by_hand_leaves_out_images_without_people() -> None:
    # |3 - 0| has no ratio; the others: 2/10 and 5/20.
    assert nae([0, 10, 20], [3, 12, 15]) == pytest.approx((0.2 + 0.25) / 2)
    assert nae([4], [4]) == 0.0
    assert nae([10, 20], [CountResult(12, []), CountResult(15, [])]) == pytest.approx(0.225)


def test_nae_errors() -> None:
    with pytest.raises(ValueError, match="NAE is undefined: all 2 images have a true count of 0"):
        nae([0, 0], [1, 2])
    with pytest.raises(ValueError, match="pass one per image"):
        nae([1, 2], [1])
    with pytest.raises(ValueError, match="no counts given"):
        nae([], [])


def test_density_count_is_the_map_sum_before_rounding_or_the_count_without_a_map() -> None:
    density = np.full((2, 3), 0.45, np.float32)  # sums to 2.7: the rounded count is 3
    with_map = CountResult(3, [], densityMap=density)
    assert density_count(with_map) == pytest.approx(2.7, rel=1e-6)
    assert density_count(CountResult(5, [])) == 5.0
    assert mae([2], [density_count(with_map)]) == pytest.approx(0.7, rel=1e-6) and mae([2], [with_map]) == 1.0


@pytest.fixture
def wb(plugin_folder):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as host:
        yield host


def test_report_gives_both_readings_named(wb, spots_dataset) -> None:
    """DensityPlugin's map holds one unit per white pixel but it answers one more; the default has no map."""
    report = compare(wb, spots_dataset, ["default", "DensityPlugin"], progress=False)
    rows = report.per_image.set_index(["estimator", "image"])
    assert rows.loc["DensityPlugin", "pred_sum"].tolist() == [3.0, 2.0, 4.0]
    assert rows.loc["DensityPlugin", "pred_count"].tolist() == [4, 3, 5]
    assert rows.loc["default", "pred_sum"].tolist() == [3.0, 2.0, 4.0]  # no map: its count

    true = [3, 3, 1]
    summary = report.summary
    assert summary.loc["DensityPlugin", "MAE"] == pytest.approx(5 / 3)
    assert summary.loc["DensityPlugin", "MAE (sum)"] == pytest.approx(4 / 3)
    assert summary.loc["DensityPlugin", "RMSE (sum)"] == pytest.approx(rmse(true, [3, 2, 4]))
    assert summary.loc["DensityPlugin", "NAE (sum)"] == pytest.approx((0 + 1 / 3 + 3 / 1) / 3)
    assert summary.loc["default", "MAE (sum)"] == summary.loc["default", "MAE"] == pytest.approx(4 / 3)
    columns = list(summary.columns)
    assert columns.index("MAE (sum)") > columns.index("GAME(0)") and "NAE (sum)" in columns

    page = report.to_html(report.dataset.root.parent / "out.html", figures={})
    text = page.read_text()
    assert "MAE (sum)" in text and "NAE (sum)" in text and "of the rounded counts" in text
    # NAE is shown as a ratio (3 decimals), the (sum) errors in people (2 decimals).
    styled = ComparisonReport.styled(summary).to_html()
    assert "1.111" in styled and "1.33" in styled


def test_nae_is_nan_where_every_annotated_image_is_empty() -> None:
    rows = [{"image": f"i{k}", "estimator": "e", "true_count": 0, "pred_count": k, "pred_sum": k + 0.25,
             "error": k, "abs_error": k, "latency_ms": 1.0} for k in range(2)]
    # The summary reads only the rows, never the dataset.
    report = ComparisonReport(None, rows, {"e": []}, broker="b", targets="T2", thresholds=(), game_levels=(),
                              busy_seconds={})
    summary = report.summary.loc["e"]
    assert math.isnan(summary["NAE (sum)"])
    assert summary["MAE (sum)"] == pytest.approx(0.75) and summary["MAE"] == pytest.approx(0.5)


def test_rows_without_the_sum_reading_summarise_as_nan() -> None:
    """A report built from rows written before the reading existed still summarises (its sums are unknown)."""
    rows = [{"image": "i", "estimator": "e", "true_count": 2, "pred_count": 3, "error": 1, "abs_error": 1,
             "latency_ms": 1.0}]
    summary = ComparisonReport(None, rows, {"e": []}, broker="b", targets="T2", thresholds=(), game_levels=(),
                               busy_seconds={}).summary.loc["e"]
    assert summary["MAE"] == 1.0 and pd.isna(summary["MAE (sum)"]) and pd.isna(summary["NAE (sum)"])
