"""Monitoring points as the service produces them, delivered to event plugins off the request's path."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest

from helpers.bucket_service import bucket_service
from helpers.fake_estimators import default_factories
from helpers.reference_plugins import write_reference_plugins
from helpers.waiting import GENEROUS_S
from workbench import MonitoringPoint
from workbench.server import ErrorCode, build_app
from workbench.server._monitoring import MonitoringDispatcher, RequestOutcome
from workbench.testing import WORKBENCH

EVENT_PLUGINS = """
    import asyncio
    from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

    class Collector(BaseEventPlugin):
        eventName = "monitoring_event"

        def __init__(self, app):
            super().__init__(app)
            self.points = []
            self.batches = 0

        async def handleEvent(self, points, logger):
            self.batches += 1
            self.points.extend(points)

    class OtherEvent(BaseEventPlugin):
        eventName = "some_other_event"

        def __init__(self, app):
            super().__init__(app)
            self.points = []

        async def handleEvent(self, points, logger):
            self.points.extend(points)
"""

TROUBLE = """
    import asyncio
    from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

    class Slow(BaseEventPlugin):
        eventName = "monitoring_event"
        delay = 0.5

        def __init__(self, app):
            super().__init__(app)
            self.points = 0

        async def handleEvent(self, points, logger):
            await asyncio.sleep(self.delay)
            self.points += len(points)

    class Failing(BaseEventPlugin):
        eventName = "monitoring_event"

        async def handleEvent(self, points, logger):
            raise RuntimeError("monitoring backend is down")
