"""Issue 32, finding 7: one unit for the peak threshold, a slider a hand can set, request_stats in its units.

The Explorer's slider spanned six decades of people/px in 79 px, leaving about 13 px for the band where points
localise; it now spans four decades over a 480 px track and shows its value in people/px. ``request_stats`` gives its
latencies in milliseconds under keys that say so, and counts as whole numbers. (Notebook 03's sweep in people/px
and notebook 04's table are checked where the notebooks run: tests/test_notebooks.py.)
"""
from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers.fake_estimators import default_factories
from helpers.spots import DENSITY_PLUGIN
from workbench import MonitoringPoint, Workbench
from workbench.research import Explorer
from workbench.research.widgets import THRESHOLD_RANGE

#: The band where the default model's peaks localise on crowd-mini (F1@10 above 0.25: 1.8e-4 to 1.5e-3
#: people/px, measured with the peaks strategy over its 38 photos); it must be wide enough to set by hand.
USEFUL_BAND = (1.8e-4, 1.5e-3)
MIN_BAND_PX = 80


@pytest.fixture
def explorer(plugin_folder, spots_dataset):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        yield Explorer(wb, spots_dataset)


def _track_px(explorer: Explorer) -> float:
    """The slider's width less its label's: the track a hand moves along."""
    width, label = explorer.threshold.layout.width, explorer.threshold.style.description_width
    assert width and width.endswith("px") and label.endswith("px"), f"set widths in px, got {width!r}, {label!r}"
    return float(width.removesuffix("px")) - float(label.removesuffix("px"))


def test_the_threshold_slider_spans_a_sensible_range_wide_enough_to_set(explorer):
    slider = explorer.threshold
    assert slider.base == 10 and (slider.min, slider.max) == (math.log10(THRESHOLD_RANGE[0]),
                                                              math.log10(THRESHOLD_RANGE[1]))
    decades = slider.max - slider.min
    assert decades <= 4, "background ripples below 1e-5 people/px and no head above 0.1 need no track"
    px_per_decade = _track_px(explorer) / decades
    band = math.log10(USEFUL_BAND[1] / USEFUL_BAND[0]) * px_per_decade
    assert band >= MIN_BAND_PX, f"the useful band is {band:.0f} px of the track"
    assert THRESHOLD_RANGE[0] <= slider.value <= THRESHOLD_RANGE[1]
    assert USEFUL_BAND[0] <= slider.value <= USEFUL_BAND[1], "it starts where points localise"


def test_the_threshold_is_shown_in_people_per_pixel_as_it_moves(explorer):
    assert not explorer.threshold.readout, "the bare number gives way to a readout with its unit"
    assert explorer.threshold_readout.value.startswith("5.0e-04 people/px: one person per 2,000 px")
    explorer.strategy.value = "peaks_above"
    explorer.threshold.value = 1e-3
    assert explorer.threshold_readout.value.startswith("1.0e-03 people/px: one person per 1,000 px")
    assert "peaks ≥ 1.0e-03 people/px" in explorer.status.value, "the status line says the same value and unit"


def test_request_stats_gives_whole_counts_and_milliseconds(project_plugins):
    with Workbench(project_plugins, "request_stats.plugin", default_estimators={}) as wb:
        times = [0.010, 0.020, 0.030]  # seconds, as the monitoring points carry them
        points = [MonitoringPoint("request", tags={"route": "GET:/x"}, fields={"execution_time": t}) for t in times]
        points.append(MonitoringPoint("error", tags={"route": "GET:/x"}, fields={"error_code": 500}))
        points.append(MonitoringPoint("error", tags={"route": "GET:/y"}, fields={"error_code": 404}))
        wb.emit("monitoring_event", points)
        summary = wb.plugins["RequestStatsPlugin"].instance.summary()
    assert summary["GET:/x"] == {"requests": 3, "errors": 1, "p50 ms": pytest.approx(20.0),
                                 "p99 ms": pytest.approx(30.0)}
    assert summary["GET:/y"] == {"requests": 0, "errors": 1, "p50 ms": None, "p99 ms": None}
    # The table notebook 04 shows: a route per row keeps the counts integers beside a route with no timings.
    table = pd.DataFrame.from_dict(summary, orient="index")
    assert table["requests"].dtype == table["errors"].dtype == "int64"
    assert list(table.columns) == ["requests", "errors", "p50 ms", "p99 ms"]
