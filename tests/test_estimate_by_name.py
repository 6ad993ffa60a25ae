"""Estimators used by name (issue 29): ``wb.estimate(..., estimator=name)`` runs a named estimator in a pool of its
own without changing what the host serves; ``compare`` uses it, so a client of the server never sees a switch."""
from __future__ import annotations

import json
import logging
import threading
import urllib.request

import pytest

from helpers.fake_estimators import default_factories, spot_image
from helpers.hostile import HUNG_ESTIMATOR
from helpers.spots import DENSITY_PLUGIN
from helpers.waiting import finishes
from workbench import UnknownEstimatorError, Workbench
from workbench.host import PluginTimeoutError
from workbench.plugins import EstimatorContractError
from workbench.research import compare

BROKER = "peopleCountEstimator"

# Counts dim pixels too (threshold 50, the default counts > 200): its answers tell it from the default. Every
# instance it creates is kept, so a test counts the pools built (instances created) and closed.
COUNTED_PLUGIN = """
    import asyncio
    import threading

    from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
    from helpers.fake_estimators import BrightPixelCounter

    class GatedCounter(BrightPixelCounter):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            CountedPlugin.entered.release()
            # Off the loop: other calls (and the server) go on while this one waits for the test.
            await asyncio.to_thread(CountedPlugin.gate.wait)
            return await super().estimateBatch(images, estimationTargets, asyncEstimate)

    class CountedPlugin(EstimatorReplacementPlugin):
        created = []
        entered = threading.Semaphore(0)
        gate = threading.Event()

        @property
        def estimatorBrokerName(self):
            return "peopleCountEstimator"

        def createReplacementEstimator(self):
            estimator = GatedCounter(threshold=50)
            CountedPlugin.created.append(estimator)
            return estimator
"""

WRONG_RESULTS_PLUGIN = """
    from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
    from workbench.plugins import EstimatorBase

    class Wrong(EstimatorBase):
        def close(self):
            pass

        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            return [{"count": 1} for _ in images]

    class WrongResultsPlugin(EstimatorReplacementPlugin):
        @property
        def estimatorBrokerName(self):
            return "peopleCountEstimator"

        def createReplacementEstimator(self):
            return Wrong()
"""

IMAGE = spot_image([(5, 5), (20, 10), (30, 30)])
DIM_IMAGE = spot_image([(5, 5)])


@pytest.fixture
def counted(plugin_folder):
    """A started host of two workers serving the default, with ``CountedPlugin`` (its gate open) to use by name."""
    module = plugin_folder.add("counted", COUNTED_PLUGIN)
    with Workbench(plugin_folder.root, [module], workers=2, default_estimators=default_factories()) as wb:
        wb.use(BROKER, "default")  # the plugin took over at start; its pool is closed now
        plugin = type(wb.plugins["CountedPlugin"].instance)
        plugin.gate.set()
        plugin.created.clear()
        yield wb, plugin


def open_instances(plugin: type) -> int:
    return sum(not estimator.closed for estimator in plugin.created)


