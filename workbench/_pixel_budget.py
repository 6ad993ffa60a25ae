"""The decode budget: what decoding an image will cost is read from its header before any pixel is decoded.

A few hundred bytes of JPEG, PNG or WebP can claim 12000 x 12000 pixels; decoding them takes gigabytes and
seconds. Pillow's own guard (``PIL.Image.MAX_IMAGE_PIXELS``) only warns up to twice its limit, so the
workbench's own loading of untrusted images (``workbench.images.load_image``, the datasets, the server) asks
this module first. The SDK stand-in's ``VLImage`` does not: the SDK's ``VLImage(bytes)`` has no budget, and a
plugin's image must load here as it does in the service.

Two limits are checked from the header: the pixels (``max_pixels`` when given, else ``$WORKBENCH_MAX_PIXELS``,
else ``DEFAULT_MAX_PIXELS``) and a JPEG's scans (``MAX_JPEG_SCANS``: each scan is one more pass over every
pixel, so a 60 KB JPEG of 4 Mpx with thousands of refinement scans holds a decoder for many seconds).
``decode_cost`` also says how much memory decoding will hold at its peak (``DecodeCost.peak_bytes``, from the
pixels, the mode and the format: a 2.5 KB WebP of 8000x7900 takes a gigabyte), which the server budgets.

Layer: imports ``workbench.sdk`` (``ImageDecodeError``, which ``ImageTooLargeError`` is) and ``workbench._checks``.
"""
from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import ExifTags, Image

from ._checks import whole_number
from .sdk._decode import ALPHA_MODES, ImageDecodeError

MAX_PIXELS_ENV = "WORKBENCH_MAX_PIXELS"
# 64 Mpx (8000 x 8000): above every camera photo of a crowd we expect; decoded as RGB it is 192 MB.
DEFAULT_MAX_PIXELS = 64_000_000
# libjpeg's standard progression (cjpeg -progressive, Pillow's progressive=True) writes 10 scans (6 for grey),
# mozjpeg's fewer than 20; a scan bomb writes thousands. Each scan is one more pass over every 8x8 block
# (about 0.8 ns a pixel here): 64 scans of a 64 Mpx image are 3 s of one core, 5,000 of 4 Mpx were 16 s.
MAX_JPEG_SCANS = 64

# What a decoder holds whatever the image's size (libwebp's and libjpeg's state, zlib's window, the allocator's
# slack): measured peaks of small images sit up to this much above their bytes a pixel.
_DECODER_STATE = 8 * 2**20
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})
_SOS = b"\xff\xda"  # a JPEG's start-of-scan marker; entropy-coded data never holds it (0xFF is stuffed there)


class ImageTooLargeError(ImageDecodeError):
    """The image's header claims more pixels (or a JPEG more scans) than the budget allows; nothing was decoded.
    An ``ImageDecodeError`` (so a ``ValueError`` and the SDK's ``LunaSDKException``), as a failed load is."""


@dataclass(frozen=True)
class DecodeCost:
    """What decoding one image into RGB pixels will take, read from its header.

    ``peak_bytes`` is the most memory the decoding holds at once, the encoded data included: Pillow keeps an
    RGB image in 4 bytes a pixel, the RGB array handed out is 3 more, an alpha channel is composited over white
    in three more full-size images, a progressive (multi-scan) JPEG keeps every DCT coefficient until its last
    scan, and libwebp decodes into canvases of its own (``tests/hostile/test_budget_decode.py`` measures it).
    ``pixel_passes`` is the work: the pixels times a JPEG's scans.
    """

    width: int
    height: int
    format: str
    mode: str
    scans: int
    peak_bytes: int

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def pixel_passes(self) -> int:
        return self.pixels * self.scans


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


def check_pixel_count(width: int, height: int, claim: str, max_pixels: int | None = None) -> None:
    """Raise ``ImageTooLargeError`` when ``width`` x ``height`` is over the budget; ``claim`` starts the message
    (``"clip.mp4: its frames are"``)."""
    budget = max_pixels_budget(max_pixels)
    if width * height > budget:
        raise ImageTooLargeError(
            f"{claim} {width}x{height} = {width * height} pixels, over the budget of {budget} pixels; downscale "
            f"it, or raise the budget (max_pixels, ${MAX_PIXELS_ENV}) if you trust it"
        )


