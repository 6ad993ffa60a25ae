"""Benchmark of the embedded server, on loopback only; run by hand (under a minute on a quiet machine, minutes under load):

    .venv/bin/python bench/bench_server.py            # add --quick for a 4x shorter smoke run

Where things run: the servers live in this process (the workbench server on the host's loop through
``start_server``; a bare aiohttp hello-world on an event loop in a thread of its own, the same setting),
and the load comes from a separate client process (aiohttp ``ClientSession`` with a ``TCPConnector``
limit equal to the concurrency), so the server's figures do not include the client's Python work. On a
small machine the two processes still share the cores; every comparison is therefore between figures
measured in the same run, interleaved where the difference to detect is small.

Figures and goals:

1. requests/s, p50 and p99 at 1, 8 and 32 concurrent clients for a bare hello-world, a plugin route
   (``/loop/ping``) and the estimate endpoint (small PNG); goal: plugin route >= 0.9 x bare requests/s
   (the median of the per-round ratios of 5 interleaved rounds).
2. the estimate endpoint's p50 at 1 client against ``wb.estimate`` on the same encoded image, called in
   this process; goal: the endpoint adds <= 2 ms.
3. ``/loop/ping`` latency and server CPU with two monitoring plugins loaded (``request_stats`` and a second
   listener) against none, over HTTP; and the monitoring path alone (request outcomes submitted one per
   loop turn, as requests do, through the server's ``MonitoringDispatcher`` to 0 or 2 listeners), whose extra CPU per
   request is set against the route's server CPU per request: goal <= 5 %. The second figure is the
   cost itself; the first also carries the noise of a shared machine.
4. resident memory (``/proc/self/statm``) over 10,000 requests after a warm-up; goal: no growth.
5. failed requests while a second client switches the estimator back and forth (default <-> a
   replacement plugin) under estimate load; goal: zero.

The estimators are cheap numpy counters (the default: pixels brighter than 250; the replacement plugin:
brighter than 200), so that the figures measure the server and not a model. Besides requests/s, the run
reports the server process's CPU time per request, which depends far less on what else the machine runs.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from _verdict import overall, verdict

REPO = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")

LISTENER = """
    from luna_plugins.base.plugins_meta.base_plugins import BaseEventPlugin

    class PointCounter(BaseEventPlugin):
        \"\"\"The second monitoring listener: counts points per series, as a cheap exporter would.\"\"\"

        eventName = "monitoring_event"

        def __init__(self, app):
            super().__init__(app)
            self.series = {}

        async def handleEvent(self, points, logger):
            for point in points:
                self.series[point.series] = self.series.get(point.series, 0) + 1
"""

REPLACEMENT = """
    import numpy as np
    from luna_plugins.estimator_plugins.estimator_replacement_plugin import EstimatorBase, EstimatorReplacementPlugin
    from lunavl.sdk.estimators.image_estimators.people_count import ImageForPeopleEstimation, PeopleCount
    from lunavl.sdk.image_utils.geometry import Vec2D

    class Estimation:
        \"\"\"What the SDK builds PeopleCount from: a count and points.getPoints().\"\"\"

        def __init__(self, xs, ys):
            self.count = len(xs)
            self.points = self
            self._xy = list(zip(xs.tolist(), ys.tolist()))

        def getPoints(self):
            return [Vec2D(x, y) for x, y in self._xy]

    class BrightSpots(EstimatorBase):
        def close(self):
            pass

        async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
            results = []
            for image in images:
                picture = image.image.crop(image.area) if isinstance(image, ImageForPeopleEstimation) else image
                ys, xs = np.nonzero(picture.asNPArray().max(axis=2) > 200)
                results.append(PeopleCount(Estimation(xs, ys)))
            return results

    class BrightSpotsPlugin(EstimatorReplacementPlugin):
        @property
        def estimatorBrokerName(self):
            return "peopleCountEstimator"

        def createReplacementEstimator(self):
            return BrightSpots()
