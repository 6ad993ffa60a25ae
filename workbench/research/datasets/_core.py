"""The dataset types (``Sample``, ``Dataset``), folder discovery and the two original layouts' loaders.

``crowd-json`` (:meth:`Dataset.from_crowd_json`)
    ``images/X.jpg`` + ``points/X.json``, or ``X.json`` next to ``X.jpg``. Each JSON file holds
    ``{"image": "X.jpg", "points": [[x, y], ...], "count": N}``; ``image`` and ``count`` are optional but are
    checked when present.
``shanghaitech`` (:meth:`Dataset.from_shanghaitech`)
    ``images/IMG_N.jpg`` + ``ground-truth/GT_IMG_N.mat``, or both in one folder. The points are MATLAB's
    ``image_info{1}.location`` (``image_info[0, 0][0, 0][0]`` once read by ``scipy.io.loadmat``).
``images`` (:meth:`Dataset.from_images`)
    images only: every sample has ``points is None`` and ``count is None``.

The benchmark layouts (UCF-QNRF, NWPU-Crowd, JHU-Crowd++) are in ``_benchmarks``; they reuse the pairing and
checking helpers here. Placing points on their image (EXIF frame, stray points) is ``_placing``'s.
"""
from __future__ import annotations

import fnmatch
import html
import json
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, overload

import numpy as np

from ._errors import DatasetError, DatasetWarning, some
from ._placing import Placement, PointRules, image_geometry

if TYPE_CHECKING:
    from workbench.sdk import VLImage

__all__ = ["Dataset", "IMAGE_SUFFIXES", "Sample"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

_JSON_DIRS = ("points", "annotations", "labels")
_MAT_DIRS = ("ground-truth", "ground_truth", "gt")


def _natural_key(name: str) -> list[Any]:
    # IMG_2 must come before IMG_10, as a person reading the folder expects.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True, eq=False)
class Sample:
    """One image of a dataset, with its head points when annotated.

    ``points`` is an ``(N, 2)`` float64 array of ``(x, y)`` pixels, or ``None`` for an image without an
    annotation. ``labels`` holds the per-image labels a benchmark publishes (NWPU-Crowd's scene level and
    illumination, JHU-Crowd++'s scene type, weather and distractor flag), so reports can be sliced by them.
    ``boxes`` is an ``(N, 4)`` float64 array of head boxes ``(x1, y1, x2, y2)``, one per point in the same order,
    where the benchmark publishes them (NWPU-Crowd), else ``None``: they give each head its own match distance
    in localisation (``metrics.box_thresholds``).
    ``frame`` and ``time`` place a sample of a sequence (a video, a numbered frame folder): its frame number in the
    source, from 0, and its time in seconds from the first frame (``None`` where the source gives no rate).
    ``image`` decodes the file on every access; keep the result if you need it twice.
    """

    name: str
    image_path: Path
    points: np.ndarray | None = None
    annotation_path: Path | None = None
    labels: Mapping[str, Any] = field(default_factory=dict)
    boxes: np.ndarray | None = None
    frame: int | None = None
    time: float | None = None

    @property
    def count(self) -> int | None:
        """The annotated number of people, or ``None`` when the image is not annotated."""
        return None if self.points is None else int(self.points.shape[0])

    @property
    def annotated(self) -> bool:
        """True when the sample has head points (possibly zero of them)."""
        return self.points is not None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the image in pixels, read from the file header without decoding pixels."""
        return _image_size(self.image_path)

    @property
    def image(self) -> VLImage:
        """The decoded image as ``workbench.sdk.VLImage``."""
        # Imported here so that datasets can be listed and scored without the SDK image type being loaded.
        from workbench.images import load_image

        return load_image(self.image_path)

    def check(self) -> None:
        """Decode the image only to know that it decodes, as the run will (``ImageDecodeError`` if it does not);
        the pixels are not kept."""
        self.image

    def content_digest(self) -> str:
        """SHA-256 of the pixels' source (the image file's bytes): what the prediction cache keys results by."""
        from ..cache import image_digest

        return image_digest(self.image_path)

    def encoded(self) -> tuple[str, bytes]:
        """``(file name, encoded bytes)`` of the image, as sent to another process (a Ray actor) to decode."""
        return self.image_path.name, self.image_path.read_bytes()

    def __repr__(self) -> str:
        count = "unannotated" if self.points is None else f"count={self.count}"
        where = "" if self.frame is None else f", frame={self.frame}" + (
            "" if self.time is None else f", time={self.time:.3f}")
        return f"Sample({self.name!r}, {count}{where}, image_path={str(self.image_path)!r})"


def _image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` as ``VLImage`` will decode it: EXIF rotations by 90 degrees swap the sides."""
    return image_geometry(path).upright_size


