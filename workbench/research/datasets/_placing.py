"""Putting an annotation's points on its image: the EXIF frame they were clicked in, and stray points.

Every loader hands each image's points (and head boxes) to :meth:`Placement.place`, which

1. turns them upright when the image carries an EXIF orientation (``_frames``): in the frame ``points_frame``
   names, else in the format's convention (the public benchmarks: the pixels as stored), else, for a layout
   without one, in the one frame the points fit; an image whose points fit both is refused by name;
2. drops the points that lie outside the image by more than ``BOUNDS_TOLERANCE_PX`` as stray clicks, when they
   are at most ``STRAY_POINTS_MAX_SHARE`` of its points; more (or ``stray_points="refuse"``) is a ``DatasetError``
   naming the file, since such an annotation does not fit its image.

:meth:`Placement.finish` then raises one error listing every ambiguous image, and warns once listing the turned
images and once listing the dropped points, so one load says everything it resolved.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import DatasetError, DatasetWarning, some
from ._frames import FRAMES, ImageGeometry, read_geometry

__all__ = [
    "BOUNDS_TOLERANCE_PX",
    "STRAY_POINTS",
    "STRAY_POINTS_MAX_SHARE",
    "Placement",
    "PointRules",
    "check_point_options",
    "image_geometry",
]

#: How far (pixels) a point may lie outside its image before it counts as outside. Annotators click on the
#: border pixel, and MATLAB-made files use 1-based coordinates, so exact bounds would reject good data.
BOUNDS_TOLERANCE_PX = 2.0

#: What ``stray_points=`` does with points outside their image: ``"drop"`` them with a ``DatasetWarning`` naming
#: each, or ``"refuse"`` the dataset with a ``DatasetError``.
STRAY_POINTS = ("drop", "refuse")

#: The largest share of an image's points that ``stray_points="drop"`` drops as stray clicks (a public benchmark
#: has files with 1 stray of 2,550). More points outside means the annotation does not fit the image at all
#: (another image, a resized copy, x and y swapped, the other EXIF frame): refused either way, since dropping
#: would score the image against a fraction of its heads.
STRAY_POINTS_MAX_SHARE = 0.1

# The most dropped points one warning names; it gives the total too.
_NAMED_STRAYS = 10


def check_point_options(points_frame: str | None, stray_points: str) -> None:
    """Raise ``DatasetError`` for a ``points_frame`` or ``stray_points`` value that no loader knows."""
    if points_frame is not None and points_frame not in FRAMES:
        raise DatasetError(
            f"points_frame={points_frame!r}: use 'stored' (the points were clicked on the pixels as stored, EXIF "
            "orientation ignored), 'upright' (on the photo as its EXIF orientation turns it) or None (the "
            "format's convention)"
        )
    if stray_points not in STRAY_POINTS:
        raise DatasetError(
            f"stray_points={stray_points!r}: use 'drop' (points outside their image are dropped with a warning "
            "naming them) or 'refuse' (they make loading fail)"
        )


@dataclass(frozen=True)
class PointRules:
    """How one loader's points are placed.

    ``format`` names the loader in messages; ``convention`` is the frame its format's points are clicked in
    (``None``: the layout has none); ``frame`` is the caller's ``points_frame`` (``None``: the convention);
    ``strays`` is the caller's ``stray_points``.
    """

    format: str
    convention: str | None
    frame: str | None
    strays: str

    def __post_init__(self) -> None:
        check_point_options(self.frame, self.strays)


def image_geometry(path: Path) -> ImageGeometry:
    """The image's stored size and EXIF orientation, its header checked against the decode budget first."""
    from workbench.images import ImageTooLargeError, check_pixel_budget

    try:
        check_pixel_budget(path, str(path))
    except ImageTooLargeError as exc:
        raise DatasetError(f"{exc}; or leave the file out of the dataset") from None
    try:
        return read_geometry(path)
    except (OSError, SyntaxError) as exc:
        raise UnreadableHeader(f"{path}: cannot read the image header ({exc}); is the file a complete image?") from exc


class UnreadableHeader(DatasetError):
    """An image whose header cannot be read: its points cannot be placed, and it cannot be estimated either."""


def _outside(points: np.ndarray, width: float, height: float) -> np.ndarray:
    tol = BOUNDS_TOLERANCE_PX
    x, y = points[:, 0], points[:, 1]
    return (x < -tol) | (x > width + tol) | (y < -tol) | (y > height + tol)


