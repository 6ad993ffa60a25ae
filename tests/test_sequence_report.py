"""Issue 33: a comparison on a sequence reports counts over time, in every rendering and from the command line.

On a generated H.264 clip with a sidecar of head points and on a frame folder read with ``--fps``, each report
has its ``timeline``, the over-time figures on the page, a Stability section with where an estimator departs most
from the default, ``timeline.csv``, ``stability.csv`` and the JSON's ``timeline``; ``workbench compare`` reads
a video and the sequence flags, and says what is wrong with them in their own words. The estimators are the
bright-pixel counter (the stand-in default) and ``DensityPlugin``, which answers one more on every frame, so
what the report says about them is known exactly. The real Mall sequence is used when present.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from helpers.fake_estimators import default_factories  # noqa: E402
from helpers.spots import DENSITY_PLUGIN  # noqa: E402
from helpers.videos import mall_folder, write_video  # noqa: E402
from workbench import Workbench  # noqa: E402
from workbench.cli import main  # noqa: E402
from workbench.research import compare, load_dataset, load_sequence  # noqa: E402

pytest.importorskip("av", reason="PyAV is the video extra: pip install 'workbench[video]' (make test installs it)")

FPS = 4
FRAMES = 12
SIZE = (64, 48)
PLUGIN_LABEL = "DensityPlugin"
DEFAULT_LABEL = "default"  # the stand-in default has no model to name


def _heads(index: int) -> list[tuple[int, int]]:
    """Frame ``index``'s people: 1 to 4 of them, spread over the frame."""
    return [(8 + 14 * k, 8 + 10 * k) for k in range(index % 4 + 1)]


def _picture(index: int) -> np.ndarray:
    """A dark frame with a white 4x4 block per person: flat enough to survive lossy coding about whole."""
    pixels = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    for x, y in _heads(index):
        pixels[y - 2:y + 2, x - 2:x + 2] = 255
    return pixels


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """``clip.mp4`` (12 frames at 4 fps) and ``clip.points.json`` annotating every frame."""
    folder = tmp_path / "video"
    folder.mkdir()
    path = write_video(folder / "clip.mp4", FRAMES, fps=FPS, size=SIZE, gop=4,
                       pictures=[_picture(i) for i in range(FRAMES)])
    (folder / "clip.points.json").write_text(json.dumps(
        {"video": "clip.mp4", "frames": {str(i): [list(p) for p in _heads(i)] for i in range(FRAMES)}}))
    return path


