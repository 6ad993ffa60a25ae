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
request and go away (the server cancels it). Round A is good requests only; round B the mixed load. Round C
mixes good requests with decoding bombs (issue 31, findings 3 and 4): a 34-byte WebP of 8000x7900 (over a
gigabyte to decode: 413 from its header), a 57 KB JPEG of 4 Mpx with 2,000 scans (413: over MAX_JPEG_SCANS),
and, on two more connections, a PNG of 7000x7000 that is within the budgets (about 600 MB to decode: 200, decoded
off the loop while the rest is served). Round D is an overload: ``--overload`` clients at once each send a
46 KB JPEG to an estimator that takes 50 ms a batch; those past ``max_in_flight`` must get 503 with
``Retry-After`` at once, the rest 200. The rounds are interleaved ``--rounds`` times, and a client polls
``GET /health`` on its own connection throughout.

Reported: wrong statuses (must be 0), connection resets or closes seen by good requests (must be 0), good
requests/s of B and C relative to A, D's 200s and 503s with their times, the slowest ``/health`` (must be
under 1 s), and the resident memory of the process before, at its peak (must be under 1.5 GB), and after.

    .venv/bin/python bench/bench_hostile.py [--connections 16] [--requests 40] [--rounds 3] [--overload 80]
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import logging
import socket
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' helpers: their estimator and raw requests

from helpers.budget_plugins import slow_estimator  # noqa: E402
from helpers.decode_bombs import flat_png, scan_bomb_jpeg, tiny_webp  # noqa: E402
from helpers.fake_estimators import default_factories  # noqa: E402
from helpers.hostile import bomb_png, read_response, request as _request  # noqa: E402

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


def _photo_46kb() -> bytes:
    """A JPEG of about 46 KB (the size the issue's overload sent): 640x480 of smooth noise."""
    out = io.BytesIO()
    Image.effect_noise((640, 480), 24).convert("RGB").save(out, format="JPEG", quality=60)
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
BOMBS = [
    ("webp bomb", _request("POST", ESTIMATE, tiny_webp(8000, 7900)), 413),
    ("scan bomb", _request("POST", ESTIMATE, scan_bomb_jpeg(2048, 2048, 2000)), 413),
]
# Decoded in full: sent by two connections per round only (about a second of decoding each).
HEAVY = ("7000x7000 png", _request("POST", ESTIMATE + "?detect_area=0,0,8,8", flat_png(7000, 7000)), 200)
OVERLOAD = ("46 KB jpeg", _request("POST", ESTIMATE, _photo_46kb()), 200)


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


async def _load(port: int, connections: int, requests: int, hostile: list | None) -> tuple[Tally, float]:
    """``connections`` clients of ``requests`` each: good ones, every other one from ``hostile`` when given."""
    tally = Tally()
    plans = []
    for c in range(connections):
        plan = []
        for i in range(requests):
            if hostile and i % 2 == 1:
                name, raw, expected = hostile[(c + i) % len(hostile)]
                plan.append((name, raw, expected, False))
            else:
                name, raw, expected = GOOD[(c + i) % len(GOOD)]
                plan.append((name, raw, expected, True))
        plans.append(plan)
    started = time.perf_counter()
    jobs = [_client(port, plan, tally) for plan in plans]
    if hostile is HOSTILE:
        jobs += [_closing_hostile(port, tally) for _ in range(connections)]
    # Two more connections send the heavy PNG meanwhile; the good requests' time does not wait for them.
    heavy = asyncio.gather(*(_client(port, [(*HEAVY, False)], tally) for _ in range(2 if hostile is BOMBS else 0)))
    await asyncio.wait_for(asyncio.gather(*jobs), timeout=120)
    seconds = time.perf_counter() - started
    await asyncio.wait_for(heavy, timeout=120)
    return tally, seconds


@dataclass
class Overload:
    ok: list[float] = field(default_factory=list)  # seconds to each 200
    refused: list[float] = field(default_factory=list)  # seconds to each 503
    wrong: list[str] = field(default_factory=list)
    resets: int = 0


async def _overload(port: int, clients: int, overload: Overload) -> None:
    """``clients`` connections open first, then each sends one estimate at the same moment."""
    name, raw, _ = OVERLOAD
    opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(clients)]
    go = asyncio.Event()

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await go.wait()
        started = time.perf_counter()
        try:
            status, headers = await _exchange(reader, writer, raw)
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            overload.resets += 1
            overload.wrong.append(f"{name}: connection lost ({type(error).__name__})")
            return
        finally:
            writer.close()
        seconds = time.perf_counter() - started
        if status == 200:
            overload.ok.append(seconds)
        elif status == 503 and headers.get("retry-after"):
            overload.refused.append(seconds)
        else:
            overload.wrong.append(f"{name}: {status} (expected 200, or 503 with Retry-After)")

    jobs = asyncio.gather(*(one(reader, writer) for reader, writer in opened))
    go.set()
    await asyncio.wait_for(jobs, timeout=120)


