"""``VLImage`` and its enums with the SDK's names and behaviour (``lunavl.sdk.image_utils.image``).

The SDK keeps the pixels in a FaceEngine image in one of the ``ColorFormat``s; here a numpy array holds them in
that format's layout: ``R8G8B8``/``B8G8R8``/``IR_X8X8X8`` (H, W, 3) uint8, the padded ``...X8`` formats
(H, W, 4) uint8 with the pad byte 255, ``R8`` (H, W) uint8, ``R16`` (H, W) uint16. Built from bytes, a Pillow
image or an array, an image is converted to ``colorFormat`` (default ``R8G8B8``), as in the SDK;
``fromNumpyArray`` keeps the array's format unless told otherwise. Conversions go through RGB; grey is the
ITU-R 601 luma. Decoding is Pillow's (see ``workbench.sdk._decode``). Memory residence is CPU only: the GPU
needs the vendor's core. Failures raise the SDK's ``LunaSDKException``.

Loading from a path or anything else the SDK does not take is the workbench's own ``workbench.images.load_image``.
"""
from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request
from enum import Enum
from pathlib import Path
from typing import Any, Optional, Union, overload

import numpy as np
from PIL import Image

from ._decode import ImageDecodeError, arrayToRgb, decodeBytes, pillowToRgb
from ._placeholders import NEEDS_CORE, CoreOnlyError
from .error_codes import LunaVLError
from .errors import LunaSDKException
from .geometry import Rect

__all__ = ["ColorFormat", "ImageFormat", "MemoryResidence", "RotationAngle", "VLImage"]

# Longest side of the picture Jupyter shows.
_REPR_MAX_SIDE = 512


class ImageFormat(Enum):
    """Enum for image format"""

    JPEG = "jpg"
    PNG = "png"
    PPM = "ppm"
    TIFF = "tif"
    BMP = "bmp"


class RotationAngle(Enum):
    """Enum for rotation angle"""

    ANGLE_0 = "Normal"
    ANGLE_90 = "Left"
    ANGLE_270 = "Right"
    ANGLE_180 = "UpsideDown"


class ColorFormat(Enum):
    """Enum for vl luna color formats"""

    B8G8R8 = "B8G8R8"
    B8G8R8X8 = "B8G8R8X8"
    IR_X8X8X8 = "IR_X8X8X8"
    R16 = "R16"
    R8 = "R8"
    R8G8B8 = "R8G8B8"
    R8G8B8X8 = "R8G8B8X8"
    Unknown = "Unknown"

    @property
    def coreFormat(self) -> object:
        """FaceEngine's ``FormatType``: core-only."""
        raise CoreOnlyError(f"ColorFormat.coreFormat {NEEDS_CORE}; use the member itself")

    @staticmethod
    def convertCoreFormat(imageFormat: object) -> ColorFormat:
        """The member named like a FaceEngine ``FormatType`` (anything with that ``.name``)."""
        return getattr(ColorFormat, imageFormat.name)  # type: ignore[attr-defined]

    @classmethod
    def load(cls, colorFormat: str) -> ColorFormat:
        """The format of a Pillow mode (``"RGB"``, ``"RGBA"``, ``"L"``, ...) or a member name (``"B8G8R8"``).

        Raises:
            ValueError: the name is neither.
        """
        byMode = {
            "RGB": cls.R8G8B8, "RGBa": cls.R8G8B8X8, "RGBA": cls.R8G8B8X8, "RGBX": cls.R8G8B8X8,
            "BGR": cls.B8G8R8, "BGRa": cls.B8G8R8X8, "BGRx": cls.B8G8R8X8,
        }
        if colorFormat in byMode:
            return byMode[colorFormat]
        # The SDK tests `colorFormat in "LP"`: a substring test, so "", "L", "P" and "LP" all mean grey.
        if colorFormat in "LP":
            return cls.R8
        member = getattr(cls, colorFormat, None)
        if isinstance(member, cls):
            return member
        raise ValueError(f"Cannot load '{colorFormat}' color format.")


