"""Images that are cheap to send and costly to decode, made here in milliseconds (no downloads).

- ``tiny_webp(width, height)``: a lossless WebP of any size up to 16384 x 16384 in 34 bytes. Pillow writes a
  black 8x8 one whose Huffman codes have one symbol each, so every pixel takes 0 bits: the same bitstream is a
  valid image of any size once the VP8L header says so. 8000 x 7900 decodes in full (63 Mpx, a gigabyte).
- ``flat_png(width, height)``: a black RGB PNG written row by row (a 7000x7000 one is 150 KB, made without
  holding its pixels): within the budgets, decoded in full.
- ``scan_bomb_jpeg(width, height, scans)``: a valid progressive JPEG whose last refinement scan is repeated
  until the file has ``scans`` scans; each repeat is one more pass over every block (libjpeg warns of a bogus
  progression and decodes on), while the file grows by a few bytes per scan on a flat image.
"""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

_VP8L = b"VP8L"
_SOS = b"\xff\xda"
_EOI = b"\xff\xd9"


def tiny_webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, format="WEBP", lossless=True, quality=0, method=0)
    data = bytearray(out.getvalue())
    # After the chunk's tag and size: the signature byte 0x2f, then 14 bits width - 1, 14 bits height - 1,
    # alpha and version, little-endian.
    at = data.index(_VP8L) + 8
    assert data[at] == 0x2F, "Pillow's lossless WebP no longer starts its VP8L stream as expected"
    fields = int.from_bytes(data[at + 1:at + 5], "little")
    fields = (fields & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[at + 1:at + 5] = fields.to_bytes(4, "little")
    return bytes(data)


def progressive_jpeg(width: int, height: int) -> bytes:
    """A flat grey progressive JPEG as Pillow writes it (libjpeg's standard progression: 10 scans)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(out, format="JPEG", progressive=True, quality=90)
    return out.getvalue()


def scan_bomb_jpeg(width: int, height: int, scans: int) -> bytes:
    data = progressive_jpeg(width, height)
    assert data.endswith(_EOI)
    last = data.rindex(_SOS)
    repeats = scans - data.count(_SOS)
    return data[:-2] + data[last:-2] * repeats + _EOI


def flat_png(width: int, height: int) -> bytes:
    row = b"\x00" + bytes(3 * width)  # filter type 0, then black RGB pixels
    packer = zlib.compressobj(9)
    pixels = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
