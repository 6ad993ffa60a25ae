"""The workbench's own image and request helpers: what its users and its own code need beyond the SDK.

The SDK stand-in (``workbench.sdk``) holds only the SDK's names, so that a plugin that runs here runs in the
service. Conveniences the SDK lacks live here, off the plugin surface:

* ``load_image``: a ``VLImage`` from a path, bytes, any 8/16-bit array layout (alpha over white), a Pillow
  image, with errors that name the source and the fix (the SDK takes bytes, arrays and Pillow images only,
  and reads files through ``VLImage.load(filename=...)``);
* ``estimation_input``: one entry of ``wb.estimate(...)`` as the SDK's estimators take it, the detect area
  checked against the image (the SDK's ``ImageForPeopleEstimation`` is a plain ``NamedTuple`` that checks
  nothing); ``needs_decoding`` says whether it will decode a file or encoded bytes for it;
* ``pixel_bounds``: the whole pixels a rectangle covers, checked to lie inside an image;
* ``check_image_list``: the images of one call, a list or tuple, not one image;
* ``parse_targets``: ``EstimationTargets`` from a member or its name, as configs and query strings give it;
* the decode budget (``check_pixel_budget``, ``check_pixel_count``, ``max_pixels_budget``, ``ImageTooLargeError``, ``DecodeCost``):
  ``load_image`` checks a file's or bytes' header against it (pixels, a JPEG's scans) before decoding; the
  datasets and the server use the same function, and the server budgets the memory it says decoding takes.

Imports ``workbench.sdk``, ``workbench._pixel_budget``, numpy and Pillow.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ._pixel_budget import DecodeCost, ImageTooLargeError, check_pixel_budget, check_pixel_count, max_pixels_budget
from .sdk import ColorFormat, EstimationTargets, ImageForPeopleEstimation, Rect, VLImage
from .sdk._decode import ImageDecodeError, arrayToRgb, pillowToRgb, readFile
from .sdk.image import sharedPixels

__all__ = [
    "DecodeCost", "ImageDecodeError", "ImageTooLargeError", "check_pixel_budget", "check_pixel_count", "check_image_list", "estimation_input", "image_size",
    "load_image", "max_pixels_budget", "needs_decoding", "parse_targets", "pixel_bounds",
]

_FILE_SOURCES = (str, os.PathLike)
_ENCODED_SOURCES = (bytes, bytearray, memoryview)


def load_image(source: Any, filename: str = "", max_pixels: int | None = None) -> VLImage:
    """A ``R8G8B8`` ``VLImage`` from a path (``str``/``os.PathLike``), encoded bytes, a numpy array, a Pillow
    image or a ``VLImage`` (returned as it is; one of the service's real ``lunavl`` is copied over).

    Arrays may be uint8 or uint16, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), channels in RGB(A) order (an
    OpenCV BGR array: ``VLImage.fromNumpyArray(arr, "BGR")``); alpha is composited over white. ``filename``
    names the image in messages; it defaults to the path. A file's or bytes' header is checked against the pixel
    budget (``max_pixels``, else ``$WORKBENCH_MAX_PIXELS``, else 64 Mpx) and a JPEG's scans against
    ``MAX_JPEG_SCANS`` (64) before any pixel is decoded.

    Raises:
        ImageTooLargeError: the header claims more pixels than the budget, or a JPEG more scans than the limit
            (an ``ImageDecodeError``).
        ImageDecodeError: the input is not a readable image (also a ``LunaSDKException`` and a ``ValueError``).
        TypeError: ``source`` is of an unsupported type.
    """
    if isinstance(source, VLImage):
        return source
    if isinstance(source, _FILE_SOURCES):
        name = filename or str(source)
        data = readFile(Path(source), name)
        check_pixel_budget(data, name, max_pixels)
        return VLImage(data, filename=name)
    if isinstance(source, _ENCODED_SOURCES):
        data = bytes(source)
        check_pixel_budget(data, filename or f"bytes ({len(data)} bytes)", max_pixels)
        return VLImage(data, filename=filename)
    if isinstance(source, np.ndarray):
        rgb = arrayToRgb(source, filename or f"numpy array {source.dtype} {source.shape}")
        return VLImage.fromNumpyArray(rgb, ColorFormat.R8G8B8, filename=filename)
    if isinstance(source, Image.Image):
        name = filename or getattr(source, "filename", "") or ""
        rgb = pillowToRgb(source, name or f"Pillow image ({source.mode} {source.width}x{source.height})")
        return VLImage.fromNumpyArray(rgb, ColorFormat.R8G8B8, filename=name)
    if callable(getattr(source, "asNPArray", None)) and hasattr(getattr(source, "format", None), "value"):
        # A VLImage of the service's real lunavl (where it is installed, e.g. in the service's image).
        name = filename or getattr(source, "filename", "") or ""
        return VLImage.fromNumpyArray(source.asNPArray(), source.format.value, filename=name)
    raise TypeError(
        "an image must be a path (str or os.PathLike), encoded image bytes, a numpy array, a PIL.Image.Image or a "
        f"VLImage, got {type(source).__name__}"
    )


def rgb_pixels(image: VLImage, area: Rect | None = None) -> np.ndarray:
    """The RGB pixels of ``image`` (or of ``area`` in it), as the models take them: the SDK's images may be
    BGR, grey or padded. Read-only: it may share the image's memory."""
    picture = image if area is None else image.crop(area)
    rgb = picture if picture.format is ColorFormat.R8G8B8 else picture.convert(ColorFormat.R8G8B8)
    # A workbench image's pixels are read-only for its whole life, so they are handed out without the copy
    # asNPArray makes: an estimator copies them into its batch only where it stacks or pads them.
    return sharedPixels(rgb) if isinstance(rgb, VLImage) else rgb.asNPArray()


