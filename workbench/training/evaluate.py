"""Compare ONNX density-map counters on a dataset split: MAE, RMSE and ms per image, in one run.

    python -m workbench.training.evaluate --data ../shared/data/crowd-mini \\
        --models models/wbcount.onnx ../shared/data/models/mcnn_shtechB.onnx ../shared/data/models/mcnn_shtechA.onnx

Each model is fed as its model description says (channels, scale, mean, std, layout); the description of
``X.onnx`` is ``X.onnx=DESC.json`` when given so, else ``X.json`` next to it, else ``<family>.json`` in
``--descriptions`` (the family is the file stem up to the first ``_``: ``mcnn_shtechB`` -> ``mcnn.json``).
Only onnxruntime on the CPU: no torch needed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from workbench.estimators.default import bundled_models_dir
from workbench.training.data import load_split, mosaic_samples, normalise

# The installed package's models (mcnn.json, wbcount.json), not a checkout's folder: evaluate runs from a wheel too.
BUNDLED_DESCRIPTIONS = bundled_models_dir()
# Description channel names (those of workbench.estimators) -> Pillow modes; "gray" is ITU-R 601 luma.
PIL_MODES = {"RGB": "RGB", "gray": "L"}


def find_description(spec: str, descriptions_dir: Path = BUNDLED_DESCRIPTIONS) -> tuple[Path, dict[str, Any]]:
    """The model path and its description dict for ``MODEL.onnx`` or ``MODEL.onnx=DESC.json``."""
    model_part, _, description_part = spec.partition("=")
    model_path = Path(model_part)
    candidates = [Path(description_part)] if description_part else [
        model_path.with_suffix(".json"),
        descriptions_dir / f"{model_path.stem.split('_')[0]}.json",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return model_path, json.loads(candidate.read_text())
    raise FileNotFoundError(f"no model description for {model_path}; tried {', '.join(map(str, candidates))}")


def preprocess(image: Image.Image, description: dict[str, Any]) -> np.ndarray:
    """A one-image batch as the description asks: channels, ``pixel * scale``, then ``(x - mean) / std``."""
    channels = description["channels"]
    if channels not in PIL_MODES:
        raise ValueError(f"unsupported channels {channels!r}; expected one of {sorted(PIL_MODES)}")
    pixels = np.asarray(image.convert(PIL_MODES[channels]))
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    array = normalise(
        pixels,
        float(description.get("scale", 1.0)),
        np.asarray(description.get("mean", [0.0] * pixels.shape[2]), np.float32),
        np.asarray(description.get("std", [1.0] * pixels.shape[2]), np.float32),
    )
    if description.get("layout", "NCHW") == "NHWC":
        array = array.transpose(1, 2, 0)
    return np.ascontiguousarray(array[None], dtype=np.dtype(description.get("dtype", "float32")))


@dataclass
class ModelResult:
    """Figures of one model on one split."""

    model: str
    mae: float
    rmse: float
    ms_per_image: float
    stride: float
    counts: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"model": self.model, "mae": self.mae, "rmse": self.rmse, "ms_per_image": self.ms_per_image,
                "stride": self.stride, "counts": self.counts}


def evaluate_model(spec: str, images: list[tuple[str, Image.Image, int]], threads: int = 2, repeats: int = 3,
                   descriptions_dir: Path = BUNDLED_DESCRIPTIONS) -> ModelResult:
    """Count every image with one ONNX model; time ``session.run`` only (median over images x repeats)."""
    model_path, description = find_description(spec, descriptions_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    feeds = [(name, {description["input"]: preprocess(image, description)}, truth) for name, image, truth in images]
    session.run([description["output"]], feeds[0][1])  # warm-up: first-run allocations are not inference cost
    counts, errors, times, stride = {}, [], [], 0.0
    for name, feed, truth in feeds:
        for _ in range(repeats):
            started = time.perf_counter()
            (density,) = session.run([description["output"]], feed)
            times.append(time.perf_counter() - started)
        count = float(density.sum())
        counts[name] = round(count, 2)
        errors.append(count - truth)
        # Input width over map width; the input's width axis depends on its layout, the map is always NCHW.
        width_axis = -2 if description.get("layout", "NCHW") == "NHWC" else -1
        stride = feed[description["input"]].shape[width_axis] / density.shape[-1]
    errors_array = np.asarray(errors)
    return ModelResult(
        model=model_path.name,
        mae=float(np.abs(errors_array).mean()),
        rmse=float(np.sqrt((errors_array**2).mean())),
        ms_per_image=float(np.median(times) * 1000),
        stride=stride,
        counts=counts,
    )


def load_images(data_dir: str | Path, split: str) -> list[tuple[str, Image.Image, int]]:
    """``(name, image, annotated count)`` of every image of a split."""
    return [(sample.name, sample.image, sample.count) for sample in load_split(data_dir, split)]


def load_mosaics(data_dir: str | Path, split: str, grid: int, n: int, seed: int = 0) -> list[tuple[str, Image.Image, int]]:
    """``n`` seeded ``grid`` x ``grid`` mosaics of a split's photos, each downscaled into one photo's frame
    (denser scenes with exact counts: about ``grid**2`` times the people per pixel, heads ``grid`` times smaller)."""
    return [(m.name, m.image, m.count) for m in mosaic_samples(load_split(data_dir, split), grid, n, seed)]


def markdown_table(results: list[ModelResult], images: list[tuple[str, Image.Image, int]]) -> str:
    """The summary table and a per-image count table, in Markdown."""
    size = "x".join(map(str, images[0][1].size)) if images else "?"
    lines = [f"| model | MAE | RMSE | ms/image ({size}) | stride |", "|---|---|---|---|---|"]
    lines += [f"| {r.model} | {r.mae:.2f} | {r.rmse:.2f} | {r.ms_per_image:.1f} | {r.stride:g} |" for r in results]
    lines += ["", "| image | truth | " + " | ".join(r.model for r in results) + " |",
              "|---|---|" + "---|" * len(results)]
    for name, _, truth in images:
        lines.append(f"| {name} | {truth} | " + " | ".join(f"{r.counts[name]:.1f}" for r in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Evaluate the given models on one split and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(prog="python -m workbench.training.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset folder in any layout workbench compare reads (crowd-mini, ShanghaiTech, ...)")
    parser.add_argument("--models", nargs="+", required=True, help="MODEL.onnx or MODEL.onnx=DESCRIPTION.json")
    parser.add_argument("--split", default="test", help="the split to score (default: test)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per image")
    parser.add_argument("--descriptions", type=Path, default=BUNDLED_DESCRIPTIONS,
                        help="folder of family descriptions such as mcnn.json (default: the bundled models/)")
    parser.add_argument("--mosaic", type=int, metavar="GRID",
                        help="score GRID x GRID mosaics of the split's photos (each downscaled GRID times) instead "
                        "of the photos: denser scenes with exact counts")
    parser.add_argument("--mosaics", type=int, default=8, help="how many seeded mosaics (with --mosaic)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.mosaic is not None and args.mosaic < 2:
        parser.error("--mosaic must be 2 or more")
    images = (load_images(args.data, args.split) if args.mosaic is None
              else load_mosaics(args.data, args.split, args.mosaic, args.mosaics))
    results = []
    for spec in args.models:
        try:
            results.append(evaluate_model(spec, images, args.threads, args.repeats, args.descriptions))
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            return 2
    what = "images" if args.mosaic is None else f"{args.mosaic}x{args.mosaic} mosaics"
    truth = np.array([count for _, _, count in images], np.float64)
    megapixels = np.array([image.size[0] * image.size[1] / 1e6 for _, image, _ in images])
    print(f"{args.split} split of {args.data}: {len(images)} {what} ({truth.min():.0f} to {truth.max():.0f} "
          f"people, mean {truth.mean():.1f}; {np.mean(truth / megapixels):.0f} people per megapixel); "
          f"onnxruntime {ort.__version__}, CPU, {args.threads} threads\n")
    print(markdown_table(results, images))
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "images": len(images), "threads": args.threads,
                                         "results": [r.as_dict() for r in results]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
