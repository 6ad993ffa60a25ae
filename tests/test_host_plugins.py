"""The host runs the three plugin kinds: the project's own examples, test plugins and the service's examples."""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from helpers.bucket_service import bucket_service
from helpers.fake_estimators import default_factories, spot_image
from helpers.reference_plugins import write_reference_plugins
from workbench import CountResult, MonitoringPoint, Workbench

REPLACEMENT = """
    from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorReplacementPlugin
    from helpers.fake_estimators import BrightPixelCounter

    class DimPixelPlugin(EstimatorReplacementPlugin):
        created = []

        @property
        def estimatorBrokerName(self):
            return "peopleCountEstimator"

        def createReplacementEstimator(self):
            estimator = BrightPixelCounter(threshold=50)
            DimPixelPlugin.created.append(estimator)
            return estimator
"""


def run_on_host(wb: Workbench, coro):
    return asyncio.run_coroutine_threadsafe(coro, wb.loop).result(timeout=10)


def test_project_event_and_background_plugins(project_plugins):
    with Workbench(project_plugins, "loop_watch.plugin, request_stats.plugin", default_estimators={}) as wb:
        assert [(p.name, p.kind, p.status) for p in wb.plugins] == [
            ("LoopWatchPlugin", "background", "active"),
            ("RequestStatsPlugin", "event", "active"),
        ]
        assert {r.path: sorted(r.methods) for r in wb.routes} == {"/loop/lag": ["delete", "get"], "/loop/ping": ["get"]}
        points = [
            MonitoringPoint("request", tags={"route": "GET:/x", "status_code": 200}, fields={"execution_time": 0.01}),
            MonitoringPoint("error", tags={"route": "GET:/x"}, fields={"error_code": 500}),
        ]
        deliveries = wb.emit("monitoring_event", points)
        assert [(d.plugin, d.points, d.ok) for d in deliveries] == [("RequestStatsPlugin", 2, True)]
        assert wb.plugins["RequestStatsPlugin"].instance.summary()["GET:/x"]["errors"] == 1
        assert wb.emit("no_such_event", points) == []
        # The background task keeps running between calls, as between notebook cells: it samples every 0.1 s.
        lag_route = next(r for r in wb.routes if r.path == "/loop/lag")
        deadline = time.monotonic() + 10
        while json.loads((response := run_on_host(wb, lag_route.dispatch("GET", None, wb))).body)["samples"] < 2:
            assert time.monotonic() < deadline, "the loop-watch task stopped sampling between calls"
            time.sleep(0.1)
        assert response.statusCode == 200
        ping = next(r for r in wb.routes if r.path == "/loop/ping")
        assert run_on_host(wb, ping.dispatch("GET", None, wb)).bodyBytes() == b"pong"
        task = wb.plugins["LoopWatchPlugin"].instance.task
    assert task.done()
    assert [p.status for p in wb.plugins] == ["closed", "closed"]


def test_replacement_estimator_swaps_live_across_workers(plugin_folder):
    module = plugin_folder.add("dim_pixels", REPLACEMENT)
    image = spot_image([(3, 4), (10, 20)])
    pixels = image.asNPArray().copy()
    pixels[0, 0] = 100  # dim: seen by the replacement (threshold 50), not by the default (threshold 200)
    dim_image = type(image)(pixels)
    with Workbench(plugin_folder.root, [module], workers=3, default_estimators=default_factories()) as wb:
        plugin_cls = type(wb.plugins["DimPixelPlugin"].instance)
        assert wb.estimators == {"peopleCountEstimator": "DimPixelPlugin"}
        assert len(plugin_cls.created) == 3, "each worker holds its own estimator instance"
        [result] = wb.estimate("peopleCountEstimator", [dim_image])
        assert isinstance(result, CountResult)
        assert (result.count, result.estimatorName) == (3, "DimPixelPlugin")
        assert result.elapsed is not None and result.elapsed >= 0
        wb.use("peopleCountEstimator", "default")
        assert all(e.closed for e in plugin_cls.created), "replaced instances are closed"
        [result] = wb.estimate("peopleCountEstimator", [dim_image])
        assert (result.count, result.estimatorName) == (2, "default")
        wb.use("peopleCountEstimator", "DimPixelPlugin")
        assert wb.estimate("peopleCountEstimator", [dim_image], targets="T2")[0].count == 3
        assert wb.estimator_choices == {"peopleCountEstimator": ["default", "DimPixelPlugin"]}
    assert all(e.closed for e in plugin_cls.created)


