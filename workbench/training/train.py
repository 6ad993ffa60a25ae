"""``python -m workbench.training``: train ``wbcount`` on annotated datasets, export it to ONNX and bundle it.

Writes ``<out>/<name>.onnx`` and its model description ``<out>/<name>.json`` (see ``export.py``).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.training.data import (
    Augmentation,
    Sample,
    load_split,
    normalise,
    render_density,
    synthetic_samples,
    tile,
)

# ImageNet statistics: a conventional choice that keeps the raw input near zero mean / unit variance; the
# network is trained from scratch, so any fixed values would do, but they must match the description.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SCALE = 1 / 255

TORCH_MISSING = (
    "workbench.training needs torch, an optional extra: pip install -e '.[train]' (from the project root)"
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line options (also used by ``workbench train``)."""
    parser = argparse.ArgumentParser(
        prog="workbench train",
        description="Train the default density-map people counter (wbcount), export it to ONNX and write "
        "its model description.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, nargs="+",
                        help="one or more dataset folders in any layout workbench compare reads (crowd-mini, "
                        "ShanghaiTech part A or B, UCF-QNRF, NWPU-Crowd, JHU-Crowd++); trains on each one's train split")
    source.add_argument("--synthetic", action="store_true",
                        help="train on tiny generated blob scenes (smoke tests; no real data needed)")
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder (default: models/)")
    parser.add_argument("--name", default="wbcount", help="file stem and model name (default: wbcount)")
    parser.add_argument("--epochs", type=int, default=40,
                        help="epochs; one epoch = --crops-per-image random crops per training image, all datasets "
                        "together")
    parser.add_argument("--data-shares", type=float, nargs="+", metavar="SHARE",
                        help="share of the photo crops drawn from each --data dataset, in order (default: in "
                        "proportion to their training images)")
    parser.add_argument("--crops-per-image", type=int, default=8,
                        help="random crops drawn per training image in one epoch (default: 8)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    parser.add_argument("--batch-size", type=int, default=8, help="crops per optimiser step (default: 8)")
    parser.add_argument("--crop", type=int, default=320, help="training crop side in pixels (multiple of 8)")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate (cosine decay)")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default: 1e-4)")
    parser.add_argument("--sigma", type=float, default=1.0,
                        help="ground-truth Gaussian sigma in output cells (1 cell = 8 px)")
    parser.add_argument("--count-weight", type=float, default=0.1,
                        help="weight of the L1 loss on each crop's count, added to the density MSE")
    parser.add_argument("--ema", type=float, default=0.995, help="decay of the exported weight average")
    parser.add_argument("--val", type=int, nargs="+", default=[0], metavar="N",
                        help="hold out N training images (seeded choice) of each dataset, or one N per --data "
                        "dataset, and report their MAE per dataset; the test splits are never read")
    parser.add_argument("--clip", type=float, default=10.0, help="gradient norm clipping (0: none)")
    parser.add_argument("--eval-every", type=int, default=250, help="steps between progress reports")
    parser.add_argument("--init", type=Path,
                        help="fine-tune from the weights of an exported wbcount ONNX file (BatchNorm folded) "
                        "instead of training from scratch")
    parser.add_argument("--generated", type=Path,
                        help="extra folder of generated scenes in the crowd-mini layout (all its images are used), "
                        "e.g. written by workbench.research.make_synthetic_dataset")
    parser.add_argument("--generated-fraction", type=float, default=0.25,
                        help="share of the crops drawn from --generated (when given)")
    parser.add_argument("--mosaic-fraction", type=float, default=0.0,
                        help="share of the crops that are mosaics of downscaled training crops (denser scenes)")
    parser.add_argument("--mosaic-grids", type=int, nargs="+", default=[2, 4],
                        help="mosaic sides to draw from uniformly (2: 4 crops, 4: 16 crops); must divide --crop/8")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the crops, augmentation, held-out images and initial weights (default: 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime CPU threads")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Train, export and check; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        import torch  # noqa: F401  (optional extra; checked before any work starts)
    except ImportError:
        print(TORCH_MISSING, file=sys.stderr)
        return 2
    if args.crop % 8:
        print("--crop must be a multiple of 8", file=sys.stderr)
        return 2
    if args.mosaic_fraction > 0 and any(grid < 2 or (args.crop // 8) % grid for grid in args.mosaic_grids):
        print(f"--mosaic-grids must be sides >= 2 dividing {args.crop // 8} (--crop / 8)", file=sys.stderr)
        return 2
    if not 0 <= args.generated_fraction + args.mosaic_fraction <= 1 or min(args.generated_fraction,
                                                                           args.mosaic_fraction) < 0:
        print("--generated-fraction and --mosaic-fraction must be >= 0 and sum to at most 1", file=sys.stderr)
        return 2
    generated: list[Sample] = []
    if args.generated is not None:
        try:
            generated = load_split(args.generated, None)
        except FileNotFoundError as error:
            print(error, file=sys.stderr)
            return 2
    try:
        datasets = _load_datasets(args)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    train: list[list[Sample]] = []
    val: list[list[Sample]] = []
    for samples, held_out in zip(datasets, args.val * len(datasets) if len(args.val) == 1 else args.val):
        order = rng.permutation(len(samples))
        val.append([samples[i] for i in sorted(order[:held_out])])
        train.append([samples[i] for i in sorted(order[held_out:])])
    if not all(train):
        print("no training images left after --val in at least one dataset", file=sys.stderr)
        return 2
    report = fit(args, train, val, rng, generated)
    check_image = next(sample for samples in val + train for sample in samples)
    report.update(export_bundle(report.pop("model"), args, check_image))
    print(json.dumps(report, indent=2))
    return 0


def _load_datasets(args: argparse.Namespace) -> list[list[Sample]]:
    """The training photos of each ``--data`` dataset (or one generated set with ``--synthetic``)."""
    if args.synthetic:
        return [synthetic_samples(12, seed=args.seed)]
    datasets = [load_split(path, "train") for path in args.data]
    if len(args.val) not in (1, len(datasets)) or min(args.val) < 0:
        raise ValueError(f"--val takes one count >= 0, or one per --data dataset ({len(datasets)}); got {args.val}")
    if args.data_shares is not None and (len(args.data_shares) != len(datasets) or min(args.data_shares) < 0
                                         or sum(args.data_shares) <= 0):
        raise ValueError(f"--data-shares needs one share >= 0 per --data dataset ({len(datasets)}), not all zero; "
                         f"got {args.data_shares}")
    return datasets


class _PhotoDraw:
    """Which training photo each crop comes from: a dataset by its share, then the next photo of a shuffled
    round through that dataset, so that every photo of a dataset is seen equally often."""

    def __init__(self, train: list[list[Sample]], shares: list[float] | None, rng: np.random.Generator) -> None:
        self.train, self.rng = train, rng
        weights = np.array(shares if shares is not None else [len(samples) for samples in train], np.float64)
        self.shares = weights / weights.sum()
        self.rounds: list[list[int]] = [[] for _ in train]

    def __call__(self) -> Sample:
        dataset = int(self.rng.choice(len(self.train), p=self.shares))
        queue = self.rounds[dataset]
        if not queue:
            queue += [int(i) for i in self.rng.permutation(len(self.train[dataset]))]
        return self.train[dataset][queue.pop()]


def _crop(args: argparse.Namespace, draw_photo: _PhotoDraw, generated: list[Sample], augment: Augmentation,
          rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    """One training crop: a mosaic of downscaled training crops, a generated scene, or a training photo, with
    the shares ``--mosaic-fraction`` and ``--generated-fraction``."""
    draw = rng.random()
    if draw < args.mosaic_fraction:
        grid = int(rng.choice(args.mosaic_grids))
        parts = [augment(draw_photo(), rng) for _ in range(grid * grid)]
        return tile(parts, grid, (augment.crop // grid, augment.crop // grid))
    if generated and draw < args.mosaic_fraction + args.generated_fraction:
        return augment(generated[int(rng.integers(len(generated)))], rng)
    return augment(draw_photo(), rng)


def _batch(
    crops: list[tuple[Any, np.ndarray]], crop: int, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    from workbench.training.model import STRIDE

    mean, std = np.array(MEAN), np.array(STD)
    images, densities = [], []
    for image, points in crops:
        images.append(normalise(np.asarray(image), SCALE, mean, std))
        side = crop // STRIDE
        densities.append(render_density(points, (side, side), STRIDE, sigma)[None])
    return np.stack(images), np.stack(densities)


def fit(args: argparse.Namespace, train: list[list[Sample]], val: list[list[Sample]],
        rng: np.random.Generator, generated: list[Sample] | None = None) -> dict[str, Any]:
    """The training loop over the photos of one or more datasets (``train[d]``, with held-out ``val[d]``);
    returns a report with the weight-averaged model under ``"model"``."""
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from workbench.training.model import WbCount, load_onnx_weights, parameter_count

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model = load_onnx_weights(args.init) if args.init else WbCount()
    # The exported model is an exponential average of the weights (BN statistics included): it is steadier than
    # the last iterate, and with few images there may be no validation set to pick a checkpoint from.
    average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    images = sum(len(samples) for samples in train)
    per_epoch = math.ceil(images * args.crops_per_image / args.batch_size)
    total = per_epoch * args.epochs
    if args.max_steps is not None:
        total = min(total, args.max_steps)
    warmup = max(1, min(100, total // 10))

    def learning_rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, learning_rate)
    augment = Augmentation(crop=args.crop)
    draw_photo = _PhotoDraw(train, args.data_shares, rng)
    started = time.perf_counter()
    history: list[dict[str, Any]] = []
    held_out = sum(len(samples) for samples in val)
    print(f"training on {images} images ({held_out} held out), {parameter_count(model)} parameters, "
          f"{total} steps of {args.batch_size} crops of {args.crop} px", flush=True)
    stopped_at = None
    try:
        _steps(args, model, average, optimiser, scheduler, draw_photo, generated or [], augment, rng, val,
               total, started, history)
    except KeyboardInterrupt:
        # Ctrl-C (SIGINT) ends training early; the weight average so far is still exported and checked.
        stopped_at = int(average.n_averaged)  # one update per finished step
        print(f"interrupted after {stopped_at} steps: exporting the weight average so far", flush=True)
    return {
        "model": average.module.eval(),
        "parameters": parameter_count(model),
        "steps": total if stopped_at is None else stopped_at,
        "interrupted": stopped_at is not None,
        "train_images": [len(samples) for samples in train],
        "generated_images": len(generated or []),
        "val_images": [[s.name for s in held] for held in val],
        "train_seconds": round(time.perf_counter() - started, 1),
        "history": history,
    }


def _steps(args: argparse.Namespace, model: Any, average: Any, optimiser: Any, scheduler: Any,
           draw_photo: _PhotoDraw, generated: list[Sample], augment: Augmentation,
           rng: np.random.Generator, val: list[list[Sample]], total: int, started: float,
           history: list[dict[str, Any]]) -> None:
    import torch

    from workbench.training.model import DENSITY_SCALE

    running: list[float] = []
    for step in range(total):
        model.train()
        crops = [_crop(args, draw_photo, generated, augment, rng) for _ in range(args.batch_size)]
        images, densities = _batch(crops, args.crop, args.sigma)
        images_t, target = torch.from_numpy(images), torch.from_numpy(densities)
        raw = model.raw(images_t)
        scaled_target = target * DENSITY_SCALE
        # Where there is ground-truth mass the MSE sees the pre-ReLU value, so a head cell that went negative
        # still gets pulled up (a plain ReLU output dies: the mostly empty crops push every cell below zero,
        # after which no head cell gets a gradient); elsewhere it sees the ReLU output, so background only
        # needs to reach zero, which is also what makes it add nothing to the count.
        fitted = torch.where(scaled_target > 1e-3, raw, torch.relu(raw))
        density_loss = torch.mean((fitted - scaled_target) ** 2)
        # The L1 on each crop's count ties the map's sum to the number of people, which is what is measured.
        predicted = torch.relu(raw) / DENSITY_SCALE
        count_loss = torch.mean(torch.abs(predicted.sum((1, 2, 3)) - target.sum((1, 2, 3))))
        loss = density_loss + args.count_weight * count_loss
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if args.clip > 0:
            # Dense part-A crops (hundreds of heads) give occasional very large count errors early on.
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimiser.step()
        scheduler.step()
        average.update_parameters(model)
        running.append(loss.item())
        if (step + 1) % args.eval_every == 0 or step + 1 == total:
            entry: dict[str, Any] = {
                "step": step + 1,
                "loss": round(float(np.mean(running)), 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
            running = []
            for index, held in enumerate(val):
                if not held:
                    continue
                errors = np.array([_count(average.module, s) - s.count for s in held])
                suffix = "" if len(val) == 1 else f"_{index}"
                entry[f"val_mae{suffix}"] = round(float(np.abs(errors).mean()), 3)
                entry[f"val_rmse{suffix}"] = round(float(np.sqrt((errors**2).mean())), 3)
                entry[f"val_bias{suffix}"] = round(float(errors.mean()), 3)
            history.append(entry)
            print(json.dumps(entry), flush=True)


def _count(model: Any, sample: Sample) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        return float(model(torch.from_numpy(_full_image(sample))[None]).sum())


def _full_image(sample: Sample) -> np.ndarray:
    return normalise(np.asarray(sample.image), SCALE, np.array(MEAN), np.array(STD))


def export_bundle(model: Any, args: argparse.Namespace, check: Sample) -> dict[str, Any]:
    """Export ``model`` to ``<out>/<name>.onnx`` + ``.json`` and compare onnxruntime with torch on ``check``."""
    from workbench.training.export import compare_onnx, export_onnx
    from workbench.training.model import STRIDE

    description = {
        "name": args.name,
        "layout": "NCHW",
        "dtype": "float32",
        "channels": "RGB",
        "scale": SCALE,
        "mean": list(MEAN),
        "std": list(STD),
        "input": "image",
        "output": "density",
        "stride": STRIDE,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / f"{args.name}.onnx"
    export_onnx(model, onnx_path, description)
    (args.out / f"{args.name}.json").write_text(json.dumps(description, indent=2) + "\n")
    comparison = compare_onnx(model, onnx_path, _full_image(check), threads=args.threads)
    return {"onnx": str(onnx_path), "onnx_bytes": onnx_path.stat().st_size,
            "onnx_check": {"image": check.name, **comparison}}
