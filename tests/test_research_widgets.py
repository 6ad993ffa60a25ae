"""Explorer, driven headless: values are changed as a user would, and the host and the drawn output are checked."""
from __future__ import annotations

import pytest

from fake_estimators import default_factories
from test_research_compare import DENSITY_PLUGIN, FAILING_PLUGIN, spots_dataset  # noqa: F401 (a fixture)
from workbench import Workbench
from workbench.research import Explorer


@pytest.fixture
def wb(plugin_folder):
    modules = [plugin_folder.add("density", DENSITY_PLUGIN), plugin_folder.add("failing", FAILING_PLUGIN)]
    with Workbench(plugin_folder.root, modules, default_estimators=default_factories()) as host:
        yield host


def png(explorer: Explorer) -> str:
    [output] = explorer.output.outputs
    assert output["output_type"] == "display_data"
    return output["data"]["image/png"]


def test_explorer_draws_and_switches_the_host_estimator(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    assert explorer.estimator.options == ("default", "DensityPlugin", "FailingPlugin")
    assert explorer.estimator.value == "DensityPlugin"
    first = png(explorer)
    assert "spots_1" in explorer.status.value and "predicted <b>4</b>" in explorer.status.value
    assert "true <b>3</b>, error <b>+1</b>" in explorer.status.value
    assert not explorer.strategy.disabled and explorer.threshold.disabled

    explorer.estimator.value = "default"
    assert wb.estimators["peopleCountEstimator"] == "default", "the dropdown switches the host"
    assert png(explorer) != first
    assert "predicted <b>3</b>" in explorer.status.value
    assert explorer.strategy.disabled and "no density map" in explorer.note.value

    explorer.estimator.value = "DensityPlugin"
    assert wb.estimators["peopleCountEstimator"] == "DensityPlugin"
    assert explorer.note.value == ""
    # The plugin's own points sit 15 px off the heads; points re-extracted from its map land on them.
    assert "3 points (own points): P 0.00" in explorer.status.value
    explorer.strategy.value = "peaks"
    assert not explorer.threshold.disabled
    assert "3 points (peaks &gt; 1.0e-03): P 1.00 · R 1.00" in explorer.status.value
    explorer.strategy.value = "topk"
    assert explorer.threshold.disabled
    assert "4 points (topk): P 0.75 · R 1.00" in explorer.status.value
    explorer.threshold.value = 0.01  # disabled for topk, but harmless

    before = png(explorer)
    explorer.opacity.value = 0.9
    assert png(explorer) != before


def test_explorer_pages_and_caches_results(wb, spots_dataset, monkeypatch):
    explorer = Explorer(wb, spots_dataset)
    calls = []
    real = wb.estimate
    monkeypatch.setattr(wb, "estimate", lambda *a, **k: calls.append(1) or real(*a, **k))
    explorer.next.click()
    assert explorer.index.value == 1 and "spots_2</b> (2/3)" in explorer.status.value
    explorer.next.click()
    explorer.next.click()  # stays on the last image
    assert explorer.index.value == 2 and "spots_3" in explorer.status.value
    explorer.previous.click()
    explorer.opacity.value = 0.2
    assert len(calls) == 2, "each image runs once per estimator; re-drawing reuses the result"
    explorer.refresh()
    assert len(calls) == 3
    explorer.show(0)
    assert "spots_1" in explorer.status.value


def test_explorer_follows_the_host_and_shows_errors(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    wb.use("peopleCountEstimator", "default")  # switched from another cell
    explorer.render()
    assert explorer.estimator.value == "default"
    assert wb.estimators["peopleCountEstimator"] == "default"

    explorer.estimator.value = "FailingPlugin"
    assert "RuntimeError: this estimator always fails" in explorer.status.value


def test_explorer_displays_itself_as_a_widget(wb, spots_dataset):
    explorer = Explorer(wb, spots_dataset)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "Explorer" in repr(explorer)


def test_explorer_rejects_an_unknown_broker(wb, spots_dataset):
    with pytest.raises(LookupError, match="unknown estimator broker 'faces'"):
        Explorer(wb, spots_dataset, broker="faces")
