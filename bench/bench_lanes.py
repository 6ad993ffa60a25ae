"""Where a ``wb.estimate`` call's time goes on the CPU: the estimator's lanes, run by run, and who does the work
around the runs (a helper thread, or each lane itself).

``OnnxDensityEstimator`` on the CPU spreads a call's runs over two one-thread lanes. This bench times every
``session.run`` of each lane and reads each thread's CPU time, over calls of the same decoded images, for two
ways of doing the work around the runs (stacking the next input, turning maps into points and results):

(lane)   each lane does it itself, between its runs: the default where the lanes take every CPU (2 cores);
(helper) a helper thread per lane does it while the lane runs: the default where a CPU is to spare.

Both ways run on one estimator, its work-around executor swapped between calls, so that they share the same
sessions and memory (two estimators differ by about 1 % on their own); their calls are interleaved. Printed
per way: images/s, the share of the call the lanes spend in ``session.run`` ("busy"), each lane's mean run,
how far apart the two lanes end, the time between a lane's runs, and CPU per image by thread (lanes, helpers,
the rest). Then the per-call images/s ratio lane/helper with its median's 90 % bootstrap interval.

    .venv/bin/python bench/bench_lanes.py [--model M.onnx] [--calls 20] [--threads 2] [--numpy]

Images: crowd-mini's 38 (../shared/data) when present, else 16 random 1024x768 images. Linux only (thread CPU
times from /proc). Run by hand; other processes' load moves the figures.
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import workbench.estimators.onnx_density as onnx_density
from workbench import VLImage
from workbench.estimators import OnnxDensityEstimator

from _verdict import verdict
from bench_estimation import load_average, load_images

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
RANDOM_IMAGES = 16  # when crowd-mini is absent


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of each thread of this process, by native thread id."""
    seconds = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        seconds[int(tid)] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


class TimedEstimator:
    """An ``OnnxDensityEstimator`` whose ``session.run`` spans are recorded by thread, call by call, and whose
    work around the runs can be done by helper threads or by the lanes."""

    def __init__(self, model: Path, threads: int, graph_preprocessing: bool) -> None:
        self.estimator = OnnxDensityEstimator(model, intra_op_threads=threads, graph_preprocessing=graph_preprocessing)
        self.ways = {
            "lane": onnx_density._InTheLane(),
            "helper": ThreadPoolExecutor(self.estimator.parallel_runs, thread_name_prefix="bench-lanes-helper"),
        }
        self.spans: list[tuple[str, float, float]] = []
        infer = self.estimator._infer

        def timed_infer(*args: Any) -> np.ndarray:
            began = time.perf_counter()
            try:
                return infer(*args)
            finally:
                self.spans.append((threading.current_thread().name, began, time.perf_counter()))

        self.estimator._infer = timed_infer  # type: ignore[method-assign]

    def call(self, images: list[VLImage], way: str) -> dict[str, Any]:
        """One call over ``images`` done ``way``: its wall time, lane timeline and CPU by kind of thread."""
        self.estimator._helper = self.ways[way]
        self.spans.clear()
        cpu_before = thread_cpu_seconds()
        began = time.perf_counter()
        self.estimator.estimate(images)
        ended = time.perf_counter()
        cpu_after = thread_cpu_seconds()
        lanes: dict[str, list[tuple[float, float]]] = {}
        for name, start, end in self.spans:
            lanes.setdefault(name, []).append((start, end))
        names = {thread.native_id: thread.name for thread in threading.enumerate()}
        cpu = {"lanes": 0.0, "helpers": 0.0, "rest": 0.0}
        for tid, seconds in cpu_after.items():
            spent = seconds - cpu_before.get(tid, 0.0)
            name = names.get(tid, "")
            kind = "helpers" if name.startswith("bench-lanes-helper") else "lanes" if name in lanes else "rest"
            cpu[kind] += spent
        ends = [max(end for _, end in spans) for spans in lanes.values()]
        between = [
            sum(b[0] - a[1] for a, b in zip(sorted(spans), sorted(spans)[1:])) / max(1, len(spans) - 1)
            for spans in lanes.values()
        ]
        wall = ended - began
        return {
            "wall": wall,
            "busy": sum(end - start for _, start, end in self.spans) / (len(lanes) * wall),
            "runs": sorted(statistics.mean(end - start for start, end in spans) for spans in lanes.values()),
            "end_gap": max(ends) - min(ends),
            "between": statistics.mean(between),
            "cpu": cpu,
        }

    def close(self) -> None:
        self.ways["helper"].shutdown()
        self.estimator.close()


def summary(label: str, calls: list[dict[str, Any]], n_images: int) -> str:
    def ms(values: list[float]) -> str:
        return f"{1e3 * statistics.median(values):.1f}"

    cpu = {kind: statistics.median(c["cpu"][kind] for c in calls) / n_images for kind in ("lanes", "helpers", "rest")}
    return (
        f"  ({label:6s}) {n_images / statistics.median(c['wall'] for c in calls):6.2f} images/s   busy "
        f"{100 * statistics.median(c['busy'] for c in calls):4.1f} %   runs {ms([c['runs'][0] for c in calls])} / "
        f"{ms([c['runs'][-1] for c in calls])} ms (faster / slower lane)   lanes end "
        f"{ms([c['end_gap'] for c in calls])} ms apart   {ms([c['between'] for c in calls])} ms between runs   "
        f"CPU per image: lanes {1e3 * cpu['lanes']:.1f}, helpers {1e3 * cpu['helpers']:.2f}, "
        f"rest {1e3 * cpu['rest']:.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "wbcount.onnx")
    parser.add_argument("--calls", type=int, default=20, help="calls of each way, interleaved")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads shared by the two lanes")
    parser.add_argument("--numpy", action="store_true", help="numpy preprocessing (in the work around the runs)")
    args = parser.parse_args()

    images, _ = load_images(RANDOM_IMAGES, "all")
    timed = TimedEstimator(args.model, args.threads, graph_preprocessing=not args.numpy)
    try:
        for way in timed.ways:
            timed.call(images, way)  # warm-up: sessions, caches, threads
        print(f"model {args.model.name} ({timed.estimator.preprocessing} preprocessing), {len(images)} images, "
              f"{args.threads} threads in two lanes, "
              f"{args.calls} interleaved calls of each way; load average {load_average()}")
        calls: dict[str, list[dict[str, Any]]] = {way: [] for way in timed.ways}
        for index in range(args.calls):
            for way in (("lane", "helper") if index % 2 == 0 else ("helper", "lane")):
                calls[way].append(timed.call(images, way))
        for way in timed.ways:
            print(summary(way, calls[way], len(images)))
        ratios = [helper["wall"] / lane["wall"] for lane, helper in zip(calls["lane"], calls["helper"])]
        print(f"  images/s (lane)/(helper) per call: median {statistics.median(ratios):.3f} "
              f"(calls {min(ratios):.3f} to {max(ratios):.3f}); {verdict(ratios, 1.0)}")
        print(f"load average after: {load_average()}")
    finally:
        timed.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
