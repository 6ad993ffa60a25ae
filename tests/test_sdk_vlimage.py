"""The stand-in's ``VLImage`` and its enums against the behaviour the reference sources define
(``../shared/reference/lunavl/lunavl/sdk/image_utils/image.py``): colour formats and conversions, the keyword-only
``load``, ``fromNumpyArray``, crop/rescale/rotate/save, and the members that need the vendor's core."""
from __future__ import annotations

import http.server
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.http_serving import serving
from workbench.sdk import ColorFormat, ImageFormat, LunaSDKException, MemoryResidence, Rect, RotationAngle, VLImage


@pytest.fixture
def rgb() -> np.ndarray:
    """A 6x8 RGB image whose every pixel differs, so any shift, swap or transposition shows."""
    return np.random.default_rng(7).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_enum_values_are_the_sdks() -> None:
    assert {m.name: m.value for m in ImageFormat} == {"JPEG": "jpg", "PNG": "png", "PPM": "ppm", "TIFF": "tif", "BMP": "bmp"}
    assert [m.value for m in ColorFormat] == [
        "B8G8R8", "B8G8R8X8", "IR_X8X8X8", "R16", "R8", "R8G8B8", "R8G8B8X8", "Unknown"]
    assert {m.name: m.value for m in RotationAngle} == {
        "ANGLE_0": "Normal", "ANGLE_90": "Left", "ANGLE_270": "Right", "ANGLE_180": "UpsideDown"}
    assert {m.name: m.value for m in MemoryResidence} == {"GPU": "MemoryGPU", "CPU": "MemoryCPU"}


@pytest.mark.parametrize(("name", "member"), [
    ("RGB", ColorFormat.R8G8B8), ("RGBA", ColorFormat.R8G8B8X8), ("RGBX", ColorFormat.R8G8B8X8),
    ("BGR", ColorFormat.B8G8R8), ("BGRa", ColorFormat.B8G8R8X8), ("L", ColorFormat.R8), ("P", ColorFormat.R8),
    ("R16", ColorFormat.R16), ("B8G8R8", ColorFormat.B8G8R8),
])
def test_color_format_load(name: str, member: ColorFormat) -> None:
    assert ColorFormat.load(name) is member


def test_color_format_load_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="Cannot load 'HSV' color format."):
        ColorFormat.load("HSV")
    assert ColorFormat.convertCoreFormat(type("FormatType", (), {"name": "R8"})()) is ColorFormat.R8


def test_from_bytes_array_and_pillow(rgb: np.ndarray) -> None:
    for body in (png(rgb), bytearray(png(rgb)), rgb, Image.fromarray(rgb)):
        image = VLImage(body)
        assert image.format is ColorFormat.R8G8B8 and image.rect == Rect(0, 0, 8, 6)
        np.testing.assert_array_equal(image.asNPArray(), rgb)
        assert image.filename == ""
        assert image.source == bytes(body) if isinstance(body, bytearray) else image.source is body
        assert image.isValid() and not image.isBGR() and not image.isPadded()


def test_a_path_is_not_a_body(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"Bad image type: <class 'str'> \(to read a file use VLImage.load"):
        VLImage(str(tmp_path / "photo.jpg"))  # type: ignore[arg-type]


def test_color_format_argument_converts(rgb: np.ndarray) -> None:
    bgr = VLImage(png(rgb), ColorFormat.B8G8R8)
    assert bgr.format is ColorFormat.B8G8R8 and bgr.isBGR()
    np.testing.assert_array_equal(bgr.asNPArray(), rgb[..., ::-1])
    padded = VLImage(rgb, colorFormat=ColorFormat.B8G8R8X8, filename="x")
    assert padded.isBGR() and padded.isPadded() and padded.filename == "x"
    np.testing.assert_array_equal(padded.asNPArray()[..., :3], rgb[..., ::-1])
    assert (padded.asNPArray()[..., 3] == 255).all()


def test_from_numpy_array_keeps_the_input_format_unless_told(rgb: np.ndarray) -> None:
    bgr_pixels = np.ascontiguousarray(rgb[..., ::-1])
    kept = VLImage.fromNumpyArray(bgr_pixels, "BGR")
    assert kept.format is ColorFormat.B8G8R8 and kept.source is bgr_pixels
    np.testing.assert_array_equal(kept.asNPArray(), bgr_pixels)
    as_rgb = VLImage.fromNumpyArray(bgr_pixels, ColorFormat.B8G8R8, ColorFormat.R8G8B8, filename="cam")
    np.testing.assert_array_equal(as_rgb.asNPArray(), rgb)
    assert as_rgb.filename == "cam"
    grey = VLImage.fromNumpyArray(rgb[..., 0])
    assert grey.format is ColorFormat.R8 and grey.asNPArray().shape == (6, 8)
    with pytest.raises(LunaSDKException, match="not B8G8R8 pixels"):
        VLImage.fromNumpyArray(rgb[..., 0], "BGR")