"""

TEAPOT = """
    from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundPlugin, pluginHTTPResponse

    def teapot(request):
        return pluginHTTPResponse(statusCode=418, body="I am teapot")

    def broken(request):
        raise ValueError("no")

    class Teapot(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/teapot", teapot)
            self.addRoute("/broken", broken)
"""


async def eventually(predicate, timeout: float = GENEROUS_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the monitoring points"
        await asyncio.sleep(0.02)


def plugin(client, name):
    return client.app[WORKBENCH].plugins[name].instance


async def test_request_and_error_points(workbench_client, plugin_folder):
    events = plugin_folder.add("events", EVENT_PLUGINS)
    routes = plugin_folder.add("teapot", TEAPOT)
    client = await workbench_client(
        plugin_folder.root, [events, routes], default_estimators=default_factories(), service_name="remote-sdk"
    )
    before = time.time()
    calls = [
        ("GET", "/health", 200), ("GET", "/teapot", 418), ("GET", "/broken", 500), ("POST", "/teapot", 405),
        ("GET", "/nowhere", 404), ("POST", "/estimators/peopleCountEstimator/estimate", 400),
        ("POST", "/estimators/nope/estimate", 404), ("PUT", "/estimators/peopleCountEstimator", 403),
    ]
    ids = []
    for method, path, status in calls:
        response = await client.request(method, path)
        assert response.status == status
        ids.append(response.headers["X-Request-Id"])
    collector = plugin(client, "Collector")
    await eventually(lambda: len(collector.points) == len(calls) + 7)
    assert all(isinstance(p, MonitoringPoint) for p in collector.points)
    requests = [p for p in collector.points if p.series == "request"]
    errors = [p for p in collector.points if p.series == "error"]
    assert [p.fields["request_id"] for p in requests] == ids
    assert [(p.tags["route"], p.tags["status_code"]) for p in requests] == [
        ("GET:/health", 200), ("GET:/teapot", 418), ("GET:/broken", 500), ("POST:/teapot", 405),
        ("GET:<unmatched>", 404), ("POST:/estimators/{broker}/estimate", 400),
        ("POST:/estimators/{broker}/estimate", 404), ("PUT:/estimators/{broker}", 403),
    ]
    for point in requests:
        assert set(point.tags) == {"service", "route", "status_code"} and point.tags["service"] == "remote-sdk"
        assert set(point.fields) == {"request_id", "execution_time"}
        assert 0 <= point.fields["execution_time"] < 5
        assert before - 1 <= point.eventTime <= time.time()
    assert [(p.tags["route"], p.tags["status_code"], p.fields["error_code"]) for p in errors] == [
        ("GET:/teapot", 418, ErrorCode.PLUGIN_STATUS), ("GET:/broken", 500, ErrorCode.INTERNAL),
        ("POST:/teapot", 405, ErrorCode.METHOD_NOT_ALLOWED), ("GET:<unmatched>", 404, ErrorCode.NOT_FOUND),
        ("POST:/estimators/{broker}/estimate", 400, ErrorCode.BAD_IMAGE),
        ("POST:/estimators/{broker}/estimate", 404, ErrorCode.UNKNOWN_BROKER),
        ("PUT:/estimators/{broker}", 403, ErrorCode.SWITCHING_DISABLED),
    ]
    for point in errors:
        assert set(point.tags) == {"service", "route", "status_code"} and set(point.fields) == {"request_id", "error_code"}
        assert type(point.fields["error_code"]) is int
    assert collector.batches < len(calls), "points arrive in batches"
    assert plugin(client, "OtherEvent").points == [], "only monitoring_event listeners get them"


async def test_project_request_stats_plugin(workbench_client, project_plugins):
    client = await workbench_client(project_plugins, ["loop_watch.plugin", "request_stats.plugin"], default_estimators={})
    for _ in range(3):
        assert (await client.get("/loop/ping")).status == 200
    assert (await client.post("/loop/ping")).status == 405
    stats = plugin(client, "RequestStatsPlugin")
    await eventually(lambda: sum(stats.requests.values()) == 4)
    summary = stats.summary()
    assert summary["GET:/loop/ping"]["requests"] == 3 and summary["GET:/loop/ping"]["errors"] == 0
    assert summary["POST:/loop/ping"] == {**summary["POST:/loop/ping"], "requests": 1, "errors": 1}
    assert summary["GET:/loop/ping"]["p50 ms"] > 0
    health = await (await client.get("/health")).json()
    assert health["monitoring"]["RequestStatsPlugin"]["dropped"] == 0


@pytest.mark.timing  # "delay nothing" is each response's latency staying under 0.25 s
async def test_slow_and_failing_listeners_delay_nothing_and_cost_the_good_one_nothing(workbench_client, plugin_folder, caplog):
    events = plugin_folder.add("events", EVENT_PLUGINS)
    trouble = plugin_folder.add("trouble", TROUBLE)
    client = await workbench_client(plugin_folder.root, [trouble, events], default_estimators={})
    latencies = []
    for _ in range(30):
        started = time.perf_counter()
        assert (await client.get("/health")).status == 200
        latencies.append(time.perf_counter() - started)
    assert max(latencies) < 0.25, f"a slow event plugin (0.5 s per batch) delayed a response: {max(latencies):.3f} s"
    collector = plugin(client, "Collector")
    await eventually(lambda: len(collector.points) == 30)
    assert [p.series for p in collector.points] == ["request"] * 30
    assert any("Failing" in r.getMessage() and "monitoring backend is down" in r.getMessage() for r in caplog.records)
    assert plugin(client, "Slow").points < 30, "the slow plugin is still behind"
    health = await (await client.get("/health")).json()
    assert health["monitoring"]["Failing"]["failed_batches"] >= 1


async def test_points_are_flushed_when_the_app_stops(workbench_factory, aiohttp_client, plugin_folder):
    events = plugin_folder.add("events", EVENT_PLUGINS)
    trouble = plugin_folder.add("trouble", TROUBLE)
    wb = workbench_factory(plugin_folder.root, [events, trouble], default_estimators={})
    client = await aiohttp_client(build_app(wb))
    for _ in range(5):
        await client.get("/health")
    await client.close()
    assert len(wb.plugins["Collector"].instance.points) == 5
    assert wb.plugins["Slow"].instance.points == 5, "the slow plugin got its last points before the app stopped"


async def test_bounded_queues_drop_with_a_warning_and_flush_on_close(workbench_factory, plugin_folder, caplog):
    events = plugin_folder.add("events", EVENT_PLUGINS)
    trouble = plugin_folder.add("trouble", TROUBLE)
    wb = workbench_factory(plugin_folder.root, [events, trouble], default_estimators={})
    wb.plugins["Slow"].instance.delay = 0.1
    dispatcher = MonitoringDispatcher(wb, batch_size=4, batch_interval=30.0, max_pending=10, flush_timeout=2.0)
    points = [MonitoringPoint("request", tags={"route": f"GET:/{i}"}) for i in range(25)]

    async def on_host():
        for point in points:
            dispatcher.submit([point])
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
        stats = dispatcher.stats()
        await dispatcher.aclose()
        dispatcher.submit([MonitoringPoint("late")])
        return stats, dispatcher.stats()

    with caplog.at_level(logging.WARNING, "workbench.server"):
        during, after = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(on_host(), wb.loop))
    collector = wb.plugins["Collector"].instance
    assert [p.tags["route"] for p in collector.points] == [p.tags["route"] for p in points], "a fast plugin keeps up"
    assert during["Slow"]["dropped"] > 0 and during["Slow"]["pending"] <= 10
    assert after["Slow"]["pending"] == 0 and after["Slow"]["delivered"] + after["Slow"]["dropped"] == 25
    assert after["Collector"] == {"delivered": 25, "pending": 0, "dropped": 0, "failed_batches": 0}
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1 and "'Slow'" in warnings[0], "one warning, not one per dropped point"


async def test_reference_monitoring_plugin_verbatim(reference_docs, plugin_folder, workbench_client):
    modules = write_reference_plugins(reference_docs, plugin_folder.root)
    service_cm = bucket_service(5020)
    try:  # the service runs its own loop in a thread; starting it blocks, so not on this test's loop
        service = await asyncio.to_thread(service_cm.__enter__)
    except OSError as error:
        pytest.skip(f"port 5020, which the reference plugin hard-codes, is taken: {error}")
    try:
        client = await workbench_client(
            plugin_folder.root, [modules["reference_monitoring"], modules["reference_background"]], default_estimators={}
        )
        teapot = await client.get("/teapot")
        assert teapot.status == 418
        version = await client.get("/teapot/version")
        await eventually(lambda: len(service.objects) == 3)
        assert service.buckets == ["plugin_test_bucket"]
        by_id = {o["fields"]["request_id"]: o for o in service.objects}
        tea = by_id[teapot.headers["X-Request-Id"]]
        assert tea["bucket"] == "plugin_test_bucket"
        assert sorted(o["tags"]["route"] for o in service.objects) == ["GET:/teapot", "GET:/teapot", "GET:/teapot/version"]
        assert by_id[version.headers["X-Request-Id"]]["tags"] == {"service": "workbench", "route": "GET:/teapot/version", "status_code": 200}
        await client.close()
    finally:
        await asyncio.to_thread(service_cm.__exit__, None, None, None)


# -- request outcomes: plain values queued by requests, points built only for listeners --------------------------

OK = RequestOutcome("GET:/ping", 200, "id-ok", 0.001, 1700000000.0, None)
FAILED = RequestOutcome("GET:/teapot", 418, "id-failed", 0.002, 1700000001.0, 10)


def _on_host(wb, coro):
    return asyncio.run_coroutine_threadsafe(coro, wb.loop).result(10)


def test_outcomes_become_request_and_error_points(workbench_factory, plugin_folder):
    module = plugin_folder.add("events", EVENT_PLUGINS)
    wb = workbench_factory(plugin_folder.root, [module], default_estimators={})
    dispatcher = MonitoringDispatcher(wb, service_name="remote-sdk")

    async def submit_all():
        dispatcher.submit((OK,))
        dispatcher.submit((FAILED,))
        await dispatcher.aclose()

    _on_host(wb, submit_all())
    points = wb.plugins["Collector"].instance.points
    assert [(p.series, p.tags["route"], p.fields["request_id"]) for p in points] == [
        ("request", "GET:/ping", "id-ok"), ("request", "GET:/teapot", "id-failed"), ("error", "GET:/teapot", "id-failed"),
    ]
    assert points[0].tags == {"service": "remote-sdk", "route": "GET:/ping", "status_code": 200}
    assert points[0].fields == {"request_id": "id-ok", "execution_time": 0.001} and points[0].eventTime == 1700000000.0
    assert points[2].fields == {"request_id": "id-failed", "error_code": 10}


def test_no_points_are_built_without_a_listener(workbench_factory, plugin_folder, monkeypatch):
    wb = workbench_factory(plugin_folder.root, [], default_estimators={})
    built = []
    monkeypatch.setattr(RequestOutcome, "points", lambda self, service: built.append(self) or [])
    dispatcher = MonitoringDispatcher(wb)

    async def submit_all():
        for _ in range(3):
            dispatcher.submit((OK,))
        await dispatcher.aclose()

    _on_host(wb, submit_all())
    assert built == []


async def test_a_listener_that_joins_later_gets_the_requests_after_it(workbench_client, project_plugins):
    # A guard for any shortcut taken while nobody listens: it must not outlive the first listener.
    client = await workbench_client(project_plugins, ["loop_watch.plugin"], default_estimators={})
    for _ in range(3):
        assert (await client.get("/loop/ping")).status == 200
    wb = client.app[WORKBENCH]
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wb.areload("request_stats.plugin"), wb.loop))
    ids = set()
    for _ in range(2):
        response = await client.get("/loop/ping")
        assert response.status == 200
        ids.add(response.headers["X-Request-Id"])
    stats = plugin(client, "RequestStatsPlugin")
    await eventually(lambda: ids <= {point.fields["request_id"] for point in stats.recent})


def test_an_overflowing_intake_counts_an_error_outcome_as_two_points(workbench_factory, plugin_folder):
    module = plugin_folder.add("events", EVENT_PLUGINS)
    wb = workbench_factory(plugin_folder.root, [module], default_estimators={})
    dispatcher = MonitoringDispatcher(wb, batch_size=1, batch_interval=30.0, max_pending=1)

    async def submit_all():
        dispatcher.submit((OK,))
        while "Collector" not in dispatcher.stats():  # the fan-out has met the listener
            await asyncio.sleep(0.01)
        dispatcher.submit((OK,))  # fills the intake, as a loop too busy to fan out would leave it
        dispatcher.submit((FAILED,))  # no room: both of its points are lost
        stats = dispatcher.stats()
        await dispatcher.aclose()
        return stats

    stats = _on_host(wb, submit_all())
    assert stats["Collector"]["dropped"] == 2
