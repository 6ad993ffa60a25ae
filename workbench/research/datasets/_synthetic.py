"""SYNTHETIC crowd-like images with exact head points, for notebooks and tests where real data is absent."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ._core import Dataset

__all__ = ["make_synthetic_dataset"]


def make_synthetic_dataset(
    out_dir: str | Path, n: int = 6, *, seed: int = 0, size: tuple[int, int] = (512, 384)
) -> Dataset:
    """Write ``n`` SYNTHETIC crowd-like images with their head points, and return them loaded as a dataset.

    These are drawings, not photos: a smooth noisy background with a ground gradient, and people drawn as a
    dark round "head" on an elliptic "body", smaller towards the top of the frame to mimic perspective. They
    exist so that notebooks and tests run where the real data is absent; no estimator's accuracy on them says
    anything about real crowds. The points are the head centres, so they are exact by construction.

    Files are written in the crowd-mini layout (``images/synth_{train,test}_IMG_i.jpg`` +
    ``points/<same>.json``); the last third of the images (at least one when ``n >= 3``) are in the test split.
    ``size`` is ``(width, height)``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    width, height = size
    if width < 64 or height < 64:
        raise ValueError(f"size must be at least 64x64 pixels, got {width}x{height}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "points").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_test = n // 3
    for i in range(1, n + 1):
        split = "test" if i > n - n_test else "train"
        name = f"synth_{split}_IMG_{i}"
        image, points = _synthetic_scene(rng, width, height)
        image.save(out / "images" / f"{name}.jpg", quality=92)
        record = {"image": f"{name}.jpg", "points": points, "count": len(points)}
        (out / "points" / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    return Dataset.from_crowd_json(out)


def _synthetic_scene(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, list[list[float]]]:
    # Background: upsampled coarse noise (texture at several scales) plus a vertical gradient for "ground".
    coarse = rng.uniform(60, 190, size=(max(2, height // 32), max(2, width // 32), 3)).astype(np.uint8)
    background = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    gradient = np.linspace(-30, 30, height, dtype=np.float32)[:, None, None]
    grain = rng.normal(0, 8, size=(height, width, 1)).astype(np.float32)
    canvas = Image.fromarray(np.clip(background + gradient + grain, 0, 255).astype(np.uint8))
    canvas = canvas.filter(ImageFilter.GaussianBlur(0.8))
    draw = ImageDraw.Draw(canvas)

    count = int(rng.integers(5, 41))
    # Heads in the upper 15%..85% of the frame; far (upper) people are smaller.
    ys = rng.uniform(0.15 * height, 0.85 * height, size=count)
    xs = rng.uniform(0.03 * width, 0.97 * width, size=count)
    order = np.argsort(ys)  # draw far people first so nearer bodies overlap them, as in a real scene
    points = []
    for x, y in zip(xs[order], ys[order]):
        scale = 0.4 + 0.8 * (y / height)
        r = max(3.0, 0.018 * height * scale * 1.6)
        body = tuple(int(c) for c in rng.integers(20, 235, size=3))
        draw.ellipse([x - 1.6 * r, y + 0.8 * r, x + 1.6 * r, y + 5.5 * r], fill=body)
        skin = int(rng.integers(40, 110))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(skin, int(skin * 0.8), int(skin * 0.6)))
        points.append([round(float(x), 1), round(float(y), 1)])
    return canvas, points

