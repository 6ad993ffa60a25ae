"""Decoding for the stand-in's ``VLImage`` and the workbench's own loaders: bytes, files, arrays and Pillow
images to 8-bit pixels, with errors that name the source, say what is wrong and how to fix it.

The SDK decodes with its C++ core; here Pillow does it, except that a plain colour or grey JPEG (no EXIF
rotation) is decoded by simplejpeg: the same libjpeg-turbo with the same settings, pixel for pixel Pillow's
result, written straight into the array (Pillow decodes into an image of 4 bytes per pixel and packs that
into a second buffer: 5.4 ms of CPU per 1024x768 photo against 3.7, ``bench/bench_decode.py``). Decoding
applies the EXIF orientation (a photo comes out upright, as a viewer and the annotations see it). Grayscale,
palette, CMYK and 16-bit images become 8-bit RGB; transparency is composited over white. Of a multi-frame
file the first frame is used. Pillow's decompression-bomb guard (``PIL.Image.MAX_IMAGE_PIXELS``) stays on;
the workbench's own pixel budget is not checked here (the SDK's ``VLImage(bytes)`` has none) but by the
workbench's loaders (``workbench._pixel_budget``).

``ImageDecodeError`` subclasses the SDK's ``LunaSDKException`` (what the SDK raises when an image does not
load) and ``ValueError`` (what the workbench's callers have caught so far).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .error_codes import LunaVLError
from .errors import LunaSDKException

try:
    import simplejpeg
except ImportError:  # no wheel for this platform (pyproject.toml leaves it out there): Pillow decodes every JPEG
    simplejpeg = None

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# Modes with an alpha channel, composited over white (the decode budget counts the images that takes).
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


class ImageDecodeError(LunaSDKException, ValueError):
    """The input could not be turned into an image; the message names the source and the fix."""

    def __init__(self, message: str) -> None:
        LunaSDKException.__init__(self, LunaVLError.FailedToLoad.format(message))
        self.args = (message,)  # shown to users as is: the message names the source and the fix


def readFile(path: Path, name: str) -> bytes:
    # Checked first because reading a directory fails differently per OS (IsADirectoryError, PermissionError).
    if path.is_dir():
        raise ImageDecodeError(f"{name}: is a directory, not an image file; pass the path of a file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageDecodeError(f"{name}: file not found; check the path (cwd is {os.getcwd()})") from None
    except OSError as error:
        raise ImageDecodeError(f"{name}: cannot read the file ({error.strerror or error})") from None


def decodeBytes(data: bytes, source: str) -> np.ndarray:
    """The RGB pixels of an encoded image, read-only and referenced from nowhere else (``VLImage`` keeps them
    without a copy); ``ImageDecodeError`` naming ``source`` when they cannot be had."""
    if not data:
        raise ImageDecodeError(f"{source}: empty (0 bytes); the file or download is empty, not an image")
    try:
        picture = Image.open(io.BytesIO(data))
        pixels = _plainJpegPixels(data, picture)
        if pixels is not None:
            return pixels
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
    except MemoryError:
        raise
    except Exception as error:
        # Pillow reports truncated and corrupt data as OSError, a few format plugins as SyntaxError/ValueError,
        # and a crafted file's tags as whatever its parser hits (a fuzzed TIFF: TypeError from a string offset):
        # each says the data cannot be decoded, which is the client's error, not the server's.
        raise ImageDecodeError(
            f"{source}: the image data is truncated or corrupt ({type(error).__name__}: {error}); re-export or "
            "re-download the file"
        ) from None
    return pillowToRgb(picture, source)


# A JPEG's mode as Pillow opens it, for the JPEGs whose RGB pixels libjpeg-turbo makes the way Pillow does
# (CMYK and Adobe's inverted CMYK go through Pillow's own conversion).
_PLAIN_JPEG_MODES = frozenset({"RGB", "L"})


def _plainJpegPixels(data: bytes, picture: Image.Image) -> np.ndarray | None:
    """The RGB pixels of an upright colour or grey JPEG, read-only and owned by nobody else; ``None`` for
    anything else, which Pillow then decodes.

    ``picture`` is the opened, not yet loaded, Pillow image: its header has been read and checked (size,
    decompression-bomb guard) and says the format, mode and EXIF orientation. MPO files (phones' JPEGs with
    a second, smaller picture) decode their first picture, as Pillow does.
    """
    if simplejpeg is None or picture.format not in ("JPEG", "MPO") or picture.mode not in _PLAIN_JPEG_MODES:
        return None
    if _exifTurned(picture):
        return None
    try:
        pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, strict=True)
    except ValueError:
        # libjpeg-turbo found the data truncated or corrupt: Pillow decodes what it can, or says what is wrong,
        # in its own words and under its own settings (ImageFile.LOAD_TRUNCATED_IMAGES).
        return None
    pixels.flags.writeable = False
    return pixels


def _exifTurned(picture: Image.Image) -> bool:
    """Whether the image's EXIF orientation asks for its pixels to be turned or mirrored to stand upright."""
    return picture.getexif().get(ExifTags.Base.Orientation, 1) != 1


