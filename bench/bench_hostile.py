"""A bounded mixed load of good and hostile requests against ``workbench serve``'s server, on 127.0.0.1 only.

The server runs in this process (``start_server`` on a host with a small plugin set: an echo route, a route
answering a CR/LF header, and the default estimator replaced by a bright-pixel counter, so the figures are
about the server and not the model). Clients keep connections alive and interleave, on the same
connections, good requests (``GET /health``, ``POST`` a small JPEG to the estimate endpoint, a plugin echo)
with hostile ones that must be answered on a connection that stays usable:

- a body that is not in its ``Content-Encoding: gzip`` (400), JSON nested 100 000 deep (400),
- a 69-byte PNG claiming 12000 x 12000 pixels (413, refused from its header),
- a multipart part header over 8 KiB (400), a plugin answer with CR/LF in a header (500), an unknown path (404).

Other connections, which aiohttp closes by design, carry a header line over 8 KiB (400), or send half a
request and go away (the server cancels it). Round A is good requests only; round B the mixed load; the two
are interleaved ``--rounds`` times. Reported: wrong statuses (must be 0), connection resets or closes seen by
good requests (must be 0), throughput of good requests in B relative to A, and the resident memory of the
process before, at its peak, and after (must stay bounded: the bomb is never decoded).

    .venv/bin/python bench/bench_hostile.py [--connections 16] [--requests 40] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import logging
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' helpers: their estimator and raw requests

from helpers.fake_estimators import default_factories  # noqa: E402
from helpers.hostile import bomb_png, request as _request  # noqa: E402

from workbench import Workbench  # noqa: E402
from workbench.server import start_server  # noqa: E402

PLUGIN = """
    import json

    from workbench.plugins import BaseBackgroundPlugin, pluginHTTPResponse

    async def echo(request):
        answer = json.dumps({"n": len(request.body), "json": request.json is not None})
        return pluginHTTPResponse(200, answer, headers={"Content-Type": "application/json"})

    async def crlf(request):
        return pluginHTTPResponse(200, "x", headers={"X-Evil": "a\\r\\nSet-Cookie: stolen=1"})

    class Routes(BaseBackgroundPlugin):
        async def initialize(self):
            self.addRoute("/echo", echo, methods=["post"])
            self.addRoute("/crlf", crlf, methods=["get"])
"""

ESTIMATE = "/estimators/peopleCountEstimator/estimate"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 120), (20, 20, 20)).save(out, format="JPEG")
    return out.getvalue()


def _multipart_with_long_part_header() -> tuple[bytes, dict[str, str]]:
    body = (
        b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nX-Pad: ' + b"p" * 9000
        + b"\r\n\r\n" + _jpeg() + b"\r\n--B--\r\n"
    )
    return body, {"Content-Type": "multipart/form-data; boundary=B"}


# (name, raw request, expected status, good?)
GOOD = [
    ("health", _request("GET", "/health"), 200),
    ("estimate", _request("POST", ESTIMATE, _jpeg()), 200),
    ("echo", _request("POST", "/echo", gzip.compress(b'{"a": 1}'), {"Content-Encoding": "gzip", "Content-Type": "application/json"}), 200),
]
_MULTIPART, _MULTIPART_HEADERS = _multipart_with_long_part_header()
HOSTILE = [
    ("bad gzip", _request("POST", "/echo", b"not gzip at all", {"Content-Encoding": "gzip"}), 400),
    ("nested json", _request("POST", "/echo", b"[" * 100_000 + b"]" * 100_000, {"Content-Type": "application/json"}), 400),
    ("bomb", _request("POST", ESTIMATE, bomb_png()), 413),
    ("long part header", _request("POST", ESTIMATE, _MULTIPART, _MULTIPART_HEADERS), 400),
    ("crlf answer", _request("GET", "/crlf"), 500),
    ("unknown path", _request("GET", "/nowhere"), 404),
]


@dataclass
class Tally:
    good: int = 0
    hostile: int = 0
    wrong: list[str] = field(default_factory=list)
    good_resets: int = 0
    missing_request_id: int = 0


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> tuple[int, dict[str, str]]:
    writer.write(raw)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers


async def _client(port: int, plan: list[tuple[str, bytes, int, bool]], tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for name, raw, expected, good in plan:
            try:
                status, headers = await _exchange(reader, writer, raw)
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                if good:
                    tally.good_resets += 1
                tally.wrong.append(f"{name}: connection lost ({type(error).__name__})")
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if status != expected:
                tally.wrong.append(f"{name}: {status} (expected {expected})")
            if "x-request-id" not in headers:
                tally.missing_request_id += 1
            if good:
                tally.good += 1
            else:
                tally.hostile += 1
    finally:
        writer.close()


async def _closing_hostile(port: int, tally: Tally) -> None:
    """Requests aiohttp answers by closing the connection: too-long header; half a request, then gone."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    status, headers = await _exchange(reader, writer, _request("GET", "/health", headers={"X-Long": "v" * 10_000}))
    if status != 400:
        tally.wrong.append(f"long header: {status} (expected 400)")
    if "x-request-id" not in headers:
        tally.missing_request_id += 1
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request("POST", ESTIMATE, _jpeg())[:-200])  # half the body, then the client leaves
    await writer.drain()
    writer.close()
    tally.hostile += 2