@pytest.fixture
def frame_folder(tmp_path: Path) -> Path:
    """Twelve unannotated PNG frames (lossless: the bright-pixel counter finds 16 pixels per person exactly)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(FRAMES):
        Image.fromarray(_picture(index)).save(folder / f"frame_{index + 1:03d}.png")
    return folder


@pytest.fixture
def plugin(plugin_folder) -> str:
    return plugin_folder.add("density", DENSITY_PLUGIN)


def _compare(plugin_folder, plugin: str, dataset):
    with Workbench(plugin_folder.root, [plugin], default_estimators=default_factories()) as wb:
        return compare(wb, dataset, ["default", PLUGIN_LABEL], progress=False)


def test_a_video_with_points_reports_counts_over_time_everywhere(clip, plugin_folder, plugin, tmp_path):
    report = _compare(plugin_folder, plugin, load_sequence(clip, every=2))
    report.smoothing = 3
    timeline = report.timeline
    assert timeline is not None and list(timeline.frames) == [0, 2, 4, 6, 8, 10]
    assert list(timeline.times) == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5]) and timeline.axis[1] == "time (s)"
    assert list(timeline.truth) == [len(_heads(i)) for i in range(0, FRAMES, 2)]
    answered = report.per_image.set_index(["estimator", "image"])["pred_count"]
    assert list(timeline.counts["default"]) == [answered["default", s.name] for s in report.dataset]
    np.testing.assert_allclose(timeline.counts[PLUGIN_LABEL] - timeline.counts["default"], 1.0)

    # The summary's step size is the stability table's; one more on every frame moves as much as the default.
    stability = report.stability()
    assert list(stability.index.get_level_values("window").unique()) == [1, 3]
    plain = stability.loc[1]
    assert report.summary.loc["default", "mean abs change"] == plain.loc[DEFAULT_LABEL, "mean abs change"] > 0
    assert report.summary.loc[PLUGIN_LABEL, "mean abs change"] == plain.loc[DEFAULT_LABEL, "mean abs change"]
    assert plain.loc["truth", "mean abs change"] == pytest.approx(np.abs(np.diff(timeline.truth)).mean())
    [line] = report.divergence_notes()
    assert line.startswith(f"{PLUGIN_LABEL} departs most from {DEFAULT_LABEL} over frames 0 to")
    assert "+1.0 people on average there, +1.0 over the whole" in line

    figures = report.figures(grid_images=0, detail_images=0)
    assert {"counts_over_time", "error_over_time", "frame_changes"} <= set(figures)
    assert "moving average over 3 frames" in figures["counts_over_time"].axes[0].get_title()
    page = report.to_html(tmp_path / "out", figures=figures).read_text()
    for key in ("counts_over_time", "error_over_time", "frame_changes"):
        assert f"alt='{key}'" in page
    stability_section = page[page.index("<h2 id='stability'>Stability</h2>"):page.index("<h2>Per image</h2>")]
    assert line in stability_section and "change error" in stability_section
    boxed = re.findall(r"<div class='table-box'>\s*(?:<style[^>]*>.*?</style>\s*)?<table", page, re.S)
    assert len(boxed) == page.count("<table"), "the stability table scrolls in its own box, as every table does"
    assert "<h2 id='stability'>Stability</h2>" in report._repr_html_()

    paths = report.to_csv(tmp_path / "out")
    written = pd.read_csv(paths["timeline"])
    assert list(written.columns) == ["frame", "time", "truth", "default", "error default", PLUGIN_LABEL,
                                     f"error {PLUGIN_LABEL}"]
    assert list(written["frame"]) == list(timeline.frames)
    assert list(written["error default"]) == list(timeline.counts["default"] - timeline.truth)
    steps = pd.read_csv(paths["stability"])
    assert list(steps.columns[:2]) == ["window", "series"] and len(steps) == 6  # 2 windows x (2 estimators + truth)
    document = json.loads(report.to_json(tmp_path / "out" / "report.json").read_text())["timeline"]
    assert document["frames"] == list(timeline.frames) and document["times"] == list(timeline.times)
    assert document["truth"] == list(timeline.truth) and document["smoothing"] == 3
    assert document["counts"][PLUGIN_LABEL] == list(timeline.counts[PLUGIN_LABEL])
    assert {row["window"] for row in document["stability"]} == {1, 3} and document["divergence"] == [line]


def test_a_frame_folder_with_fps_is_timed_and_unannotated_frames_have_no_error_figure(
    frame_folder, plugin_folder, plugin, tmp_path,
):
    report = _compare(plugin_folder, plugin, load_sequence(frame_folder, fps=2))
    timeline = report.timeline
    assert timeline is not None and not timeline.annotated
    assert list(timeline.times) == pytest.approx([i / 2 for i in range(FRAMES)])
    assert list(timeline.counts["default"]) == [16 * len(_heads(i)) for i in range(FRAMES)]  # 16 white pixels each
    figures = report.figures(grid_images=0, detail_images=0)
    assert "counts_over_time" in figures and "error_over_time" not in figures
    assert "truth" not in report.stability().loc[1].index
    document = json.loads(report.to_json(tmp_path / "report.json").read_text())["timeline"]
    assert document["truth"] == [None] * FRAMES, "no annotation is null, not NaN"


def test_images_that_are_not_a_sequence_get_no_timeline(spots_dataset, plugin_folder, plugin, tmp_path):
    report = _compare(plugin_folder, plugin, spots_dataset)
    assert report.timeline is None and report.stability().empty and report.divergence_notes() == []
    assert "mean abs change" not in report.summary
    assert not {"counts_over_time", "error_over_time", "frame_changes"} & set(report.figures(detail_images=0))
    assert set(report.to_csv(tmp_path)) == {"per_image", "summary"}
    assert "timeline" not in json.loads(report.to_json(tmp_path / "report.json").read_text())
    assert "Stability" not in report.to_html(tmp_path).read_text()


def test_smoothing_is_a_whole_number_of_frames(spots_dataset, plugin_folder, plugin):
    report = _compare(plugin_folder, plugin, spots_dataset)
    assert report.smoothing == 1
    with pytest.raises(ValueError, match="smoothing must be a whole number"):
        report.smoothing = 0


# -- the command line ----------------------------------------------------------------------------------------


def _run(data: Path, plugin_folder, plugin: str, out: Path, *flags: str) -> int:
    return main(["compare", str(data), "--out", str(out), "--no-progress", "--estimators", PLUGIN_LABEL,
                 "--plugins-dir", str(plugin_folder.root), "--active", plugin, *flags])


def test_the_command_line_reads_a_video_and_smooths(clip, plugin_folder, plugin, tmp_path, capsys):
    out = tmp_path / "out"
    assert _run(clip, plugin_folder, plugin, out, "--every", "3", "--smoothing", "2") == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "mean abs change" in printed and "change error" in printed, "the stability table is printed"
    timeline = pd.read_csv(out / "timeline.csv")
    assert list(timeline["frame"]) == [0, 3, 6, 9] and list(timeline["time"]) == pytest.approx([0, 0.75, 1.5, 2.25])
    assert set(pd.read_csv(out / "stability.csv")["window"]) == {1, 2}
    assert json.loads((out / "report.json").read_text())["timeline"]["smoothing"] == 2
    assert (out / "counts_over_time.png").is_file() and (out / "error_over_time.png").is_file()


def test_the_command_line_reads_a_frame_folder_at_a_rate(frame_folder, plugin_folder, plugin, tmp_path, capsys):
    out = tmp_path / "out"
    status = _run(frame_folder, plugin_folder, plugin, out, "--fps", "4", "--every-seconds", "1")
    assert status == 0, capsys.readouterr().err
    timeline = pd.read_csv(out / "timeline.csv")
    assert list(timeline["frame"]) == [0, 4, 8] and list(timeline["time"]) == pytest.approx([0, 1, 2])


@pytest.mark.parametrize(("data", "flags", "message"), [
    ("clip", ["--split", "test"], "clip.mp4 is a video file: --split applies to a folder of frames"),
    ("clip", ["--fps", "5", "--pattern", "x*"], "--pattern, --fps apply to a folder of frames"),
    ("clip", ["--every", "2", "--every-seconds", "1"], "pass --every (frames) or --every-seconds, not both"),
    ("clip", ["--every-seconds", "0"], "--every-seconds 0.0: must be a number of seconds above 0"),
    ("frames", ["--every-seconds", "1"], "--every-seconds needs the folder's frame rate: pass --fps as well"),
    ("frames", ["--fps", "0"], "--fps 0.0: must be a frame rate above 0"),
    ("frames", ["--smoothing", "2"], "--smoothing 2: "),
])
def test_the_sequence_flags_errors_name_the_flags(clip, frame_folder, plugin_folder, plugin, tmp_path, capsys,
                                                 data, flags, message):
    out = tmp_path / "out"
    assert _run(clip if data == "clip" else frame_folder, plugin_folder, plugin, out, *flags) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("workbench compare: error: ") and message in line, line
    assert "=" not in line.partition("error: ")[2], "no Python argument (every_seconds=) in a command's message"
    assert not out.exists(), "nothing is written"


def test_smoothing_a_folder_that_is_not_read_as_a_sequence_says_how_to_make_it_one(
    frame_folder, plugin_folder, plugin, tmp_path, capsys,
):
    assert _run(frame_folder, plugin_folder, plugin, tmp_path / "out", "--smoothing", "2") == 2
    assert "pass a video file, Mall, or a frame folder with --every, --every-seconds or --fps" in capsys.readouterr().err


# -- the real Mall sequence ----------------------------------------------------------------------------------


@pytest.mark.slow  # two real estimators on 100 frames of 640x480
def test_the_default_and_the_example_plugin_on_mall(capsys):
    from workbench.host import example_plugins_dir

    mall = load_sequence(mall_folder(), every=20)
    assert len(mall) == 100 and load_dataset(mall_folder()).is_sequence, "Mall is a sequence as it is"
    with Workbench(example_plugins_dir(), ["people_count_onnx.plugin"]) as wb:
        report = compare(wb, mall, ["default", "PeopleCountOnnxPlugin"], progress=False)
    report.smoothing = 5
    stability = report.stability()
    with capsys.disabled():
        print(f"\nMall, every 20th frame ({len(mall)} frames):")
        print(report.summary[["MAE", "RMSE", "mean abs change"]].rename(index=report.labels).to_string())
        print(stability.to_string(float_format=lambda v: f"{v:.2f}"))
        print("\n".join(report.divergence_notes()))
    assert all(math.isfinite(value) for value in report.summary["MAE"])
    numbers = stability[["mean abs change", "vs truth", "change error"]].to_numpy()
    assert np.isfinite(numbers).all() and (numbers[:, 0] > 0).all()
    assert stability.loc[(1, "truth"), "steps"] == 99
