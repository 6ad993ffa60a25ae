"""Who may use the server (issue 31, finding 2): a token off loopback, Host checked against DNS rebinding, no
foreign Origins and JSON only where the state changes.

Requests go over raw sockets, so the Host, Origin and Content-Type headers are exactly the ones a browser or a
rebinding page would send.
"""
from __future__ import annotations

import json
import logging

import pytest

from helpers.hostile import http, request, start_serve, stop_serve
from workbench.server import build_app, start_server

SWITCH = "/estimators/peopleCountEstimator"

ROUTES_AND_ESTIMATOR = """
    import json
    from workbench.plugins import BaseBackgroundPlugin, EstimatorBase, EstimatorReplacementPlugin, pluginHTTPResponse

    def origin(request):
        return pluginHTTPResponse(200, json.dumps({"origin": request.headers.get("Origin")}))

    class Routes(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/origin", origin, methods=["get", "post"])

    class Idle(EstimatorBase):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            return []
        def close(self):
            pass

    class IdlePlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"
        def createReplacementEstimator(self):
            return Idle()
"""


@pytest.fixture
def module(plugin_folder) -> str:
    return plugin_folder.add("guarded", ROUTES_AND_ESTIMATOR)


def _error(body: bytes) -> dict:
    answer = json.loads(body)
    assert set(answer) == {"error", "request_id"}, answer
    return answer


def test_off_loopback_every_request_needs_the_token_made_at_start(module, make_host, caplog):
    wb = make_host([module])
    with caplog.at_level(logging.WARNING, "workbench.server"):
        handle = start_server(wb, host="0.0.0.0", port=0)
    assert handle.token and len(handle.token) >= 16
    assert any("off loopback" in r.getMessage() and handle.token not in r.getMessage() for r in caplog.records)
    for path in ("/health", "/origin"):  # the built-in routes and the plugins' alike
        status, headers, body = http("127.0.0.1", handle.port, request("GET", path))
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        answer = _error(body)
        assert "Authorization: Bearer" in answer["error"] and answer["request_id"] == headers["x-request-id"]
        wrong = {"Authorization": "Bearer " + "x" * 32}
        assert http("127.0.0.1", handle.port, request("GET", path, headers=wrong))[0] == 401
        right = {"Authorization": f"Bearer {handle.token}"}
        assert http("127.0.0.1", handle.port, request("GET", path, headers=right))[0] == 200
        # Off loopback clients use whatever name reaches the machine: the token guards it, not the Host.
        named = {**right, "Host": "box.example:8080"}
        assert http("127.0.0.1", handle.port, request("GET", path, headers=named))[0] == 200


def test_a_token_given_is_required_and_checked(module, make_host):
    wb = make_host([module])
    with pytest.raises(ValueError, match="at least 16"):
        start_server(wb, host="0.0.0.0", port=0, token="short")
    with pytest.raises(ValueError, match="not both"):
        start_server(wb, host="0.0.0.0", port=0, token="t" * 16, insecure_no_token=True)
    handle = start_server(wb, host="127.0.0.1", port=0, token="t" * 16)  # on loopback too, when given
    assert http("127.0.0.1", handle.port, request("GET", "/health"))[0] == 401
    assert http("127.0.0.1", handle.port, request("GET", "/health", headers={"Authorization": "bearer " + "t" * 16}))[0] == 200


def test_no_token_off_loopback_only_by_the_explicit_opt_out(module, make_host, caplog):
    wb = make_host([module])
    with caplog.at_level(logging.WARNING, "workbench.server"):
        handle = start_server(wb, host="0.0.0.0", port=0, insecure_no_token=True)
    assert handle.token is None
    assert any("without a token" in r.getMessage() for r in caplog.records)
    assert http("127.0.0.1", handle.port, request("GET", "/health"))[0] == 200


def test_loopback_answers_its_own_names_and_refuses_a_rebound_one(module, make_host):
    wb = make_host([module])
    handle = start_server(wb, host="127.0.0.1", port=0)
    assert handle.token is None  # tests and notebooks on loopback need no ceremony
    for name in (f"127.0.0.1:{handle.port}", f"localhost:{handle.port}", "LOCALHOST", f"[::1]:{handle.port}"):
        assert http("127.0.0.1", handle.port, request("GET", "/health", headers={"Host": name}))[0] == 200, name
    for path in ("/health", "/origin", SWITCH + "/estimate"):
        rebound = {"Host": f"attacker.example:{handle.port}"}
        status, _, body = http("127.0.0.1", handle.port, request("GET", path, headers=rebound))
        assert status == 403 and "DNS rebinding" in _error(body)["error"] and "allowed_hosts" in _error(body)["error"]
    allowing = start_server(wb, host="127.0.0.1", port=0, allowed_hosts=["box.example"])
    assert http("127.0.0.1", allowing.port, request("GET", "/health", headers={"Host": "box.example:1"}))[0] == 200
    assert http("127.0.0.1", allowing.port, request("GET", "/health", headers={"Host": "other.example"}))[0] == 403


