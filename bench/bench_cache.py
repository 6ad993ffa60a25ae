"""A cached re-run of ``compare`` against a cold run: 64 images, the default estimator, interleaved rounds.

Each round runs (a) cold: a fresh, empty cache file, every image computed and stored; (b) warm: the same
comparison again on that file, every result a cache hit (hashing the images and reading SQLite is all that is
left); (c) no cache at all, to show what storing costs. Ratios are taken against (a) within the same run.

    .venv/bin/python bench/bench_cache.py [--images 64] [--rounds 3]

The images are the project's synthetic 1024x768 drawings (the speed, not the count, is measured).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from workbench import Workbench
from workbench.research import compare, make_synthetic_dataset

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_synthetic_dataset(Path(tmp) / "data", n=args.images, size=(1024, 768))
        (Path(tmp) / "plugins").mkdir()
        times: dict[str, list[float]] = {"cold": [], "warm": [], "no cache": []}
        with Workbench(Path(tmp) / "plugins", []) as wb:
            compare(wb, data[:2], ["default"], progress=False)  # warm-up: model load, first-run allocations
            for round_ in range(args.rounds):
                cache = Path(tmp) / f"cache{round_}.sqlite"
                for label, options in (("cold", {"cache": cache}), ("warm", {"cache": cache}), ("no cache", {})):
                    began = time.perf_counter()
                    report = compare(wb, data, ["default"], progress=False, **options)
                    times[label].append(time.perf_counter() - began)
                    if label == "warm":
                        assert report.per_image["cached"].all()
    cold = statistics.median(times["cold"])
    print(f"{args.images} images, median of {args.rounds} interleaved rounds")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:9s} {median:7.2f} s  ({median / cold:5.3f} of cold, x{cold / median:.1f} faster)")


if __name__ == "__main__":
    main()