def test_the_served_estimator_never_changes_during_compare_seen_from_http(plugin_folder, spots_dataset):
    """compare used to switch the estimator the server serves (wb.use) and put it back afterwards: a client
    polling GET /estimators saw the compared one."""
    module = plugin_folder.add("density", DENSITY_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        server = wb.serve(port=0)
        served: list[str] = []
        polled = threading.Condition()
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                with urllib.request.urlopen(f"{server.url}/estimators", timeout=30) as answer:
                    active = json.load(answer)[BROKER]["active"]
                with polled:
                    served.append(active)
                    polled.notify_all()

        real_estimate = wb.estimate

        def estimate_seen_from_http(*args, **kwargs):
            # Each estimate call waits for a poll that began after it did, so polls land while compare runs.
            with polled:
                wanted = len(served) + 2
                assert polled.wait_for(lambda: len(served) >= wanted, timeout=30), "the poller stopped answering"
            return real_estimate(*args, **kwargs)

        wb.estimate = estimate_seen_from_http  # type: ignore[method-assign]
        poller = threading.Thread(target=poll, name="test-poller")
        poller.start()
        try:
            report = compare(wb, spots_dataset, ["default", "DensityPlugin"], progress=False)
        finally:
            stop.set()
            poller.join()
        assert len(served) >= 2 * 2 * len(spots_dataset)
        assert set(served) == {"DensityPlugin"}, f"GET /estimators saw {sorted(set(served))} during compare"
        rows = report.per_image.set_index(["estimator", "image"])
        assert rows.loc["default", "pred_count"].tolist() == [3, 2, 4]
        assert rows.loc["DensityPlugin", "pred_count"].tolist() == [4, 3, 5]


def test_results_by_name_equal_those_of_use_then_estimate(counted):
    wb, _ = counted
    by_name = wb.estimate(BROKER, [IMAGE, DIM_IMAGE], estimator="CountedPlugin")
    assert wb.estimators[BROKER] == "default", "estimating by name serves nothing new"
    served_default = wb.estimate(BROKER, [IMAGE, DIM_IMAGE])
    wb.use(BROKER, "CountedPlugin")
    switched = wb.estimate(BROKER, [IMAGE, DIM_IMAGE])
    default_by_name = wb.estimate(BROKER, [IMAGE, DIM_IMAGE], estimator="default")

    def shape(results):
        return [(r.count, r.pointsArray.tolist(), r.estimatorName) for r in results]

    assert shape(by_name) == shape(switched)
    assert shape(default_by_name) == shape(served_default)
    assert shape(by_name) != shape(served_default), "the two estimators answer differently on these images"
    assert wb.estimators[BROKER] == "CountedPlugin"


async def test_aestimate_by_name(counted):
    wb, _ = counted
    [result] = await wb.aestimate(BROKER, [IMAGE], estimator="CountedPlugin")
    assert (result.count, result.estimatorName) == (3, "CountedPlugin")
    assert wb.estimators[BROKER] == "default"


def test_a_named_pool_is_built_once_for_concurrent_callers_and_closed_after_the_last(counted):
    wb, plugin = counted
    plugin.gate.clear()
    answers: list[int] = []
    callers = [
        threading.Thread(target=lambda: answers.append(wb.estimate(BROKER, [IMAGE], estimator="CountedPlugin")[0].count))
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    try:
        for _ in callers:  # both batches are running, one on each worker's instance
            assert plugin.entered.acquire(timeout=30)
        assert len(plugin.created) == 2, "one pool of two workers, shared by both callers"
        assert open_instances(plugin) == 2
        assert wb.estimators[BROKER] == "default"
    finally:
        plugin.gate.set()
        for caller in callers:
            caller.join()
    assert answers == [3, 3]
    assert len(plugin.created) == 2 and open_instances(plugin) == 0, "unused, neither served nor leased: closed"


def test_a_lease_keeps_the_pool_for_many_calls(counted):
    wb, plugin = counted
    with wb.lease_estimator(BROKER, "CountedPlugin") as lease:
        assert len(plugin.created) == 2 and open_instances(plugin) == 2, "built on entering"
        for _ in range(3):
            wb.estimate(BROKER, [IMAGE], estimator="CountedPlugin")
        assert len(plugin.created) == 2 and open_instances(plugin) == 2
        with pytest.raises(RuntimeError, match="already held"):
            lease.__enter__()
    assert open_instances(plugin) == 0
    assert wb.estimators[BROKER] == "default"


def test_use_reuses_a_leased_pool_and_closes_only_what_nothing_holds(counted):
    wb, plugin = counted
    with wb.lease_estimator(BROKER, "CountedPlugin"):
        wb.use(BROKER, "CountedPlugin")
        assert len(plugin.created) == 2, "the pool open by name is served, not built again"
    assert open_instances(plugin) == 2, "the served pool stays open after the lease ends"
    wb.estimate(BROKER, [IMAGE], estimator="CountedPlugin")
    assert len(plugin.created) == 2 and open_instances(plugin) == 2, "a call by the served name uses the served pool"

    with wb.lease_estimator(BROKER, "CountedPlugin"):
        wb.use(BROKER, "default")
        assert open_instances(plugin) == 2, "switched away from, but leased: still open"
    assert open_instances(plugin) == 0
    assert len(plugin.created) == 2


async def test_an_async_lease_and_close_with_a_lease_held(counted):
    wb, plugin = counted
    async with wb.lease_estimator(BROKER, "CountedPlugin"):
        [result] = await wb.aestimate(BROKER, [IMAGE], estimator="CountedPlugin")
        assert result.count == 3 and open_instances(plugin) == 2
    assert open_instances(plugin) == 0
    lease = wb.lease_estimator(BROKER, "CountedPlugin")
    lease.__enter__()
    await wb.aclose()
    assert len(plugin.created) == 4 and open_instances(plugin) == 0, "the host's close closes leased pools"
    lease.__exit__(None, None, None)  # after the host closed: nothing left to release


def test_an_unknown_name_fails_as_wb_use_does_before_any_image_is_read(counted, tmp_path):
    wb, plugin = counted
    with pytest.raises(UnknownEstimatorError) as switching:
        wb.use(BROKER, "Nope")
    missing = tmp_path / "not-read.jpg"  # an image that does not exist: the name is checked first
    with pytest.raises(UnknownEstimatorError) as by_name:
        wb.estimate(BROKER, [missing], estimator="Nope")
    with pytest.raises(UnknownEstimatorError) as leasing:
        wb.lease_estimator(BROKER, "Nope")
    assert str(by_name.value) == str(leasing.value) == str(switching.value)
    assert "'Nope'" in str(by_name.value) and "'default', 'CountedPlugin'" in str(by_name.value)
    assert plugin.created == [] and wb.estimators[BROKER] == "default"


def test_a_named_replacement_passes_the_same_contract_check(plugin_folder):
    module = plugin_folder.add("wrong", WRONG_RESULTS_PLUGIN)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        with pytest.raises(EstimatorContractError, match="returned dict objects") as served:
            wb.estimate(BROKER, [IMAGE])
        wb.use(BROKER, "default")
        with pytest.raises(EstimatorContractError, match="returned dict objects") as by_name:
            wb.estimate(BROKER, [IMAGE], estimator="WrongResultsPlugin")
        assert str(by_name.value) == str(served.value)
        assert wb.estimators[BROKER] == "default"


def test_a_hung_named_estimator_times_out_and_its_pool_is_closed(plugin_folder, caplog):
    """A call by name that hangs ends at its deadline (its batch abandoned with a warning after
    ``close_timeout``) and still closes the pool it opened; what is served goes on answering."""
    caplog.set_level(logging.WARNING)
    module = plugin_folder.add("hangs", HUNG_ESTIMATOR)
    deadlines = {"start_timeout": 5.0, "estimate_timeout": 0.5, "close_timeout": 0.3}
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories(), **deadlines) as wb:
        wb.use(BROKER, "default")
        with pytest.raises(PluginTimeoutError, match="HangPlugin"):
            finishes(lambda: wb.estimate(BROKER, [IMAGE], estimator="HangPlugin"))
        assert "estimator 'HangPlugin' estimateBatch(): 1 task(s) did not stop" in caplog.text
        assert list(wb._slots[BROKER].pools) == ["default"], "the hung pool was taken out and closed"
        assert wb.estimators[BROKER] == "default"
        assert wb.estimate(BROKER, [IMAGE])[0].count == 3, "the served estimator goes on answering"