def image_size(image: VLImage) -> tuple[int, int]:
    """``(width, height)`` in pixels."""
    rect = image.rect
    return int(rect.width), int(rect.height)


def workbench_rect(area: Any) -> Any:
    """A ``Rect`` of the service's real ``lunavl`` (where it is installed) as the workbench's ``Rect``; anything
    else is returned as it is, for the caller's own check to name."""
    if isinstance(area, Rect) or type(area).__name__ != "Rect":
        return area
    try:
        return Rect(area.x, area.y, area.width, area.height)
    except (AttributeError, TypeError, ValueError):
        return area


def pixel_bounds(rect: Rect, width: int, height: int, what: str) -> tuple[int, int, int, int]:
    """Check that ``rect`` is a non-empty area inside a ``width`` x ``height`` image; return its pixels.

    Returns ``(left, top, right, bottom)`` as slice bounds, rounded outwards (left and top down, right and
    bottom up), so that the pixels cover the whole rectangle.

    Raises:
        TypeError: ``rect`` is not a ``Rect``.
        ValueError: ``rect`` is empty or not entirely inside the image; the message names both sizes.
    """
    if not isinstance(rect, Rect):
        kind = type(rect)
        raise TypeError(f"{what} must be a Rect (lunavl.sdk.image_utils.geometry), got {kind.__module__}.{kind.__qualname__}")
    if not rect.isValid():
        raise ValueError(f"{what} {rect!r} is empty: width and height must be positive")
    if not rect.isInside(Rect(0, 0, width, height)):
        raise ValueError(
            f"{what} {rect!r} is not inside the image ({width}x{height}); it must satisfy 0 <= x, 0 <= y, "
            f"x + width <= {width}, y + height <= {height} (clip it to the image first)"
        )
    return math.floor(rect.x), math.floor(rect.y), math.ceil(rect.right), math.ceil(rect.bottom)


def estimation_input(image: Any, index: int) -> VLImage | ImageForPeopleEstimation | tuple[VLImage, Rect]:
    """Entry ``index`` of an estimate request as the SDK's estimators take it: a ``VLImage``, or an
    ``ImageForPeopleEstimation`` or plain ``(VLImage, Rect)`` pair whose detect area was checked to lie inside its
    image. A pair already of those types keeps its form (the SDK's ``estimateBatch`` takes plain pairs, so an
    estimator must too); one made of other things (a path, an array) becomes an ``ImageForPeopleEstimation``.

    Accepts a ``VLImage``, an ``ImageForPeopleEstimation``, an ``(image, Rect)`` pair, or anything
    ``load_image`` reads.

    Raises:
        TypeError, ValueError: the entry is not an image or its area is bad; the message starts with
            ``image {index}:``.
    """
    try:
        if _is_pair(image):
            picture, area = load_image(image[0]), workbench_rect(image[1])
            width, height = image_size(picture)
            pixel_bounds(area, width, height, "detectArea")
            return image if picture is image[0] and area is image[1] else ImageForPeopleEstimation(picture, area)
        return load_image(image)
    except (TypeError, ValueError) as error:
        raise type(error)(f"image {index}: {error}") from error


def check_image_list(images: Any) -> Sequence[Any]:
    """``images`` when it is a list or tuple of images; one image (or one ``(image, Rect)`` pair) is refused,
    naming the fix, rather than iterated as if it were several.

    Raises:
        TypeError: ``images`` is not a list or tuple of images.
    """
    if not isinstance(images, (list, tuple)) or (
        isinstance(images, tuple) and len(images) == 2 and isinstance(images[1], Rect)
    ):
        raise TypeError(f"images must be a list of images, got {type(images).__name__}; wrap one image as [image]")
    return images


def needs_decoding(image: Any) -> bool:
    """Whether ``estimation_input`` decodes ``image``: a file or encoded bytes, alone or with its ``Rect``."""
    source = image[0] if _is_pair(image) else image
    return isinstance(source, (*_FILE_SOURCES, *_ENCODED_SOURCES))


def _is_pair(image: Any) -> bool:
    # An (image, Rect) pair or an ImageForPeopleEstimation; a 2-row numpy array is an image.
    return isinstance(image, tuple) and len(image) == 2 and not isinstance(image, np.ndarray)


def parse_targets(value: EstimationTargets | str) -> EstimationTargets:
    """A member, or its name in any case (``"T1"``, ``"t2"``), as configs and query strings give it.

    Raises:
        ValueError: ``value`` is not one of the names.
        TypeError: ``value`` is neither a member nor a string.
    """
    if isinstance(value, EstimationTargets):
        return value
    if not isinstance(value, str):
        raise TypeError(
            f"estimation targets must be an EstimationTargets or a string, got {type(value).__name__} {value!r}"
        )
    try:
        return EstimationTargets[value.strip().upper()]
    except KeyError:
        raise ValueError(
            f"unknown estimation targets {value!r}: expected 'T1' (count and points) or 'T2' (count only)"
        ) from None