def test_estimate_accepts_every_image_form(plugin_folder):
    from workbench import ImageForPeopleEstimation, Rect

    image = spot_image([(3, 4), (40, 30)])
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        counts = [
            r.count
            for r in wb.estimate(
                "peopleCountEstimator",
                [image, image.asNPArray(), ImageForPeopleEstimation(image, Rect(0, 0, 20, 20)), (image, Rect(30, 20, 20, 20))],
            )
        ]
        assert counts == [2, 2, 1, 1]
        [cropped] = wb.estimate("peopleCountEstimator", [(image, Rect(30, 20, 20, 20))])
        assert cropped.pointsArray.tolist() == [[40.0, 30.0]], "points come back in full-image pixels"


def _spot_files(folder, n: int) -> list:
    from PIL import Image

    paths = []
    for k in range(n):
        path = folder / f"spots{k}.png"
        Image.fromarray(spot_image([(2 * j + 1, 3) for j in range(k + 1)]).asNPArray()).save(path)
        paths.append(path)
    return paths


def test_the_image_files_of_one_call_are_decoded_in_parallel_in_the_calls_order(plugin_folder, tmp_path, monkeypatch):
    """Decoded one by one, the files of a call kept a core idle while the estimator waited for them all."""
    import threading

    import workbench.host._workbench as host_module
    from workbench import images

    monkeypatch.setattr(host_module, "usable_cpus", lambda: 2, raising=False)
    together = threading.Barrier(2, timeout=5)  # two decodes must be in progress at once, or this breaks
    load_image = images.load_image

    def meeting_load_image(source, *args):
        together.wait()
        return load_image(source, *args)

    monkeypatch.setattr(images, "load_image", meeting_load_image)
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        results = wb.estimate("peopleCountEstimator", [str(path) for path in _spot_files(tmp_path, 4)])
    assert [result.count for result in results] == [1, 2, 3, 4]


def test_one_usable_cpu_decodes_in_the_calling_thread_and_the_first_bad_entry_is_named(plugin_folder, tmp_path, monkeypatch):
    import threading

    import workbench.host._workbench as host_module
    from workbench import images

    monkeypatch.setattr(host_module, "usable_cpus", lambda: 1)
    threads = set()
    load_image = images.load_image

    def recording_load_image(source, *args):
        threads.add(threading.get_ident())
        return load_image(source, *args)

    monkeypatch.setattr(images, "load_image", recording_load_image)
    good = _spot_files(tmp_path, 2)
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        assert [r.count for r in wb.estimate("peopleCountEstimator", good)] == [1, 2]
        assert threads == {threading.get_ident()}
        monkeypatch.setattr(host_module, "usable_cpus", lambda: 2)
        with pytest.raises(ValueError, match=r"^image 1: .*not an image"):
            wb.estimate("peopleCountEstimator", [good[0], b"not a picture", tmp_path / "absent.png"])


def test_a_bad_entry_stops_the_decoding_of_the_files_queued_behind_it(plugin_folder, tmp_path, monkeypatch):
    import threading
    import time

    import workbench.host._workbench as host_module
    from workbench import images

    monkeypatch.setattr(host_module, "usable_cpus", lambda: 2)
    decoded = []
    load_image = images.load_image

    def slow_load_image(source, *args):
        if not isinstance(source, bytes):
            time.sleep(0.02)
            decoded.append(threading.get_ident())
        return load_image(source, *args)

    monkeypatch.setattr(images, "load_image", slow_load_image)
    files = _spot_files(tmp_path, 1) * 40
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        with pytest.raises(ValueError, match=r"^image 0: "):
            wb.estimate("peopleCountEstimator", [b"not a picture", *files])
    assert len(decoded) < 10, f"{len(decoded)} of 40 files were decoded after the call had failed"


