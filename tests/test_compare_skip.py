"""An image that cannot be decoded (issue 32, finding 4): ``compare`` refuses the run before estimating anything,
naming every such file (``workbench compare`` exits 2), or leaves it out when asked (``on_error="skip"``,
``--on-error skip``) and lists it, with the reason, in the report, its files and on the console.

It used to break the run in its turn: exit 1, after the earlier images were estimated, and nothing written.
"""
from __future__ import annotations

import functools
import json

import pandas as pd
import pytest

from helpers.fake_estimators import BrightPixelCounter
from workbench import Workbench
from workbench.research import compare
from workbench.research.compare import UnreadableImagesError
from workbench.research.datasets import DatasetError

BROKEN = "spots_2"


@pytest.fixture
def counter() -> BrightPixelCounter:
    return BrightPixelCounter(threshold=200)


@pytest.fixture
def wb(plugin_folder, counter):
    with Workbench(plugin_folder.root, [], default_estimators={"peopleCountEstimator": lambda config: counter}) as host:
        yield host


@pytest.fixture
def broken_spots(spots_dataset):
    """``spots_dataset`` with spots_2's PNG cut short: its header still reads (the dataset loads), its pixels do not."""
    path = spots_dataset[1].image_path
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return spots_dataset


def test_an_unreadable_image_fails_the_run_before_anything_is_estimated(wb, counter, broken_spots):
    with pytest.raises(UnreadableImagesError) as caught:
        compare(wb, broken_spots, ["default"], progress=False)
    error = caught.value
    assert isinstance(error, DatasetError), "a dataset problem, as every other one"
    assert counter.batches == 0, "no estimator time is spent on a run that cannot finish"
    assert [row["image"] for row in error.unreadable] == [BROKEN]
    message = str(error)
    assert str(broken_spots[1].image_path) in message and "truncated" in message
    assert "1 of 3 images" in message and "on_error='skip'" in message


def test_skip_scores_the_others_and_lists_the_skipped_image_everywhere(wb, broken_spots, tmp_path):
    report = compare(wb, broken_spots, ["default"], progress=False, on_error="skip")

    assert report.per_image["image"].tolist() == ["spots_1", "spots_3"]
    assert report.per_image["pred_count"].tolist() == [3, 4]
    assert report.summary.loc["default", "images"] == 2
    assert report.dataset.names == ["spots_1", "spots_3"]
    [skipped] = report.skipped.to_dict(orient="records")
    assert skipped["image"] == BROKEN and skipped["path"] == str(broken_spots[1].image_path)
    assert "truncated" in skipped["reason"] and not skipped["reason"].startswith(skipped["path"])
    assert any("1 of 3 images cannot be read and were skipped" in note and BROKEN in note for note in report.notes)

    paths = report.to_csv(tmp_path)
    assert pd.read_csv(paths["skipped"])["image"].tolist() == [BROKEN]
    document = json.loads(report.to_json(tmp_path / "report.json").read_text())
    assert [row["image"] for row in document["skipped"]] == [BROKEN]
    page = report.to_html(tmp_path, figures={}).read_text()
    assert "Skipped images (1" in page and skipped["reason"].split(" (")[0] in page


def test_a_report_without_skipped_images_writes_no_skipped_file(wb, spots_dataset, tmp_path):
    report = compare(wb, spots_dataset, ["default"], progress=False, on_error="skip")
    assert report.skipped.empty and "skipped" not in report.to_csv(tmp_path)
    assert not (tmp_path / "skipped.csv").exists()
    assert json.loads(report.to_json(tmp_path / "report.json").read_text())["skipped"] == []


def test_skipping_every_image_leaves_nothing_to_compare(wb, counter, spots_dataset):
    for sample in spots_dataset:
        sample.image_path.write_bytes(b"not an image")
    with pytest.raises(UnreadableImagesError, match="none of the 3 images can be read"):
        compare(wb, spots_dataset, ["default"], progress=False, on_error="skip")
    assert counter.batches == 0


def test_on_error_takes_fail_or_skip(wb, spots_dataset):
    with pytest.raises(ValueError, match="on_error must be one of 'fail', 'skip', got 'skipp'; did you mean 'skip'"):
        compare(wb, spots_dataset, ["default"], progress=False, on_error="skipp")


@pytest.fixture
def broken_images(spots_dataset, tmp_path):
    """The spots as a folder of images only, spots_2's cut short. (An annotated dataset reads each header as it
    places the points, so there a file whose header cannot be read is refused as the dataset loads, exit 2.)"""
    folder = tmp_path / "images_only"
    folder.mkdir()
    for sample in spots_dataset:
        data = sample.image_path.read_bytes()
        (folder / sample.image_path.name).write_bytes(data[: len(data) // 2] if sample.name == BROKEN else data)
    return folder


def _compare_command(monkeypatch, plugin_folder, counter, argv):
    import workbench.research._cli as compare_cli
    from workbench.cli import main

    monkeypatch.setattr(compare_cli, "Workbench", functools.partial(
        Workbench, default_estimators={"peopleCountEstimator": lambda config: counter}))
    return main(["compare", *argv, "--estimators", "default", "--plugins-dir", str(plugin_folder.root),
                 "--active", "", "--no-progress"])


def test_cli_exits_2_naming_the_file_and_the_flag_and_writes_nothing(
    monkeypatch, plugin_folder, counter, broken_images, tmp_path, capsys
):
    out = tmp_path / "report"
    assert _compare_command(monkeypatch, plugin_folder, counter, [str(broken_images), "--out", str(out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("workbench compare: error: 1 of 3 images cannot be read")
    assert f"{broken_images / BROKEN}.png" in line and "--on-error skip" in line and "on_error=" not in line
    assert counter.batches == 0 and not out.exists()


def test_cli_skip_writes_the_report_lists_the_file_and_exits_0(
    monkeypatch, plugin_folder, counter, broken_images, tmp_path, capsys
):
    out = tmp_path / "report"
    argv = [str(broken_images), "--out", str(out), "--on-error", "skip"]
    assert _compare_command(monkeypatch, plugin_folder, counter, argv) == 0
    printed = capsys.readouterr()
    assert f"workbench compare: warning: skipped {broken_images / BROKEN}.png: " in printed.err
    assert f"report: {out / 'report.html'}" in printed.out
    assert pd.read_csv(out / "per_image.csv")["image"].tolist() == ["spots_1", "spots_3"]
    assert pd.read_csv(out / "skipped.csv")["image"].tolist() == [BROKEN]
    assert "Skipped images" in (out / "report.html").read_text()


def test_an_annotated_image_whose_header_cannot_be_read_is_skipped_too(wb, spots_dataset):
    """A file that is not an image at all, under an annotation: loading keeps it (with a warning naming it) instead
    of refusing the whole dataset, so that compare can skip it as it skips any other unreadable image."""
    from workbench.research import load_dataset
    from workbench.research.datasets import DatasetWarning

    spots_dataset[1].image_path.write_bytes(b"not an image at all")
    with pytest.warns(DatasetWarning, match=r"1 annotated image\(s\) cannot be read.*spots_2\.png.*cannot read the "
                                            r"image header.*--on-error skip"):
        reloaded = load_dataset(spots_dataset.root)
    with pytest.raises(UnreadableImagesError, match="spots_2"):
        compare(wb, reloaded, ["default"], progress=False)
    report = compare(wb, reloaded, ["default"], progress=False, on_error="skip")
    assert report.per_image["image"].tolist() == ["spots_1", "spots_3"]
    assert report.skipped["image"].tolist() == [BROKEN]
