"""One prediction store for ``compare`` and the ``Explorer``: an image one of them estimated is not estimated again
by the other, counted at the estimator itself.

The default estimator here counts the images of every batch it is given; ``DensityPlugin`` is the one served,
so both ``compare`` and the Explorer reach the default by name.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

from helpers.fake_estimators import BrightPixelCounter
from helpers.spots import DENSITY_PLUGIN
from workbench import Workbench
from workbench.research import Explorer, PredictionCache, compare
from workbench.result import CountResult
from workbench.sdk import Rect

BROKER = "peopleCountEstimator"


class CountingCounter(BrightPixelCounter):
    """``BrightPixelCounter`` that appends each batch's size to a list the test holds (one per pool it builds)."""

    def __init__(self, batches: list[int]) -> None:
        super().__init__(threshold=200)
        self.sizes = batches

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):  # noqa: ANN001, ANN201
        self.sizes.append(len(images))
        return await super().estimateBatch(images, estimationTargets, asyncEstimate)


@pytest.fixture
def batches() -> list[int]:
    return []


@pytest.fixture
def built() -> list[CountingCounter]:
    return []


@pytest.fixture
def wb(plugin_folder, batches, built):
    module = plugin_folder.add("density", DENSITY_PLUGIN)

    def counting(config):  # noqa: ANN001, ANN202
        built.append(CountingCounter(batches))
        return built[-1]

    factories = {BROKER: counting}
    with Workbench(plugin_folder.root, [module], default_estimators=factories) as host:
        yield host


def visit_every_image(explorer: Explorer) -> list[str]:
    """Each image's status line, first to last."""
    lines = []
    for index in range(len(explorer.dataset)):
        explorer.show(index)
        lines.append(explorer.status.value)
    return lines


def test_the_explorer_shows_what_compare_estimated(wb, spots_dataset, batches):
    store = PredictionCache()
    report = compare(wb, spots_dataset, ["default"], cache=store, progress=False)
    assert sum(batches) == 3
    explorer = Explorer(wb, spots_dataset, cache=store, prefetch=False)
    explorer.estimator.value = "default"
    lines = visit_every_image(explorer)
    assert sum(batches) == 3, "every image came from the store"
    counts = report.per_image.set_index("image")["pred_count"]
    assert [f"predicted <b>{counts[name]}</b>" in line for name, line in zip(counts.index, lines)] == [True] * 3
    assert wb.estimators[BROKER] == "DensityPlugin"


def test_compare_reads_what_the_explorer_estimated(wb, spots_dataset, batches):
    explorer = Explorer(wb, spots_dataset, prefetch=False)
    explorer.estimator.value = "default"
    visit_every_image(explorer)
    assert sum(batches) == 3
    report = compare(wb, spots_dataset, ["default"], cache=explorer.cache, progress=False)
    assert sum(batches) == 3, "compare estimated nothing again"
    assert report.per_image["cached"].all()
    assert report.per_image["pred_count"].tolist() == [3, 2, 4]


def test_a_store_file_outlives_the_explorer(wb, spots_dataset, batches, tmp_path):
    with PredictionCache(tmp_path / "runs" / "store.sqlite") as store:
        explorer = Explorer(wb, spots_dataset, cache=store, prefetch=False)
        explorer.estimator.value = "default"
        first = visit_every_image(explorer)
    with PredictionCache(tmp_path / "runs" / "store.sqlite") as store:
        again = Explorer(wb, spots_dataset, cache=store, prefetch=False)
        again.estimator.value = "default"
        assert visit_every_image(again) == first
    assert sum(batches) == 3


def test_estimators_are_kept_apart_in_one_store(wb, spots_dataset, batches):
    explorer = Explorer(wb, spots_dataset, prefetch=False)
    explorer.estimator.value = "default"
    assert "predicted <b>3</b>" in explorer.status.value
    explorer.estimator.value = "DensityPlugin"
    assert "predicted <b>4</b>" in explorer.status.value
    assert sorted(explorer.cache.estimators().values()) == [1, 1], "one result per estimator identity"
    assert batches == [1]


def test_a_store_is_in_memory_by_default_and_takes_writes_from_any_thread():
    result = CountResult(2, [(1.5, 2.5), (3.0, 4.0)], densityMap=np.ones((2, 3), np.float32),
                         densityArea=Rect(0, 0, 12, 8), elapsed=0.5, estimatorName="x", inRange=False,
                         extras={"note": "a"})
    with PredictionCache() as store:
        assert store.path is None and "k" not in store and store.get("k") is None
        writer = threading.Thread(target=store.put, args=("k", result), kwargs={"estimator": "e", "image_sha256": "d"})
        writer.start()
        writer.join()
        assert "k" in store and store.get("k") == result and len(store) == 1
        assert repr(store) == "PredictionCache(results=1)" and "in memory" in store._repr_html_()
    with PredictionCache() as other:
        assert len(other) == 0, "each store in memory is its own"


def test_the_explorer_keeps_the_estimator_it_shows_open_until_released(wb, spots_dataset, built):
    explorer = Explorer(wb, spots_dataset, prefetch=False)
    explorer.estimator.value = "default"
    visit_every_image(explorer)
    assert len(built) == 1 and not built[0].closed, "built once for every image, not once per image"
    explorer.release()
    assert built[0].closed, "neither served nor held: the host closed it"
    explorer.show(0)
    assert len(built) == 1, "an image already estimated needs no estimator"
