"""Plugin routes over HTTP: dispatch on the host's loop, the request object, 405s, reloads, failures."""
from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest
from aiohttp import web

from helpers.reference_plugins import write_reference_plugins
from workbench.server import build_app, start_server
from workbench.server._plugin_routes import AnyPath
from workbench.server._state import STATE
from workbench.testing import WORKBENCH

ROUTES = """
    import asyncio
    import json
    import threading
    from luna_plugins.base.plugins_meta.base_plugins import BaseBackgroundHandler, BaseBackgroundPlugin, pluginHTTPResponse

    JSON = {"Content-Type": "application/json"}

    class Echo(BaseBackgroundHandler):
        async def post(self, request):
            return self.response(body=json.dumps({
                "method": request.method, "path": request.path, "query": dict(request.query),
                "header": request.headers.get("X-Probe"), "text": await request.text(),
                "json": request.json if request.content_type == "application/json" or not request.body else "-",
                "raw": len(await request.read()), "body": len(request.body), "request_id": request.request_id,
                "content_type": request.content_type,
            }), headers=JSON)

        async def put(self, request):
            return self.response(body=json.dumps({"name": request.json["name"]}), headers=JSON, statusCode=201)

    class Where(BaseBackgroundHandler):
        async def get(self, request):
            plugin = RoutesPlugin.instance
            same_loop = asyncio.get_running_loop() is plugin.loop
            # The plugin's own loop-bound state must work from a handler: a future made on its loop.
            future = plugin.loop.create_future()
            plugin.loop.call_soon(future.set_result, "ok")
            return self.response(body=json.dumps({"same_loop": same_loop, "future": await future,
                                                  "thread": threading.current_thread().name}), headers=JSON)

    def boom(request):
        raise KeyError("secret-internal-detail")

    def wrong_type(request):
        return {"not": "a response"}

    def bad_status(request):
        return pluginHTTPResponse(statusCode=99, body="?")

    async def created(request):
        return pluginHTTPResponse(statusCode=201, body=b"\\x00\\x01", headers={"X-Plugin": "yes"})

    def version(request):
        return pluginHTTPResponse(body="v1")

    class RoutesPlugin(BaseBackgroundPlugin):
        instance = None

        async def initialize(self):
            RoutesPlugin.instance = self
            self.loop = asyncio.get_running_loop()
            self.addRoute("/echo", Echo)
            self.addRoute("/where", Where)
            self.addRoute("/boom", boom, methods={"get", "post"})
            self.addRoute("/wrong-type", wrong_type)
            self.addRoute("/bad-status", bad_status)
            self.addRoute("/created", created, methods={"post"})
            self.addRoute("/version", version)
            self.addRoute("/health/extra", version)
"""


class ServedClient:
    """A client of ``start_server``, with the test client's calls: the same tests run on both servings."""

    def __init__(self, session: aiohttp.ClientSession, wb) -> None:
        self._session = session
        self.app = {WORKBENCH: wb}

    def get(self, path, **options):
        return self._session.get(path, **options)

    def post(self, path, **options):
        return self._session.post(path, **options)

    def put(self, path, **options):
        return self._session.put(path, **options)


# The test client serves the app on the test's loop (each handler call crosses to the host's loop);
# start_server serves it on the host's loop, where the route calls the handler in place.
@pytest.fixture(params=["test client", "start_server"])
async def routes_client(request, workbench_client, workbench_factory, plugin_folder):
    module = plugin_folder.add("routes", ROUTES)
    if request.param == "test client":
        yield await workbench_client(plugin_folder.root, [module], default_estimators={})
        return
    wb = workbench_factory(plugin_folder.root, [module], default_estimators={})
    handle = start_server(wb)
    async with aiohttp.ClientSession(base_url=handle.url) as session:
        yield ServedClient(session, wb)
    handle.stop()


def test_only_start_server_calls_plugin_handlers_in_place(workbench_factory, project_plugins):
    wb = workbench_factory(project_plugins, ["loop_watch.plugin"], default_estimators={})
    assert not build_app(wb)[STATE].on_host_loop, "an app served elsewhere must cross to the host's loop"
    assert start_server(wb).app[STATE].on_host_loop


def test_the_catch_all_matches_any_path_without_a_pattern(workbench_factory, project_plugins):
    app = build_app(workbench_factory(project_plugins, ["loop_watch.plugin"], default_estimators={}))
    catch_all = list(app.router.resources())[-1]
    assert isinstance(catch_all, AnyPath) and catch_all.get_info() == {"path": "*"}
    assert not any(isinstance(resource, web.DynamicResource) and resource.canonical.startswith("/{")
                   for resource in app.router.resources())
    with pytest.raises(TypeError, match="no URL of its own"):
        catch_all.url_for()


async def json_error(response, status):
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error", "request_id"} and body["request_id"] == response.headers["X-Request-Id"]
    return body["error"]


