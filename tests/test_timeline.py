"""``Timeline``'s numbers on series small enough to work out by hand, and its three plots (issue 33).

Stability, the change error, the ratio to the truth, the moving average with missing frames, the divergence
window, a timeline built from compare's rows with a failed row, and the refusal of a dataset that is not a
sequence; the plots draw what the timeline holds, on the axes given, and leave no figure open.
"""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from workbench.research import (  # noqa: E402
    Dataset,
    Sample,
    Timeline,
    plot_counts_over_time,
    plot_error_over_time,
    plot_frame_changes,
)

nan = math.nan


def _timeline(**counts: list[float]) -> Timeline:
    truth = [10, 12, 12, 15, 14]
    return Timeline([0, 5, 10, 15, 20], [0.0, 1.0, 2.0, 3.0, 4.0], truth, counts, labels={"default": "default (m)"},
                    name="hand")


def test_stability_against_the_truth():
    # Steps of the truth: +2, 0, +3, -1 (mean |step| 6/4 = 1.5); of "jumpy": +6, -6, +6, -6 (mean 6, largest 6);
    # |Δjumpy - Δtruth|: 4, 6, 3, 5 (mean 4.5).
    table = _timeline(default=[10, 12, 12, 15, 14], jumpy=[10, 16, 10, 16, 10]).stability()
    assert list(table.index) == ["default (m)", "jumpy", "truth"], "estimators by label, then the truth"
    assert table.loc["jumpy", "mean abs change"] == pytest.approx(6.0)
    assert table.loc["jumpy", "max abs change"] == pytest.approx(6.0)
    assert table.loc["jumpy", "vs truth"] == pytest.approx(4.0)
    assert table.loc["jumpy", "change error"] == pytest.approx(4.5)
    assert table.loc["jumpy", "steps"] == 4
    assert table.loc["default (m)", "change error"] == 0 and table.loc["default (m)", "vs truth"] == 1
    assert table.loc["truth", "mean abs change"] == pytest.approx(1.5)


def test_a_missing_count_leaves_out_the_steps_it_is_part_of():
    # jumpy without frame 10: its steps are +6, NaN, NaN, -6: two steps, mean 6; change error |6-2|, |-6+1|.
    table = _timeline(jumpy=[10, 16, nan, 16, 10]).stability()
    assert table.loc["jumpy", "steps"] == 2
    assert table.loc["jumpy", "mean abs change"] == pytest.approx(6.0)
    assert table.loc["jumpy", "change error"] == pytest.approx((4 + 5) / 2)


def test_an_unannotated_timeline_has_no_truth_row_and_no_ratio():
    timeline = Timeline([0, 1, 2], [nan] * 3, [None] * 3, {"a": [1, 3, 2]})
    table = timeline.stability()
    assert "truth" not in table.index and not timeline.annotated and not timeline.has_times
    assert table.loc["a", "mean abs change"] == pytest.approx(1.5)
    assert math.isnan(table.loc["a", "vs truth"]) and math.isnan(table.loc["a", "change error"])
    assert timeline.axis[1] == "frame" and list(timeline.axis[0]) == [0, 1, 2]


def test_smoothing_averages_around_each_frame_leaving_nans_out():
    timeline = Timeline([0, 1, 2, 3, 4], [nan] * 5, [nan] * 5, {"a": [1, nan, 5, 7, nan], "b": [nan, nan, nan, 2, 2]})
    smoothed = timeline.smoothed(3)
    # Centred windows, shorter at the ends: [1, nan] -> 1; [1, nan, 5] -> 3; [nan, 5, 7] -> 6; [5, 7, nan] -> 6;
    # [7, nan] -> 7. "b"'s first two windows hold no value: NaN stays NaN.
    np.testing.assert_allclose(smoothed.counts["a"], [1, 3, 6, 6, 7])
    np.testing.assert_allclose(smoothed.counts["b"], [nan, nan, 2, 2, 2])
    np.testing.assert_allclose(timeline.smoothed(1).counts["a"], timeline.counts["a"])
    # Smoothing first: the steps of "a" become +2, +3, 0, +1.
    stability = timeline.stability(3)
    assert stability.loc["a", "mean abs change"] == pytest.approx(6 / 4)
    assert stability.index.name == "series (moving average over 3 frames)"
    with pytest.raises(ValueError, match="window"):
        timeline.smoothed(0)


