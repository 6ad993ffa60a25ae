"""Error bodies say what failed and the request id, the details stay in the log; /health shows no absolute paths
(issue 31, finding 5: the paths not covered by the plugin-route and estimator tests of test_server_plugins)."""
from __future__ import annotations

import json
import logging
import re

import pytest

from helpers.hostile import http, request
from helpers.waiting import wait_until

SWITCH = "/estimators/peopleCountEstimator"
SECRET = "postgres://counter:hunter2@db.internal/models"

LEAKY = f"""
    import time
    from workbench.plugins import BaseBackgroundPlugin, EstimatorBase, EstimatorReplacementPlugin, pluginHTTPResponse

    class Unsendable(str):
        def encode(self, *args, **kwargs):
            raise RuntimeError("{SECRET}")

    def bad_header(request):
        return pluginHTTPResponse(200, "x", headers={{"X-Debug": "{SECRET}\\r\\n"}})

    def bad_body(request):
        return pluginHTTPResponse(200, Unsendable("x"))

    def blocks(request):
        time.sleep(0.6)
        return pluginHTTPResponse(200, "slept")

    class Routes(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/bad-header", bad_header, methods=["get"])
            self.addRoute("/bad-body", bad_body, methods=["get"])
            self.addRoute("/blocks", blocks, methods=["get"])

    class Idle(EstimatorBase):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            return []
        def close(self):
            pass

    class BrokenPlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"
        built = 0
        def createReplacementEstimator(self):  # builds once, at activation; fails when switched back to
            BrokenPlugin.built += 1
            if BrokenPlugin.built > 1:
                raise ConnectionError("cannot load the model from {SECRET}")
            return Idle()
"""


@pytest.fixture
def leaky(plugin_folder, serve):
    module = plugin_folder.add("leaky", LEAKY)
    wb, host, port = serve([module], allow_estimator_switching=True)
    return wb, host, port


def _error(body: bytes, headers: dict[str, str]) -> str:
    answer = json.loads(body)
    assert answer["request_id"] == headers["x-request-id"]
    return answer["error"]


def test_a_failed_switch_says_the_type_and_logs_the_text(leaky, caplog):
    wb, host, port = leaky
    json_body = {"Content-Type": "application/json"}
    assert http(host, port, request("PUT", SWITCH, b'{"name": "default"}', json_body))[0] == 200
    with caplog.at_level(logging.ERROR, "workbench.server"):
        status, headers, answer = http(host, port, request("PUT", SWITCH, b'{"name": "BrokenPlugin"}', json_body))
    assert status == 500 and SECRET not in answer.decode()
    message = _error(answer, headers)
    assert "ConnectionError" in message and "server log" in message
    logged = [r for r in caplog.records if headers["x-request-id"] in r.getMessage()]
    assert logged and SECRET in str(logged[0].exc_info[1])


@pytest.mark.parametrize("path", ["/bad-header", "/bad-body"])
def test_a_malformed_answer_is_said_without_its_contents(leaky, caplog, path):
    wb, host, port = leaky
    with caplog.at_level(logging.ERROR, "workbench.server"):
        status, headers, answer = http(host, port, request("GET", path))
    assert status == 500 and SECRET not in answer.decode()
    assert "malformed response" in _error(answer, headers)
    assert any(headers["x-request-id"] in r.getMessage() and SECRET in r.getMessage() for r in caplog.records)


def test_health_shows_no_absolute_path(leaky, plugin_folder):
    wb, host, port = leaky
    assert http(host, port, request("GET", "/blocks"))[0] == 200

    def stall_named() -> list[dict]:
        stalls = json.loads(http(host, port, request("GET", "/health"))[2])["loop_stalls"]
        return [stall for stall in stalls if "leaky.plugin" in stall["where"]]

    [stall, *_] = wait_until(stall_named)
    assert "blocks() (leaky/plugin.py:" in stall["where"], stall  # its place in the plugins folder
    text = http(host, port, request("GET", "/health"))[2].decode()
    assert str(plugin_folder.root) not in text
    assert not re.search(r'["( ]/[^"]*/', text), text
