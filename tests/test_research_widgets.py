"""Explorer, driven headless: values are changed as a user would, and the host and the drawn picture are checked."""
from __future__ import annotations

import io
import json
import threading
import urllib.request

import pytest
from PIL import Image

from helpers.fake_estimators import default_factories
from helpers.spots import DENSITY_PLUGIN, FAILING_PLUGIN
from workbench import Workbench
from workbench.research import Explorer


@pytest.fixture
def wb(plugin_folder):
    modules = [plugin_folder.add("density", DENSITY_PLUGIN), plugin_folder.add("failing", FAILING_PLUGIN)]
    with Workbench(plugin_folder.root, modules, default_estimators=default_factories()) as host:
        yield host


def picture(explorer: Explorer) -> bytes:
    """The drawn frame, checked to be a decodable image of a sensible size."""
    data = explorer.picture.value
    with Image.open(io.BytesIO(data)) as image:
        assert image.width > 600 and image.height > 200
    return bytes(data)


def test_explorer_draws_and_switches_estimator(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    assert explorer.estimator.options == ("default", "DensityPlugin", "FailingPlugin")
    assert explorer.estimator.value == "DensityPlugin", "it first shows the estimator the host serves"
    first = picture(explorer)
    assert "spots_1" in explorer.status.value and "predicted <b>4</b>" in explorer.status.value
    assert "true <b>3</b>, error <b>+1</b>" in explorer.status.value
    assert not explorer.strategy.disabled and explorer.threshold.disabled

    explorer.estimator.value = "default"
    assert picture(explorer) != first
    assert "predicted <b>3</b>" in explorer.status.value
    assert explorer.strategy.disabled and "no density map" in explorer.note.value

    explorer.estimator.value = "DensityPlugin"
    assert explorer.note.value == ""
    # The plugin's own points sit 15 px off the heads; points re-extracted from its map land on them.
    assert "3 points (own points): P 0.00" in explorer.status.value
    explorer.strategy.value = "peaks"
    assert "3 points (peaks): P 1.00 · R 1.00" in explorer.status.value
    explorer.strategy.value = "topk"
    assert explorer.threshold.disabled
    assert "4 points (topk): P 0.75 · R 1.00" in explorer.status.value

    before = picture(explorer)
    explorer.opacity.value = 0.9
    assert picture(explorer) != before, "opacity redraws the overlay"


def test_the_peak_threshold_is_in_the_colour_bars_unit_and_moves_the_points(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    assert "people/px" in explorer.threshold.description
    assert "people/px" in explorer._view.COLOUR_BAR_LABEL, "slider and colour bar share one unit"
    explorer.strategy.value = "peaks_above"
    assert not explorer.threshold.disabled
    # One person per 4x4-pixel cell is 1/16 = 0.0625 people per pixel at each spot (a little less once the
    # map is smoothed for display): the colour bar's top.
    assert 0.03 < explorer._view.top <= 1 / 16
    explorer.threshold.value = 1e-3
    assert "3 points (peaks ≥ 1.0e-03 people/px)" in explorer.status.value
    low = picture(explorer)
    explorer.threshold.value = 1e-1  # above every spot's density
    assert "0 points (peaks ≥ 1.0e-01 people/px)" in explorer.status.value
    assert picture(explorer) != low, "moving the threshold redraws the points"
    explorer.threshold.value = 0.025  # under the spots: they come back, and the line is on the colour bar
    assert "3 points" in explorer.status.value
    assert explorer._view.peak_line == pytest.approx(0.025, rel=0.15)


def test_controls_and_figure_name_their_units(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    assert "(0–1)" in explorer.opacity.description
    assert "#" in explorer.index.description
    assert "estimate " in explorer.status.value and " ms" in explorer.status.value
    left, right = explorer._view.titles
    assert "px" in right and "people" in left


def test_explorer_pages_and_caches_results(wb, spots_dataset, monkeypatch):
    explorer = Explorer(wb, spots_dataset, prefetch=False)
    calls = []
    real = wb.estimate
    monkeypatch.setattr(wb, "estimate", lambda *a, **k: calls.append(1) or real(*a, **k))
    decoded = []
    sample_type = type(spots_dataset[0])
    real_image = sample_type.image
    monkeypatch.setattr(sample_type, "image", property(lambda sample: decoded.append(sample.name) or
                                                       real_image.fget(sample)))
    explorer.next.click()
    assert explorer.index.value == 1 and "spots_2</b> (2/3)" in explorer.status.value
    explorer.next.click()
    explorer.next.click()  # stays on the last image
    assert explorer.index.value == 2 and "spots_3" in explorer.status.value
    explorer.previous.click()
    explorer.opacity.value = 0.2
    explorer.strategy.value = "topk"
    assert len(calls) == 2, "each image runs once per estimator; redrawing reuses the result"
    assert decoded == ["spots_2", "spots_3"], "each image is decoded once, for the estimator and the display"
    explorer.refresh()
    assert len(calls) == 2, "nothing changed: refresh finds the same estimator and image in the store"
    explorer.show(0)
    assert "spots_1" in explorer.status.value


def test_refresh_after_reloading_an_edited_plugin_estimates_again(wb, spots_dataset, plugin_folder):
    explorer = Explorer(wb, spots_dataset, prefetch=False)
    assert "predicted <b>4</b>" in explorer.status.value
    plugin = plugin_folder.root / "density" / "plugin.py"
    plugin.write_text(plugin.read_text().replace("len(spots) + 1", "len(spots) + 10"))
    wb.reload("density.plugin")
    explorer.render()
    assert "predicted <b>4</b>" in explorer.status.value, "before refresh, the files are not hashed again"
    explorer.refresh()
    assert "predicted <b>13</b>" in explorer.status.value, "the edited plugin is a new identity in the store"


def test_the_next_image_is_estimated_in_the_background(wb, spots_dataset, monkeypatch):
    calls = []  # the thread of each estimate: the Explorer's own (a visit) or its prefetch thread
    real = wb.estimate
    monkeypatch.setattr(wb, "estimate",
                        lambda *a, **k: calls.append(threading.current_thread().name) or real(*a, **k))
    explorer = Explorer(wb, spots_dataset)
    [pending] = explorer._pending.values()
    pending.result(timeout=30)
    assert calls == ["MainThread", "explorer-prefetch"], "image 2 estimated in the background"
    assert len(explorer.cache) == 2, "into the store"
    explorer.next.click()
    assert "spots_2" in explorer.status.value
    assert calls.count("MainThread") == 1, "next took the prefetched estimate instead of estimating again"
    [pending] = explorer._pending.values()
    pending.result(timeout=30)
    explorer.estimator.value = "default"
    explorer.next.click()
    assert "spots_3" in explorer.status.value and "predicted <b>4</b>" in explorer.status.value, "the default's count"
    explorer.estimator.value = "DensityPlugin"
    assert "predicted <b>5</b>" in explorer.status.value
    # DensityPlugin's image 3, fetched before the switch, is kept: only the default's visit and prefetch ran.
    assert calls == ["MainThread", "explorer-prefetch", "explorer-prefetch", "MainThread", "explorer-prefetch"]


def test_the_point_marks_follow_the_strategy(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    assert explorer._view.marks == {"TP": 0, "FP": 3, "FN": 3}, "own points, 15 px off"
    explorer.strategy.value = "topk"
    assert explorer._view.marks == {"TP": 3, "FP": 1, "FN": 0}
    explorer.estimator.value = "default"  # no map: its own points, on the density panel too
    assert explorer._view.marks == {"TP": 3, "FP": 0, "FN": 0} and len(explorer._view.own_points) == 3
    assert explorer._view.top is None and explorer._view.peak_line is None


def test_explorer_keeps_its_choice_when_the_host_switches_and_shows_errors(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    wb.use("peopleCountEstimator", "default")  # switched from another cell
    explorer.render()
    assert explorer.estimator.value == "DensityPlugin" and "predicted <b>4</b>" in explorer.status.value
    assert wb.estimators["peopleCountEstimator"] == "default"

    explorer.estimator.value = "FailingPlugin"
    assert "RuntimeError: this estimator always fails" in explorer.status.value
    assert wb.estimators["peopleCountEstimator"] == "default"


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_switching_the_explorer_never_changes_what_the_host_serves(wb, spots_dataset):
    server = wb.serve()
    served = {"peopleCountEstimator": "DensityPlugin"}
    explorer = Explorer(wb, spots_dataset)
    image = (spots_dataset.root / "images" / "spots_1.png").read_bytes()
    for name in ("default", "FailingPlugin", "default", "DensityPlugin", "default"):
        explorer.estimator.value = name
        explorer.next.click()
        assert wb.estimators == served
        assert _get_json(server.url + "/estimators")["peopleCountEstimator"]["active"] == "DensityPlugin"
        request = urllib.request.Request(server.url + "/estimators/peopleCountEstimator/estimate", data=image,
                                         method="POST", headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["count"] == 4, "the plugin served answers, not the Explorer's choice"
    assert "spots_3" in explorer.status.value and "predicted <b>4</b>" in explorer.status.value, "the default's count"


def test_a_closed_host_keeps_the_explorer_honest(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset, prefetch=False)
    drawn = picture(explorer)
    wb.close()
    explorer.next.click()
    assert explorer.estimator.value == "DensityPlugin", "the dropdown never silently switches to 'default'"
    assert "the Workbench is closed" in explorer.status.value and "wb.start()" in explorer.status.value
    explorer.previous.click()  # an image seen before still shows, with its scores
    assert "spots_1" in explorer.status.value and "predicted <b>4</b>" in explorer.status.value
    assert picture(explorer) == drawn
    explorer.estimator.value = "default"
    assert "the Workbench is closed, and &#x27;default&#x27; has not estimated" in explorer.status.value
    explorer.estimator.value = "DensityPlugin"
    assert picture(explorer) == drawn
    assert "host closed" in repr(explorer)


def test_explorer_without_a_density_map_or_annotation_still_draws(wb, spots_dataset):
    wb.use("peopleCountEstimator", "default")
    unannotated = type(spots_dataset).from_images(spots_dataset.root / "images")
    explorer = Explorer(wb, unannotated)
    assert "no annotation; 3 points" in explorer.status.value
    assert explorer._view.top is None, "no colour bar without a map"
    assert explorer._view.own_points.shape == (3, 2)
    picture(explorer)


def test_explorer_displays_itself_as_a_widget(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "Explorer" in repr(explorer)


def test_explorer_rejects_an_unknown_broker(wb, spots_dataset):
    with pytest.raises(LookupError, match="unknown estimator broker 'faces'"):
        Explorer(wb, spots_dataset, broker="faces")
