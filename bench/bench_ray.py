"""``compare`` on 64 images: the local engine against ``engine="ray"`` with 1 and 2 actors, interleaved.

Ray is started once before timing (``ray.init``, a one-machine Ray with ``--cpus`` CPUs); each Ray run still
pays its actors' start (a process and a Workbench host each), which is reported apart as "start". Ratios are
against the local run measured in the same round.

    .venv/bin/python bench/bench_ray.py [--images 64] [--rounds 2] [--cpus 2] [--address ADDR]

On a 2-core machine two actors share the cores the local run's ONNX Runtime already uses, so the ratio shows
the overhead of the Ray path rather than a speed-up; docs/scaling.md projects a real cluster from it.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workbench import Workbench
from workbench.research import compare, make_synthetic_dataset
from workbench.research._ray_runner import RayEstimatorPool, ensure_ray
from workbench.research._runners import HostSpec

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--address")
    args = parser.parse_args()
    began = time.perf_counter()
    ensure_ray(args.address, num_cpus=args.cpus)
    print(f"ray.init: {time.perf_counter() - began:.1f} s (once per process)")
    with tempfile.TemporaryDirectory() as tmp:
        data = make_synthetic_dataset(Path(tmp) / "data", n=args.images, size=(1024, 768))
        (Path(tmp) / "plugins").mkdir()
        times: dict[str, list[float]] = {"local": [], "ray, 1 actor": [], "ray, 2 actors": []}
        starts: dict[int, list[float]] = {1: [], 2: []}
        with Workbench(Path(tmp) / "plugins", []) as wb:
            compare(wb, data[:2], ["default"], progress=False)
            for _ in range(args.rounds):
                for label in times:
                    actors = 0 if label == "local" else int(label.split()[1])
                    if actors:
                        t = time.perf_counter()
                        with RayEstimatorPool(HostSpec.from_host(wb), "peopleCountEstimator", "default", actors=actors):
                            starts[actors].append(time.perf_counter() - t)
                    t = time.perf_counter()
                    options = {"engine": "ray", "actors": actors, "ray_address": args.address} if actors else {}
                    compare(wb, data, ["default"], progress=False, **options)
                    times[label].append(time.perf_counter() - t)
    local = statistics.median(times["local"])
    print(f"{args.images} images of 1024x768, default estimator, median of {args.rounds} interleaved rounds")
    for label, values in times.items():
        median = statistics.median(values)
        start = f", of which actor start ~{statistics.median(starts[int(label.split()[1])]):.1f} s" if label != "local" else ""
        print(f"  {label:14s} {median:6.2f} s  {args.images / median:5.1f} img/s  x{local / median:.2f} of local{start}")


if __name__ == "__main__":
    main()
