"""compare + ComparisonReport + `workbench compare`: scores checked against hand-computed values on a tiny dataset.

The dataset is three lossless images with white pixels at known spots, so the stand-in default estimator
(``BrightPixelCounter``) finds exactly those spots and every score can be worked out by hand.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import threading

import pandas as pd
import pytest

from helpers.fake_estimators import BrightPixelCounter, default_factories
from helpers.spots import DENSITY_PLUGIN, FAILING_PLUGIN
from workbench import UnknownEstimatorError, Workbench
from workbench.research import ComparisonReport, compare, load_dataset, mae

@pytest.fixture
def wb(plugin_folder):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as host:
        yield host


def test_per_image_rows_and_summary_match_hand_computed_scores(wb, spots_dataset):
    assert wb.estimators["peopleCountEstimator"] == "DensityPlugin"
    report = compare(wb, spots_dataset, ["default", "DensityPlugin"], progress=False)

    assert wb.estimators["peopleCountEstimator"] == "DensityPlugin", "the estimator in use is restored"
    rows = report.per_image.set_index(["estimator", "image"])
    assert len(rows) == 6
    assert rows.loc["default", "pred_count"].tolist() == [3, 2, 4]
    assert rows.loc["DensityPlugin", "pred_count"].tolist() == [4, 3, 5]
    assert rows.loc["default", "true_count"].tolist() == [3, 3, 1]
    assert rows.loc["default", "error"].tolist() == [0, -1, 3]
    assert rows.loc["DensityPlugin", "abs_error"].tolist() == [1, 0, 4]
    assert (rows["latency_ms"] >= 0).all()
    # The default's points are the annotated spots: 6 matched, 3 extra, 1 missed at either threshold.
    assert rows.loc["default", "tp@10"].tolist() == [3, 2, 1]
    assert rows.loc["default", "fp@10"].tolist() == [0, 0, 3]
    assert rows.loc["DensityPlugin", "tp@10"].sum() == 0
    assert rows.loc["DensityPlugin", "tp@20"].sum() == 6

    summary = report.summary
    assert list(summary.index) == ["default", "DensityPlugin"]
    true = [3, 3, 1]
    assert summary.loc["default", "MAE"] == pytest.approx(mae(true, [3, 2, 4])) == pytest.approx(4 / 3)
    assert summary.loc["DensityPlugin", "MAE"] == pytest.approx(5 / 3)
    assert summary.loc["DensityPlugin", "RMSE"] == pytest.approx(math.sqrt((1 + 0 + 16) / 3))
    # GAME integrates the density map (sum 3, 2, 4), not the rounded-up count.
    assert summary.loc["DensityPlugin", "GAME(0)"] == pytest.approx(4 / 3)
    assert summary.loc["default", "GAME(0)"] == pytest.approx(4 / 3)
    assert summary.loc["default", "P@10"] == pytest.approx(6 / 9)
    assert summary.loc["default", "R@10"] == pytest.approx(6 / 7)
    assert summary.loc["default", "F1@10"] == pytest.approx(12 / 16)
    assert summary.loc["DensityPlugin", "F1@10"] == 0
    assert summary.loc["DensityPlugin", "R@20"] == pytest.approx(6 / 7)
    for column in ("GAME(1)", "GAME(2)", "GAME(3)", "mean ms", "p50 ms", "p99 ms", "images/s"):
        assert summary[column].notna().all() and (summary[column] >= 0).all(), column
    assert summary["images"].tolist() == [3, 3]

    assert [r.count for r in report.results["default"]] == [3, 2, 4]
    assert report.results["DensityPlugin"][0].densityMap is not None
    assert report.counts_table().index[0] == "spots_3", "worst image first"
    html = report._repr_html_()
    assert "ComparisonReport" in html and "MAE" in html and "spots_3" in html


def test_dataset_path_all_estimators_batches_and_t2(wb, spots_dataset):
    report = compare(wb, spots_dataset.root, progress=False, batch_size=2, targets="T2", game_levels=(0,))
    assert report.estimators == ["default", "DensityPlugin"]
    assert report.per_image["pred_count"].tolist() == [3, 2, 4, 4, 3, 5]
    assert report.summary["F1@10"].isna().all(), "T2 asks for no points: localisation is not scored"
    assert list(report.summary.columns[:5]) == ["images", "annotated", "MAE", "RMSE", "GAME(0)"]


def test_unknown_estimator_fails_before_any_work(wb, spots_dataset, monkeypatch):
    calls = []
    monkeypatch.setattr(wb, "estimate", lambda *a, **k: calls.append(a))
    with pytest.raises(UnknownEstimatorError) as error:
        compare(wb, spots_dataset, ["default", "Nope"], progress=False)
    message = str(error.value)
    assert "'Nope'" in message and "'default', 'DensityPlugin'" in message
    with pytest.raises(UnknownEstimatorError, match="unknown estimator broker 'faceDetector'"):
        compare(wb, spots_dataset, broker="faceDetector", progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        compare(wb, spots_dataset, batch_size=0, progress=False)
    assert calls == []


def test_estimator_in_use_is_restored_after_an_error(plugin_folder, spots_dataset):
    modules = [plugin_folder.add("density", DENSITY_PLUGIN), plugin_folder.add("failing", FAILING_PLUGIN)]
    with Workbench(plugin_folder.root, modules, default_estimators=default_factories()) as wb:
        wb.use("peopleCountEstimator", "default")
        with pytest.raises(RuntimeError, match="always fails"):
            compare(wb, spots_dataset, ["DensityPlugin", "FailingPlugin"], progress=False)
        assert wb.estimators["peopleCountEstimator"] == "default"


def test_estimator_in_use_is_restored_after_keyboard_interrupt(wb, spots_dataset, monkeypatch):
    real = wb.estimate
    calls = []

    def interrupted(*args, **kwargs):
        calls.append((kwargs["estimator"], wb.estimators["peopleCountEstimator"]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(wb, "estimate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compare(wb, spots_dataset, ["default"], progress=False)
    assert calls == [("default", "DensityPlugin")] * 2, "run by name; the served one never switched"
    assert wb.estimators["peopleCountEstimator"] == "DensityPlugin"


@pytest.mark.slow
def test_exports_hold_tables_and_figures(wb, spots_dataset, tmp_path):
    report = compare(wb, spots_dataset, ["default", "DensityPlugin"], progress=False)
    figures = report.figures()
    assert {"count_scatter", "ranked_errors_default", "ranked_errors_DensityPlugin", "estimator_grid"} <= set(figures)
    assert "density_DensityPlugin_spots_3" in figures and "points_default_spots_3" in figures

    paths = report.to_csv(tmp_path / "out")
    per_image = pd.read_csv(paths["per_image"])
    assert len(per_image) == 6 and {"image", "estimator", "abs_error", "f1@20"} <= set(per_image.columns)
    summary = pd.read_csv(paths["summary"], index_col="estimator")
    assert summary.loc["default", "MAE"] == pytest.approx(4 / 3)

    document = json.loads(report.to_json(tmp_path / "out" / "report.json").read_text())
    assert document["estimators"] == ["default", "DensityPlugin"]
    assert document["summary"][0]["estimator"] == "default"
    assert len(document["per_image"]) == 6
    assert document["results"]["default"][0]["coordinates"] == [[10.0, 10.0], [30.0, 20.0], [50.0, 40.0]]

    page = report.to_html(tmp_path / "out")
    assert page == tmp_path / "out" / "report.html"
    text = page.read_text()
    assert text.count("data:image/png;base64,") == len(figures)
    assert "GAME(3)" in text and "spots_2" in text and "<script" not in text

    written = report.save_figures(tmp_path / "figures")
    assert set(written) == set(figures)
    for path in written.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unannotated_dataset_is_run_but_not_scored(wb, spots_dataset):
    images_only = load_dataset(spots_dataset.root, format="images")
    report = compare(wb, images_only, ["default"], progress=False)
    assert report.per_image["pred_count"].tolist() == [3, 2, 4]
    assert report.summary[["MAE", "GAME(0)", "F1@10"]].isna().all().all()
    figures = report.figures()
    assert "count_scatter" not in figures and "estimator_grid" in figures


def _cli(argv: list[str]) -> argparse.Namespace:
    from workbench.research._cli import register

    parser = argparse.ArgumentParser(prog="workbench")
    register(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.mark.slow
def test_cli_compare_on_synthetic_data(plugin_folder, tmp_path, monkeypatch, capsys):
    import workbench.research._cli as cli

    module = plugin_folder.add("density", DENSITY_PLUGIN)
    # Nearly white only: the synthetic drawings have few such pixels, so counts (and plots) stay small.
    factories = {"peopleCountEstimator": lambda config: BrightPixelCounter(threshold=245)}
    monkeypatch.setattr(cli, "Workbench", functools.partial(Workbench, default_estimators=factories))
    monkeypatch.setenv("LUNA_REMOTE_SDK_ACTIVE_PLUGINS", module)  # --active falls back to it
    out = tmp_path / "report"
    args = _cli(["compare", "synthetic", "--estimators", "default", "--plugins-dir",
                 str(plugin_folder.root), "--out", str(out), "--split", "test", "--no-progress", "--limit", "2"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and f"report: {out / 'report.html'}" in printed
    assert "default" in printed and "MAE" in printed
    for name in ("report.html", "per_image.csv", "summary.csv", "report.json", "count_scatter.png",
                 "estimator_grid.png", "ranked_errors_default.png"):
        assert (out / name).is_file(), name
    assert len(pd.read_csv(out / "per_image.csv")) == 2
    assert "SYNTHETIC" in (out / "report.html").read_text()
    assert (out / "data" / "images").is_dir()


@pytest.mark.slow
def test_cli_compare_sends_batch_size_images_per_call(plugin_folder, tmp_path, monkeypatch):
    """The CLI had no way to set compare's batch_size: every estimator got one image per call."""
    import workbench.research._cli as cli

    counter = BrightPixelCounter(threshold=245)
    monkeypatch.setattr(cli, "Workbench", functools.partial(
        Workbench, default_estimators={"peopleCountEstimator": lambda config: counter}))
    args = _cli(["compare", "synthetic", "--estimators", "default", "--plugins-dir", str(plugin_folder.root),
                 "--active", "", "--out", str(tmp_path / "r"), "--no-progress", "--limit", "5", "--batch-size", "2"])
    assert args.func(args) == 0
    assert counter.batches == 3  # 2 + 2 + 1 images
    assert len(pd.read_csv(tmp_path / "r" / "per_image.csv")) == 5


