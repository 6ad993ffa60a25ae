"""Host start/close time with the project's three example plugins, and `wb.emit` overhead per point.

Run by hand: `.venv/bin/python bench/bench_host.py [--repeats 10] [--points 1000]`. Figures are ratios
against baselines measured in the same run, so a busy machine shifts both sides alike.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from workbench import MonitoringPoint, Workbench

PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
EXAMPLES = ["loop_watch.plugin", "request_stats.plugin", "people_count_onnx.plugin"]


def time_start_close(repeats: int) -> tuple[list[float], list[float]]:
    starts, closes = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        wb = Workbench(PLUGINS_DIR, EXAMPLES).start()
        started = time.perf_counter()
        failed = wb.plugins.failed
        wb.close()
        closes.append(time.perf_counter() - started)
        starts.append(started - began)
        if failed:
            raise SystemExit(f"plugins failed to load: {[(r.name, r.error) for r in failed]}")
    return starts, closes


def time_bare_loop_thread(repeats: int) -> list[float]:
    """Baseline: what starting and stopping an event loop in a thread costs by itself."""
    from workbench.host._loop import LoopThread

    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        loop = LoopThread()
        loop.start()
        loop.stop()
        times.append(time.perf_counter() - began)
    return times


def time_emit(n_points: int, rounds: int) -> tuple[float, float, float]:
    """Seconds per point: direct ``handleEvent`` on the plugin, ``await wb.aemit``, sync ``wb.emit``."""
    points = [
        MonitoringPoint("request", tags={"route": "GET:/x", "status_code": 200}, fields={"execution_time": 0.001})
        for _ in range(n_points)
    ]
    with Workbench(PLUGINS_DIR, ["request_stats.plugin"]) as wb:
        plugin = wb.plugins["RequestStatsPlugin"].instance

        async def direct() -> float:
            began = time.perf_counter()
            for _ in range(rounds):
                await plugin.handleEvent(points, wb.ctx.logger)
            return time.perf_counter() - began

        async def through_host() -> float:
            began = time.perf_counter()
            for _ in range(rounds):
                await wb.aemit("monitoring_event", points)
            return time.perf_counter() - began

        direct_s = asyncio.run_coroutine_threadsafe(direct(), wb.loop).result()
        async_s = asyncio.run(through_host())
        began = time.perf_counter()
        for _ in range(rounds):
            wb.emit("monitoring_event", points)
        sync_s = time.perf_counter() - began
    per_point = n_points * rounds
    return direct_s / per_point, async_s / per_point, sync_s / per_point


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--points", type=int, default=1000, help="points per emitted batch")
    parser.add_argument("--rounds", type=int, default=200, help="batches emitted")
    args = parser.parse_args()

    time_start_close(1)  # warm-up: imports, model file in the page cache
    starts, closes = time_start_close(args.repeats)
    bare = time_bare_loop_thread(args.repeats)
    print(f"host with {len(EXAMPLES)} example plugins ({', '.join(EXAMPLES)}), {args.repeats} runs, median:")
    print(f"  start  {statistics.median(starts) * 1e3:8.1f} ms")
    print(f"  close  {statistics.median(closes) * 1e3:8.1f} ms")
    print(f"  bare loop thread start+stop (baseline) {statistics.median(bare) * 1e3:.2f} ms")

    for points in (1, args.points):
        rounds = args.rounds * (10 if points == 1 else 1)
        direct, via_async, via_sync = time_emit(points, rounds)
        print(f"emit, batches of {points} point(s), {rounds} batches:")
        print(f"  direct handleEvent  {direct * 1e6:8.2f} us/point (baseline)")
        print(f"  await wb.aemit      {via_async * 1e6:8.2f} us/point  x{via_async / direct:.2f}  (+{(via_async - direct) * 1e6:.2f} us)")
        print(f"  wb.emit (sync)      {via_sync * 1e6:8.2f} us/point  x{via_sync / direct:.2f}  (+{(via_sync - direct) * 1e6:.2f} us)")


if __name__ == "__main__":
    main()