async def _load(port: int, connections: int, requests: int, hostile: bool) -> tuple[Tally, float]:
    tally = Tally()
    plans = []
    for c in range(connections):
        plan = []
        for i in range(requests):
            if hostile and i % 2 == 1:
                name, raw, expected = HOSTILE[(c + i) % len(HOSTILE)]
                plan.append((name, raw, expected, False))
            else:
                name, raw, expected = GOOD[(c + i) % len(GOOD)]
                plan.append((name, raw, expected, True))
        plans.append(plan)
    started = time.perf_counter()
    jobs = [_client(port, plan, tally) for plan in plans]
    if hostile:
        jobs += [_closing_hostile(port, tally) for _ in range(connections)]
    await asyncio.wait_for(asyncio.gather(*jobs), timeout=120)
    return tally, time.perf_counter() - started


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _PeakRss:
    def __init__(self) -> None:
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> "_PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="requests per connection per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    # Every hostile request is logged by design; the figures below are the point here.
    for name in ("aiohttp", "workbench"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as folder:
        plugins = Path(folder)
        (plugins / "routes").mkdir()
        (plugins / "routes" / "__init__.py").touch()
        (plugins / "routes" / "plugin.py").write_text(textwrap.dedent(PLUGIN))
        with Workbench(plugins, ["routes.plugin"], default_estimators=default_factories()) as wb:
            handle = start_server(wb, host="127.0.0.1", port=0)
            asyncio.run(_load(handle.port, 2, 5, hostile=True))  # warm-up: imports, first connections
            rss_before = _rss_mb()
            good_rates: dict[str, list[float]] = {"A good only": [], "B mixed": []}
            totals = Tally()
            with _PeakRss() as peak:
                for _ in range(args.rounds):
                    for label, hostile in (("A good only", False), ("B mixed", True)):
                        tally, seconds = asyncio.run(_load(handle.port, args.connections, args.requests, hostile))
                        good_rates[label].append(tally.good / seconds)
                        totals.good += tally.good
                        totals.hostile += tally.hostile
                        totals.wrong += tally.wrong
                        totals.good_resets += tally.good_resets
                        totals.missing_request_id += tally.missing_request_id
            rss_after = _rss_mb()
            stalls = len(wb.loop_stalls)
    a = statistics.median(good_rates["A good only"])
    b = statistics.median(good_rates["B mixed"])
    print(f"requests: {totals.good} good, {totals.hostile} hostile over {args.rounds} rounds x {args.connections} connections")
    print(f"wrong statuses: {len(totals.wrong)}" + (f"  e.g. {totals.wrong[:5]}" if totals.wrong else ""))
    print(f"connection resets on good requests: {totals.good_resets}")
    print(f"responses without X-Request-Id: {totals.missing_request_id}")
    print(f"good requests/s: A (good only) {a:.0f}, B (mixed) {b:.0f}; B/A {b / a:.2f} (B also serves the hostile half)")
    print(f"resident memory MB: before {rss_before:.0f}, peak {peak.peak:.0f}, after {rss_after:.0f} (peak - before {peak.peak - rss_before:+.0f})")
    print(f"loop stalls reported by the watchdog: {stalls}")
    failed = totals.wrong or totals.good_resets or totals.missing_request_id or peak.peak - rss_before > 500
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