def test_cli_compare_refuses_a_batch_size_below_one(capsys):
    with pytest.raises(SystemExit):
        _cli(["compare", "synthetic", "--out", "r", "--batch-size", "0"])
    assert "--batch-size: '0' must be at least 1" in capsys.readouterr().err


def test_cli_compare_reports_an_unknown_estimator(plugin_folder, tmp_path, monkeypatch, capsys):
    import workbench.research._cli as cli

    monkeypatch.setattr(cli, "Workbench", functools.partial(Workbench, default_estimators=default_factories()))
    args = _cli(["compare", "synthetic", "--estimators", "default,Missing", "--plugins-dir",
                 str(plugin_folder.root), "--active", "", "--out", str(tmp_path / "r"), "--no-progress"])
    assert args.func(args) == 2
    assert "no estimator 'Missing' for 'peopleCountEstimator'" in capsys.readouterr().err


def test_report_is_a_comparison_report(wb, spots_dataset):
    report = compare(wb, spots_dataset[:1], ["default"], progress=False)
    assert isinstance(report, ComparisonReport)
    assert "MAE 0.00" in repr(report)


def test_the_next_calls_images_are_decoded_while_the_current_call_runs(wb, spots_dataset, monkeypatch):
    """Decoding used to wait for the estimate to return: the estimator idled while every JPEG was read."""
    from workbench.research.datasets import Sample

    decoding_started: dict[str, threading.Event] = {sample.name: threading.Event() for sample in spots_dataset}
    decode = Sample.image.fget

    def recorded_decode(sample: Sample):
        decoding_started[sample.name].set()
        return decode(sample)

    monkeypatch.setattr(Sample, "image", property(recorded_decode))
    real_estimate = wb.estimate
    overlapped = []

    def estimate(broker, images, targets, *, estimator=None):
        call = len(overlapped)
        upcoming = spots_dataset[call + 1].name if call + 1 < len(spots_dataset) else None
        # Holds the call open until the next image's decoding starts (it never did before the read-ahead).
        overlapped.append(upcoming is None or decoding_started[upcoming].wait(timeout=10))
        return real_estimate(broker, images, targets, estimator=estimator)

    monkeypatch.setattr(wb, "estimate", estimate)
    report = compare(wb, spots_dataset, ["default"], progress=False, batch_size=1)
    assert overlapped == [True, True, True]
    assert report.per_image["pred_count"].tolist() == [3, 2, 4]