class MemoryResidence(Enum):
    """Image in Host device memory"""

    GPU = "MemoryGPU"
    CPU = "MemoryCPU"

    def toCoreMemoryResidence(self) -> object:
        """FaceEngine's ``MemoryResidence``: core-only."""
        raise CoreOnlyError(f"MemoryResidence.toCoreMemoryResidence() {NEEDS_CORE}")

    @classmethod
    def fromCoreMemoryResidence(cls, coreMemoryResidence: object) -> MemoryResidence:
        """The member for a FaceEngine ``MemoryResidence`` (anything with its ``.name``)."""
        return cls(coreMemoryResidence.name)  # type: ignore[attr-defined]


# Channels of each format as stored, and whether its colour order is BGR.
_CHANNELS = {
    ColorFormat.R8G8B8: 3, ColorFormat.B8G8R8: 3, ColorFormat.IR_X8X8X8: 3,
    ColorFormat.R8G8B8X8: 4, ColorFormat.B8G8R8X8: 4, ColorFormat.R8: 1, ColorFormat.R16: 1,
}
_BGR = (ColorFormat.B8G8R8, ColorFormat.B8G8R8X8)
_PADDED = (ColorFormat.R8G8B8X8, ColorFormat.B8G8R8X8)
# Pillow's names for the formats `save` writes.
_SAVE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".ppm": "PPM", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}