def pillowToRgb(picture: Image.Image, source: str) -> np.ndarray:
    try:
        picture.load()
        # Cameras store portrait photos as landscape pixels plus an EXIF rotation tag; applying it gives
        # the orientation a person sees, which is what head points are annotated against. Checked first:
        # exif_transpose copies every pixel even when there is nothing to turn.
        upright = ImageOps.exif_transpose(picture) if _exifTurned(picture) else picture
    except OSError as error:
        raise ImageDecodeError(f"{source}: the image data is truncated or corrupt ({error})") from None
    mode = upright.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        return arrayToRgb(_sixteenBitPixels(upright, source), source)
    if mode == "F":
        raise ImageDecodeError(
            f"{source}: 32-bit float image (mode F) has no defined 8-bit scaling; "
            "convert it to 8-bit yourself, e.g. np.clip(np.asarray(img), 0, 255).astype(np.uint8)"
        )
    if mode in ALPHA_MODES or (mode == "P" and "transparency" in upright.info):
        return np.asarray(_overWhite(upright.convert("RGBA")))
    if mode != "RGB":
        # L, 1, P, CMYK, YCbCr, LAB, HSV, RGBX have 8-bit channels: Pillow's conversion needs no rescaling.
        upright = upright.convert("RGB")
    return rgbPixels(upright)


# Pillow's raw encoder holds the GIL while it packs (a 49 Mpx image: 90 ms in which no other thread, the
# server's event loop included, runs): a larger image is packed in pieces of this size, between which the
# GIL can pass, into an array made for it.
_PACKED_PIECE = 4 * 2**20


def rgbPixels(picture: Image.Image) -> np.ndarray:
    """The pixels of an RGB Pillow image, read-only, packed once.

    ``np.asarray(picture)`` goes through ``tobytes``, which packs the image in 64 KiB pieces and joins them
    (a second copy). Packing it in one piece saves about 0.8 ms of the 3 ms that ``np.asarray`` takes on a
    1024x768 photo (decoding its JPEG: 4 ms; the rest is the kernel handing out the new array's pages).
    Images over ``_PACKED_PIECE`` bytes are packed piece by piece into the array instead, so that no other
    thread waits on one piece for long. Pillow's raw encoder is what ``tobytes`` itself uses
    (``tests/test_sdk_load_image.py`` checks that the pixels are the same as ``np.asarray``'s).
    """
    width, height = picture.size
    if width == 0 or height == 0:
        return np.asarray(picture)
    size = width * height * 3
    encoder = Image._getencoder("RGB", "raw", "RGB")
    try:
        encoder.setimage(picture.im, (0, 0, width, height))
        if size <= _PACKED_PIECE:
            _, status, packed = encoder.encode(size)
            pixels = np.frombuffer(packed, np.uint8)
        else:
            pixels = np.empty(size, np.uint8)
            filled = status = 0
            piece_size = max(_PACKED_PIECE, width * 3)  # whole lines: the encoder packs no less than one
            while not status:
                _, status, piece = encoder.encode(piece_size)
                pixels[filled:filled + len(piece)] = np.frombuffer(piece, np.uint8)
                filled += len(piece)
            pixels.flags.writeable = False
    finally:
        encoder.cleanup()
    if status != 1:  # 1: the whole image packed (a buffer of the image's size takes it in one call)
        raise ImageDecodeError(f"Pillow's raw encoder failed with error {status} on a {width}x{height} RGB image")
    return pixels.reshape(height, width, 3)


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


def arrayToRgb(array: np.ndarray, source: str) -> np.ndarray:
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
