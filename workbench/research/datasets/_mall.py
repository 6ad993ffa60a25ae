"""The Mall dataset's layout: one camera's frame sequence with head points for every frame.

``frames/seq_000001.jpg`` ... ``seq_002000.jpg`` (640x480) and ``mall_gt.mat``, whose ``frame{1, i}.loc`` holds
frame ``i``'s head points and ``count(i)`` their number (Chen, Loy, Gong and Xiang, BMVC 2012). Samples carry
``frame`` (the file's number less one, so the first frame is 0); the dataset publishes no frame rate (under
2 frames per second, its paper says), so ``time`` is ``None``: pass ``fps=`` to ``load_sequence`` to set one.

Splits follow the published protocol: ``train`` is frames 1 to 800, ``test`` frames 801 to 2000.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from ._core import Dataset, _check_count_field, _list_images, _load_mat, _pair, _points_array
from ._errors import DatasetError
from ._placing import PointRules

__all__ = ["MALL_SPLITS", "MALL_TRUTH", "is_mall", "load_mall"]

MALL_TRUTH = "mall_gt.mat"
#: The published split: the first 800 frames train, the other 1,200 test (numbers as in the file names).
MALL_SPLITS = {"train": range(1, 801), "test": range(801, 2001)}
_FRAME_NAME = re.compile(r"seq_(\d+)")


def is_mall(root: Path) -> bool:
    """Whether ``root`` is laid out as Mall: ``mall_gt.mat`` beside a ``frames/`` folder."""
    return (root / MALL_TRUTH).is_file() and (root / "frames").is_dir()


def load_mall(
    path: str | Path,
    *,
    split: str | None = None,
    pattern: str | None = None,
    points_frame: str | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """Read the Mall layout (see the module docstring); ``split`` is ``"train"`` or ``"test"``."""
    root = Path(path).expanduser()
    if not is_mall(root):
        raise DatasetError(f"{root}: not the Mall layout: expected {MALL_TRUTH} beside a frames/ folder")
    if split is not None and split.lower() not in MALL_SPLITS:
        raise DatasetError(f"{root}: Mall's splits are 'train' (frames 1-800) and 'test' (801-2000), not {split!r}")
    truth = _read_truth(root / MALL_TRUTH)
    images = [p for p in _list_images(root / "frames") if _FRAME_NAME.fullmatch(p.stem)]
    if not images:
        raise DatasetError(f"{root / 'frames'}: no seq_NNNNNN.jpg frames")
    numbers = {p.stem: int(_FRAME_NAME.fullmatch(p.stem).group(1)) for p in images}  # type: ignore[union-attr]
    if split is not None:
        wanted = MALL_SPLITS[split.lower()]
        images = [p for p in images if numbers[p.stem] in wanted]
    annotations = {p.stem: root / MALL_TRUTH for p in images if numbers[p.stem] <= len(truth)}
    missing = len(truth) - sum(1 for n in numbers.values() if n <= len(truth))
    if missing and split is None:
        raise DatasetError(f"{root}: {MALL_TRUTH} annotates {len(truth)} frames but {missing} of their images are "
                           "missing from frames/; is the copy complete?")

    def read(_: Path, image: Path) -> np.ndarray:
        return truth[numbers[image.stem] - 1]

    samples = _pair(images, annotations, read, root / "frames", root, PointRules("mall", "stored", points_frame, stray_points))
    framed = [dataclasses.replace(sample, frame=numbers[sample.name] - 1) for sample in samples]
    dataset = Dataset._finish(framed, root, "mall", None, pattern, split_dir=True)
    if split is not None:
        dataset.name = dataset.name.replace(root.name, f"{root.name}[{split}]", 1)
    return dataset


def _read_truth(path: Path) -> list[np.ndarray]:
    mat = _load_mat(path, "frame", "Mall's ground truth")
    frames = mat["frame"]
    # The published file has count(i) beside the points, and it is checked against them; a copy may lack it.
    counts = mat["count"].ravel() if "count" in mat else []
    points = []
    try:
        for number, entry in enumerate(frames.ravel(), start=1):
            located = _points_array(np.asarray(entry["loc"][0, 0], dtype=np.float64).reshape(-1, 2),
                                    path.with_name(f"{path.name}#frame{{{number}}}"))
            if number <= len(counts):
                _check_count_field(int(counts[number - 1]), located, path, f"count({number})")
            points.append(located)
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: 'frame' is not nested as Mall's frame{{1, i}}.loc ({exc})") from exc
    return points
