"""People-counting datasets: a folder of images with optional head-point annotations.

Formats, one loader each (``load_dataset`` picks one by looking at the folder, or takes ``format=``):

========================  ====================================================================================
``crowd-json``            ``images/X.jpg`` + ``points/X.json`` (the crowd-mini layout), or JSON beside images
``shanghaitech``          ``images/IMG_N.jpg`` + ``ground-truth/GT_IMG_N.mat`` (``image_info{1}.location``)
``ucf-qnrf``              ``img_NNNN.jpg`` + ``img_NNNN_ann.mat`` (``annPoints``), in ``Train/`` and ``Test/``
``nwpu``                  ``images/``, ``jsons/NNNN.json`` (``human_num``, ``points``), ``train/val/test.txt``
``jhu``                   ``{split}/images/``, ``gt/NNNN.txt`` (``x y w h o b``), ``image_labels.txt``
``images``                images only: ``points`` and ``count`` are ``None`` (estimators run, nothing is scored)
========================  ====================================================================================

Points are ``(x, y)`` in pixels of the original image: x is the column, y the row. Per-image labels a benchmark
publishes (NWPU-Crowd's scene level, JHU-Crowd++'s weather, ...) are kept in ``Sample.labels``.

Loading reads every annotation file and every image *header* (for the bounds check), but decodes no pixels:
``sample.image`` decodes on each access. Problems are raised at load time as ``DatasetError``, so a broken file
is found before an evaluation runs for minutes:

* detection never degrades silently: a folder that holds annotation-like files (``.json``, ``.mat``, ``.txt``,
  ``.csv``, ...) in a layout no loader reads is an error naming what was found, not an unannotated dataset;
* an annotation file whose image is missing raises (the copy is broken or the names differ);
* a published count that disagrees with the points (``count``, ``number``, ``human_num``, ``total_count``)
  raises, naming the file and both numbers;
* an image without an annotation in an annotated dataset is kept with ``points=None`` and reported by one
  ``DatasetWarning`` listing the images (``Dataset.annotated`` tells whether every sample can be scored).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._benchmarks import NWPU_SPLITS, load_jhu, load_nwpu, load_ucf_qnrf
from ._core import (
    _JSON_DIRS,
    _MAT_DIRS,
    BOUNDS_TOLERANCE_PX,
    IMAGE_SUFFIXES,
    Dataset,
    DatasetError,
    DatasetWarning,
    Sample,
    _find_annotation_dir,
    _resolve_root,
)
from ._synthetic import make_synthetic_dataset

__all__ = [
    "BOUNDS_TOLERANCE_PX",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "Sample",
    "detect_format",
    "load_dataset",
    "make_synthetic_dataset",
]

_LOADERS: dict[str, Callable[..., Dataset]] = {
    "crowd-json": Dataset.from_crowd_json,
    "shanghaitech": Dataset.from_shanghaitech,
    "ucf-qnrf": load_ucf_qnrf,
    "nwpu": load_nwpu,
    "jhu": load_jhu,
    "images": Dataset.from_images,
}
#: The format names ``load_dataset(format=...)`` accepts.
FORMATS = tuple(_LOADERS)

#: Files that look like annotations; finding them where no loader reads them is an error, not "images only".
_ANNOTATION_SUFFIXES = frozenset({".json", ".mat", ".txt", ".csv", ".xml", ".npy", ".h5", ".hdf5"})


def detect_format(path: str | Path, *, split: str | None = None) -> str:
    """Return the format name (one of ``FORMATS``) of a dataset folder.

    Raises ``DatasetError`` when the folder holds annotation-like files that none of the formats reads,
    naming them, rather than answering ``"images"`` and losing the annotations silently.
    """
    root, image_dir, _ = _resolve_root(path, split)
    if (root / "jsons").is_dir() or any((root / f"{name}.txt").is_file() for name in NWPU_SPLITS):
        return "nwpu"
    if (root / "gt").is_dir() and any((root / "gt").glob("*.txt")):
        return "jhu"
    if any(image_dir.glob("*_ann.mat")):
        return "ucf-qnrf"
    if split is None and _list_jhu_splits(root):
        return "jhu"
    has_json = _find_annotation_dir(root, image_dir, _JSON_DIRS, "*.json") is not None
    has_mat = _find_annotation_dir(root, image_dir, _MAT_DIRS, "*.mat") is not None
    if has_json and has_mat:
        raise DatasetError(
            f"{root}: holds both JSON and .mat annotations; pass format='crowd-json' or format='shanghaitech'"
        )
    if has_json or has_mat:
        return "crowd-json" if has_json else "shanghaitech"
    _refuse_unread_annotations(root, image_dir)
    return "images"


def _list_jhu_splits(root: Path) -> list[str]:
    return [p.name for p in sorted(root.iterdir()) if p.is_dir() and (p / "gt").is_dir() and (p / "images").is_dir()]


def _refuse_unread_annotations(root: Path, image_dir: Path) -> None:
    folders = {root, image_dir, *(p for p in root.iterdir() if p.is_dir())}
    found: dict[Path, list[str]] = {}
    for folder in sorted(folders):
        names = sorted(
            p.name for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in _ANNOTATION_SUFFIXES and not p.name.lower().startswith("readme")
        )
        if names:
            found[folder] = names
    if found:
        listed = "; ".join(
            f"{len(names)} file(s) in {folder} (e.g. {', '.join(names[:3])})" for folder, names in found.items()
        )
        raise DatasetError(
            f"{root}: found annotation-like files that no loader reads in this layout: {listed}. Known layouts: "
            f"{', '.join(FORMATS[:-1])} (see load_dataset's docstring); move them into one of those, or pass "
            "format='images' to run estimators without scoring"
        )


def load_dataset(
    path: str | Path,
    *,
    split: str | None = None,
    pattern: str | None = None,
    format: str | None = None,
) -> Dataset:
    """Load a dataset folder, detecting its format unless ``format`` (one of ``FORMATS``) is given.

    ``split`` picks a subset: NWPU-Crowd's split list (``train``/``val``/``test``), otherwise the ``split`` or
    ``{split}_data`` subfolder when one exists (ShanghaiTech's ``test_data``, UCF-QNRF's ``Test``, case
    ignored), otherwise the images whose name contains ``split`` as a ``_``/``-``/``.``-separated word
    (``split="test"`` selects ``INmini_test_IMG_1`` but not ``contest_1``). ``pattern`` is a glob matched
    against the image file name or its stem (``"*train*"``). Both may be combined.

    Raises ``DatasetError`` for a missing folder, an empty selection, an annotation that does not fit its image,
    or annotations in a layout no loader reads; see the package docstring for the rules.
    """
    chosen = format or detect_format(path, split=split)
    if chosen not in _LOADERS:
        raise DatasetError(f"unknown format {chosen!r}; use one of {', '.join(FORMATS)}")
    return _LOADERS[chosen](path, split=split, pattern=pattern)