async def test_async_api_and_sync_calls_inside_a_running_loop(plugin_folder):
    """A notebook cell runs inside the kernel's loop: sync calls must still work there."""
    module = plugin_folder.add("dim_pixels", REPLACEMENT)
    async with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        image = spot_image([(1, 1)])
        results = await asyncio.gather(*(wb.aestimate("peopleCountEstimator", [image]) for _ in range(5)))
        assert [r[0].count for r in results] == [1] * 5
        assert wb.estimate("peopleCountEstimator", [image])[0].count == 1  # sync, while this loop runs
        await wb.ause("peopleCountEstimator", "default")
        assert wb.estimators["peopleCountEstimator"] == "default"
    assert not wb.running


def test_switching_under_load_loses_no_request(plugin_folder):
    module = plugin_folder.add("dim_pixels", REPLACEMENT)
    image = spot_image([(5, 5), (6, 6)])

    async def load(wb: Workbench) -> list[str]:
        names = []
        for _ in range(40):
            results = await wb.aestimate("peopleCountEstimator", [image])
            names.append(results[0].estimatorName)
        return names

    async def switch(wb: Workbench) -> None:
        for name in ["default", "DimPixelPlugin"] * 5:
            await wb.ause("peopleCountEstimator", name)

    async def main() -> list[list[str]]:
        async with Workbench(plugin_folder.root, [module], workers=2, default_estimators=default_factories()) as wb:
            *names, _ = await asyncio.gather(load(wb), load(wb), load(wb), switch(wb))
            return names

    names = asyncio.run(main())
    assert sum(len(n) for n in names) == 120
    assert set().union(*names) <= {"default", "DimPixelPlugin"}


def test_reload_picks_up_an_edited_plugin(plugin_folder):
    module = plugin_folder.add("greeter", """
        from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse

        def hello(request):
            return pluginHTTPResponse(body="v1")

        class Greeter(BaseBackgroundPlugin):
            closed = 0
            async def initialize(self):
                self.addRoute("/hello", hello)
            async def close(self):
                type(self).closed += 1
    """)
    with Workbench(plugin_folder.root, [module], default_estimators={}) as wb:
        old = wb.plugins["Greeter"].instance
        assert run_on_host(wb, wb.routes[0].dispatch("GET", None, wb)).body == "v1"
        source = (plugin_folder.root / "greeter" / "plugin.py").read_text()
        (plugin_folder.root / "greeter" / "plugin.py").write_text(source.replace('"v1"', '"v2"'))
        new_plugins = wb.reload(module)
        assert [p.name for p in new_plugins] == ["Greeter"]
        assert type(old).closed == 1, "the old instance is closed before the new one starts"
        assert [p.status for p in wb.plugins] == ["active"]
        assert run_on_host(wb, wb.routes[0].dispatch("GET", None, wb)).body == "v2"


def test_reload_keeps_a_replacement_estimator_in_use(plugin_folder):
    module = plugin_folder.add("dim_pixels", REPLACEMENT)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        first = wb.plugins["DimPixelPlugin"].instance
        wb.reload(module)
        assert wb.estimators == {"peopleCountEstimator": "DimPixelPlugin"}
        assert wb.plugins["DimPixelPlugin"].instance is not first
        assert all(e.closed for e in type(first).created)


def test_reference_background_plugin_verbatim(reference_docs, plugin_folder):
    modules = write_reference_plugins(reference_docs, plugin_folder.root)
    with Workbench(plugin_folder.root, [modules["reference_background"]], default_estimators={}) as wb:
        assert [(p.name, p.status) for p in wb.plugins] == [("BackgroundPluginExample", "active")]
        teapot, version = wb.routes
        response = run_on_host(wb, teapot.dispatch("GET", None, wb))
        assert (response.statusCode, response.body) == (418, "I am teapot")
        assert run_on_host(wb, version.dispatch("GET", None, wb)).body == "T800"
        time.sleep(1.2)
        assert wb.plugins["BackgroundPluginExample"].instance.temperature >= 1
        task = wb.plugins["BackgroundPluginExample"].instance.task
    assert task.done(), "close() leaves no pending task, even when a plugin only cancels it"


