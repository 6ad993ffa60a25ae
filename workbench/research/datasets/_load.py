"""``load_dataset`` and ``detect_format``: one loader per format (see the package docstring), chosen by looking."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._benchmarks import NWPU_SPLITS, load_jhu, load_nwpu, load_ucf_qnrf
from ._core import _JSON_DIRS, _MAT_DIRS, Dataset, _find_annotation_dir, _resolve_root
from ._errors import DatasetError
from ._frames import FRAMES
from ._mall import is_mall, load_mall
from ._placing import check_point_options
from ._video import VIDEO_SUFFIXES, load_video

__all__ = ["FORMATS", "POINTS_FRAMES", "detect_format", "is_video", "load_dataset"]

#: The values ``load_dataset(points_frame=...)`` accepts besides ``None``.
POINTS_FRAMES = FRAMES

_LOADERS: dict[str, Callable[..., Dataset]] = {
    "crowd-json": Dataset.from_crowd_json,
    "shanghaitech": Dataset.from_shanghaitech,
    "ucf-qnrf": load_ucf_qnrf,
    "nwpu": load_nwpu,
    "jhu": load_jhu,
    "mall": load_mall,
    "video": load_video,
    "images": Dataset.from_images,
}
#: The format names ``load_dataset(format=...)`` accepts.
FORMATS = tuple(_LOADERS)

#: Files that look like annotations; finding them where no loader reads them is an error, not "images only".
_ANNOTATION_SUFFIXES = frozenset({".json", ".mat", ".txt", ".csv", ".xml", ".npy", ".h5", ".hdf5"})


def is_video(path: str | Path) -> bool:
    """Whether ``path`` is a file with a video suffix (``.mp4``, ``.mkv``, ``.avi``, ...)."""
    path = Path(path)
    return path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()


def detect_format(path: str | Path, *, split: str | None = None) -> str:
    """Return the format name (one of ``FORMATS``) of a dataset folder.

    Raises ``DatasetError`` when the folder holds annotation-like files that none of the formats reads,
    naming them, rather than answering ``"images"`` and losing the annotations silently.
    """
    if is_video(path):
        return "video"
    if is_mall(Path(path).expanduser()):
        return "mall"
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
            f"{', '.join(f for f in FORMATS[:-1] if f != 'video')} (see load_dataset's docstring); move them into one of those, or pass "
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
    if chosen == "video":
        if split is not None or pattern is not None or points_frame is not None:
            raise DatasetError(f"{path}: split=, pattern= and points_frame= do not apply to a video file; "
                               "load_sequence(path, every=..., every_seconds=...) picks its frames")
        return load_video(path, stray_points=stray_points)
    return _LOADERS[chosen](path, split=split, pattern=pattern, points_frame=points_frame, stray_points=stray_points)
