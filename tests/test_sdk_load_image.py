"""``workbench.images.load_image``: every input kind, every decode path, every error; crop and the Jupyter repr."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, features

from workbench.images import ImageDecodeError, load_image, rgb_pixels
from workbench.sdk import ColorFormat, LunaSDKException, Rect, VLImage
from workbench.sdk import _decode
from workbench.sdk import image as image_module

RED = (255, 0, 0)
WHITE = (255, 255, 255)


def encode(picture: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture
def pixels() -> np.ndarray:
    """A 6x8 RGB image whose every pixel differs, so any shift or transposition shows."""
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)


def assert_rgb(image: VLImage, height: int, width: int) -> np.ndarray:
    array = image.asNPArray()
    assert array.dtype == np.uint8
    assert array.shape == (height, width, 3)
    assert array.flags.c_contiguous
    assert image.rect == Rect(0, 0, width, height)
    assert image.format is ColorFormat.R8G8B8
    return array


# --- input kinds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_str", [False, True])
def test_path_input(tmp_path: Path, pixels: np.ndarray, as_str: bool) -> None:
    path = tmp_path / "picture.png"
    Image.fromarray(pixels).save(path)
    image = load_image(str(path) if as_str else path)
    np.testing.assert_array_equal(assert_rgb(image, 6, 8), pixels)
    assert image.filename == str(path)


def test_load_classmethod_and_explicit_filename(tmp_path: Path, pixels: np.ndarray) -> None:
    path = tmp_path / "picture.png"
    Image.fromarray(pixels).save(path)
    loaded = VLImage.load(filename=path)  # the SDK's way: keyword only, the filename becomes the file's name
    np.testing.assert_array_equal(loaded.asNPArray(), pixels)
    assert loaded.filename == "picture.png"
    assert load_image(path, filename="shown.png").filename == "shown.png"


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_bytes_input(pixels: np.ndarray, wrap: type) -> None:
    image = load_image(wrap(encode(Image.fromarray(pixels), "PNG")), filename="upload.png")
    np.testing.assert_array_equal(assert_rgb(image, 6, 8), pixels)
    assert image.filename == "upload.png"
    assert "upload.png" in repr(image) and "8x6" in repr(image)


def test_numpy_input_is_copied(pixels: np.ndarray) -> None:
    source = pixels.copy()
    image = load_image(source)
    source[:] = 0
    np.testing.assert_array_equal(assert_rgb(image, 6, 8), pixels)
    assert source.flags.writeable, "the caller's array must stay theirs"


def test_pil_input(pixels: np.ndarray) -> None:
    image = load_image(Image.fromarray(pixels))
    np.testing.assert_array_equal(assert_rgb(image, 6, 8), pixels)


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("PNG", {}),
        ("BMP", {}),
        ("TIFF", {}),
        ("WEBP", {"lossless": True}),
        ("JPEG", {"quality": 100, "subsampling": 0}),
    ],
)
def test_formats(pixels: np.ndarray, fmt: str, params: dict) -> None:
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow built without WEBP")
    decoded = assert_rgb(load_image(encode(Image.fromarray(pixels), fmt, **params)), 6, 8)
    tolerance = 40 if fmt == "JPEG" else 0
    assert np.abs(decoded.astype(int) - pixels.astype(int)).max() <= tolerance


def test_unsupported_body_type() -> None:
    with pytest.raises(TypeError, match="path.*bytes.*numpy array.*PIL"):
        load_image(12345)  # type: ignore[arg-type]


# --- copy semantics ------------------------------------------------------------------------------------------


def test_asnparray_is_an_independent_writable_copy(pixels: np.ndarray) -> None:
    image = load_image(pixels)
    first = image.asNPArray()
    first[:] = 0
    assert first.flags.writeable
    np.testing.assert_array_equal(image.asNPArray(), pixels)


def test_aspillow_is_independent(pixels: np.ndarray) -> None:
    image = load_image(pixels)
    picture = image.asPillow()
    assert picture.mode == "RGB" and picture.size == (8, 6)
    picture.putpixel((0, 0), (1, 2, 3))
    np.testing.assert_array_equal(image.asNPArray(), pixels)


# --- decoding of modes ---------------------------------------------------------------------------------------


def test_grayscale_l_and_1() -> None:
    gray = load_image(encode(Image.new("L", (3, 2), 77), "PNG"))
    assert assert_rgb(gray, 2, 3)[1, 2].tolist() == [77, 77, 77]
    bilevel = Image.new("1", (3, 2), 0)
    bilevel.putpixel((1, 0), 1)
    decoded = assert_rgb(load_image(encode(bilevel, "PNG")), 2, 3)
    assert decoded[0, 1].tolist() == [255, 255, 255]
    assert decoded[0, 0].tolist() == [0, 0, 0]


def test_palette() -> None:
    picture = Image.new("P", (4, 3), 1)
    picture.putpalette([0, 0, 0, 10, 200, 30] + [0, 0, 0] * 254)
    assert picture.mode == "P"
    assert assert_rgb(load_image(encode(picture, "PNG")), 3, 4)[2, 3].tolist() == [10, 200, 30]


def test_palette_with_transparency_goes_over_white() -> None:
    picture = Image.new("P", (2, 1), 0)
    picture.putpalette([9, 9, 9, 10, 200, 30] + [0, 0, 0] * 254)
    picture.putpixel((1, 0), 1)
    decoded = assert_rgb(load_image(encode(picture, "PNG", transparency=0)), 1, 2)
    assert decoded[0, 0].tolist() == list(WHITE)
    assert decoded[0, 1].tolist() == [10, 200, 30]


def test_rgba_composited_over_white() -> None:
    rgba = np.array([[[255, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    decoded = assert_rgb(load_image(encode(Image.fromarray(rgba), "PNG")), 1, 3)
    assert decoded[0, 0].tolist() == list(WHITE), "a fully transparent pixel shows the white background"
    assert decoded[0, 1].tolist() == [0, 0, 255]
    assert all(abs(v - 127) <= 1 for v in decoded[0, 2].tolist())


def test_la_composited_over_white() -> None:
    picture = Image.new("LA", (2, 1), (0, 0))
    picture.putpixel((1, 0), (100, 255))
    decoded = assert_rgb(load_image(encode(picture, "PNG")), 1, 2)
    assert decoded[0, 0].tolist() == list(WHITE)
    assert decoded[0, 1].tolist() == [100, 100, 100]


def test_cmyk() -> None:
    picture = Image.new("CMYK", (3, 2), (0, 255, 255, 0))
    assert assert_rgb(load_image(encode(picture, "TIFF")), 2, 3)[1, 1].tolist() == list(RED)


def test_16_bit_png_scaled_to_8_bit() -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I"), "the test must really write a 16-bit PNG"
    decoded = assert_rgb(load_image(data), 1, 4)
    assert decoded[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (decoded[..., 0] == decoded[..., 2]).all()


def test_32_bit_integer_mode_i_read_as_16_bit() -> None:
    picture = Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.int32))
    assert picture.mode == "I"
    assert assert_rgb(load_image(picture), 1, 3)[0, :, 1].tolist() == [0, 128, 255]


def test_32_bit_integer_out_of_16_bit_range_is_an_error() -> None:
    picture = Image.fromarray(np.array([[0, 70000]], dtype=np.int32))
    with pytest.raises(ImageDecodeError, match=r"0\.\.70000.*0\.\.65535"):
        load_image(picture, filename="deep.tif")


def test_float_mode_f_is_an_error() -> None:
    with pytest.raises(ImageDecodeError, match="mode F.*uint8"):
        load_image(Image.new("F", (2, 2), 0.5))


@pytest.mark.parametrize(("orientation", "red_at"), [(6, (4, 15)), (8, (35, 4))])
def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path, orientation: int, red_at: tuple[int, int]) -> None:
    # Stored landscape, 40 wide x 20 tall, red block in the stored top-left 10x10 corner.
    stored = np.full((20, 40, 3), 255, dtype=np.uint8)
    stored[:10, :10] = RED
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "portrait.jpg"
    Image.fromarray(stored).save(path, format="JPEG", exif=exif, quality=95)

    decoded = assert_rgb(load_image(path), 40, 20).astype(int)
    # Orientation 6 (rotate 90 clockwise to view) moves the stored top-left corner to the top-right;
    # orientation 8 (rotate 90 counter-clockwise) moves it to the bottom-left. Sample block centres,
    # away from the edges that JPEG blurs.
    for row, col in [(4, 4), (4, 15), (35, 4), (35, 15)]:
        expected = RED if (row, col) == red_at else WHITE
        assert np.abs(decoded[row, col] - expected).max() < 40, (row, col, decoded[row, col])


def test_exif_orientation_applied_to_a_pil_input_too(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    Image.new("RGB", (40, 20), WHITE).save(path, format="JPEG", exif=exif)
    with Image.open(path) as picture:
        assert_rgb(load_image(picture), 40, 20)


# --- numpy input kinds and errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 4), (5, 4, 1)])
def test_numpy_gray(shape: tuple[int, ...]) -> None:
    decoded = assert_rgb(load_image(np.full(shape, 42, dtype=np.uint8)), 5, 4)
    assert (decoded == 42).all()


def test_numpy_rgba_over_white() -> None:
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    decoded = assert_rgb(load_image(rgba), 2, 2)
    assert decoded[0, 0].tolist() == [10, 20, 30]
    assert decoded[1, 1].tolist() == list(WHITE)


def test_numpy_uint16_scaled() -> None:
    decoded = assert_rgb(load_image(np.array([[0, 257, 65535]], dtype=np.uint16)), 1, 3)
    assert decoded[0, :, 0].tolist() == [0, 1, 255]


def test_numpy_non_contiguous_input(pixels: np.ndarray) -> None:
    flipped = pixels[:, ::-1]
    np.testing.assert_array_equal(assert_rgb(load_image(flipped), 6, 8), flipped)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.zeros((4, 4), dtype=bool), r"bool arrays are ambiguous.*astype\(np\.uint8\) \* 255"),
        (np.zeros((4, 4, 3), dtype=np.float32), r"float arrays are ambiguous.*\(arr\*255\)\.astype\(np\.uint8\)"),
        (np.zeros((4, 4, 3), dtype=np.int64), r"unsupported dtype int64.*astype\(np\.uint8\)"),
        (np.zeros((0, 4, 3), dtype=np.uint8), r"zero-size array \(shape \(0, 4, 3\)\)"),
        (np.zeros((1, 4, 4, 3), dtype=np.uint8), r"4-D shape \(1, 4, 4, 3\).*arr\[0\]"),
        (np.zeros((4,), dtype=np.uint8), r"1-D"),
        (np.zeros((4, 4, 2), dtype=np.uint8), r"1, 3 or 4 channels.*\(4, 4, 2\)"),
        (np.zeros((3, 16, 16), dtype=np.uint8), r"channels-first.*transpose\(1, 2, 0\)"),
    ],
)
def test_numpy_errors(array: np.ndarray, expected: str) -> None:
    with pytest.raises(ImageDecodeError, match=expected) as caught:
        load_image(array)
    assert "numpy array" in str(caught.value)


def test_numpy_error_names_the_filename() -> None:
    with pytest.raises(ImageDecodeError, match="^frame-12: float"):
        load_image(np.zeros((2, 2)), filename="frame-12")


# --- decode errors -------------------------------------------------------------------------------------------


def test_empty_bytes() -> None:
    with pytest.raises(ImageDecodeError, match=r"bytes \(0 bytes\): empty"):
        load_image(b"")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty.jpg: empty"):
        load_image(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_fails_at_construction(tmp_path: Path, pixels: np.ndarray, fmt: str) -> None:
    data = encode(Image.fromarray(np.tile(pixels, (8, 8, 1))), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageDecodeError, match=rf"cut\.{fmt.lower()}: .*truncated.*re-download"):
        load_image(path)


def test_truncated_bytes_name_their_size(pixels: np.ndarray) -> None:
    data = encode(Image.fromarray(np.tile(pixels, (8, 8, 1))), "JPEG")[:300]
    with pytest.raises(ImageDecodeError, match=r"^bytes \(300 bytes\): .*truncated"):
        load_image(data)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n")
    with pytest.raises(ImageDecodeError, match=r"notes\.jpg: not an image.*b'these are not pi'.*JPEG, PNG"):
        load_image(path)


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.png"
    with pytest.raises(ImageDecodeError, match="nowhere.png: file not found; check the path"):
        load_image(missing)
    with pytest.raises(FileNotFoundError):
        VLImage.load(filename=str(missing))


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="is a directory, not an image file"):
        load_image(tmp_path)


def test_decode_error_is_the_sdks_exception_and_a_value_error() -> None:
    assert issubclass(ImageDecodeError, ValueError) and issubclass(ImageDecodeError, LunaSDKException)
    with pytest.raises(LunaSDKException, match="not an image"):
        VLImage(b"these are not pixels")


def test_decompression_bomb_guard_stays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(Image.new("RGB", (10, 10)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(ImageDecodeError, match=r"bytes \(\d+ bytes\): .*MAX_IMAGE_PIXELS"):
        load_image(data)


# --- Jupyter -------------------------------------------------------------------------------------------------


def test_repr_png_downscales_large_images() -> None:
    shown = Image.open(io.BytesIO(load_image(np.zeros((1000, 2000, 3), dtype=np.uint8))._repr_png_()))
    assert shown.format == "PNG"
    assert shown.size == (512, 256)


def test_repr_png_keeps_small_images(pixels: np.ndarray) -> None:
    shown = Image.open(io.BytesIO(load_image(pixels)._repr_png_()))
    np.testing.assert_array_equal(np.asarray(shown.convert("RGB")), pixels)


def test_repr_without_filename(pixels: np.ndarray) -> None:
    assert repr(load_image(pixels)) == "VLImage(8x6 R8G8B8)"
    assert repr(load_image(pixels, filename="a.png")) == "VLImage(8x6 R8G8B8, filename='a.png')"


def test_rgb_pixels_reads_an_rgb_image_without_copying_it_and_converts_the_others() -> None:
    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    image = VLImage(pixels)
    whole = rgb_pixels(image)
    assert np.array_equal(whole, pixels) and not whole.flags.writeable
    assert np.shares_memory(whole, rgb_pixels(image)), "an estimator's batch is the only copy it makes"
    assert np.array_equal(rgb_pixels(image, Rect(1, 2, 3, 2)), pixels[2:4, 1:4])
    bgr = VLImage.fromNumpyArray(pixels[:, :, ::-1].copy(), ColorFormat.B8G8R8)
    assert np.array_equal(rgb_pixels(bgr), pixels)


def test_pixels_backed_by_immutable_bytes_are_kept_without_a_copy_and_others_are_copied() -> None:
    decoded = np.asarray(Image.new("RGB", (16, 4), (9, 80, 200)))  # a read-only view of Pillow's bytes
    assert np.shares_memory(rgb_pixels(VLImage(decoded)), decoded)
    writable = decoded.copy()
    image = VLImage(writable)
    writable[:] = 0
    assert rgb_pixels(image).max() > 0, "a caller's writable array is copied: changing it later changes no image"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_decoded_photo_becomes_an_image_without_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # Copying the pixels of a decoded 1024x768 photo costs 2.4 MB of fresh memory and a pass over it: the
    # image keeps what the decoder made (Pillow's packed bytes, or libjpeg-turbo's array) as it is.
    path = tmp_path / f"photo.{fmt.lower()}"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path, format=fmt)
    decoded: list[np.ndarray] = []
    real_decode = image_module.decodeBytes
    monkeypatch.setattr(image_module, "decodeBytes", lambda *args: decoded.append(real_decode(*args)) or decoded[-1])
    for load in (lambda: load_image(path), lambda: VLImage(path.read_bytes()), lambda: VLImage.load(filename=path)):
        image = load()
        assert np.shares_memory(rgb_pixels(image), decoded.pop())
    writable_view = np.frombuffer(bytearray(real_decode(path.read_bytes(), str(path)).tobytes()), np.uint8)
    image = VLImage(writable_view.reshape(48, 64, 3))
    writable_view[:] = 0
    assert rgb_pixels(image).max() > 0, "a view of a writable buffer is copied"
    owned = real_decode(path.read_bytes(), str(path))
    image = VLImage(owned)
    if owned.base is None:  # an array that owns its memory could be made writable again by whoever holds it
        owned.flags.writeable = True
        owned[:] = 0
    assert rgb_pixels(image).max() > 0, "pixels a caller still holds are copied"


class _CountingEncoder:
    """Wraps a Pillow encoder and counts its ``encode`` calls."""

    def __init__(self, encoder: object, calls: list[int]) -> None:
        self._encoder, self._calls = encoder, calls

    def encode(self, bufsize: int):
        self._calls.append(bufsize)
        return self._encoder.encode(bufsize)

    def __getattr__(self, name: str):
        return getattr(self._encoder, name)


def test_a_decoded_photo_is_packed_into_pixels_in_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    # np.asarray(picture) packed a 1024x768 photo in 37 pieces of 64 KiB and joined them (a second copy):
    # about 0.8 ms of its 3 ms, beside 4 ms of JPEG decoding.
    photo = Image.fromarray(np.random.default_rng(3).integers(0, 256, (768, 1024, 3), dtype=np.uint8))
    data = encode(photo, "PNG")  # a JPEG is not Pillow's to decode (see the JPEG tests below)
    calls: list[int] = []
    original = Image._getencoder
    monkeypatch.setattr(Image, "_getencoder", lambda *args: _CountingEncoder(original(*args), calls))
    image = load_image(data)
    assert len(calls) == 1
    np.testing.assert_array_equal(image.asNPArray(), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))


@pytest.mark.parametrize("size", [(1, 1), (7, 5), (1024, 3), (3, 1024), (0, 5)])
def test_packed_pixels_are_pillows_own(size: tuple[int, int]) -> None:
    from workbench.sdk._decode import rgbPixels

    picture = Image.fromarray(np.random.default_rng(5).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    packed = rgbPixels(picture)
    assert packed.shape == (size[1], size[0], 3) and not packed.flags.writeable
    np.testing.assert_array_equal(packed, np.asarray(picture))


# --- JPEG: libjpeg-turbo straight into the pixels ------------------------------------------------------------

needs_simplejpeg = pytest.mark.skipif(
    getattr(_decode, "simplejpeg", True) is None,
    reason="simplejpeg cannot be imported here (no wheel for this platform): Pillow decodes every JPEG",
)


def photo_like(height: int, width: int) -> np.ndarray:
    """Smooth gradients with noise, as photos are: JPEG's upsampling and rounding show in every pixel."""
    rows, cols = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(height * 1000 + width)
    base = np.stack([rows * 255 / max(height - 1, 1), cols * 255 / max(width - 1, 1), (rows + cols) % 256], axis=-1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def pillows_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"))


PLAIN_JPEGS = {
    "4:2:0": ("RGB", {"quality": 90}),
    "4:2:2": ("RGB", {"quality": 90, "subsampling": 1}),
    "4:4:4": ("RGB", {"quality": 95, "subsampling": 0}),
    "progressive": ("RGB", {"quality": 85, "progressive": True}),
    "optimised": ("RGB", {"quality": 75, "optimize": True}),
    "restart markers": ("RGB", {"quality": 80, "restart_marker_blocks": 2}),
    "grey": ("L", {"quality": 90}),
}


@pytest.mark.parametrize("size", [(768, 1024), (17, 33), (1, 1), (9, 2)], ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("kind", PLAIN_JPEGS)
def test_plain_jpegs_decode_to_pillows_own_pixels(kind: str, size: tuple[int, int]) -> None:
    mode, params = PLAIN_JPEGS[kind]
    picture = Image.fromarray(photo_like(*size)).convert(mode)
    data = encode(picture, "JPEG", **params)
    decoded = assert_rgb(load_image(data), *size)
    np.testing.assert_array_equal(decoded, pillows_pixels(data))


@needs_simplejpeg
def test_a_plain_jpeg_is_decoded_without_pillows_four_byte_image(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow decodes a JPEG into an image of 4 bytes per pixel and then packs it into the array: on crowd-mini's
    # 1024x768 photos, 5.4 ms of CPU per photo in calls of 8 against 3.7 for libjpeg-turbo writing the array.
    loads: list[str] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.format) or real_load(self))
    data = encode(Image.fromarray(photo_like(48, 64)), "JPEG", quality=90)
    pixels = _decode.decodeBytes(data, "photo.jpg")
    assert loads == [], "Pillow decoded the pixels"
    assert not pixels.flags.writeable and pixels.flags.c_contiguous
    mpo = io.BytesIO()
    Image.fromarray(photo_like(48, 64)).save(mpo, "MPO", save_all=True, append_images=[Image.new("RGB", (8, 6))])
    assert Image.open(mpo).format == "MPO", "the test must really write an MPO file"
    expected = pillows_pixels(mpo.getvalue())
    loads.clear()
    np.testing.assert_array_equal(load_image(mpo.getvalue()).asNPArray(), expected)
    assert loads == []


def test_jpegs_libjpeg_turbo_does_not_take_are_pillows(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self.mode) or real_load(self))
    cmyk = encode(Image.new("CMYK", (4, 3), (0, 255, 255, 0)), "JPEG", quality=95)
    assert np.abs(assert_rgb(load_image(cmyk), 3, 4).astype(int) - RED).max() < 8
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = encode(Image.fromarray(photo_like(20, 40)), "JPEG", exif=exif)
    assert_rgb(load_image(turned), 40, 20)
    assert sorted(set(loads)) == ["CMYK", "RGB"], "Pillow decodes both"


def test_a_truncated_jpeg_is_pillows_to_read_or_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(Image.fromarray(photo_like(64, 64)), "JPEG", quality=90)
    cut = data[: len(data) * 2 // 3]
    with pytest.raises(ImageDecodeError, match=r"^bytes \(\d+ bytes\): the image data is truncated or corrupt"):
        load_image(cut)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # the user's choice, as Pillow honours it
    np.testing.assert_array_equal(assert_rgb(load_image(cut), 64, 64), pillows_pixels(cut))


def test_without_simplejpeg_pillow_decodes_jpegs_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(Image.fromarray(photo_like(30, 50)), "JPEG", quality=90)
    with_it = load_image(data).asNPArray()
    monkeypatch.setattr(_decode, "simplejpeg", None)
    np.testing.assert_array_equal(load_image(data).asNPArray(), with_it)