def test_convert_round_trips_and_grey(rgb: np.ndarray) -> None:
    image = VLImage(rgb, filename="f")
    for target in (ColorFormat.B8G8R8, ColorFormat.R8G8B8X8, ColorFormat.B8G8R8X8):
        back = image.convert(target).convert(ColorFormat.R8G8B8)
        np.testing.assert_array_equal(back.asNPArray(), rgb)
        assert back.filename == "f"
    grey = image.convert(ColorFormat.R8).asNPArray()
    expected = np.rint(rgb.astype(np.float64) @ [0.299, 0.587, 0.114])
    assert np.abs(grey.astype(int) - expected).max() <= 1
    deep = image.convert(ColorFormat.R16)
    assert deep.asNPArray().dtype == np.uint16 and deep.channelSize == 16
    np.testing.assert_array_equal(deep.convert(ColorFormat.R8).asNPArray(), grey)
    with pytest.raises(LunaSDKException, match="Unknown"):
        image.convert(ColorFormat.Unknown)
    with pytest.raises(TypeError, match="colorFormat must be a ColorFormat"):
        image.convert("R8")  # type: ignore[arg-type]


@pytest.mark.parametrize(("fmt", "count", "size", "step", "bits"), [
    (ColorFormat.R8G8B8, 3, 8, 3, 24), (ColorFormat.B8G8R8X8, 3, 8, 4, 32), (ColorFormat.R8, 1, 8, 1, 8),
    (ColorFormat.R16, 1, 16, 1, 16),
])
def test_pixel_layout_properties(rgb: np.ndarray, fmt: ColorFormat, count: int, size: int, step: int, bits: int) -> None:
    image = VLImage(rgb, fmt)
    assert (image.channelCount, image.channelSize, image.channelStep, image.bitDepth) == (count, size, step, bits)
    assert image.getByteDepth == bits // 8 and image.computePitch(10) == 10 * bits // 8


def test_as_pillow_keeps_the_stored_channel_order(rgb: np.ndarray) -> None:
    np.testing.assert_array_equal(np.asarray(VLImage(rgb).asPillow()), rgb)
    np.testing.assert_array_equal(np.asarray(VLImage(rgb, ColorFormat.B8G8R8).asPillow()), rgb[..., ::-1])


def test_as_np_array_is_a_writable_copy(rgb: np.ndarray) -> None:
    image = VLImage(rgb)
    copy = image.asNPArray()
    copy[:] = 0
    np.testing.assert_array_equal(image.asNPArray(), rgb)
    rgb[:] = 0
    assert image.asNPArray().any(), "the image does not follow later writes to the caller's array"


def test_crop_truncates_like_core_rect_i(rgb: np.ndarray) -> None:
    image = VLImage(rgb, filename="p")
    np.testing.assert_array_equal(image.crop(Rect(2, 1, 3, 4)).asNPArray(), rgb[1:5, 2:5])
    np.testing.assert_array_equal(image.crop(Rect(1.7, 0.2, 2.9, 2.7)).asNPArray(), rgb[0:2, 1:3])
    assert image.crop(image.rect).filename == "p"
    bgr = VLImage(rgb, ColorFormat.B8G8R8).crop(Rect(0, 0, 2, 2))
    assert bgr.format is ColorFormat.B8G8R8


@pytest.mark.parametrize("rect", [Rect(10, 10, 2, 2), Rect(6, 4, 4, 4), Rect(-1, 0, 3, 3), Rect(1, 1, 0, 3), Rect()])
def test_crop_outside_or_empty_is_an_sdk_error(rgb: np.ndarray, rect: Rect) -> None:
    with pytest.raises(LunaSDKException, match="invalid image or region.*clip it to the image first"):
        VLImage(rgb).crop(rect)