class Placement:
    """One dataset load's placing of points: what it turned, dropped and could not tell, reported by ``finish``."""

    def __init__(self, rules: PointRules) -> None:
        self._rules = rules
        self._turned: list[str] = []
        self._ambiguous: list[str] = []
        self._dropped: list[str] = []
        self._unreadable: list[str] = []

    def place(
        self, points: np.ndarray, boxes: np.ndarray | None, annotation: Path, image: Path,
        geometry: ImageGeometry | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The points and boxes in the upright frame of the decoded image, stray points dropped.

        ``geometry`` is the image's, where the caller knows it (a video's frames); else it is read from ``image``.
        """
        if not len(points):
            return points, boxes
        try:
            geometry = geometry or image_geometry(image)
        except UnreadableHeader as error:
            # Kept as clicked: compare decodes every image before estimating and fails on this one, naming it, or
            # leaves it out with on_error="skip" (--on-error skip), so one broken file need not lose a run.
            self._unreadable.append(str(error))
            return points, boxes
        clicked = points
        frame = self._frame(points, geometry, image) if geometry.turned else None
        if frame == "stored":
            points = geometry.upright_points(points)
            boxes = None if boxes is None else geometry.upright_boxes(boxes)
        elif frame is None and geometry.turned:
            return points, boxes  # the frame cannot be told: finish() refuses the dataset, naming the image
        width, height = geometry.upright_size
        outside = _outside(points, width, height)
        if not outside.any():
            return points, boxes
        if self._rules.strays == "refuse" or outside.sum() > STRAY_POINTS_MAX_SHARE * len(points):
            raise DatasetError(self._refusal(points, clicked, outside, geometry, frame, annotation, image))
        self._dropped += [
            f"{annotation.name} point {i + 1} of {len(points)} at [x, y] = [{clicked[i, 0]:g}, {clicked[i, 1]:g}], "
            f"{_how_far_outside(points[i], width, height)} of the {width}x{height} image {image.name}"
            for i in np.flatnonzero(outside)
        ]
        keep = ~outside
        return points[keep], None if boxes is None else boxes[keep]

    def finish(self) -> None:
        """Refuse the load if any image's frame could not be told; warn about turned images and dropped points."""
        if self._ambiguous:
            raise DatasetError(
                f"{len(self._ambiguous)} image(s) carry an EXIF orientation and their points fit both the pixels "
                "as stored and the photo as the orientation turns it, so the frame they were clicked in cannot "
                f"be told ({self._rules.format} has no convention for it): {some(self._ambiguous, separator='; ')}. "
                "Pass points_frame='stored' (clicked on the pixels as stored, as MATLAB's imread and Pillow's "
                "Image.open show them) or points_frame='upright' (clicked on the photo as a viewer shows it); "
                "workbench compare: --points-frame"
            )
        # stacklevel 5: finish, _pair, the loader, load_dataset, then the caller's line.
        if self._turned:
            warnings.warn(
                f"{len(self._turned)} image(s) carry an EXIF orientation, so decoding turns them, and their points "
                f"were turned with them: {some(self._turned, separator='; ')}. Pass points_frame='stored' or "
                "'upright' if their points were clicked in the other frame",
                DatasetWarning,
                stacklevel=5,
            )
        if self._unreadable:
            warnings.warn(
                f"{len(self._unreadable)} annotated image(s) cannot be read, so their points could not be checked "
                f"against them: {some(self._unreadable, separator='; ')}. compare fails on them, naming them, unless "
                "on_error='skip' (workbench compare --on-error skip) leaves them out",
                DatasetWarning,
                stacklevel=5,
            )
        if self._dropped:
            warnings.warn(
                f"{len(self._dropped)} annotation point(s) lie outside their image by more than "
                f"{BOUNDS_TOLERANCE_PX:g} px and were dropped as stray clicks: "
                f"{some(self._dropped, _NAMED_STRAYS, separator='; ')}. stray_points='refuse' makes such a "
                "dataset an error instead",
                DatasetWarning,
                stacklevel=5,
            )

    def _frame(self, points: np.ndarray, geometry: ImageGeometry, image: Path) -> str | None:
        """The frame a turned image's points were clicked in; ``None`` (noted) when that cannot be told."""
        rules = self._rules
        if rules.frame is not None:
            return rules.frame
        turn = geometry.describe_turn()
        if rules.convention is not None:
            self._turned.append(f"{image.name} ({turn}; read as clicked on the {rules.convention} pixels, "
                                f"{rules.format}'s convention)")
            return rules.convention
        misses = {
            "stored": int(_outside(points, geometry.width, geometry.height).sum()),
            "upright": int(_outside(points, *geometry.upright_size).sum()),
        }
        if misses["stored"] == misses["upright"]:
            self._ambiguous.append(f"{image.name} ({turn})")
            return None
        frame = min(misses, key=lambda name: misses[name])
        fit = "the only frame they fit" if misses[frame] == 0 else "the frame more of them fit"
        self._turned.append(f"{image.name} ({turn}; read as clicked on the {frame} pixels, {fit})")
        return frame

    def _refusal(
        self,
        points: np.ndarray,
        clicked: np.ndarray,
        outside: np.ndarray,
        geometry: ImageGeometry,
        frame: str | None,
        annotation: Path,
        image: Path,
    ) -> str:
        width, height = geometry.upright_size
        share = f"{STRAY_POINTS_MAX_SHARE:.0%}"
        other = {"stored": "upright", "upright": "stored"}.get(frame or "")
        if outside.sum() <= STRAY_POINTS_MAX_SHARE * len(points):
            hint = f"stray_points='drop' drops up to {share} of an image's points with a warning naming them"
        elif other is not None and not _outside(
            geometry.upright_points(clicked) if other == "stored" else clicked, width, height
        ).any():
            hint = (f"they all fit when read as clicked on the {other} pixels ({geometry.describe_turn()}): "
                    f"pass points_frame={other!r}")
        elif not _outside(points[:, ::-1], width, height).any():
            hint = "x and y look swapped (x must be the column, y the row)"
        else:
            hint = (f"more than {share} of its points are too many to drop as stray clicks: is the annotation "
                    "for a different or resized image?")
        return (
            f"{annotation}: {int(outside.sum())} of {len(points)} points lie outside the {width}x{height} image "
            f"{image.name} by more than {BOUNDS_TOLERANCE_PX:g} px (e.g. [x, y] = {clicked[outside][0].tolist()}); "
            f"{hint}"
        )


def _how_far_outside(point: np.ndarray, width: int, height: int) -> str:
    """``"358 px left"``, ``"12 px right and 4 px below"``: where a point lies beyond the image's edges."""
    x, y = float(point[0]), float(point[1])
    beyond = [(-x, "left"), (x - width, "right"), (-y, "above"), (y - height, "below")]
    return " and ".join(f"{distance:.0f} px {side}" for distance, side in beyond if distance > BOUNDS_TOLERANCE_PX)
