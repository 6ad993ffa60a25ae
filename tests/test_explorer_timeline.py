"""The Explorer on a sequence (issue 33): a timeline strip of the counts over the frames under the panels, the frame
slider as its scrubber, and the current frame's picture from the video.

The clip is generated here: each frame one flat colour (kept distinct through x264's loss), with a known number of
annotated heads, so what the picture shows and where the curves go can be checked by pixel. The stand-in default
estimator counts pixels brighter than 200, and no colour here is: it counts 0 on every frame.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.fake_estimators import default_factories
from helpers.spots import DENSITY_PLUGIN
from workbench import Workbench
from workbench.research import Explorer, PredictionCache, compare, load_sequence
from workbench.research.timeline import Timeline
from workbench.research.widgets import FROM_CACHE, FROM_REPORT, _Strip

av = pytest.importorskip("av")

FPS = 5
#: One flat colour per frame; no channel above 200, so the stand-in default finds no bright pixel.
COLOURS = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (200, 0, 200), (0, 200, 200), (120, 60, 0),
           (0, 60, 120), (60, 120, 0), (120, 120, 120), (30, 30, 30), (180, 100, 140)]
#: Colours are compared with this tolerance (x264's 4:2:0 and rounding move a flat colour by a few levels).
TOLERANCE = 16


def write_flat_clip(path: Path, colours=COLOURS, size=(96, 64), gop=4) -> Path:
    """A clip of one flat colour per frame, keyframes every ``gop`` frames, with frame ``i`` annotated with
    ``i + 1`` heads (a sidecar ``.points.json``)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.codec_context.gop_size = gop
    for colour in colours:
        pixels = np.full((size[1], size[0], 3), colour, np.uint8)
        for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    heads = {str(i): [[4.0 + 6 * k, 30.0] for k in range(i + 1)] for i in range(len(colours))}
    path.with_name(path.stem + ".points.json").write_text(json.dumps({"video": path.name, "frames": heads}))
    return path


@pytest.fixture
def clip(tmp_path):
    return load_sequence(write_flat_clip(tmp_path / "clip.mp4"))


@pytest.fixture
def wb(plugin_folder):
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as host:
        yield host


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def shown_colour(explorer: Explorer) -> np.ndarray:
    """The colour at the centre of the points panel (the frame itself, no overlay)."""
    view = explorer._view
    pixels = decoded(explorer.picture.value)
    x = view.right_origin[0] + 420 // 2
    y = view.right_origin[1] + 330 // 2
    return pixels[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).mean(axis=0)


def test_a_sequence_gets_a_strip_and_a_frame_scrubber(wb, clip):
    explorer = Explorer(wb, clip, prefetch=False)
    assert explorer.timeline_picture is not None and explorer.timeline_picture in explorer.widget.children
    assert explorer.index in explorer.widget.children, "the frame slider lies under the strip"
    assert explorer.strip_source == FROM_CACHE
    strip = decoded(explorer.timeline_picture.value)
    assert strip.shape[:2] == (_Strip.HEIGHT, _Strip.WIDTH)
    assert explorer.index.description == "frame" and not explorer.index.readout
    assert explorer.frame_readout.value == f"frame 0 · 0.00 s (1/{len(COLOURS)})"
    explorer.show(7)
    assert explorer.frame_readout.value == f"frame 7 · 1.40 s (8/{len(COLOURS)})"
    assert "frame 7 · 1.40 s" in repr(explorer)