class _EveryFew:
    """Calls ``sample()`` every ``interval`` seconds in a thread of its own while the ``with`` block runs."""

    interval = 0.05

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class _HealthWatch(_EveryFew):
    """Polls ``GET /health`` on a connection of its own and keeps the slowest answer."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.slowest = 0.0
        self.polls = 0
        self.failures: list[str] = []
        self._sock: socket.socket | None = None

    def sample(self) -> None:
        started = time.perf_counter()
        try:
            self._sock = self._sock or socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self._sock.sendall(_request("GET", "/health"))
            status, _, _ = read_response(self._sock)
        except OSError as error:
            self.failures.append(f"{type(error).__name__}: {error}")
            self._sock = None
            return
        self.slowest = max(self.slowest, time.perf_counter() - started)
        self.polls += 1
        if status != 200:
            self.failures.append(f"status {status}")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class _PeakRss(_EveryFew):
    interval = 0.02

    def __init__(self) -> None:
        super().__init__()
        self.peak = _rss_mb()

    def sample(self) -> None:
        self.peak = max(self.peak, _rss_mb())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=40, help="requests per connection per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--overload", type=int, default=80, help="clients sending one estimate at once in round D")
    args = parser.parse_args()
    # Every hostile request is logged by design; the figures below are the point here.
    for name in ("aiohttp", "workbench"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as folder:
        plugins = Path(folder)
        (plugins / "routes").mkdir()
        (plugins / "routes" / "__init__.py").touch()
        (plugins / "routes" / "plugin.py").write_text(textwrap.dedent(PLUGIN))
        # 50 ms a batch, as a model's inference in threads of its own would take, off the loop.
        (plugins / "inference").mkdir()
        (plugins / "inference" / "__init__.py").touch()
        (plugins / "inference" / "plugin.py").write_text(textwrap.dedent(slow_estimator(0.05)))
        with Workbench(plugins, ["routes.plugin", "inference.plugin"], default_estimators=default_factories()) as wb:
            handle = start_server(wb, host="127.0.0.1", port=0)
            rss_started = _rss_mb()
            asyncio.run(_load(handle.port, 2, 5, hostile=HOSTILE))  # warm-up: imports, first connections
            asyncio.run(_load(handle.port, 2, 5, hostile=BOMBS))
            rss_before = _rss_mb()
            rounds = {"A good only": None, "B mixed": HOSTILE, "C bombs": BOMBS}
            good_rates: dict[str, list[float]] = {label: [] for label in rounds}
            totals = Tally()
            overload = Overload()
            with _PeakRss() as peak, _HealthWatch(handle.port) as health:
                for _ in range(args.rounds):
                    for label, hostile in rounds.items():
                        tally, seconds = asyncio.run(_load(handle.port, args.connections, args.requests, hostile))
                        good_rates[label].append(tally.good / seconds)
                        totals.good += tally.good
                        totals.hostile += tally.hostile
                        totals.wrong += tally.wrong
                        totals.good_resets += tally.good_resets
                        totals.missing_request_id += tally.missing_request_id
                    wb.use("peopleCountEstimator", "SlowPlugin")
                    asyncio.run(_overload(handle.port, args.overload, overload))
                    wb.use("peopleCountEstimator", "default")
            rss_after = _rss_mb()
            stalls = len(wb.loop_stalls)
    a = statistics.median(good_rates["A good only"])
    b = statistics.median(good_rates["B mixed"])
    c = statistics.median(good_rates["C bombs"])
    wrong = totals.wrong + overload.wrong + [f"/health: {failure}" for failure in health.failures]
    print(f"requests: {totals.good} good, {totals.hostile} hostile over {args.rounds} rounds x {args.connections} connections; "
          f"{len(overload.ok) + len(overload.refused) + len(overload.wrong)} in overloads of {args.overload}")
    print(f"wrong statuses: {len(wrong)}" + (f"  e.g. {wrong[:5]}" if wrong else ""))
    print(f"connection resets on good requests: {totals.good_resets + overload.resets}")
    print(f"responses without X-Request-Id: {totals.missing_request_id}")
    print(f"good requests/s: A (good only) {a:.0f}, B (mixed) {b:.0f}, C (bombs) {c:.0f}; B/A {b / a:.2f}, C/A {c / a:.2f} "
          "(B and C also serve their hostile half)")
    if overload.ok and overload.refused:
        print(f"overload D ({args.overload} at once, 50 ms a batch): {len(overload.ok)} answered 200 (slowest "
              f"{max(overload.ok):.2f} s), {len(overload.refused)} answered 503 with Retry-After (median "
              f"{statistics.median(overload.refused) * 1000:.0f} ms, slowest {max(overload.refused) * 1000:.0f} ms)")
    print(f"/health: {health.polls} polls throughout, slowest {health.slowest * 1000:.0f} ms (goal: under 1000 ms)")
    print(f"resident memory MB: serving {rss_started:.0f}, after the warm-up {rss_before:.0f}, peak {peak.peak:.0f} (goal: under 1500), after {rss_after:.0f} "
          f"(peak - before {peak.peak - rss_before:+.0f})")
    print(f"loop stalls reported by the watchdog: {stalls}")
    failed = (wrong or totals.good_resets or overload.resets or totals.missing_request_id or peak.peak >= 1500
              or health.slowest >= 1.0 or not overload.refused)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