"""


# -- the client process --------------------------------------------------------------------------------

def client_main(connection: Any) -> None:
    """Serve load jobs sent over ``connection`` until it sends ``None``."""
    while (job := connection.recv()) is not None:
        connection.send(asyncio.run(_load(job)))


async def _load(job: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    concurrency, remaining = job["concurrency"], job["requests"]
    latencies: list[float] = []
    failures: dict[str, int] = {}
    switches = {"done": 0, "failed": 0}
    finished = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                try:
                    async with session.request(job["method"], job["url"], data=job.get("body")) as response:
                        await response.read()
                        status = str(response.status)
                except aiohttp.ClientError as error:
                    status = type(error).__name__
                latencies.append(time.perf_counter() - started)
                if status != "200":
                    failures[status] = failures.get(status, 0) + 1

        async def switcher(url: str, names: list[str], interval: float) -> None:
            # A session of its own: the load's workers keep every connection of theirs busy.
            async with aiohttp.ClientSession() as own:
                while not finished.is_set():
                    name = names[switches["done"] % len(names)]
                    async with own.put(url, json={"name": name}) as response:
                        switches["done" if response.status == 200 else "failed"] += 1
                    await asyncio.sleep(interval)

        switching = asyncio.create_task(switcher(**job["switch"])) if job.get("switch") else None
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        finished.set()
        if switching is not None:
            await switching
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "mean_ms": 1000 * statistics.fmean(latencies),
        "failures": failures,
        "switches": switches,
    }


class Client:
    """The load generator in its own process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=client_main, args=(child,), daemon=True)
        self._process.start()

    def load(self, url: str, requests: int, concurrency: int, method: str = "GET", body: bytes | None = None,
             switch: dict[str, Any] | None = None) -> dict[str, Any]:
        cpu = time.process_time()
        self._connection.send(
            {"url": url, "requests": requests, "concurrency": concurrency, "method": method, "body": body, "switch": switch}
        )
        result = self._connection.recv()
        # This process holds the servers only (the client is the other one): its CPU time is theirs.
        result["cpu_us"] = 1e6 * (time.process_time() - cpu) / requests
        return result

    def close(self) -> None:
        self._connection.send(None)
        self._process.join(10)


# -- the servers ---------------------------------------------------------------------------------------

class BareServer:
    """aiohttp's hello world on an event loop in a thread of its own: the baseline."""

    def __init__(self) -> None:
        from aiohttp import web

        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="pong")

        app = web.Application()
        app.router.add_get("/hello", hello)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bare-server", daemon=True)
        self._thread.start()
        self._runner = web.AppRunner(app, handle_signals=False)

        async def start() -> int:
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            return self._runner.addresses[0][1]

        self.url = f"http://127.0.0.1:{self._call(start())}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        self._call(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


class BrightPixelCounter:
    """The default estimator of the bench: cheap and deterministic, so the figures are the server's own."""

    def close(self) -> None:
        pass

    async def estimateBatch(self, images: list[Any], estimationTargets: Any, asyncEstimate: bool = True) -> list[Any]:
        import numpy as np

        from workbench import CountResult, ImageForPeopleEstimation

        results = []
        for image in images:
            picture = image.image.crop(image.area) if isinstance(image, ImageForPeopleEstimation) else image
            ys, xs = np.nonzero(picture.asNPArray().max(axis=2) > 250)
            results.append(CountResult(len(xs), np.stack([xs, ys], axis=1).astype(float)))
        return results


DEFAULT_ESTIMATORS = {"peopleCountEstimator": lambda config: BrightPixelCounter()}


def plugins_folder(root: Path) -> Path:
    """The project's two example plugins, plus a second listener and a replacement estimator."""
    folder = root / "plugins"
    for name in ("loop_watch", "request_stats"):
        shutil.copytree(REPO / "plugins" / name, folder / name)
    for name, source in (("point_counter", LISTENER), ("bright_spots", REPLACEMENT)):
        (folder / name).mkdir(parents=True)
        (folder / name / "__init__.py").write_text("")
        (folder / name / "plugin.py").write_text(textwrap.dedent(source))
    return folder


def small_png() -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 120, (120, 160, 3), dtype=np.uint8)
    pixels[40:44, 50:54] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def monitoring_cpu_us(wb: Any, requests: int) -> float:
    """Server CPU per request of the monitoring path alone: one request's outcome submitted per loop turn to
    a fresh ``MonitoringDispatcher`` of ``wb`` (as the server's request wrapper does), then flushed; the
    points are built, fanned out and handled by the listeners within this time."""
    from workbench.server._monitoring import MonitoringDispatcher, RequestOutcome

    async def submit_all() -> float:
        dispatcher = MonitoringDispatcher(wb)
        cpu = time.process_time()
        for _ in range(requests):
            dispatcher.submit((RequestOutcome("GET:/loop/ping", 200, "0" * 32, 0.0005, time.time(), None),))
            await asyncio.sleep(0)
        await dispatcher.aclose()
        return 1e6 * (time.process_time() - cpu) / requests

    return asyncio.run_coroutine_threadsafe(submit_all(), wb.loop).result()


# -- the run -------------------------------------------------------------------------------------------