def test_a_window_longer_than_the_sequence_averages_what_there_is():
    """A 5-frame window over 3 frames gave 5 values (numpy's 'same' convolution takes the longer length), of which
    the first 3 were kept: 1.5, 2, 2 for a truth of 1, 2, 3, whose every window holds all three."""
    timeline = Timeline([0, 1, 2], [nan] * 3, [1, 2, 3], {"a": [4, nan, 8]})
    smoothed = timeline.smoothed(5)
    np.testing.assert_allclose(smoothed.truth, [2, 2, 2])
    np.testing.assert_allclose(smoothed.counts["a"], [6, 6, 6])
    # An even window reaches one frame further ahead than behind: [i - 1, i + 2].
    even = Timeline(range(5), [nan] * 5, [0, 1, 2, 3, 4], {}).smoothed(4)
    np.testing.assert_allclose(even.truth, [1, 1.5, 2.5, 3, 3.5])


def test_divergence_finds_the_window_where_two_estimators_differ_most():
    counts = {"default": [10] * 8, "other": [10, 10, 10, 14, 18, 10, 10, 10]}
    timeline = Timeline(range(0, 80, 10), np.arange(8) / 2, [10] * 8, counts)
    stretch = timeline.divergence("other", window=2)
    # Differences 0, 0, 0, 4, 8, 0, 0, 0: the pair of frames 30 and 40 has the largest mean, 6.
    assert (stretch.first_frame, stretch.last_frame, stretch.frames) == (30, 40, 2)
    assert (stretch.first_time, stretch.last_time) == (1.5, 2.0)
    assert stretch.mean_difference == pytest.approx(6.0) and stretch.overall_difference == pytest.approx(12 / 8)
    assert "frames 30 to 40 (1.5 s to 2.0 s)" in stretch.describe() and "+6.0 people" in stretch.describe()
    assert timeline.divergence("other", window=50).frames == 8, "a window longer than the recording is all of it"
    with pytest.raises(KeyError, match="'default', 'other'"):
        timeline.divergence("missing")
    refused = Timeline([0, 1], [nan] * 2, [1, 1], {"default": [1, nan], "other": [nan, 1]})
    with pytest.raises(ValueError, match="no frame in common"):
        refused.divergence("other")


def _frames(n: int, *, frame: bool = True) -> Dataset:
    samples = [Sample(f"f{i}", f"/nowhere/f{i}.jpg", np.zeros((i, 2)), frame=i * 3 if frame else None,
                      time=i * 0.5 if frame else None) for i in range(n)]
    return Dataset(samples, name="clip", root=Path("/nowhere"), format="images")


def test_from_rows_puts_each_count_on_its_frame_and_a_failed_row_as_nan():
    rows = pd.DataFrame([
        {"image": "f2", "estimator": "a", "pred_count": 7, "failure": None},  # rows need not be in frame order
        {"image": "f0", "estimator": "a", "pred_count": 1, "failure": None},
        {"image": "f1", "estimator": "a", "pred_count": 99, "failure": "refused: density map negative"},
        {"image": "f0", "estimator": "b", "pred_count": 0, "failure": None},
    ])
    timeline = Timeline.from_rows(_frames(3), rows, ["a", "b"])
    assert list(timeline.frames) == [0, 3, 6] and list(timeline.times) == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(timeline.truth, [0, 1, 2])
    np.testing.assert_allclose(timeline.counts["a"], [1, nan, 7])
    np.testing.assert_allclose(timeline.counts["b"], [0, nan, nan])
    np.testing.assert_allclose(timeline.errors("a"), [1, nan, 5])
    table = timeline.table()
    assert list(table.columns) == ["frame", "time", "truth", "a", "error a", "b", "error b"]


def test_a_dataset_that_is_not_a_sequence_is_refused_saying_how_to_load_one():
    with pytest.raises(ValueError, match=r"not a sequence.*load_sequence\(path, fps=\.\.\.\)"):
        Timeline.from_rows(_frames(2, frame=False), pd.DataFrame(columns=["image", "estimator", "pred_count"]), ["a"])


# -- the plots -------------------------------------------------------------------------------------------


