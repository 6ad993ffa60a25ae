"""People-counting datasets: a folder of images with optional head-point annotations.

Three on-disk formats are understood, one loader each (``load_dataset`` picks one by looking at the folder):

``crowd-json`` (:meth:`Dataset.from_crowd_json`)
    ``images/X.jpg`` + ``points/X.json``, or ``X.json`` next to ``X.jpg``. Each JSON file holds
    ``{"image": "X.jpg", "points": [[x, y], ...], "count": N}``; ``image`` and ``count`` are optional but are
    checked when present.
``shanghaitech`` (:meth:`Dataset.from_shanghaitech`)
    ``images/IMG_N.jpg`` + ``ground-truth/GT_IMG_N.mat``, or both in one folder. The points are MATLAB's
    ``image_info{1}.location`` (``image_info[0, 0][0, 0][0]`` once read by ``scipy.io.loadmat``).
``images`` (:meth:`Dataset.from_images`)
    images only: every sample has ``points is None`` and ``count is None`` (a count-only view that estimators
    can run on, but nothing can be scored against).

Points are ``(x, y)`` in pixels of the original image: x is the column, y the row.

Loading reads every annotation file and every image *header* (for the bounds check), but decodes no pixels:
``sample.image`` decodes on each access. Annotation problems are raised at load time as ``DatasetError``,
so a broken file is found before an evaluation runs for minutes. Pairing rules:

* an annotation file whose image is missing raises ``DatasetError`` (the copy is broken or the names differ);
* an image without an annotation in an annotated dataset is kept with ``points=None`` and reported by one
  ``DatasetWarning`` listing the images (a partly annotated folder is still useful to run estimators on;
  ``Dataset.annotated`` tells whether every sample can be scored).
"""
from __future__ import annotations

import fnmatch
import html
import json
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

if TYPE_CHECKING:
    from workbench.sdk import VLImage

__all__ = [
    "BOUNDS_TOLERANCE_PX",
    "Dataset",
    "DatasetError",
    "DatasetWarning",
    "IMAGE_SUFFIXES",
    "Sample",
    "detect_format",
    "load_dataset",
    "make_synthetic_dataset",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})

#: How far (pixels) a point may lie outside its image before the annotation is rejected. Annotators click on
#: the border pixel, and MATLAB-made files use 1-based coordinates, so exact bounds would reject good data.
BOUNDS_TOLERANCE_PX = 2.0

_EXIF_ORIENTATION = 0x0112
_FORMATS = ("crowd-json", "shanghaitech", "images")
_JSON_DIRS = ("points", "annotations", "labels")
_MAT_DIRS = ("ground-truth", "ground_truth", "gt")


class DatasetError(ValueError):
    """A dataset folder or annotation file that cannot be used as it is; the message says how to fix it."""


class DatasetWarning(UserWarning):
    """Something in a dataset folder that is probably unintended but does not stop loading."""


def _natural_key(name: str) -> list[Any]:
    # IMG_2 must come before IMG_10, as a person reading the folder expects.
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


@dataclass(frozen=True, eq=False)
class Sample:
    """One image of a dataset, with its head points when annotated.

    ``points`` is an ``(N, 2)`` float64 array of ``(x, y)`` pixels, or ``None`` for an image without an
    annotation. ``image`` decodes the file on every access; keep the result if you need it twice.
    """

    name: str
    image_path: Path
    points: np.ndarray | None = None
    annotation_path: Path | None = None

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
        from workbench.sdk import VLImage

        return VLImage.load(self.image_path)

    def __repr__(self) -> str:
        count = "unannotated" if self.points is None else f"count={self.count}"
        return f"Sample({self.name!r}, {count}, image_path={str(self.image_path)!r})"


