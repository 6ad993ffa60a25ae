"""Hostile requests and plugin routes against the embedded server (issue 9, failures 2, 3, 4, 7, 8, 9).

Requests go over raw sockets to a real server on 127.0.0.1, so a dropped connection is seen as one.
"""
from __future__ import annotations

import gzip
import json
import socket
import time

import pytest

from helpers.hostile import HUNG_ESTIMATOR, bomb_png, http, request, small_jpeg
from helpers.waiting import GENEROUS_S, wait_until

ESTIMATE = "/estimators/peopleCountEstimator/estimate"

HOSTILE_ROUTES = """
    import asyncio
    import json
    import time
    from workbench.plugins import BaseBackgroundPlugin, BaseEventPlugin, pluginHTTPResponse

    CANCELLED = []

    async def forever(request):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            CANCELLED.append(request.request_id)
            raise

    async def crlf(request):
        return pluginHTTPResponse(200, "x", headers={"X-Evil": "a\\r\\nSet-Cookie: stolen=1"})

    async def cancels(request):
        raise asyncio.CancelledError()

    async def parses(request):
        return pluginHTTPResponse(200, json.dumps({"type": type(request.json).__name__}))

    async def blocks(request):
        time.sleep(0.6)
        return pluginHTTPResponse(200, "slept")

    class Routes(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/forever", forever, methods=["get"])
            self.addRoute("/crlf", crlf, methods=["get"])
            self.addRoute("/cancels", cancels, methods=["get"])
            self.addRoute("/parses", parses, methods=["post"])
            self.addRoute("/blocks", blocks, methods=["get"])

    class Collector(BaseEventPlugin):
        eventName = "monitoring_event"
        points = []
        async def handleEvent(self, points, logger):
            Collector.points.extend(points)
"""


@pytest.fixture
def server(plugin_folder, serve):
    module = plugin_folder.add("hostile", HOSTILE_ROUTES)
    wb, host, port = serve([module], idle_timeout=0.5)
    return wb, host, port, module


def _json(body: bytes) -> dict:
    return json.loads(body)


def _usable(sock: socket.socket, host: str, port: int) -> None:
    status, headers, _ = http(host, port, request("GET", "/health"), sock=sock)
    assert status == 200 and headers["x-request-id"]


def _error_points(wb, status: int) -> list:
    import sys

    collector = sys.modules["hostile.plugin"].Collector
    return wait_until(lambda: [p for p in collector.points if p.series == "error" and p.tags["status_code"] == status])


# -- 2. a client that went away cancels its request ----------------------------------------------------------


def test_disconnected_client_cancels_the_plugin_call(server):
    wb, host, port, module = server
    import sys

    sock = socket.create_connection((host, port))
    sock.sendall(request("GET", "/forever", headers={"X-Request-Id": "gone-client"}))
    time.sleep(0.2)
    sock.close()
    cancelled = sys.modules["hostile.plugin"].CANCELLED
    assert wait_until(lambda: "gone-client" in cancelled)


def test_hung_estimator_answers_504_naming_it(plugin_folder, serve):
    module = plugin_folder.add("hangs", HUNG_ESTIMATOR)
    _, host, port = serve([module])
    status, headers, body = http(host, port, request("POST", ESTIMATE, small_jpeg()))
    assert status == 504 and "HangPlugin" in _json(body)["error"] and headers["x-request-id"]


# -- 3. a decompression bomb is refused from its header ------------------------------------------------------


@pytest.mark.timing  # "before decoding" is seen as an answer faster than decoding 144 Mpx could be
def test_bomb_image_is_413_before_decoding(server):
    wb, host, port, _ = server
    with socket.create_connection((host, port), timeout=5) as sock:
        started = time.monotonic()
        status, headers, body = http(host, port, request("POST", ESTIMATE, bomb_png()), sock=sock)
        assert time.monotonic() - started < 1
        assert status == 413 and "12000x12000" in _json(body)["error"]
        assert _json(body)["request_id"] == headers["x-request-id"]
        _usable(sock, host, port)


def test_max_pixels_is_configurable(plugin_folder, serve):
    _, host, port = serve([], max_pixels=100)
    status, _, body = http(host, port, request("POST", ESTIMATE, small_jpeg()))
    assert status == 413 and "32x24" in _json(body)["error"]


# -- 4. client errors are 400 JSON on a connection that stays usable ----------------------------------------


def test_bad_gzip_body_is_400_and_connection_stays(server):
    wb, host, port, _ = server
    with socket.create_connection((host, port), timeout=5) as sock:
        raw = request("POST", "/parses", b"this is not gzip", headers={"Content-Encoding": "gzip"})
        status, headers, body = http(host, port, raw, sock=sock)
        assert status == 400 and _json(body)["request_id"] == headers["x-request-id"]
        _usable(sock, host, port)