class Dataset(Sequence[Sample]):
    """An ordered, immutable list of :class:`Sample` with a name and the format it was read from.

    Indexing with an int returns a ``Sample``; with a slice, a smaller ``Dataset``. In Jupyter it renders as a
    summary table (``_repr_html_``). A sequence (``is_sequence``: every sample has a ``frame``) may know its
    source's frame rate, ``fps``.
    """

    def __init__(
        self, samples: Sequence[Sample], *, name: str, root: Path, format: str, fps: float | None = None
    ) -> None:
        self._samples = tuple(samples)
        self.name = name
        self.root = Path(root)
        self.format = format
        self.fps = fps

    # --- loaders, one per format ---------------------------------------------------------------------------

    @classmethod
    def from_crowd_json(
        cls,
        path: str | Path,
        *,
        split: str | None = None,
        pattern: str | None = None,
        points_frame: str | None = None,
        stray_points: str = "drop",
    ) -> Dataset:
        """Read the crowd-mini layout: ``images/`` + ``points/*.json``, or JSON files next to the images.

        The layout has no convention for EXIF-turned images: ``points_frame=None`` reads their points in the one
        frame they fit, and refuses an image whose points fit both (see ``load_dataset``).
        """
        rules = PointRules("crowd-json", None, points_frame, stray_points)
        root, image_dir, split_dir = _resolve_root(path, split)
        json_dir = _find_annotation_dir(root, image_dir, _JSON_DIRS, "*.json")
        images = _list_images(image_dir)
        annotations = {p.stem: p for p in json_dir.glob("*.json")} if json_dir else {}
        samples = _pair(images, annotations, _read_json_points, image_dir, json_dir, rules)
        return cls._finish(samples, root, "crowd-json", split, pattern, split_dir=split_dir)

    @classmethod
    def from_shanghaitech(
        cls,
        path: str | Path,
        *,
        split: str | None = None,
        pattern: str | None = None,
        points_frame: str | None = None,
        stray_points: str = "drop",
    ) -> Dataset:
        """Read the ShanghaiTech layout: ``images/IMG_N.jpg`` + ``ground-truth/GT_IMG_N.mat`` (or one folder).

        Its points were clicked on the stored pixels (MATLAB's ``imread`` ignores EXIF orientation), so
        ``points_frame=None`` means ``"stored"``.
        """
        rules = PointRules("shanghaitech", "stored", points_frame, stray_points)
        root, image_dir, split_dir = _resolve_root(path, split)
        mat_dir = _find_annotation_dir(root, image_dir, _MAT_DIRS, "*.mat")
        images = _list_images(image_dir)
        annotations = {_strip_gt_prefix(p.stem): p for p in mat_dir.glob("*.mat")} if mat_dir else {}
        samples = _pair(images, annotations, _read_mat_points, image_dir, mat_dir, rules)
        return cls._finish(samples, root, "shanghaitech", split, pattern, split_dir=split_dir)

    @classmethod
    def from_images(cls, path: str | Path, *, split: str | None = None, pattern: str | None = None) -> Dataset:
        """Read a folder of images without annotations (``images/`` or the folder itself): counts are ``None``."""
        root, image_dir, split_dir = _resolve_root(path, split)
        samples = [Sample(p.stem, p) for p in _list_images(image_dir)]
        return cls._finish(samples, root, "images", split, pattern, split_dir=split_dir)

    @classmethod
    def _finish(
        cls,
        samples: list[Sample],
        root: Path,
        format: str,
        split: str | None,
        pattern: str | None,
        *,
        split_dir: bool,
    ) -> Dataset:
        if not samples:
            raise DatasetError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        name = root.name
        if split is not None and not split_dir:
            token = re.compile(rf"(?:^|[_\-.]){re.escape(split)}(?:[_\-.]|$)", re.IGNORECASE)
            samples = [s for s in samples if token.search(s.name)]
            if not samples:
                raise DatasetError(
                    f"{root}: split={split!r} selects no image: no name contains {split!r} as a '_'-separated "
                    f"word and there is no {split!r} or '{split}_data' subfolder; use pattern= for other names"
                )
        if split is not None:
            name = f"{name}[{split}]"
        if pattern is not None:
            samples = [s for s in samples if fnmatch.fnmatch(s.image_path.name, pattern)
                       or fnmatch.fnmatch(s.name, pattern)]
            if not samples:
                raise DatasetError(f"{root}: pattern={pattern!r} matches no image file name")
            name = f"{name}[{pattern}]"
        return cls(samples, name=name, root=root, format=format)

    # --- sequence protocol ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._samples)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> Dataset: ...

    def __getitem__(self, index: int | slice) -> Sample | Dataset:
        if isinstance(index, slice):
            return self.replace(self._samples[index])
        return self._samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    def replace(self, samples: Sequence[Sample]) -> Dataset:
        """A dataset of ``samples`` with this one's name, folder, format and frame rate."""
        return Dataset(samples, name=self.name, root=self.root, format=self.format, fps=self.fps)

    # --- summaries -----------------------------------------------------------------------------------------

    @property
    def is_sequence(self) -> bool:
        """True when every sample is a frame of a sequence (has ``frame``): compare then reports over time."""
        return bool(self._samples) and all(s.frame is not None for s in self._samples)

    @property
    def names(self) -> list[str]:
        """Sample names (image file stems), in dataset order."""
        return [s.name for s in self._samples]

    @property
    def counts(self) -> list[int | None]:
        """Annotated counts in dataset order; ``None`` for unannotated images."""
        return [s.count for s in self._samples]

    @property
    def labels(self) -> list[dict[str, Any]]:
        """Per-image labels in dataset order (empty dicts for a format that publishes none)."""
        return [dict(s.labels) for s in self._samples]

    @property
    def annotated(self) -> bool:
        """True when every sample has points, i.e. the whole dataset can be scored."""
        return all(s.annotated for s in self._samples)

    @property
    def total_count(self) -> int | None:
        """Sum of the annotated counts, or ``None`` when no sample is annotated."""
        counts = [c for c in self.counts if c is not None]
        return sum(counts) if counts else None

    @property
    def mean_count(self) -> float | None:
        """Mean annotated count over the annotated samples, or ``None`` when none is annotated."""
        counts = [c for c in self.counts if c is not None]
        return sum(counts) / len(counts) if counts else None

    def _annotation_summary(self) -> str:
        n_annotated = sum(s.annotated for s in self._samples)
        if n_annotated == len(self):
            return "yes"
        if n_annotated == 0:
            return "no (images only)"
        return f"{n_annotated} of {len(self)}"

    def __repr__(self) -> str:
        counts = "" if self.total_count is None else f", total_count={self.total_count}"
        sequence = ", sequence" if self.is_sequence else ""
        return (f"Dataset({self.name!r}, format={self.format!r}, n={len(self)}, "
                f"annotated={self._annotation_summary()!r}{counts}{sequence})")

    def _repr_html_(self) -> str:
        rows = [
            ("name", self.name),
            ("format", self.format),
            ("folder", str(self.root)),
            ("images", str(len(self))),
            ("annotated", self._annotation_summary()),
        ]
        if self.is_sequence:
            first, last = self._samples[0], self._samples[-1]
            span = f"frames {first.frame} to {last.frame}"
            if first.time is not None and last.time is not None:
                span += f", {first.time:.1f} s to {last.time:.1f} s"
            rows.append(("sequence", span + ("" if self.fps is None else f" ({self.fps:g} fps source)")))
        annotated = [c for c in self.counts if c is not None]
        if annotated:
            rows += [
                ("total count", str(sum(annotated))),
                ("mean count", f"{sum(annotated) / len(annotated):.1f}"),
                ("min / max count", f"{min(annotated)} / {max(annotated)}"),
            ]
        shown = ", ".join(self.names[:5]) + (", …" if len(self) > 5 else "")
        rows.append(("first images", shown))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption style='text-align:left'><b>Dataset</b></caption>{body}</table>"