def check_pixel_budget(
    image: bytes | str | os.PathLike[str], source: str, max_pixels: int | None = None
) -> DecodeCost | None:
    """Raise ``ImageTooLargeError`` when the image's header claims more pixels than the budget, or a JPEG more
    than ``MAX_JPEG_SCANS`` scans; decode nothing. Returns what decoding it will cost.

    A header Pillow cannot read passes (``None``): the decoder that follows reports it in its own words.
    """
    budget = max_pixels_budget(max_pixels)
    data = bytes(image) if isinstance(image, (bytes, bytearray, memoryview)) else b""
    stream: BinaryIO | Path = Path(image) if isinstance(image, (str, os.PathLike)) else io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own limit; this check says more, and raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(stream) as picture:
                header = _Header.read(picture)
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(
            f"{source}: {error} (Pillow's guard, PIL.Image.MAX_IMAGE_PIXELS; the workbench's pixel budget is "
            f"{budget}); raise them only if you trust the file"
        ) from None
    except MemoryError:
        raise
    except Exception:  # a crafted header trips Pillow's parsers in any way (a fuzzed TIFF: TypeError)
        return None  # the decoder that follows says what is wrong, in its own words
    width, height = header.size
    check_pixel_count(width, height, f"{source}: the image header claims", budget)
    jpeg = header.format in _JPEG_FORMATS
    if isinstance(stream, Path):
        encoded = stream.stat().st_size
        data = stream.read_bytes() if jpeg else b""  # the scans are counted in the whole file
    else:
        encoded = len(data)
    scans = max(1, data.count(_SOS)) if jpeg else 1
    if scans > MAX_JPEG_SCANS:
        raise ImageTooLargeError(
            f"{source}: the JPEG has {scans} scans, over the limit of {MAX_JPEG_SCANS} "
            "(workbench._pixel_budget.MAX_JPEG_SCANS; a progressive JPEG has about 10): each scan is another pass "
            f"over its {width * height} pixels; re-encode it (jpegtran -optimize, or any editor's JPEG export)"
        )
    peak = encoded + _DECODER_STATE + math.ceil(width * height * header.bytes_per_pixel(scans))
    return DecodeCost(width, height, header.format, header.mode, scans, peak)


@dataclass(frozen=True)
class _Header:
    """What the cost of decoding depends on, as Pillow reads it from the header alone."""

    size: tuple[int, int]
    format: str
    mode: str
    transparent: bool
    turned: bool
    # A JPEG's (horizontal, vertical) sampling factor of each component.
    sampling: tuple[tuple[int, int], ...]

    @classmethod
    def read(cls, picture: Image.Image) -> _Header:
        format = picture.format or ""
        sampling = tuple((h, v) for _, h, v, _ in getattr(picture, "layer", ())) if format in _JPEG_FORMATS else ()
        return cls(
            picture.size, format, picture.mode, "transparency" in picture.info, _maybe_turned(picture), sampling,
        )

    def bytes_per_pixel(self, scans: int) -> float:
        """Bytes a pixel of this image takes at the peak of ``workbench.sdk._decode``'s decoding to RGB."""
        mode = self.mode
        stored = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4  # Pillow keeps RGB as RGBX
        if mode == "RGB":
            to_rgb = 0
        elif mode in ALPHA_MODES or (mode == "P" and self.transparent):
            to_rgb = 16  # an RGBA copy, a white canvas, the composite, its RGB conversion
        elif mode.startswith("I"):
            to_rgb = 10  # 16- and 32-bit grey: numpy copies in uint16, uint32 and uint8, then RGB
        else:
            to_rgb = 4
        rotated = 4 if self.turned else 0  # ImageOps.exif_transpose copies the image
        return stored + to_rgb + 3 + rotated + self._decoder_buffers(scans) + 1  # + 1: row buffers, zlib's window

    def _decoder_buffers(self, scans: int) -> float:
        if self.format == "WEBP":
            return 12  # libwebp's YUV planes, its RGBA canvas and the frame composed on it, before Pillow copies it
        if self.format in _JPEG_FORMATS and scans > 1 and self.sampling:
            # libjpeg keeps every component's coefficients (2 bytes each) until the last scan.
            h_max = max(h for h, _ in self.sampling)
            v_max = max(v for _, v in self.sampling)
            return 2 * sum(h * v for h, v in self.sampling) / (h_max * v_max)
        return 0


def _maybe_turned(picture: Image.Image) -> bool:
    """Whether decoding will turn the image upright (an EXIF orientation), as far as the header tells.

    A PNG may keep its EXIF after the pixels, where only decoding reads it (Pillow's ``getexif`` decodes the
    whole PNG to find it): unless the header holds it, a PNG is assumed turned.
    """
    if picture.format == "PNG" and "exif" not in picture.info:
        return True
    return picture.getexif().get(ExifTags.Base.Orientation, 1) != 1
