"""The pixel budget: an image's size is read from its header and checked before any pixel is decoded.

A few hundred bytes of JPEG or PNG can claim 12000 x 12000 pixels; decoding them takes gigabytes and
seconds. Pillow's own guard (``PIL.Image.MAX_IMAGE_PIXELS``) only warns up to twice its limit, so the
workbench's own loading of untrusted images (``workbench.images.load_image``, the datasets, the server) asks
this module first. The SDK stand-in's ``VLImage`` does not: the SDK's ``VLImage(bytes)`` has no budget, and a
plugin's image must load here as it does in the service.

The budget is ``max_pixels`` when given, else ``$WORKBENCH_MAX_PIXELS``, else ``DEFAULT_MAX_PIXELS``.

Layer: imports ``workbench.sdk`` (``ImageDecodeError``, which ``ImageTooLargeError`` is) and ``workbench._checks``.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from ._checks import whole_number
from .sdk._decode import ImageDecodeError

MAX_PIXELS_ENV = "WORKBENCH_MAX_PIXELS"
# 64 Mpx (8000 x 8000): above every camera photo of a crowd we expect; decoded as RGB it is 192 MB.
DEFAULT_MAX_PIXELS = 64_000_000


class ImageTooLargeError(ImageDecodeError):
    """The image's header claims more pixels than the budget allows; nothing was decoded. An
    ``ImageDecodeError`` (so a ``ValueError`` and the SDK's ``LunaSDKException``), as a failed load is."""


def max_pixels_budget(max_pixels: int | None = None) -> int:
    """The budget in force: the argument, else ``$WORKBENCH_MAX_PIXELS``, else ``DEFAULT_MAX_PIXELS``."""
    if max_pixels is None:
        text = os.environ.get(MAX_PIXELS_ENV)
        if not text:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(text)
        except ValueError:
            raise ValueError(f"${MAX_PIXELS_ENV}={text!r} is not a whole number of pixels") from None
    return whole_number(max_pixels, "max_pixels", minimum=1, unit="pixels")


def check_pixel_budget(image: bytes | str | os.PathLike[str], source: str, max_pixels: int | None = None) -> None:
    """Raise ``ImageTooLargeError`` when the image's header claims more than the budget; decode nothing.

    Data Pillow cannot identify passes: the decoder that follows reports it in its own words.
    """
    budget = max_pixels_budget(max_pixels)
    stream: BinaryIO | Path = io.BytesIO(image) if isinstance(image, (bytes, bytearray, memoryview)) else Path(image)
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own limit; this check says more, and raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as picture:
                width, height = picture.size
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(
            f"{source}: {error} (Pillow's guard, PIL.Image.MAX_IMAGE_PIXELS; the workbench's pixel budget is "
            f"{budget}); raise them only if you trust the file"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return
    if width * height > budget:
        raise ImageTooLargeError(
            f"{source}: the image header claims {width}x{height} = {width * height} pixels, over the budget of "
            f"{budget} pixels; downscale it, or raise the budget (max_pixels, ${MAX_PIXELS_ENV}) if you trust it"
        )
