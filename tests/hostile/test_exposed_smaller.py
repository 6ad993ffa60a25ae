"""The server's smaller findings of issue 31 (finding 9): HEAD on plugin GET routes, multipart bodies bounded by
max_body_size, a fuzzed TIFF and a 5,000-digit JSON integer answered 400, accept failures logged once in a while,
and no plugin process outliving ``workbench serve``."""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from helpers.hostile import http, read_response, request, small_jpeg, start_serve, stop_serve
from helpers.waiting import GENEROUS_S, wait_until

ESTIMATE = "/estimators/peopleCountEstimator/estimate"

ROUTES = """
    from workbench.plugins import BaseBackgroundHandler, BaseBackgroundPlugin, pluginHTTPResponse

    def hello(request):
        return pluginHTTPResponse(200, "hello, " + request.method, headers={"X-Route": "hello"})

    def parses(request):
        return pluginHTTPResponse(200, type(request.json).__name__)

    class Page(BaseBackgroundHandler):
        async def get(self, request):
            return self.response(body="page")

    class Routes(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/hello", hello, methods=["get"])
            self.addRoute("/parses", parses, methods=["post"])
            self.addRoute("/page", Page)
"""


@pytest.fixture
def server(plugin_folder, serve):
    module = plugin_folder.add("smaller", ROUTES)
    wb, host, port = serve([module], max_body_size=64 * 1024)
    return host, port


def test_plugin_get_routes_answer_head_without_a_body(server):
    host, port = server
    with socket.create_connection((host, port), timeout=5) as sock:
        get = http(host, port, request("GET", "/hello"), sock=sock)
        sock.sendall(request("HEAD", "/hello"))
        head = _head_response(sock)
        assert http(host, port, request("GET", "/page"), sock=sock)[0] == 200  # the connection stays in step
    assert get[0] == head[0] == 200 and get[2] == b"hello, GET"
    assert head[1]["content-length"] == str(len(b"hello, HEAD")) and head[1]["x-route"] == "hello"
    assert _head(host, port, "/page")[0] == 200  # a class handler's get answers HEAD too
    status, headers = _head(host, port, "/parses")
    assert status == 405 and headers["allow"] == "POST"


def _head(host: str, port: int, path: str) -> tuple[int, dict[str, str]]:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request("HEAD", path))
        return _head_response(sock)


def _head_response(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """A HEAD answer's status and headers: its Content-Length announces a body that is never sent."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert rest == b"", rest
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers


@pytest.mark.parametrize("junk_first", [True, False], ids=["junk-before-the-file", "junk-after-the-file"])
def test_a_chunked_multipart_body_is_bounded_by_max_body_size(server, junk_first):
    host, port = server
    boundary = "b0undary"
    file_part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\n"
                 "Content-Type: image/jpeg\r\n\r\n").encode() + small_jpeg() + b"\r\n"
    junk_head = f"--{boundary}\r\nContent-Disposition: form-data; name=\"junk\"\r\n\r\n".encode()
    junk = [junk_head] + [b"x" * 32768] * 32 + [b"\r\n"]  # 1 MiB of a form field, 16 times the limit
    parts = (junk + [file_part] if junk_first else [file_part] + junk) + [f"--{boundary}--\r\n".encode()]
    head = (f"POST {ESTIMATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
    with socket.create_connection((host, port), timeout=GENEROUS_S) as sock:
        sender = threading.Thread(target=_send_chunked, args=(sock, head, parts), daemon=True)
        sender.start()
        status, _, body = read_response(sock)
    assert status == 413 and "max_body_size" in json.loads(body)["error"]


def _send_chunked(sock: socket.socket, head: bytes, parts: list[bytes]) -> None:
    try:
        sock.sendall(head)
        for part in parts:
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed before the rest was sent: what a bounded server does


def fuzzed_tiff() -> bytes:
    """A TIFF whose StripOffsets tag is typed as text: Pillow's loader then raises TypeError (a fuzzer's find)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, format="TIFF")
    data = bytearray(out.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for entry in range(struct.unpack("<H", data[ifd:ifd + 2])[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack("<H", data[at:at + 2])[0] == 273:  # StripOffsets
            data[at + 2:at + 4] = struct.pack("<H", 2)  # type ASCII
    return bytes(data)


def test_a_fuzzed_tiff_is_400(server):
    host, port = server
    status, headers, body = http(host, port, request("POST", ESTIMATE, fuzzed_tiff(), {"Content-Type": "image/tiff"}))
    assert status == 400, body
    assert "corrupt" in json.loads(body)["error"] and json.loads(body)["request_id"] == headers["x-request-id"]


def test_a_5000_digit_json_integer_is_400(server):
    host, port = server
    body = b'{"n": ' + b"7" * 5000 + b"}"
    status, _, answer = http(host, port, request("POST", "/parses", body, {"Content-Type": "application/json"}))
    assert status == 400 and "integer too long" in json.loads(answer)["error"]
    assert http(host, port, request("POST", "/parses", b'{"n": 7}', {"Content-Type": "application/json"}))[2] == b"dict"


@pytest.mark.slow  # a `workbench serve` subprocess and 700 sockets
def test_out_of_descriptors_is_reported_once_in_a_while_not_per_accept(plugin_folder):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1024:  # this process opens 700 sockets
        if hard != resource.RLIM_INFINITY and hard < 1024:
            pytest.skip(f"this test opens 700 sockets; the hard limit on open files is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    module = plugin_folder.add("idle", ROUTES)
    process, port = start_serve(
        plugin_folder.root, module, "--idle-timeout", "60",
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)),
    )
    clients = []
    try:
        for _ in range(700):  # far more than the server's 256 descriptors; connects complete in the kernel's backlog
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            clients.append(sock)
        time.sleep(4)  # the unpatched server wrote about a megabyte of tracebacks in that time
    finally:
        for sock in clients:
            sock.close()
        err = stop_serve(process)
    assert "cannot accept connections" in err and "ulimit -n" in err, err[-2000:]
    assert len(err) < 20_000 and err.count("Traceback") == 0, f"{len(err)} characters: {err[:2000]}"


SPAWNER = """
    import subprocess, sys
    from pathlib import Path
    from workbench.plugins import BaseBackgroundPlugin

    class Spawner(BaseBackgroundPlugin):
        async def start(self):
            # A helper process never ended, and a shell whose own child is the plugin's grandchild.
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            subprocess.Popen(["sh", "-c", "sleep 120 & echo $! > {pids}/grandchild; wait"])
            Path("{pids}/child").write_text(str(child.pid))
"""


@pytest.mark.slow  # a `workbench serve` subprocess
def test_processes_plugins_start_end_with_serve(plugin_folder, tmp_path):
    module = plugin_folder.add("spawner", SPAWNER.replace("{pids}", str(tmp_path)))
    process, _ = start_serve(plugin_folder.root, module)
    pids: list[int] = []
    try:
        wait_until(lambda: (tmp_path / "child").exists() and (tmp_path / "grandchild").exists())
        pids = [int((tmp_path / name).read_text()) for name in ("child", "grandchild")]
        assert all(_running(pid) for pid in pids)
        err = stop_serve(process)
        assert process.returncode == 0, err
        assert wait_until(lambda: not any(_running(pid) for pid in pids)), f"still running: {pids}"
        assert "ended the processes plugins left running" in err and str(pids[0]) in err
    finally:
        for pid in pids:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