def test_a_foreign_page_cannot_switch_the_estimator(module, make_host):
    wb = make_host([module])
    handle = start_server(wb, host="127.0.0.1", port=0, allow_estimator_switching=True)
    port = handle.port
    assert wb.estimators["peopleCountEstimator"] == "IdlePlugin"  # a replacement plugin is served once active
    body = b'{"name": "default"}'
    # What a web page's form posts cross-origin without a preflight: text/plain, with the page's Origin.
    form = {"Content-Type": "text/plain", "Origin": "http://attacker.example"}
    status, _, answer = http("127.0.0.1", port, request("POST", SWITCH, body, form))
    assert status == 403 and "attacker.example" in _error(answer)["error"]
    # Without an Origin (curl), text/plain is still refused: a route that changes state takes JSON only.
    status, _, answer = http("127.0.0.1", port, request("POST", SWITCH, body, {"Content-Type": "text/plain"}))
    assert status == 415 and "application/json" in _error(answer)["error"]
    assert wb.estimators["peopleCountEstimator"] == "IdlePlugin"
    own = {"Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}", "Host": f"127.0.0.1:{port}"}
    assert http("127.0.0.1", port, request("PUT", SWITCH, body, own))[0] == 200
    assert wb.estimators["peopleCountEstimator"] == "default"
    # A page of an origin the user allows may use the built-in routes.
    trusting = start_server(wb, host="127.0.0.1", port=0, allowed_origins=["http://localhost:8888"])
    assert http("127.0.0.1", trusting.port, request("GET", "/health", headers={"Origin": "http://localhost:8888"}))[0] == 200
    assert http("127.0.0.1", trusting.port, request("GET", "/health", headers={"Origin": "http://evil.example"}))[0] == 403


def test_plugin_routes_guard_their_own_origins(module, make_host):
    wb = make_host([module])
    handle = start_server(wb, host="127.0.0.1", port=0)
    status, _, body = http("127.0.0.1", handle.port, request("POST", "/origin", b"x", {"Origin": "http://other.example"}))
    assert (status, json.loads(body)) == (200, {"origin": "http://other.example"})


async def test_the_pytest_plugins_client_needs_no_ceremony(workbench_client, plugin_folder, module):
    client = await workbench_client(plugin_folder.root, [module])
    assert (await client.get("/health")).status == 200
    guarded = await workbench_client(plugin_folder.root, [module], token="s" * 16)
    answer = await guarded.get("/health")
    assert answer.status == 401 and (await answer.json())["request_id"] == answer.headers["X-Request-Id"]
    assert (await guarded.get("/health", headers={"Authorization": "Bearer " + "s" * 16})).status == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"token": 12345678901234567}, "token must be a string"),
        ({"allowed_hosts": "box.example"}, "list of strings"),
        ({"allowed_hosts": ["http://box.example"]}, "not a host name"),
        ({"allowed_origins": ["localhost:8888"]}, "not an origin"),
    ],
)
def test_bad_access_options_say_what_is_wrong(make_host, options, message):
    wb = make_host([])
    with pytest.raises((TypeError, ValueError), match=message):
        build_app(wb, **options)


@pytest.mark.slow  # a `workbench serve` subprocess
def test_serve_off_loopback_prints_a_token_and_takes_one_from_the_environment(plugin_folder, module):
    for env_token in (None, "e" * 20):
        env = {"WORKBENCH_TOKEN": env_token or ""}  # empty: none given
        process, port = start_serve(plugin_folder.root, module, "--host", "0.0.0.0", env=env)
        try:
            said = process.stdout.readline()
            assert "Authorization: Bearer <token>" in said
            token = env_token or said.split("the token ", 1)[1].split()[0]
            assert env_token is None or env_token not in said  # a token given is not echoed
            assert http("127.0.0.1", port, request("GET", "/health"))[0] == 401
            assert http("127.0.0.1", port, request("GET", "/health", headers={"Authorization": f"Bearer {token}"}))[0] == 200
        finally:
            stop_serve(process)
        assert process.returncode == 0
