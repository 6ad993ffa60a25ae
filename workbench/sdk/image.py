"""``VLImage``: a decoded image with the service's name and the part of its interface that plugins use.

Whatever it is built from (a path, encoded bytes, a numpy array, a Pillow image), a ``VLImage`` holds one
RGB, uint8, height x width x 3, C-contiguous numpy array. Every problem with the input is reported at
construction as an ``ImageDecodeError`` that names the source, says what is wrong and how to fix it, so
that a bad file fails where it is loaded and not deep inside an estimator.

Pillow's decompression-bomb guard (``PIL.Image.MAX_IMAGE_PIXELS``) is left on: a research notebook opens
files of unknown origin, and a multi-gigapixel image would exhaust memory. Raise the limit yourself if you
trust a huge image.
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .geometry import Rect

__all__ = ["ImageDecodeError", "ImageSource", "VLImage"]

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray | Image.Image

# Longest side of the picture Jupyter shows; the full image stays available via asPillow().
_REPR_MAX_SIDE = 512

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


class ImageDecodeError(ValueError):
    """The input could not be turned into an RGB image; the message names the source and the fix."""


class VLImage:
    """An RGB uint8 image.

    Args:
        body: a file path (``str`` or ``os.PathLike``); encoded image bytes (``bytes``, ``bytearray``,
            ``memoryview``) in any format Pillow reads (JPEG, PNG, BMP, WEBP, TIFF, ...); a numpy array
            (uint8 or uint16, HxW, HxWx1, HxWx3 or HxWx4, channels in RGB(A) order: an OpenCV BGR array
            needs ``arr[..., ::-1]`` first); or a ``PIL.Image.Image``.
        filename: a name shown in messages and reprs; defaults to the path when ``body`` is a path.

    Decoding applies the EXIF orientation, so a photo comes out upright as a viewer shows it. Grayscale,
    palette, CMYK and 16-bit images are converted to 8-bit RGB; images with transparency are composited
    over white. Of a multi-frame file (GIF, TIFF) the first frame is used. Arrays are copied, so changing
    the caller's array later does not change the image.

    Raises:
        ImageDecodeError: the input is not a readable image.
        TypeError: ``body`` is of an unsupported type.
    """

    __slots__ = ("_array", "_filename")

    def __init__(self, body: ImageSource, filename: str = "") -> None:
        if isinstance(body, (str, os.PathLike)):
            path = Path(body)
            name = filename or str(path)
            array = _decodeBytes(_readFile(path, name), name)
        elif isinstance(body, (bytes, bytearray, memoryview)):
            data = bytes(body)
            name = filename
            array = _decodeBytes(data, filename or f"bytes ({len(data)} bytes)")
        elif isinstance(body, np.ndarray):
            name = filename
            array = _arrayToRgb(body, filename or f"numpy array {body.dtype} {body.shape}")
            if np.may_share_memory(array, body):
                # The caller keeps their array; the image must not change when they write to it later.
                array = array.copy()
        elif isinstance(body, Image.Image):
            name = filename or getattr(body, "filename", "") or ""
            array = _pillowToRgb(body, name or f"Pillow image ({body.mode} {body.width}x{body.height})")
        else:
            raise TypeError(
                "VLImage body must be a path (str or os.PathLike), encoded image bytes, a numpy array or a "
                f"PIL.Image.Image, got {type(body).__name__}"
            )
        self._array = _freeze(array)
        self._filename = name

    @classmethod
    def load(cls, filename: str | os.PathLike) -> VLImage:
        """Read and decode the image file at ``filename``."""
        return cls(filename)

    @classmethod
    def _fromRgb(cls, array: np.ndarray, filename: str) -> VLImage:
        """Wrap an array that is already RGB uint8 HWC, skipping the input checks (used by ``crop``)."""
        image = cls.__new__(cls)
        image._array = _freeze(array)
        image._filename = filename
        return image

    @property
    def filename(self) -> str:
        """The name given at construction or the path read; ``""`` for anonymous bytes and arrays."""
        return self._filename

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self._array.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self._array.shape[0])

    @property
    def rect(self) -> Rect:
        """The whole image: ``Rect(0, 0, width, height)``."""
        return Rect(0, 0, self.width, self.height)

    def asNPArray(self) -> np.ndarray:
        """A fresh, writable copy of the pixels: uint8, shape (height, width, 3), RGB, C-contiguous.

        A copy (not a view) because estimators commonly normalise or transpose in place before feeding a
        model; a copy of a camera frame costs about a millisecond, far less than the inference it feeds.
        """
        return self._array.copy()

    def asPillow(self) -> Image.Image:
        """The image as a new Pillow ``RGB`` image (independent of this one)."""
        return Image.fromarray(self._array)

    def crop(self, rect: Rect) -> VLImage:
        """The part of the image inside ``rect``, as a new ``VLImage``.

        ``rect`` must have a positive width and height and lie entirely inside the image. Non-integer
        coordinates are rounded outwards to whole pixels (left and top down, right and bottom up), so the
        crop covers the whole rectangle and its top-left pixel is ``(int(rect.x), int(rect.y))``, the
        offset a plugin adds to map points in the crop back to the image.

        Raises:
            ValueError: ``rect`` is empty or not entirely inside the image.
        """
        left, top, right, bottom = pixelBounds(rect, self.width, self.height, "crop area")
        return VLImage._fromRgb(self._array[top:bottom, left:right], self._filename)

    def _repr_png_(self) -> bytes:
        """PNG for Jupyter, downscaled so that the longest side is at most 512 px."""
        picture = self.asPillow()
        picture.thumbnail((_REPR_MAX_SIDE, _REPR_MAX_SIDE))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return buffer.getvalue()

    def __repr__(self) -> str:
        name = f", filename={self._filename!r}" if self._filename else ""
        return f"VLImage({self.width}x{self.height}{name})"


def pixelBounds(rect: Rect, width: int, height: int, what: str) -> tuple[int, int, int, int]:
    """Check that ``rect`` is a non-empty area inside a ``width`` x ``height`` image; return its pixels.

    Returns ``(left, top, right, bottom)`` as slice bounds, rounded outwards as ``VLImage.crop`` documents.

    Raises:
        TypeError: ``rect`` is not a ``Rect``.
        ValueError: ``rect`` is empty or not entirely inside the image; the message names both sizes.
    """
    if not isinstance(rect, Rect):
        raise TypeError(f"{what} must be a Rect, got {type(rect).__name__}")
    if not rect.isValid():
        raise ValueError(f"{what} {rect!r} is empty: width and height must be positive")
    if not Rect(0, 0, width, height).contains(rect):
        raise ValueError(
            f"{what} {rect!r} is not inside the image ({width}x{height}); it must satisfy 0 <= x, 0 <= y, "
            f"x + width <= {width}, y + height <= {height} (clip it with rect & image.rect)"
        )
    return (
        math.floor(rect.x),
        math.floor(rect.y),
        math.ceil(rect.x + rect.width),
        math.ceil(rect.y + rect.height),
    )


def _freeze(array: np.ndarray) -> np.ndarray:
    """Make ``array`` C-contiguous and read-only: a VLImage is immutable, and crops may share its buffer."""
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _readFile(path: Path, name: str) -> bytes:
    # Checked first because reading a directory fails differently per OS (IsADirectoryError, PermissionError).
    if path.is_dir():
        raise ImageDecodeError(f"{name}: is a directory, not an image file; pass the path of a file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(f"{name}: file not found; check the path (cwd is {os.getcwd()})") from None
    except OSError as error:
        raise ImageDecodeError(f"{name}: cannot read the file ({error.strerror or error})") from None


def _decodeBytes(data: bytes, source: str) -> np.ndarray:
    if not data:
        raise ImageDecodeError(f"{source}: empty (0 bytes); the file or download is empty, not an image")
    try:
        picture = Image.open(io.BytesIO(data))
        # Image.open only reads the header; load() decodes every pixel now, so a truncated or corrupt
        # file fails here, at construction, and not later inside an estimator.
        picture.load()
    except UnidentifiedImageError:
        raise ImageDecodeError(
            f"{source}: not an image in a format Pillow can read (starts with {data[:16]!r}); "
            "expected JPEG, PNG, BMP, WEBP, TIFF, GIF, ..."
        ) from None
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(
            f"{source}: {error} If you trust this file, raise PIL.Image.MAX_IMAGE_PIXELS before loading it."
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        # Pillow reports truncated and corrupt data as OSError, a few format plugins as SyntaxError/ValueError.
        raise ImageDecodeError(
            f"{source}: the image data is truncated or corrupt ({error}); re-export or re-download the file"
        ) from None
    return _pillowToRgb(picture, source)


def _pillowToRgb(picture: Image.Image, source: str) -> np.ndarray:
    try:
        picture.load()
        # Cameras store portrait photos as landscape pixels plus an EXIF rotation tag; applying it gives
        # the orientation a person sees, which is what head points are annotated against.
        upright = ImageOps.exif_transpose(picture)
    except OSError as error:
        raise ImageDecodeError(f"{source}: the image data is truncated or corrupt ({error})") from None
    mode = upright.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        return _arrayToRgb(_sixteenBitPixels(upright, source), source)
    if mode == "F":
        raise ImageDecodeError(
            f"{source}: 32-bit float image (mode F) has no defined 8-bit scaling; "
            "convert it to 8-bit yourself, e.g. np.clip(np.asarray(img), 0, 255).astype(np.uint8)"
        )
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in upright.info):
        return np.asarray(_overWhite(upright.convert("RGBA")))
    if mode != "RGB":
        # L, 1, P, CMYK, YCbCr, LAB, HSV, RGBX have 8-bit channels: Pillow's conversion needs no rescaling.
        upright = upright.convert("RGB")
    return np.asarray(upright)


def _sixteenBitPixels(picture: Image.Image, source: str) -> np.ndarray:
    """The pixels of a 16-bit (``I;16*``) or 32-bit integer (``I``) grayscale image as uint16.

    Pillow's ``convert("L")`` clips these to 255 instead of scaling, turning most of the image white.
    Pillow opens 16-bit PNG/TIFF as ``I`` or ``I;16`` depending on its version, so ``I`` is read as 16-bit.
    """
    pixels = np.asarray(picture)
    low, high = int(pixels.min()), int(pixels.max())
    if low < 0 or high > 0xFFFF:
        raise ImageDecodeError(
            f"{source}: 32-bit integer image with values {low}..{high}, outside the 16-bit range "
            "0..65535; scale it to 8-bit yourself and pass a uint8 numpy array"
        )
    return pixels.astype(np.uint16)


def _overWhite(rgba: Image.Image) -> Image.Image:
    """Composite an RGBA image over white and drop alpha.

    Models take RGB. Just dropping alpha would expose whatever colour is stored under transparent pixels
    (often black or leftovers from editing), which can look like structure to a model; white is how
    viewers and browsers show transparency, so the model sees what a person sees.
    """
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _arrayToRgb(array: np.ndarray, source: str) -> np.ndarray:
    if array.size == 0:
        raise ImageDecodeError(f"{source}: zero-size array (shape {array.shape}); an image needs pixels")
    dtype = array.dtype
    if dtype == np.bool_:
        raise ImageDecodeError(
            f"{source}: bool arrays are ambiguous as images: convert with arr.astype(np.uint8) * 255"
        )
    if dtype.kind == "f":
        raise ImageDecodeError(
            f"{source}: float arrays are ambiguous (0..1 or 0..255?): convert with (arr*255).astype(np.uint8) "
            "for 0..1 data, or arr.clip(0, 255).astype(np.uint8) for 0..255 data"
        )
    if dtype.kind == "u" and dtype.itemsize == 2:
        # 65535 / 255 == 257 exactly, so v / 257 rounded maps 0..65535 onto 0..255 with 257*k -> k.
        array = ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif dtype.kind != "u" or dtype.itemsize != 1:
        raise ImageDecodeError(
            f"{source}: unsupported dtype {dtype}; pass uint8 (or uint16) pixels, e.g. "
            "arr.clip(0, 255).astype(np.uint8) if the values are already 0..255"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        return np.repeat(array[:, :, np.newaxis], 3, axis=2)
    if array.ndim != 3:
        raise ImageDecodeError(
            f"{source}: expected a 2-D (HxW) or 3-D (HxWxC) array, got {array.ndim}-D shape {array.shape}; "
            "for a batch pass one image at a time, e.g. arr[0]"
        )
    channels = array.shape[2]
    if channels == 3:
        return array
    if channels == 4:
        return np.asarray(_overWhite(Image.fromarray(np.ascontiguousarray(array))))
    hint = " It looks channels-first: use arr.transpose(1, 2, 0)." if array.shape[0] in (1, 3, 4) else ""
    raise ImageDecodeError(
        f"{source}: expected 1, 3 or 4 channels in the last axis (HxWxC), got shape {array.shape}.{hint}"
    )