# --- folder discovery -----------------------------------------------------------------------------------------


def _resolve_root(path: str | Path, split: str | None) -> tuple[Path, Path, bool]:
    """Return ``(dataset root, image folder, whether the split chose a subfolder)``.

    A benchmark's root (UCF-QNRF's ``Train/`` and ``Test/``, ShanghaiTech's ``train_data/`` and ``test_data/``,
    JHU-Crowd++'s ``train/ val/ test/``) holds no image itself: without ``split`` it is a ``DatasetError`` naming
    the splits found, rather than an empty or unreadable dataset.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; pass the dataset folder (the one holding images/ or the images)")
    split_dir = False
    if split is not None:
        wanted = {split.lower(), f"{split}_data".lower()}
        # Case-insensitive: UCF-QNRF ships Train/ and Test/, ShanghaiTech train_data/, JHU-Crowd++ train/.
        for candidate in sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower() in wanted):
            root, split_dir = candidate, True
            break
    image_dir = root / "images" if (root / "images").is_dir() else root
    if split is None and image_dir == root and not _holds_images(root):
        _refuse_root_of_splits(root)
    return root, image_dir, split_dir


def _holds_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in folder.iterdir())


def _refuse_root_of_splits(root: Path) -> None:
    """Raise when ``root``'s subfolders hold the images (each one split), naming the ``split`` values to pass."""
    folders = [p for p in sorted(root.iterdir(), key=lambda p: _natural_key(p.name))
               if p.is_dir() and (_holds_images(p) or _holds_images(p / "images"))]
    if not folders:
        return
    # The value _resolve_root matches a folder by: its name, case ignored, without ShanghaiTech's "_data".
    splits = [p.name.lower().removesuffix("_data") for p in folders]
    listed = ", ".join(f"{name!r} ({p.name}/)" for name, p in zip(splits, folders))
    raise DatasetError(
        f"{root}: holds no images itself; its subfolders are the splits {listed}: pass split= one of them "
        f"(workbench compare: --split {splits[0]}), or the subfolder itself as the dataset folder"
    )