def _toRgb(pixels: np.ndarray, colorFormat: ColorFormat) -> np.ndarray:
    if colorFormat in (ColorFormat.R8G8B8, ColorFormat.IR_X8X8X8):
        return pixels
    if colorFormat is ColorFormat.B8G8R8:
        return pixels[..., ::-1]
    if colorFormat is ColorFormat.R8G8B8X8:
        return pixels[..., :3]
    if colorFormat is ColorFormat.B8G8R8X8:
        return pixels[..., 2::-1]
    grey = pixels if colorFormat is ColorFormat.R8 else ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, as image libraries compute grey from RGB."""
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _fromRgb(rgb: np.ndarray, colorFormat: ColorFormat) -> np.ndarray:
    if colorFormat in (ColorFormat.R8G8B8, ColorFormat.IR_X8X8X8):
        return rgb
    if colorFormat is ColorFormat.B8G8R8:
        return rgb[..., ::-1]
    if colorFormat in _PADDED:
        colour = rgb if colorFormat is ColorFormat.R8G8B8X8 else rgb[..., ::-1]
        return np.concatenate([colour, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
    if colorFormat is ColorFormat.R8:
        return np.clip(np.rint(_luma(rgb)), 0, 255).astype(np.uint8)
    if colorFormat is ColorFormat.R16:
        return np.clip(np.rint(_luma(rgb) * 257), 0, 65535).astype(np.uint16)
    raise LunaSDKException(
        LunaVLError.InvalidConversion.format(f"cannot convert an image into the {colorFormat.value} color format")
    )


def _convert(pixels: np.ndarray, source: ColorFormat, target: ColorFormat) -> np.ndarray:
    if source is target:
        return pixels
    if (source, target) == (ColorFormat.R16, ColorFormat.R8):
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return _fromRgb(_toRgb(pixels, source), target)


def _arrayFormat(array: np.ndarray) -> ColorFormat:
    """The format an array's shape and dtype imply (the SDK asks Pillow for the array's mode)."""
    if array.dtype == np.uint16 and array.ndim == 2:
        return ColorFormat.R16
    if array.dtype == np.uint8:
        if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
            return ColorFormat.R8
        if array.ndim == 3 and array.shape[2] in (3, 4):
            return ColorFormat.R8G8B8 if array.shape[2] == 3 else ColorFormat.R8G8B8X8
    # Not a layout the SDK takes: the workbench's decoder names what is wrong and how to fix it.
    arrayToRgb(array, f"numpy array {array.dtype} {array.shape}")
    raise ImageDecodeError(
        f"numpy array {array.dtype} {array.shape}: not an image layout the SDK takes; pass uint8 (H, W), (H, W, 3) "
        "or (H, W, 4) pixels, or uint16 (H, W)"
    )


def _layout(array: np.ndarray, colorFormat: ColorFormat) -> np.ndarray:
    """``array`` as ``colorFormat`` stores pixels; checks that it fits."""
    if colorFormat is ColorFormat.Unknown:
        raise LunaSDKException(LunaVLError.InvalidInput.format("an image cannot have the Unknown color format"))
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    channels = 1 if array.ndim == 2 else array.shape[2] if array.ndim == 3 else None
    dtype = np.uint16 if colorFormat is ColorFormat.R16 else np.uint8
    if channels != _CHANNELS[colorFormat] or array.dtype != dtype or array.size == 0:
        raise LunaSDKException(LunaVLError.InvalidInput.format(
            f"a {array.dtype} array of shape {array.shape} is not {colorFormat.value} pixels "
            f"({_CHANNELS[colorFormat]} channel(s) of {np.dtype(dtype).name})"
        ))
    return array


def _freeze(array: np.ndarray, *, unshared: bool = False) -> np.ndarray:
    """C-contiguous and read-only: an image never changes, and crops and conversions may share buffers.

    ``unshared``: ``array`` was made for this image and nothing else refers to it (pixels just decoded).
    """
    if array.flags.c_contiguous and not array.flags.writeable and (
        unshared or isinstance(_memory_owner(array), bytes)
    ):
        return array  # nothing can change it (a view of immutable bytes, or nobody else holds it): no copy needed
    array = np.array(array, order="C", copy=True)
    array.flags.writeable = False
    return array


def _memory_owner(array: np.ndarray) -> object:
    """The object that owns ``array``'s memory: a reshaped view's ``base`` is the view it was made from."""
    owner: object = array
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    return owner


class VLImage:
    """An image in one of the SDK's colour formats.

    Args:
        body: encoded image bytes (``bytes``, ``bytearray``), a ``PIL.Image.Image`` or a numpy array (its format
            is taken from its shape: (H, W) grey, (H, W, 3) RGB, (H, W, 4) RGBA; an OpenCV BGR array needs
            ``VLImage.fromNumpyArray(arr, "BGR")``). FaceEngine images need the vendor's core.
        colorFormat: the format to convert into; default ``R8G8B8``.
        filename: a name for the image (messages, reprs).
        memoryResidence: ``None`` or ``MemoryResidence.CPU``; GPU images need the vendor's core.

    Raises:
        TypeError: ``body`` is of another type (a path included: use ``VLImage.load(filename=...)``).
        LunaSDKException: the body is not a readable image.
    """

    # The SDK's slots are coreImage, source, filename: the stand-in's pixels and format are class-private, so
    # `image._pixels` fails here as it does there (and, with slots, so does any new attribute).
    __slots__ = ("__pixels", "__format", "source", "filename")

    def __init__(
        self,
        body: Union[bytes, bytearray, Image.Image, np.ndarray],
        colorFormat: Optional[ColorFormat] = None,
        filename: str = "",
        memoryResidence: Optional[MemoryResidence] = None,
    ):
        _checkResidence(memoryResidence)
        target = _checkFormat(colorFormat) or ColorFormat.R8G8B8
        if isinstance(body, bytearray):
            body = bytes(body)
        decoded = isinstance(body, bytes)
        if isinstance(body, bytes):
            pixels, source = decodeBytes(body, filename or f"bytes ({len(body)} bytes)"), ColorFormat.R8G8B8
        elif isinstance(body, np.ndarray):
            source = _arrayFormat(body)
            pixels = _layout(body, source)
        elif isinstance(body, Image.Image):
            pixels, source = pillowToRgb(body, filename or f"Pillow image ({body.mode} {body.width}x{body.height})"), ColorFormat.R8G8B8
        else:
            hint = " (to read a file use VLImage.load(filename=...))" if isinstance(body, (str, Path)) else ""
            raise TypeError(f"Bad image type: {type(body)}{hint}")
        self.__pixels = _freeze(_convert(pixels, source, target), unshared=decoded)
        self.__format = target
        self.source = body
        self.filename = filename

    @classmethod
    def __wrap(
        cls, pixels: np.ndarray, colorFormat: ColorFormat, filename: str, source: Union[bytes, Image.Image, np.ndarray]
    ) -> VLImage:
        image = cls.__new__(cls)
        image.__pixels = _freeze(pixels)
        image.__format = colorFormat
        image.source = source
        image.filename = filename
        return image

    @property
    def coreImage(self) -> object:
        """The FaceEngine image: core-only."""
        raise CoreOnlyError(f"VLImage.coreImage {NEEDS_CORE}; use asNPArray() for the pixels")

    def getMemoryResidence(self) -> MemoryResidence:
        """Always ``MemoryResidence.CPU`` here."""
        return MemoryResidence.CPU

    @classmethod
    def rotate(cls, image: VLImage, angle: RotationAngle) -> VLImage:
        """A rotated copy: ``ANGLE_90`` counter-clockwise, ``ANGLE_270`` clockwise, ``ANGLE_180`` upside down."""
        turns = {RotationAngle.ANGLE_90: 1, RotationAngle.ANGLE_180: 2, RotationAngle.ANGLE_270: 3}.get(angle, 0)
        return cls.__wrap(np.rot90(image.__pixels, turns), image.__format, image.filename, image.source)

    @classmethod
    def load(
        cls,
        *,
        filename: Optional[str] = None,
        url: Optional[str] = None,
        colorFormat: Optional[ColorFormat] = None,
        memoryResidence: MemoryResidence = MemoryResidence.CPU,
    ) -> VLImage:
        """Load an image from a file (its ``filename`` becomes the file's name) or a URL.

        Raises:
            ValueError: neither argument given, or the URL did not answer 200.
            OSError: the file cannot be read.
            LunaSDKException: the data is not an image.
        """
        if filename is not None:
            path = Path(filename)
            with path.open("rb") as file:
                image = cls(file.read(), colorFormat, memoryResidence=memoryResidence, filename=path.name)
            return image
        if url is not None:
            status, body = _fetch(url)
            if status == 200:
                return cls(body, colorFormat, memoryResidence=memoryResidence, filename=url)
        raise ValueError

    @classmethod
    def fromNumpyArray(
        cls,
        arr: np.ndarray,
        inputColorFormat: Optional[Union[str, ColorFormat]] = None,
        colorFormat: Optional[ColorFormat] = None,
        filename: str = "",
        memoryResidence: Optional[MemoryResidence] = None,
    ) -> VLImage:
        """An image from pixels in ``inputColorFormat`` (a member or a Pillow mode such as ``"BGR"``; default:
        from the array's shape), converted to ``colorFormat`` if given, else kept as they are."""
        _checkResidence(memoryResidence)
        if isinstance(inputColorFormat, str):
            inputColorFormat = ColorFormat.load(inputColorFormat)
        if inputColorFormat is None:
            inputColorFormat = _arrayFormat(arr)
        source = _checkFormat(inputColorFormat)
        target = _checkFormat(colorFormat) or source
        return cls.__wrap(_convert(_layout(arr, source), source, target), target, filename, arr)

    @property
    def format(self) -> ColorFormat:
        """The colour format of the pixels."""
        return self.__format

    @property
    def rect(self) -> Rect:
        """The whole image: ``Rect(0, 0, width, height)``."""
        return Rect(0, 0, int(self.__pixels.shape[1]), int(self.__pixels.shape[0]))

    def computePitch(self, rowWidth: int) -> int:
        """Bytes in a row of ``rowWidth`` pixels."""
        return rowWidth * self.getByteDepth

    @property
    def bitDepth(self) -> int:
        """Bits per pixel (padding included)."""
        return self.getByteDepth * 8

    @property
    def getByteDepth(self) -> int:
        """Bytes per pixel (padding included). A property, named like a method, as in the SDK."""
        return self.channelStep * self.__pixels.dtype.itemsize

    @property
    def channelCount(self) -> int:
        """Colour channels (padding not counted)."""
        return 1 if self.__pixels.ndim == 2 else 3

    @property
    def channelSize(self) -> int:
        """Bits per channel."""
        return self.__pixels.dtype.itemsize * 8

    @property
    def channelStep(self) -> int:
        """Channels per pixel, padding counted as a channel."""
        return 1 if self.__pixels.ndim == 2 else int(self.__pixels.shape[2])

    def asNPArray(self) -> np.ndarray:
        """A fresh, writable copy of the pixels in the image's format (not necessarily RGB: see ``format``)."""
        return self.__pixels.copy()

    def asPillow(self) -> Image.Image:
        """The pixels as a Pillow image, channel order as stored (a BGR image comes out with red and blue swapped,
        as in the SDK)."""
        return Image.fromarray(self.asNPArray())

    def isBGR(self) -> bool:
        """True for ``B8G8R8`` and ``B8G8R8X8``."""
        return self.__format in _BGR

    def isPadded(self) -> bool:
        """True for the ``...X8`` formats."""
        return self.__format in _PADDED

    def save(self, filename: str, colorFormat: Optional[ColorFormat] = None) -> None:
        """Write the image to ``filename``: jpg, png, ppm, tif (and bmp), in ``colorFormat`` if given.

        Raises:
            LunaSDKException: unknown extension or the file cannot be written.
        """
        kind = _SAVE_FORMATS.get(Path(filename).suffix.lower())
        if kind is None:
            raise LunaSDKException(LunaVLError.FailedToSave.format(
                f"Failed to save image: unknown file extension in {filename!r}; use one of {', '.join(_SAVE_FORMATS)}"
            ))
        target = _checkFormat(colorFormat) or self.__format
        pixels = _convert(self.__pixels, self.__format, target)
        # Files hold colours in RGB order whatever the format in memory; 16-bit grey stays 16-bit where it can.
        picture = Image.fromarray(pixels if target in (ColorFormat.R8, ColorFormat.R16) else np.ascontiguousarray(_toRgb(pixels, target)))
        try:
            picture.save(filename, format=kind)
        except (OSError, ValueError) as error:
            detail = f"Failed to save image to {filename!r}: {error}"
            raise LunaSDKException(LunaVLError.FailedToSave.format(detail)) from None

    def convertToBinaryImg(self, imageFormat: ImageFormat = ImageFormat.PPM) -> bytes:
        """Not implemented in the SDK itself (it raises ``NotImplementedError``); the stand-in does the same."""
        raise NotImplementedError("VLImage.convertToBinaryImg() is not implemented in the SDK either")

    def isValid(self) -> bool:
        """True: a ``VLImage`` here always holds pixels."""
        return self.__pixels.size > 0

    def convert(self, colorFormat: ColorFormat) -> VLImage:
        """A copy in another colour format.

        Raises:
            LunaSDKException: the conversion is not possible (into ``IR_X8X8X8``... from colour, ``Unknown``).
        """
        target = _checkFormat(colorFormat)
        return self.__wrap(_convert(self.__pixels, self.__format, target), target, self.filename, self.source)

    def rescale(self, scale: float) -> VLImage:
        """A copy resized by ``scale`` (bilinear).

        Raises:
            LunaSDKException: ``scale`` is not positive or gives an empty image.
        """
        height, width = self.__pixels.shape[:2]
        size = (round(width * scale), round(height * scale)) if scale > 0 else (0, 0)
        if min(size) < 1:
            raise LunaSDKException(
                LunaVLError.InvalidInput.format(f"rescaling a {width}x{height} image by {scale} leaves no pixels")
            )
        rgb = self.__format not in (ColorFormat.R8, ColorFormat.R16)
        pixels = np.ascontiguousarray(_toRgb(self.__pixels, self.__format)) if rgb else self.__pixels
        resized = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))
        return self.__wrap(_fromRgb(resized, self.__format) if rgb else resized, self.__format, self.filename, self.source)

    def crop(self, rect: Rect) -> VLImage:
        """The part inside ``rect`` (coordinates truncated to whole pixels, as the SDK's ``coreRectI``).

        Raises:
            LunaSDKException: the area is empty or not entirely inside the image.
        """
        x, y, width, height = (int(value) for value in (rect.x, rect.y, rect.width, rect.height))
        area = Rect(x, y, width, height)
        if not area.isValid() or not area.isInside(self.rect):
            raise LunaSDKException(LunaVLError.InvalidImage.format(
                f"invalid image or region (crop {area!r} of a {self.rect.width}x{self.rect.height} "
                "image; clip it to the image first: x, y >= 0, right <= width, bottom <= height)"
            ))
        return self.__wrap(self.__pixels[y:y + height, x:x + width], self.__format, self.filename, self.source)

    def _repr_png_(self) -> bytes:
        """PNG for Jupyter, downscaled so that the longest side is at most 512 px."""
        pixels = self.__pixels if self.__format is ColorFormat.R8 else _toRgb(self.__pixels, self.__format)
        picture = Image.fromarray(np.ascontiguousarray(pixels))
        picture.thumbnail((_REPR_MAX_SIDE, _REPR_MAX_SIDE))
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        return buffer.getvalue()

    def __repr__(self) -> str:
        name = f", filename={self.filename!r}" if self.filename else ""
        return f"VLImage({self.rect.width}x{self.rect.height} {self.__format.value}{name})"


