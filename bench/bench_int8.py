"""fp32 vs int8: speed and counting error (MAE) on the crowd-mini test split, through OnnxDensityEstimator.

The int8 model is the shipped ``models/wbcount_uint8.onnx`` when ``--model`` is the default wbcount and it
exists; otherwise it is made here (``quantize_int8`` calibrated on the train split, then
``wrap_preprocessing --batched``), which is also how the shipped one is made. Both models run through the
same estimator with the same threads, one image at a time and as one batch; ratios are int8 against fp32
measured in the same run.

    .venv/bin/python bench/bench_int8.py                        # wbcount, else MCNN-B
    .venv/bin/python bench/bench_int8.py --model ../shared/data/models/mcnn_shtechB.onnx

Run by hand; on a shared machine other processes' load moves the timings.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from workbench.estimators import ModelDescription, OnnxDensityEstimator
from workbench.estimators.tools import quantize_int8, wrap_preprocessing
from workbench.research.datasets import load_dataset
from workbench.research.metrics import mae

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
WBCOUNT = REPO / "models" / "wbcount.onnx"
SHIPPED_INT8 = REPO / "models" / "wbcount_uint8.onnx"
MCNN = SHARED / "models" / "mcnn_shtechB.onnx"
MCNN_DESCRIPTION = ModelDescription(name="mcnn_shtechB", layout="NCHW", dtype="float32", channels="gray")


def measure(estimator: OnnxDensityEstimator, images: list, rounds: int) -> tuple[float, float, list[float]]:
    """(ms per image one at a time, ms per image as one batch, raw map sums)."""
    estimator.estimate(images[:1], "T2")
    single, batched = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        for image in images:
            estimator.estimate([image], "T2")
        single.append((time.perf_counter() - started) / len(images))
        started = time.perf_counter()
        results = estimator.estimate(images, "T2")
        batched.append((time.perf_counter() - started) / len(images))
    sums = [float(r.densityMap.sum(dtype=np.float64)) for r in results]
    return statistics.median(single) * 1000, statistics.median(batched) * 1000, sums


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="fp32 model (default: models/wbcount.onnx, else MCNN-B)")
    parser.add_argument("--data", type=Path, default=SHARED / "crowd-mini")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    model = args.model or (WBCOUNT if WBCOUNT.is_file() else MCNN)
    description = MCNN_DESCRIPTION if model == MCNN else ModelDescription.for_model(model)
    if not args.data.is_dir():
        print(f"no dataset at {args.data}; pass --data", file=sys.stderr)
        return 2
    test = list(load_dataset(args.data, split="test"))
    images = [s.image for s in test]
    truth = [s.count for s in test]

    with tempfile.TemporaryDirectory(prefix="wb-int8-") as tmp:
        if model == WBCOUNT and SHIPPED_INT8.is_file():
            int8 = SHIPPED_INT8
        else:
            calibration = [s.image_path for s in load_dataset(args.data, split="train")]
            quantize_int8(model, Path(tmp) / "int8.onnx", calibration, description)
            int8 = Path(tmp) / f"{model.stem}_uint8.onnx"
            wrap_preprocessing(Path(tmp) / "int8.onnx", None, int8, batched=True)
        rows = {}
        for name, path, desc in (("fp32", model, description), ("int8", int8, None)):
            estimator = OnnxDensityEstimator(path, desc, intra_op_threads=args.threads)
            try:
                rows[name] = measure(estimator, images, args.rounds)
            finally:
                estimator.close()

    print(f"{model.name} vs {int8.name}: {len(images)} test images, {args.threads} threads, median of {args.rounds} "
          "rounds (shared CPU: timings move with load)")
    base_single, base_batched, base_sums = rows["fp32"]
    for name, (single, batched, sums) in rows.items():
        counts = [max(0, round(s)) for s in sums]
        drift = np.abs(np.array(sums) - np.array(base_sums)).mean()
        print(f"  {name}: {single:7.1f} ms/image single (x{base_single / single:.2f}), {batched:7.1f} ms/image batched "
              f"(x{base_batched / batched:.2f}), MAE {mae(truth, counts):.2f}, mean |sum - fp32 sum| {drift:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