def test_images_get_no_strip(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    assert explorer.timeline_picture is None and explorer.strip_source is None
    assert not any(getattr(child, "format", None) == "png" for child in explorer.widget.children)
    top_row = explorer.widget.children[0].children
    assert explorer.index in top_row and explorer.index.description == "image #", "images keep their slider"


def test_the_marker_follows_the_slider(wb, clip):
    explorer = Explorer(wb, clip, prefetch=False)
    strip = explorer._strip
    rows = len(clip)
    for index in (0, 5, rows - 1, 2):
        explorer.index.value = index
        assert strip.marker_x == pytest.approx(strip.x_of(index, rows))
        pixels = decoded(explorer.timeline_picture.value)
        column = pixels[_Strip.PLOT_TOP + 2:_Strip.HEIGHT - _Strip.PLOT_BOTTOM - 2, round(strip.marker_x)]
        marker = np.array([0xCF, 0x22, 0x2E])
        assert (np.abs(column.astype(int) - marker).max(axis=1) < 40).mean() > 0.6, "a red line at the frame"
    assert strip.x_of(0, rows) == _Strip.PLOT_LEFT and strip.x_of(rows - 1, rows) == _Strip.WIDTH - _Strip.PLOT_RIGHT


def test_scrubbing_to_a_frame_shows_that_frame(wb, clip):
    explorer = Explorer(wb, clip)  # with prefetch: the next frame is decoded in the background meanwhile
    # Forward, past keyframes (a seek), then backwards (a seek back), then one step.
    for index in (0, 1, 9, 10, 3, 2, 11, 4):
        explorer.index.value = index
        colour = shown_colour(explorer)
        assert np.abs(colour - COLOURS[index]).max() < TOLERANCE, (index, colour, COLOURS[index])
        assert f"clip_f{index:06d}" in explorer.status.value


def test_without_a_report_the_curves_are_the_frames_estimated_so_far(wb, clip):
    explorer = Explorer(wb, clip, prefetch=False)
    label, default_label = (wb.estimator_label("peopleCountEstimator", name) for name in ("DensityPlugin", "default"))
    series = explorer._strip.series
    assert list(series) == ["truth", label]
    np.testing.assert_array_equal(series["truth"], np.arange(1, len(COLOURS) + 1))
    assert np.isfinite(series[label]).sum() == 1, "only the frame on show is estimated"
    explorer.index.value = 4
    explorer.estimator.value = "default"
    counts = explorer._strip.series
    assert np.flatnonzero(np.isfinite(counts[label])).tolist() == [0, 4]
    assert np.flatnonzero(np.isfinite(counts[default_label])).tolist() == [4]
    assert counts[default_label][4] == 0, "the stand-in default finds no bright pixel"
    assert "estimated so far (1 of 12 by default" in explorer._strip.caption


def test_a_shared_store_fills_the_curves_with_what_compare_estimated(wb, clip, monkeypatch):
    store = PredictionCache()
    compare(wb, clip, ["default"], progress=False, cache=store)
    read_whole = []
    monkeypatch.setattr(store, "get_many", lambda keys: read_whole.append(keys) or {})
    explorer = Explorer(wb, clip, prefetch=False, cache=store)
    explorer.estimator.value = "default"
    curve = explorer._strip.series[wb.estimator_label("peopleCountEstimator", "default")]
    assert np.isfinite(curve).all(), "every frame compare ran, read from the store"
    assert explorer.strip_source == FROM_CACHE and "(12 of 12 by default" in explorer._strip.caption
    # The strip needs counts only: the frames' whole results (their density maps) are not read for it.
    assert all(len(list(keys)) <= 1 for keys in read_whole), "the strip read every frame's whole result"


def test_with_a_report_the_curves_are_the_comparisons(wb, clip):
    report = compare(wb, clip, ["default", "DensityPlugin"], progress=False)
    explorer = Explorer(wb, clip, prefetch=False, report=report)
    assert explorer.strip_source == FROM_REPORT
    strip = explorer._strip
    assert "from the comparison report (12 frames)" in strip.caption
    timeline = report.timeline
    for estimator in ("default", "DensityPlugin"):
        np.testing.assert_array_equal(strip.series[timeline.labels[estimator]], timeline.counts[estimator])
    # Every frame is on the curves though the Explorer itself estimated only the frame on show.
    assert all(np.isfinite(values).all() for values in strip.series.values())


def test_curves_are_drawn_where_the_counts_are(wb, clip):
    rows = len(clip)
    counts = np.array([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24], float)
    timeline = Timeline([s.frame for s in clip], [s.time for s in clip], [s.count for s in clip],
                        {"DensityPlugin": counts}, labels={"DensityPlugin": "the plugin"})
    explorer = Explorer(wb, clip, prefetch=False, timeline=timeline)
    strip = explorer._strip
    assert strip.top == 30  # 24 people and a margin (25.2), rounded up to a round top
    pixels = decoded(explorer.timeline_picture.value).astype(int)
    plugin_colour = np.array([int(_Strip.COLOURS[1][i:i + 2], 16) for i in (1, 3, 5)])  # the dropdown's second
    for row in (3, 8):
        x, y = round(strip.x_of(row, rows)), round(strip.y_of(counts[row]))
        patch = pixels[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3)
        assert (np.abs(patch - plugin_colour).max(axis=1) < 40).any(), (row, patch)
        truth_y = round(strip.y_of(row + 1))
        truth_patch = pixels[truth_y - 1:truth_y + 2, x - 1:x + 2].reshape(-1, 3)
        assert (truth_patch.max(axis=1) < 90).any(), "the truth's dark curve"


def test_report_and_timeline_are_checked(wb, clip, spots_dataset):
    images_report = compare(wb, spots_dataset, ["default"], progress=False)
    with pytest.raises(ValueError, match="not a sequence.*load_sequence"):
        Explorer(wb, spots_dataset, report=images_report)
    report = compare(wb, clip, ["default"], progress=False)
    with pytest.raises(ValueError, match="not both"):
        Explorer(wb, clip, report=report, timeline=report.timeline)
    with pytest.raises(ValueError, match=r"has 12 frames .* has 6 .*report\.dataset"):
        Explorer(wb, clip[:6], report=report)
    with pytest.raises(ValueError, match="is not a sequence"):
        Explorer(wb, spots_dataset, timeline=report.timeline)