def test_counts_over_time_draws_the_truth_and_each_estimator_against_time():
    timeline = _timeline(default=[10, 12, 12, 15, 14], jumpy=[10, 16, 10, 16, 10])
    ax, open_before = Figure().add_subplot(), plt.get_fignums()
    figure = plot_counts_over_time(timeline, ax=ax)
    assert figure is ax.figure and plt.get_fignums() == open_before, "drawn on the axes given, no new figure open"
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["truth", "default (m)", "jumpy"]
    assert lines["truth"].get_color() == "black"
    np.testing.assert_allclose(lines["jumpy"].get_xdata(), [0, 1, 2, 3, 4])  # seconds: every frame has a time
    np.testing.assert_allclose(lines["jumpy"].get_ydata(), [10, 16, 10, 16, 10])
    assert ax.get_xlabel() == "time (s)"
    smoothed = Figure().add_subplot()
    plot_counts_over_time(timeline, ax=smoothed, estimators=["jumpy"], window=3)
    [truth, jumpy] = smoothed.get_lines()
    assert jumpy.get_color() == lines["jumpy"].get_color(), "an estimator keeps its colour when others are left out"
    np.testing.assert_allclose(jumpy.get_ydata(), [13, 12, 14, 12, 13])
    assert "moving average over 3 frames" in smoothed.get_title()
    with pytest.raises(ValueError, match="no estimator 'nope'.*'default', 'jumpy'"):
        plot_counts_over_time(timeline, ax=Figure().add_subplot(), estimators=["nope"])


def test_error_over_time_has_a_zero_line_and_shades_where_an_estimator_departs_from_the_default():
    timeline = _timeline(default=[10, 12, 12, 15, 14], jumpy=[10, 16, 10, 16, 10])
    ax = Figure().add_subplot()
    plot_error_over_time(timeline, ax=ax, divergence_window=2)
    errors = {line.get_label(): line.get_ydata() for line in ax.get_lines() if line.get_label() in ("jumpy",)}
    np.testing.assert_allclose(errors["jumpy"], [0, 4, -2, 1, -4])
    # jumpy - default: 0, 4, -2, 1, -4; pairs' means 2, 1, -0.5, -1.5: frames 0-5, seconds 0 to 1.
    [band] = ax.patches
    assert band.get_x() == pytest.approx(0.0) and band.get_width() == pytest.approx(1.0)
    assert "jumpy departs most from default (m) (+2.0)" in [text.get_text() for text in ax.get_legend().get_texts()]
    smoothed = Figure().add_subplot()
    plot_error_over_time(timeline, ax=smoothed, window=3, divergence_window=2)
    # The band is where the counts as answered differ (the report's line says so), not the smoothed lines (whose
    # largest pair, -1.6, is frames 15 to 20).
    assert [band.get_x() for band in smoothed.patches] == [pytest.approx(0.0)]
    unshaded = Figure().add_subplot()
    plot_error_over_time(timeline, ax=unshaded, divergence_window=None)
    assert not unshaded.patches
    unannotated = Timeline([0, 1], [nan] * 2, [nan] * 2, {"a": [1, 2]}, name="clip")
    with pytest.raises(ValueError, match="'clip' has no annotated frame"):
        plot_error_over_time(unannotated, ax=Figure().add_subplot())


def test_frame_changes_is_the_share_of_steps_up_to_each_size():
    ax = Figure().add_subplot()
    plot_frame_changes(_timeline(jumpy=[10, 16, 10, 16, 10]), ax=ax)
    curves = {line.get_label(): line for line in ax.get_lines()}
    # The truth's |steps| 0, 1, 2, 3 sorted, from (0, 0): a quarter more at each.
    np.testing.assert_allclose(curves["truth"].get_xdata(), [0, 0, 1, 2, 3])
    np.testing.assert_allclose(curves["truth"].get_ydata(), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curves["jumpy"].get_xdata(), [0, 6, 6, 6, 6])


def test_the_plots_make_their_own_figure_without_ax():
    timeline = _timeline(default=[10, 12, 12, 15, 14])
    figures = [plot(timeline) for plot in (plot_counts_over_time, plot_error_over_time, plot_frame_changes)]
    try:
        assert all(len(figure.axes) == 1 and figure.axes[0].get_lines() for figure in figures)
    finally:
        for figure in figures:
            plt.close(figure)


def test_a_one_frame_sequence_draws_without_a_legend_warning():
    """A one-frame clip has no step: the frame-change plot drew nothing and matplotlib warned about an empty legend."""
    import warnings

    from matplotlib.figure import Figure

    from workbench.research import plot_frame_changes

    timeline = Timeline([0], [0.0], [3], {"default": [4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_frame_changes(timeline, ax=Figure().add_subplot())