def test_good_gzip_body_still_works(server):
    wb, host, port, _ = server
    raw = request("POST", "/parses", gzip.compress(b'{"a": 1}'), headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    status, _, body = http(host, port, raw)
    assert status == 200 and _json(body) == {"type": "dict"}


def test_multipart_part_header_over_8k_is_400(server):
    wb, host, port, _ = server
    boundary = "BOUNDARY"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
        f"X-Padding: {'p' * 9000}\r\n\r\n"
    ).encode() + small_jpeg() + f"\r\n--{boundary}--\r\n".encode()
    with socket.create_connection((host, port), timeout=5) as sock:
        raw = request("POST", ESTIMATE, body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        status, headers, answer = http(host, port, raw, sock=sock)
        assert status == 400 and _json(answer)["request_id"] == headers["x-request-id"]
        _usable(sock, host, port)


@pytest.mark.parametrize("path", ["/parses", "/estimators/peopleCountEstimator"])
def test_deeply_nested_json_is_400(server, path):
    wb, host, port, _ = server
    nested = b"[" * 100_000 + b"]" * 100_000
    with socket.create_connection((host, port), timeout=5) as sock:
        status, headers, body = http(host, port, request("POST", path, nested), sock=sock)
        assert status in (400, 403) and _json(body)["request_id"] == headers["x-request-id"]
        if path == "/parses":
            assert status == 400 and "nested" in _json(body)["error"]
        _usable(sock, host, port)


# -- 7. malformed plugin responses and CancelledError --------------------------------------------------------


def test_header_with_crlf_is_500_with_an_error_point(server):
    wb, host, port, _ = server
    with socket.create_connection((host, port), timeout=5) as sock:
        status, headers, body = http(host, port, request("GET", "/crlf"), sock=sock)
        # The reason, which quotes the header's value, is in the log only (issue 31, finding 5).
        assert status == 500 and "malformed response" in _json(body)["error"] and b"stolen" not in body
        assert "set-cookie" not in headers
        _usable(sock, host, port)
    assert _error_points(wb, 500)


def test_handler_raising_cancelled_error_is_500(server):
    wb, host, port, _ = server
    with socket.create_connection((host, port), timeout=5) as sock:
        status, headers, body = http(host, port, request("GET", "/cancels"), sock=sock)
        assert status == 500 and "CancelledError" in _json(body)["error"]
        _usable(sock, host, port)


# -- 8. blocking plugin code is named in /health; idle connections are closed -------------------------------


def test_health_shows_the_plugin_that_blocked_the_loop(server):
    wb, host, port, _ = server
    assert http(host, port, request("GET", "/blocks"))[0] == 200

    def named_stalls() -> list[dict]:
        stalls = _json(http(host, port, request("GET", "/health"))[2])["loop_stalls"]
        # Other stalls may be listed too: on a loaded machine, startup work can hold the loop past 0.2 s.
        return [stall for stall in stalls if "hostile.plugin" in stall["where"]]

    named = wait_until(named_stalls)
    assert named and "blocks()" in named[0]["where"] and named[0]["seconds"] >= 0.4


def test_idle_connections_are_closed(server):
    wb, host, port, _ = server
    idle = [socket.create_connection((host, port), timeout=GENEROUS_S) for _ in range(20)]
    for sock in idle:
        assert sock.recv(1) == b""  # waits until the server closes it
        sock.close()


# -- 9. responses aiohttp makes itself carry a request id ----------------------------------------------------


def test_too_long_header_answer_has_a_request_id(server):
    wb, host, port, _ = server
    status, headers, _ = http(host, port, request("GET", "/health", headers={"X-Long": "v" * 10_000}))
    assert status in (400, 431) and headers.get("x-request-id")


def test_body_trickled_in_is_408(plugin_folder, serve):
    _, host, port = serve([], read_timeout=0.5)
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST " + ESTIMATE.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
        # One byte per 0.15 s cannot finish the 1000-byte body before the generous deadline: a 408 in that
        # time is the read timeout ending a body that keeps arriving, not the body completing.
        sock.settimeout(0.15)
        answer = b""
        deadline = time.monotonic() + GENEROUS_S
        while time.monotonic() < deadline and b"\r\n\r\n" not in answer:
            try:
                sock.sendall(b"x")
                answer += sock.recv(65536)
            except socket.timeout:
                pass
        assert answer.startswith(b"HTTP/1.1 408"), answer
