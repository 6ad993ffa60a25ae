"""JPEG decoding, libjpeg-turbo straight into the pixels (simplejpeg) against Pillow, and what it changes in the
calls a user waits for: ``wb.estimate`` on image files and ``compare``.

Both ways run in one process, switched between interleaved rounds (``workbench.sdk._decode.simplejpeg`` set to
the module or to ``None``, which is what a platform without simplejpeg's wheel gets):

1. decoding alone: every photo through ``load_image`` in calls of 8 on two threads, as ``wb.estimate`` decodes
   a call's files, the previous call's images freed as the next are decoded; CPU per photo and wall time;
2. ``wb.estimate`` on the same files in calls of 8, and ``compare(wb, dataset, ["default"], batch_size=8)``,
   with the default estimator on ``--model``; images/s, and the ratio of each round's simplejpeg figure to
   its Pillow figure with the median's 90 % bootstrap interval; ``wb.estimate`` on the decoded images is
   timed in the same rounds, so that (d)/(c) as ``bench_estimation.py`` reads it is printed for both ways.

    .venv/bin/python bench/bench_decode.py [--model M.onnx] [--rounds 8]

Images: crowd-mini's 38 photos (../shared/data); without them, 38 random-but-smooth 1024x768 JPEGs written to a
temporary folder (no ``compare`` then: it needs the annotations). Run by hand; other processes' load moves the
figures.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

import workbench.sdk._decode as decode
from workbench import Workbench
from workbench.images import load_image
from workbench.research import compare, load_dataset

from _verdict import verdict
from bench_estimation import load_average

REPO = Path(__file__).resolve().parents[1]
CROWD_MINI = REPO.parent / "shared" / "data" / "crowd-mini"
CALL = 8
WAYS = ("simplejpeg", "pillow")


def photo_files(folder: Path) -> list[Path]:
    """crowd-mini's photos, else 38 smooth random JPEGs written into ``folder``."""
    if CROWD_MINI.is_dir():
        return sorted(p for p in (CROWD_MINI / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:768, 0:1024]
    files = []
    for index in range(38):
        base = np.stack([rows / 3, cols / 4, (rows + cols + 20 * index) % 256], axis=-1)
        pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
        files.append(folder / f"photo_{index}.jpg")
        Image.fromarray(pixels).save(files[-1], quality=90)
    return files


def decode_in_calls(files: list[Path], pool: ThreadPoolExecutor) -> None:
    held: list[object] = []
    for start in range(0, len(files), CALL):
        # Assigned once the call's images are decoded: the previous call's stay alive meanwhile, as in compare.
        held = list(pool.map(load_image, files[start:start + CALL]))


def timed(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "wbcount.onnx")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    if decode.simplejpeg is None:
        raise SystemExit("simplejpeg is not installed here (no wheel for this platform?): nothing to compare")
    turbo = decode.simplejpeg

    with tempfile.TemporaryDirectory(prefix="wb-bench-decode-") as tmp, ThreadPoolExecutor(2) as pool:
        files = photo_files(Path(tmp))
        dataset = load_dataset(CROWD_MINI) if CROWD_MINI.is_dir() else None
        images = [load_image(path) for path in files]
        plugins = Path(tmp) / "plugins"
        plugins.mkdir()
        with Workbench(plugins, [], default_model=args.model) as wb:

            def on_files() -> None:
                for start in range(0, len(files), CALL):
                    wb.estimate("peopleCountEstimator", files[start:start + CALL])

            configs = {
                "decode": lambda: decode_in_calls(files, pool),
                "estimate on files": on_files,
            }
            if dataset is not None:
                configs["compare"] = lambda: compare(wb, dataset, ["default"], progress=False, batch_size=CALL)

            def decoded_run() -> None:  # (c): no decoding
                wb.estimate("peopleCountEstimator", images)

            def switch(way: str) -> None:
                decode.simplejpeg = turbo if way == "simplejpeg" else None

            try:
                for way in WAYS:
                    switch(way)
                    for run in configs.values():
                        run()  # warm-up
                decoded_run()
                print(f"{len(files)} photos, model {args.model.name}, {args.rounds} interleaved rounds; load average "
                      f"{load_average()} before")
                wall = {(name, way): [] for name in configs for way in WAYS}
                cpu = {(name, way): [] for name in configs for way in WAYS}
                decoded_wall: list[float] = []
                for index in range(args.rounds):
                    decoded_wall.append(timed(decoded_run)[0])
                    for way in (WAYS if index % 2 == 0 else WAYS[::-1]):
                        switch(way)
                        for name, run in configs.items():
                            seconds, cpu_seconds = timed(run)
                            wall[name, way].append(seconds)
                            cpu[name, way].append(cpu_seconds)
            finally:
                decode.simplejpeg = turbo

    n = len(files)
    for name in configs:
        for way in WAYS:
            rates = [n / s for s in wall[name, way]]
            print(f"  {name:18s} {way:10s} {statistics.median(rates):7.2f} images/s (rounds {min(rates):.2f} to "
                  f"{max(rates):.2f})   CPU {statistics.median(cpu[name, way]) * 1000 / n:5.2f} ms/image")
        ratios = [p / s for s, p in zip(wall[name, "simplejpeg"], wall[name, "pillow"])]
        print(f"    images/s simplejpeg/pillow: {statistics.median(ratios):.3f} (rounds {min(ratios):.3f} to "
              f"{max(ratios):.3f}); {verdict(ratios, 1.0)}")
    decoded_rates = [n / s for s in decoded_wall]
    print(f"  wb.estimate on the decoded images (c): {statistics.median(decoded_rates):.2f} images/s")
    if dataset is not None:
        for way in WAYS:
            ratios = [c / d for d, c in zip(wall["compare", way], decoded_wall)]  # images/s, compare over (c)
            print(f"  (d)/(c) with {way}: {statistics.median(ratios):.2f} (rounds {min(ratios):.2f} to {max(ratios):.2f})"
                  f"; {verdict(ratios, 0.9)}")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
