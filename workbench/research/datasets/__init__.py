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

Points are ``(x, y)`` in pixels of the image as decoded (``sample.image``, what estimators see): x is the column,
y the row. Per-image labels a benchmark publishes (NWPU-Crowd's scene level, JHU-Crowd++'s weather, ...) are kept
in ``Sample.labels``.

Loading reads every annotation file and every image *header* (for the bounds check), but decodes no pixels:
``sample.image`` decodes on each access. Problems are raised at load time as ``DatasetError``, so a broken file
is found before an evaluation runs for minutes:

* detection never degrades silently: a folder that holds annotation-like files (``.json``, ``.mat``, ``.txt``,
  ``.csv``, ...) in a layout no loader reads is an error naming what was found, not an unannotated dataset;
* an annotation file whose image is missing raises (the copy is broken or the names differ);
* a published count that disagrees with the points (``count``, ``number``, ``human_num``, ``total_count``)
  raises, naming the file and both numbers;
* an image without an annotation in an annotated dataset is kept with ``points=None`` and reported by one
  ``DatasetWarning`` listing the images (``Dataset.annotated`` tells whether every sample can be scored);
* two image files of one name (``a.jpg``, ``a.png``) raise: they would share one annotation and one report row;
* a benchmark's root (``Train/`` + ``Test/``, ``train_data/`` + ``test_data/``, ...) without ``split`` raises,
  naming the splits to pass; an NWPU-Crowd image in two split lists raises, naming both;
* an image whose EXIF orientation turns it when decoded has its points turned with it, from the frame they were
  clicked in: ``points_frame`` (``"stored"`` pixels or ``"upright"`` photo), else the format's convention (the
  benchmarks: ``"stored"``), else (crowd-json) the one frame the points fit; points that fit both raise, naming
  the images. Turned images are listed by a ``DatasetWarning``;
* points outside their image by more than ``BOUNDS_TOLERANCE_PX`` are stray clicks, dropped with a
  ``DatasetWarning`` naming each, when they are at most ``STRAY_POINTS_MAX_SHARE`` (10 %) of the image's points;
  more, or ``stray_points="refuse"``, raises (another image's annotation, a resized copy, x and y swapped).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._benchmarks import NWPU_SPLITS, load_jhu, load_nwpu, load_ucf_qnrf
from ._core import _JSON_DIRS, _MAT_DIRS, IMAGE_SUFFIXES, Dataset, Sample, _find_annotation_dir, _resolve_root
from ._errors import DatasetError, DatasetWarning
from ._frames import FRAMES
from ._placing import BOUNDS_TOLERANCE_PX, STRAY_POINTS, STRAY_POINTS_MAX_SHARE, check_point_options
from ._synthetic import make_synthetic_dataset

__all__ = [
    "BOUNDS_TOLERANCE_PX",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "POINTS_FRAMES",
    "STRAY_POINTS",
    "STRAY_POINTS_MAX_SHARE",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "Sample",
    "detect_format",
    "load_dataset",
    "make_synthetic_dataset",
]

#: The values ``load_dataset(points_frame=...)`` accepts besides ``None``.
POINTS_FRAMES = FRAMES

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
    points_frame: str | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """Load a dataset folder, detecting its format unless ``format`` (one of ``FORMATS``) is given.

    ``split`` picks a subset: NWPU-Crowd's split list (``train``/``val``/``test``), otherwise the ``split`` or
    ``{split}_data`` subfolder when one exists (ShanghaiTech's ``test_data``, UCF-QNRF's ``Test``, case
    ignored), otherwise the images whose name contains ``split`` as a ``_``/``-``/``.``-separated word
    (``split="test"`` selects ``INmini_test_IMG_1`` but not ``contest_1``). ``pattern`` is a glob matched
    against the image file name or its stem (``"*train*"``). Both may be combined.

    ``points_frame`` says where the points of EXIF-turned images were clicked: ``"stored"`` (on the pixels as
    stored, the tag ignored), ``"upright"`` (on the photo as the tag turns it), or ``None`` (the format's
    convention; crowd-json has none: the one frame the points fit). ``stray_points`` is ``"drop"`` (points
    outside their image, up to ``STRAY_POINTS_MAX_SHARE`` of an image's, dropped with a warning naming them) or
    ``"refuse"`` (any such point raises). Neither acts on ``format="images"``, which has no points.

    Raises ``DatasetError`` for a missing folder, an empty selection, an annotation that does not fit its image,
    or annotations in a layout no loader reads; see the package docstring for the rules.
    """
    check_point_options(points_frame, stray_points)
    chosen = format or detect_format(path, split=split)
    if chosen not in _LOADERS:
        raise DatasetError(f"unknown format {chosen!r}; use one of {', '.join(FORMATS)}")
    if chosen == "images":
        return Dataset.from_images(path, split=split, pattern=pattern)
    return _LOADERS[chosen](path, split=split, pattern=pattern, points_frame=points_frame, stray_points=stray_points)
