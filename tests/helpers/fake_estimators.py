"""Small, real estimators for host tests that must not depend on a model file.

They count the bright pixels of an image: deterministic, fast, and different from each other, so a test
can tell which one answered.
"""
from __future__ import annotations

import numpy as np

from workbench.plugins import AppConfig, EstimatorBase
from workbench.result import CountResult
from workbench.sdk import VLImage


def bright_pixels(image: object, threshold: int) -> np.ndarray:
    if isinstance(image, VLImage):
        picture, offset = image, np.zeros(2)
    else:  # an ImageForPeopleEstimation or an (image, Rect) pair
        picture, area = image
        picture, offset = picture.crop(area), np.array([int(area.x), int(area.y)])
    ys, xs = np.nonzero(picture.asNPArray().max(axis=2) > threshold)
    return np.stack([xs, ys], axis=1).astype(float) + offset


class BrightPixelCounter(EstimatorBase):
    """Counts pixels brighter than ``threshold``; records whether it was closed."""

    def __init__(self, threshold: int = 200) -> None:
        self.threshold = threshold
        self.closed = False
        self.batches = 0

    def close(self) -> None:
        self.closed = True

    async def estimateBatch(self, images, estimationTargets, asyncEstimate=True):
        self.batches += 1
        found = [bright_pixels(image, self.threshold) for image in images]
        return [CountResult(len(points), points) for points in found]


def default_factories() -> dict:
    """A stand-in default people counter for tests that exercise the host, not the bundled model."""
    return {"peopleCountEstimator": lambda config: BrightPixelCounter(threshold=200)}


def spot_image(spots: list[tuple[int, int]], size: tuple[int, int] = (64, 48)) -> VLImage:
    """A dark image with one white pixel at each (x, y)."""
    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    for x, y in spots:
        pixels[y, x] = 255
    return VLImage(pixels)


__all__ = ["AppConfig", "BrightPixelCounter", "bright_pixels", "default_factories", "spot_image"]