def test_rescale(rgb: np.ndarray) -> None:
    image = VLImage(rgb, ColorFormat.B8G8R8, filename="s")
    half = image.rescale(0.5)
    assert half.rect == Rect(0, 0, 4, 3) and half.format is ColorFormat.B8G8R8 and half.filename == "s"
    assert image.rescale(2).rect == Rect(0, 0, 16, 12)
    flat = VLImage(np.full((6, 8, 3), 77, np.uint8)).rescale(1.5)
    assert (flat.asNPArray() == 77).all()
    for scale in (0, -1, 0.01):
        with pytest.raises(LunaSDKException, match="leaves no pixels"):
            image.rescale(scale)


def test_rotate(rgb: np.ndarray) -> None:
    image = VLImage(rgb)
    left = VLImage.rotate(image, RotationAngle.ANGLE_90)
    assert left.rect == Rect(0, 0, 6, 8)
    np.testing.assert_array_equal(left.asNPArray(), np.rot90(rgb))
    np.testing.assert_array_equal(VLImage.rotate(image, RotationAngle.ANGLE_270).asNPArray(), np.rot90(rgb, 3))
    np.testing.assert_array_equal(VLImage.rotate(image, RotationAngle.ANGLE_0).asNPArray(), rgb)


def test_load_is_keyword_only_and_names_the_file(tmp_path: Path, rgb: np.ndarray) -> None:
    path = tmp_path / "crowd.png"
    path.write_bytes(png(rgb))
    with pytest.raises(TypeError):
        VLImage.load(str(path))  # type: ignore[misc]
    image = VLImage.load(filename=str(path), colorFormat=ColorFormat.B8G8R8)
    assert image.filename == "crowd.png" and image.format is ColorFormat.B8G8R8
    np.testing.assert_array_equal(image.asNPArray(), rgb[..., ::-1])
    with pytest.raises(ValueError):
        VLImage.load()


@pytest.fixture
def local_server(rgb: np.ndarray) -> Iterator[str]:
    """An HTTP server on the loopback interface: the URL path of VLImage.load without any network."""
    body = png(rgb)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            ok = self.path == "/crowd.png"
            self.send_response(200 if ok else 404)
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


def test_load_from_a_url(local_server: str, rgb: np.ndarray) -> None:
    image = VLImage.load(url=f"{local_server}/crowd.png")
    np.testing.assert_array_equal(image.asNPArray(), rgb)
    assert image.filename == f"{local_server}/crowd.png"
    with pytest.raises(ValueError):
        VLImage.load(url=f"{local_server}/missing.png")


@pytest.mark.parametrize("suffix", [".png", ".ppm", ".tif", ".bmp"])
def test_save_writes_rgb_files(tmp_path: Path, rgb: np.ndarray, suffix: str) -> None:
    target = tmp_path / f"out{suffix}"
    VLImage(rgb, ColorFormat.B8G8R8).save(str(target))
    np.testing.assert_array_equal(np.asarray(Image.open(target).convert("RGB")), rgb)


def test_save_in_another_format_and_errors(tmp_path: Path, rgb: np.ndarray) -> None:
    VLImage(rgb).save(str(tmp_path / "grey.png"), ColorFormat.R8)
    assert Image.open(tmp_path / "grey.png").mode == "L"
    with pytest.raises(LunaSDKException, match="unknown file extension"):
        VLImage(rgb).save(str(tmp_path / "out.xyz"))
    with pytest.raises(LunaSDKException, match="Failed to save"):
        VLImage(rgb).save(str(tmp_path / "missing" / "out.png"))


def test_convert_to_binary_img_is_unimplemented_in_the_sdk_too(rgb: np.ndarray) -> None:
    with pytest.raises(NotImplementedError, match="not implemented in the SDK either"):
        VLImage(rgb).convertToBinaryImg(ImageFormat.PNG)


def test_memory_residence(rgb: np.ndarray) -> None:
    assert VLImage(rgb, memoryResidence=MemoryResidence.CPU).getMemoryResidence() is MemoryResidence.CPU
    with pytest.raises(NotImplementedError, match="GPU.*C\\+\\+ core"):
        VLImage(rgb, memoryResidence=MemoryResidence.GPU)


@pytest.mark.parametrize("member", ["coreImage"])
def test_core_members_say_why_they_fail(rgb: np.ndarray, member: str) -> None:
    with pytest.raises(NotImplementedError, match="C\\+\\+ core"):
        getattr(VLImage(rgb), member)
    with pytest.raises(NotImplementedError, match="C\\+\\+ core"):
        ColorFormat.R8.coreFormat  # noqa: B018


def test_no_workbench_extras_on_the_image(rgb: np.ndarray) -> None:
    image = VLImage(rgb)
    for extra in ("width", "height", "fromPath"):
        assert not hasattr(image, extra), extra