def median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-figure median of several runs of the same load."""
    merged = {name: statistics.median(r[name] for r in results) for name in ("rps", "p50_ms", "p99_ms", "mean_ms", "cpu_us")}
    merged["failures"] = {}
    for result in results:
        for status, count in result["failures"].items():
            merged["failures"][status] = merged["failures"].get(status, 0) + count
    return merged


def row(label: str, result: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    ratio = f"   {result['rps'] / baseline['rps']:.2f} x bare req/s" if baseline else ""
    failed = sum(result["failures"].values())
    return (f"  {label:<26} {result['rps']:6.0f} req/s  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
            f"server CPU {result['cpu_us']:5.0f} us/req{ratio}{f'   FAILED {failed}' if failed else ''}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 4x shorter run, to check the bench itself")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the route-vs-bare figures (more settle the goal on a noisy machine)")
    args = parser.parse_args()
    scale = 4 if args.quick else 1

    from workbench import Workbench
    from workbench.server import start_server

    image = small_png()
    started = time.perf_counter()
    print(f"estimators: numpy bright-pixel counters; image: 160x120 PNG, {len(image)} bytes; cores: {os.cpu_count()}")
    print("client: a separate process; servers: this process (workbench on the host's loop, bare on its own loop)\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = plugins_folder(Path(tmp))
        client = Client()
        bare = BareServer()
        plain = Workbench(folder, ["loop_watch.plugin"], default_estimators=DEFAULT_ESTIMATORS).start()
        monitored = Workbench(
            folder, ["loop_watch.plugin", "request_stats.plugin", "point_counter.plugin", "bright_spots.plugin"],
            default_estimators=DEFAULT_ESTIMATORS,
        ).start()
        try:
            plain_server = start_server(plain)
            monitored_server = start_server(monitored, allow_estimator_switching=True)
            monitored.use("peopleCountEstimator", "default")
            ping, estimate = plain_server.url + "/loop/ping", plain_server.url + "/estimators/peopleCountEstimator/estimate"
            for url, body, method in ((bare.url + "/hello", None, "GET"), (ping, None, "GET"), (estimate, image, "POST")):
                client.load(url, 300 // scale, 8, method, body)  # warm-up: connections, code paths, model

            print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
            print(f"1. throughput and latency, medians of {args.rounds} interleaved rounds (plugin route goal: >= 0.9 x bare)")
            ratios, spreads, verdicts, cpu_pairs = [], [], [], []
            for concurrency, requests in ((1, 2000), (8, 4000), (32, 4000)):
                requests //= scale
                rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "route": []}
                for _ in range(args.rounds):
                    rounds["bare"].append(client.load(bare.url + "/hello", requests // 5, concurrency))
                    rounds["route"].append(client.load(ping, requests // 5, concurrency))
                base, route = median_result(rounds["bare"]), median_result(rounds["route"])
                per_round = [r["rps"] / b["rps"] for r, b in zip(rounds["route"], rounds["bare"])]
                ratios.append(statistics.median(per_round))
                spreads.append((min(per_round), max(per_round)))
                verdicts.append(verdict(per_round, 0.9))
                cpu_pairs.append((base["cpu_us"], route["cpu_us"]))
                estimated = client.load(estimate, requests // 2, concurrency, "POST", image)
                print(f" {concurrency} concurrent client(s):")
                print(row("bare hello-world", base))
                print(row("plugin route /loop/ping", route, base))
                print(row("estimate endpoint", estimated, base))
                print(f"  plugin route / bare per round: {', '.join(f'{r:.2f}' for r in per_round)}")
                extra = [r["cpu_us"] - b["cpu_us"] for r, b in zip(rounds["route"], rounds["bare"])]
                print(f"  route - bare server CPU per round: {', '.join(f'{x:+.0f}' for x in extra)} us/req")
                print(f"  plugin route / bare: {verdicts[-1]}")
            print(f"  -> plugin route req/s vs bare (median, round range): "
                  f"{', '.join(f'{r:.2f} ({lo:.2f}-{hi:.2f})' for r, (lo, hi) in zip(ratios, spreads))} at 1, 8, 32 clients: "
                  f"{overall(verdicts)}")
            print(f"  -> server CPU per request, route vs bare: "
                  f"{', '.join(f'{r:.0f} vs {b:.0f} us (+{r - b:.0f})' for b, r in cpu_pairs)} at 1, 8, 32 clients\n")

            print("2. estimate endpoint vs wb.estimate on the same encoded image (goal: adds <= 2 ms)")
            direct = []
            for _ in range(400 // scale):
                begun = time.perf_counter()
                plain.estimate("peopleCountEstimator", [image])
                direct.append(time.perf_counter() - begun)
            direct_p50 = 1000 * sorted(direct)[len(direct) // 2]
            http = [client.load(estimate, 400 // scale, 1, "POST", image)["p50_ms"] for _ in range(3)]
            http_p50 = statistics.median(http)
            print(f"  wb.estimate p50 {direct_p50:.2f} ms; endpoint p50 {http_p50:.2f} ms (1 client, median of 3 runs)")
            print(f"  -> adds {http_p50 - direct_p50:.2f} ms: {'OK' if http_p50 - direct_p50 <= 2 else 'MISSED'}\n")

            print("3. /loop/ping with two monitoring plugins vs none (5 interleaved rounds each; goal: <= +5 % CPU)")
            monitored_ping = monitored_server.url + "/loop/ping"
            for concurrency, requests in ((1, 1500), (8, 3000)):
                without, with_two = [], []
                for _ in range(5):
                    without.append(client.load(ping, requests // scale, concurrency))
                    with_two.append(client.load(monitored_ping, requests // scale, concurrency))
                print(f" {concurrency} concurrent client(s):")
                for name, unit in (("p50_ms", "ms"), ("mean_ms", "ms"), ("cpu_us", "us CPU/req")):
                    a = statistics.median(r[name] for r in without)
                    b = statistics.median(r[name] for r in with_two)
                    print(f"  {name[:-3]:>4}: none {a:7.3f} {unit}, two listeners {b:7.3f} {unit} -> {100 * (b / a - 1):+5.1f} %")
            stats = monitored.plugins["RequestStatsPlugin"].instance.summary()["GET:/loop/ping"]
            print(f"  request_stats saw {stats['requests']} requests, p50 {stats['p50 ms']:.3f} ms in-server")
            route_cpu = statistics.median(r["cpu_us"] for r in without)
            alone: dict[str, list[float]] = {"none": [], "two": []}
            for _ in range(5):
                alone["none"].append(monitoring_cpu_us(plain, 20_000 // scale))
                alone["two"].append(monitoring_cpu_us(monitored, 20_000 // scale))
            none_us, two_us = statistics.median(alone["none"]), statistics.median(alone["two"])
            share = 100 * (two_us - none_us) / route_cpu
            print(f"  monitoring path alone (5 interleaved rounds): {none_us:.1f} us CPU per request with no listener, "
                  f"{two_us:.1f} with two (rounds {', '.join(f'{x:.1f}' for x in alone['two'])})")
            print(f"  -> two listeners add {two_us - none_us:+.1f} us = {share:+.1f} % of the route's {route_cpu:.0f} us "
                  f"CPU per request: {'OK' if share <= 5 else 'MISSED'}\n")

            print("4. resident memory over 10,000 requests after a warm-up (goal: no growth)")
            monitored_estimate = monitored_server.url + "/estimators/peopleCountEstimator/estimate"
            client.load(monitored_ping, 2000 // scale, 8)
            client.load(monitored_estimate, 500 // scale, 8, "POST", image)
            samples = [rss_mb()]
            for _ in range(5):
                client.load(monitored_ping, 1600 // scale, 8)
                client.load(monitored_estimate, 400 // scale, 8, "POST", image)
                samples.append(rss_mb())
            print(f"  RSS after warm-up, then every 2,000 requests: {', '.join(f'{s:.1f}' for s in samples)} MiB")
            print(f"  -> growth {samples[-1] - samples[0]:+.1f} MiB over {10_000 // scale} requests\n")

            print("5. estimate load while a second client switches default <-> BrightSpotsPlugin (goal: 0 failed)")
            switched = client.load(
                monitored_estimate, 3000 // scale, 8, "POST", image,
                switch={"url": monitored_server.url + "/estimators/peopleCountEstimator",
                        "names": ["BrightSpotsPlugin", "default"], "interval": 0.05},
            )
            failed = sum(switched["failures"].values())
            print(row("estimate while switching", switched))
            print(f"  -> {switched['switches']['done']} switches ({switched['switches']['failed']} refused), "
                  f"{failed} failed requests {switched['failures'] or ''}: {'OK' if failed == 0 else 'MISSED'}")
            with urllib.request.urlopen(monitored_server.url + "/health") as response:
                monitoring = {name: s["dropped"] for name, s in json.load(response)["monitoring"].items()}
            print(f"  monitoring points dropped per listener over the run: {monitoring}")
        finally:
            monitored.close()
            plain.close()
            bare.close()
            client.close()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; bench took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
