"""The benchmark layouts (UCF-QNRF, NWPU-Crowd, JHU-Crowd++) written as their authors publish them, plus the
silent-degrade and count-mismatch cases, and slicing a report by the labels they carry."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from workbench.research.datasets import DatasetError, detect_format, load_dataset


def _image(path: Path, size: tuple[int, int] = (120, 90)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (90, 120, 150)).save(path)
    return path


# --- UCF-QNRF -------------------------------------------------------------------------------------------------


@pytest.fixture
def ucf_qnrf(tmp_path: Path) -> Path:
    for split, index, points in [("Train", 1, [[10.5, 20.0], [30.0, 40.0]]), ("Train", 2, []), ("Test", 1, [[5, 6]])]:
        _image(tmp_path / split / f"img_{index:04d}.jpg")
        savemat(str(tmp_path / split / f"img_{index:04d}_ann.mat"),
                {"annPoints": np.asarray(points, dtype=np.float64).reshape(-1, 2)})
    return tmp_path


def test_ucf_qnrf_layout(ucf_qnrf: Path) -> None:
    assert detect_format(ucf_qnrf, split="train") == "ucf-qnrf"
    train = load_dataset(ucf_qnrf, split="train")
    assert train.format == "ucf-qnrf" and train.names == ["img_0001", "img_0002"]
    np.testing.assert_array_equal(train[0].points, [[10.5, 20.0], [30.0, 40.0]])
    assert train.counts == [2, 0] and train.annotated
    assert load_dataset(ucf_qnrf, split="test").counts == [1]


def test_ucf_qnrf_mat_without_annpoints_is_named(tmp_path: Path) -> None:
    _image(tmp_path / "img_0001.jpg")
    savemat(str(tmp_path / "img_0001_ann.mat"), {"points": np.zeros((1, 2))})
    with pytest.raises(DatasetError, match=r"no 'annPoints' variable \(found: points\)"):
        load_dataset(tmp_path)


# --- NWPU-Crowd -----------------------------------------------------------------------------------------------


def _nwpu_json(path: Path, img_id: str, points: list[list[float]], human_num: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes = [[x - 2, y - 2, x + 2, y + 2] for x, y in points]
    path.write_text(json.dumps({"img_id": f"{img_id}.jpg", "human_num": len(points) if human_num is None else human_num,
                                "points": points, "boxes": boxes}))


@pytest.fixture
def nwpu(tmp_path: Path) -> Path:
    records = {"0001": [[1, 2], [3, 4]], "0002": [[50, 60]], "0003": [], "0004": [[7, 8]] * 3}
    for img_id, points in records.items():
        _image(tmp_path / "images" / f"{img_id}.jpg")
        _nwpu_json(tmp_path / "jsons" / f"{img_id}.json", img_id, points)
    _image(tmp_path / "images" / "0005.jpg")  # the test split: no public annotation
    (tmp_path / "train.txt").write_text("0001 0 1\n0002 1 1\n")
    (tmp_path / "val.txt").write_text("0003 0 0\n0004 1 2\n")
    (tmp_path / "test.txt").write_text("0005 0 3\n")
    return tmp_path


def test_nwpu_layout_splits_and_labels(nwpu: Path) -> None:
    assert detect_format(nwpu) == "nwpu"
    val = load_dataset(nwpu, split="val")
    assert val.format == "nwpu" and val.names == ["0003", "0004"] and val.name.endswith("[val]")
    assert val.counts == [0, 3]
    assert val.labels == [{"split": "val", "illumination": 0, "scene_level": 0},
                          {"split": "val", "illumination": 1, "scene_level": 2}]
    test = load_dataset(nwpu, split="test")
    assert test.counts == [None] and test[0].labels["scene_level"] == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the test split's withheld annotations are not a warning
        everything = load_dataset(nwpu)
    assert len(everything) == 5 and everything[0].labels["split"] == "train"


def test_nwpu_human_num_mismatch_is_named(nwpu: Path) -> None:
    _nwpu_json(nwpu / "jsons" / "0002.json", "0002", [[50, 60]], human_num=7)
    with pytest.raises(DatasetError, match=r"0002\.json: the human_num says 7 but 1 points are listed"):
        load_dataset(nwpu, split="train")


def test_nwpu_split_list_naming_missing_images(nwpu: Path) -> None:
    (nwpu / "val.txt").write_text("0003 0 0\n0099 0 1\n")
    with pytest.raises(DatasetError, match=r"val\.txt lists 1 image\(s\) missing .*0099"):
        load_dataset(nwpu, split="val")


# --- JHU-Crowd++ ----------------------------------------------------------------------------------------------


@pytest.fixture
def jhu(tmp_path: Path) -> Path:
    split = tmp_path / "val"
    rows = {"0001": [(10, 12, 4, 5, 1, 0), (20, 22, 4, 5, 2, 1)], "0002": []}
    for name, heads in rows.items():
        _image(split / "images" / f"{name}.jpg")
        (split / "gt").mkdir(parents=True, exist_ok=True)
        (split / "gt" / f"{name}.txt").write_text("".join(" ".join(map(str, h)) + "\n" for h in heads))
    (split / "image_labels.txt").write_text("0001,2,marketplace,1,0\n0002,0,stadium,3,1\n")
    return tmp_path


def test_jhu_layout_and_labels(jhu: Path) -> None:
    assert detect_format(jhu, split="val") == "jhu"
    val = load_dataset(jhu, split="val")
    assert val.format == "jhu" and val.counts == [2, 0]
    np.testing.assert_array_equal(val[0].points, [[10, 12], [20, 22]])
    assert val[0].labels == {"total_count": 2, "scene_type": "marketplace", "weather": 1, "distractor": 0}
    assert val[1].labels["weather"] == 3


def test_jhu_root_without_split_asks_for_one(jhu: Path) -> None:
    with pytest.raises(DatasetError, match=r"pass split= one of them"):
        load_dataset(jhu)


def test_jhu_total_count_mismatch_is_named(jhu: Path) -> None:
    (jhu / "val" / "image_labels.txt").write_text("0001,5,marketplace,1,0\n0002,0,stadium,3,1\n")
    with pytest.raises(DatasetError, match=r"total_count of 0001 says 5 but 2 points are listed"):
        load_dataset(jhu, split="val")


def test_jhu_bad_line_is_named(jhu: Path) -> None:
    (jhu / "val" / "gt" / "0002.txt").write_text("1 2 3\n")
    with pytest.raises(DatasetError, match=r"0002\.txt:1: a JHU-Crowd\+\+ line is 'x y w h o b'"):
        load_dataset(jhu, split="val")


# --- never degrade silently -----------------------------------------------------------------------------------


def test_unknown_annotation_folder_is_an_error_not_images_only(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    (tmp_path / "density").mkdir()
    (tmp_path / "density" / "a.csv").write_text("1,2\n")
    with pytest.raises(DatasetError, match=r"annotation-like files that no loader reads.*density.*a\.csv"):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, format="images").counts == [None]


def test_nwpu_jsons_are_not_loaded_as_images_only(nwpu: Path) -> None:
    # The finding: before, jsons/ was not looked at and the dataset came back unannotated.
    dataset = load_dataset(nwpu, split="train")
    assert dataset.annotated and dataset.total_count == 3


# --- slicing by labels ----------------------------------------------------------------------------------------


def test_report_sliced_by_label_and_count_bucket(nwpu: Path) -> None:
    from workbench.research.report import ComparisonReport
    from workbench.research.slices import error_by_label, plot_error_by_label

    dataset = load_dataset(nwpu, pattern="000[1-4]*")  # true counts 2, 1, 0, 3; scene levels 1, 1, 0, 2
    predictions = {"a": [2, 1, 1, 3], "b": [0, 0, 0, 0]}
    rows = [
        {"image": s.name, "estimator": name, "true_count": s.count, "pred_count": p,
         "error": p - s.count, "abs_error": abs(p - s.count), "latency_ms": 1.0}
        for name, preds in predictions.items() for s, p in zip(dataset, preds)
    ]
    report = ComparisonReport(dataset, rows, {name: [] for name in predictions}, broker="b", targets="T2",
                              thresholds=(), game_levels=(), busy_seconds={})
    table = error_by_label(report, "scene_level")
    assert table.loc[(1, "a"), "mae"] == 0.0 and table.loc[(2, "b"), "mae"] == 3.0
    assert table.loc[(0, "a"), "images"] == 1 and table.loc[(1, "b"), "mae"] == 1.5
    buckets = error_by_label(report, "count_bucket", buckets=(0, 1, 3))
    assert list(dict.fromkeys(buckets.index.get_level_values(0))) == ["0", "1-2", "3+"]
    assert buckets.loc[("1-2", "b"), "images"] == 2
    with pytest.raises(ValueError, match="no image carries the label 'weather'.*scene_level"):
        error_by_label(report, "weather")
    figure = plot_error_by_label(table)
    assert figure.axes[0].get_xlabel() == "scene_level" and len(figure.axes[0].patches) == 6
