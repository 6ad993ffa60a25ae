"""Videos and frame sequences written for the tests: flat-colour frames that say their own number, and Mall's layout."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from .datasets import DATA_BESIDE_CHECKOUT

MALL_ENV = "WORKBENCH_MALL"


def frame_colour(index: int) -> tuple[int, int, int]:
    """Frame ``index``'s flat colour: red and green spell the number in steps of 16, so lossy coding cannot
    turn one frame into another (x264 moves a flat colour by a few levels at most)."""
    return (index % 16) * 16 + 8, (index // 16 % 16) * 16 + 8, 128


def frame_number(pixels: np.ndarray) -> int:
    """The number ``frame_colour`` gave a frame, read back from its centre pixel."""
    red, green = (int(value) for value in pixels[pixels.shape[0] // 2, pixels.shape[1] // 2, :2])
    return round((red - 8) / 16) + 16 * round((green - 8) / 16)


def write_video(
    path: Path, frames: int = 24, *, fps: int = 8, size: tuple[int, int] = (64, 48), gop: int = 6,
    pictures: Sequence[np.ndarray] | None = None, codec: str = "libx264", b_frames: int | None = None,
    container_format: str | None = None,
) -> Path:
    """A video of ``frames`` frames (flat ``frame_colour``s, or ``pictures`` in turn), a keyframe every ``gop``
    frames, by ``codec`` (H.264 by default) with ``b_frames`` B-frames in a row where given, in the container the
    suffix names (or ``container_format``: ``"h264"`` writes a raw stream without timestamps)."""
    import av

    width, height = size
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        if b_frames is not None:
            stream.codec_context.max_b_frames = b_frames
        if codec == "libx264":
            stream.codec_context.options = {"keyint_min": str(gop), "sc_threshold": "0"}
        for index in range(frames):
            if pictures is None:
                pixels = np.empty((height, width, 3), np.uint8)
                pixels[:] = frame_colour(index)
            else:
                pixels = np.ascontiguousarray(pictures[index % len(pictures)][:height, :width])
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_mall(root: Path, points: Sequence[np.ndarray], *, counts: Sequence[int] | None = None) -> Path:
    """Mall's layout: ``frames/seq_NNNNNN.jpg`` (64x48) and ``mall_gt.mat`` with ``frame{1,i}.loc`` and ``count``."""
    from PIL import Image
    from scipy.io import savemat

    (root / "frames").mkdir(parents=True)
    frame = np.empty((1, len(points)), dtype=[("loc", "O")])
    for index, located in enumerate(points):
        Image.new("RGB", (64, 48), frame_colour(index)).save(root / "frames" / f"seq_{index + 1:06d}.jpg", quality=95)
        cell = np.empty((1, 1), dtype=object)
        cell[0, 0] = np.asarray(located, dtype=np.float64).reshape(-1, 2)
        frame[0, index]["loc"] = cell
    number = [len(p) for p in points] if counts is None else list(counts)
    savemat(str(root / "mall_gt.mat"), {"frame": frame, "count": np.asarray(number, dtype=np.float64).reshape(-1, 1)})
    return root


def mall_folder() -> Path:
    """The Mall dataset's folder, from ``$WORKBENCH_MALL`` or ``../data/shtech/datasets/Mall`` beside the checkout;
    the test is skipped, saying so, when it is absent."""
    folder = Path(os.environ.get(MALL_ENV) or DATA_BESIDE_CHECKOUT / "shtech" / "datasets" / "Mall")
    if not (folder / "mall_gt.mat").is_file():
        pytest.skip(f"needs the Mall dataset (frames/ and mall_gt.mat) in {folder}: set ${MALL_ENV} to its folder "
                    "(docs/user-guide.md, 'Counting over time', says where to get it)")
    return folder
