"""Estimation throughput on 1024x768 images: the workbench's estimator against raw inference and the
reference plugin's pattern, all on the same model.

(a) raw: one ``session.run`` on an already-preprocessed batch (the ceiling; no preprocessing, no points);
(b) reference pattern: one ``run_async`` per image, gathered with asyncio, on the same model with the
    preprocessing inside the graph (uint8 HWC input, as the service's reference plugin feeds it);
(c) workbench: ``wb.estimate`` through a ``Workbench`` host with ``OnnxDensityEstimator`` as the default
    estimator (T1: preprocessing, batching, inference, peaks, ``PeopleCount``).

Goals: (c) >= 0.95 x (a) and (c) >= 1.5 x (b). The configurations are interleaved round by round so that a
burst of load from other processes hits all of them alike; the median round is reported.

    .venv/bin/python bench/bench_estimation.py [--model M.onnx] [--images 8] [--rounds 3] [--threads 2]

The model is MCNN-B when ../shared is present, else models/wbcount.onnx. Run by hand; on a shared machine
other processes' load moves the figures.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from workbench import VLImage, Workbench
from workbench.estimators import ModelDescription, OnnxDensityEstimator
from workbench.estimators.tools import wrap_preprocessing

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
MCNN = SHARED / "models" / "mcnn_shtechB.onnx"
MCNN_DESCRIPTION = ModelDescription(name="mcnn_shtechB", layout="NCHW", dtype="float32", channels="gray")


def session(model: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


async def run_async(sess: ort.InferenceSession, output: str, feed: dict[str, np.ndarray]) -> np.ndarray:
    """One ``run_async`` resolved into an asyncio future: the reference plugin's way to await inference."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def done(result: list[np.ndarray], _user_data: object, error: str) -> None:
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result((result, error)))

    sess.run_async([output], feed, done, None)
    result, error = await future
    if error:
        raise RuntimeError(error)
    return result[0]


def load_images(n: int) -> list[VLImage]:
    photos = sorted((SHARED / "crowd-mini" / "images").glob("*_test_*.jpg"))
    if photos:
        return [VLImage(photos[i % len(photos)]) for i in range(n)]
    rng = np.random.default_rng(0)
    return [VLImage(rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8)) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="float ONNX model (default: MCNN-B, else wbcount)")
    parser.add_argument("--images", type=int, default=8, help="images per batch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads for every configuration")
    args = parser.parse_args()

    model = args.model or (MCNN if MCNN.is_file() else REPO / "models" / "wbcount.onnx")
    description = MCNN_DESCRIPTION if model == MCNN else ModelDescription.for_model(model)
    images = load_images(args.images)
    batch = description.preprocess(np.stack([im.asNPArray() for im in images]))
    pixels = [im.asNPArray() for im in images]

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        wrapped = Path(tmp) / "wrapped_hwc.onnx"
        wrap_preprocessing(model, description, wrapped)
        raw = session(model, args.threads)
        reference = session(wrapped, args.threads)
        plugins = Path(tmp) / "plugins"
        plugins.mkdir()

        def factory(config: object) -> OnnxDensityEstimator:
            return OnnxDensityEstimator(model, description, intra_op_threads=args.threads)

        with Workbench(plugins, [], default_estimators={"peopleCountEstimator": factory}) as wb:

            def run_raw() -> None:
                raw.run([description.output], {description.input: batch})

            def run_reference() -> None:
                async def gather() -> list[np.ndarray]:
                    return await asyncio.gather(
                        *(run_async(reference, description.output, {description.input: p}) for p in pixels)
                    )

                maps = asyncio.run(gather())
                [max(0, int(m.sum())) for m in maps]

            def run_workbench() -> None:
                wb.estimate("peopleCountEstimator", images)

            configs = {"(a) raw session.run": run_raw, "(b) reference pattern": run_reference, "(c) workbench": run_workbench}
            for run in configs.values():
                run()  # warm-up: allocations, thread pools, lazy estimator creation
            times: dict[str, list[float]] = {name: [] for name in configs}
            for _ in range(args.rounds):
                for name, run in configs.items():
                    started = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - started)

    per_second = {name: args.images / statistics.median(t) for name, t in times.items()}
    print(f"model {model.name}, {args.images} images of {images[0].width}x{images[0].height}, "
          f"{args.threads} intra-op threads, median of {args.rounds} rounds (shared CPU: figures move with load)")
    for name, rate in per_second.items():
        spread = ", ".join(f"{args.images / t:.2f}" for t in times[name])
        print(f"  {name:24s} {rate:6.2f} images/s   (rounds: {spread})")
    a, b, c = per_second.values()
    print(f"  (c)/(a) = {c / a:.2f}  (goal >= 0.95)   (c)/(b) = {c / b:.2f}  (goal >= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
