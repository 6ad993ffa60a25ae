"""Data for the density-map counter: dataset loading, synthetic scenes, ground truth and augmentation.

Only numpy, pillow and scipy: the evaluation script and the tests use this module without torch.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageOps
from scipy.ndimage import gaussian_filter


@dataclass(frozen=True)
class Sample:
    """One annotated photo: the RGB image and its head points ``(N, 2)`` as (x = column, y = row) pixels."""

    name: str
    image: Image.Image
    points: np.ndarray

    @property
    def count(self) -> int:
        """The annotated number of people."""
        return int(len(self.points))


def load_split(data_dir: str | Path, split: str | None) -> list[Sample]:
    """The annotated samples of a dataset split (``None``: every image), decoded to RGB and kept in memory.

    Any layout :func:`workbench.research.datasets.load_dataset` reads (crowd-mini, ShanghaiTech, UCF-QNRF,
    NWPU-Crowd, JHU-Crowd++), with its split rules: ``"train"`` is ShanghaiTech's ``train_data`` and
    crowd-mini's ``*_train_*`` files. Training needs head points, so unannotated images are an error.

    Raises:
        FileNotFoundError: the folder cannot be read as a dataset, or holds images without annotations.
    """
    from workbench.research.datasets import DatasetError, load_dataset

    try:
        dataset = load_dataset(data_dir, split=split)
    except DatasetError as error:
        raise FileNotFoundError(str(error)) from error
    unannotated = [sample.name for sample in dataset if sample.points is None]
    if unannotated:
        raise FileNotFoundError(f"{data_dir}: {len(unannotated)} image(s) without head points, e.g. "
                                f"{unannotated[0]}; training needs annotated images only")
    samples = []
    for sample in dataset:
        with Image.open(sample.image_path) as image:
            # Upright, as the workbench decodes images and as the dataset loaders turn the points.
            rgb = ImageOps.exif_transpose(image).convert("RGB")
        samples.append(Sample(sample.name, rgb, np.asarray(sample.points, np.float32).reshape(-1, 2)))
    return samples


def synthetic_samples(
    n: int,
    size: tuple[int, int] = (256, 192),
    seed: int = 0,
    people: tuple[int, int] = (1, 8),
    head_radius: tuple[float, float] = (4.0, 9.0),
) -> list[Sample]:
    """Tiny fake scenes: cartoon figures (dark hair over a skin-tone face over a coloured torso) on a noisy
    background, with the head centres as points.

    For tests and smoke runs of the training script (no real data needed). A model trained on real photos
    counts these figures only weakly, and one trained on them counts cartoons, not people.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    samples = []
    for index in range(n):
        background = rng.uniform(60, 200, size=3)
        pixels = np.clip(background + rng.normal(0, 12, size=(height, width, 3)), 0, 255).astype(np.uint8)
        image = Image.fromarray(pixels, "RGB")
        draw = ImageDraw.Draw(image)
        points = []
        for _ in range(int(rng.integers(people[0], people[1] + 1))):
            r = float(rng.uniform(*head_radius))
            x = float(rng.uniform(2 * r, width - 2 * r))
            y = float(rng.uniform(1.5 * r, max(1.5 * r + 1, height - 5 * r)))
            shirt = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.rectangle([x - 1.6 * r, y + 1.1 * r, x + 1.6 * r, y + 5 * r], fill=shirt)
            draw.ellipse([x - 0.8 * r, y - r, x + 0.8 * r, y + r], fill=(190, 140, 110))
            draw.chord([x - 0.85 * r, y - 1.05 * r, x + 0.85 * r, y + 0.6 * r], 180, 360, fill=(25, 20, 20))
            points.append((x, y))
        samples.append(Sample(f"synthetic_{index}", image, np.asarray(points, np.float32).reshape(-1, 2)))
    return samples


def tile(parts: list[tuple[Image.Image, np.ndarray]], grid: int, tile_size: tuple[int, int]) -> tuple[Image.Image, np.ndarray]:
    """A ``grid`` x ``grid`` mosaic of images, each resized to ``tile_size`` (width, height), with their points.

    Shrinking ``grid**2`` photos into the frame of one multiplies the people per pixel by about ``grid**2``
    and divides head sizes by ``grid``, with the ground truth still exact: the denser scenes used to widen
    and to measure the model's range. ``parts`` fill the grid row by row.
    """
    if len(parts) != grid * grid:
        raise ValueError(f"a {grid}x{grid} mosaic needs {grid * grid} images, got {len(parts)}")
    tile_width, tile_height = tile_size
    mosaic = Image.new("RGB", (tile_width * grid, tile_height * grid))
    placed = []
    for index, (image, points) in enumerate(parts):
        row, column = divmod(index, grid)
        mosaic.paste(image.resize(tile_size, Image.Resampling.BILINEAR), (column * tile_width, row * tile_height))
        factor = np.array([tile_width / image.size[0], tile_height / image.size[1]], np.float32)
        placed.append(points * factor + np.array([column * tile_width, row * tile_height], np.float32))
    return mosaic, np.concatenate(placed).reshape(-1, 2).astype(np.float32)


