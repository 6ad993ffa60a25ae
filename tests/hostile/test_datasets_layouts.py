"""Issue 31, finding 8: dataset folders that named, split or listed their images ambiguously.

``a.jpg`` and ``a.png`` sharing one annotation were both scored (then the report crashed on the repeated name); an
NWPU image in two split lists took the last list's labels; a UCF-QNRF root said its ``_ann.mat`` files were read
by no loader; stray unannotated copies beside annotated images must be named as such.
"""
from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from helpers.datasets import write_shanghaitech_mat
from helpers.fake_estimators import default_factories
from workbench.host import Workbench
from workbench.research.datasets import DatasetError, DatasetWarning, detect_format, load_dataset


def _image(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (40, 40, 40)).save(path)
    return path


def _compare(argv: list[str]) -> argparse.Namespace:
    from workbench.research._cli import register

    parser = argparse.ArgumentParser(prog="workbench")
    register(parser.add_subparsers())
    return parser.parse_args(["compare", *argv])


# --- two images of one name ---------------------------------------------------------------------------------


def test_two_images_sharing_one_annotation_are_refused_by_name(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "a.jpg")
    _image(tmp_path / "images" / "a.png")
    _image(tmp_path / "images" / "b.jpg")
    (tmp_path / "points").mkdir()
    for name in ("a", "b"):
        (tmp_path / "points" / f"{name}.json").write_text(json.dumps({"points": [[1, 1]]}))
    with pytest.raises(DatasetError, match=r"1 name\(s\) belong to more than one image file: a\.jpg and a\.png\. "
                                           r".*keep one file of each name"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("form", ["shanghaitech", "images"])
def test_two_images_of_one_name_are_refused_in_every_layout(tmp_path: Path, form: str) -> None:
    _image(tmp_path / "images" / "IMG_1.jpg")
    _image(tmp_path / "images" / "IMG_1.JPG")
    if form == "shanghaitech":
        write_shanghaitech_mat(tmp_path / "ground-truth" / "GT_IMG_1.mat", np.array([[1.0, 1.0]]))
    with pytest.raises(DatasetError, match=r"IMG_1\.JPG and IMG_1\.jpg"):
        load_dataset(tmp_path, format=form)


# --- a benchmark's root folder ------------------------------------------------------------------------------


@pytest.fixture
def ucf_root(tmp_path: Path) -> Path:
    for split, index in [("Train", 1), ("Train", 2), ("Test", 1)]:
        _image(tmp_path / split / f"img_{index:04d}.jpg")
        savemat(str(tmp_path / split / f"img_{index:04d}_ann.mat"), {"annPoints": np.array([[5.0, 6.0]])})
    return tmp_path


def test_a_ucf_qnrf_root_without_split_names_its_splits(ucf_root: Path) -> None:
    """It said the _ann.mat files were read by no loader."""
    expected = r"holds no images itself; its subfolders are the splits 'test' \(Test/\), 'train' \(Train/\): pass " \
               r"split= one of them \(workbench compare: --split test\)"
    with pytest.raises(DatasetError, match=expected):
        detect_format(ucf_root)
    with pytest.raises(DatasetError, match=expected):
        load_dataset(ucf_root, format="ucf-qnrf")
    assert load_dataset(ucf_root, split="train").counts == [1, 1]


def test_a_shanghaitech_root_without_split_names_its_splits(tmp_path: Path) -> None:
    for split in ("train_data", "test_data"):
        _image(tmp_path / split / "images" / "IMG_1.jpg")
        write_shanghaitech_mat(tmp_path / split / "ground-truth" / "GT_IMG_1.mat", np.array([[1.0, 1.0]]))
    with pytest.raises(DatasetError, match=r"'test' \(test_data/\), 'train' \(train_data/\): pass split="):
        load_dataset(tmp_path)


def test_compare_on_a_benchmark_root_says_to_pass_split(ucf_root: Path, tmp_path: Path, capsys) -> None:
    args = _compare([str(ucf_root), "--out", str(tmp_path / "report")])
    assert args.func(args) == 2
    assert "--split test" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


# --- NWPU-Crowd split lists ---------------------------------------------------------------------------------


@pytest.fixture
def nwpu(tmp_path: Path) -> Path:
    for img_id in ("0001", "0002", "0003"):
        _image(tmp_path / "images" / f"{img_id}.jpg")
        (tmp_path / "jsons").mkdir(exist_ok=True)
        (tmp_path / "jsons" / f"{img_id}.json").write_text(json.dumps({"img_id": f"{img_id}.jpg", "points": []}))
    return tmp_path


def test_an_nwpu_image_in_two_split_lists_is_refused_naming_both(nwpu: Path) -> None:
    """It took the last list's labels silently (and would be trained on and scored)."""
    (nwpu / "train.txt").write_text("0001 0 1\n0002 0 1\n")
    (nwpu / "val.txt").write_text("0002 1 2\n0003 0 0\n")
    for split in (None, "train", "val"):
        with pytest.raises(DatasetError, match=r"1 image\(s\) are listed in more than one split list: "
                                               r"0002 \(train\.txt and val\.txt\)"):
            load_dataset(nwpu, split=split)


def test_an_nwpu_image_listed_twice_in_one_list_with_other_labels_is_refused(nwpu: Path) -> None:
    (nwpu / "train.txt").write_text("0001 0 1\n0002 0 1\n0001 1 3\n")
    with pytest.raises(DatasetError, match=r"train\.txt:3: 0001 is listed again with other labels than on line 1"):
        load_dataset(nwpu)


# --- stray unannotated images -------------------------------------------------------------------------------


@pytest.fixture
def stray_pngs(tmp_path: Path) -> Path:
    """ShanghaiTech's layout with unannotated PNG copies left beside the annotated JPEGs, as one public copy has."""
    for i in (1, 2):
        _image(tmp_path / "images" / f"IMG_{i}.jpg")
        write_shanghaitech_mat(tmp_path / "ground-truth" / f"GT_IMG_{i}.mat", np.array([[3.0, 4.0]]))
    for i in (101, 102, 103):
        _image(tmp_path / "images" / f"IMG_{i}.png")
    return tmp_path


def test_stray_unannotated_copies_are_named_as_such(stray_pngs: Path) -> None:
    with pytest.warns(DatasetWarning, match=r"3 image\(s\) have no annotation .* IMG_101\.png, IMG_102\.png, "
                                            r"IMG_103\.png\. They are all \.png files and every annotated image is "
                                            r"\.jpg: stray copies\?"):
        dataset = load_dataset(stray_pngs)
    assert dataset.counts == [1, 1, None, None, None]


@pytest.mark.slow  # writes a whole report: 3 to 4 s on 2 busy cores
def test_compare_prints_what_loading_resolved_as_warnings(stray_pngs: Path, tmp_path: Path, monkeypatch,
                                                          plugin_folder, capsys) -> None:
    import workbench.research._cli as cli

    monkeypatch.setattr(cli, "Workbench", functools.partial(Workbench, default_estimators=default_factories()))
    args = _compare([str(stray_pngs), "--estimators", "default", "--plugins-dir", str(plugin_folder.root),
                     "--active", "", "--out", str(tmp_path / "report"), "--no-progress"])
    assert args.func(args) == 0
    err = capsys.readouterr().err
    assert "workbench compare: warning: " in err and "3 image(s) have no annotation" in err and "stray copies?" in err


def test_compare_passes_stray_points_refuse(tmp_path: Path, capsys) -> None:
    _image(tmp_path / "data" / "img_0001.jpg", (100, 80))
    savemat(str(tmp_path / "data" / "img_0001_ann.mat"), {"annPoints": np.array([[10.0, 10.0]] * 19 + [[-30.0, 5.0]])})
    args = _compare([str(tmp_path / "data"), "--out", str(tmp_path / "report"), "--stray-points", "refuse"])
    assert args.func(args) == 2
    assert "1 of 20 points lie outside the 100x80 image img_0001.jpg" in capsys.readouterr().err