def test_decoding_threads_follow_the_cpus_the_process_may_use_not_the_machines(wb, spots_dataset, monkeypatch):
    """The decoders counted the machine's CPUs: in a container limited to one CPU, two threads decoded on it."""
    import os

    from workbench.research.datasets import Sample

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    decode = Sample.image.fget
    decoding_threads: set[str] = set()

    def recorded_decode(sample: Sample):
        decoding_threads.add(threading.current_thread().name)
        return decode(sample)

    monkeypatch.setattr(Sample, "image", property(recorded_decode))
    report = compare(wb, spots_dataset, ["default"], progress=False, batch_size=3)  # three images submitted at once
    # One thread in each pool that decodes: the check before the run and the run's read-ahead.
    pools = {name.rsplit("_", 1)[0] for name in decoding_threads}
    assert pools == {"workbench-check", "workbench-decode"} and len(decoding_threads) == 2, decoding_threads
    assert report.per_image["pred_count"].tolist() == [3, 2, 4]


def test_each_result_is_scored_while_the_next_images_are_estimated(wb, spots_dataset, monkeypatch):
    """Scoring (and reading the image sizes) used to wait for the last estimate, on one core."""
    import sys

    compare_module = sys.modules["workbench.research.compare"]
    scoring_started = [threading.Event() for _ in spots_dataset]
    scoring_threads: list[str] = []
    real_score = compare_module._score

    def recorded_score(sample, *args, **kwargs):
        scoring_threads.append(threading.current_thread().name)
        scoring_started[[s.name for s in spots_dataset].index(sample.name)].set()
        return real_score(sample, *args, **kwargs)

    monkeypatch.setattr(compare_module, "_score", recorded_score)
    real_estimate = wb.estimate
    overlapped = []

    def estimate(broker, images, targets, *, estimator=None):
        call = len(overlapped)
        # Holds the call open until the previous image's scoring starts (it never did before).
        overlapped.append(call == 0 or scoring_started[call - 1].wait(timeout=10))
        return real_estimate(broker, images, targets, estimator=estimator)

    monkeypatch.setattr(wb, "estimate", estimate)
    report = compare(wb, spots_dataset, ["default"], progress=False, batch_size=1)
    assert overlapped == [True, True, True]
    assert scoring_threads and all(name.startswith("workbench-score") for name in scoring_threads)
    assert report.per_image["pred_count"].tolist() == [3, 2, 4]
    assert report.per_image["image"].tolist() == [sample.name for sample in spots_dataset]


def test_an_image_that_fails_to_decode_fails_the_run_after_the_earlier_results_are_kept(
    wb, spots_dataset, tmp_path, monkeypatch
):
    from workbench.images import ImageDecodeError
    from workbench.research.cache import PredictionCache
    from workbench.research.datasets import Sample

    decode = Sample.image.fget

    def failing_decode(sample: Sample):
        # Only in the run: the file broke after compare's check before the run (which decodes through Sample.image too).
        if sample.name == "spots_3" and threading.current_thread().name.startswith("workbench-decode"):
            raise ImageDecodeError(f"{sample.image_path}: the image data is truncated or corrupt")
        return decode(sample)

    monkeypatch.setattr(Sample, "image", property(failing_decode))
    cache = tmp_path / "predictions.sqlite"
    with pytest.raises(ImageDecodeError, match="spots_3.png: the image data is truncated"):
        compare(wb, spots_dataset, ["default"], progress=False, batch_size=1, cache=cache)
    with PredictionCache(cache) as store:
        assert len(store) == 2, "the two images before the unreadable one were estimated and stored"
    assert wb.estimators["peopleCountEstimator"] == "DensityPlugin"