def mosaic_samples(samples: list[Sample], grid: int, n: int, seed: int = 0) -> list[Sample]:
    """``n`` seeded ``grid`` x ``grid`` mosaics of ``samples`` at the size of the first one (drawn without
    replacement while there are enough, so each mosaic holds distinct photos when ``len(samples) >= grid**2``)."""
    rng = np.random.default_rng(seed)
    width, height = samples[0].image.size
    out = []
    for index in range(n):
        chosen = rng.choice(len(samples), grid * grid, replace=len(samples) < grid * grid)
        image, points = tile([(samples[i].image, samples[i].points) for i in chosen], grid,
                             (width // grid, height // grid))
        out.append(Sample(f"mosaic{grid}x{grid}_{index}", image, points))
    return out


def render_density(points: np.ndarray, out_shape: tuple[int, int], stride: int, sigma: float) -> np.ndarray:
    """Ground-truth density at output resolution: one unit-mass Gaussian per head point.

    Points are split bilinearly between the four output cells around their position (cell centres sit at
    ``stride * (j + 0.5)`` input pixels), then blurred with ``sigma`` output cells. ``mode="reflect"`` keeps
    the mass of heads at the border inside the map, so ``density.sum() == len(points)`` (to float rounding).
    """
    height, width = out_shape
    density = np.zeros((height, width), np.float64)
    if len(points):
        u = points[:, 0] / stride - 0.5
        v = points[:, 1] / stride - 0.5
        u0, v0 = np.floor(u), np.floor(v)
        du, dv = u - u0, v - v0
        for off_v, weight_v in ((0, 1 - dv), (1, dv)):
            for off_u, weight_u in ((0, 1 - du), (1, du)):
                cols = np.clip(u0 + off_u, 0, width - 1).astype(np.int64)
                rows = np.clip(v0 + off_v, 0, height - 1).astype(np.int64)
                np.add.at(density, (rows, cols), weight_u * weight_v)
    if sigma > 0:
        density = gaussian_filter(density, sigma, mode="reflect", truncate=4.0)
    return density.astype(np.float32)


def normalise(pixels: np.ndarray, scale: float, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(pixels * scale - mean) / std`` on an ``(H, W, C)`` array, returned as float32 ``(C, H, W)``."""
    array = (pixels.astype(np.float32) * np.float32(scale) - mean.astype(np.float32)) / std.astype(np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


@dataclass(frozen=True)
class Augmentation:
    """Random crop with scale jitter, horizontal flip and colour jitter of one training sample.

    Scale jitter matters because head sizes in crowd-mini span roughly 10 to 100 pixels; colour jitter and
    the occasional grey image because the photos' white balance and saturation vary a lot.
    """

    crop: int = 320
    scale_range: tuple[float, float] = (0.7, 1.4)
    colour: float = 0.3
    grey_probability: float = 0.1

    def __call__(self, sample: Sample, rng: np.random.Generator) -> tuple[Image.Image, np.ndarray]:
        """A ``crop`` x ``crop`` RGB image and the head points inside it, in its pixels."""
        width, height = sample.image.size
        # Log-uniform so zooming in and out are equally likely.
        scale = float(np.exp(rng.uniform(np.log(self.scale_range[0]), np.log(self.scale_range[1]))))
        # The source window can't exceed the image: small images get zoomed in instead.
        scale = max(scale, self.crop / width, self.crop / height)
        window = self.crop / scale
        x0 = float(rng.uniform(0, width - window))
        y0 = float(rng.uniform(0, height - window))
        image = sample.image.resize(
            (self.crop, self.crop), Image.Resampling.BILINEAR, box=(x0, y0, x0 + window, y0 + window)
        )
        points = (sample.points - np.array([x0, y0], np.float32)) * scale
        inside = (points[:, 0] >= 0) & (points[:, 0] < self.crop) & (points[:, 1] >= 0) & (points[:, 1] < self.crop)
        points = points[inside]
        if rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            points = points.copy()
            points[:, 0] = self.crop - points[:, 0]
        if self.colour > 0:
            low, high = 1 - self.colour, 1 + self.colour
            image = ImageEnhance.Brightness(image).enhance(rng.uniform(low, high))
            image = ImageEnhance.Contrast(image).enhance(rng.uniform(low, high))
            image = ImageEnhance.Color(image).enhance(rng.uniform(low, high))
        if rng.random() < self.grey_probability:
            image = image.convert("L").convert("RGB")
        return image, points.astype(np.float32)
