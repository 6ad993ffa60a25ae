"""SYNTHETIC crowd-like images with exact head points, for notebooks and tests where real data is absent."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..._checks import whole_number
from ._core import Dataset

__all__ = ["make_synthetic_dataset"]


def make_synthetic_dataset(
    out_dir: str | Path, n: int = 6, *, seed: int = 0, size: tuple[int, int] = (512, 384)
) -> Dataset:
    """Write ``n`` SYNTHETIC crowd-like images with their head points, and return them loaded as a dataset.

    These are drawings, not photos: a low-saturation textured background with a few flat blocks (walls,
    stalls), and up to 40 people drawn as a head (a skin-toned face under hair, or only hair when seen from
    behind, with eyes once big enough) on a neck and rounded shoulders in muted clothes, smaller towards the top
    of the frame to mimic perspective, none hiding another's head. They exist so that notebooks, tests and
    the demo run where the real data is absent; no estimator's accuracy on them says anything about real
    crowds. The points are the head centres, so they are exact by construction.

    Files are written in the crowd-mini layout (``images/synth_{train,test}_IMG_i.jpg`` +
    ``points/<same>.json``); the last third of the images (at least one when ``n >= 3``) are in the test split.
    ``size`` is ``(width, height)``.
    """
    whole_number(n, "n", minimum=1)
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


# Palettes for the drawn people and scenes (RGB): a range of skin tones, mostly dark hair, earthy grounds.
_SKIN_TONES = np.array(
    [[236, 198, 170], [214, 170, 135], [188, 140, 105], [150, 105, 75], [110, 75, 52], [80, 55, 40]], np.float64
)
_HAIR_TONES = np.array(
    [[20, 16, 14], [40, 28, 20], [70, 48, 30], [110, 80, 50], [150, 120, 80], [120, 115, 110]], np.float64
)
_HAIR_SHARES = np.array([0.35, 0.3, 0.15, 0.08, 0.05, 0.07])
_GROUND_TONES = np.array(
    [[170, 150, 120], [140, 140, 135], [120, 105, 90], [190, 180, 160], [100, 110, 95], [160, 120, 90]], np.float64
)


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    red, green, blue = (int(c) for c in np.clip(colour, 0, 255))
    return red, green, blue


def _upsampled_noise(rng: np.random.Generator, width: int, height: int, cell: int, spread: float) -> np.ndarray:
    coarse = rng.normal(0, spread, size=(max(2, height // cell), max(2, width // cell))).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((width, height), Image.Resampling.BICUBIC))


def _background(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    # A photo's background is mostly low-saturation texture at several scales (stone, pavement, walls), so:
    # an earthy base tone, luminance noise at three scales, a faint colour tint, a gradient for "ground",
    # and a few flat blocks standing for walls, stalls and windows.
    base = _GROUND_TONES[rng.integers(len(_GROUND_TONES))]
    scales = ((64, 35), (16, 18), (4, 8))  # (cell px, spread) of the luminance noise
    luminance = sum((_upsampled_noise(rng, width, height, cell, spread) for cell, spread in scales),
                    np.zeros((height, width), np.float32))
    tint = np.stack([_upsampled_noise(rng, width, height, 48, 12) for _ in range(3)], axis=-1)
    gradient = np.linspace(-25, 25, height, dtype=np.float32)[:, None, None]
    grain = rng.normal(0, 6, size=(height, width, 1)).astype(np.float32)
    pixels = base[None, None, :] + luminance[..., None] + tint + gradient + grain
    canvas = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(2, 7))):
        block_w, block_h = rng.uniform(0.1, 0.4) * width, rng.uniform(0.05, 0.3) * height
        x0, y0 = rng.uniform(-0.1, 0.95) * width, rng.uniform(-0.1, 0.6) * height
        shade = base * rng.uniform(0.5, 1.25) + rng.normal(0, 10, 3)
        draw.rectangle([x0, y0, x0 + block_w, y0 + block_h], fill=_rgb(shade))
    return canvas.filter(ImageFilter.GaussianBlur(1.0))


def _draw_person(draw: ImageDraw.ImageDraw, rng: np.random.Generator, x: float, y: float, r: float) -> None:
    """A head of radius ``r`` centred on (x, y): face and hair (or only hair, seen from behind), neck, shoulders."""
    clothes = rng.integers(20, 235, size=3).astype(np.float64)
    clothes = 0.6 * clothes + 0.4 * clothes.mean()  # cloth is less saturated than paint
    shoulders = [x - 2.2 * r, y + 1.3 * r, x + 2.2 * r, y + 7.0 * r]
    draw.rounded_rectangle(shoulders, radius=int(1.2 * r), fill=_rgb(clothes))
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.85, 1.1)
    hair = _HAIR_TONES[rng.choice(len(_HAIR_TONES), p=_HAIR_SHARES)] * rng.uniform(0.8, 1.2)
    draw.rectangle([x - 0.4 * r, y + 0.6 * r, x + 0.4 * r, y + 1.5 * r], fill=_rgb(0.85 * skin))
    if rng.random() < 0.25:
        draw.ellipse([x - 0.95 * r, y - 1.1 * r, x + 0.95 * r, y + 1.0 * r], fill=_rgb(hair))
        return
    draw.ellipse([x - 0.85 * r, y - r, x + 0.85 * r, y + 1.05 * r], fill=_rgb(skin))
    hairline = y + rng.uniform(-0.4, 0.1) * r
    top = y - 1.15 * r
    draw.chord([x - 0.95 * r, top, x + 0.95 * r, 2 * hairline - top], 180, 360, fill=_rgb(hair))
    if r >= 5:
        eye = max(1.0, 0.12 * r)
        for dx in (-0.35 * r, 0.35 * r):
            draw.ellipse([x + dx - eye, y + 0.1 * r - eye, x + dx + eye, y + 0.1 * r + eye], fill=(30, 25, 20))


def _placed_heads(rng: np.random.Generator, width: int, height: int, wanted: int) -> list[tuple[float, float, float]]:
    heads: list[tuple[float, float, float]] = []
    for _ in range(20 * wanted):
        if len(heads) == wanted:
            break
        x, y = rng.uniform(0.03 * width, 0.97 * width), rng.uniform(0.15 * height, 0.85 * height)
        r = max(4.0, 0.048 * height * (0.4 + 0.8 * y / height))
        if all(np.hypot(x - hx, y - hy) >= 0.9 * (r + hr) for hx, hy, hr in heads):
            heads.append((float(x), float(y), float(r)))
    return heads


def _synthetic_scene(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, list[list[float]]]:
    canvas = _background(rng, width, height)
    draw = ImageDraw.Draw(canvas)
    # Heads in the upper 15%..85% of the frame; far (upper) people are smaller: head diameters from about
    # 4 % to 10 % of the image height (15 to 40 px at 384 px, 30 to 80 px at 768 px). No head may hide another
    # (centres at least 0.9 of the two radii apart), so every annotated head is visible, as in a real
    # annotation; a crowded frame places fewer people than it drew for rather than stacking them.
    heads = _placed_heads(rng, width, height, wanted=int(rng.integers(5, 41)))
    heads.sort(key=lambda head: head[1])  # draw far people first so nearer bodies overlap them, as in a scene
    points = []
    for x, y, r in heads:
        _draw_person(draw, rng, x, y, r)
        points.append([round(x, 1), round(y, 1)])
    return canvas.filter(ImageFilter.GaussianBlur(0.6)), points