def _fetch(url: str) -> tuple[int, bytes]:
    """GET ``url``; the status and the body (the SDK uses ``requests.get``).

    As ``requests`` does, only ``http`` and ``https`` are fetched, redirects included (``urlopen`` alone also
    opens ``file:``, ``ftp:`` and ``data:`` URLs: ``file:///dev/zero`` read until memory ran out). Unlike the SDK,
    the body is bounded (``_MAX_URL_BYTES``): a 1 GiB answer took 2.1 GB of the notebook's memory.

    Raises:
        ValueError: a URL of another scheme (the SDK's ``InvalidSchema``/``MissingSchema`` are ``ValueError``s), or
            a body over the bound.
    """
    _check_url_scheme(url)
    try:
        with _HTTP_ONLY.open(url, timeout=30) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > _MAX_URL_BYTES:
                raise ValueError(_too_large(url, int(declared)))
            body = bytearray()
            # In pieces: read(_MAX_URL_BYTES) would allocate all of it up front for a body of unknown length.
            for piece in iter(lambda: response.read(_URL_PIECE), b""):
                body += piece
                if len(body) > _MAX_URL_BYTES:
                    raise ValueError(_too_large(url, None))
            return response.status, bytes(body)
    except urllib.error.HTTPError as error:
        return error.code, b""


