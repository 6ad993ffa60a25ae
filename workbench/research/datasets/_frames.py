"""The frame of an image's head points: EXIF orientation, and turning stored-pixel points upright.

Cameras store a portrait photo as landscape pixels plus an EXIF orientation tag. ``workbench.images.load_image``
applies the tag (as Pillow's ``ImageOps.exif_transpose`` does), so estimators, plots and metrics see the photo
upright. An annotation tool may have shown its annotator either picture, and tools disagree (MATLAB's ``imread``
and Pillow's ``Image.open`` ignore the tag; photo viewers and some labelling tools apply it):

``"stored"``
    the points were clicked on the pixel array as stored, tag ignored;
``"upright"``
    the points were clicked on the photo as the tag turns it, as the workbench decodes it.

Loaders turn every sample's points into the upright frame, so that they lie on the image estimators see.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

__all__ = ["FRAMES", "ImageGeometry", "read_geometry"]

#: The frames ``points_frame=`` names.
FRAMES = ("stored", "upright")

# What each EXIF orientation does to the stored pixels to stand them upright (Pillow's exif_transpose does the
# same; a value outside 2..8 leaves the pixels as they are there too).
_TURNS = {
    2: "mirrored left to right",
    3: "turned 180 degrees",
    4: "mirrored top to bottom",
    5: "mirrored along the main diagonal",
    6: "turned 90 degrees clockwise",
    7: "mirrored along the other diagonal",
    8: "turned 90 degrees counter-clockwise",
}
_SIDES_SWAPPED = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class ImageGeometry:
    """An image's stored size and the EXIF orientation that decoding applies to it."""

    width: int
    height: int
    orientation: int

    @property
    def turned(self) -> bool:
        """Whether decoding turns or mirrors the stored pixels."""
        return self.orientation in _TURNS

    @property
    def upright_size(self) -> tuple[int, int]:
        """``(width, height)`` as decoded: a turn by 90 degrees swaps the sides."""
        return (self.height, self.width) if self.orientation in _SIDES_SWAPPED else (self.width, self.height)

    def describe_turn(self) -> str:
        """The orientation tag and what it does, for messages."""
        return f"EXIF orientation {self.orientation}: {_TURNS[self.orientation]}"

    def upright_points(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` points ``(x, y)`` on the stored pixels, moved to where decoding puts those pixels."""
        # Continuous pixel coordinates: the centre of stored column i, at x = i + 0.5, lands on column w - 1 - i
        # when mirrored, whose centre is w - x.
        w, h = float(self.width), float(self.height)
        x, y = points[:, 0], points[:, 1]
        moved = {
            2: (w - x, y),
            3: (w - x, h - y),
            4: (x, h - y),
            5: (y, x),
            6: (h - y, x),
            7: (h - y, w - x),
            8: (y, w - x),
        }.get(self.orientation, (x, y))
        return np.stack(moved, axis=1) if len(points) else points

    def upright_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` boxes ``(x1, y1, x2, y2)`` on the stored pixels, moved as ``upright_points`` moves corners."""
        first = self.upright_points(boxes[:, :2])
        second = self.upright_points(boxes[:, 2:])
        return np.concatenate([np.minimum(first, second), np.maximum(first, second)], axis=1)


def read_geometry(path: Path) -> ImageGeometry:
    """The image's stored size and EXIF orientation, from its header (no pixel is decoded).

    Raises ``OSError`` or ``SyntaxError`` as Pillow does for a file it cannot read.
    """
    with Image.open(path) as img:
        width, height = img.size
        orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    return ImageGeometry(width, height, orientation if isinstance(orientation, int) else 1)