def _list_images(image_dir: Path) -> list[Path]:
    """The image files in ``image_dir``, naturally sorted; two files of one name (``a.jpg``, ``a.png``) raise."""
    files = [p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    by_stem: dict[str, list[str]] = {}
    for file in files:
        by_stem.setdefault(file.stem, []).append(file.name)
    shared = [" and ".join(sorted(names)) for stem, names in sorted(by_stem.items()) if len(names) > 1]
    if shared:
        raise DatasetError(
            f"{image_dir}: {len(shared)} name(s) belong to more than one image file: {some(shared)}. Images are "
            "paired with annotations, and named in reports, by file name without its extension, so both would "
            "take one annotation and one name; keep one file of each name here (move or rename the others)"
        )
    return sorted(files, key=lambda p: _natural_key(p.name))


def _find_annotation_dir(root: Path, image_dir: Path, names: Sequence[str], glob: str) -> Path | None:
    for candidate in [root / n for n in names] + [image_dir]:
        if candidate.is_dir() and any(candidate.glob(glob)):
            return candidate
    return None


def _strip_gt_prefix(stem: str) -> str:
    return stem[3:] if stem.startswith("GT_") else stem


def _pair(
    images: list[Path],
    annotations: dict[str, Path],
    reader: Callable[[Path, Path], np.ndarray | tuple[np.ndarray, np.ndarray | None]],
    image_dir: Path,
    annotation_dir: Path | None,
    rules: PointRules,
    labels: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Sample]:
    """One ``Sample`` per image, with its annotation read by ``reader`` and its labels (by stem) attached.

    ``reader`` gives the points, or the points and their head boxes (``None`` where the file has none); they
    are placed on the decoded image by ``rules`` (``_placing``).
    """
    by_stem = {p.stem: p for p in images}
    orphans = sorted(set(annotations) - set(by_stem), key=_natural_key)
    if orphans:
        raise DatasetError(
            f"{annotation_dir}: {len(orphans)} annotation file(s) have no image in {image_dir}: "
            f"{some([annotations[s].name for s in orphans])}; copy the missing images, or remove the annotation "
            "files if the images were dropped on purpose"
        )
    placement = Placement(rules)
    samples = []
    unannotated = []
    for image in images:
        annotation = annotations.get(image.stem)
        if annotation is None:
            unannotated.append(image)
            samples.append(Sample(image.stem, image, labels=dict((labels or {}).get(image.stem, {}))))
            continue
        read = reader(annotation, image)
        points, boxes = placement.place(*(read if isinstance(read, tuple) else (read, None)), annotation, image)
        samples.append(
            Sample(image.stem, image, points, annotation, dict((labels or {}).get(image.stem, {})), boxes)
        )
    placement.finish()
    if unannotated and annotations:
        warnings.warn(
            f"{image_dir}: {len(unannotated)} image(s) have no annotation in {annotation_dir} and are kept with "
            f"points=None (they cannot be scored; compare leaves them out of the errors): "
            f"{some([p.name for p in unannotated])}{_stray_copies_hint(unannotated, images)}",
            DatasetWarning,
            stacklevel=4,
        )
    return samples


def _stray_copies_hint(unannotated: list[Path], images: list[Path]) -> str:
    """A hint when the unannotated images differ in type from the annotated ones, as stray copies would."""
    without = {p.suffix.lower() for p in unannotated}
    with_points = {p.suffix.lower() for p in set(images) - set(unannotated)}
    if not with_points or without & with_points:
        return ""
    return (f". They are all {', '.join(sorted(without))} files and every annotated image is "
            f"{', '.join(sorted(with_points))}: stray copies? Move them out of {images[0].parent} if so")


# --- annotation readers ---------------------------------------------------------------------------------------


def _points_array(raw: object, source: Path) -> np.ndarray:
    try:
        points = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: a number with hundreds of digits
        raise DatasetError(f"{source}: points must be a list of [x, y] number pairs ({exc})") from exc
    if points.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DatasetError(
            f"{source}: points must have shape (N, 2) as [[x, y], ...], got shape {points.shape}"
        )
    if not np.isfinite(points).all():
        raise DatasetError(f"{source}: points contain NaN or infinite values; remove or fix those entries")
    return points


def _read_json(path: Path) -> Any:
    """An annotation file's JSON, or a DatasetError saying why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not readable JSON ({exc})") from exc
    except RecursionError:
        raise DatasetError(f"{path}: JSON nested too deeply to read; is it an annotation file?") from None


def _read_json_points(path: Path, image: Path) -> np.ndarray:
    data = _read_json(path)
    if not isinstance(data, dict) or "points" not in data:
        raise DatasetError(
            f'{path}: expected an object {{"image": ..., "points": [[x, y], ...], "count": N}} with a "points" key'
        )
    named = data.get("image")
    # Only the file name is compared: the field may carry a path relative to wherever the annotator worked.
    if named is not None and Path(str(named)).name != image.name:
        raise DatasetError(
            f'{path}: its "image" field names {named!r} but the file is paired by name with {image.name!r}; '
            "rename the JSON file after its image, or fix the \"image\" field"
        )
    points = _points_array(data["points"], path)
    _check_count_field(data.get("count"), points, path, '"count" field')
    return points


def _load_mat(path: Path, variable: str, what: str) -> dict[str, Any]:
    """A MATLAB file's variables, read once; ``DatasetError`` naming the variables found when ``variable`` (the
    one it must have) is absent."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as exc:  # scipy raises several unrelated types for corrupt files
        raise DatasetError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    if variable not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "nothing"
        raise DatasetError(f"{path}: not {what}: no {variable!r} variable (found: {found})")
    return mat


