"""Huge images under a memory budget: estimate tile by tile (or on a downscaled copy) and stitch one density map.

A density model's memory grows with the pixels it sees: its feature maps are tens of float32 values per input
pixel, so one 8000x6000 photo (UCF-QNRF has them) needs gigabytes in one ``session.run``. ``TilingEstimator``
wraps a density estimator (``OnnxDensityEstimator``: anything with ``stride``, ``points`` and density-map
results) and leaves images under ``max_pixels`` to it untouched. Above the budget:

``mode="tile"`` (default)
    The counted area is cut into a grid of tiles of at most ``max_pixels``, each grown by ``overlap`` pixels of
    context on every inner side (a head near a tile's edge is seen whole). Each tile runs alone; only its
    *core* (the tile without the context) is kept, and the cores partition the area, so every density cell is
    counted exactly once. Head points are then located once on the stitched map, so a head on a seam is
    found once, not once per tile. Count and points match an untiled run to within the context effect
    (under 1 % on the project's tests).
``mode="resize"``
    The area is downscaled to fit the budget and estimated once; points are scaled back. Faster, but people
    shrink with the image, which moves the count more than tiling does.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from .._checks import choice, whole_number
from ..plugins import EstimatorBase
from ..images import image_size, parse_targets, rgb_pixels
from ..result import CountResult
from ..sdk import EstimationTargets, ImageForPeopleEstimation, Rect, VLImage

__all__ = [
    "DEFAULT_MAX_PIXELS", "DEFAULT_OVERLAP", "LARGE_IMAGES_ENV", "MAX_PIXELS_ENV", "TilingEstimator", "tile_grid",
    "tile_large_images", "tiling_from_environment",
]

#: Pixels one run may see: 4 MP (about 2300x1730) keeps the default model's peak near 0.5 GiB.
DEFAULT_MAX_PIXELS = 4_000_000
#: Context added on each inner side of a tile, in pixels: at 128 the default model's tiled maps equal untiled ones.
DEFAULT_OVERLAP = 128

#: ``$WORKBENCH_ESTIMATE_MAX_PIXELS``: the default estimator's budget (0 turns tiling off).
MAX_PIXELS_ENV = "WORKBENCH_ESTIMATE_MAX_PIXELS"
#: ``$WORKBENCH_LARGE_IMAGES``: ``tile`` (default) or ``resize``.
LARGE_IMAGES_ENV = "WORKBENCH_LARGE_IMAGES"

TileMode = Literal["tile", "resize"]
_TILE_MODES: tuple[TileMode, ...] = get_args(TileMode)


def tile_large_images(estimator: Any) -> Any:
    """``estimator`` wrapped in a ``TilingEstimator`` with the budget and mode from the environment, or as it
    is when ``$WORKBENCH_ESTIMATE_MAX_PIXELS`` is 0. Used for the default estimator.

    Raises:
        ValueError: the variables hold something else than a whole number / ``tile`` or ``resize``.
    """
    max_pixels, mode = tiling_from_environment()
    if mode is None:
        return estimator
    return TilingEstimator(estimator, max_pixels=max_pixels, mode=mode)


def tiling_from_environment() -> tuple[int, TileMode | None]:
    """The budget and mode ``tile_large_images`` reads from the environment; the mode is ``None`` where tiling
    is off (``$WORKBENCH_ESTIMATE_MAX_PIXELS`` is 0). They change the default's answers, so the prediction
    cache's key holds them too (``workbench.host._identity``).

    Raises:
        ValueError: the variables hold something else than a whole number / ``tile`` or ``resize``.
    """
    raw = os.environ.get(MAX_PIXELS_ENV, str(DEFAULT_MAX_PIXELS))
    try:
        max_pixels = int(raw)
    except ValueError:
        raise ValueError(f"${MAX_PIXELS_ENV} must be a whole number of pixels (0: no tiling), got {raw!r}") from None
    if max_pixels <= 0:
        return 0, None
    return max_pixels, choice(os.environ.get(LARGE_IMAGES_ENV, "tile"), f"${LARGE_IMAGES_ENV}", _TILE_MODES)


def tile_grid(
    width: int, height: int, max_pixels: int, overlap: int, align: int
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """Cut a ``width x height`` area into tiles of at most ``max_pixels`` including their context.

    Returns ``(core, tile)`` pairs of ``(x0, y0, x1, y1)`` boxes relative to the area: the cores partition
    the area, and each tile is its core grown by ``overlap`` on the sides that face another tile. Core edges
    fall on multiples of ``align`` (the model's stride), so each core is a whole block of density cells.
    """
    if max_pixels < (2 * overlap + align) ** 2:
        raise ValueError(
            f"max_pixels={max_pixels} is too small for tiles with overlap={overlap}; allow at least "
            f"{(2 * overlap + align) ** 2} pixels per tile"
        )
    columns, rows = 1, 1
    while True:
        core_w = math.ceil(width / columns / align) * align
        core_h = math.ceil(height / rows / align) * align
        if (core_w + 2 * overlap) * (core_h + 2 * overlap) <= max_pixels:
            break
        # Split the longer side of the tile first: tiles stay close to square, which wastes the least context.
        if core_w >= core_h:
            columns += 1
        else:
            rows += 1
    tiles = []
    for row in range(rows):
        for column in range(columns):
            x0, y0 = column * core_w, row * core_h
            x1, y1 = min(width, x0 + core_w), min(height, y0 + core_h)
            if x0 >= width or y0 >= height:
                continue
            tile = (max(0, x0 - overlap), max(0, y0 - overlap), min(width, x1 + overlap), min(height, y1 + overlap))
            tiles.append(((x0, y0, x1, y1), tile))
    return tiles


class TilingEstimator(EstimatorBase):
    """``inner`` on images up to ``max_pixels``; larger ones tiled (or resized) as the module docstring says.

    Raises:
        ValueError: a bad ``max_pixels``, ``overlap`` or ``mode``.
    """

    def __init__(
        self,
        inner: Any,
        *,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        overlap: int = DEFAULT_OVERLAP,
        mode: TileMode = "tile",
    ) -> None:
        whole_number(max_pixels, "max_pixels", minimum=1, unit="pixels")
        whole_number(overlap, "overlap", minimum=0, unit="pixels")
        choice(mode, "mode", _TILE_MODES)
        self.inner = inner
        self.max_pixels = max_pixels
        self.overlap = overlap
        self.mode = mode
        self.name = getattr(inner, "name", type(inner).__name__)

    def close(self) -> None:
        self.inner.close()

    async def estimateBatch(
        self,
        images: Sequence[Any],
        estimationTargets: EstimationTargets | str = EstimationTargets.T1,
        asyncEstimate: bool = True,
    ) -> list[CountResult]:
        """One ``CountResult`` per image, in order; images within the budget go to ``inner`` in one batch."""
        targets = parse_targets(estimationTargets)
        regions = [_region(entry, index) for index, entry in enumerate(images)]
        small = [i for i, (_, box) in enumerate(regions) if (box[2] - box[0]) * (box[3] - box[1]) <= self.max_pixels]
        results: list[CountResult | None] = [None] * len(images)
        if small:
            batch = await self.inner.estimateBatch([images[i] for i in small], targets, asyncEstimate)
            for i, result in zip(small, batch):
                results[i] = result
        for i, (image, box) in enumerate(regions):
            if results[i] is None:
                large = self._tiled if self.mode == "tile" else self._resized
                results[i] = await large(image, box, targets, asyncEstimate)
        return results  # type: ignore[return-value]  # every slot filled above

    async def _tiled(
        self, image: VLImage, box: tuple[int, int, int, int], targets: EstimationTargets, asyncEstimate: bool
    ) -> CountResult:
        stride = int(self.inner.stride)
        left, top, right, bottom = box
        width, height = right - left, bottom - top
        stitched = np.zeros((math.ceil(height / stride), math.ceil(width / stride)), dtype=np.float32)
        elapsed = 0.0
        for (cx0, cy0, cx1, cy1), (tx0, ty0, tx1, ty1) in tile_grid(width, height, self.max_pixels, self.overlap, stride):
            area = Rect(left + tx0, top + ty0, tx1 - tx0, ty1 - ty0)
            # One tile per call: batching tiles would put several of them in memory at once.
            [part] = await self.inner.estimateBatch(
                [ImageForPeopleEstimation(image, area)], EstimationTargets.T2, asyncEstimate
            )
            elapsed += part.elapsed or 0.0
            density = part.densityMap
            if density is None:
                raise TypeError(f"{self.name}: tiling needs density maps, and the estimator returned none")
            # The core's cells inside this tile's map (tile and core edges are multiples of the stride).
            rows = slice((cy0 - ty0) // stride, (cy0 - ty0) // stride + math.ceil((cy1 - cy0) / stride))
            cols = slice((cx0 - tx0) // stride, (cx0 - tx0) // stride + math.ceil((cx1 - cx0) / stride))
            core = density[rows, cols]
            stitched[cy0 // stride:cy0 // stride + core.shape[0], cx0 // stride:cx0 // stride + core.shape[1]] = core
        return self._result(stitched, stride, box, targets, elapsed)

    async def _resized(
        self, image: VLImage, box: tuple[int, int, int, int], targets: EstimationTargets, asyncEstimate: bool
    ) -> CountResult:
        from PIL import Image

        left, top, right, bottom = box
        scale = math.sqrt(self.max_pixels / ((right - left) * (bottom - top)))
        pixels = rgb_pixels(image, Rect(left, top, right - left, bottom - top))
        size = (max(1, int((right - left) * scale)), max(1, int((bottom - top) * scale)))
        small = VLImage(np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR)))
        del pixels
        [part] = await self.inner.estimateBatch([small], EstimationTargets.T2, asyncEstimate)
        if part.densityMap is None:
            raise TypeError(f"{self.name}: resizing needs density maps, and the estimator returned none")
        # The map covers the resized image; in original pixels each cell is stride / scale wide.
        effective = float(self.inner.stride) * (right - left) / size[0]
        return self._result(np.asarray(part.densityMap), effective, box, targets, part.elapsed or 0.0)

    def _result(
        self, density: np.ndarray, cell: float, box: tuple[int, int, int, int], targets: EstimationTargets,
        elapsed: float,
    ) -> CountResult:
        started = time.perf_counter()
        left, top, right, bottom = box
        count = max(0, round(float(density.sum(dtype=np.float64))))
        points = np.zeros((0, 2))
        if targets is EstimationTargets.T1:
            located = self.inner.points.locate(density, count, scale=cell, offset=(left, top))
            points = np.array(located, dtype=np.float64).reshape(-1, 2)
            np.clip(points[:, 0], left, right - 0.5, out=points[:, 0])
            np.clip(points[:, 1], top, bottom - 0.5, out=points[:, 1])
        declared = getattr(getattr(self.inner, "description", None), "range", None)
        judged = {} if declared is None else declared.result_fields(density, (right - left) * (bottom - top))
        return CountResult(
            count, points, densityMap=density,
            densityArea=Rect(left, top, round(density.shape[1] * cell), round(density.shape[0] * cell)),
            estimatorName=self.name, elapsed=elapsed + time.perf_counter() - started,
            inRange=judged.get("inRange"),
            extras={"large_image": self.mode, "max_pixels": self.max_pixels, **judged.get("extras", {})},
        )

    def __getattr__(self, name: str) -> Any:
        # Everything else (stride, providers, description, points, ...) is the wrapped estimator's.
        if name == "inner":  # not set yet (during unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"TilingEstimator({self.inner!r}, max_pixels={self.max_pixels}, overlap={self.overlap}, mode={self.mode!r})"


def _region(entry: Any, index: int) -> tuple[VLImage, tuple[int, int, int, int]]:
    """The image and the pixel box to count in: its detect area, or the whole image."""
    if isinstance(entry, ImageForPeopleEstimation):
        image, area = entry.image, entry.detectArea
    elif isinstance(entry, tuple) and len(entry) == 2:
        image, area = entry
    else:
        image, area = entry, None
    if not isinstance(image, VLImage):
        raise TypeError(f"image {index}: expected a VLImage, an ImageForPeopleEstimation or a (VLImage, Rect) pair, "
                        f"got {type(image).__name__}")
    width, height = image_size(image)
    if area is None:
        return image, (0, 0, width, height)
    x0, y0 = max(0, int(area.x)), max(0, int(area.y))
    return image, (x0, y0, min(width, int(area.x + area.width)), min(height, int(area.y + area.height)))
