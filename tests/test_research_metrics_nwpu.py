"""NWPU-Crowd's localisation protocol: a match distance per head from its box, beside the fixed-pixel one; the NWPU
loader keeps the boxes and ``compare`` scores them as ``@box``."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.fake_estimators import default_factories
from workbench import Workbench
from workbench.research import box_thresholds, compare, load_dataset, localisation
from workbench.research.datasets import DatasetError


def test_box_thresholds_by_hand() -> None:
    boxes = [[0, 0, 6, 8], [10, 10, 14, 12]]  # 6x8 and 4x2 pixels
    np.testing.assert_allclose(box_thresholds(boxes), [5.0, math.sqrt(20) / 2])  # half the diagonal
    np.testing.assert_allclose(box_thresholds(boxes, kind="small"), [3.0, 1.0])  # half the shorter side
    assert box_thresholds(np.zeros((0, 4))).shape == (0,)


@pytest.mark.parametrize(
    ("boxes", "kind", "message"),
    [
        ([[5, 0, 1, 4]], "large", r"box 0 is \[5.0, 0.0, 1.0, 4.0\]: x2 < x1 or y2 < y1"),
        ([[0, 0, 4]], "large", r"shape \(N, 4\); got shape \(1, 3\)"),
        ([[0, 0, np.nan, 4]], "large", r"finite \(x1, y1, x2, y2\) rows"),
        ([[0, 0, 4, 4]], "medium", r"kind must be one of 'large', 'small', got 'medium'"),
    ],
)
def test_box_thresholds_errors(boxes, kind, message) -> None:
    with pytest.raises(ValueError, match=message):
        box_thresholds(boxes, kind=kind)


# Two heads: a big one near the camera (a 14x14 box: reach 9.9 px) and a small one far away (4x4: 2.83 px).
GT = [[20.0, 20.0], [50.0, 30.0]]
BOXES = [[13, 13, 27, 27], [48, 28, 52, 32]]


def test_each_head_is_matched_within_its_own_distance() -> None:
    pred = [[29.0, 20.0], [54.0, 30.0]]  # 9 px from the big head, 4 px from the small one
    per_head = localisation(pred, GT, box_thresholds(BOXES))
    assert (per_head.tp, per_head.fp, per_head.fn) == (1, 1, 1)
    assert per_head.matches.tolist() == [[0, 0]]
    np.testing.assert_allclose(per_head.threshold, box_thresholds(BOXES))
    fixed = localisation(pred, GT, 5.0)
    assert fixed.matches.tolist() == [[1, 1]] and fixed.threshold == 5.0


def test_per_head_matching_maximises_the_pairs_as_nwpus_evaluation_does() -> None:
    """Prediction 0 reaches both heads; taking the big head for it greedily would leave prediction 1 alone."""
    pred = [[22.0, 20.0], [26.0, 20.0]]
    gt = [[20.0, 20.0], [24.0, 20.0]]
    result = localisation(pred, gt, [2.0, 4.0])  # head 0 reaches 2 px, head 1 reaches 4 px
    assert result.tp == 2 and result.matches.tolist() == [[0, 0], [1, 1]]


def test_per_head_thresholds_must_be_one_per_head() -> None:
    with pytest.raises(ValueError, match=r"one distance per ground-truth point: 2 point\(s\), got shape \(3,\)"):
        localisation([[0, 0]], GT, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite distances >= 0"):
        localisation([[0, 0]], GT, [1.0, -2.0])


def _nwpu(root: Path, records: dict[str, tuple[list, list | None]], white: dict[str, list] | None = None) -> Path:
    """NWPU-Crowd's layout; ``white`` draws white pixels (what the stand-in default estimator counts)."""
    (root / "images").mkdir(parents=True)
    (root / "jsons").mkdir()
    for img_id, (points, boxes) in records.items():
        pixels = np.zeros((64, 96, 3), np.uint8)
        for x, y in (white or {}).get(img_id, []):
            pixels[y, x] = 255
        Image.fromarray(pixels).save(root / "images" / f"{img_id}.png")
        annotation = {"img_id": f"{img_id}.jpg", "human_num": len(points), "points": points}
        if boxes is not None:
            annotation["boxes"] = boxes
        (root / "jsons" / f"{img_id}.json").write_text(json.dumps(annotation))
    (root / "val.txt").write_text("".join(f"{img_id} 0 1\n" for img_id in records))
    return root


def test_nwpu_loader_keeps_the_boxes_in_point_order(tmp_path) -> None:
    dataset = load_dataset(_nwpu(tmp_path / "nwpu", {"0001": (GT, BOXES), "0002": ([[5, 5]], None)}), split="val")
    np.testing.assert_array_equal(dataset[0].boxes, BOXES)
    assert dataset[0].boxes.shape == (2, 4) and dataset[1].boxes is None  # a release from before the boxes


@pytest.mark.parametrize(
    ("boxes", "message"),
    [([[13, 13, 27, 27]], r"'boxes' has 1 box\(es\) for 2 point\(s\)"), ([[1, 2, 3]] * 2, r"'boxes' has shape \(2, 3\)")],
)
def test_nwpu_boxes_that_do_not_fit_the_points_are_named(tmp_path, boxes, message) -> None:
    root = _nwpu(tmp_path / "nwpu", {"0001": (GT, boxes)})
    with pytest.raises(DatasetError, match=rf"0001\.json: {message}"):
        load_dataset(root, split="val")


def test_compare_scores_nwpus_protocol_beside_the_fixed_distance(tmp_path, plugin_folder) -> None:
    heads = GT + [[80.0, 50.0]]
    boxes = BOXES + [[73, 43, 87, 57]]
    white = [(29, 20), (54, 30), (80, 57)]  # 9 px from head 0, 4 px from head 1, 7 px from head 2
    dataset = load_dataset(_nwpu(tmp_path / "nwpu", {"0001": (heads, boxes)}, {"0001": white}), split="val")
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        report = compare(wb, dataset, ["default"], thresholds=(5,), progress=False)
    row = report.per_image.iloc[0]
    assert (row["tp@5"], row["fp@5"], row["fn@5"]) == (1, 2, 2)
    assert (row["tp@box"], row["fp@box"], row["fn@box"]) == (2, 1, 1)
    summary = report.summary.loc["default"]
    assert summary["P@box"] == pytest.approx(2 / 3) and summary["F1@box"] == pytest.approx(2 / 3)
    assert summary["R@5"] == pytest.approx(1 / 3)


def test_datasets_without_boxes_have_no_box_columns(tmp_path, plugin_folder, spots_dataset) -> None:
    with Workbench(plugin_folder.root, [], default_estimators=default_factories()) as wb:
        report = compare(wb, spots_dataset, ["default"], thresholds=(10,), progress=False)
    assert "tp@box" not in report.per_image and "P@box" not in report.summary