def _load_mat_variable(path: Path, variable: str, what: str) -> Any:
    """``variable`` of a MATLAB file; ``DatasetError`` naming the variables found when it is absent."""
    return _load_mat(path, variable, what)[variable]


def _read_mat_points(path: Path, image: Path) -> np.ndarray:
    image_info = _load_mat_variable(path, "image_info", "a ShanghaiTech ground-truth file")
    try:
        info = image_info[0, 0][0, 0]
        names = info.dtype.names or ()
        location = info["location"] if "location" in names else info[0]
        number = info["number"] if "number" in names else None
    except (IndexError, TypeError, ValueError) as exc:
        raise DatasetError(
            f"{path}: 'image_info' is not nested as ShanghaiTech's image_info{{1}}.location ({exc})"
        ) from exc
    points = _points_array(location, path)
    if number is not None and np.size(number) == 1:
        _check_count_field(np.asarray(number).item(), points, path, "'number' field")
    return points


def _check_count_field(count: object, points: np.ndarray, path: Path, what: str) -> None:
    if count is None:
        return
    if not isinstance(count, (int, float)) or isinstance(count, bool) or count != len(points):
        raise DatasetError(
            f"{path}: the {what} says {count!r} but {len(points)} points are listed; "
            "the count must equal the number of points: fix the count or add/remove points"
        )

