"""Raw HTTP exchanges, hostile images and a hung estimator plugin for the hostile tests (a connection is observed,
not hidden by a client)."""
from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import zlib
from typing import Any

from PIL import Image


def http(host: str, port: int, raw: bytes, *, sock: socket.socket | None = None, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send one raw request (on ``sock`` when given, to reuse a connection) and read one response."""
    own = sock is None
    sock = sock or socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(raw)
        return read_response(sock)
    finally:
        if own:
            sock.close()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response (got {data!r})")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        body += chunk
    return status, headers, body[:length]


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    """A raw request; its ``Host`` is 127.0.0.1, a name a loopback server answers, unless ``headers`` has another."""
    lines = [f"{method} {path} HTTP/1.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in {"Host": "127.0.0.1", **(headers or {})}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def start_serve(plugins_dir: object, active: str, *args: str, env: dict[str, str] | None = None,
                **popen: Any) -> tuple[subprocess.Popen, int]:
    """``workbench serve`` in a subprocess on a free port (``args`` added); returns it and its port, once listening."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--plugins-dir", str(plugins_dir), "--active", active,
         "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, **popen,
    )
    line = process.stdout.readline()
    if not line.startswith("serving on http://"):
        process.kill()
        raise AssertionError(line + process.communicate()[1])
    return process, int(line.rsplit(":", 1)[1])


def stop_serve(process: subprocess.Popen, timeout: float = 30.0) -> str:
    """SIGTERM to a ``start_serve`` process (SIGKILL past ``timeout``); returns what it wrote to stderr."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[1]


def bomb_png(width: int = 12000, height: int = 12000) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (the pixel data is one row, truncated)."""
    small = io.BytesIO()
    Image.new("L", (8, 8)).save(small, format="PNG")
    data = bytearray(small.getvalue())
    # The IHDR chunk: type at bytes 12-15, then width and height as big-endian 32-bit numbers, CRC at 29-32.
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


# A replacement estimator that never answers and swallows its cancellation: the worst case for deadlines.
HUNG_ESTIMATOR = """
    import asyncio
    from workbench.plugins import EstimatorBase, EstimatorReplacementPlugin

    class Hangs(EstimatorBase):
        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    pass  # swallowed: the worst case
        def close(self):
            pass

    class HangPlugin(EstimatorReplacementPlugin):
        estimatorBrokerName = "peopleCountEstimator"
        def createReplacementEstimator(self):
            return Hangs()
"""