#: What ``VLImage.load(url=...)`` reads at most: an uncompressed RGBA image of the workbench's default pixel budget
#: (64 Mpx, ``workbench._pixel_budget``) is 256 MiB; a larger body is no photo to count people in.
_MAX_URL_BYTES = 256 * 2**20
_URL_PIECE = 2**20
#: The schemes ``requests`` (the SDK's fetcher) has adapters for.
_URL_SCHEMES = ("http", "https")


def _check_url_scheme(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in _URL_SCHEMES:
        raise ValueError(
            f"VLImage.load(url=...) fetches http:// and https:// URLs only, as the SDK does; {url!r} is "
            f"{f'a {scheme}: URL' if scheme else 'not a URL'} (read a file with VLImage.load(filename=...))"
        )


def _too_large(url: str, declared: int | None) -> str:
    size = f"declares {declared} bytes" if declared is not None else f"goes on past {_MAX_URL_BYTES} bytes"
    return (
        f"the answer of {url} {size}, more than an image may have here ({_MAX_URL_BYTES} bytes; the SDK reads any "
        "size): fetch it yourself if you trust it, and pass the bytes to VLImage"
    )


class _HttpRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows redirects to ``http``/``https`` only, as ``requests`` does (urllib follows ``ftp:`` too)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        _check_url_scheme(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_HTTP_ONLY = urllib.request.build_opener(_HttpRedirectsOnly)


@overload
def _checkFormat(colorFormat: ColorFormat) -> ColorFormat: ...
@overload
def _checkFormat(colorFormat: object) -> ColorFormat | None: ...
def _checkFormat(colorFormat: object) -> ColorFormat | None:
    if colorFormat is not None and not isinstance(colorFormat, ColorFormat):
        raise TypeError(f"colorFormat must be a ColorFormat or None, got {type(colorFormat).__name__} {colorFormat!r}")
    return colorFormat


def _checkResidence(memoryResidence: object) -> None:
    if memoryResidence is None or memoryResidence is MemoryResidence.CPU:
        return
    if memoryResidence is MemoryResidence.GPU:
        raise CoreOnlyError(f"images in GPU memory (MemoryResidence.GPU) {NEEDS_CORE}; use MemoryResidence.CPU")
    raise TypeError(f"memoryResidence must be a MemoryResidence or None, got {type(memoryResidence).__name__}")


def sharedPixels(image: VLImage) -> np.ndarray:
    """The workbench's read-only access to an image's pixels without the copy ``asNPArray`` makes.

    Not part of the SDK (so not in ``__all__`` nor on ``lunavl`` paths): the pixels are class-private so that
    plugin code cannot reach them under a name the SDK's ``VLImage`` lacks.
    """
    pixels: np.ndarray = getattr(image, "_VLImage__pixels")
    return pixels