async def test_project_background_plugin_routes(workbench_client, project_plugins):
    client = await workbench_client(project_plugins, ["loop_watch.plugin"], default_estimators={})
    ping = await client.get("/loop/ping")
    assert (ping.status, await ping.text(), ping.content_type) == (200, "pong", "text/plain")
    assert ping.headers["X-Request-Id"]
    deadline = time.monotonic() + 10  # the plugin's background task samples the loop every 0.1 s
    while (lag := await client.get("/loop/lag")).status == 200 and (await lag.json())["samples"] < 1:
        assert time.monotonic() < deadline, "the loop-watch task never sampled"
        await asyncio.sleep(0.1)
    assert lag.status == 200
    reset = await client.delete("/loop/lag")
    assert reset.status == 204 and await reset.read() == b""
    assert (await (await client.get("/loop/lag")).json())["samples"] <= 1
    response = await client.post("/loop/ping")
    assert "allowed: GET" in await json_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD"  # GET's handler answers HEAD (issue 31, finding 9)
    response = await client.put("/loop/lag")
    await json_error(response, 405)
    assert response.headers["Allow"] == "DELETE, GET, HEAD"


async def test_the_request_object(routes_client):
    response = await routes_client.post(
        "/echo?a=1&b=two", json={"x": [1, 2]}, headers={"X-Probe": "probe", "X-Request-Id": "req-42"}
    )
    assert response.status == 200
    assert await response.json() == {
        "method": "POST", "path": "/echo", "query": {"a": "1", "b": "two"}, "header": "probe", "json": {"x": [1, 2]},
        "text": '{"x": [1, 2]}', "raw": 13, "body": 13, "request_id": "req-42", "content_type": "application/json",
    }
    latin = await routes_client.post("/echo", data="é".encode("latin-1"), headers={"Content-Type": "text/plain; charset=latin-1"})
    assert (await latin.json())["content_type"] == "text/plain" and "é" in (await latin.json())["text"]
    empty = await (await routes_client.post("/echo")).json()
    assert (empty["json"], empty["body"]) == (None, 0)
    put = await routes_client.put("/echo", json={"name": "n"})
    assert (put.status, await put.json()) == (201, {"name": "n"})


async def test_handlers_run_on_the_hosts_loop(routes_client):
    body = await (await routes_client.get("/where")).json()
    assert body == {"same_loop": True, "future": "ok", "thread": "workbench-host"}


async def test_bad_json_in_a_plugin_request_is_400(routes_client):
    message = await json_error(await routes_client.post("/echo", data=b"{not json", headers={"Content-Type": "application/json"}), 400)
    assert "not valid JSON" in message
    assert "not text in utf-8" in await json_error(await routes_client.post("/echo", data=b"\xff\xfe"), 400)


async def test_plugin_failures_are_500_and_the_server_keeps_serving(routes_client, caplog):
    response = await routes_client.get("/boom")
    message = await json_error(response, 500)
    assert "/boom" in message and "RoutesPlugin" in message and "KeyError" in message
    # Issue 31, finding 5: the exception's text (a password, a path) stays in the log, not in the answer.
    body = await response.text()
    assert "Traceback" not in body and "secret-internal-detail" not in body
    assert "the server log has the details" in message and response.headers["X-Request-Id"] in body
    assert any(r.exc_info and response.headers["X-Request-Id"] in r.getMessage() for r in caplog.records)
    # A malformed answer's reason is in the log, the answer says where (issue 31, finding 5).
    assert "malformed response" in await json_error(await routes_client.get("/wrong-type"), 500)
    assert "malformed response" in await json_error(await routes_client.get("/bad-status"), 500)
    logged = [r.getMessage() for r in caplog.records]
    assert any("pluginHTTPResponse" in m for m in logged) and any("statusCode" in m for m in logged)
    results = await asyncio.gather(*(routes_client.get(path) for path in ["/boom", "/version"] * 5))
    assert [r.status for r in results] == [500, 200] * 5


async def test_plugin_status_body_and_headers_pass_through(routes_client):
    response = await routes_client.post("/created")
    assert (response.status, await response.read()) == (201, b"\x00\x01")
    assert response.headers["X-Plugin"] == "yes" and response.content_type == "application/octet-stream"


async def test_built_in_routes_win_and_plugins_get_the_rest(routes_client):
    assert (await (await routes_client.get("/health")).json())["status"] == "ok"
    assert await (await routes_client.get("/health/extra")).text() == "v1"
    assert (await routes_client.get("/health/other")).status == 404


async def test_reload_changes_routes_live(routes_client, plugin_folder):
    wb = routes_client.app[WORKBENCH]
    assert await (await routes_client.get("/version")).text() == "v1"
    source = plugin_folder.root / "routes" / "plugin.py"
    text = source.read_text().replace('body="v1"', 'body="v2"')
    source.write_text(re.sub(r"\n *self.addRoute\(\"/boom\".*", "", text))
    await wb.areload("routes.plugin")
    assert await (await routes_client.get("/version")).text() == "v2"
    assert (await routes_client.get("/boom")).status == 404


async def test_reference_background_plugin_verbatim(reference_docs, plugin_folder, workbench_client):
    modules = write_reference_plugins(reference_docs, plugin_folder.root)
    client = await workbench_client(plugin_folder.root, [modules["reference_background"]], default_estimators={})
    teapot = await client.get("/teapot")
    assert (teapot.status, await teapot.text(), teapot.content_type) == (418, "I am teapot", "text/plain")
    version = await client.get("/teapot/version")
    assert (version.status, await version.text()) == (200, "T800")
    response = await client.post("/teapot/version")
    await json_error(response, 405)
    assert response.headers["Allow"] == "GET, HEAD"  # GET's handler answers HEAD (issue 31, finding 9)
    assert (await client.post("/teapot")).status == 405, "the class handler defines get only"
