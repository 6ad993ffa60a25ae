"""Loaders for the public crowd-counting benchmarks, each in the layout its authors publish.

``ucf-qnrf`` (UCF-QNRF, 1,535 images)
    ``Train/img_0001.jpg`` + ``Train/img_0001_ann.mat`` (and ``Test/``); the ``.mat`` holds ``annPoints``, an
    ``(N, 2)`` array of ``(x, y)`` head points.
``nwpu`` (NWPU-Crowd, 5,109 images)
    ``images/0001.jpg``, ``jsons/0001.json`` = ``{"img_id", "human_num", "points": [[x, y], ...], "boxes":
    [[x1, y1, x2, y2], ...]}`` (one box per point, kept as ``Sample.boxes`` for the benchmark's per-head
    localisation thresholds; releases before the boxes were published load with ``boxes`` None) and the split lists ``train.txt`` / ``val.txt`` / ``test.txt``, one ``img_id illumination scene_level``
    line per image. The lists' two labels are kept per image (``illumination``: 0 normal, 1 dark;
    ``scene_level``: 0 no people, 1 up to 100, 2 up to 500, 3 up to 5,000, 4 above 5,000 people). The test
    split has no public annotations: its images load unannotated, without a warning.
``jhu`` (JHU-Crowd++, 4,372 images)
    ``{train,val,test}/images/0001.jpg``, ``gt/0001.txt`` with one ``x y w h o b`` line per head (point,
    box size, occlusion, blur) and ``image_labels.txt`` with ``name,total_count,scene_type,weather,distractor``
    lines (``weather``: 0 none, 1 fog/haze, 2 rain, 3 snow). All three are kept as labels.

A published count that disagrees with the listed points (NWPU's ``human_num``, JHU's ``total_count``) is a
``DatasetError`` naming the file and both numbers: a benchmark scored against points that do not add up to its
own counts would not reproduce published tables. So is an NWPU image that two split lists (or two lines of one
list) give different labels: it would be scored in two splits, or with whichever line came last.

All three benchmarks' points were clicked on the images' pixels as stored: an image with an EXIF orientation
has its points turned with it (``points_frame=None`` means ``"stored"`` here; see ``_placing``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._core import (
    Dataset,
    Sample,
    _check_count_field,
    _list_images,
    _load_mat_variable,
    _natural_key,
    _pair,
    _read_json,
    _points_array,
    _resolve_root,
)
from ._errors import DatasetError, some
from ._placing import PointRules

__all__ = ["NWPU_SPLITS", "load_jhu", "load_nwpu", "load_ucf_qnrf"]

NWPU_SPLITS = ("train", "val", "test")
_UCF_SUFFIX = "_ann"


# --- UCF-QNRF -------------------------------------------------------------------------------------------------


def load_ucf_qnrf(
    path: str | Path,
    *,
    split: str | None = None,
    pattern: str | None = None,
    points_frame: str | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """Read UCF-QNRF: ``img_NNNN.jpg`` beside ``img_NNNN_ann.mat`` (``split="train"`` picks ``Train/``)."""
    rules = PointRules("ucf-qnrf", "stored", points_frame, stray_points)
    root, image_dir, split_dir = _resolve_root(path, split)
    annotations = {p.stem[: -len(_UCF_SUFFIX)]: p for p in image_dir.glob(f"*{_UCF_SUFFIX}.mat")}
    samples = _pair(_list_images(image_dir), annotations, _read_ann_points, image_dir, image_dir, rules)
    return Dataset._finish(samples, root, "ucf-qnrf", split, pattern, split_dir=split_dir)


def _read_ann_points(path: Path, image: Path) -> np.ndarray:
    return _points_array(_load_mat_variable(path, "annPoints", "a UCF-QNRF annotation"), path)


# --- NWPU-Crowd -----------------------------------------------------------------------------------------------


def load_nwpu(
    path: str | Path,
    *,
    split: str | None = None,
    pattern: str | None = None,
    points_frame: str | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """Read NWPU-Crowd: ``images/``, ``jsons/`` and the ``train/val/test.txt`` lists (``split`` picks a list)."""
    rules = PointRules("nwpu", "stored", points_frame, stray_points)
    root, image_dir, _ = _resolve_root(path, None)
    json_dir = root / "jsons"
    if split is not None and split not in NWPU_SPLITS:
        raise DatasetError(f"{root}: NWPU-Crowd has the splits {', '.join(NWPU_SPLITS)}; got split={split!r}")
    listed = {name: _read_nwpu_list(root / f"{name}.txt") for name in NWPU_SPLITS if (root / f"{name}.txt").is_file()}
    _refuse_images_in_two_lists(root, listed)
    if split is not None and split not in listed:
        raise DatasetError(f"{root}: split={split!r} needs the split list {root / f'{split}.txt'}, which is missing")
    labels = {img_id: {"split": name, **row} for name, rows in listed.items() for img_id, row in rows.items()}
    images = _list_images(image_dir)
    if split is not None:
        chosen = listed[split]
        missing = sorted(set(chosen) - {p.stem for p in images}, key=_natural_key)
        if missing:
            raise DatasetError(
                f"{root / f'{split}.txt'} lists {len(missing)} image(s) missing from {image_dir}: "
                f"{some(missing)}; unpack every images_part*.zip there"
            )
        images = [p for p in images if p.stem in chosen]
    annotations = {p.stem: p for p in json_dir.glob("*.json")} if json_dir.is_dir() else {}
    if split is not None:
        annotations = {stem: p for stem, p in annotations.items() if stem in listed[split]}
    # The test split's annotations are withheld by the benchmark: its images are unannotated by design, so
    # they are kept out of the "images without annotation" warning.
    withheld = {stem for stem in listed.get("test", {}) if stem not in annotations}
    samples = _pair([p for p in images if p.stem not in withheld], annotations, _read_nwpu_json, image_dir,
                    json_dir, rules, labels)
    samples += [Sample(p.stem, p, labels=labels.get(p.stem, {})) for p in images if p.stem in withheld]
    samples.sort(key=lambda sample: _natural_key(sample.name))
    # split_dir=True: the list already chose the images, so no name-token filtering.
    return Dataset._finish(samples, root, "nwpu", split, pattern, split_dir=True)


def _refuse_images_in_two_lists(root: Path, listed: dict[str, dict[str, dict[str, int]]]) -> None:
    """Raise when an image is in more than one split list: it would be trained on and scored, or labelled twice."""
    lists_of: dict[str, list[str]] = {}
    for name, rows in listed.items():
        for img_id in rows:
            lists_of.setdefault(img_id, []).append(f"{name}.txt")
    twice = sorted((f"{img_id} ({' and '.join(names)})" for img_id, names in lists_of.items() if len(names) > 1),
                   key=_natural_key)
    if twice:
        raise DatasetError(
            f"{root}: {len(twice)} image(s) are listed in more than one split list: {some(twice)}. An NWPU-Crowd "
            "image belongs to one split; remove each from all lists but its own (the published lists have no "
            "image twice)"
        )


def _read_nwpu_list(path: Path) -> dict[str, dict[str, int]]:
    # The column order is the one the benchmark's own evaluation code reads (id, illumination, scene level;
    # its ground-truth file adds the count): checked there, since the dataset's readme does not spell it out.
    rows: dict[str, dict[str, int]] = {}
    line_of: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        try:
            row = {"illumination": int(fields[1]), "scene_level": int(fields[2])}
        except (IndexError, ValueError) as exc:
            raise DatasetError(
                f"{path}:{number}: expected 'img_id illumination scene_level' (three whole numbers), got {line!r}"
            ) from exc
        img_id = fields[0]
        if img_id in rows and rows[img_id] != row:
            raise DatasetError(
                f"{path}:{number}: {img_id} is listed again with other labels than on line {line_of[img_id]} "
                f"({rows[img_id]} there, {row} here); keep the one line that is right"
            )
        rows[img_id], line_of[img_id] = row, number
    return rows


def _read_nwpu_json(path: Path, image: Path) -> tuple[np.ndarray, np.ndarray | None]:
    data = _read_json(path)
    if not isinstance(data, dict) or "points" not in data:
        keys = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise DatasetError(
            f"{path}: not an NWPU-Crowd annotation: expected img_id, human_num, points, boxes (found: {keys})"
        )
    img_id = data.get("img_id")
    if img_id is not None and Path(str(img_id)).stem != image.stem:
        raise DatasetError(f"{path}: its img_id {img_id!r} does not name the image it is paired with, {image.name!r}")
    points = _points_array(data["points"], path)
    _check_count_field(data.get("human_num"), points, path, "human_num")
    return points, _nwpu_boxes(data.get("boxes"), len(points), path)


def _nwpu_boxes(boxes: Any, n_points: int, path: Path) -> np.ndarray | None:
    """The head boxes ``(x1, y1, x2, y2)``, one per point, or ``None`` where the file has none."""
    if boxes is None:
        return None
    expected = "NWPU-Crowd gives one [x1, y1, x2, y2] box per head point, in the same order"
    try:
        array = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: 'boxes' is not a list of number lists ({exc}); {expected}") from exc
    array = array.reshape(0, 4) if array.size == 0 else array
    if array.ndim != 2 or array.shape[1] != 4 or not np.isfinite(array).all():
        raise DatasetError(f"{path}: 'boxes' has shape {array.shape} or values that are not finite; {expected}")
    if len(array) != n_points:
        raise DatasetError(f"{path}: 'boxes' has {len(array)} box(es) for {n_points} point(s); {expected}")
    return array


# --- JHU-Crowd++ ----------------------------------------------------------------------------------------------


def load_jhu(
    path: str | Path,
    *,
    split: str | None = None,
    pattern: str | None = None,
    points_frame: str | None = None,
    stray_points: str = "drop",
) -> Dataset:
    """Read JHU-Crowd++: ``images/``, ``gt/*.txt`` and ``image_labels.txt`` (``split`` picks the subfolder)."""
    rules = PointRules("jhu", "stored", points_frame, stray_points)
    root, image_dir, split_dir = _resolve_root(path, split)
    gt_dir = root / "gt"
    annotations = {p.stem: p for p in gt_dir.glob("*.txt")} if gt_dir.is_dir() else {}
    labels_file = root / "image_labels.txt"
    labels = _read_jhu_labels(labels_file) if labels_file.is_file() else {}

    def read(annotation: Path, image: Path) -> np.ndarray:
        points = _read_jhu_gt(annotation)
        total = labels.get(image.stem, {}).get("total_count")
        _check_count_field(total, points, labels_file, f"total_count of {image.stem}")
        return points

    samples = _pair(_list_images(image_dir), annotations, read, image_dir, gt_dir, rules, labels)
    return Dataset._finish(samples, root, "jhu", split, pattern, split_dir=split_dir)


def _read_jhu_gt(path: Path) -> np.ndarray:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 6:
            raise DatasetError(
                f"{path}:{number}: a JHU-Crowd++ line is 'x y w h o b' (six numbers), got {len(fields)}: {line!r}"
            )
        try:
            rows.append([float(fields[0]), float(fields[1])])
        except ValueError as exc:
            raise DatasetError(f"{path}:{number}: x and y must be numbers, got {line!r}") from exc
    return _points_array(rows, path)


def _read_jhu_labels(path: Path) -> dict[str, dict[str, Any]]:
    labels: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = [f.strip() for f in line.split(",")]
        if not fields[0]:
            continue
        try:
            name, total, scene, weather, distractor = fields
            labels[Path(name).stem] = {
                "total_count": int(total), "scene_type": scene, "weather": int(weather), "distractor": int(distractor),
            }
        except ValueError as exc:
            raise DatasetError(
                f"{path}:{number}: expected 'name,total_count,scene_type,weather,distractor', got {line!r}"
            ) from exc
    return labels
