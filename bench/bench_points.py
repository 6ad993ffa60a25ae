"""Head points from density maps: ``peaks`` vs ``topk`` (the reference plugin's way), speed and localisation.

Runs the model once over the crowd-mini test split, then times each point strategy per density map and
scores its points against the hand-clicked heads (Hungarian one-to-one matching within 10 and 20 px,
micro-averaged over images). Ratios are against ``topk`` measured in the same run.

    .venv/bin/python bench/bench_points.py                 # MCNN-B when ../shared is present, else wbcount
    .venv/bin/python bench/bench_points.py --model models/wbcount.onnx

Run by hand; CPU figures depend on what else the machine is doing.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from workbench.estimators import ModelDescription, OnnxDensityEstimator, get_point_strategy
from workbench.research.datasets import load_dataset
from workbench.research.metrics import localisation, localisation_summary

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
MCNN = SHARED / "models" / "mcnn_shtechB.onnx"
MCNN_DESCRIPTION = ModelDescription(name="mcnn_shtechB", layout="NCHW", dtype="float32", channels="gray")
THRESHOLDS_PX = (10.0, 20.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="ONNX model (default: MCNN-B, else models/wbcount.onnx)")
    parser.add_argument("--data", type=Path, default=SHARED / "crowd-mini", help="crowd-mini folder")
    parser.add_argument("--split", default="test")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--repeat", type=int, default=20, help="timing repeats per map")
    args = parser.parse_args()

    model = args.model or (MCNN if MCNN.is_file() else REPO / "models" / "wbcount.onnx")
    description = MCNN_DESCRIPTION if model == MCNN else None
    if not args.data.is_dir():
        print(f"no dataset at {args.data}; pass --data", file=sys.stderr)
        return 2
    samples = list(load_dataset(args.data, split=args.split))
    estimator = OnnxDensityEstimator(model, description, intra_op_threads=args.threads)
    try:
        results = estimator.estimate([s.image for s in samples], "T2")
    finally:
        estimator.close()
    stride = estimator.stride
    print(f"model {model.name} (stride {stride}), {len(samples)} {args.split} images, {args.threads} threads")

    rows = {}
    for name in ("topk", "peaks"):
        strategy = get_point_strategy(name)
        points = [strategy.locate(r.densityMap, r.count, scale=stride) for r in results]
        started = time.perf_counter()
        for _ in range(args.repeat):
            for r in results:
                strategy.locate(r.densityMap, r.count, scale=stride)
        ms = (time.perf_counter() - started) / (args.repeat * len(results)) * 1000
        scores = [
            localisation_summary(localisation(p, s.points, t) for p, s in zip(points, samples)) for t in THRESHOLDS_PX
        ]
        rows[name] = (strategy, ms, scores)

    base_f1 = {t: rows["topk"][2][i].f1 for i, t in enumerate(THRESHOLDS_PX)}
    header = "strategy".ljust(50) + "ms/map " + "".join(f"  P/R/F1 @{t:.0f}px        " for t in THRESHOLDS_PX)
    print(header)
    for strategy, ms, scores in rows.values():
        cells = "".join(f"  {s.precision:.3f}/{s.recall:.3f}/{s.f1:.3f}" for s in scores)
        ratios = ", ".join(
            f"F1@{t:.0f} x{s.f1 / base_f1[t]:.2f}" if base_f1[t] else f"F1@{t:.0f} (topk 0)" for t, s in zip(THRESHOLDS_PX, scores)
        )
        print(f"{repr(strategy):50s}{ms:6.2f}{cells}   vs topk: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