def _image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` as ``VLImage`` will decode it: EXIF rotations by 90 degrees swap the sides."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            rotated = img.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8)
            return (height, width) if rotated else (width, height)
    except (OSError, SyntaxError) as exc:
        raise DatasetError(f"{path}: cannot read the image header ({exc}); is the file a complete image?") from exc


class Dataset(Sequence[Sample]):
    """An ordered, immutable list of :class:`Sample` with a name and the format it was read from.

    Indexing with an int returns a ``Sample``; with a slice, a smaller ``Dataset``. In Jupyter it renders as a
    summary table (``_repr_html_``).
    """

    def __init__(self, samples: Sequence[Sample], *, name: str, root: Path, format: str) -> None:
        self._samples = tuple(samples)
        self.name = name
        self.root = Path(root)
        self.format = format

    # --- loaders, one per format ---------------------------------------------------------------------------

    @classmethod
    def from_crowd_json(
        cls, path: str | Path, *, split: str | None = None, pattern: str | None = None
    ) -> Dataset:
        """Read the crowd-mini layout: ``images/`` + ``points/*.json``, or JSON files next to the images."""
        root, image_dir, split_dir = _resolve_root(path, split)
        json_dir = _find_annotation_dir(root, image_dir, _JSON_DIRS, "*.json")
        images = _list_images(image_dir)
        annotations = {p.stem: p for p in json_dir.glob("*.json")} if json_dir else {}
        samples = _pair(images, annotations, _read_json_points, image_dir, json_dir)
        return cls._finish(samples, root, "crowd-json", split, pattern, split_dir=split_dir)

    @classmethod
    def from_shanghaitech(
        cls, path: str | Path, *, split: str | None = None, pattern: str | None = None
    ) -> Dataset:
        """Read the ShanghaiTech layout: ``images/IMG_N.jpg`` + ``ground-truth/GT_IMG_N.mat`` (or one folder)."""
        root, image_dir, split_dir = _resolve_root(path, split)
        mat_dir = _find_annotation_dir(root, image_dir, _MAT_DIRS, "*.mat")
        images = _list_images(image_dir)
        annotations = {_strip_gt_prefix(p.stem): p for p in mat_dir.glob("*.mat")} if mat_dir else {}
        samples = _pair(images, annotations, _read_mat_points, image_dir, mat_dir)
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
            return Dataset(self._samples[index], name=self.name, root=self.root, format=self.format)
        return self._samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self._samples)

    # --- summaries -----------------------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Sample names (image file stems), in dataset order."""
        return [s.name for s in self._samples]

    @property
    def counts(self) -> list[int | None]:
        """Annotated counts in dataset order; ``None`` for unannotated images."""
        return [s.count for s in self._samples]

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
        return f"Dataset({self.name!r}, format={self.format!r}, n={len(self)}, annotated={self._annotation_summary()!r}{counts})"

    def _repr_html_(self) -> str:
        rows = [
            ("name", self.name),
            ("format", self.format),
            ("folder", str(self.root)),
            ("images", str(len(self))),
            ("annotated", self._annotation_summary()),
        ]
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
    """Return ``(dataset root, image folder, whether the split chose a subfolder)``."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; pass the dataset folder (the one holding images/ or the images)")
    split_dir = False
    if split is not None:
        for candidate in (root / split, root / f"{split}_data"):
            if candidate.is_dir():
                root, split_dir = candidate, True
                break
    image_dir = root / "images" if (root / "images").is_dir() else root
    return root, image_dir, split_dir


def _list_images(image_dir: Path) -> list[Path]:
    files = [p for p in image_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
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
    reader: Callable[[Path, Path], np.ndarray],
    image_dir: Path,
    annotation_dir: Path | None,
) -> list[Sample]:
    by_stem = {p.stem: p for p in images}
    orphans = sorted(set(annotations) - set(by_stem), key=_natural_key)
    if orphans:
        listed = ", ".join(annotations[s].name for s in orphans[:5]) + (" …" if len(orphans) > 5 else "")
        raise DatasetError(
            f"{annotation_dir}: {len(orphans)} annotation file(s) have no image in {image_dir}: {listed}; "
            "copy the missing images, or remove the annotation files if the images were dropped on purpose"
        )
    samples = []
    unannotated = []
    for image in images:
        annotation = annotations.get(image.stem)
        if annotation is None:
            unannotated.append(image.name)
            samples.append(Sample(image.stem, image))
            continue
        points = reader(annotation, image)
        _check_bounds(points, annotation, image)
        samples.append(Sample(image.stem, image, points, annotation))
    if unannotated and annotations:
        listed = ", ".join(unannotated[:5]) + (" …" if len(unannotated) > 5 else "")
        warnings.warn(
            f"{image_dir}: {len(unannotated)} image(s) have no annotation in {annotation_dir} and are kept with "
            f"points=None (they cannot be scored): {listed}",
            DatasetWarning,
            stacklevel=4,
        )
    return samples


# --- annotation readers ---------------------------------------------------------------------------------------


def _points_array(raw: object, source: Path) -> np.ndarray:
    try:
        points = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
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


def _read_json_points(path: Path, image: Path) -> np.ndarray:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not readable JSON ({exc})") from exc
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


def _read_mat_points(path: Path, image: Path) -> np.ndarray:
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as exc:  # scipy raises several unrelated types for corrupt files
        raise DatasetError(f"{path}: not a readable MATLAB .mat file ({exc})") from exc
    if "image_info" not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "nothing"
        raise DatasetError(
            f"{path}: not a ShanghaiTech ground-truth file: no 'image_info' variable (found: {found})"
        )
    try:
        info = mat["image_info"][0, 0][0, 0]
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


def _check_bounds(points: np.ndarray, annotation: Path, image: Path) -> None:
    if len(points) == 0:
        return
    width, height = _image_size(image)
    tol = BOUNDS_TOLERANCE_PX

    def outside(xy: np.ndarray, w: float, h: float) -> np.ndarray:
        return (xy[:, 0] < -tol) | (xy[:, 0] > w + tol) | (xy[:, 1] < -tol) | (xy[:, 1] > h + tol)

    bad = outside(points, width, height)
    if not bad.any():
        return
    example = points[bad][0].tolist()
    hint = "is the annotation for a different or resized image?"
    if not outside(points[:, ::-1], width, height).any():
        hint = "x and y look swapped (x must be the column, y the row)"
    raise DatasetError(
        f"{annotation}: {int(bad.sum())} of {len(points)} points lie outside the {width}x{height} image "
        f"{image.name} by more than {tol:g} px (e.g. [x, y] = {example}); {hint}"
    )


# --- entry point ----------------------------------------------------------------------------------------------


def detect_format(path: str | Path, *, split: str | None = None) -> str:
    """Return ``"crowd-json"``, ``"shanghaitech"`` or ``"images"`` for a dataset folder."""
    root, image_dir, _ = _resolve_root(path, split)
    has_json = _find_annotation_dir(root, image_dir, _JSON_DIRS, "*.json") is not None
    has_mat = _find_annotation_dir(root, image_dir, _MAT_DIRS, "*.mat") is not None
    if has_json and has_mat:
        raise DatasetError(
            f"{root}: holds both JSON and .mat annotations; pass format='crowd-json' or format='shanghaitech'"
        )
    return "crowd-json" if has_json else "shanghaitech" if has_mat else "images"


def load_dataset(
    path: str | Path,
    *,
    split: str | None = None,
    pattern: str | None = None,
    format: str | None = None,
) -> Dataset:
    """Load a dataset folder, detecting its format unless ``format`` is given.

    ``split`` picks a subset: the ``split`` or ``{split}_data`` subfolder when one exists (ShanghaiTech's
    ``test_data``), otherwise the images whose name contains ``split`` as a ``_``/``-``/``.``-separated word
    (``split="test"`` selects ``INmini_test_IMG_1`` but not ``contest_1``). ``pattern`` is a glob matched
    against the image file name or its stem (``"*train*"``). Both may be combined.

    Raises ``DatasetError`` for a missing folder, an empty selection or an annotation that does not fit its
    image; see the module docstring for the pairing rules.
    """
    chosen = format or detect_format(path, split=split)
    loaders = {
        "crowd-json": Dataset.from_crowd_json,
        "shanghaitech": Dataset.from_shanghaitech,
        "images": Dataset.from_images,
    }
    if chosen not in loaders:
        raise DatasetError(f"unknown format {chosen!r}; use one of {', '.join(_FORMATS)}")
    return loaders[chosen](path, split=split, pattern=pattern)


# --- synthetic data -------------------------------------------------------------------------------------------


def make_synthetic_dataset(
    out_dir: str | Path, n: int = 6, *, seed: int = 0, size: tuple[int, int] = (512, 384)
) -> Dataset:
    """Write ``n`` SYNTHETIC crowd-like images with their head points, and return them loaded as a dataset.

    These are drawings, not photos: a smooth noisy background with a ground gradient, and people drawn as a
    dark round "head" on an elliptic "body", smaller towards the top of the frame to mimic perspective. They
    exist so that notebooks and tests run where the real data is absent; no estimator's accuracy on them says
    anything about real crowds. The points are the head centres, so they are exact by construction.

    Files are written in the crowd-mini layout (``images/synth_{train,test}_IMG_i.jpg`` +
    ``points/<same>.json``); the last third of the images (at least one when ``n >= 3``) are in the test split.
    ``size`` is ``(width, height)``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    width, height = size
    if width < 64 or height < 64:
        raise ValueError(f"size must be at least 64x64 pixels, got {width}x{height}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "points").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_test = n // 3
    for i in range(1, n + 1):
        split = "test" if i > n - n_test else "train"
        name = f"synth_{split}_IMG_{i}"
        image, points = _synthetic_scene(rng, width, height)
        image.save(out / "images" / f"{name}.jpg", quality=92)
        record = {"image": f"{name}.jpg", "points": points, "count": len(points)}
        (out / "points" / f"{name}.json").write_text(json.dumps(record), encoding="utf-8")
    return Dataset.from_crowd_json(out)


def _synthetic_scene(rng: np.random.Generator, width: int, height: int) -> tuple[Image.Image, list[list[float]]]:
    # Background: upsampled coarse noise (texture at several scales) plus a vertical gradient for "ground".
    coarse = rng.uniform(60, 190, size=(max(2, height // 32), max(2, width // 32), 3)).astype(np.uint8)
    background = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    gradient = np.linspace(-30, 30, height, dtype=np.float32)[:, None, None]
    grain = rng.normal(0, 8, size=(height, width, 1)).astype(np.float32)
    canvas = Image.fromarray(np.clip(background + gradient + grain, 0, 255).astype(np.uint8))
    canvas = canvas.filter(ImageFilter.GaussianBlur(0.8))
    draw = ImageDraw.Draw(canvas)

    count = int(rng.integers(5, 41))
    # Heads in the upper 15%..85% of the frame; far (upper) people are smaller.
    ys = rng.uniform(0.15 * height, 0.85 * height, size=count)
    xs = rng.uniform(0.03 * width, 0.97 * width, size=count)
    order = np.argsort(ys)  # draw far people first so nearer bodies overlap them, as in a real scene
    points = []
    for x, y in zip(xs[order], ys[order]):
        scale = 0.4 + 0.8 * (y / height)
        r = max(3.0, 0.018 * height * scale * 1.6)
        body = tuple(int(c) for c in rng.integers(20, 235, size=3))
        draw.ellipse([x - 1.6 * r, y + 0.8 * r, x + 1.6 * r, y + 5.5 * r], fill=body)
        skin = int(rng.integers(40, 110))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(skin, int(skin * 0.8), int(skin * 0.6)))
        points.append([round(float(x), 1), round(float(y), 1)])
    return canvas, points