def test_reference_monitoring_plugin_verbatim(reference_docs, plugin_folder):
    modules = write_reference_plugins(reference_docs, plugin_folder.root)
    try:
        service_cm = bucket_service(5020)
        service = service_cm.__enter__()
    except OSError as error:
        pytest.skip(f"port 5020, which the reference plugin hard-codes, is taken: {error}")
    try:
        with Workbench(plugin_folder.root, [modules["reference_monitoring"]], default_estimators={}) as wb:
            assert [(p.name, p.status) for p in wb.plugins] == [("RequestMonitoringPlugin", "active")]
            assert service.buckets == ["plugin_test_bucket"]
            point = MonitoringPoint("request", tags={"route": "GET:/health"}, fields={"execution_time": 0.002})
            assert all(d.ok for d in wb.emit("monitoring_event", [point, point]))
            session = wb.plugins["RequestMonitoringPlugin"].instance.session
        assert len(service.objects) == 2 and service.objects[0]["tags"] == {"route": "GET:/health"}
        assert session.closed
    finally:
        service_cm.__exit__(None, None, None)


def test_reference_monitoring_plugin_without_its_service_fails_alone(reference_docs, plugin_folder, project_plugins):
    """Port 5020 closed: the example's initialize() fails; the host and the other plugin keep working."""
    modules = write_reference_plugins(reference_docs, plugin_folder.root)
    import socket

    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 5020)) == 0:
            pytest.skip("something listens on port 5020")
    with Workbench(plugin_folder.root, [modules["reference_monitoring"], modules["reference_background"]], default_estimators={}) as wb:
        monitoring, background = wb.plugins
        assert monitoring.status == "failed" and "initialize() failed" in monitoring.error and "5020" in monitoring.error
        assert monitoring.instance.session.closed, "a failed plugin is closed, leaving no open client session"
        assert background.status == "active"
        assert wb.emit("monitoring_event", [MonitoringPoint("request")]) == []


def test_reference_estimator_plugin_loads_and_names_its_missing_model(reference_docs, plugin_folder):
    modules = write_reference_plugins(reference_docs, plugin_folder.root)
    with Workbench(plugin_folder.root, [modules["reference_estimator"]], default_estimators=default_factories()) as wb:
        [record] = wb.plugins
        assert (record.name, record.kind, record.status) == ("PeopleCountReplacementPlugin", "estimator", "failed")
        assert "csrnet_uint8.onnx" in record.error
        assert wb.estimators == {"peopleCountEstimator": "default"}, "the default stays in use"
        assert wb.estimate("peopleCountEstimator", [spot_image([(1, 2)])])[0].count == 1


OWN_ROUTES_ATTRIBUTE = """\
from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse


class Keeps(BaseBackgroundPlugin):
    def __init__(self, app):
        super().__init__(app)
        self._routes = {"/kept": "mine"}  # the plugin's own attribute, whatever the base keeps

    async def initialize(self):
        for path in self._routes:
            self.addRoute(path, lambda request: pluginHTTPResponse(statusCode=200, body="kept"))
"""


def test_a_plugins_own_underscore_routes_attribute_leaves_the_route_list_alone(plugin_folder):
    """The stand-in kept its route list in ``self._routes``: a plugin with an attribute of that name replaced it
    and failed in addRoute here, though nothing in the service's docs reserves the name (issue 28)."""
    module = plugin_folder.add("keeps", OWN_ROUTES_ATTRIBUTE)
    with Workbench(plugin_folder.root, [module], default_estimators=default_factories()) as wb:
        assert wb.plugins["Keeps"].status == "active", wb.plugins["Keeps"].error
        assert [route.path for route in wb.routes] == ["/kept"]
